//! The PE side of Authenticode: where the CheckSum field, the
//! certificate-table directory entry and the table are, and the image
//! digest, computed streaming.
//!
//! The digest is the one Windows and osslsigncode compute: every byte of
//! the file from the start to the certificate table (or to the end of an
//! unsigned file), leaving out the 4-byte CheckSum field and the 8-byte
//! certificate-table directory entry. The Authenticode paper describes it
//! as "headers, then sections sorted by file offset, then the rest"; for
//! a file whose sections follow each other (every linker's output) that is
//! the same byte sequence, and the linear form is what the verifiers do,
//! so a byte hidden in a gap is covered too. The `authenticode` crate
//! implements the sections form over a `&[u8]` of the whole file, which a
//! 400 MB .exe must not become, so this module does it over a reader.

use std::io::Read;
use std::ops::Range;

#[cfg(test)]
use super::crypto::Alg;
use super::crypto::Hashers;

/// The most of the file's start read whole for the headers.
pub(crate) const MAX_HEADERS: usize = 1 << 16;
/// The largest certificate table read (real ones are a few KB to a few
/// hundred KB, with every nested signature and its chain).
pub(crate) const MAX_TABLE: u64 = 16 << 20;

/// What the PE headers say about signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// File offset of the optional header's CheckSum field.
    pub checksum_at: u64,
    /// File offset of data directory 4 (the certificate table's entry);
    /// None when the optional header has no room for it.
    pub security_dir_at: Option<u64>,
    /// The certificate table: file offset and size, when the entry is set.
    pub table: Option<(u64, u64)>,
}

impl Layout {
    /// The byte ranges the digest leaves out of the hashed part.
    pub fn skipped(&self) -> Vec<Range<u64>> {
        let checksum = self.checksum_at..self.checksum_at + 4;
        match self.security_dir_at {
            Some(at) => Vec::from([checksum, at..at + 8]),
            None => Vec::from([checksum]),
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Parses the headers in `head` (the file's first bytes, up to
/// [`MAX_HEADERS`]). `Err` says why it is not a PE file.
pub(crate) fn layout(head: &[u8]) -> Result<Layout, String> {
    if head.get(..2) != Some(b"MZ") {
        return Err("no MZ signature: not a Windows program".into());
    }
    let pe_at = u32_at(head, 0x3C).ok_or("the DOS header is truncated")? as usize;
    if head.get(pe_at..pe_at + 4) != Some(b"PE\0\0") {
        return Err(if pe_at + 4 > head.len() {
            format!(
                "the PE header offset {pe_at} is past the headers sepkg reads (truncated, or not a PE file)"
            )
        } else {
            format!("no PE signature at offset {pe_at}: not a Windows PE program")
        });
    }
    let optional_size =
        usize::from(u16_at(head, pe_at + 20).ok_or("the COFF header is truncated")?);
    let opt_at = pe_at + 24;
    let opt = head
        .get(opt_at..opt_at + optional_size)
        .filter(|o| o.len() >= 68)
        .ok_or("the PE optional header is truncated or too short")?;
    let (count_at, dirs_at) = match u16_at(opt, 0) {
        Some(0x10b) => (92usize, 96usize),
        Some(0x20b) => (108, 112),
        other => {
            return Err(format!(
                "unknown PE optional header magic {:#x}",
                other.unwrap_or(0)
            ));
        }
    };
    let checksum_at = (opt_at + 64) as u64;
    let entry = dirs_at + 4 * 8;
    let has_entry = u32_at(opt, count_at).is_some_and(|n| n > 4) && opt.len() >= entry + 8;
    if !has_entry {
        return Ok(Layout {
            checksum_at,
            security_dir_at: None,
            table: None,
        });
    }
    let offset = u64::from(u32_at(opt, entry).unwrap_or(0));
    let size = u64::from(u32_at(opt, entry + 4).unwrap_or(0));
    Ok(Layout {
        checksum_at,
        security_dir_at: Some((opt_at + entry) as u64),
        table: (offset != 0 || size != 0).then_some((offset, size)),
    })
}

/// Reads the file's first bytes, up to [`MAX_HEADERS`] (fewer for a
/// shorter file).
pub(crate) fn read_head(r: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(4096);
    r.take(MAX_HEADERS as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Hashes the bytes at file offsets `[start, end)` that are not in
/// `skipped`, with every hasher in `hashers`.
pub(crate) struct Skipping<'a> {
    pub pos: u64,
    skipped: Vec<Range<u64>>,
    hashers: &'a mut Hashers,
}

impl<'a> Skipping<'a> {
    pub fn new(skipped: Vec<Range<u64>>, hashers: &'a mut Hashers) -> Self {
        Skipping {
            pos: 0,
            skipped,
            hashers,
        }
    }

    /// Hashes `data`, which lies at the current position.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let pos = self.pos;
            let end = pos + data.len() as u64;
            // The first skipped range that ends after `pos` and starts before `end`.
            let hit = self
                .skipped
                .iter()
                .filter(|r| r.end > pos && r.start < end)
                .min_by_key(|r| r.start)
                .cloned();
            let (take, skip) = match hit {
                None => (data.len(), 0),
                Some(r) if r.start > pos => ((r.start - pos) as usize, 0),
                Some(r) => (0, (r.end.min(end) - pos) as usize),
            };
            self.hashers.update(&data[..take]);
            let n = take + skip;
            data = &data[n..];
            self.pos += n as u64;
        }
    }

    /// Reads from `r` and hashes until file offset `end`. Returns false
    /// when the stream ended first.
    pub fn copy_until(&mut self, r: &mut dyn Read, end: u64) -> std::io::Result<bool> {
        let mut buf = vec![0u8; 1 << 16];
        while self.pos < end {
            let want = (end - self.pos).min(buf.len() as u64) as usize;
            let n = match r.read(&mut buf[..want]) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.update(&buf[..n]);
        }
        Ok(true)
    }
}

/// The image digest of an in-memory PE (tests and the signer's checks).
#[cfg(test)]
pub(crate) fn digest_of(bytes: &[u8], alg: Alg) -> Vec<u8> {
    let layout = layout(bytes).unwrap();
    let end = layout.table.map_or(bytes.len() as u64, |(o, _)| o) as usize;
    let mut hashers = Hashers::new(&[alg]);
    Skipping::new(layout.skipped(), &mut hashers).update(&bytes[..end]);
    hashers.finish(alg).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// A PE32+ header like tests/support's stub: optional header at 0x58.
    fn stub() -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[..2].copy_from_slice(b"MZ");
        b[0x3C] = 0x40;
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        b[0x54] = 240;
        b[0x58..0x5A].copy_from_slice(&0x20bu16.to_le_bytes());
        b[0x58 + 108] = 16;
        b
    }

    #[test]
    fn finds_the_fields_of_a_pe32_plus() {
        let l = layout(&stub()).unwrap();
        assert_eq!(l.checksum_at, 0x58 + 64);
        assert_eq!(l.security_dir_at, Some(0x58 + 112 + 32));
        assert_eq!(l.table, None);
    }

    #[test]
    fn rejects_what_is_not_a_pe() {
        assert!(layout(b"ZM").unwrap_err().contains("MZ"));
        let mut b = stub();
        b[0x40] = b'X';
        assert!(layout(&b).unwrap_err().contains("no PE signature"));
        b = stub();
        b[0x3C..0x40].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        assert!(layout(&b).is_err());
        b = stub();
        b[0x54] = 20;
        assert!(layout(&b).unwrap_err().contains("too short"));
        assert!(layout(&stub()[..0x60]).is_err());
    }

    #[test]
    fn the_digest_skips_checksum_and_directory_entry() {
        let mut a = stub();
        let plain = digest_of(&a, Alg::Sha256);
        a[0x58 + 64] = 0x55; // CheckSum
        a[0x58 + 112 + 32 + 7] = 0; // inside the (zero) directory entry, still zero
        assert_eq!(digest_of(&a, Alg::Sha256), plain);
        let mut expect = sha2::Sha256::new();
        let b = stub();
        expect.update(&b[..0x58 + 64]);
        expect.update(&b[0x58 + 68..0x58 + 144]);
        expect.update(&b[0x58 + 152..]);
        assert_eq!(plain, expect.finalize().to_vec());
        a[0x300] ^= 1;
        assert_ne!(digest_of(&a, Alg::Sha256), plain);
    }

    #[test]
    fn chunked_hashing_equals_whole() {
        let b = stub();
        let whole = digest_of(&b, Alg::Sha1);
        let l = layout(&b).unwrap();
        for step in [1usize, 3, 7, 64, 151] {
            let mut h = Hashers::new(&[Alg::Sha1]);
            let mut s = Skipping::new(l.skipped(), &mut h);
            for c in b.chunks(step) {
                s.update(c);
            }
            assert_eq!(h.finish(Alg::Sha1).unwrap(), whole, "step {step}");
        }
    }
}
