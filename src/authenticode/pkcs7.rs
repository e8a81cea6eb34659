//! Reading the PKCS#7 structures of an Authenticode signature: the
//! WIN_CERTIFICATE table, SignedData, SignerInfo, attributes, the
//! SpcIndirectDataContent, an RFC 3161 TSTInfo, and certificates (kept as
//! their exact bytes beside `x509-cert`'s parse of them).

use x509_cert::Certificate;
use x509_cert::der::Decode as _;

use super::der::{self, DerResult, Seq, Tlv};

pub(crate) const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
pub(crate) const SPC_INDIRECT_DATA: &str = "1.3.6.1.4.1.311.2.1.4";
pub(crate) const SPC_PE_IMAGE_DATA: &str = "1.3.6.1.4.1.311.2.1.15";
/// SpcSipInfo: the signed data of an MSI (and of other files a Windows
/// subject interface package hashes).
pub(crate) const SPC_SIPINFO: &str = "1.3.6.1.4.1.311.2.1.30";
pub(crate) const SPC_SP_OPUS_INFO: &str = "1.3.6.1.4.1.311.2.1.12";
pub(crate) const SPC_STATEMENT_TYPE: &str = "1.3.6.1.4.1.311.2.1.11";
pub(crate) const SPC_INDIVIDUAL_SP_KEY_PURPOSE: &str = "1.3.6.1.4.1.311.2.1.21";
pub(crate) const CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
pub(crate) const MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
pub(crate) const SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
pub(crate) const COUNTERSIGNATURE: &str = "1.2.840.113549.1.9.6";
pub(crate) const RFC3161_COUNTERSIGNATURE: &str = "1.3.6.1.4.1.311.3.3.1";
pub(crate) const NESTED_SIGNATURE: &str = "1.3.6.1.4.1.311.2.4.1";
pub(crate) const TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";

/// WIN_CERTIFICATE's `wCertificateType` for PKCS#7 SignedData.
pub(crate) const WIN_CERT_TYPE_PKCS_SIGNED_DATA: u16 = 2;
/// `wRevision` 2.0.
pub(crate) const WIN_CERT_REVISION_2_0: u16 = 0x0200;

/// The PKCS#7 blob of the first WIN_CERTIFICATE in `table` (as Windows
/// uses it), after checking the table's framing: entries are 8-byte
/// aligned, and nothing but zeros may follow the DER inside an entry or
/// after the last one (bytes hidden there are not covered by the
/// signature: CVE-2013-3900).
pub(crate) fn win_certificate(table: &[u8]) -> DerResult<&[u8]> {
    let head = table.get(..8).ok_or_else(|| {
        format!(
            "the certificate table is {} bytes, too short for a WIN_CERTIFICATE header",
            table.len()
        )
    })?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let revision = u16::from_le_bytes([head[4], head[5]]);
    let kind = u16::from_le_bytes([head[6], head[7]]);
    if len < 8 || len > table.len() {
        return Err(format!(
            "the WIN_CERTIFICATE declares {len} bytes but the certificate table holds {} (truncated or garbled)",
            table.len()
        ));
    }
    if kind != WIN_CERT_TYPE_PKCS_SIGNED_DATA {
        return Err(format!(
            "the WIN_CERTIFICATE has type {kind:#x}, not PKCS#7 SignedData (2)"
        ));
    }
    if revision != WIN_CERT_REVISION_2_0 && revision != 0x0100 {
        return Err(format!(
            "the WIN_CERTIFICATE has revision {revision:#06x}, not 2.0"
        ));
    }
    let body = &table[8..len];
    let (tlv, after) =
        der::read(body).map_err(|e| format!("the PKCS#7 signature is malformed: {e}"))?;
    // The DER, then padding: zeros to the entry's end and the table's.
    let end_of_der = 8 + tlv.raw.len();
    let trailing = &table[end_of_der..];
    if let Some(at) = trailing.iter().position(|b| *b != 0) {
        return Err(format!(
            "{} bytes of data follow the PKCS#7 signature inside the certificate table (first non-zero at table offset {}): bytes added after signing, which the signature does not cover",
            trailing.len(),
            end_of_der + at
        ));
    }
    let _ = after;
    Ok(tlv.raw)
}

/// An attribute: its type and values.
#[derive(Debug, Clone)]
pub(crate) struct Attribute<'a> {
    pub oid: String,
    pub values: Vec<Tlv<'a>>,
}

fn attributes<'a>(tlv: Tlv<'a>, what: &str) -> DerResult<Vec<Attribute<'a>>> {
    Seq::of(tlv, tlv.tag, what)?
        .all(what)?
        .into_iter()
        .map(|a| {
            let mut s = Seq::of(a, der::SEQUENCE, what)?;
            let oid = der::oid(s.next("an attribute's type")?, what)?;
            let values = Seq::of(s.next("an attribute's values")?, der::SET, what)?.all(what)?;
            Ok(Attribute { oid, values })
        })
        .collect()
}

/// The single value of attribute `oid`, if present.
pub(crate) fn attribute<'a>(attrs: &[Attribute<'a>], oid: &str) -> DerResult<Option<Tlv<'a>>> {
    match attrs.iter().find(|a| a.oid == oid) {
        None => Ok(None),
        Some(a) if a.values.len() == 1 => Ok(Some(a.values[0])),
        Some(a) => Err(format!(
            "the attribute {oid} has {} values, not one",
            a.values.len()
        )),
    }
}

/// A SignerInfo.
#[derive(Debug, Clone)]
pub(crate) struct SignerInfo<'a> {
    /// The issuer Name, as encoded.
    pub issuer: &'a [u8],
    /// The serial number's INTEGER content.
    pub serial: &'a [u8],
    pub digest_alg: String,
    /// The `[0] IMPLICIT` signed attributes element, as encoded.
    pub signed_attrs_raw: Option<&'a [u8]>,
    pub signed_attrs: Vec<Attribute<'a>>,
    pub signature_alg: String,
    pub signature: &'a [u8],
    pub unsigned_attrs: Vec<Attribute<'a>>,
}

impl SignerInfo<'_> {
    /// The bytes the signature is over: the signed attributes with their
    /// `[0]` tag replaced by SET's (RFC 5652 §5.4).
    pub fn signed_bytes(&self) -> Option<Vec<u8>> {
        let mut v = self.signed_attrs_raw?.to_vec();
        v[0] = der::SET;
        Some(v)
    }
}

fn alg_oid(tlv: Tlv<'_>, what: &str) -> DerResult<String> {
    der::oid(Seq::of(tlv, der::SEQUENCE, what)?.next(what)?, what)
}

pub(crate) fn signer_info(tlv: Tlv<'_>) -> DerResult<SignerInfo<'_>> {
    let what = "the SignerInfo";
    let mut s = Seq::of(tlv, der::SEQUENCE, what)?;
    s.next("the SignerInfo version")?;
    let sid = s.next("the signer's issuer and serial number")?;
    if sid.tag != der::SEQUENCE {
        return Err(
            "the signer is named by key identifier, which Authenticode does not use".into(),
        );
    }
    let mut sid = Seq::of(sid, der::SEQUENCE, "the signer's issuer and serial number")?;
    let issuer = sid.next("the signer's issuer")?.raw;
    let serial = sid.next("the signer's serial number")?;
    der::expect(serial, der::INTEGER, "the signer's serial number")?;
    let digest_alg = alg_oid(
        s.next("the signer's digest algorithm")?,
        "the signer's digest algorithm",
    )?;
    let signed = s.optional(der::ctx(0))?;
    let signed_attrs = match signed {
        Some(t) => attributes(t, "the signed attributes")?,
        None => Vec::new(),
    };
    let signature_alg = alg_oid(
        s.next("the signature algorithm")?,
        "the signature algorithm",
    )?;
    let signature = s.next("the signature value")?;
    der::expect(signature, der::OCTET_STRING, "the signature value")?;
    let unsigned_attrs = match s.optional(der::ctx(1))? {
        Some(t) => attributes(t, "the unsigned attributes")?,
        None => Vec::new(),
    };
    Ok(SignerInfo {
        issuer,
        serial: serial.content,
        digest_alg,
        signed_attrs_raw: signed.map(|t| t.raw),
        signed_attrs,
        signature_alg,
        signature: signature.content,
        unsigned_attrs,
    })
}

/// A SignedData (PKCS#7 or CMS).
#[derive(Debug, Clone)]
pub(crate) struct SignedData<'a> {
    /// Why each certificate that could not be parsed could not.
    pub unreadable: Vec<String>,
    pub digest_algorithms: Vec<String>,
    pub content_type: String,
    /// The content: for Authenticode, the SpcIndirectDataContent SEQUENCE;
    /// for a timestamp token, an OCTET STRING around the TSTInfo.
    pub content: Option<Tlv<'a>>,
    pub certificates: Vec<Cert<'a>>,
    pub signers: Vec<SignerInfo<'a>>,
}

/// Parses a ContentInfo holding SignedData.
pub(crate) fn signed_data(bytes: &[u8]) -> DerResult<SignedData<'_>> {
    let (ci, _) = der::read(bytes)?;
    let mut ci = Seq::of(ci, der::SEQUENCE, "the ContentInfo")?;
    let kind = der::oid(ci.next("the ContentInfo type")?, "the ContentInfo type")?;
    if kind != SIGNED_DATA {
        return Err(format!("the ContentInfo holds {kind}, not SignedData"));
    }
    let explicit = ci.next("the SignedData")?;
    let inner = Seq::of(explicit, der::ctx(0), "the SignedData")?.next("the SignedData")?;
    let mut sd = Seq::of(inner, der::SEQUENCE, "the SignedData")?;
    sd.next("the SignedData version")?;
    let digest_algorithms = Seq::of(
        sd.next("the digest algorithms")?,
        der::SET,
        "the digest algorithms",
    )?
    .all("the digest algorithms")?
    .into_iter()
    .map(|a| alg_oid(a, "the digest algorithms"))
    .collect::<DerResult<Vec<_>>>()?;
    let mut eci = Seq::of(
        sd.next("the signed content")?,
        der::SEQUENCE,
        "the signed content",
    )?;
    let content_type = der::oid(
        eci.next("the signed content's type")?,
        "the signed content's type",
    )?;
    let content = match eci.optional(der::ctx(0))? {
        Some(t) => Some(Seq::of(t, der::ctx(0), "the signed content")?.next("the signed content")?),
        None => None,
    };
    let (mut certificates, mut unreadable) = (Vec::new(), Vec::new());
    if let Some(t) = sd.optional(der::ctx(0))? {
        for c in Seq::of(t, der::ctx(0), "the certificates")?.all("the certificates")? {
            if c.tag == der::SEQUENCE {
                // One odd certificate in the bag need not sink the
                // signature: it matters only if it is on the signer's way.
                match Cert::parse(c.raw) {
                    Ok(cert) => certificates.push(cert),
                    Err(e) => unreadable.push(e),
                }
            }
        }
    }
    sd.optional(der::ctx(1))?;
    let signers = Seq::of(sd.next("the signer infos")?, der::SET, "the signer infos")?
        .all("the signer infos")?
        .into_iter()
        .map(signer_info)
        .collect::<DerResult<Vec<_>>>()?;
    Ok(SignedData {
        unreadable,
        digest_algorithms,
        content_type,
        content,
        certificates,
        signers,
    })
}

/// What an SpcIndirectDataContent must describe: a PE image
/// (SpcPeImageData) or an MSI (SpcSipInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A program: the digest is the Authenticode image digest.
    Pe,
    /// An MSI: the digest covers its streams (see the `msi` module).
    Msi,
}

impl Subject {
    fn data_type(self) -> (&'static str, &'static str) {
        match self {
            Subject::Pe => (SPC_PE_IMAGE_DATA, "a PE image (SpcPeImageData)"),
            Subject::Msi => (SPC_SIPINFO, "an MSI (SpcSipInfo)"),
        }
    }

    /// What its digest is called in reports.
    pub(crate) fn digest_name(self) -> &'static str {
        match self {
            Subject::Pe => "image digest",
            Subject::Msi => "MSI digest",
        }
    }
}

/// The digest algorithm and digest of an SpcIndirectDataContent, whose
/// data must be of `subject`'s type.
pub(crate) fn indirect_data(content: Tlv<'_>, subject: Subject) -> DerResult<(String, &[u8])> {
    let what = "the SpcIndirectDataContent";
    let mut s = Seq::of(content, der::SEQUENCE, what)?;
    let mut data = Seq::of(s.next(what)?, der::SEQUENCE, what)?;
    let kind = der::oid(data.next(what)?, what)?;
    let (expected, name) = subject.data_type();
    if kind != expected {
        return Err(format!("the signed data is of type {kind}, not {name}"));
    }
    let mut di = Seq::of(
        s.next("the signed digest")?,
        der::SEQUENCE,
        "the signed digest",
    )?;
    let alg = alg_oid(
        di.next("the signed digest's algorithm")?,
        "the signed digest's algorithm",
    )?;
    let digest = di.next("the signed digest")?;
    der::expect(digest, der::OCTET_STRING, "the signed digest")?;
    Ok((alg, digest.content))
}

/// What a TSTInfo says: the imprint's algorithm and digest, and the time.
pub(crate) struct TstInfo<'a> {
    pub alg: String,
    pub imprint: &'a [u8],
    pub time: (String, i64),
}

pub(crate) fn tst_info(bytes: &[u8]) -> DerResult<TstInfo<'_>> {
    let what = "the TSTInfo";
    let mut s = Seq::of(der::read_one(bytes)?, der::SEQUENCE, what)?;
    s.next("the TSTInfo version")?;
    s.next("the TSTInfo policy")?;
    let mut mi = Seq::of(
        s.next("the message imprint")?,
        der::SEQUENCE,
        "the message imprint",
    )?;
    let alg = alg_oid(mi.next("the imprint algorithm")?, "the imprint algorithm")?;
    let imprint = mi.next("the imprint")?;
    der::expect(imprint, der::OCTET_STRING, "the imprint")?;
    s.next("the TSTInfo serial number")?;
    let time = der::time(s.next("the TSTInfo time")?, "the TSTInfo time")?;
    Ok(TstInfo {
        alg,
        imprint: imprint.content,
        time,
    })
}

/// A certificate: its exact bytes, the fields compared as bytes, and the
/// `x509-cert` parse.
#[derive(Debug, Clone)]
pub(crate) struct Cert<'a> {
    pub der: &'a [u8],
    pub tbs: &'a [u8],
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub signature_alg: String,
    pub signature: &'a [u8],
    pub parsed: Certificate,
}

impl<'a> Cert<'a> {
    pub fn parse(der: &'a [u8]) -> DerResult<Cert<'a>> {
        let what = "a certificate";
        let mut c = Seq::of(der::read_one(der)?, der::SEQUENCE, what)?;
        let tbs = c.next("a certificate's TBSCertificate")?;
        let signature_alg = alg_oid(c.next("a certificate's signature algorithm")?, what)?;
        let sig = c.next("a certificate's signature")?;
        der::expect(sig, der::BIT_STRING, "a certificate's signature")?;
        let signature = sig
            .content
            .get(1..)
            .ok_or("a certificate's signature is empty")?;
        let mut t = Seq::of(tbs, der::SEQUENCE, "a TBSCertificate")?;
        t.optional(der::ctx(0))?;
        let serial = t.next("a certificate's serial number")?;
        der::expect(serial, der::INTEGER, "a certificate's serial number")?;
        t.next("a certificate's signature algorithm")?;
        let issuer = t.next("a certificate's issuer")?.raw;
        t.next("a certificate's validity")?;
        let subject = t.next("a certificate's subject")?.raw;
        let parsed =
            Certificate::from_der(der).map_err(|e| format!("a certificate cannot be read: {e}"))?;
        Ok(Cert {
            der,
            tbs: tbs.raw,
            serial: serial.content,
            issuer,
            subject,
            signature_alg,
            signature,
            parsed,
        })
    }

    /// Its subject, RFC 4514 style (`CN=...,O=...`).
    pub fn subject_text(&self) -> String {
        self.parsed.tbs_certificate().subject().to_string()
    }

    pub fn issuer_text(&self) -> String {
        self.parsed.tbs_certificate().issuer().to_string()
    }

    /// Its serial number in hex, without leading zero bytes.
    pub fn serial_hex(&self) -> String {
        serial_hex(self.serial)
    }

    /// Its validity, as seconds since 1970.
    pub fn validity(&self) -> (i64, i64) {
        let v = self.parsed.tbs_certificate().validity();
        let secs = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        (secs(v.not_before), secs(v.not_after))
    }
}

/// A serial number's INTEGER content in hex, without leading zero bytes.
pub(crate) fn serial_hex(serial: &[u8]) -> String {
    let skip = serial
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(serial.len().saturating_sub(1));
    hex::encode(&serial[skip..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_certificate_framing_is_checked() {
        let der = der::seq(&[&der::oid_der(SIGNED_DATA)]);
        let mut table = Vec::new();
        table.extend_from_slice(&((8 + der.len()) as u32).to_le_bytes());
        table.extend_from_slice(&WIN_CERT_REVISION_2_0.to_le_bytes());
        table.extend_from_slice(&2u16.to_le_bytes());
        table.extend_from_slice(&der);
        while table.len() % 8 != 0 {
            table.push(0);
        }
        assert_eq!(win_certificate(&table).unwrap(), der.as_slice());
        let mut hidden = table.clone();
        hidden.extend_from_slice(b"evil\0\0\0\0");
        assert!(
            win_certificate(&hidden)
                .unwrap_err()
                .contains("follow the PKCS#7 signature")
        );
        assert!(
            win_certificate(&table[..5])
                .unwrap_err()
                .contains("too short")
        );
        let mut long = table.clone();
        long[0] = 0xff;
        assert!(win_certificate(&long).unwrap_err().contains("declares"));
        let mut kind = table.clone();
        kind[6] = 1;
        assert!(win_certificate(&kind).unwrap_err().contains("type"));
    }

    #[test]
    fn garbage_is_an_error_at_every_length() {
        let blob = der::seq(&[
            &der::oid_der(SIGNED_DATA),
            &der::tlv(der::ctx(0), &der::seq(&[&der::uint(&[1])])),
        ]);
        for n in 0..blob.len() {
            assert!(signed_data(&blob[..n]).is_err());
        }
        assert!(signed_data(&blob).is_err());
    }

    #[test]
    fn serials_print_without_leading_zeros() {
        assert_eq!(serial_hex(&[0, 0x80, 1]), "8001");
        assert_eq!(serial_hex(&[0]), "00");
    }
}
