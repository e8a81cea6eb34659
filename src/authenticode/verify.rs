//! Checking an Authenticode signature: the image digest against the signed
//! one, the signer's signature over its signed attributes, the timestamp,
//! nested signatures, and (with trust roots) the certificate chain.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::crypto::{self, Alg};
use super::der::{self, Tlv};
use super::pe::{self, Layout, Skipping};
use super::pkcs7::{self, Cert, SignedData, SignerInfo, Subject};
use super::{Chain, Name, SignatureReport, Timestamp, TimestampKind, Trust, Verdict};
use crate::error::{Error, Location, Result};

fn not_pe(at: &Location, reason: String) -> Error {
    Error::corrupt(at.clone(), "PE program", reason)
}

/// Verifies the Authenticode signature of the PE file at `path`. The
/// certificate table is read first (its offset is in the headers), then
/// the file is hashed once, in chunks, with just the algorithms the
/// signatures use. `Err` only when the file cannot be read or is not a PE
/// program; a damaged signature is an
/// [`Status::Invalid`](super::Status::Invalid) verdict.
pub fn verify_file(path: &Path, trust: &Trust) -> Result<Verdict> {
    let at = Location::file(path);
    let io = |e| Error::io(path, "cannot read", e);
    let mut file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let len = file.metadata().map_err(io)?.len();
    let head = pe::read_head(&mut file).map_err(io)?;
    let layout = pe::layout(&head).map_err(|r| not_pe(&at, r))?;
    let Some((offset, size)) = layout.table else {
        return Ok(Verdict::unsigned());
    };
    if let Err(problem) = check_table(&layout, offset, size, Some(len)) {
        return Ok(Verdict::broken(problem));
    }
    let mut table = vec![0u8; size as usize];
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    file.read_exact(&mut table).map_err(io)?;
    let parsed = match contained(|| parse_table(&table)) {
        Ok(p) => p,
        Err(problem) => return Ok(Verdict::broken(problem)),
    };
    let algs = parsed.algorithms(Subject::Pe);
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut hashers = crypto::Hashers::new(&algs);
    let mut hashing = Skipping::new(layout.skipped(), &mut hashers);
    if !hashing.copy_until(&mut file, offset).map_err(io)? {
        return Err(Error::corrupt(
            at,
            "PE program",
            "the file became shorter while it was read",
        ));
    }
    let digests: Vec<(Alg, Vec<u8>)> = algs
        .iter()
        .filter_map(|a| Some((*a, hashers.finish(*a)?)))
        .collect();
    Ok(
        contained(|| Ok(judge(&parsed, &digests, trust, Subject::Pe)))
            .unwrap_or_else(Verdict::broken),
    )
}

/// Verifies the Authenticode signature of a PE program read from `r` (an
/// entry inside a package, streamed). `at` names it in errors. The
/// signature comes last in the file, so the stream is hashed with SHA-1,
/// SHA-256, SHA-384 and SHA-512 at once before it is seen; the headers and
/// the certificate table are read whole (at most 64 KiB and 16 MiB).
pub fn verify_reader(r: &mut dyn Read, at: &Location, trust: &Trust) -> Result<Verdict> {
    let io = |e| match &at.entry {
        Some(_) => Error::corrupt(at.clone(), "PE program", format!("cannot be read: {e}")),
        None => Error::io(&at.path, "cannot read", e),
    };
    let head = pe::read_head(r).map_err(io)?;
    let layout = pe::layout(&head).map_err(|reason| not_pe(at, reason))?;
    let Some((offset, size)) = layout.table else {
        return Ok(Verdict::unsigned());
    };
    if let Err(problem) = check_table(&layout, offset, size, None) {
        return Ok(Verdict::broken(problem));
    }
    let mut hashers = crypto::Hashers::new(&Alg::ALL);
    let mut hashing = Skipping::new(layout.skipped(), &mut hashers);
    let mut rest = std::io::Cursor::new(&head).chain(r);
    if !hashing.copy_until(&mut rest, offset).map_err(io)? {
        return Ok(Verdict::broken(format!(
            "the certificate table should start at offset {offset}, past the end of the file (truncated)"
        )));
    }
    let mut table = Vec::new();
    (&mut rest).take(size).read_to_end(&mut table).map_err(io)?;
    let trailing = std::io::copy(&mut rest, &mut std::io::sink()).map_err(io)?;
    let len = offset + table.len() as u64 + trailing;
    if let Err(problem) = check_table(&layout, offset, size, Some(len)) {
        return Ok(Verdict::broken(problem));
    }
    let parsed = match contained(|| parse_table(&table)) {
        Ok(p) => p,
        Err(problem) => return Ok(Verdict::broken(problem)),
    };
    let digests: Vec<(Alg, Vec<u8>)> = Alg::ALL
        .iter()
        .filter_map(|a| Some((*a, hashers.finish(*a)?)))
        .collect();
    Ok(
        contained(|| Ok(judge(&parsed, &digests, trust, Subject::Pe)))
            .unwrap_or_else(Verdict::broken),
    )
}

/// Runs `f` with any panic of the crates it calls (certificate, key and
/// signature parsers) turned into an error: crafted input gets a verdict.
pub(super) fn contained<T>(
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    crate::contain::contain("Authenticode signature", f).and_then(|r| r)
}

/// Checks where the directory entry puts the table (`len`: the file's
/// size, when known).
fn check_table(
    layout: &Layout,
    offset: u64,
    size: u64,
    len: Option<u64>,
) -> std::result::Result<(), String> {
    let header_end = layout.security_dir_at.unwrap_or(layout.checksum_at) + 8;
    if offset < header_end || size < 8 {
        return Err(format!(
            "the certificate-table directory entry is garbled ({size} bytes at offset {offset})"
        ));
    }
    if size > pe::MAX_TABLE {
        return Err(format!(
            "the certificate table is {size} bytes, more than the {} sepkg reads (real ones are a few KB)",
            pe::MAX_TABLE
        ));
    }
    match len {
        Some(len) if offset + size > len => Err(format!(
            "the certificate table ({size} bytes at offset {offset}) runs past the end of the file ({len} bytes): truncated"
        )),
        Some(len) if offset + size < len => Err(format!(
            "{} bytes follow the certificate table: data appended after signing, which the signature does not cover",
            len - offset - size
        )),
        _ => Ok(()),
    }
}

/// The signatures in a certificate table: the primary one and any nested
/// ones (dual signing: SHA-1 outside, SHA-256 nested).
pub(super) struct Parsed<'a> {
    primary: SignedData<'a>,
    nested: Vec<std::result::Result<SignedData<'a>, String>>,
}

impl Parsed<'_> {
    /// The digest algorithms the image (or MSI) must be hashed with.
    pub(super) fn algorithms(&self, subject: Subject) -> Vec<Alg> {
        std::iter::once(&self.primary)
            .chain(self.nested.iter().filter_map(|n| n.as_ref().ok()))
            .filter_map(|sd| {
                let content = sd.content?;
                let (oid, _) = pkcs7::indirect_data(content, subject).ok()?;
                Alg::from_oid(&oid)
            })
            .collect()
    }
}

fn parse_table(table: &[u8]) -> std::result::Result<Parsed<'_>, String> {
    parse_signed(pkcs7::win_certificate(table)?)
}

/// A PKCS#7 SignedData (ContentInfo) and the nested signatures in its
/// signer's unsigned attributes.
pub(super) fn parse_signed(blob: &[u8]) -> std::result::Result<Parsed<'_>, String> {
    let primary =
        pkcs7::signed_data(blob).map_err(|e| format!("the PKCS#7 signature is malformed: {e}"))?;
    let mut nested = Vec::new();
    if let Some(signer) = primary.signers.first() {
        for a in signer
            .unsigned_attrs
            .iter()
            .filter(|a| a.oid == pkcs7::NESTED_SIGNATURE)
        {
            for v in &a.values {
                nested.push(
                    pkcs7::signed_data(v.raw)
                        .map_err(|e| format!("a nested signature is malformed: {e}")),
                );
            }
        }
    }
    Ok(Parsed { primary, nested })
}

/// Every signature of `parsed` against the computed `digests` of a
/// `subject`: the verdict.
pub(super) fn judge(
    parsed: &Parsed<'_>,
    digests: &[(Alg, Vec<u8>)],
    trust: &Trust,
    subject: Subject,
) -> Verdict {
    let check = |sd, nested| check_signature(sd, digests, trust, nested, subject);
    let mut signatures = vec![check(&parsed.primary, false)];
    for n in &parsed.nested {
        signatures.push(match n {
            Ok(sd) => check(sd, true),
            Err(problem) => SignatureReport::broken(problem.clone(), true),
        });
    }
    Verdict::of(signatures, !trust.is_empty())
}

/// The checks of one SignedData against the image digests.
fn check_signature(
    sd: &SignedData<'_>,
    digests: &[(Alg, Vec<u8>)],
    trust: &Trust,
    nested: bool,
    subject: Subject,
) -> SignatureReport {
    let mut report = SignatureReport::broken(String::new(), nested);
    let (signer, cert) = match find_signer(sd) {
        Ok(found) => found,
        Err(problem) => {
            report.problem = Some(problem);
            return report;
        }
    };
    report.signer = Some(Name::of(cert));
    report.problem = None;
    let alg = match check_content(sd, digests, subject) {
        Ok(alg) => alg,
        Err(problem) => {
            report.problem = Some(problem);
            return report;
        }
    };
    report.digest_algorithm = Some(alg.name().to_string());
    let content = sd.content.map(|c| c.content).unwrap_or_default();
    if let Err(problem) = check_signer(signer, cert, content, pkcs7::SPC_INDIRECT_DATA) {
        report.problem = Some(format!("the signer's signature: {problem}"));
        return report;
    }
    if let Err(problem) = consistent(cert, &sd.certificates) {
        report.problem = Some(problem);
        return report;
    }
    report.timestamp = timestamp(signer, &sd.certificates, trust);
    let at = report
        .timestamp
        .as_ref()
        .filter(|t| t.problem.is_none())
        .map(|t| t.unix);
    report.chain = chain(cert, &sd.certificates, trust, at, CODE_SIGNING);
    report
}

/// The one SignerInfo and its certificate.
fn find_signer<'s, 'a>(
    sd: &'s SignedData<'a>,
) -> std::result::Result<(&'s SignerInfo<'a>, &'s Cert<'a>), String> {
    let [signer] = sd.signers.as_slice() else {
        return Err(format!(
            "the signature has {} signers; Authenticode has exactly one",
            sd.signers.len()
        ));
    };
    if !sd.digest_algorithms.contains(&signer.digest_alg) {
        return Err(
            "the signer's digest algorithm is not among the SignedData's digest algorithms".into(),
        );
    }
    let cert = sd
        .certificates
        .iter()
        .find(|c| c.issuer == signer.issuer && c.serial == signer.serial)
        .ok_or_else(|| match sd.unreadable.first() {
            Some(e) => format!(
                "the signer's certificate (serial {}) is not among the readable certificates of the signature ({e})",
                pkcs7::serial_hex(signer.serial)
            ),
            None => format!(
                "the signer's certificate (serial {}) is not in the signature",
                pkcs7::serial_hex(signer.serial)
            ),
        })?;
    Ok((signer, cert))
}

/// The signed image (or MSI) digest against the computed one.
fn check_content(
    sd: &SignedData<'_>,
    digests: &[(Alg, Vec<u8>)],
    subject: Subject,
) -> std::result::Result<Alg, String> {
    if sd.content_type != pkcs7::SPC_INDIRECT_DATA {
        return Err(format!(
            "the signed content is of type {}, not Authenticode's SpcIndirectDataContent",
            sd.content_type
        ));
    }
    let content = sd.content.ok_or("the signature holds no signed content")?;
    let (oid, signed) = pkcs7::indirect_data(content, subject)
        .map_err(|e| format!("the signed content is malformed: {e}"))?;
    let what = subject.digest_name();
    let alg = Alg::from_oid(&oid)
        .ok_or_else(|| format!("the {what} algorithm {oid} is not supported"))?;
    let actual = digests
        .iter()
        .find(|(a, _)| *a == alg)
        .map(|(_, d)| d.as_slice())
        .ok_or("the file was not hashed")?;
    if actual != signed {
        return Err(format!(
            "the file changed after signing: its {} {what} is {}, the signature says {}",
            alg.name(),
            hex::encode(actual),
            hex::encode(signed)
        ));
    }
    Ok(alg)
}

/// A SignerInfo's signed attributes (content type, message digest of
/// `content`) and its signature over them with `cert`'s key.
fn check_signer(
    signer: &SignerInfo<'_>,
    cert: &Cert<'_>,
    content: &[u8],
    content_type: &str,
) -> std::result::Result<(), String> {
    let alg = Alg::from_oid(&signer.digest_alg).ok_or_else(|| {
        format!(
            "the digest algorithm {} is not supported",
            signer.digest_alg
        )
    })?;
    let signed = signer
        .signed_bytes()
        .ok_or("there are no signed attributes")?;
    let attrs = &signer.signed_attrs;
    let kind = pkcs7::attribute(attrs, pkcs7::CONTENT_TYPE)?
        .ok_or("the content-type attribute is missing")?;
    if der::oid(kind, "the content-type attribute")? != content_type {
        return Err("the content-type attribute names other content".into());
    }
    let md = pkcs7::attribute(attrs, pkcs7::MESSAGE_DIGEST)?
        .ok_or("the message-digest attribute is missing")?;
    der::expect(md, der::OCTET_STRING, "the message-digest attribute")?;
    if md.content != alg.hash(content).as_slice() {
        return Err(
            "the message-digest attribute does not match the signed content (it was changed)"
                .into(),
        );
    }
    let sig_alg = crypto::signature_digest(&signer.signature_alg)?.unwrap_or(alg);
    crypto::verify(
        &cert.parsed,
        sig_alg,
        &sig_alg.hash(&signed),
        signer.signature,
    )
}

/// The timestamp in `signer`'s unsigned attributes: an RFC 3161 token or
/// a PKCS#9 countersignature, checked against `signer`'s signature value.
fn timestamp(signer: &SignerInfo<'_>, certs: &[Cert<'_>], trust: &Trust) -> Option<Timestamp> {
    let attrs = &signer.unsigned_attrs;
    if let Some(a) = attrs
        .iter()
        .find(|a| a.oid == pkcs7::RFC3161_COUNTERSIGNATURE)
    {
        let token = a.values.first()?;
        return Some(
            rfc3161(token.raw, signer.signature, trust)
                .unwrap_or_else(|p| Timestamp::broken(TimestampKind::Rfc3161, p)),
        );
    }
    let a = attrs.iter().find(|a| a.oid == pkcs7::COUNTERSIGNATURE)?;
    let value = a.values.first()?;
    Some(
        countersignature(*value, signer.signature, certs, trust)
            .unwrap_or_else(|p| Timestamp::broken(TimestampKind::Countersignature, p)),
    )
}

/// Checks an RFC 3161 token (a ContentInfo) for `signature`: the imprint
/// and the authority's signature (its chain is not checked). For the
/// signer, which checks what a timestamp authority sent back.
pub(crate) fn check_token(
    token: &[u8],
    signature: &[u8],
) -> std::result::Result<Timestamp, String> {
    let ts = rfc3161(token, signature, &Trust::none())?;
    match ts.problem {
        Some(p) => Err(p),
        None => Ok(ts),
    }
}

fn rfc3161(
    token: &[u8],
    signature: &[u8],
    trust: &Trust,
) -> std::result::Result<Timestamp, String> {
    let sd =
        pkcs7::signed_data(token).map_err(|e| format!("the timestamp token is malformed: {e}"))?;
    if sd.content_type != pkcs7::TST_INFO {
        return Err(format!(
            "the timestamp token holds {}, not a TSTInfo",
            sd.content_type
        ));
    }
    let wrapped = sd.content.ok_or("the timestamp token holds no TSTInfo")?;
    der::expect(wrapped, der::OCTET_STRING, "the timestamp token's content")?;
    let info =
        pkcs7::tst_info(wrapped.content).map_err(|e| format!("the timestamp is malformed: {e}"))?;
    let (signer, cert) = find_signer(&sd).map_err(|e| format!("the timestamp token: {e}"))?;
    let mut ts = Timestamp::new(TimestampKind::Rfc3161, info.time, cert);
    let alg = Alg::from_oid(&info.alg).ok_or_else(|| {
        format!(
            "the timestamp's imprint algorithm {} is not supported",
            info.alg
        )
    })?;
    if info.imprint != alg.hash(signature).as_slice() {
        ts.problem = Some(
            "the timestamp is for another signature (its message imprint does not match)".into(),
        );
        return Ok(ts);
    }
    if let Err(p) = check_signer(signer, cert, wrapped.content, pkcs7::TST_INFO) {
        ts.problem = Some(format!("the timestamp authority's signature: {p}"));
        return Ok(ts);
    }
    ts.chain = chain(cert, &sd.certificates, trust, Some(ts.unix), TIME_STAMPING);
    Ok(ts)
}

fn countersignature(
    value: Tlv<'_>,
    signature: &[u8],
    certs: &[Cert<'_>],
    trust: &Trust,
) -> std::result::Result<Timestamp, String> {
    let signer =
        pkcs7::signer_info(value).map_err(|e| format!("the countersignature is malformed: {e}"))?;
    let cert = certs
        .iter()
        .find(|c| c.issuer == signer.issuer && c.serial == signer.serial)
        .ok_or("the countersigner's certificate is not in the signature")?;
    let time = pkcs7::attribute(&signer.signed_attrs, pkcs7::SIGNING_TIME)?
        .ok_or("the countersignature has no signing time")?;
    let time = der::time(time, "the countersignature's signing time")?;
    let mut ts = Timestamp::new(TimestampKind::Countersignature, time, cert);
    let alg = Alg::from_oid(&signer.digest_alg)
        .ok_or("the countersignature's digest algorithm is not supported")?;
    let md = pkcs7::attribute(&signer.signed_attrs, pkcs7::MESSAGE_DIGEST)?
        .ok_or("the countersignature has no message digest")?;
    if md.content != alg.hash(signature).as_slice() {
        ts.problem = Some(
            "the countersignature is for another signature (its message digest does not match)"
                .into(),
        );
        return Ok(ts);
    }
    let signed = signer
        .signed_bytes()
        .ok_or("the countersignature has no signed attributes")?;
    let sig_alg = crypto::signature_digest(&signer.signature_alg)?.unwrap_or(alg);
    if let Err(p) = crypto::verify(
        &cert.parsed,
        sig_alg,
        &sig_alg.hash(&signed),
        signer.signature,
    ) {
        ts.problem = Some(format!("the countersigner's signature: {p}"));
        return Ok(ts);
    }
    ts.chain = chain(cert, certs, trust, Some(ts.unix), TIME_STAMPING);
    Ok(ts)
}

const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
const TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
const ANY_EKU: &str = "2.5.29.37.0";

/// Whether `leaf` chains, through `pool`, to one of `trust`'s roots, every
/// certificate valid at `at` (the timestamp; now without one).
fn chain(
    leaf: &Cert<'_>,
    pool: &[Cert<'_>],
    trust: &Trust,
    at: Option<i64>,
    purpose: &str,
) -> Chain {
    if trust.is_empty() {
        return Chain::NotChecked;
    }
    let roots = trust.certs();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let at = at.unwrap_or_else(now);
    if let Err(reason) = check_purpose(leaf, purpose) {
        return Chain::Untrusted { reason };
    }
    let mut current = leaf;
    for _ in 0..10 {
        if let Err(reason) = check_time(current, at) {
            return Chain::Untrusted { reason };
        }
        if let Some(root) = roots.iter().find(|r| r.der == current.der) {
            return Chain::Trusted {
                root: root.subject_text(),
            };
        }
        if let Some(root) = roots.iter().find(|r| issued(r, current)) {
            return match check_time(root, at) {
                Ok(()) => Chain::Trusted {
                    root: root.subject_text(),
                },
                Err(reason) => Chain::Untrusted { reason },
            };
        }
        match pool
            .iter()
            .find(|c| c.der != current.der && is_ca(c) && issued(c, current))
        {
            Some(next) => current = next,
            None => {
                return Chain::Untrusted {
                    reason: format!(
                        "the chain ends at {}, issued by {}, which is not a --trust-ca root",
                        current.subject_text(),
                        current.issuer_text()
                    ),
                };
            }
        }
    }
    Chain::Untrusted {
        reason: "the certificate chain is longer than 10".into(),
    }
}

/// Checks the certificates a signature carries among themselves: each one
/// on the way up from `leaf` whose issuer is also carried (or which is
/// self-issued) must bear its issuer's signature. This holds without trust
/// roots: a signer name edited into a signed file is caught even when the
/// chain is not checked.
fn consistent(leaf: &Cert<'_>, pool: &[Cert<'_>]) -> std::result::Result<(), String> {
    let mut current = leaf;
    for _ in 0..10 {
        let self_issued = current.subject == current.issuer;
        let issuer = if self_issued {
            Some(current)
        } else {
            pool.iter().find(|c| c.subject == current.issuer)
        };
        let Some(issuer) = issuer else {
            return Ok(());
        };
        if !issued(issuer, current) {
            return Err(format!(
                "the certificate {} in the signature was altered: the signature of its issuer {} over it does not verify",
                current.subject_text(),
                current.issuer_text()
            ));
        }
        if self_issued {
            return Ok(());
        }
        current = issuer;
    }
    Ok(())
}

/// True when `issuer` signed `cert`.
fn issued(issuer: &Cert<'_>, cert: &Cert<'_>) -> bool {
    if issuer.subject != cert.issuer {
        return false;
    }
    let Ok(Some(alg)) = crypto::signature_digest(&cert.signature_alg) else {
        return false;
    };
    crypto::verify(&issuer.parsed, alg, &alg.hash(cert.tbs), cert.signature).is_ok()
}

fn is_ca(cert: &Cert<'_>) -> bool {
    matches!(
        cert.parsed
            .tbs_certificate()
            .get_extension::<x509_cert::ext::pkix::BasicConstraints>(),
        Ok(Some((_, bc))) if bc.ca
    )
}

fn check_time(cert: &Cert<'_>, at: i64) -> std::result::Result<(), String> {
    let (from, to) = cert.validity();
    if at < from || at > to {
        let v = cert.parsed.tbs_certificate().validity();
        return Err(format!(
            "the certificate {} is valid from {} to {}, not at the signing time",
            cert.subject_text(),
            v.not_before,
            v.not_after
        ));
    }
    Ok(())
}

fn check_purpose(cert: &Cert<'_>, purpose: &str) -> std::result::Result<(), String> {
    match cert
        .parsed
        .tbs_certificate()
        .get_extension::<x509_cert::ext::pkix::ExtendedKeyUsage>()
    {
        Ok(None) => Ok(()),
        Ok(Some((_, eku)))
            if eku
                .0
                .iter()
                .any(|o| o.to_string() == purpose || o.to_string() == ANY_EKU) =>
        {
            Ok(())
        }
        Ok(Some(_)) => Err(format!(
            "the certificate {} is not for {} (its extended key usage lacks {purpose})",
            cert.subject_text(),
            if purpose == CODE_SIGNING {
                "code signing"
            } else {
                "timestamping"
            }
        )),
        Err(e) => Err(format!(
            "the certificate {}: its extended key usage cannot be read: {e}",
            cert.subject_text()
        )),
    }
}
