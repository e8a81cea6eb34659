//! Signatures: an MSI's digital signature, an .exe's Authenticode, and an
//! unsigned MSI.

use super::*;
use crate::support::harness::tests;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        a_signed_msi_is_reported_as_signed,
        a_signed_exe_shows_its_authenticode_signature
    ]
}

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![scenario(
        "msi-unsigned",
        "info",
        "Sep64.msi carries no digital signature",
        managed(),
        &[],
    )]
}

fn a_signed_msi_is_reported_as_signed() {
    // .ci/run installs osslsigncode; openssl (for the test certificate)
    // comes with Debian's ca-certificates.
    if !have_msitools(&["osslsigncode"]) || !support::have("openssl") {
        eprintln!("SKIPPED signed MSI: osslsigncode or openssl is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out).1);
    };
    std::fs::write(
        tmp.path().join("plain.msi"),
        r#gen::msi(&MsiSpec::example(r#gen::VERSION)),
    )
    .unwrap();
    run(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "t.key",
        "-out",
        "t.crt",
        "-days",
        "3650",
        "-subj",
        "/CN=sepkg test",
    ]);
    run(&[
        "osslsigncode",
        "sign",
        "-certs",
        "t.crt",
        "-key",
        "t.key",
        "-n",
        "Test",
        "-in",
        "plain.msi",
        "-out",
        "signed.msi",
    ]);
    let mut files = managed();
    set(
        &mut files,
        "Sep64.msi",
        std::fs::read(tmp.path().join("signed.msi")).unwrap(),
    );
    let (_t, dir) = folder(&files);
    let (code, doc) = audit_json(&[path_arg(&dir)]);
    assert_eq!(code, 0);
    let root = &doc["packages"][0]["roots"][0];
    assert_eq!(root["msis"][0]["signed"], true);
    assert_eq!(
        root["signatures"],
        serde_json::json!([{"entry": "Sep64.msi", "kind": "msi-digital-signature", "present": true}])
    );
    assert!(!codes(&doc).contains("msi-unsigned"), "{:?}", codes(&doc));
    // Signing does not change what the MSI says.
    assert_eq!(root["msis"][0]["package_code"], r#gen::PACKAGE_CODE);
}

fn a_signed_exe_shows_its_authenticode_signature() {
    if !have_msitools(&["osslsigncode"]) || !support::have("openssl") {
        eprintln!("SKIPPED signed exe: osslsigncode or openssl is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("plain.exe"), exe_package(&managed())).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out).1);
    };
    run(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "t.key",
        "-out",
        "t.crt",
        "-days",
        "2",
        "-subj",
        "/CN=sepkg test",
    ]);
    run(&[
        "osslsigncode",
        "sign",
        "-certs",
        "t.crt",
        "-key",
        "t.key",
        "-n",
        "Test",
        "-in",
        "plain.exe",
        "-out",
        "signed.exe",
    ]);
    let (code, doc) = audit_json(&[path_arg(&tmp.path().join("signed.exe"))]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    assert_eq!(
        doc["packages"][0]["signatures"],
        serde_json::json!([{"entry": "", "kind": "authenticode", "present": true}])
    );
}
