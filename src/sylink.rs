//! sylink.xml: the client's communication settings. Read to validate and
//! report; never re-serialised.
//!
//! A sylink.xml is injected into a package byte for byte (a re-serialiser
//! would mangle the `&#13;` references in the certificate), so this module
//! only parses it to say whether it is **managed** and what it points at:
//!
//! - a 32-hex-digit `DomainId` on the `ServerSettings` root,
//! - a 32-hex-digit `Kcs` on `AgentCommunicationSetting`,
//! - at least one `Server` with a non-empty `Address`,
//! - at least one non-empty `Certificate`.
//!
//! The Kcs is the client's encryption key: it is checked, never reported.
//! A DOCTYPE is refused (no entity expansion, no external fetches), and
//! UTF-16 files are decoded first because quick-xml reads only
//! ASCII-compatible encodings.

use quick_xml::events::Event;
use quick_xml::events::attributes::Attribute;
use serde::Serialize;

/// The largest sylink.xml that is parsed (a real one is 5 to 20 KB).
pub const MAX_SIZE: u64 = 1024 * 1024;

/// One management server the client will contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    /// `Address`: host name or IP.
    pub address: String,
    /// `HttpPort`, when given.
    pub http_port: Option<String>,
    /// `HttpsPort`, when given.
    pub https_port: Option<String>,
    /// The `Name` of the enclosing `ServerPriorityBlock`.
    pub priority: Option<String>,
}

/// `address:http_port`, or the address alone, as reports show a server.
impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.http_port {
            Some(port) => write!(f, "{}:{port}", self.address),
            None => f.write_str(&self.address),
        }
    }
}

/// What a sylink.xml says, as far as an administrator needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Info {
    /// The encoding the file was read in.
    pub encoding: &'static str,
    /// `ServerSettings/@DomainId`.
    pub domain_id: Option<String>,
    /// Whether `AgentCommunicationSetting/@Kcs` is 32 hex digits (the value
    /// itself is a secret and is not reported).
    pub kcs_valid: bool,
    /// `AgentCommunicationSetting/@CommunicationMode`: PULL or PUSH.
    pub communication_mode: Option<String>,
    /// Every `Server` element, in order.
    pub servers: Vec<Server>,
    /// The number of `Certificate` elements with content.
    pub certificates: usize,
    /// `RegisterClient/@PreferredGroup`.
    pub preferred_group: Option<String>,
    /// `RegisterClient/@PreferredMode`.
    pub preferred_mode: Option<String>,
}

impl Info {
    /// Each reason the file is not managed; empty when it is.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        match &self.domain_id {
            None => missing.push("ServerSettings has no DomainId".to_string()),
            Some(id) if !is_hex32(id) => {
                missing.push(format!("DomainId {id:?} is not 32 hex digits"))
            }
            Some(_) => {}
        }
        if !self.kcs_valid {
            missing.push("AgentCommunicationSetting has no Kcs of 32 hex digits".to_string());
        }
        if !self.servers.iter().any(|s| !s.address.trim().is_empty()) {
            missing.push("no ServerList/ServerPriorityBlock/Server with an Address".to_string());
        }
        if self.certificates == 0 {
            missing.push("no ServerCertList/Certificate with content".to_string());
        }
        missing
    }

    /// True when the file has everything a managed client needs.
    pub fn is_managed(&self) -> bool {
        self.missing().is_empty()
    }

    /// Servers whose `Address` is empty (a warning even in a managed file).
    pub fn empty_addresses(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| s.address.trim().is_empty())
            .count()
    }
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Decodes the file's bytes to text: UTF-8 (BOM or not), or UTF-16 by BOM or
/// by the shape of `<?xml` without one.
fn decode(bytes: &[u8]) -> Result<(String, &'static str), String> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        if had_errors {
            return Err(format!("invalid {} text", encoding.name()));
        }
        let name = match encoding.name() {
            "UTF-8" => "UTF-8 with BOM",
            "UTF-16LE" => "UTF-16LE",
            _ => "UTF-16BE",
        };
        return Ok((text.into_owned(), name));
    }
    let utf16 = match bytes {
        [b'<', 0, b'?', 0, ..] => Some((encoding_rs::UTF_16LE, "UTF-16LE without BOM")),
        [0, b'<', 0, b'?', ..] => Some((encoding_rs::UTF_16BE, "UTF-16BE without BOM")),
        _ => None,
    };
    if let Some((encoding, name)) = utf16 {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if had_errors {
            return Err(format!("invalid {name} text"));
        }
        return Ok((text.into_owned(), name));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((text.to_string(), "UTF-8")),
        Err(e) => Err(format!(
            "not UTF-8: invalid byte at offset {}",
            e.valid_up_to()
        )),
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a: Attribute<'_> =
            a.map_err(|err| format!("element <{}>: bad attribute: {err}", e.name().as_ref()))?;
        if a.key.as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| {
                    format!("element <{}> attribute {name}: {err}", e.name().as_ref())
                })?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Parses a sylink.xml and reports what it holds.
///
/// The error is a sentence naming the element; the caller adds the file.
pub fn inspect(bytes: &[u8]) -> Result<Info, String> {
    let (text, encoding) = decode(bytes)?;
    let mut reader = quick_xml::Reader::from_str(&text);
    reader.config_mut().check_end_names = true;
    let mut walk = Walk {
        info: Info {
            encoding,
            ..Info::default()
        },
        path: Vec::new(),
        priority: None,
        seen_root: false,
        cert_content: false,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match &event {
            Event::Start(e) => walk.start(e, false)?,
            Event::Empty(e) => walk.start(e, true)?,
            Event::Eof => break,
            other => walk.other(other)?,
        }
    }
    if !walk.seen_root {
        return Err("no root element: the file is empty or not XML".to_string());
    }
    if let Some(open) = walk.path.last() {
        return Err(format!("the file ends inside <{open}>: it is truncated"));
    }
    Ok(walk.info)
}

/// Where [`inspect`] is in the document, and what it has found.
struct Walk {
    info: Info,
    /// The open elements, outermost first.
    path: Vec<String>,
    /// The `Name` of the `ServerPriorityBlock` the walk is in.
    priority: Option<String>,
    seen_root: bool,
    /// True once the open `Certificate` has content.
    cert_content: bool,
}

impl Walk {
    /// An element starts (`empty`: and ends at once).
    fn start(&mut self, e: &quick_xml::events::BytesStart<'_>, empty: bool) -> Result<(), String> {
        let name = e.name().as_ref().to_string();
        if self.path.is_empty() {
            if self.seen_root {
                return Err(format!(
                    "a second root element <{name}> after </ServerSettings>"
                ));
            }
            if name != "ServerSettings" {
                return Err(format!(
                    "the root element is <{name}>, not <ServerSettings>"
                ));
            }
            self.seen_root = true;
            self.info.domain_id = attr(e, "DomainId")?;
        }
        let info = &mut self.info;
        match name.as_str() {
            "AgentCommunicationSetting" => {
                info.kcs_valid = attr(e, "Kcs")?.is_some_and(|k| is_hex32(&k));
                info.communication_mode = attr(e, "CommunicationMode")?;
            }
            "ServerPriorityBlock" => self.priority = attr(e, "Name")?,
            "Server" => info.servers.push(Server {
                address: attr(e, "Address")?.unwrap_or_default(),
                http_port: attr(e, "HttpPort")?,
                https_port: attr(e, "HttpsPort")?,
                priority: self.priority.clone(),
            }),
            "RegisterClient" => {
                info.preferred_group = attr(e, "PreferredGroup")?;
                info.preferred_mode = attr(e, "PreferredMode")?;
            }
            "Certificate" => self.cert_content = false,
            _ => {}
        }
        if !empty {
            self.path.push(name);
        }
        Ok(())
    }

    /// Any other event: an end, text, a reference, a DOCTYPE.
    fn other(&mut self, event: &Event<'_>) -> Result<(), String> {
        let in_cert = self.path.last().is_some_and(|p| p == "Certificate");
        match event {
            Event::End(e) => {
                if e.name().as_ref() == "Certificate" && self.cert_content {
                    self.info.certificates += 1;
                }
                self.path.pop();
            }
            Event::Text(t) => {
                let blank = t
                    .xml_content(quick_xml::XmlVersion::Implicit1_0)
                    .trim()
                    .is_empty();
                if in_cert && !blank {
                    self.cert_content = true;
                } else if self.path.is_empty() && !blank {
                    return Err("text outside the root element".to_string());
                }
            }
            Event::CData(_) if in_cert => self.cert_content = true,
            Event::GeneralRef(r) => {
                let name = r.as_ref().to_string();
                let known = name.starts_with('#')
                    || matches!(name.as_str(), "lt" | "gt" | "amp" | "apos" | "quot");
                if !known {
                    return Err(format!(
                        "undefined entity &{name}; (entities are not expanded)"
                    ));
                }
            }
            Event::DocType(_) => {
                return Err("a DOCTYPE is refused: sylink.xml from the SEPM has none, and entities are not expanded".to_string());
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANAGED: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<ServerSettings DomainId="AB969193097B6C8502344D15563D3282" NameSpace="rpc">
  <CommConf>
    <AgentCommunicationSetting CommunicationMode="PULL" Kcs="F51F0000111122223333444455556666" PullHeartbeatSeconds="1800"/>
    <ServerList Name="Default"><ServerPriorityBlock Name="Priority1">
      <Server Address="sepm.example.com" HttpPort="8014" HttpsVerifyCA="0" VerifySignatures="1"/>
    </ServerPriorityBlock></ServerList>
    <ServerCertList><Certificate Name="sepm">MIICOzCCAaSgAwIBAgIET8T9cDANBgkqhkiG9w0BAQUFADBi&#13;
MQswCQYD</Certificate></ServerCertList>
    <RegisterClient PreferredGroup="My Company\Active" PreferredMode="1"/>
  </CommConf>
</ServerSettings>
"#;

    #[test]
    fn managed_file_is_managed() {
        let info = inspect(MANAGED.as_bytes()).unwrap();
        assert!(info.is_managed(), "{:?}", info.missing());
        assert_eq!(
            info.domain_id.as_deref(),
            Some("AB969193097B6C8502344D15563D3282")
        );
        assert_eq!(info.servers[0].address, "sepm.example.com");
        assert_eq!(info.servers[0].priority.as_deref(), Some("Priority1"));
        assert_eq!(info.preferred_group.as_deref(), Some("My Company\\Active"));
        assert_eq!(info.communication_mode.as_deref(), Some("PULL"));
    }

    #[test]
    fn unmanaged_file_says_what_is_missing() {
        let info = inspect(b"<?xml version=\"1.0\"?><ServerSettings NameSpace=\"rpc\"><CommConf/></ServerSettings>").unwrap();
        let missing = info.missing();
        assert_eq!(missing.len(), 4, "{missing:?}");
        assert!(missing[0].contains("DomainId"));
    }

    #[test]
    fn utf16_is_decoded() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(MANAGED.encode_utf16().flat_map(u16::to_le_bytes));
        assert!(inspect(&bytes).unwrap().is_managed());
    }

    #[test]
    fn doctype_and_entities_are_refused() {
        let e = inspect(b"<!DOCTYPE x [<!ENTITY a \"b\">]><ServerSettings>&a;</ServerSettings>")
            .unwrap_err();
        assert!(e.contains("DOCTYPE"), "{e}");
        let e = inspect(b"<ServerSettings>&a;</ServerSettings>").unwrap_err();
        assert!(e.contains("undefined entity"), "{e}");
    }

    #[test]
    fn truncated_and_malformed_are_errors() {
        let cut = MANAGED.find("</CommConf>").unwrap();
        assert!(
            inspect(&MANAGED.as_bytes()[..cut])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(inspect(&MANAGED.as_bytes()[..200]).is_err());
        assert!(inspect(b"<ServerSettings><a></b></ServerSettings>").is_err());
        assert!(inspect(b"").unwrap_err().contains("no root"));
        assert!(
            inspect(b"<Other/>")
                .unwrap_err()
                .contains("not <ServerSettings>")
        );
    }
}
