//! The records beside the input: its `.sha256` sidecar, its manifest and
//! a `SHA256SUMS`, matching it or not, or unreadable.

use super::*;
use crate::support::harness::tests;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![checksums_beside_the_input_are_checked]
}

pub(super) const CHECKSUM_CODES: [&str; 7] = [
    "sha256-sidecar-match",
    "sha256-sidecar-mismatch",
    "manifest-match",
    "manifest-mismatch",
    "sha256sums-match",
    "sha256sums-mismatch",
    "checksum-file-unreadable",
];

fn checksums_beside_the_input_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("pkg.zip");
    let bytes = r#gen::zip(&managed());
    std::fs::write(&zip, &bytes).unwrap();
    let sha = support::sha256(&bytes);
    let other = "0".repeat(64);
    let manifest = |h: &str| {
        format!(
            "{{\"schema\":\"sepkg-manifest/1\",\"output\":{{\"name\":\"pkg.zip\",\"sha256\":\"{h}\"}}}}"
        )
    };

    std::fs::write(
        tmp.path().join("pkg.zip.sha256"),
        format!("{sha}  pkg.zip\n"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("pkg.zip.manifest.json"), manifest(&sha)).unwrap();
    std::fs::write(
        tmp.path().join("SHA256SUMS"),
        format!("{other}  a.zip\n{sha}  pkg.zip\n"),
    )
    .unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 0);
    for c in ["sha256-sidecar-match", "manifest-match", "sha256sums-match"] {
        assert_eq!(finding(&doc, c)["severity"], "info");
    }
    assert_eq!(
        doc["packages"][0]["hash_checks"].as_array().unwrap().len(),
        3
    );

    std::fs::write(
        tmp.path().join("pkg.zip.sha256"),
        format!("{other}  pkg.zip\n"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("pkg.zip.manifest.json"), manifest(&other)).unwrap();
    std::fs::write(tmp.path().join("SHA256SUMS"), format!("{other}  pkg.zip\n")).unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 1);
    for c in [
        "sha256-sidecar-mismatch",
        "manifest-mismatch",
        "sha256sums-mismatch",
    ] {
        let f = finding(&doc, c);
        assert_eq!(f["severity"], "error");
        assert!(f["message"].as_str().unwrap().contains(&sha), "{f}");
    }

    std::fs::write(tmp.path().join("pkg.zip.manifest.json"), "not json").unwrap();
    let (_, doc) = audit_json(&[path_arg(&zip)]);
    let f = finding(&doc, "checksum-file-unreadable");
    assert_eq!(f["severity"], "warning");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("pkg.zip.manifest.json")
    );
}
