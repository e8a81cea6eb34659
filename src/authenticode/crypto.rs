//! Digests and public-key signatures: which algorithm an OID names, the
//! hashers, and checking a signature over a digest with a certificate's
//! key (RSA PKCS#1 v1.5, ECDSA on P-256 and P-384).

use sha2::Digest as _;
use spki::der::Encode as _;
use x509_cert::Certificate;

/// A digest algorithm Authenticode uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Alg {
    /// SHA-1: older signatures (and the outer one of dual-signed files).
    Sha1,
    /// SHA-256: what signtool and osslsigncode write today, and what sepkg signs with.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Alg {
    /// All of them (a stream must be hashed before its signature is read).
    pub(crate) const ALL: [Alg; 4] = [Alg::Sha1, Alg::Sha256, Alg::Sha384, Alg::Sha512];

    /// The algorithm a digest OID names.
    pub(crate) fn from_oid(oid: &str) -> Option<Alg> {
        Some(match oid {
            "1.3.14.3.2.26" => Alg::Sha1,
            "2.16.840.1.101.3.4.2.1" => Alg::Sha256,
            "2.16.840.1.101.3.4.2.2" => Alg::Sha384,
            "2.16.840.1.101.3.4.2.3" => Alg::Sha512,
            _ => return None,
        })
    }

    /// Its OID.
    pub(crate) fn oid(self) -> &'static str {
        match self {
            Alg::Sha1 => "1.3.14.3.2.26",
            Alg::Sha256 => "2.16.840.1.101.3.4.2.1",
            Alg::Sha384 => "2.16.840.1.101.3.4.2.2",
            Alg::Sha512 => "2.16.840.1.101.3.4.2.3",
        }
    }

    /// Its name in reports: `sha1`, `sha256`, ...
    pub fn name(self) -> &'static str {
        match self {
            Alg::Sha1 => "sha1",
            Alg::Sha256 => "sha256",
            Alg::Sha384 => "sha384",
            Alg::Sha512 => "sha512",
        }
    }

    /// The digest of `data`.
    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        let mut h = Hashers::new(&[self]);
        h.update(data);
        h.finish(self).unwrap_or_default()
    }
}

enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

/// Several digests of the same bytes at once.
pub(crate) struct Hashers(Vec<(Alg, Hasher)>);

impl Hashers {
    pub fn new(algs: &[Alg]) -> Hashers {
        let mut algs = algs.to_vec();
        algs.sort();
        algs.dedup();
        Hashers(
            algs.into_iter()
                .map(|a| {
                    let h = match a {
                        Alg::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
                        Alg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
                        Alg::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
                        Alg::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
                    };
                    (a, h)
                })
                .collect(),
        )
    }

    pub fn update(&mut self, data: &[u8]) {
        for (_, h) in &mut self.0 {
            match h {
                Hasher::Sha1(h) => h.update(data),
                Hasher::Sha256(h) => h.update(data),
                Hasher::Sha384(h) => h.update(data),
                Hasher::Sha512(h) => h.update(data),
            }
        }
    }

    /// The digest for `alg`, if it was computed.
    pub fn finish(&mut self, alg: Alg) -> Option<Vec<u8>> {
        let at = self.0.iter().position(|(a, _)| *a == alg)?;
        let (_, h) = self.0.remove(at);
        Some(match h {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        })
    }
}

const RSA: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";

/// The digest a signature-algorithm OID implies, if it names one
/// (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, ...). A bare
/// `rsaEncryption` or `id-ecPublicKey` names none: the signer's digest
/// algorithm applies.
pub(crate) fn signature_digest(oid: &str) -> Result<Option<Alg>, String> {
    Ok(match oid {
        RSA | EC_PUBLIC_KEY => None,
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => Some(Alg::Sha1),
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => Some(Alg::Sha256),
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Some(Alg::Sha384),
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Some(Alg::Sha512),
        "1.2.840.113549.1.1.10" => return Err("RSA-PSS signatures are not supported".into()),
        other => return Err(format!("the signature algorithm {other} is not supported")),
    })
}

/// Checks `signature` over a message whose `alg` digest is `digest`, with
/// the public key of `cert`.
pub(crate) fn verify(
    cert: &Certificate,
    alg: Alg,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let key_alg = spki.algorithm.oid.to_string();
    let bad = |e: &dyn std::fmt::Display| format!("the signature does not verify ({e})");
    match key_alg.as_str() {
        RSA => {
            use rsa::pkcs8::DecodePublicKey as _;
            let der = spki.to_der().map_err(|e| format!("the RSA key: {e}"))?;
            let key = rsa::PublicKey::from_public_key_der(&der)
                .map_err(|e| format!("the RSA key cannot be read: {e}"))?;
            let scheme = match alg {
                Alg::Sha1 => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
                Alg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                Alg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                Alg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            key.verify(scheme, digest, signature).map_err(|e| bad(&e))
        }
        EC_PUBLIC_KEY => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<spki::ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_default();
            let point = spki.subject_public_key.raw_bytes();
            match curve.as_str() {
                P256 => {
                    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map_err(|e| format!("the P-256 key cannot be read: {e}"))?;
                    let sig = p256::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                    key.verify_prehash(digest, &sig).map_err(|e| bad(&e))
                }
                P384 => {
                    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map_err(|e| format!("the P-384 key cannot be read: {e}"))?;
                    let sig = p384::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                    key.verify_prehash(digest, &sig).map_err(|e| bad(&e))
                }
                other => Err(format!(
                    "the elliptic curve {other:?} is not supported (P-256 and P-384 are)"
                )),
            }
        }
        other => Err(format!(
            "the public key algorithm {other} is not supported (RSA and ECDSA are)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_oids_agree() {
        for a in Alg::ALL {
            assert_eq!(Alg::from_oid(a.oid()), Some(a));
        }
        assert_eq!(
            hex::encode(Alg::Sha256.hash(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            signature_digest("1.2.840.113549.1.1.11"),
            Ok(Some(Alg::Sha256))
        );
        assert!(signature_digest("1.2.840.113549.1.1.10").is_err());
    }

    #[test]
    fn several_digests_at_once() {
        let mut h = Hashers::new(&Alg::ALL);
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finish(Alg::Sha256), Some(Alg::Sha256.hash(b"abc")));
        assert_eq!(h.finish(Alg::Sha1), Some(Alg::Sha1.hash(b"abc")));
        assert_eq!(h.finish(Alg::Sha1), None);
    }
}
