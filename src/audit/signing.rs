//! Signatures in an audit. Authenticode is verified (see
//! [`crate::authenticode`]) for the single-file .exe package itself, for
//! every program (`.exe`, `.dll`) at the top of a package root, `Setup.exe`
//! among them, and for each MSI's `DigitalSignature`: a program inside an
//! archive is streamed through the verifier, one in a folder package is
//! read in place; an MSI inside an archive is unpacked to a temporary file
//! once, for its tables and its signature (the digest needs its streams in
//! a set order). An MSI
//! signature whose `MsiDigitalSignatureEx` metadata cannot be read back as
//! stored is detected, not verified (the report says why); a cabinet's
//! signature is detected, not verified ([`CAB_NOT_VERIFIED`] says why).

use serde::Serialize;

use std::io::Seek;

use super::{Finding, MsiReport, Severity, finding};
use crate::authenticode::{self, Chain, MsiVerdict, Name, Status, TimestampKind, Trust, Verdict};
use crate::error::Result;
use crate::msi::{MsiInfo, ReadError};
use crate::package::{Package, split_name};

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
    /// A cabinet's signature, or an MSI's that cannot be verified: it is
    /// there; `not_verified` says why it is not verified.
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
    /// `authenticode` (a program, verified), `msi-digital-signature` (an
    /// MSI's, verified the same way), `cab-signature` (detected only).
    pub kind: &'static str,
    /// True when a signature is there (whether or not it verifies).
    pub present: bool,
    /// What was found.
    pub status: SignatureStatus,
    /// Why it is invalid, untrusted or cannot be checked.
    pub problem: Option<String>,
    /// The signer's certificate (Authenticode).
    pub signer: Option<Name>,
    /// The image (or MSI) digest's algorithm, `sha256` say.
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
    /// Why the signature is not verified (a cabinet's; an MSI's whose
    /// metadata cannot be read back).
    pub not_verified: Option<String>,
    /// Everything the verifier found: every signature (nested ones too),
    /// timestamps with their authorities and chains.
    pub authenticode: Option<Verdict>,
}

impl Signature {
    /// A signature that is only detected (or absent); `reason` says why
    /// it is not verified.
    fn detected(entry: &str, kind: &'static str, present: bool, reason: &str) -> Signature {
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
            not_verified: present.then(|| reason.to_string()),
            authenticode: None,
        }
    }

    /// The Authenticode outcome for `entry` (`""`: the package file) at
    /// `at` (which an error's message starts with, and the report names
    /// already); `kind` is `authenticode` or `msi-digital-signature`.
    fn verified(entry: &str, kind: &'static str, at: &str, outcome: Result<Verdict>) -> Signature {
        let mut s = Signature::detected(entry, kind, false, "");
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
            "authenticode",
            &at,
            authenticode::verify_file(pkg.path(), trust),
        ));
    }
    if let Some(cab) = &info.cab {
        out.push(Signature::detected(
            "",
            "cab-signature",
            cab.signature.is_some(),
            CAB_NOT_VERIFIED,
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
            Signature::verified(&name, "authenticode", &at, verify_entry(pkg, i, trust))
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

/// Reads the MSI at entry `index` and, when it has a `DigitalSignature`
/// stream, verifies it while the file is open: an MSI inside an archive is
/// unpacked to a temporary file once, for both.
pub(super) fn read_msi(
    pkg: &mut Package,
    index: usize,
    trust: &Trust,
) -> std::result::Result<(MsiInfo, Option<MsiVerdict>), ReadError> {
    crate::msi::with_seekable(pkg, index, |mut file| {
        let info = crate::msi::read(&mut file)?;
        if !info.signed {
            return Ok((info, None));
        }
        file.rewind()
            .map_err(|e| ReadError(format!("cannot read it again: {e}")))?;
        let verdict = authenticode::verify_msi(file, trust);
        Ok((info, Some(verdict)))
    })
}

/// A readable MSI's signature, as [`read_msi`] found it.
pub(super) fn of_msi(m: &MsiReport) -> Signature {
    let kind = "msi-digital-signature";
    match &m.signature {
        None => Signature::detected(&m.entry, kind, false, ""),
        Some(MsiVerdict::Checked(v)) => Signature::verified(&m.entry, kind, "", Ok(v.clone())),
        Some(MsiVerdict::NotVerified(why)) => Signature::detected(&m.entry, kind, true, why),
    }
}

/// The finding for a verified signature (a program's, an MSI's), if it
/// needs one. `package` names the package file, for its own signature
/// (`sig.entry` empty).
pub(super) fn findings(sig: &Signature, package: &str, out: &mut Vec<Finding>) {
    if sig.kind == "msi-digital-signature" {
        return msi_findings(sig, out);
    }
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

/// `msi-signature-invalid`, `msi-signature-untrusted`; an unsigned MSI is
/// the audit's `msi-unsigned`.
fn msi_findings(sig: &Signature, out: &mut Vec<Finding>) {
    let problem = sig.problem.as_deref().unwrap_or("");
    let signer = sig
        .signer
        .as_ref()
        .map(|n| format!(" (signed by {})", n.subject))
        .unwrap_or_default();
    let what = &sig.entry;
    let (code, severity, message, hint) = match sig.status {
        SignatureStatus::Invalid | SignatureStatus::Unreadable => (
            "msi-signature-invalid",
            Severity::Error,
            format!("{what}: the MSI's digital signature{signer} does not verify: {problem}"),
            "do not deploy it: the MSI changed after it was signed, or its signature is damaged; export or download the package again and compare its SHA-256 with the publisher's",
        ),
        SignatureStatus::Untrusted => (
            "msi-signature-untrusted",
            Severity::Warning,
            format!("{what}: the MSI's digital signature{signer} verifies, but {problem}"),
            "check that the signer is the one you expect; if it is, give its root certificate with --trust-ca",
        ),
        _ => return,
    };
    out.push(finding(code, severity, Some(what), message, hint));
}
