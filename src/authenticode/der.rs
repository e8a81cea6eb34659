//! The little DER that Authenticode needs, read and written by hand.
//!
//! Reading walks tag-length-value triples over borrowed bytes and hands
//! out both an element's content and its **exact encoding**: a signature
//! is over the bytes as they stand in the file (the signed attributes, the
//! SpcIndirectDataContent, a certificate's TBSCertificate), never over a
//! re-encoding, which would differ whenever a signer wrote a SET out of
//! DER order. Only definite lengths (DER) are read; BER's indefinite
//! length is refused with a message, as Windows' own signers never write it.
//! Certificates themselves are parsed by `x509-cert`.
//!
//! Writing is the same in reverse: [`tlv`] wraps content in a tag and a
//! minimal length, which is all DER asks of the structures we build.

/// Universal tags used here.
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const BOOLEAN: u8 = 0x01;

/// Context-specific constructed tag `[n]`.
pub(crate) const fn ctx(n: u8) -> u8 {
    0xa0 | n
}

/// One element: its tag, its content and its whole encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    /// Tag, length and content, as they stand in the input.
    pub raw: &'a [u8],
}

/// What went wrong, for a message ("... is malformed: {0}").
pub(crate) type DerResult<T> = Result<T, String>;

/// Reads the element at the start of `input`; returns it and what follows.
pub(crate) fn read(input: &[u8]) -> DerResult<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input
        .split_first()
        .ok_or("the data ends where an element should start")?;
    if tag & 0x1f == 0x1f {
        return Err(format!(
            "high tag number form (tag byte {tag:#04x}) is not used by Authenticode"
        ));
    }
    let (&first, rest) = rest.split_first().ok_or("the data ends inside a length")?;
    let (len, rest) = match first {
        0x80 => {
            return Err(
                "indefinite length (BER) is not supported: the signature is not DER".into(),
            );
        }
        n if n < 0x80 => (usize::from(n), rest),
        n => {
            let count = usize::from(n & 0x7f);
            if count > 4 || count > rest.len() {
                return Err(format!("a {count}-byte length field does not fit"));
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[count..])
        }
    };
    if len > rest.len() {
        return Err(format!(
            "an element declares {len} bytes but only {} follow (truncated)",
            rest.len()
        ));
    }
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at(len);
    Ok((
        Tlv {
            tag,
            content,
            raw: &input[..header + len],
        },
        after,
    ))
}

/// Reads exactly one element from `input`, which must hold nothing else.
pub(crate) fn read_one(input: &[u8]) -> DerResult<Tlv<'_>> {
    let (tlv, rest) = read(input)?;
    if !rest.is_empty() {
        return Err(format!("{} unexpected bytes after an element", rest.len()));
    }
    Ok(tlv)
}

/// A cursor over the elements inside a constructed element.
#[derive(Debug, Clone)]
pub(crate) struct Seq<'a> {
    rest: &'a [u8],
}

impl<'a> Seq<'a> {
    /// The elements of `tlv`, which must have tag `tag`.
    pub fn of(tlv: Tlv<'a>, tag: u8, what: &str) -> DerResult<Seq<'a>> {
        expect(tlv, tag, what)?;
        Ok(Seq { rest: tlv.content })
    }

    /// The next element, which must exist.
    pub fn next(&mut self, what: &str) -> DerResult<Tlv<'a>> {
        if self.rest.is_empty() {
            return Err(format!("{what} is missing"));
        }
        let (tlv, rest) = read(self.rest).map_err(|e| format!("{what}: {e}"))?;
        self.rest = rest;
        Ok(tlv)
    }

    /// The next element if it has tag `tag` (an OPTIONAL field).
    pub fn optional(&mut self, tag: u8) -> DerResult<Option<Tlv<'a>>> {
        match self.rest.first() {
            Some(t) if *t == tag => self.next("an optional field").map(Some),
            _ => Ok(None),
        }
    }

    /// True when every element has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Every remaining element.
    pub fn all(mut self, what: &str) -> DerResult<Vec<Tlv<'a>>> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.next(what)?);
        }
        Ok(out)
    }
}

/// Checks that `tlv` has tag `tag`.
pub(crate) fn expect(tlv: Tlv<'_>, tag: u8, what: &str) -> DerResult<()> {
    if tlv.tag != tag {
        return Err(format!(
            "{what}: expected tag {tag:#04x}, found {:#04x}",
            tlv.tag
        ));
    }
    Ok(())
}

/// An OBJECT IDENTIFIER in dotted form.
pub(crate) fn oid(tlv: Tlv<'_>, what: &str) -> DerResult<String> {
    expect(tlv, OID, what)?;
    oid_text(tlv.content).ok_or_else(|| format!("{what}: a malformed object identifier"))
}

fn oid_text(b: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, byte) in b.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return None;
        }
        acc = (acc << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        } else if i + 1 == b.len() {
            return None;
        }
    }
    if arcs.is_empty() {
        return None;
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// Encodes `content` under `tag` with a minimal (DER) length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already-encoded elements.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A SET OF already-encoded elements, in DER order (sorted by encoding).
pub(crate) fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(SET, &parts.concat())
}

/// An OBJECT IDENTIFIER from its dotted form.
pub(crate) fn oid_der(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut content = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        content.extend_from_slice(&tmp);
    };
    if let [a, b, rest @ ..] = arcs.as_slice() {
        push(a * 40 + b);
        for arc in rest {
            push(*arc);
        }
    }
    tlv(OID, &content)
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        &bytes[skip.min(bytes.len().saturating_sub(1))..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(INTEGER, &content)
}

/// A time (UTCTime or GeneralizedTime, fractions allowed) as
/// `YYYY-MM-DDTHH:MM:SSZ` and seconds since 1970.
pub(crate) fn time(tlv: Tlv<'_>, what: &str) -> DerResult<(String, i64)> {
    let text = std::str::from_utf8(tlv.content).map_err(|_| format!("{what}: not text"))?;
    let digits = |s: &str| s.len() >= 12 && s.bytes().all(|b| b.is_ascii_digit());
    let full = match tlv.tag {
        UTC_TIME => {
            let body = text
                .strip_suffix('Z')
                .filter(|b| digits(b) && b.len() == 12);
            let body =
                body.ok_or_else(|| format!("{what}: UTCTime {text:?} is not YYMMDDHHMMSSZ"))?;
            let yy: u32 = body[..2].parse().map_err(|_| format!("{what}: bad year"))?;
            format!("{}{body}", if yy >= 50 { "19" } else { "20" })
        }
        GENERALIZED_TIME => {
            let body = text.strip_suffix('Z').unwrap_or_default();
            let whole = body.split('.').next().unwrap_or_default();
            if !digits(whole) || whole.len() != 14 {
                return Err(format!(
                    "{what}: GeneralizedTime {text:?} is not YYYYMMDDHHMMSS[.f]Z"
                ));
            }
            whole.to_string()
        }
        other => return Err(format!("{what}: expected a time, found tag {other:#04x}")),
    };
    let num = |r: std::ops::Range<usize>| full[r].parse::<u32>().unwrap_or(99);
    let (y, mo, d, h, mi, s) = (
        num(0..4),
        num(4..6),
        num(6..8),
        num(8..10),
        num(10..12),
        num(12..14),
    );
    let month = u8::try_from(mo)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| format!("{what}: month {mo} out of range"))?;
    let date = time::Date::from_calendar_date(y as i32, month, d as u8)
        .map_err(|e| format!("{what}: {e}"))?;
    let at =
        time::Time::from_hms(h as u8, mi as u8, s as u8).map_err(|e| format!("{what}: {e}"))?;
    let unix = time::PrimitiveDateTime::new(date, at)
        .assume_utc()
        .unix_timestamp();
    Ok((
        format!(
            "{}-{}-{}T{}:{}:{}Z",
            &full[0..4],
            &full[4..6],
            &full[6..8],
            &full[8..10],
            &full[10..12],
            &full[12..14]
        ),
        unix,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let long = tlv(OCTET_STRING, &[7u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (t, rest) = read(&long).unwrap();
        assert_eq!(
            (t.tag, t.content.len(), t.raw.len()),
            (OCTET_STRING, 300, 304)
        );
        assert!(rest.is_empty());
    }

    #[test]
    fn refuses_truncation_and_indefinite_lengths() {
        assert!(read(&[0x30, 0x05, 1, 2]).unwrap_err().contains("truncated"));
        assert!(
            read(&[0x30, 0x80, 0, 0])
                .unwrap_err()
                .contains("indefinite")
        );
        assert!(read(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]).is_err());
        assert!(read(&[]).is_err());
        assert!(read(&[0x30]).is_err());
    }

    #[test]
    fn oids_round_trip() {
        for dotted in [
            "1.3.6.1.4.1.311.2.1.4",
            "2.16.840.1.101.3.4.2.1",
            "1.2.840.113549.1.7.2",
        ] {
            let der = oid_der(dotted);
            assert_eq!(oid(read_one(&der).unwrap(), "x").unwrap(), dotted);
        }
        assert_eq!(
            oid_der("2.16.840.1.101.3.4.2.1"),
            [6, 9, 0x60, 0x86, 0x48, 1, 0x65, 3, 4, 2, 1]
        );
        assert!(oid(read_one(&[6, 1, 0x81]).unwrap(), "x").is_err());
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(uint(&[0, 0, 5]), [2, 1, 5]);
        assert_eq!(uint(&[0x80]), [2, 2, 0, 0x80]);
        assert_eq!(uint(&[0]), [2, 1, 0]);
    }

    #[test]
    fn sets_are_sorted() {
        assert_eq!(
            set_of(vec![vec![2, 1, 9], vec![2, 1, 1]]),
            [0x31, 6, 2, 1, 1, 2, 1, 9]
        );
    }

    #[test]
    fn times_parse_both_forms() {
        let utc = tlv(UTC_TIME, b"260102030405Z");
        assert_eq!(
            time(read_one(&utc).unwrap(), "t").unwrap(),
            ("2026-01-02T03:04:05Z".to_string(), 1_767_323_045)
        );
        let gen_time = tlv(GENERALIZED_TIME, b"20260102030405.25Z");
        assert_eq!(
            time(read_one(&gen_time).unwrap(), "t").unwrap().0,
            "2026-01-02T03:04:05Z"
        );
        let bad = tlv(GENERALIZED_TIME, b"20261302030405Z");
        assert!(time(read_one(&bad).unwrap(), "t").is_err());
    }
}
