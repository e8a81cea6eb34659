//! Asking an RFC 3161 timestamp authority to timestamp a signature, over
//! HTTP(S) with the client `verify` uses.

use std::time::Duration;

use super::crypto::Alg;
use super::der::{self, Seq, oid_der, seq, tlv};
use crate::error::{Error, Result};

/// The largest answer read (real ones are a few KB).
const MAX_RESPONSE: u64 = 1 << 20;

/// The TimeStampReq for `signature`: SHA-256 imprint, a nonce derived
/// from it (no randomness: see the module docs), and the authority's
/// certificate asked for so that the token can be verified.
pub(crate) fn query(signature: &[u8]) -> Vec<u8> {
    let imprint = Alg::Sha256.hash(signature);
    let alg = seq(&[&oid_der(Alg::Sha256.oid()), &[der::NULL, 0]]);
    seq(&[
        &der::uint(&[1]),
        &seq(&[&alg, &tlv(der::OCTET_STRING, &imprint)]),
        &der::uint(&imprint[..8]),
        &[der::BOOLEAN, 1, 0xff],
    ])
}

/// Sends the query for `signature` to `url` and returns the timestamp
/// token (a ContentInfo) from a granted answer.
pub(crate) fn request(url: &str, signature: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let net = |reason: String| Error::Network {
        url: url.to_string(),
        reason,
    };
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .send(&query(signature)[..])
        .map_err(|e| net(format!("cannot reach the timestamp authority: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::HttpStatus {
            url: url.to_string(),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
        });
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_vec()
        .map_err(|e| net(format!("cannot read the timestamp authority's answer: {e}")))?;
    token(&body).map_err(|e| net(format!("the answer is not an RFC 3161 timestamp: {e}")))
}

/// The token of a TimeStampResp, when its status grants it.
fn token(body: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut resp = Seq::of(der::read_one(body)?, der::SEQUENCE, "the TimeStampResp")?;
    let mut status = Seq::of(resp.next("the status")?, der::SEQUENCE, "the status")?;
    let code = status.next("the status code")?;
    der::expect(code, der::INTEGER, "the status code")?;
    if code.content != [0] && code.content != [1] {
        let text = status
            .next("the status text")
            .ok()
            .map(|t| String::from_utf8_lossy(t.content).into_owned())
            .unwrap_or_default();
        return Err(format!(
            "the authority refused (status {}){}",
            code.content.first().copied().unwrap_or(0),
            if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            }
        ));
    }
    Ok(resp.next("the timestamp token")?.raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_the_same_for_the_same_signature() {
        let q = query(b"signature");
        assert_eq!(q, query(b"signature"));
        assert_ne!(q, query(b"another"));
        let mut s = Seq::of(der::read_one(&q).unwrap(), der::SEQUENCE, "q").unwrap();
        assert_eq!(s.next("v").unwrap().content, [1]);
    }

    #[test]
    fn refusals_say_so() {
        let refused = seq(&[&seq(&[&der::uint(&[2])])]);
        assert!(token(&refused).unwrap_err().contains("refused (status 2)"));
        assert!(token(b"<html>").is_err());
    }
}
