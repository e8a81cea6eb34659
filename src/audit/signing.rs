//! Signatures in an audit. Authenticode is verified (see
//! [`crate::authenticode`]) for the single-file .exe package itself and for
//! every program (`.exe`, `.dll`) at the top of a package root, `Setup.exe`
//! among them: a program inside an archive is streamed through the
//! verifier, one in a folder package is read in place. An MSI's
//! `DigitalSignature` and a cabinet's signature are detected, not verified
//! ([`MSI_NOT_VERIFIED`], [`CAB_NOT_VERIFIED`] say why).

use serde::Serialize;

use super::{Finding, Severity, finding};
use crate::authenticode::{self, Chain, Name, Status, TimestampKind, Trust, Verdict};
use crate::error::Result;
use crate::package::{Package, split_name};

/// Why an MSI's signature is detected and not verified (in the report).
pub const MSI_NOT_VERIFIED: &str = "detected, not verified: its digest covers every stream and storage of the MSI in an order that only osslsigncode's source documents, and the MsiDigitalSignatureEx part, when present, also covers every entry's timestamps, which must first be shown to read back exactly through the cfb crate (tested against osslsigncode); sepkg does not compute it yet";

/// Why a cabinet's signature is detected and not verified.
pub const CAB_NOT_VERIFIED: &str = "detected, not verified: sepkg does not compute a cabinet's signed digest (its reserve area and data blocks, a different scheme from a program's)";

/// What was found about a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Authenticode: every signature verifies (and with `--trust-ca`, the
    /// chain reaches a root).
    Valid,
    /// Authenticode: the file changed after signing, or the signature is
    /// damaged.
    Invalid,
    /// Authenticode: valid, but the chain reaches no `--trust-ca` root.
    Untrusted,
    /// No signature.
    Unsigned,
    /// The program could not be checked: not a PE program, or unreadable.
    Unreadable,
    /// MSI, cabinet: a signature is there; it is not verified.
    Detected,
}

impl SignatureStatus {
    /// The word the reports show.
    pub fn name(self) -> &'static str {
        match self {
            SignatureStatus::Valid => "valid",
            SignatureStatus::Invalid => "INVALID",
            SignatureStatus::Untrusted => "untrusted",
            SignatureStatus::Unsigned => "unsigned",
            SignatureStatus::Unreadable => "cannot be checked",
            SignatureStatus::Detected => "detected, not verified",
        }
    }
}

/// A signature of the package or of one of its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The entry (or `""` for the package file itself).
    pub entry: String,
    /// `authenticode` (a program, verified), `msi-digital-signature`,
    /// `cab-signature` (detected only).
    pub kind: &'static str,
    /// True when a signature is there (whether or not it verifies).
    pub present: bool,
    /// What was found.
    pub status: SignatureStatus,
    /// Why it is invalid, untrusted or cannot be checked.
    pub problem: Option<String>,
    /// The signer's certificate (Authenticode).
    pub signer: Option<Name>,
    /// The image digest's algorithm, `sha256` say (Authenticode).
    pub digest_algorithm: Option<String>,
    /// The signing time from a timestamp, `YYYY-MM-DDTHH:MM:SSZ`.
    pub signing_time: Option<String>,
    /// Where the signing time comes from.
    pub timestamp: Option<TimestampKind>,
    /// Whether the signer's chain reaches a `--trust-ca` root.
    pub chain: Option<Chain>,
    /// The same in words: `not checked (no --trust-ca roots given; none
    /// are bundled)`, `reaches the trusted root CN=...`, `untrusted: ...`.
    pub chain_text: Option<String>,
    /// Why the signature is not verified (MSI, cabinet).
    pub not_verified: Option<&'static str>,
    /// Everything the verifier found: every signature (nested ones too),
    /// timestamps with their authorities and chains.
    pub authenticode: Option<Verdict>,
}

impl Signature {
    /// A signature that is only detected (or absent).
    pub(super) fn detected(entry: &str, kind: &'static str, present: bool) -> Signature {
        let reason = if kind == "cab-signature" {
            CAB_NOT_VERIFIED
        } else {
            MSI_NOT_VERIFIED
        };
        Signature {
            entry: entry.to_string(),
            kind,
            present,
            status: if present {
                SignatureStatus::Detected
            } else {
                SignatureStatus::Unsigned
            },
            problem: None,
            signer: None,
            digest_algorithm: None,
            signing_time: None,
            timestamp: None,
            chain: None,
            chain_text: None,
            not_verified: present.then_some(reason),
            authenticode: None,
        }
    }

    /// The Authenticode outcome for `entry` (`""`: the package file) at
    /// `at` (which an error's message starts with, and the report names
    /// already).
    fn verified(entry: &str, at: &str, outcome: Result<Verdict>) -> Signature {
        let mut s = Signature::detected(entry, "authenticode", false);
        s.not_verified = None;
        let v = match outcome {
            Ok(v) => v,
            Err(e) => {
                let text = e.to_string();
                let prefix = format!("{at}: ");
                s.status = SignatureStatus::Unreadable;
                s.problem = Some(text.strip_prefix(&prefix).unwrap_or(&text).to_string());
                return s;
            }
        };
        s.status = match v.status {
            Status::Valid => SignatureStatus::Valid,
            Status::Invalid => SignatureStatus::Invalid,
            Status::Untrusted => SignatureStatus::Untrusted,
            Status::Unsigned => SignatureStatus::Unsigned,
        };
        // A certificate table that cannot be parsed is still a signature.
        s.present = v.status != Status::Unsigned;
        s.problem = v.problem.clone();
        if let Some(p) = v.primary() {
            s.signer = p.signer.clone();
            s.digest_algorithm = p.digest_algorithm.clone();
            s.signing_time = p.timestamp.as_ref().and_then(|t| t.time.clone());
            s.timestamp = p.timestamp.as_ref().map(|t| t.kind);
            s.chain = Some(p.chain.clone());
            s.chain_text = Some(p.chain.to_string());
        }
        s.authenticode = Some(v);
        s
    }
}

/// The package file's own signature: an .exe's Authenticode (verified),
/// a cabinet's (detected).
pub(super) fn of_package(pkg: &Package, trust: &Trust) -> Vec<Signature> {
    let info = pkg.container_info();
    let mut out = Vec::new();
    if info.exe.is_some() {
        let at = pkg.path().display().to_string();
        out.push(Signature::verified(
            "",
            &at,
            authenticode::verify_file(pkg.path(), trust),
        ));
    }
    if let Some(cab) = &info.cab {
        out.push(Signature::detected(
            "",
            "cab-signature",
            cab.signature.is_some(),
        ));
    }
    out
}

/// Every program (`.exe`, `.dll`) at the top of the root folder `dir`,
/// verified, in entry order.
pub(super) fn of_programs(pkg: &mut Package, dir: &str, trust: &Trust) -> Vec<Signature> {
    let programs: Vec<usize> = pkg
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            let (d, f) = split_name(&e.name);
            let f = f.to_ascii_lowercase();
            !e.is_dir && d == dir && (f.ends_with(".exe") || f.ends_with(".dll"))
        })
        .map(|(i, _)| i)
        .collect();
    programs
        .into_iter()
        .map(|i| {
            let name = pkg.entries()[i].name.clone();
            // A folder package's file is read in place: its errors name
            // the file, not the entry.
            let at = match pkg.entry_file(i) {
                Some(path) => path.display().to_string(),
                None => pkg.location(i).to_string(),
            };
            Signature::verified(&name, &at, verify_entry(pkg, i, trust))
        })
        .collect()
}

fn verify_entry(pkg: &mut Package, index: usize, trust: &Trust) -> Result<Verdict> {
    if let Some(path) = pkg.entry_file(index) {
        return authenticode::verify_file(&path, trust);
    }
    let at = pkg.location(index);
    let mut stream = pkg.open_entry(index)?;
    authenticode::verify_reader(&mut stream, &at, trust)
}

/// The finding for an Authenticode signature, if it needs one. `package`
/// names the package file, for its own signature (`sig.entry` empty).
pub(super) fn findings(sig: &Signature, package: &str, out: &mut Vec<Finding>) {
    if sig.kind != "authenticode" {
        return;
    }
    let whole = sig.entry.is_empty();
    let (what, entry) = if whole {
        (format!("the package file {package}"), None)
    } else {
        (sig.entry.clone(), Some(sig.entry.as_str()))
    };
    let problem = sig.problem.as_deref().unwrap_or("");
    let signer = sig
        .signer
        .as_ref()
        .map(|n| format!(" (signed by {})", n.subject))
        .unwrap_or_default();
    let (code, severity, message, hint) = match sig.status {
        SignatureStatus::Valid | SignatureStatus::Detected => return,
        SignatureStatus::Invalid => (
            "exe-signature-invalid",
            Severity::Error,
            format!("{what}: the Authenticode signature{signer} does not verify: {problem}"),
            "do not deploy it: the program changed after it was signed, or the signature is damaged; export or download the package again and compare its SHA-256 with the publisher's",
        ),
        SignatureStatus::Untrusted => (
            "exe-signature-untrusted",
            Severity::Warning,
            format!("{what}: the Authenticode signature{signer} verifies, but {problem}"),
            "check that the signer is the one you expect; if it is, give its root certificate with --trust-ca",
        ),
        SignatureStatus::Unsigned if whole => (
            "exe-unsigned",
            Severity::Warning,
            format!(
                "{what} carries no Authenticode signature: AppLocker, WDAC and SmartScreen policies that require signed programs block it"
            ),
            "sign it with your code-signing certificate: sepkg transform ... --to exe --stub EXPORT.exe --sign PFX",
        ),
        SignatureStatus::Unsigned => (
            "exe-unsigned",
            Severity::Info,
            format!(
                "{what} carries no Authenticode signature (the programs of a Symantec export are signed)"
            ),
            "check where the package came from",
        ),
        SignatureStatus::Unreadable => (
            "exe-unreadable",
            Severity::Warning,
            format!("{what} cannot be checked: {problem}"),
            "a program that is not a Windows program, or cannot be read, does not run on the clients: export or download the package again",
        ),
    };
    out.push(finding(code, severity, entry, message, hint));
}
