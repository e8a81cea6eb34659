//! Site checks: `--expect-domain-id`, `--expect-server` and
//! `--expect-group` pass for the site's own sylink.xml and fail (exit 1,
//! expected vs found) for another site's.

use super::*;
use crate::support::harness::tests;

/// The managed sylink.xml's values (`r#gen::managed_sylink`).
const DOMAIN: &str = "AB969193097B6C8502344D15563D3282";
const OTHER_DOMAIN: &str = "0123456789ABCDEF0123456789ABCDEF";
const GROUP: &str = "My Company\\Workstations";

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        the_sites_own_sylink_passes,
        another_sites_sylink_fails_naming_expected_and_found,
        expectations_without_a_readable_sylink_fail,
        bad_expectations_are_usage_errors,
    ]
}

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "sylink-domain-id-unexpected",
            "error",
            "sylink.xml has DomainId AB969193097B6C8502344D15563D3282, expected 0123456789ABCDEF0123456789ABCDEF (--expect-domain-id)",
            managed(),
            &["--expect-domain-id", OTHER_DOMAIN],
        ),
        scenario(
            "sylink-server-unexpected",
            "error",
            "sylink.xml lists 10.0.0.111:8014, sepm.example.com:8014, and 10.0.0.111:8014 is not among the expected sepm.example.com:8014 (--expect-server)",
            managed(),
            &["--expect-server", "sepm.example.com:8014"],
        ),
        scenario(
            "sylink-group-unexpected",
            "error",
            "sylink.xml has PreferredGroup \"My Company\\Workstations\", expected \"My Company\\Servers\" (--expect-group)",
            managed(),
            &["--expect-group", "My Company\\Servers"],
        ),
        scenario(
            "sylink-as-expected",
            "info",
            "sylink.xml points where expected: DomainId AB969193097B6C8502344D15563D3282, servers among 10.0.0.111, sepm.example.com:8014, PreferredGroup",
            managed(),
            &[
                "--expect-domain-id",
                DOMAIN,
                "--expect-server",
                "10.0.0.111",
                "--expect-server",
                "sepm.example.com:8014",
                "--expect-group",
                GROUP,
            ],
        ),
    ]
}

/// Every expectation given, for the managed sylink.xml.
fn right() -> Vec<&'static str> {
    vec![
        "--expect-domain-id",
        "ab969193097b6c8502344d15563d3282",
        "--expect-server",
        "SEPM.example.com",
        "--expect-server",
        "10.0.0.111:8014",
        "--expect-group",
        "my company\\workstations",
    ]
}

fn the_sites_own_sylink_passes() {
    let (_tmp, dir) = folder(&managed());
    let mut args = vec![path_arg(&dir)];
    args.extend(right());
    let (code, doc) = audit_json(&args);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    let f = finding(&doc, "sylink-as-expected");
    assert_eq!(f["severity"], "info");
    // What was expected is in the document, normalised.
    assert_eq!(doc["expect"]["domain_id"], DOMAIN);
    assert_eq!(
        doc["expect"]["servers"],
        serde_json::json!([{"host": "SEPM.example.com", "port": null}, {"host": "10.0.0.111", "port": 8014}])
    );
    assert_eq!(doc["expect"]["group"], "my company\\workstations");
    let out = sepkg().arg("audit").args(&args).output().unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.starts_with(&format!("PASS  {}\n", dir.display())),
        "{stdout}"
    );
}

fn another_sites_sylink_fails_naming_expected_and_found() {
    // Another site's file: its own DomainId, server and group.
    let other = String::from_utf8(r#gen::managed_sylink())
        .unwrap()
        .replace(DOMAIN, OTHER_DOMAIN)
        .replace("sepm.example.com", "sepm.attacker.example")
        .replace(GROUP, "Default");
    let mut files = managed();
    set(&mut files, "sylink.xml", other.into_bytes());
    let (_tmp, dir) = folder(&files);
    let mut args = vec![path_arg(&dir)];
    args.extend(right());
    let (code, doc) = audit_json(&args);
    assert_eq!(code, 1);
    let says = |code: &str, want: &str| {
        let f = finding(&doc, code);
        assert_eq!(f["severity"], "error", "{f}");
        assert_eq!(f["entry"], "sylink.xml");
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains(want), "{code}: {msg:?} should say {want:?}");
        assert!(f["hint"].as_str().unwrap().contains("--sylink MANAGED.xml"));
    };
    says(
        "sylink-domain-id-unexpected",
        "has DomainId 0123456789ABCDEF0123456789ABCDEF, expected AB969193097B6C8502344D15563D3282",
    );
    says(
        "sylink-server-unexpected",
        "sepm.attacker.example:8014 is not among the expected SEPM.example.com, 10.0.0.111:8014",
    );
    says(
        "sylink-group-unexpected",
        "has PreferredGroup \"Default\", expected \"my company\\workstations\"",
    );
    assert!(!codes(&doc).contains("sylink-as-expected"));

    // The terminal report's verdict line names the three.
    let out = sepkg().arg("audit").args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = text(&out);
    assert_eq!(
        stdout.lines().next().unwrap(),
        format!(
            "FAIL  {}  3 errors: sylink-domain-id-unexpected, sylink-server-unexpected, sylink-group-unexpected",
            dir.display()
        )
    );
    assert!(
        stdout.contains("ERROR    sylink-server-unexpected"),
        "{stdout}"
    );

    // A port must be one the server listens on.
    let (code, doc) = audit_json(&[path_arg(&dir), "--expect-server", "10.0.0.111:443"]);
    assert_eq!(code, 1);
    assert!(
        finding(&doc, "sylink-server-unexpected")["message"]
            .as_str()
            .unwrap()
            .contains("10.0.0.111:8014, sepm.attacker.example:8014 is not among the expected 10.0.0.111:443")
    );
}

fn expectations_without_a_readable_sylink_fail() {
    let mut files = managed();
    remove(&mut files, "sylink.xml");
    let (_tmp, dir) = folder(&files);
    let (code, doc) = audit_json(&[
        path_arg(&dir),
        "--expect-domain-id",
        DOMAIN,
        "--expect-group",
        GROUP,
    ]);
    assert_eq!(code, 1);
    let f = finding(&doc, "sylink-domain-id-unexpected");
    assert_eq!(
        f["message"],
        "expected DomainId AB969193097B6C8502344D15563D3282, found nothing: the root has no sylink.xml"
    );
    finding(&doc, "sylink-group-unexpected");
    assert!(!codes(&doc).contains("sylink-server-unexpected"));
}

fn bad_expectations_are_usage_errors() {
    let (_tmp, dir) = folder(&managed());
    for (args, says) in [
        (
            ["--expect-domain-id", "AB96"],
            "is not a DomainId: a DomainId is 32 hex digits",
        ),
        (
            ["--expect-server", "sepm:http"],
            "is not HOST[:PORT]: the port is not a number from 1 to 65535",
        ),
        (["--expect-server", "sepm:0"], "is not HOST[:PORT]"),
    ] {
        let out = sepkg().arg("audit").arg(&dir).args(args).output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
