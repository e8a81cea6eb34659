//! Signed web-root records: minisign key pairs (`sepkg keygen`), the
//! signatures `publish --sign-key` writes beside `SHA256SUMS` and
//! `index.json`, and their check by `verify --trusted-key`.
//!
//! # Why
//! `verify URL` compares a download with the `index.json` on the same
//! server, and `verify WEBROOT` compares files with records in the same
//! folder: that proves consistency, not authenticity. Whoever can write to
//! the web root can replace a package and rewrite `index.json` and
//! `SHA256SUMS` to match. A signature made with a secret key that is kept
//! off the server, checked against a public key the verifier already
//! holds, catches that: the attacker can rewrite the records but cannot
//! sign them.
//!
//! # Formats
//! minisign's own, unchanged, so `minisign -V -p KEY.pub -m index.json`
//! checks a web root too:
//! - `PATH.key`: the secret key box (two lines: an untrusted comment, then
//!   base64 of the Ed25519 key with its key id and checksum), encrypted
//!   with a password through scrypt (minisign's `Sc`: 32 MiB, N=2^15),
//!   or with `--unencrypted` not at all (minisign's `-W`). Mode 0600 on
//!   Unix; on Windows it takes its folder's ACL.
//! - `PATH.pub`: the public key box (`untrusted comment: minisign public
//!   key: KEYID`, then `RW...`).
//! - `RECORD.minisig`: a prehashed (BLAKE2b-512) Ed25519 signature whose
//!   trusted comment is `timestamp:UNIX\tfile:RECORD\thashed`, as the
//!   minisign command writes it. [`TrustedKey::check`] holds a `file:`
//!   field to the record's name, so one record's signature cannot stand
//!   for another's.
//!
//! # What a good signature does not prove
//! That the records are the latest: an attacker can put back an older,
//! signed set of records with the packages they name (a rollback). The
//! trusted comment's timestamp is reported so that a person can see it.
//! `index.html` is for people and is not signed.
//!
//! Signatures are not byte-reproducible: the trusted comment holds the
//! time of signing, and minisign's Ed25519 mixes fresh randomness into
//! each signature. Publishing unchanged records keeps their signatures.
//!
//! # The crate
//! `minisign` 0.10, by minisign's author: pure Rust, the same formats and
//! KDF as the C tool, no system library. Two of its habits are worked
//! around: its password prompts write to stdout (the JSON document's
//! stream), so sepkg passes the password itself; and its signature parser
//! slices the last line's signature without checking its length (a short
//! one panics), so a signature, which may come from a hostile server, is
//! checked for shape first and parsed and verified under
//! `contain` (the crate-private panic guard).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use minisign::{KeyPair, PublicKey, SecretKey, SecretKeyBox, SignatureBox};
use serde::Serialize;

use crate::atomic::{self, Transaction};
use crate::contain::{MINISIGN, contain};
use crate::error::{Error, Result};
use crate::record::{INDEX_JSON, SUMS, read_if_file, read_record};

/// What a signature's name adds to its record's.
pub const SIG_SUFFIX: &str = ".minisig";
/// The records that are signed, in the order they are signed.
pub const SIGNED_RECORDS: [&str; 2] = [SUMS, INDEX_JSON];

/// `RECORD.minisig`.
pub fn sig_name(record: &str) -> String {
    format!("{record}{SIG_SUFFIX}")
}

/// The names of the signature files a signed web root holds.
pub fn signature_files() -> impl Iterator<Item = String> {
    SIGNED_RECORDS.iter().map(|r| sig_name(r))
}

/// A key id as minisign prints it: the 8-byte key number, little-endian,
/// as 16 uppercase hex digits.
fn key_id(keynum: &[u8]) -> String {
    let mut b = [0u8; 8];
    let n = keynum.len().min(8);
    b[..n].copy_from_slice(&keynum[..n]);
    format!("{:016X}", u64::from_le_bytes(b))
}

fn key_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Key {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// Key pairs.

/// The files `keygen -o OUT` writes: `OUT.key` and `OUT.pub`. A final
/// `.key` or `.pub` in `OUT` names the pair (`-o web.key` writes `web.key`
/// and `web.pub`).
pub fn key_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = match out.extension().and_then(|e| e.to_str()) {
        Some("key" | "pub") => out.with_extension(""),
        _ => out.to_path_buf(),
    };
    let with = |suffix: &str| {
        let mut s = stem.as_os_str().to_os_string();
        s.push(suffix);
        PathBuf::from(s)
    };
    (with(".key"), with(".pub"))
}

/// What `keygen` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct KeyPairWritten {
    /// The secret key file: for `publish --sign-key`, never for the server.
    pub secret_key: PathBuf,
    /// The public key file: for `verify --trusted-key`.
    pub public_key: PathBuf,
    /// The key id, 16 hex digits, as minisign prints it.
    pub key_id: String,
    /// The public key as one line of base64 (`RW...`), which
    /// `--trusted-key` also takes.
    pub public_key_base64: String,
    /// False for a key made with `--unencrypted`.
    pub encrypted: bool,
}

/// Makes a key pair and writes it at [`key_paths`]`(out)`, encrypted with
/// `password` (`None`: unencrypted). Refuses when either file exists;
/// each file appears whole or not at all, and a failure writing the public
/// key removes the secret key just written.
pub fn keygen(out: &Path, password: Option<&str>) -> Result<KeyPairWritten> {
    let (sk_path, pk_path) = key_paths(out);
    for p in [&sk_path, &pk_path] {
        if std::fs::symlink_metadata(p).is_ok() {
            return Err(exists(p));
        }
    }
    let failed = |e: minisign::PError| key_error(&sk_path, format!("cannot make a key pair: {e}"));
    let KeyPair { pk, sk } = match password {
        Some(pw) => KeyPair::generate_encrypted_keypair(Some(pw.to_string())),
        None => KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(failed)?;
    let comment = match password {
        Some(_) => "sepkg secret key, encrypted with a password",
        None => "sepkg secret key, NOT ENCRYPTED",
    };
    let sk_text = sk.to_box(Some(comment)).map_err(failed)?.to_string();
    let pk_text = pk.to_box().map_err(failed)?.to_string();
    write_new(&sk_path, sk_text.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&pk_path, pk_text.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&sk_path);
        return Err(e);
    }
    Ok(KeyPairWritten {
        secret_key: sk_path,
        public_key: pk_path,
        key_id: key_id(pk.keynum()),
        public_key_base64: pk.to_base64(),
        encrypted: password.is_some(),
    })
}

fn exists(path: &Path) -> Error {
    key_error(
        path,
        "already exists: sepkg keygen never overwrites a key (a lost secret key signs nothing \
         again, and a replaced public key fails every verifier that holds the old one); \
         choose another -o PATH, or move the old pair away first",
    )
}

/// Writes a new file at `path` (mode `mode` on Unix), whole or not at all,
/// never over an existing one: a synced temporary file beside it is hard
/// linked to the name, which fails if the name is taken. On a filesystem
/// without hard links the name is checked and the file renamed onto it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&atomic::hidden_prefix(&name))
        .suffix(".part")
        .make_in(dir, |p| {
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
            #[cfg(not(unix))]
            let _ = mode;
            options.open(p)
        })
        .map_err(|e| Error::io(dir, "cannot create a temporary file in", e))?;
    atomic::write_synced(&mut temp, bytes)?;
    match std::fs::hard_link(temp.path(), path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists(path)),
        Err(_) => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(exists(path));
            }
            atomic::persist(temp.into_temp_path(), path)
                .map_err(|e| Error::io(path, "cannot rename into place", e))?;
        }
    }
    atomic::sync_dir(dir);
    Ok(())
}

// ---------------------------------------------------------------------------
// Signing.

/// A secret key file, read but not yet unlocked.
#[derive(Debug)]
pub struct SecretKeyFile {
    path: PathBuf,
    text: String,
    encrypted: bool,
}

impl SecretKeyFile {
    /// Reads a minisign secret key file and tells whether it is encrypted.
    pub fn read(path: &Path) -> Result<SecretKeyFile> {
        let bytes = read_record(path)?;
        let not_one = "not a minisign secret key (sepkg keygen writes one as PATH.key)";
        let text = String::from_utf8(bytes).map_err(|_| key_error(path, not_one))?;
        let line = text.lines().nth(1).unwrap_or("").trim();
        // The second line is base64 of: signature algorithm `Ed`, KDF
        // (`Sc` for scrypt, or two zero bytes), checksum algorithm `B2`.
        let encrypted = if line.starts_with("RWRTY0Iy") {
            true
        } else if line.starts_with("RWQAAEIy") {
            false
        } else if PublicKey::from_base64(line).is_ok() {
            return Err(key_error(
                path,
                "is a public key: --sign-key takes the secret key (PATH.key), --trusted-key the public one",
            ));
        } else {
            return Err(key_error(path, not_one));
        };
        Ok(SecretKeyFile {
            path: path.to_path_buf(),
            text,
            encrypted,
        })
    }

    /// True when a password is needed to unlock it.
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decrypts the key with `password` (ignored for an unencrypted key).
    pub fn unlock(self, password: Option<&str>) -> Result<SigningKey> {
        let path = &self.path;
        let boxed = SecretKeyBox::from_string(&self.text)
            .map_err(|e| key_error(path, format!("not a minisign secret key: {e}")))?;
        let sk = if self.encrypted {
            let password = password.ok_or_else(|| {
                key_error(
                    path,
                    "is encrypted: its password is needed (--sign-password-env VAR)",
                )
            })?;
            SecretKey::from_box(boxed, Some(password.to_string()))
        } else {
            SecretKey::from_unencrypted_box(boxed)
        }
        .map_err(|e| match e.kind() {
            minisign::ErrorKind::Verify if self.encrypted => {
                key_error(path, "wrong password for this secret key")
            }
            _ => key_error(path, format!("not a usable minisign secret key: {e}")),
        })?;
        let pk = PublicKey::from_secret_key(&sk)
            .map_err(|e| key_error(path, format!("not a usable minisign secret key: {e}")))?;
        Ok(SigningKey {
            sk,
            pk,
            path: self.path,
        })
    }
}

/// An unlocked secret key, with its public key. Its `Debug` shows the
/// file and key id, never the key.
#[derive(Clone)]
pub struct SigningKey {
    sk: SecretKey,
    pk: PublicKey,
    path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("path", &self.path)
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key id, as minisign prints it.
    pub fn key_id(&self) -> String {
        key_id(self.pk.keynum())
    }

    /// The secret key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `.minisig` file for `bytes`, the content of the record `record`.
    pub fn sign(&self, record: &str, bytes: &[u8]) -> Result<Vec<u8>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let trusted = format!("timestamp:{now}\tfile:{record}\thashed");
        let untrusted = format!("signature from sepkg secret key {}", self.key_id());
        let signature = minisign::sign(
            Some(&self.pk),
            &self.sk,
            Cursor::new(bytes),
            Some(&trusted),
            Some(&untrusted),
        )
        .map_err(|e| key_error(&self.path, format!("cannot sign {record}: {e}")))?;
        Ok(signature.to_bytes())
    }
}

/// Refuses to change a signed web root's records without a key (`doing`:
/// "publishing", "unpublishing", "reindexing", for the message): the
/// new records would stand beside signatures of the old ones, which
/// `verify --trusted-key` fails and which a reader might take for current.
/// Refusing rather than removing them, so that a forgotten option never
/// turns a signed web root into an unsigned one.
pub fn refuse_unsigned(root: &Path, signing: bool, doing: &str) -> Result<()> {
    if signing {
        return Ok(());
    }
    let present: Vec<String> = signature_files()
        .filter(|n| std::fs::symlink_metadata(root.join(n)).is_ok())
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{}: this web root is signed ({}): {doing} without --sign-key would leave signatures \
         that no longer match its records; pass --sign-key KEY with the secret key that signed it, \
         or remove {} from the web root to stop signing it",
        root.display(),
        present.join(", "),
        present.join(" and "),
    )))
}

/// Stages a signature of each record in `records` (name, final bytes)
/// into `tx`, written in `staging`, when there is a key, unless the signature there already is a
/// good one by this key of these bytes (a publish that changes nothing
/// writes nothing).
pub fn stage(
    root: &Path,
    staging: &Path,
    key: Option<&SigningKey>,
    records: &[(&str, Vec<u8>)],
    tx: &mut Transaction,
) -> Result<()> {
    let Some(key) = key else {
        return Ok(());
    };
    for (name, bytes) in records {
        let target = root.join(sig_name(name));
        if let Some(existing) = read_if_file(&target)?
            && check_signature(&key.pk, name, bytes, &existing).is_ok()
        {
            continue;
        }
        let sig = sig_name(name);
        let staged = atomic::stage_bytes(
            staging,
            &atomic::hidden_prefix(&sig),
            ".part",
            &key.sign(name, bytes)?,
        )?;
        tx.put(staged, target);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Verifying.

/// A public key to check signatures against (`verify --trusted-key`).
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pk: PublicKey,
}

impl TrustedKey {
    /// Loads `arg`: a minisign public key file (`PATH.pub`) or, when no
    /// such file exists, the key itself as its base64 line (`RW...`).
    pub fn load(arg: &str) -> Result<TrustedKey> {
        let path = Path::new(arg);
        if std::fs::symlink_metadata(path).is_err() {
            return PublicKey::from_base64(arg.trim())
                .map(|pk| TrustedKey { pk })
                .map_err(|_| {
                    key_error(
                        path,
                        "no such file, and not a minisign public key (RW... , 56 characters) either",
                    )
                });
        }
        let bytes = read_record(path)?;
        let text = String::from_utf8_lossy(&bytes);
        let line = text.lines().nth(1).unwrap_or("").trim();
        if line.starts_with("RWRTY0Iy") || line.starts_with("RWQAAEIy") {
            return Err(key_error(
                path,
                "is a SECRET key: --trusted-key takes the public key (PATH.pub); keep PATH.key off the web server and away from verifiers",
            ));
        }
        PublicKey::from_base64(line)
            .map(|pk| TrustedKey { pk })
            .map_err(|_| {
                key_error(
                    path,
                    "not a minisign public key (sepkg keygen writes one as PATH.pub: a comment line, then RW...)",
                )
            })
    }

    /// The key id, as minisign prints it.
    pub fn key_id(&self) -> String {
        key_id(self.pk.keynum())
    }

    /// Checks `sig` (the content of `sig_at`; `None` when there is none) as
    /// the signature of the record `record` whose content is `bytes`;
    /// `at` names the record (its path or URL) in the report.
    pub fn check(
        &self,
        record: &str,
        at: &str,
        sig_at: &str,
        bytes: &[u8],
        sig: Option<&[u8]>,
    ) -> SignatureCheck {
        let mut check = SignatureCheck {
            record: at.to_string(),
            signature: sig_at.to_string(),
            status: SignatureStatus::Missing,
            key_id: Some(self.key_id()),
            trusted_comment: None,
            reason: None,
        };
        let Some(sig) = sig else {
            check.reason = Some(format!(
                "missing: {record} is not signed, so it cannot be told from a rewritten one"
            ));
            return check;
        };
        match check_signature(&self.pk, record, bytes, sig) {
            Ok(trusted) => {
                check.status = SignatureStatus::Verified;
                check.trusted_comment = Some(trusted);
            }
            Err(reason) => {
                check.status = SignatureStatus::Invalid;
                check.reason = Some(reason);
            }
        }
        check
    }
}

/// Checks a `.minisig` against `pk` and the record's bytes; returns the
/// trusted comment, or why it fails.
fn check_signature(
    pk: &PublicKey,
    record: &str,
    bytes: &[u8],
    sig: &[u8],
) -> std::result::Result<String, String> {
    let text =
        std::str::from_utf8(sig).map_err(|_| "not a minisign signature: not text".to_string())?;
    let lines: Vec<&str> = text.lines().collect();
    // The crate slices the last line's 64 bytes unchecked: 88 characters
    // of base64 with its padding is exactly 64 bytes.
    match lines.get(3).map(|l| l.trim()) {
        Some(global) if global.len() == 88 && global.ends_with("==") => {}
        _ => {
            return Err(
                "not a minisign signature (four lines: comment, signature, trusted comment, its signature)"
                    .into(),
            );
        }
    }
    let sbox = contain(MINISIGN, || SignatureBox::from_string(text))?
        .map_err(|e| format!("not a minisign signature: {e}"))?;
    let (signer, trusted_id) = (key_id(sbox.keynum()), key_id(pk.keynum()));
    if signer != trusted_id {
        return Err(format!(
            "made with key {signer}, not with the trusted key {trusted_id}"
        ));
    }
    if !sbox.is_prehashed() {
        return Err(
            "a legacy minisign signature (not prehashed), which sepkg does not accept: sign the records again".into(),
        );
    }
    // The comment is not yet authenticated here: it can only make the
    // check fail (with a clearer reason than a digest mismatch), never pass.
    let trusted = sbox
        .trusted_comment()
        .map_err(|e| format!("its trusted comment cannot be read: {e}"))?;
    if let Some(file) = trusted.split('\t').find_map(|f| f.strip_prefix("file:"))
        && file != record
    {
        return Err(format!(
            "is a signature of {file:?}, not of {record}: another record's signature was put in its place"
        ));
    }
    contain(MINISIGN, || {
        minisign::verify(pk, &sbox, Cursor::new(bytes), true, false, false)
    })?
    .map_err(|e| {
        if e.to_string().starts_with("Comment signature") {
            "its trusted comment was changed after it was signed".to_string()
        } else {
            format!("does not match {record}: {record} was changed after it was signed")
        }
    })?;
    Ok(trusted)
}

/// The state of one record's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// A good signature by the trusted key.
    Verified,
    /// No signature, though a trusted key was given.
    Missing,
    /// A signature that fails: another key, other content, not minisign.
    Invalid,
    /// A signature present but not checked: no trusted key was given.
    NotChecked,
}

/// One record's signature, as `verify` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    /// The record signed (its name in a web root, its URL for a URL).
    pub record: String,
    /// Its signature file or URL.
    pub signature: String,
    /// What was found.
    pub status: SignatureStatus,
    /// The trusted key's id (the signer's, once verified).
    pub key_id: Option<String>,
    /// The signature's trusted comment, once verified.
    pub trusted_comment: Option<String>,
    /// Why it is missing or fails.
    pub reason: Option<String>,
}

impl SignatureCheck {
    /// True unless a trusted key was given and the signature fails or is missing.
    pub fn ok(&self) -> bool {
        matches!(
            self.status,
            SignatureStatus::Verified | SignatureStatus::NotChecked
        )
    }
}

/// The signatures of a web root's records, given the records read (name
/// and bytes; a missing record is not listed, its absence is reported
/// elsewhere). With `trusted`, each record needs a good signature; without,
/// each signature present is reported as not checked.
pub fn check_webroot(
    dir: &Path,
    records: &[(&str, Vec<u8>)],
    trusted: Option<&TrustedKey>,
) -> Result<Vec<SignatureCheck>> {
    let mut out = Vec::new();
    for (name, bytes) in records {
        let sig_file = sig_name(name);
        let sig = read_if_file(&dir.join(&sig_file))?;
        match trusted {
            Some(key) => out.push(key.check(name, name, &sig_file, bytes, sig.as_deref())),
            None if sig.is_some() => out.push(SignatureCheck {
                record: name.to_string(),
                signature: sig_file,
                status: SignatureStatus::NotChecked,
                key_id: None,
                trusted_comment: None,
                reason: Some("no --trusted-key given".into()),
            }),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (SigningKey, TrustedKey) {
        let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair().unwrap();
        (
            SigningKey {
                sk,
                pk: pk.clone(),
                path: "k.key".into(),
            },
            TrustedKey { pk },
        )
    }

    #[test]
    fn a_signature_verifies_and_names_its_record() {
        let (sk, tk) = pair();
        let sig = sk.sign(INDEX_JSON, b"{}\n").unwrap();
        let c = tk.check(INDEX_JSON, "i", "i.minisig", b"{}\n", Some(&sig));
        assert_eq!(c.status, SignatureStatus::Verified, "{c:?}");
        assert!(c.trusted_comment.unwrap().contains("\tfile:index.json\t"));
        // Other bytes, another record's name, another key, no signature.
        let c = tk.check(INDEX_JSON, "i", "s", b"{ }\n", Some(&sig));
        assert_eq!(c.status, SignatureStatus::Invalid);
        assert!(c.reason.unwrap().contains("changed after it was signed"));
        let c = tk.check(SUMS, "s", "s", b"{}\n", Some(&sig));
        assert!(
            c.reason
                .unwrap()
                .contains("\"index.json\", not of SHA256SUMS")
        );
        let (_, other) = pair();
        let c = other.check(INDEX_JSON, "i", "s", b"{}\n", Some(&sig));
        assert!(c.reason.unwrap().contains("not with the trusted key"));
        assert_eq!(
            tk.check(SUMS, "s", "s", b"", None).status,
            SignatureStatus::Missing
        );
        // A trusted comment edited after signing (an older timestamp).
        let text = String::from_utf8(sig).unwrap();
        let edited = text.replacen("timestamp:", "timestamp:1", 1);
        let c = tk.check(INDEX_JSON, "i", "s", b"{}\n", Some(edited.as_bytes()));
        assert_eq!(
            c.reason.as_deref(),
            Some("its trusted comment was changed after it was signed")
        );
    }

    #[test]
    fn malformed_signatures_are_reasons_not_panics() {
        let (sk, tk) = pair();
        let good = String::from_utf8(sk.sign(SUMS, b"x").unwrap()).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        let short_global = format!("{}\n{}\n{}\nAAAA\n", lines[0], lines[1], lines[2]);
        let short_sig = format!("{}\nAAAA\n{}\n{}\n", lines[0], lines[2], lines[3]);
        for bad in [
            &b""[..],
            b"\xff\xfe",
            b"x\ny\nz\n",
            short_global.as_bytes(),
            short_sig.as_bytes(),
        ] {
            let c = tk.check(SUMS, "s", "s", b"x", Some(bad));
            assert_eq!(c.status, SignatureStatus::Invalid, "{bad:?}");
            assert!(c.reason.unwrap().starts_with("not a minisign signature"));
        }
    }

    #[test]
    fn every_truncation_and_byte_flip_fails_and_none_panics() {
        let (sk, tk) = pair();
        let good = sk.sign(SUMS, b"x").unwrap();
        let comment_end = good.iter().position(|&b| b == b'\n').unwrap();
        let mut contained = 0;
        let mut check = |bad: &[u8]| {
            let c = tk.check(SUMS, "s", "s", b"x", Some(bad));
            assert_ne!(c.status, SignatureStatus::Verified, "{bad:?}");
            contained += usize::from(c.reason.is_some_and(|r| r.contains(MINISIGN)));
        };
        // Cut before the last line's end (a final newline is optional).
        for len in 0..good.len() - 2 {
            check(&good[..len]);
        }
        // The untrusted comment is not signed; everything after it is.
        for i in comment_end + 1..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            if bad[i].is_ascii_whitespace() || good[i].is_ascii_whitespace() {
                continue;
            }
            check(&bad);
        }
        assert_eq!(contained, 0, "the shape checks should stop every panic");
    }

    #[test]
    fn key_paths_take_a_stem_or_either_file() {
        for out in ["k", "k.key", "k.pub"] {
            assert_eq!(key_paths(Path::new(out)), ("k.key".into(), "k.pub".into()));
        }
        assert_eq!(key_id(&[1, 0, 0, 0, 0, 0, 0, 0xAB]), "AB00000000000001");
    }
}
