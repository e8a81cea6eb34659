//! Reading a PKCS#12 (.pfx/.p12) file: its MAC, its certificates and its
//! private key (RFC 7292).
//!
//! Read: PBES2 (PBKDF2 with AES-CBC or 3DES, OpenSSL 3's default and
//! Windows' "AES256-SHA256" export) through `pkcs8`/`pkcs5`, and the legacy
//! `pbeWithSHAAnd3-KeyTripleDES-CBC` (Windows' "TripleDES-SHA1" export)
//! with the PKCS#12 key derivation here. Refused with advice: RC2 and
//! RC4 (OpenSSL 1.1's certificate encryption), which no current tool writes
//! by default.

use cbc::cipher::{BlockModeDecrypt as _, KeyIvInit as _, block_padding::Pkcs7};
use hmac::{KeyInit as _, Mac as _};

use super::crypto::Alg;
use super::der::{self, DerResult, Seq};

const DATA: &str = "1.2.840.113549.1.7.1";
const ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
const SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const X509_CERTIFICATE: &str = "1.2.840.113549.1.9.22.1";
const PBES2: &str = "1.2.840.113549.1.5.13";
const PBE_SHA1_3DES: &str = "1.2.840.113549.1.12.1.3";

/// What a PKCS#12 file holds: certificates (DER, in file order) and the
/// private key (PKCS#8 PrivateKeyInfo DER).
pub(crate) struct Contents {
    pub certs: Vec<Vec<u8>>,
    pub key: Option<Vec<u8>>,
}

/// Reads `bytes` with `password`. `Err` says what is wrong: a wrong
/// password is named as such (the MAC does not verify).
pub(crate) fn read(bytes: &[u8], password: &str) -> DerResult<Contents> {
    let mut pfx = Seq::of(der::read_one(bytes)?, der::SEQUENCE, "the PFX")?;
    pfx.next("the PFX version")?;
    let auth_safe = data_content(pfx.next("the PFX contents")?)?;
    match pfx.optional(der::SEQUENCE)? {
        Some(mac) => check_mac(mac, auth_safe, password)?,
        None => return Err(
            "the file has no MAC (integrity check); sepkg reads only password-integrity PFX files"
                .into(),
        ),
    }
    let mut out = Contents {
        certs: Vec::new(),
        key: None,
    };
    let safes = Seq::of(
        der::read_one(auth_safe)?,
        der::SEQUENCE,
        "the authenticated safe",
    )?;
    for ci in safes.all("the authenticated safe")? {
        let mut s = Seq::of(ci, der::SEQUENCE, "a safe")?;
        let kind = der::oid(s.next("a safe's type")?, "a safe's type")?;
        let body = Seq::of(s.next("a safe's content")?, der::ctx(0), "a safe's content")?
            .next("a safe's content")?;
        let contents = match kind.as_str() {
            DATA => {
                der::expect(body, der::OCTET_STRING, "a safe")?;
                body.content.to_vec()
            }
            ENCRYPTED_DATA => decrypt_safe(body, password)?,
            other => {
                return Err(format!(
                    "a safe of type {other} (public-key encrypted) is not supported"
                ));
            }
        };
        bags(&contents, password, &mut out)?;
    }
    Ok(out)
}

/// The OCTET STRING inside a `data` ContentInfo.
fn data_content(tlv: der::Tlv<'_>) -> DerResult<&[u8]> {
    let mut ci = Seq::of(tlv, der::SEQUENCE, "the PFX contents")?;
    if der::oid(ci.next("the PFX content type")?, "the PFX content type")? != DATA {
        return Err("the PFX contents are not password-integrity data".into());
    }
    let inner = Seq::of(
        ci.next("the PFX contents")?,
        der::ctx(0),
        "the PFX contents",
    )?
    .next("the PFX contents")?;
    der::expect(inner, der::OCTET_STRING, "the PFX contents")?;
    Ok(inner.content)
}

fn check_mac(mac: der::Tlv<'_>, data: &[u8], password: &str) -> DerResult<()> {
    let mut m = Seq::of(mac, der::SEQUENCE, "the MAC")?;
    let mut di = Seq::of(m.next("the MAC digest")?, der::SEQUENCE, "the MAC digest")?;
    let alg_oid = der::oid(
        Seq::of(
            di.next("the MAC algorithm")?,
            der::SEQUENCE,
            "the MAC algorithm",
        )?
        .next("the MAC algorithm")?,
        "the MAC algorithm",
    )?;
    let expected = di.next("the MAC value")?.content;
    let salt = m.next("the MAC salt")?.content;
    let iterations = match m.optional(der::INTEGER)? {
        Some(t) => integer(t.content)?,
        None => 1,
    };
    let alg = Alg::from_oid(&alg_oid)
        .ok_or_else(|| format!("the MAC algorithm {alg_oid} is not supported"))?;
    let key = kdf(
        alg,
        &bmp_password(password),
        salt,
        3,
        iterations,
        digest_len(alg),
    );
    let actual = hmac(alg, &key, data);
    if actual != expected {
        return Err("the password is wrong (the file's MAC does not verify)".into());
    }
    Ok(())
}

fn digest_len(alg: Alg) -> usize {
    match alg {
        Alg::Sha1 => 20,
        Alg::Sha256 => 32,
        Alg::Sha384 => 48,
        Alg::Sha512 => 64,
    }
}

fn hmac(alg: Alg, key: &[u8], data: &[u8]) -> Vec<u8> {
    macro_rules! run {
        ($d:ty) => {{
            match hmac::Hmac::<$d>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }};
    }
    match alg {
        Alg::Sha1 => run!(sha1::Sha1),
        Alg::Sha256 => run!(sha2::Sha256),
        Alg::Sha384 => run!(sha2::Sha384),
        Alg::Sha512 => run!(sha2::Sha512),
    }
}

fn integer(content: &[u8]) -> DerResult<u64> {
    if content.len() > 4 || content.first().is_some_and(|b| b & 0x80 != 0) {
        return Err("an iteration count is out of range".into());
    }
    Ok(content
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// The password as PKCS#12's legacy algorithms take it: UTF-16BE with a
/// terminating zero.
fn bmp_password(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    out.extend_from_slice(&[0, 0]);
    out
}

/// The PKCS#12 key derivation (RFC 7292 appendix B.2): `n` bytes for
/// purpose `id` (1 key, 2 IV, 3 MAC).
fn kdf(alg: Alg, password: &[u8], salt: &[u8], id: u8, iterations: u64, n: usize) -> Vec<u8> {
    let (u, v) = (digest_len(alg), if digest_len(alg) > 32 { 128 } else { 64 });
    let fill = |s: &[u8]| -> Vec<u8> {
        if s.is_empty() {
            return Vec::new();
        }
        let len = s.len().div_ceil(v) * v;
        s.iter().cycle().take(len).copied().collect()
    };
    let mut i = [fill(salt), fill(password)].concat();
    let d = vec![id; v];
    let mut out = Vec::with_capacity(n + u);
    while out.len() < n {
        let mut a = alg.hash(&[d.as_slice(), &i].concat());
        for _ in 1..iterations.min(10_000_000) {
            a = alg.hash(&a);
        }
        out.extend_from_slice(&a);
        let b: Vec<u8> = a.iter().cycle().take(v).copied().collect();
        for block in i.chunks_mut(v) {
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().zip(&b).rev() {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(n);
    out
}

/// Decrypts `ciphertext` with the algorithm identifier `alg` (its DER).
fn decrypt(alg: der::Tlv<'_>, ciphertext: &[u8], password: &str) -> DerResult<Vec<u8>> {
    let mut a = Seq::of(alg, der::SEQUENCE, "an encryption algorithm")?;
    let oid = der::oid(
        a.next("an encryption algorithm")?,
        "an encryption algorithm",
    )?;
    match oid.as_str() {
        PBES2 => {
            let scheme = pkcs8::pkcs5::EncryptionScheme::try_from(alg.raw)
                .map_err(|e| format!("the PBES2 parameters cannot be read: {e}"))?;
            scheme
                .decrypt(password.as_bytes(), ciphertext)
                .map_err(|_| "decryption failed (wrong password, or a damaged file)".to_string())
        }
        PBE_SHA1_3DES => {
            let mut p = Seq::of(
                a.next("the PBE parameters")?,
                der::SEQUENCE,
                "the PBE parameters",
            )?;
            let salt = p.next("the PBE salt")?.content;
            let iterations = integer(p.next("the PBE iteration count")?.content)?;
            let pw = bmp_password(password);
            let key = kdf(Alg::Sha1, &pw, salt, 1, iterations, 24);
            let iv = kdf(Alg::Sha1, &pw, salt, 2, iterations, 8);
            let cipher = cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                .map_err(|_| "the 3DES key cannot be made".to_string())?;
            let mut buf = ciphertext.to_vec();
            let plain = cipher
                .decrypt_padded::<Pkcs7>(&mut buf)
                .map_err(|_| "decryption failed (wrong password, or a damaged file)".to_string())?;
            Ok(plain.to_vec())
        }
        other => Err(format!(
            "the encryption algorithm {other} (RC2 or RC4: OpenSSL 1.1's default) is not supported; re-export the PFX with AES (`openssl pkcs12 -export` in OpenSSL 3 does by default), or pass --sign-cert and --sign-key PEM files"
        )),
    }
}

/// The SafeContents of an `encryptedData` safe.
fn decrypt_safe(body: der::Tlv<'_>, password: &str) -> DerResult<Vec<u8>> {
    let mut ed = Seq::of(body, der::SEQUENCE, "an encrypted safe")?;
    ed.next("an encrypted safe's version")?;
    let mut eci = Seq::of(
        ed.next("an encrypted safe's content")?,
        der::SEQUENCE,
        "an encrypted safe's content",
    )?;
    eci.next("an encrypted safe's content type")?;
    let alg = eci.next("an encrypted safe's algorithm")?;
    let ct = eci.next("an encrypted safe's ciphertext")?;
    if ct.tag != 0x80 && ct.tag != der::ctx(0) {
        return Err("an encrypted safe has no ciphertext".into());
    }
    let ciphertext = if ct.tag == 0x80 {
        ct.content.to_vec()
    } else {
        // A constructed [0]: the ciphertext in OCTET STRING pieces.
        Seq::of(ct, der::ctx(0), "a ciphertext")?
            .all("a ciphertext")?
            .iter()
            .flat_map(|p| p.content.to_vec())
            .collect()
    };
    decrypt(alg, &ciphertext, password)
}

fn bags(contents: &[u8], password: &str, out: &mut Contents) -> DerResult<()> {
    let bags = Seq::of(der::read_one(contents)?, der::SEQUENCE, "a safe's bags")?;
    for bag in bags.all("a safe's bags")? {
        let mut b = Seq::of(bag, der::SEQUENCE, "a bag")?;
        let kind = der::oid(b.next("a bag's type")?, "a bag's type")?;
        let value = Seq::of(b.next("a bag's value")?, der::ctx(0), "a bag's value")?
            .next("a bag's value")?;
        match kind.as_str() {
            CERT_BAG => {
                let mut c = Seq::of(value, der::SEQUENCE, "a certificate bag")?;
                if der::oid(c.next("a certificate's type")?, "a certificate's type")?
                    == X509_CERTIFICATE
                {
                    let cert = Seq::of(c.next("a certificate")?, der::ctx(0), "a certificate")?
                        .next("a certificate")?;
                    der::expect(cert, der::OCTET_STRING, "a certificate")?;
                    out.certs.push(cert.content.to_vec());
                }
            }
            KEY_BAG => out.key = Some(value.raw.to_vec()),
            SHROUDED_KEY_BAG => {
                let mut e = Seq::of(value, der::SEQUENCE, "the encrypted key")?;
                let alg = e.next("the key's encryption algorithm")?;
                let ct = e.next("the encrypted key")?;
                der::expect(ct, der::OCTET_STRING, "the encrypted key")?;
                out.key = Some(
                    decrypt(alg, ct.content, password)
                        .map_err(|e| format!("the private key: {e}"))?,
                );
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7292 B.2 with the vector OpenSSL's and BouncyCastle's tests use:
    /// password "smeg", salt 0A58CF64530D823F, 1 iteration, SHA-1.
    #[test]
    fn the_key_derivation_matches_the_known_vectors() {
        let salt = hex::decode("0A58CF64530D823F").unwrap();
        let pw = bmp_password("smeg");
        assert_eq!(
            hex::encode_upper(kdf(Alg::Sha1, &pw, &salt, 1, 1, 24)),
            "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3"
        );
        assert_eq!(
            hex::encode_upper(kdf(Alg::Sha1, &pw, &salt, 2, 1, 8)),
            "79993DFE048D3B76"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(read(b"", "x").is_err());
        assert!(read(&der::seq(&[&der::uint(&[3])]), "x").is_err());
    }
}
