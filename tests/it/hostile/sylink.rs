//! The `--sylink` file: DOCTYPEs and entities, malformed or truncated XML,
//! wrong encodings, over the limit, unmanaged; a UTF-16 one with a BOM is
//! accepted and injected as it is.

use super::{Case, Format, Invocation, example_zip, succeeds, sylink_case, utf16le};
use crate::support;
use crate::support::r#gen as fx;
use crate::support::harness::tests;

pub fn cases() -> Vec<Case> {
    vec![
        sylink_case(
            "doctype.xml",
            "bad-xml",
            &["doctype.xml: a DOCTYPE is refused"],
            || {
                let s = String::from_utf8(fx::managed_sylink()).unwrap();
                s.replacen(
                    "<ServerSettings",
                    "<!DOCTYPE ServerSettings [<!ENTITY x \"y\">]>\n<ServerSettings",
                    1,
                )
                .into_bytes()
            },
        ),
        sylink_case(
            "xxe.xml",
            "bad-xml",
            &["xxe.xml: a DOCTYPE is refused"],
            || {
                b"<?xml version=\"1.0\"?><!DOCTYPE s [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><ServerSettings>&x;</ServerSettings>".to_vec()
            },
        ),
        sylink_case(
            "entity.xml",
            "bad-xml",
            &["entity.xml: undefined entity &x;"],
            || {
                let s = String::from_utf8(fx::managed_sylink()).unwrap();
                s.replacen("<CommConf>", "<CommConf>&x;", 1).into_bytes()
            },
        ),
        sylink_case(
            "malformed.xml",
            "bad-xml",
            &["malformed.xml: malformed XML"],
            || {
                let s = String::from_utf8(fx::managed_sylink()).unwrap();
                s.replacen("</ServerList>", "</ServerLst>", 1).into_bytes()
            },
        ),
        sylink_case(
            "truncated.xml",
            "bad-xml",
            &["truncated.xml: the file ends inside <CommConf>"],
            || {
                let s = String::from_utf8(fx::managed_sylink()).unwrap();
                s.as_bytes()[..s.find("</CommConf>").unwrap()].to_vec()
            },
        ),
        sylink_case(
            "huge.xml",
            "too-large",
            &["huge.xml: 1048595 bytes is larger than the 1048576-byte limit"],
            || fx::huge_sylink(1 << 20),
        ),
        sylink_case(
            "empty.xml",
            "bad-xml",
            &["empty.xml: no root element"],
            Vec::new,
        ),
        sylink_case("binary.xml", "bad-xml", &["binary.xml: not UTF-8"], || {
            fx::filler(2000, 9)
        }),
        sylink_case(
            "utf16-garbage.xml",
            "bad-xml",
            &["utf16-garbage.xml: invalid UTF-16"],
            || {
                let mut b = vec![0xFF, 0xFE];
                b.extend_from_slice(&0xDC00u16.to_le_bytes());
                b
            },
        ),
        sylink_case(
            "unmanaged.xml",
            "sylink-unmanaged",
            &["unmanaged.xml: not a managed sylink.xml", "no DomainId"],
            fx::unmanaged_sylink,
        ),
    ]
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![utf16_sylink_with_bom_is_accepted_and_injected_byte_for_byte]
}

fn utf16_sylink_with_bom_is_accepted_and_injected_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("pkg.zip");
    std::fs::write(&input, example_zip()).unwrap();
    let sylink16 = utf16le(&String::from_utf8(fx::managed_sylink()).unwrap(), true);
    let path = tmp.path().join("utf16.xml");
    std::fs::write(&path, &sylink16).unwrap();
    let doc = succeeds(
        &Invocation::new(tmp.path(), &input).sylink(path),
        Format::Zip,
    );
    assert_eq!(
        doc["transformed"][0]["manifest"]["sylink"]["encoding"],
        "UTF-16LE"
    );
    let out = std::fs::read(tmp.path().join("out/out.zip")).unwrap();
    let entries = support::unzip(&out);
    let injected = &entries.iter().find(|(n, _)| n == "sylink.xml").unwrap().1;
    assert!(
        *injected == sylink16,
        "the UTF-16 sylink.xml was not injected as it is"
    );
}
