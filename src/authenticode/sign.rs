//! Signing a PE file in place: SHA-256 Authenticode with the user's
//! certificate and key, optionally timestamped (RFC 3161), then the PE
//! checksum set. See the module docs of [`super`] for what makes it
//! deterministic.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::crypto::{self, Alg, Hashers};
use super::der::{self, oid_der, seq, tlv};
use super::pe::{self, Skipping};
use super::pkcs7::{self, Cert};
use super::{Name, pfx};
use crate::error::{Error, Location, Result};

/// The key that signs.
enum Key {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Key::Rsa(_) => "Key::Rsa(..)",
            Key::P256(_) => "Key::P256(..)",
        })
    }
}

impl Key {
    /// Signs a SHA-256 digest: RSA PKCS#1 v1.5 (deterministic) or ECDSA
    /// with RFC 6979 nonces (deterministic too), DER-encoded.
    fn sign(&self, digest: &[u8]) -> std::result::Result<Vec<u8>, String> {
        match self {
            Key::Rsa(k) => k
                .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), digest)
                .map_err(|e| e.to_string()),
            Key::P256(k) => {
                use p256::ecdsa::signature::hazmat::PrehashSigner as _;
                let sig: p256::ecdsa::Signature =
                    k.sign_prehash(digest).map_err(|e| e.to_string())?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }

    /// The SignerInfo's signature algorithm.
    fn algorithm(&self) -> Vec<u8> {
        match self {
            Key::Rsa(_) => seq(&[&oid_der("1.2.840.113549.1.1.1"), &[der::NULL, 0]]),
            Key::P256(_) => seq(&[&oid_der("1.2.840.10045.4.3.2")]),
        }
    }

    /// Reads a PKCS#8 PrivateKeyInfo.
    fn from_pkcs8(der_bytes: &[u8]) -> std::result::Result<Key, String> {
        use pkcs8::DecodePrivateKey as _;
        let info = pkcs8::PrivateKeyInfoRef::try_from(der_bytes)
            .map_err(|e| format!("not a PKCS#8 private key ({e})"))?;
        match info.algorithm.oid.to_string().as_str() {
            "1.2.840.113549.1.1.1" => rsa::PrivateKey::from_pkcs8_der(der_bytes)
                .map(|k| Key::Rsa(Box::new(k)))
                .map_err(|e| format!("the RSA key cannot be read ({e})")),
            "1.2.840.10045.2.1" => p256::ecdsa::SigningKey::from_pkcs8_der(der_bytes)
                .map(Key::P256)
                .map_err(|e| format!("only P-256 elliptic-curve keys sign ({e})")),
            other => Err(format!(
                "the key algorithm {other} cannot sign Authenticode here (RSA and ECDSA P-256 can)"
            )),
        }
    }
}

/// A certificate and key that sign `.exe` outputs, and the timestamp
/// authority to ask, if any.
#[derive(Debug)]
pub struct Signer {
    /// The signer's certificate first, then the rest as given (the chain).
    certs: Vec<Vec<u8>>,
    key: Key,
    name: Name,
    timestamp_url: Option<String>,
    timeout: Duration,
}

/// What signing wrote, for the manifest and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signed {
    /// The signer's certificate.
    pub signer: Name,
    /// The image digest algorithm: always `sha256`.
    pub digest_algorithm: &'static str,
    /// The RFC 3161 timestamp's time, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The timestamp authority's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_authority: Option<Name>,
}

fn bad_key(path: &Path, reason: impl Into<String>) -> Error {
    Error::Usage(format!(
        "{}: cannot sign with it: {}",
        path.display(),
        reason.into()
    ))
}

impl Signer {
    /// The certificate and key in a PKCS#12 file, opened with `password`
    /// (from the environment: never from the command line).
    pub fn from_pfx(path: &Path, password: &str) -> Result<Signer> {
        let bytes = super::read_small(path, 1 << 20)?;
        let contents = pfx::read(&bytes, password).map_err(|e| bad_key(path, e))?;
        let key = contents
            .key
            .ok_or_else(|| bad_key(path, "the file holds no private key"))?;
        let key = Key::from_pkcs8(&key).map_err(|e| bad_key(path, e))?;
        Signer::new(path, contents.certs, key)
    }

    /// A PEM certificate file (the signer's certificate, then any chain)
    /// and a PEM key file: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY`
    /// (PKCS#1), or `ENCRYPTED PRIVATE KEY` with `password`.
    pub fn from_pem(cert: &Path, key: &Path, password: Option<&str>) -> Result<Signer> {
        let text = super::read_small(cert, 1 << 20)?;
        let certs = super::certs_from_pem(cert, &text)?;
        let key_text = super::read_small(key, 1 << 20)?;
        let blocks = super::pem_blocks(&key_text).map_err(|e| bad_key(key, e))?;
        let parsed = blocks.iter().find_map(|(label, der)| match label.as_str() {
            "PRIVATE KEY" => Some(Key::from_pkcs8(der)),
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey as _;
                Some(
                    rsa::PrivateKey::from_pkcs1_der(der)
                        .map(|k| Key::Rsa(Box::new(k)))
                        .map_err(|e| format!("the RSA key cannot be read ({e})")),
                )
            }
            "ENCRYPTED PRIVATE KEY" => Some(match password {
                None => Err("the key is encrypted: name the environment variable holding its password with --sign-password-env".into()),
                Some(pw) => pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
                    .map_err(|e| e.to_string())
                    .and_then(|e| e.decrypt(pw.as_bytes()).map_err(|_| "the password is wrong".to_string()))
                    .and_then(|doc| Key::from_pkcs8(doc.as_bytes())),
            }),
            "EC PRIVATE KEY" => Some(Err(
                "an SEC1 EC key: convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY -out key.pem`".into(),
            )),
            _ => None,
        });
        let key_value = parsed
            .ok_or_else(|| bad_key(key, "no -----BEGIN PRIVATE KEY----- block"))?
            .map_err(|e| bad_key(key, e))?;
        Signer::new(cert, certs, key_value)
    }

    /// Picks the certificate that matches `key` as the signer's.
    fn new(path: &Path, mut certs: Vec<Vec<u8>>, key: Key) -> Result<Signer> {
        let probe = Alg::Sha256.hash(b"sepkg: does this key match the certificate?");
        let sig = key.sign(&probe).map_err(|e| bad_key(path, e))?;
        let at = certs
            .iter()
            .position(|c| {
                Cert::parse(c)
                    .is_ok_and(|c| crypto::verify(&c.parsed, Alg::Sha256, &probe, &sig).is_ok())
            })
            .ok_or_else(|| bad_key(path, "no certificate in it matches the private key"))?;
        let signer = certs.remove(at);
        certs.insert(0, signer);
        let cert = Cert::parse(&certs[0]).map_err(|e| bad_key(path, e))?;
        let name = Name::of(&cert);
        Ok(Signer {
            certs,
            key,
            name,
            timestamp_url: None,
            timeout: Duration::from_secs(60),
        })
    }

    /// Asks `url` (an RFC 3161 timestamp authority, over HTTP or HTTPS)
    /// to timestamp each signature.
    pub fn with_timestamp(mut self, url: Option<String>, timeout: Duration) -> Signer {
        self.timestamp_url = url;
        self.timeout = timeout;
        self
    }

    /// The signer's certificate.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Signs the PE file `file` (at `path`, for messages) in place: pads it
    /// to 8 bytes, appends the certificate table, points the directory
    /// entry at it and sets the PE checksum.
    pub fn sign_file(&self, file: &mut File, path: &Path) -> Result<Signed> {
        let io = |e| Error::io(path, "cannot write", e);
        let corrupt = |reason: String| Error::corrupt(Location::file(path), "exe", reason);
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let head = pe::read_head(file).map_err(io)?;
        let layout = pe::layout(&head).map_err(corrupt)?;
        let dir_at = layout.security_dir_at.ok_or_else(|| {
            corrupt(
                "its PE header has no certificate-table directory entry, so it cannot be signed"
                    .into(),
            )
        })?;
        if layout.table.is_some() {
            return Err(Error::Internal(format!(
                "{}: already has a certificate table",
                path.display()
            )));
        }
        let len = file.seek(SeekFrom::End(0)).map_err(io)?;
        let padded = len.div_ceil(8) * 8;
        file.write_all(&vec![0u8; (padded - len) as usize])
            .map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut hashers = Hashers::new(&[Alg::Sha256]);
        let mut hashing = Skipping::new(layout.skipped(), &mut hashers);
        if !hashing.copy_until(file, padded).map_err(io)? {
            return Err(corrupt(
                "the file became shorter while it was signed".into(),
            ));
        }
        let digest = hashers.finish(Alg::Sha256).unwrap_or_default();
        let (blob, signed) = self.signature(&digest)?;
        let entry_len = (8 + blob.len()).div_ceil(8) * 8;
        let mut table = Vec::with_capacity(entry_len);
        table.extend_from_slice(&(entry_len as u32).to_le_bytes());
        table.extend_from_slice(&pkcs7::WIN_CERT_REVISION_2_0.to_le_bytes());
        table.extend_from_slice(&pkcs7::WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
        table.extend_from_slice(&blob);
        table.resize(entry_len, 0);
        let offset = u32::try_from(padded).map_err(|_| Error::Limit {
            at: Location::file(path),
            what: "an Authenticode signature can only follow a program under 4 GiB".into(),
        })?;
        file.seek(SeekFrom::Start(padded)).map_err(io)?;
        file.write_all(&table).map_err(io)?;
        file.seek(SeekFrom::Start(dir_at)).map_err(io)?;
        file.write_all(&offset.to_le_bytes()).map_err(io)?;
        file.write_all(&(entry_len as u32).to_le_bytes())
            .map_err(io)?;
        let sum = crate::package::exe::pe_checksum(file, layout.checksum_at).map_err(io)?;
        file.seek(SeekFrom::Start(layout.checksum_at)).map_err(io)?;
        file.write_all(&sum.to_le_bytes()).map_err(io)?;
        Ok(signed)
    }

    /// The PKCS#7 SignedData over an image digest.
    fn signature(&self, digest: &[u8]) -> Result<(Vec<u8>, Signed)> {
        let sha256 = seq(&[&oid_der(Alg::Sha256.oid()), &[der::NULL, 0]]);
        let content = indirect_data(&sha256, digest);
        let inner = der::read_one(&content).map_err(Error::Internal)?.content;
        let attrs = signed_attributes(&Alg::Sha256.hash(inner));
        let mut to_sign = attrs.clone();
        to_sign[0] = der::SET;
        let signature = self
            .key
            .sign(&Alg::Sha256.hash(&to_sign))
            .map_err(|e| Error::Internal(format!("signing failed: {e}")))?;
        let mut signed = Signed {
            signer: self.name.clone(),
            digest_algorithm: "sha256",
            timestamp: None,
            timestamp_authority: None,
        };
        let unsigned = match &self.timestamp_url {
            None => Vec::new(),
            Some(url) => {
                let token = super::timestamp::request(url, &signature, self.timeout)?;
                let ts =
                    super::verify::check_token(&token, &signature).map_err(|e| Error::Network {
                        url: url.clone(),
                        reason: format!("the timestamp authority's answer does not verify: {e}"),
                    })?;
                signed.timestamp = ts.time;
                signed.timestamp_authority = ts.authority;
                let attr = seq(&[
                    &oid_der(pkcs7::RFC3161_COUNTERSIGNATURE),
                    &tlv(der::SET, &token),
                ]);
                tlv(der::ctx(1), &attr)
            }
        };
        let cert = Cert::parse(&self.certs[0]).map_err(Error::Internal)?;
        let signer_info = seq(&[
            &der::uint(&[1]),
            &seq(&[cert.issuer, &tlv(der::INTEGER, cert.serial)]),
            &sha256,
            &attrs,
            &self.key.algorithm(),
            &tlv(der::OCTET_STRING, &signature),
            &unsigned,
        ]);
        let signed_data = seq(&[
            &der::uint(&[1]),
            &tlv(der::SET, &sha256),
            &seq(&[
                &oid_der(pkcs7::SPC_INDIRECT_DATA),
                &tlv(der::ctx(0), &content),
            ]),
            &der_set(der::ctx(0), self.certs.clone()),
            &tlv(der::SET, &signer_info),
        ]);
        let blob = seq(&[
            &oid_der(pkcs7::SIGNED_DATA),
            &tlv(der::ctx(0), &signed_data),
        ]);
        Ok((blob, signed))
    }
}

/// A SET OF under `tag`, elements in DER order.
fn der_set(tag: u8, parts: Vec<Vec<u8>>) -> Vec<u8> {
    let mut set = der::set_of(parts);
    set[0] = tag;
    set
}

/// SpcIndirectDataContent for a PE image: SpcPeImageData with no flags and
/// the `<<<Obsolete>>>` file link every signer writes, and the digest.
fn indirect_data(alg: &[u8], digest: &[u8]) -> Vec<u8> {
    let obsolete: Vec<u8> = "<<<Obsolete>>>"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let link = tlv(der::ctx(0), &tlv(der::ctx(2), &tlv(0x80, &obsolete)));
    let image = seq(&[&[der::BIT_STRING, 1, 0], &link]);
    seq(&[
        &seq(&[&oid_der(pkcs7::SPC_PE_IMAGE_DATA), &image]),
        &seq(&[alg, &tlv(der::OCTET_STRING, digest)]),
    ])
}

/// The `[0]` signed attributes: content type, an empty SpcSpOpusInfo,
/// individual code signing, and the digest of the SpcIndirectDataContent.
/// No signing time: it would make every signature differ.
fn signed_attributes(content_digest: &[u8]) -> Vec<u8> {
    let attr = |oid: &str, value: &[u8]| seq(&[&oid_der(oid), &tlv(der::SET, value)]);
    der_set(
        der::ctx(0),
        vec![
            attr(pkcs7::CONTENT_TYPE, &oid_der(pkcs7::SPC_INDIRECT_DATA)),
            attr(pkcs7::SPC_SP_OPUS_INFO, &seq(&[])),
            attr(
                pkcs7::SPC_STATEMENT_TYPE,
                &seq(&[&oid_der(pkcs7::SPC_INDIVIDUAL_SP_KEY_PURPOSE)]),
            ),
            attr(
                pkcs7::MESSAGE_DIGEST,
                &tlv(der::OCTET_STRING, content_digest),
            ),
        ],
    )
}
