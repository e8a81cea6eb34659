//! Authenticode: verifying the signature of a Windows program (a
//! single-file .exe package, a `Setup.exe` inside a package) and of an
//! MSI, and signing the .exe that `transform` rebuilds.
//!
//! # What is checked
//! [`verify_file`] and [`verify_reader`] give a [`Verdict`] for a program
//! ([`verify_msi`] for an MSI, below):
//! 1. the PE headers give the CheckSum field, the certificate-table
//!    directory entry and the table (the `pe` module);
//! 2. the table's first WIN_CERTIFICATE holds PKCS#7 SignedData whose
//!    content is an SpcIndirectDataContent: the signed image digest;
//! 3. the image digest is computed (every byte before the table but the
//!    CheckSum and the directory entry, in chunks: a 400 MB .exe is never
//!    in memory) and compared: a mismatch means the file changed after
//!    signing;
//! 4. the signer's signed attributes hold the content type and the digest
//!    of the SpcIndirectDataContent, and the signer's signature over them
//!    verifies with the key of the signer's certificate (RSA PKCS#1 v1.5,
//!    ECDSA P-256/P-384; SHA-1/256/384/512);
//! 5. a timestamp, RFC 3161 (`1.3.6.1.4.1.311.3.3.1`) or PKCS#9
//!    countersignature, is checked against the signature value and its
//!    authority's signature verified; its time is the signing time;
//! 6. nested signatures (dual signing) are checked the same way;
//! 7. with trust roots ([`Trust`], from `--trust-ca PEM`), the chain from
//!    the signer's certificate through the signature's certificates must
//!    reach a root, each certificate valid at the signing time (the
//!    timestamp's, else now), intermediates marked CA, the signer's
//!    extended key usage allowing code signing. **No roots are bundled**:
//!    sepkg does not carry Microsoft's or anyone's code-signing roots, so
//!    without `--trust-ca` the chain is reported as not checked, and a
//!    valid verdict then means "unchanged since signed by this
//!    certificate", not "signed by someone you trust". Revocation is not
//!    checked (no network access during an audit).
//!
//! Malformed signatures never panic and never abort: they are
//! [`Status::Invalid`] verdicts saying what is wrong. Only an unreadable
//! file or one that is not a PE program is an error.
//!
//! # For `audit`
//! One finding per program, from [`Verdict::finding`]:
//! `exe-signature-invalid` (error: the file changed after signing, or the
//! signature is damaged), `exe-unsigned` (a warning for the single-file
//! .exe package, info for entries), `exe-signature-untrusted` (warning:
//! roots were given and the chain does not reach one); none when valid.
//!
//! # Signing
//! [`sign::Signer`] signs the rebuilt .exe in process (SHA-256 image
//! digest, RSA PKCS#1 v1.5 or ECDSA P-256), from a PKCS#12 file or PEM
//! certificate and key, optionally timestamped by an RFC 3161 server. The
//! result is **deterministic**: RSA PKCS#1 v1.5 and RFC 6979 ECDSA are
//! deterministic, no signing-time attribute is written (Windows takes the
//! time from a timestamp only), the certificates go in the order given, and
//! the signed attributes in DER order; the same input, options and key
//! give the same bytes. A timestamp makes the output depend on the
//! authority's answer, and so on the time it was asked.
//!
//! # Crates
//! Certificates are parsed by `x509-cert`, keys and signatures by RustCrypto's
//! `rsa`, `p256`, `p384`, `sha1` and `sha2`, PKCS#8 keys by `pkcs8`
//! (PBES2). Evaluated and not used:
//! - `authenticode` (Google): its image digest takes the whole file as one
//!   `&[u8]` (a 400 MB .exe in memory, or unsafe memory mapping, which this
//!   crate forbids), it hashes "headers, sorted sections, the rest", which
//!   covers the same bytes only when sections are contiguous, it builds on
//!   the previous RustCrypto generation (`der` 0.7, `digest` 0.10, a second
//!   copy of everything next to our `sha2` 0.11), it verifies no signature,
//!   and its `certificates()` panics on a signature without certificates.
//!   The streamed digest is 60 lines here (`pe`).
//! - `picky` 7 (Devolutions) does Authenticode, PKCS#12 and timestamps,
//!   but has been a release candidate for years, decodes DER through serde,
//!   and brings about 120 crates (ed25519, x25519, sha3, p521, RC2 and DES
//!   among them) to a 2-core CI, against about 50 for this set.
//! - `cms`: its SignedData types decode SETs into sorted owned values; a
//!   signature is over the bytes as written, so the envelope (six fields
//!   deep) is read here by a small DER walker that keeps every element's
//!   exact encoding (`der`), and only certificates go through `x509-cert`.
//!
//! # MSI `DigitalSignature`
//! [`verify_msi`] checks an MSI's signature with the same steps 2 and 4
//! to 7: the `\u{5}DigitalSignature` stream is the PKCS#7 SignedData
//! itself (no WIN_CERTIFICATE), its SpcIndirectDataContent holds SpcSipInfo
//! (`1.3.6.1.4.1.311.2.1.30`) instead of SpcPeImageData, and step 3's
//! digest is the one osslsigncode's `msi.c` computes (the `msi` module:
//! streams depth first in a bytewise UTF-16LE name order, each storage's
//! CLSID after its children, the root's last, and with
//! `\u{5}MsiDigitalSignatureEx` a pre-hash of every entry's metadata
//! first). It is read through `cfb`, which gives everything hashed exactly
//! except a stream's non-zero times (the format forbids them; `cfb` reads
//! them as zero): a pre-hash that then differs is
//! [`MsiVerdict::NotVerified`], saying why. In `audit` the findings are
//! `msi-signature-invalid` and `msi-signature-untrusted`.

mod crypto;
mod der;
mod msi;
mod pe;
mod pfx;
mod pkcs7;
pub mod sign;
mod timestamp;
mod verify;

use serde::Serialize;
use std::path::{Path, PathBuf};

pub use crypto::Alg;
pub use msi::{MsiVerdict, verify_msi};
pub use sign::{Signed, Signer};
pub use verify::{verify_file, verify_reader};

use crate::error::{Error, Location, Result};

/// Trust anchors: the certificates given with `--trust-ca PEM`.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    roots: Vec<Vec<u8>>,
}

impl Trust {
    /// No roots: chains are not checked.
    pub fn none() -> Trust {
        Trust::default()
    }

    /// Reads every certificate in each PEM file (a file may hold several).
    /// A file without one, or with one that cannot be read, is an error
    /// naming it.
    pub fn load(paths: &[PathBuf]) -> Result<Trust> {
        let mut roots = Vec::new();
        for path in paths {
            let text = read_small(path, 1 << 20)?;
            roots.extend(certs_from_pem(path, &text)?);
        }
        Ok(Trust { roots })
    }

    /// True when no roots were given.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    fn certs(&self) -> Vec<pkcs7::Cert<'_>> {
        self.roots
            .iter()
            .filter_map(|d| pkcs7::Cert::parse(d).ok())
            .collect()
    }
}

/// Reads a small file whole, refusing one over `limit` bytes.
/// A key or certificate may come through a FIFO (`--sign-key <(command)`):
/// the limit holds on what is read.
pub(crate) fn read_small(path: &Path, limit: u64) -> Result<Vec<u8>> {
    crate::limits::read_whole(path, limit)
}

/// The DER of every `CERTIFICATE` block in PEM `text`.
pub(crate) fn certs_from_pem(path: &Path, text: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = |reason: String| Error::corrupt(Location::file(path), "PEM certificate", reason);
    let blocks = pem_blocks(text).map_err(bad)?;
    let certs: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| der)
        .collect();
    if certs.is_empty() {
        return Err(bad("no -----BEGIN CERTIFICATE----- block".into()));
    }
    for c in &certs {
        pkcs7::Cert::parse(c).map_err(bad)?;
    }
    Ok(certs)
}

/// Every PEM block in `text`: its label and its decoded bytes.
pub(crate) fn pem_blocks(text: &[u8]) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    use x509_cert::der::pem;
    let text =
        std::str::from_utf8(text).map_err(|_| "not text (a PEM file is ASCII)".to_string())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let tail = &rest[start..];
        let end_marker = tail
            .find("-----END ")
            .ok_or("a BEGIN line has no END line")?;
        let end = tail[end_marker..]
            .find('\n')
            .map_or(tail.len(), |n| end_marker + n + 1)
            .min(tail.len());
        let block = &tail[..end];
        let (label, der) = pem::decode_vec(block.as_bytes())
            .map_err(|e| format!("a PEM block cannot be decoded: {e}"))?;
        out.push((label.to_string(), der));
        rest = &tail[end..];
    }
    Ok(out)
}

/// What verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// No certificate table.
    Unsigned,
    /// Every signature verifies; with roots, the chain reaches one.
    Valid,
    /// The signatures verify, but the chain does not reach a given root.
    Untrusted,
    /// The file changed after signing, or a signature is damaged or does
    /// not verify.
    Invalid,
}

/// A certificate, named for a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Name {
    /// Subject, RFC 4514 style (`CN=Example Corp,O=Example Corp,C=US`).
    pub subject: String,
    /// Issuer, the same way.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
}

impl Name {
    fn of(cert: &pkcs7::Cert<'_>) -> Name {
        Name {
            subject: cert.subject_text(),
            issuer: cert.issuer_text(),
            serial: cert.serial_hex(),
        }
    }
}

/// Whether a certificate chains to a trust root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Chain {
    /// No `--trust-ca` roots were given (none are bundled).
    NotChecked,
    /// It reaches this root (its subject).
    Trusted {
        /// The root's subject.
        root: String,
    },
    /// It does not reach a root, or a certificate on the way is not valid.
    Untrusted {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chain::NotChecked => {
                f.write_str("not checked (no --trust-ca roots given; none are bundled)")
            }
            Chain::Trusted { root } => write!(f, "reaches the trusted root {root}"),
            Chain::Untrusted { reason } => write!(f, "untrusted: {reason}"),
        }
    }
}

/// Where a signing time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimestampKind {
    /// An RFC 3161 timestamp token.
    Rfc3161,
    /// A PKCS#9 countersignature (the older Authenticode timestamp).
    Countersignature,
}

/// A timestamp on a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timestamp {
    /// RFC 3161 or countersignature.
    pub kind: TimestampKind,
    /// The signing time it vouches for, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: Option<String>,
    #[serde(skip)]
    unix: i64,
    /// The timestamp authority's certificate.
    pub authority: Option<Name>,
    /// Why it does not verify; None when it does.
    pub problem: Option<String>,
    /// The authority's chain.
    pub chain: Chain,
}

impl Timestamp {
    fn new(kind: TimestampKind, time: (String, i64), cert: &pkcs7::Cert<'_>) -> Timestamp {
        Timestamp {
            kind,
            time: Some(time.0),
            unix: time.1,
            authority: Some(Name::of(cert)),
            problem: None,
            chain: Chain::NotChecked,
        }
    }

    fn broken(kind: TimestampKind, problem: String) -> Timestamp {
        Timestamp {
            kind,
            time: None,
            unix: 0,
            authority: None,
            problem: Some(problem),
            chain: Chain::NotChecked,
        }
    }
}

/// One signature (the primary, or a nested one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// True for a nested signature (dual signing).
    pub nested: bool,
    /// The signer's certificate, when it was found.
    pub signer: Option<Name>,
    /// The image digest algorithm, `sha256` say.
    pub digest_algorithm: Option<String>,
    /// Why it does not verify; None when it does.
    pub problem: Option<String>,
    /// The timestamp, when there is one.
    pub timestamp: Option<Timestamp>,
    /// Whether the signer's chain reaches a trust root.
    pub chain: Chain,
}

impl SignatureReport {
    fn broken(problem: String, nested: bool) -> SignatureReport {
        SignatureReport {
            nested,
            signer: None,
            digest_algorithm: None,
            problem: Some(problem),
            timestamp: None,
            chain: Chain::NotChecked,
        }
    }
}

/// The outcome for one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Unsigned, valid, untrusted or invalid.
    pub status: Status,
    /// Why it is invalid or untrusted.
    pub problem: Option<String>,
    /// The primary signature first, then nested ones. Empty when unsigned,
    /// or when the certificate table cannot be read.
    pub signatures: Vec<SignatureReport>,
}

impl Verdict {
    fn unsigned() -> Verdict {
        Verdict {
            status: Status::Unsigned,
            problem: None,
            signatures: Vec::new(),
        }
    }

    fn broken(problem: String) -> Verdict {
        Verdict {
            status: Status::Invalid,
            problem: Some(problem),
            signatures: Vec::new(),
        }
    }

    fn of(signatures: Vec<SignatureReport>, roots_given: bool) -> Verdict {
        let problem = signatures.iter().find_map(|s| {
            let which = if s.nested { "a nested signature: " } else { "" };
            let p = s.problem.clone().or_else(|| {
                let t = s.timestamp.as_ref()?;
                t.problem.as_ref().map(|p| format!("the timestamp: {p}"))
            })?;
            Some(format!("{which}{p}"))
        });
        if let Some(problem) = problem {
            return Verdict {
                status: Status::Invalid,
                problem: Some(problem),
                signatures,
            };
        }
        let untrusted = match signatures.first().map(|s| &s.chain) {
            Some(Chain::Untrusted { reason }) if roots_given => Some(reason.clone()),
            _ => None,
        };
        Verdict {
            status: if untrusted.is_some() {
                Status::Untrusted
            } else {
                Status::Valid
            },
            problem: untrusted,
            signatures,
        }
    }

    /// The primary signature, when there is one.
    pub fn primary(&self) -> Option<&SignatureReport> {
        self.signatures.first()
    }

    /// The audit finding code for this verdict: `exe-signature-invalid`,
    /// `exe-unsigned`, `exe-signature-untrusted`, or None when valid.
    pub fn finding(&self) -> Option<&'static str> {
        match self.status {
            Status::Valid => None,
            Status::Unsigned => Some("exe-unsigned"),
            Status::Untrusted => Some("exe-signature-untrusted"),
            Status::Invalid => Some("exe-signature-invalid"),
        }
    }
}

impl std::fmt::Display for Verdict {
    /// One line: `valid: signed by CN=..., sha256, timestamp 2026-...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.status {
            Status::Unsigned => return f.write_str("unsigned"),
            Status::Valid => "valid",
            Status::Untrusted => "untrusted",
            Status::Invalid => "invalid",
        };
        f.write_str(status)?;
        if let Some(p) = &self.problem {
            write!(f, " ({p})")?;
        }
        if let Some(s) = self.primary() {
            if let Some(n) = &s.signer {
                write!(
                    f,
                    ": signed by {} (issuer {}, serial {})",
                    n.subject, n.issuer, n.serial
                )?;
            }
            if let Some(d) = &s.digest_algorithm {
                write!(f, ", {d}")?;
            }
            match s.timestamp.as_ref().and_then(|t| t.time.as_deref()) {
                Some(t) => write!(f, ", timestamped {t}")?,
                None => f.write_str(", no timestamp")?,
            }
            write!(f, ", chain {}", s.chain)?;
        }
        Ok(())
    }
}
