//! The Authenticode signature of an MSI: the `\u{5}DigitalSignature`
//! stream at the root of the compound file, and the optional
//! `\u{5}MsiDigitalSignatureEx` beside it.
//!
//! The digest is computed as osslsigncode's `msi.c` does (the only public
//! description of it), read through the `cfb` crate:
//! - the children of each storage are sorted by their names as stored:
//!   UTF-16LE bytes *with* the two-byte terminator, compared bytewise
//!   (`memcmp`, so code units compare low byte first, not by value) over
//!   the shorter length, a tie going to the longer name. With the
//!   terminator included a tie cannot happen between two real names, so
//!   `AB` sorts before `ABC`;
//! - in that order, a stream's content is hashed (its size taken as 32
//!   bits; an empty stream, or one of 0xFFFFFFFA bytes or more, is
//!   skipped), a storage is hashed the same way, depth first;
//! - after its children, each storage's CLSID (16 bytes as stored): the
//!   root's too, last of all;
//! - at the root only, the two signature streams are left out.
//!
//! With `MsiDigitalSignatureEx` the hash starts with that stream's
//! content: a "pre-hash" of the entries' metadata, in the same order: the
//! root's CLSID and state bits, then for each entry its name (without the
//! terminator), a stream's 32-bit size or a storage's CLSID, its state bits
//! and its creation and modification FILETIMEs, a storage followed by its
//! children. The stored pre-hash is what the signature covers, so the
//! digest is taken with it; then the pre-hash is recomputed from the
//! entries and compared.
//!
//! `cfb` gives names, CLSIDs, state bits and sizes exactly, and times as
//! `SystemTime` built from the stored 100 ns counts, which convert back
//! exactly. But it reads permissively: it sets a *stream's* non-zero
//! times (which the format forbids) to zero, and takes a name without
//! its terminator as it is. So when the recomputed pre-hash differs, the
//! file is opened again with `cfb`'s strict checks: if they report one of
//! those, the metadata could not be read as stored and the signature is
//! reported as not verified, saying why; otherwise the metadata changed
//! after signing and the signature is invalid. (Strict reading stops at
//! the first problem, and reads the header and FAT before the entries: a
//! file broken there *and* holding stream times would be called invalid,
//! a false alarm, never a false pass.)

use std::cmp::Ordering;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::crypto::{Alg, Hashers};
use super::pkcs7::Subject;
use super::verify::{contained, judge, parse_signed};
use super::{Status, Trust, Verdict};

const SIGNATURE: &str = "\u{5}DigitalSignature";
const SIGNATURE_EX: &str = "\u{5}MsiDigitalSignatureEx";
/// osslsigncode skips streams whose 32-bit size is this or more
/// (MAXREGSECT: no such stream can be stored).
const MAX_REGULAR: u32 = 0xFFFF_FFFA;
/// A DigitalSignature larger than this is refused (real ones are a few KB).
const MAX_SIGNATURE: u64 = 16 << 20;
/// The FILETIME of the Unix epoch: 100 ns intervals since 1601.
const UNIX_EPOCH_FILETIME: u64 = 116_444_736_000_000_000;

/// The outcome for an MSI's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsiVerdict {
    /// Verified (or unsigned, or found invalid).
    Checked(Verdict),
    /// A signature is there and could not be verified: why.
    NotVerified(String),
}

/// Verifies the Authenticode signature of the MSI read from `inner`. A
/// panic of `cfb` on crafted input, or a file it cannot read, is an
/// invalid verdict saying so.
pub fn verify_msi<F: Read + Seek>(inner: F, trust: &Trust) -> MsiVerdict {
    crate::contain::contain(crate::contain::MSI, || verify_inner(inner, trust))
        .unwrap_or_else(|p| MsiVerdict::Checked(Verdict::broken(p)))
}

fn verify_inner<F: Read + Seek>(inner: F, trust: &Trust) -> MsiVerdict {
    let broken = |p: String| MsiVerdict::Checked(Verdict::broken(p));
    let mut cf = match cfb::CompoundFile::open(inner) {
        Ok(cf) => cf,
        Err(e) => return broken(format!("the MSI cannot be read as a compound file: {e}")),
    };
    let blob = match read_root_stream(&mut cf, SIGNATURE) {
        None => return MsiVerdict::Checked(Verdict::unsigned()),
        Some(Ok(blob)) => blob,
        Some(Err(p)) => return broken(p),
    };
    let ex = match read_root_stream(&mut cf, SIGNATURE_EX).transpose() {
        Ok(ex) => ex,
        Err(p) => return broken(p),
    };
    let parsed = match contained(|| parse_signed(&blob)) {
        Ok(p) => p,
        Err(p) => return broken(p),
    };
    let algs = parsed.algorithms(Subject::Msi);
    let mut hashers = Hashers::new(&algs);
    if let Some(ex) = &ex {
        hashers.update(ex);
    }
    let root_clsid = cf.root_entry().clsid().to_bytes_le();
    if let Err(e) = hash_storage(&mut cf, Path::new("/"), &root_clsid, &mut hashers) {
        return broken(format!("the MSI's streams cannot be read: {e}"));
    }
    let digests: Vec<(Alg, Vec<u8>)> = algs
        .iter()
        .filter_map(|a| Some((*a, hashers.finish(*a)?)))
        .collect();
    let verdict = contained(|| Ok(judge(&parsed, &digests, trust, Subject::Msi)))
        .unwrap_or_else(Verdict::broken);
    match (ex, algs.first()) {
        (Some(ex), Some(&alg)) if matches!(verdict.status, Status::Valid | Status::Untrusted) => {
            check_prehash(cf, &ex, alg, verdict)
        }
        _ => MsiVerdict::Checked(verdict),
    }
}

/// The content of the root's stream `name`, if there is one.
fn read_root_stream<F: Read + Seek>(
    cf: &mut cfb::CompoundFile<F>,
    name: &str,
) -> Option<Result<Vec<u8>, String>> {
    let path = PathBuf::from("/").join(name);
    if !cf.is_stream(&path) {
        return None;
    }
    let mut read = || {
        let mut stream = cf.open_stream(&path).map_err(|e| e.to_string())?;
        if stream.len() > MAX_SIGNATURE {
            return Err(format!(
                "{} bytes, more than the {MAX_SIGNATURE} sepkg reads (real ones are a few KB)",
                stream.len()
            ));
        }
        let mut data = Vec::new();
        stream.read_to_end(&mut data).map_err(|e| e.to_string())?;
        Ok(data)
    };
    Some(read().map_err(|e| format!("the MSI's {} stream cannot be read: {e}", &name[1..])))
}

/// The children of the storage at `path` in osslsigncode's hash order,
/// the signature streams left out at the root.
fn children<F: Read + Seek>(
    cf: &cfb::CompoundFile<F>,
    path: &Path,
) -> std::io::Result<Vec<cfb::Entry>> {
    let root = path == Path::new("/");
    let mut kids: Vec<cfb::Entry> = cf
        .read_storage(path)?
        .filter(|e| !(root && (e.name() == SIGNATURE || e.name() == SIGNATURE_EX)))
        .collect();
    kids.sort_by_cached_key(|e| HashOrder(stored_name(e.name())));
    Ok(kids)
}

/// A name as a directory entry stores it: UTF-16LE and a terminator.
fn stored_name(name: &str) -> Vec<u8> {
    name.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// osslsigncode's `dirent_cmp_hash`: bytewise over the shorter length,
/// then the longer name first.
#[derive(PartialEq, Eq)]
struct HashOrder(Vec<u8>);

impl Ord for HashOrder {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.0.len().min(other.0.len());
        self.0[..n]
            .cmp(&other.0[..n])
            .then(other.0.len().cmp(&self.0.len()))
    }
}

impl PartialOrd for HashOrder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Hashes the streams under the storage at `path`, depth first, then the
/// storage's `clsid`.
fn hash_storage<F: Read + Seek>(
    cf: &mut cfb::CompoundFile<F>,
    path: &Path,
    clsid: &[u8; 16],
    hashers: &mut Hashers,
) -> std::io::Result<()> {
    for entry in children(cf, path)? {
        if entry.is_storage() {
            hash_storage(cf, entry.path(), &entry.clsid().to_bytes_le(), hashers)?;
            continue;
        }
        // osslsigncode reads the size field's low 32 bits.
        let len = entry.len() as u32;
        if len == 0 || len >= MAX_REGULAR {
            continue;
        }
        let mut stream = cf.open_stream(entry.path())?.take(u64::from(len));
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hashers.update(&buf[..n]);
        }
    }
    hashers.update(clsid);
    Ok(())
}

/// The pre-hash of every entry's metadata (what `MsiDigitalSignatureEx`
/// holds), with `alg`.
fn prehash<F: Read + Seek>(cf: &cfb::CompoundFile<F>, alg: Alg) -> std::io::Result<Vec<u8>> {
    let mut h = Hashers::new(&[alg]);
    let root = cf.root_entry();
    h.update(&root.clsid().to_bytes_le());
    h.update(&root.state_bits().to_le_bytes());
    prehash_storage(cf, Path::new("/"), &mut h)?;
    Ok(h.finish(alg).unwrap_or_default())
}

fn prehash_storage<F: Read + Seek>(
    cf: &cfb::CompoundFile<F>,
    path: &Path,
    h: &mut Hashers,
) -> std::io::Result<()> {
    for entry in children(cf, path)? {
        let name = stored_name(entry.name());
        h.update(&name[..name.len() - 2]);
        if entry.is_storage() {
            h.update(&entry.clsid().to_bytes_le());
        } else {
            h.update(&(entry.len() as u32).to_le_bytes());
        }
        h.update(&entry.state_bits().to_le_bytes());
        h.update(&filetime(entry.created()).to_le_bytes());
        h.update(&filetime(entry.modified()).to_le_bytes());
        if entry.is_storage() {
            prehash_storage(cf, entry.path(), h)?;
        }
    }
    Ok(())
}

/// The FILETIME `cfb` read (it converts the stored 100 ns count to a
/// `SystemTime` around the Unix epoch; this is the exact inverse).
fn filetime(t: SystemTime) -> u64 {
    let ticks = |d: std::time::Duration| {
        d.as_secs()
            .saturating_mul(10_000_000)
            .saturating_add(u64::from(d.subsec_nanos() / 100))
    };
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH_FILETIME.saturating_add(ticks(d)),
        Err(e) => UNIX_EPOCH_FILETIME.saturating_sub(ticks(e.duration())),
    }
}

/// Compares the stored pre-hash `ex` with the one the entries give.
fn check_prehash<F: Read + Seek>(
    cf: cfb::CompoundFile<F>,
    ex: &[u8],
    alg: Alg,
    mut verdict: Verdict,
) -> MsiVerdict {
    let computed = match prehash(&cf, alg) {
        Ok(c) => c,
        Err(e) => {
            return MsiVerdict::Checked(Verdict::broken(format!(
                "the MSI's entries cannot be read: {e}"
            )));
        }
    };
    if computed == ex {
        return MsiVerdict::Checked(verdict);
    }
    let mut inner = cf.into_inner();
    let strict = inner
        .rewind()
        .map_err(|e| e.to_string())
        .and_then(|()| cfb::CompoundFile::open_strict(inner).map_err(|e| e.to_string()));
    match strict {
        Err(e) if HIDDEN.iter().any(|h| e.contains(h)) => MsiVerdict::NotVerified(format!(
            "detected, not verified: the streams verify, but its MsiDigitalSignatureEx part signs the entries' metadata, and this file holds values the cfb crate does not hand over as stored (its strict reading says: {e}), so the pre-hash cannot be recomputed"
        )),
        _ => {
            verdict.status = Status::Invalid;
            verdict.problem = Some(format!(
                "the entries' metadata (names, sizes, state bits, times) changed after signing: their {} pre-hash is {}, MsiDigitalSignatureEx says {}",
                alg.name(),
                hex::encode(computed),
                hex::encode(ex)
            ));
            MsiVerdict::Checked(verdict)
        }
    }
}

/// What `cfb`'s strict reading says about the stored values its permissive
/// reading replaces and the pre-hash covers: a stream's times, and a name
/// without its terminator. (Its other replacements, a stream's CLSID, a
/// storage's start sector and size, the root's name, are not hashed; and
/// files osslsigncode writes fail other strict checks, on the MiniFAT's
/// length, that do not matter here.)
const HIDDEN: [&str; 3] = [
    "non-zero stream creation time",
    "non-zero stream modified time",
    "name not null-terminated",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn order(names: &[&str]) -> Vec<String> {
        let mut v: Vec<&str> = names.to_vec();
        v.sort_by_cached_key(|n| HashOrder(stored_name(n)));
        v.into_iter().map(str::to_string).collect()
    }

    #[test]
    fn names_sort_bytewise_with_their_terminator() {
        // A prefix sorts first: its terminator is compared.
        assert_eq!(order(&["ABC", "AB"]), ["AB", "ABC"]);
        // Low byte first: U+0100 (00 01) before U+0001 (01 00).
        assert_eq!(order(&["\u{1}", "\u{100}"]), ["\u{100}", "\u{1}"]);
        assert_eq!(order(&["b", "B", "a"]), ["B", "a", "b"]);
    }

    #[test]
    fn filetimes_round_trip_through_system_time() {
        for ft in [
            0u64,
            1,
            UNIX_EPOCH_FILETIME - 1,
            UNIX_EPOCH_FILETIME,
            133_000_000_123_456_789,
        ] {
            let t = if ft >= UNIX_EPOCH_FILETIME {
                UNIX_EPOCH + std::time::Duration::from_nanos((ft - UNIX_EPOCH_FILETIME) * 100)
            } else {
                UNIX_EPOCH - std::time::Duration::from_nanos((UNIX_EPOCH_FILETIME - ft) * 100)
            };
            assert_eq!(filetime(t), ft);
        }
    }
}
