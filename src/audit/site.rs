//! Site checks: does the package's sylink.xml point at *this* site?
//!
//! A managed sylink.xml is only half the question before a package reaches
//! ten thousand clients: one exported from another SEPM (a lab, another
//! customer, an attacker's) is just as managed, and clients upgraded with
//! it report to that server. `--expect-domain-id`, `--expect-server` and
//! `--expect-group` say what the site's file holds; each that the
//! package's file contradicts is an error finding naming the expected and
//! the found values.
//!
//! The rules:
//! - DomainId: equal, ignoring letter case (it is hex).
//! - Servers: every server the file lists (with an address) must be an
//!   expected one, and at least one must be listed: a file that adds an
//!   unknown server sends clients there when the expected ones do not
//!   answer. A file listing only some of the expected servers passes. A
//!   host matches ignoring letter case; an expected port must be the
//!   server's `HttpPort` or `HttpsPort`.
//! - Group: `PreferredGroup` equal, ignoring letter case and surrounding
//!   spaces (the SEPM does not tell group names apart by case).

use std::fmt;

use serde::Serialize;

use super::{Finding, Severity, SylinkReport, finding};
use crate::sylink::Server;

/// What the site's sylink.xml says (the `--expect-*` options).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// `--expect-domain-id`: 32 hex digits, upper case.
    pub domain_id: Option<String>,
    /// `--expect-server`, each `HOST[:PORT]`.
    pub servers: Vec<ExpectedServer>,
    /// `--expect-group`.
    pub group: Option<String>,
}

impl Expect {
    /// True when nothing is expected.
    pub fn is_empty(&self) -> bool {
        self.domain_id.is_none() && self.servers.is_empty() && self.group.is_none()
    }
}

/// One `--expect-server HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedServer {
    /// Host name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// The port, when given: the server's HttpPort or HttpsPort must be it.
    pub port: Option<u16>,
}

impl ExpectedServer {
    /// Parses `HOST`, `HOST:PORT`, `[IPV6]:PORT` or a bare IPv6 address.
    pub fn parse(text: &str) -> Result<ExpectedServer, String> {
        let bad = |why: &str| format!("{text:?} is not HOST[:PORT]: {why}");
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("no `]`"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("`:` after `]`"))?,
                    ),
                ),
            }
        } else {
            match text.matches(':').count() {
                0 => (text, None),
                1 => text
                    .split_once(':')
                    .map(|(h, p)| (h, Some(p)))
                    .unwrap_or((text, None)),
                // More than one `:`: an IPv6 address without a port.
                _ => (text, None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("the host is empty or holds spaces"));
        }
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
            ),
        };
        Ok(ExpectedServer {
            host: host.to_string(),
            port,
        })
    }

    fn matches(&self, s: &Server) -> bool {
        let address = s
            .address
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if !address.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        let Some(want) = self.port else {
            return true;
        };
        [&s.http_port, &s.https_port]
            .into_iter()
            .flatten()
            .any(|p| p.trim().parse::<u16>() == Ok(want))
    }
}

impl fmt::Display for ExpectedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.port, self.host.contains(':')) {
            (None, _) => f.write_str(&self.host),
            (Some(p), true) => write!(f, "[{}]:{p}", self.host),
            (Some(p), false) => write!(f, "{}:{p}", self.host),
        }
    }
}

/// Checks `--expect-domain-id`: 32 hex digits, given back in upper case.
pub fn parse_domain_id(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(format!(
            "{text:?} is not a DomainId: a DomainId is 32 hex digits, as in sylink.xml's ServerSettings DomainId=\"...\""
        ))
    }
}

const HINT: &str = "inject the sylink.xml exported from your own SEPM (Clients > group > Export Communication Settings, managed mode): sepkg transform INPUT --sylink MANAGED.xml";

/// A server as found, with both ports: `host:8014 (HTTPS port 443)`.
fn found(s: &Server) -> String {
    match &s.https_port {
        Some(p) => format!("{s} (HTTPS port {p})"),
        None => s.to_string(),
    }
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The expectation findings for one root's sylink.xml: an error for each
/// value that differs, or one info finding when every given one holds.
pub(super) fn findings(sylink: Option<&SylinkReport>, expect: &Expect, out: &mut Vec<Finding>) {
    if expect.is_empty() {
        return;
    }
    let Some((entry, info)) = sylink.and_then(|s| Some((s.entry.as_str(), s.info.as_ref()?)))
    else {
        let why = match sylink {
            None => "the root has no sylink.xml".to_string(),
            Some(s) => format!("{} cannot be read", s.entry),
        };
        unreadable(sylink.map(|s| s.entry.as_str()), &why, expect, out);
        return;
    };
    let before = out.len();
    if let Some(want) = &expect.domain_id {
        let have = info.domain_id.as_deref().map(str::trim);
        if have.is_none_or(|h| !h.eq_ignore_ascii_case(want)) {
            out.push(finding(
                "sylink-domain-id-unexpected",
                Severity::Error,
                Some(entry),
                format!(
                    "{entry} has DomainId {}, expected {want} (--expect-domain-id): clients upgraded with this package would report to another SEPM domain",
                    have.unwrap_or("(none)")
                ),
                HINT,
            ));
        }
    }
    if !expect.servers.is_empty() {
        server_findings(entry, &info.servers, &expect.servers, out);
    }
    if let Some(want) = &expect.group {
        let have = info.preferred_group.as_deref().map(str::trim);
        if have.is_none_or(|h| h.to_lowercase() != want.trim().to_lowercase()) {
            out.push(finding(
                "sylink-group-unexpected",
                Severity::Error,
                Some(entry),
                format!(
                    "{entry} has PreferredGroup {}, expected \"{want}\" (--expect-group): new clients would register in another group and get its policies",
                    have.map_or("(none)".to_string(), |h| format!("\"{h}\""))
                ),
                HINT,
            ));
        }
    }
    if out.len() == before {
        out.push(finding(
            "sylink-as-expected",
            Severity::Info,
            Some(entry),
            format!("{entry} points where expected: {}", expected_text(expect)),
            "nothing to do",
        ));
    }
}

/// Servers: each listed must be expected, and one must be listed.
fn server_findings(entry: &str, have: &[Server], want: &[ExpectedServer], out: &mut Vec<Finding>) {
    let listed: Vec<&Server> = have
        .iter()
        .filter(|s| !s.address.trim().is_empty())
        .collect();
    let unexpected: Vec<String> = listed
        .iter()
        .filter(|s| !want.iter().any(|w| w.matches(s)))
        .map(|s| found(s))
        .collect();
    let message = if listed.is_empty() {
        format!(
            "{entry} lists no server, expected {} (--expect-server)",
            join(want)
        )
    } else if !unexpected.is_empty() {
        format!(
            "{entry} lists {}, and {} is not among the expected {} (--expect-server): clients would contact a server this site does not run",
            join(&listed.iter().map(|s| found(s)).collect::<Vec<_>>()),
            unexpected.join(", "),
            join(want)
        )
    } else {
        return;
    };
    out.push(finding(
        "sylink-server-unexpected",
        Severity::Error,
        Some(entry),
        message,
        HINT,
    ));
}

/// Every given expectation fails when there is no readable sylink.xml.
fn unreadable(entry: Option<&str>, why: &str, expect: &Expect, out: &mut Vec<Finding>) {
    let mut fail = |code, what: String| {
        out.push(finding(
            code,
            Severity::Error,
            entry,
            format!("expected {what}, found nothing: {why}"),
            HINT,
        ));
    };
    if let Some(id) = &expect.domain_id {
        fail("sylink-domain-id-unexpected", format!("DomainId {id}"));
    }
    if !expect.servers.is_empty() {
        fail(
            "sylink-server-unexpected",
            format!("servers {}", join(&expect.servers)),
        );
    }
    if let Some(group) = &expect.group {
        fail(
            "sylink-group-unexpected",
            format!("PreferredGroup \"{group}\""),
        );
    }
}

/// "DomainId X, servers a, b, PreferredGroup "g"" for what was given.
fn expected_text(expect: &Expect) -> String {
    let mut parts = Vec::new();
    if let Some(id) = &expect.domain_id {
        parts.push(format!("DomainId {id}"));
    }
    if !expect.servers.is_empty() {
        parts.push(format!("servers among {}", join(&expect.servers)));
    }
    if let Some(g) = &expect.group {
        parts.push(format!("PreferredGroup \"{g}\""));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(address: &str, http: Option<&str>, https: Option<&str>) -> Server {
        Server {
            address: address.into(),
            http_port: http.map(Into::into),
            https_port: https.map(Into::into),
            priority: None,
        }
    }

    #[test]
    fn servers_parse() {
        let p = |t| ExpectedServer::parse(t).unwrap();
        assert_eq!(p("sepm.example.com").port, None);
        assert_eq!(p("sepm:8014").port, Some(8014));
        assert_eq!(p("[fe80::1]:443").host, "fe80::1");
        assert_eq!(p("fe80::1").port, None);
        assert_eq!(p("[fe80::1]:443").to_string(), "[fe80::1]:443");
        for bad in ["", ":80", "a:b", "a:0", "a:70000", "[::1", "[::1]x", "a b"] {
            assert!(ExpectedServer::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_port_must_be_one_of_the_servers() {
        let s = server("SEPM.example.com", Some("8014"), Some("443"));
        let p = |t| ExpectedServer::parse(t).unwrap().matches(&s);
        assert!(p("sepm.example.com") && p("sepm.example.com:8014") && p("sepm.example.com:443"));
        assert!(!p("sepm.example.com:80") && !p("other.example.com"));
    }

    #[test]
    fn domain_ids_are_32_hex_digits() {
        assert_eq!(
            parse_domain_id("ab969193097b6c8502344d15563d3282").unwrap(),
            "AB969193097B6C8502344D15563D3282"
        );
        assert!(parse_domain_id("AB96").is_err());
        assert!(parse_domain_id("XB969193097B6C8502344D15563D3282").is_err());
    }
}
