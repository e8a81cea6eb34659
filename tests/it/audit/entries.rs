//! The container's entries: names Windows cannot create (a finding per
//! entry), and bytes after the end of a zip.

use super::*;
use crate::support::harness::tests;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        each_name_windows_cannot_create_is_a_finding,
        bytes_after_a_zip_are_a_finding
    ]
}

/// Covered by [`bytes_after_a_zip_are_a_finding`]: the scenarios are
/// folders.
pub(super) const ZIP_CODES: [&str; 1] = ["zip-trailing-data"];

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![scenario(
        "windows-invalid-name",
        "warning",
        "Packages/CON.txt: \"CON.txt\" is a device name on Windows (CON)",
        {
            let mut f = managed();
            set(&mut f, "Packages/CON.txt", b"console".to_vec());
            f
        },
        &[],
    )]
}

fn each_name_windows_cannot_create_is_a_finding() {
    let long = format!("Packages/{}/{}.txt", "d".repeat(150), "f".repeat(120));
    let bad: Vec<(String, &str)> = vec![
        (
            "Packages/CON.txt".into(),
            "is a device name on Windows (CON)",
        ),
        ("Packages/aux".into(), "is a device name on Windows (AUX)"),
        (
            "Packages/lpt1.log".into(),
            "is a device name on Windows (LPT1)",
        ),
        ("Packages/name.".into(), "ends with a dot or a space"),
        ("Packages/name ".into(), "ends with a dot or a space"),
        ("Packages/a*b.txt".into(), "holds '*'"),
        ("Packages/a<b>.txt".into(), "holds '<'"),
        ("Packages/what?.txt".into(), "holds '?'"),
        ("Packages/pipe|.txt".into(), "holds '|'"),
        ("Packages/\"quoted\".txt".into(), "holds '\"'"),
        ("Packages/bell\u{7}.txt".into(), "holds '\\u{7}'"),
        (
            long.clone(),
            "the name is 284 characters long, over Windows' 260-character path limit",
        ),
    ];
    let mut files = managed();
    for (name, _) in &bad {
        files.push((name.clone(), b"x".to_vec()));
    }
    // Fine on Windows: a reserved word inside a longer name.
    files.push(("Packages/console.txt".into(), b"x".to_vec()));
    files.push(("Packages/CONFIG.ini".into(), b"x".to_vec()));
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("names.zip");
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    // Warnings: the default --fail-on error passes.
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    let found: Vec<Value> = findings(&doc)
        .into_iter()
        .filter(|f| f["code"] == "windows-invalid-name")
        .collect();
    assert_eq!(found.len(), bad.len(), "{found:#?}");
    for ((name, says), f) in bad.iter().zip(&found) {
        assert_eq!(f["entry"], name.as_str());
        assert_eq!(f["severity"], "warning");
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains(says), "{name:?}: {msg:?} should say {says:?}");
        assert!(msg.contains("clients cannot unpack it"), "{msg}");
    }
    let out = sepkg()
        .args(["audit", "--fail-on", "warning"])
        .arg(&zip)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = text(&out);
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("  12 warnings: windows-invalid-name (12)"),
        "{stdout}"
    );
}

fn bytes_after_a_zip_are_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("junk.zip");
    let mut bytes = r#gen::zip(&managed());
    let end = bytes.len();
    bytes.extend_from_slice(b"JUNK AFTER THE END OF THE ZIP\n");
    std::fs::write(&zip, &bytes).unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 0);
    let f = finding(&doc, "zip-trailing-data");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["entry"], "junk.zip");
    assert_eq!(
        f["message"],
        format!(
            "30 bytes follow the end of the zip (from offset {end}); they belong to no entry, and sepkg transform does not copy them"
        )
    );
    // The same zip without them has no such finding.
    std::fs::write(&zip, &bytes[..end]).unwrap();
    let (_, doc) = audit_json(&[path_arg(&zip)]);
    assert!(!codes(&doc).contains("zip-trailing-data"));
}
