//! Signatures: Authenticode verified, with a throwaway CA made by openssl
//! and programs signed by osslsigncode (`support::pki`), for a Setup.exe
//! inside a package (zip: streamed; folder: read in place) and for a
//! single-file .exe package; one flipped byte makes it invalid (exit 1);
//! `--trust-ca` of another CA makes it untrusted. An MSI's
//! DigitalSignature (signed by osslsigncode) is verified the same way.

use super::*;
use crate::support::harness::tests;
use crate::support::pki::{self, CA, Pki, SIGNER};
use std::process::Command;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        a_signed_msi_in_a_zip_is_verified_and_names_its_signer,
        a_flipped_byte_in_a_signed_msi_is_an_error,
        a_signed_setup_exe_in_a_package_is_valid_and_names_its_signer,
        a_signed_single_file_exe_is_valid_and_a_flipped_byte_invalid,
        another_ca_makes_the_signatures_untrusted,
        an_unsigned_single_file_exe_is_a_warning,
    ]
}

/// Covered by the trials above, which sign programs when they run (the
/// scenarios are made when the trials are listed, without openssl).
pub(super) const SIGNED_CODES: [&str; 4] = [
    "exe-signature-invalid",
    "exe-signature-untrusted",
    "msi-signature-invalid",
    "msi-signature-untrusted",
];

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        scenario(
            "msi-unsigned",
            "info",
            "Sep64.msi carries no digital signature",
            managed(),
            &[],
        ),
        scenario(
            "exe-unsigned",
            "info",
            "Setup.exe carries no Authenticode signature",
            managed(),
            &[],
        ),
        scenario(
            "exe-unreadable",
            "warning",
            "Setup.exe cannot be checked: corrupt or unsupported PE program:",
            {
                let mut f = managed();
                set(&mut f, "Setup.exe", r#gen::setup_exe());
                f
            },
            &[],
        ),
    ]
}

/// A signed copy of the generated PE stub, signed with `pki`'s signer.
fn signed_program(pki: &Pki, dir: &Path) -> Vec<u8> {
    let plain = dir.join("plain-program.exe");
    std::fs::write(&plain, r#gen::pe_stub()).unwrap();
    let signed = dir.join("signed-program.exe");
    pki::osslsign(pki, &plain, &signed, &[]);
    std::fs::read(signed).unwrap()
}

/// `managed()` as a single-file .exe, signed by `pki`'s signer.
fn signed_exe_package(pki: &Pki, dir: &Path) -> PathBuf {
    let plain = dir.join("plain-package.exe");
    std::fs::write(&plain, exe_package(&managed())).unwrap();
    let signed = dir.join("SEP-setup.exe");
    pki::osslsign(pki, &plain, &signed, &[]);
    signed
}

/// The signature reports say what the signer is, in JSON.
fn assert_signed_by_the_test_signer(sig: &Value, chain: &str) {
    let kind = if sig["entry"].as_str().unwrap_or("").ends_with(".msi") {
        "msi-digital-signature"
    } else {
        "authenticode"
    };
    assert_eq!(sig["kind"], kind, "{sig}");
    assert_eq!(sig["present"], true);
    assert_eq!(sig["signer"]["subject"], SIGNER);
    assert_eq!(sig["signer"]["issuer"], CA);
    assert_eq!(sig["signer"]["serial"], "1234");
    assert_eq!(sig["digest_algorithm"], "sha256");
    assert_eq!(sig["signing_time"], Value::Null);
    assert_eq!(sig["chain"]["state"], chain);
    assert_eq!(
        sig["authenticode"]["signatures"][0]["signer"]["subject"],
        SIGNER
    );
}

/// The generated MSI signed by osslsigncode, as `Sep64.msi` of a managed
/// package: its bytes, the package's files and the zip of them.
/// `extra`: osslsigncode's options (`-add-msi-dse`).
fn signed_msi_zip(pki: &Pki, dir: &Path, extra: &[&str]) -> (Vec<u8>, Files, PathBuf) {
    let plain = dir.join("plain.msi");
    std::fs::write(&plain, r#gen::msi(&MsiSpec::example(r#gen::VERSION))).unwrap();
    let signed = dir.join("signed.msi");
    pki::osslsign(pki, &plain, &signed, extra);
    let bytes = std::fs::read(&signed).unwrap();
    let mut files = managed();
    set(&mut files, "Sep64.msi", bytes.clone());
    let zip = dir.join("signed.zip");
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    (bytes, files, zip)
}

fn a_signed_msi_in_a_zip_is_verified_and_names_its_signer() {
    if !pki::tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki::code_signing(tmp.path());
    let (_, _, zip) = signed_msi_zip(&pki, tmp.path(), &[]);
    let html = tmp.path().join("report.html");
    let (code, doc) = audit_json(&[path_arg(&zip), "--html", path_arg(&html)]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    let root = &doc["packages"][0]["roots"][0];
    assert_eq!(root["msis"][0]["signed"], true);
    let sig = &root["signatures"][1];
    assert_eq!(sig["entry"], "Sep64.msi");
    assert_eq!(sig["kind"], "msi-digital-signature");
    assert_eq!(sig["present"], true);
    assert_eq!(sig["status"], "valid");
    assert_eq!(sig["not_verified"], Value::Null);
    assert_signed_by_the_test_signer(sig, "not-checked");
    assert!(
        !codes(&doc).iter().any(|c| c.starts_with("msi-")),
        "{:?}",
        codes(&doc)
    );
    // Signing does not change what the MSI says.
    assert_eq!(root["msis"][0]["package_code"], r#gen::PACKAGE_CODE);
    let out = sepkg().arg("audit").arg(&zip).output().unwrap();
    let (stdout, _) = text(&out);
    for line in [
        "    Signature              Sep64.msi: MSI DigitalSignature valid\n",
        "      Signer               O=Example Corp,CN=sepkg test signer\n",
        "      Digest algorithm     sha256\n",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("O=Example Corp,CN=sepkg test signer"));
    // The CA as a root: trusted. Another CA: untrusted, a warning.
    let (code, doc) = audit_json(&[path_arg(&zip), "--trust-ca", path_arg(&pki.path("ca.pem"))]);
    assert_eq!(code, 0);
    assert_signed_by_the_test_signer(&doc["packages"][0]["roots"][0]["signatures"][1], "trusted");
    let other = Pki::new(&tmp.path().join("other"), "/CN=some other CA");
    let (code, doc) = audit_json(&[
        path_arg(&zip),
        "--trust-ca",
        path_arg(&other.path("ca.pem")),
    ]);
    assert_eq!(code, 0);
    let f = finding(&doc, "msi-signature-untrusted");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["entry"], "Sep64.msi");
    assert!(
        f["message"].as_str().unwrap().contains(&format!(
            "Sep64.msi: the MSI's digital signature (signed by {SIGNER}) verifies, but the chain ends at CN=sepkg test CA"
        )),
        "{f}"
    );
    assert_eq!(
        doc["packages"][0]["roots"][0]["signatures"][1]["status"],
        "untrusted"
    );
    // Signed with MsiDigitalSignatureEx (entry metadata too): valid.
    let dse = tmp.path().join("dse");
    std::fs::create_dir_all(&dse).unwrap();
    let (_, _, zip) = signed_msi_zip(&pki, &dse, &["-add-msi-dse"]);
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    let sig = &doc["packages"][0]["roots"][0]["signatures"][1];
    assert_eq!(sig["status"], "valid", "{sig}");
    assert_signed_by_the_test_signer(sig, "not-checked");
}

fn a_flipped_byte_in_a_signed_msi_is_an_error() {
    if !pki::tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki::code_signing(tmp.path());
    let (mut bytes, mut files, zip) = signed_msi_zip(&pki, tmp.path(), &[]);
    // One flipped byte in a stream's data (the summary information and
    // the string pool hold the product name): invalid, an error, exit 1;
    // osslsigncode agrees.
    let needle = b"Symantec Endpoint Protection";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + 3] ^= 0x01;
    let flipped = tmp.path().join("flipped.msi");
    std::fs::write(&flipped, &bytes).unwrap();
    let verify = Command::new("osslsigncode")
        .args(["verify", "-in"])
        .arg(&flipped)
        .output()
        .unwrap();
    assert!(!verify.status.success());
    set(&mut files, "Sep64.msi", bytes);
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 1);
    let f = finding(&doc, "msi-signature-invalid");
    assert_eq!(f["severity"], "error");
    assert!(
        f["message"].as_str().unwrap().starts_with(&format!(
            "Sep64.msi: the MSI's digital signature (signed by {SIGNER}) does not verify: the file changed after signing: its sha256 MSI digest is "
        )),
        "{f}"
    );
    let out = sepkg().arg("audit").arg(&zip).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("Sep64.msi: MSI DigitalSignature INVALID: the file changed after signing"),
        "{stdout}"
    );
}

fn a_signed_setup_exe_in_a_package_is_valid_and_names_its_signer() {
    if !pki::tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki::code_signing(tmp.path());
    let mut files = managed();
    set(&mut files, "Setup.exe", signed_program(&pki, tmp.path()));
    // A zip (the entry is streamed through the verifier) and a folder (the
    // file is read in place) say the same.
    let zip = tmp.path().join("signed.zip");
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    let (_t, dir) = folder(&files);
    for input in [zip.as_path(), dir.as_path()] {
        let html = tmp.path().join("report.html");
        let (code, doc) = audit_json(&[path_arg(input), "--html", path_arg(&html)]);
        assert_eq!(code, 0, "{:#?}", findings(&doc));
        let sig = &doc["packages"][0]["roots"][0]["signatures"][0];
        assert_eq!(sig["entry"], "Setup.exe");
        assert_eq!(sig["status"], "valid");
        assert_signed_by_the_test_signer(sig, "not-checked");
        assert!(
            !codes(&doc).iter().any(|c| c.starts_with("exe-")),
            "{:?}",
            codes(&doc)
        );

        let out = sepkg().arg("audit").arg(input).output().unwrap();
        let (stdout, _) = text(&out);
        for line in [
            "    Signature              Setup.exe: Authenticode valid\n",
            "      Signer               O=Example Corp,CN=sepkg test signer\n",
            "      Issuer               CN=sepkg test CA\n",
            "      Serial               1234\n",
            "      Digest algorithm     sha256\n",
            "      Signing time         none (no timestamp)\n",
            "      Chain                not checked (no --trust-ca roots given; none are bundled)\n",
        ] {
            assert!(stdout.contains(line), "{line:?} in\n{stdout}");
        }
        let page = std::fs::read_to_string(&html).unwrap();
        for text in [
            "O=Example Corp,CN=sepkg test signer",
            "not checked (no --trust-ca roots given; none are bundled)",
            "none (no timestamp)",
        ] {
            assert!(page.contains(text), "the page lacks {text:?}");
        }
    }
    // With the CA as a root the chain is checked, and reaches it.
    let ca = pki.path("ca.pem");
    let (code, doc) = audit_json(&[path_arg(&zip), "--trust-ca", path_arg(&ca)]);
    assert_eq!(code, 0);
    let sig = &doc["packages"][0]["roots"][0]["signatures"][0];
    assert_signed_by_the_test_signer(sig, "trusted");
    assert_eq!(
        sig["chain_text"],
        "reaches the trusted root CN=sepkg test CA"
    );
    assert_eq!(doc["trust_ca"][0], path_arg(&ca));
}

fn a_signed_single_file_exe_is_valid_and_a_flipped_byte_invalid() {
    if !pki::tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki::code_signing(tmp.path());
    let exe = signed_exe_package(&pki, tmp.path());
    let (code, doc) = audit_json(&[path_arg(&exe)]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    let sig = &doc["packages"][0]["signatures"][0];
    assert_eq!(sig["entry"], "");
    assert_eq!(sig["status"], "valid");
    assert_signed_by_the_test_signer(sig, "not-checked");
    let out = sepkg().arg("audit").arg(&exe).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("  Authenticode: valid\n    Signer                 O=Example Corp,CN=sepkg test signer\n"),
        "{stdout}"
    );

    // One flipped byte in the code section, inside the signed region.
    let mut bytes = std::fs::read(&exe).unwrap();
    bytes[0x201] ^= 0x01;
    let flipped = tmp.path().join("flipped.exe");
    std::fs::write(&flipped, &bytes).unwrap();
    let (code, doc) = audit_json(&[path_arg(&flipped)]);
    assert_eq!(code, 1);
    let f = finding(&doc, "exe-signature-invalid");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["entry"], Value::Null);
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "the package file flipped.exe: the Authenticode signature (signed by {SIGNER}) does not verify: the file changed after signing: its sha256 image digest is "
        )),
        "{msg}"
    );
    let sig = &doc["packages"][0]["signatures"][0];
    assert_eq!(sig["status"], "invalid");
    assert_eq!(sig["signer"]["subject"], SIGNER);
    let out = sepkg().arg("audit").arg(&flipped).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = text(&out);
    assert_eq!(
        stdout.lines().next().unwrap(),
        format!(
            "FAIL  {}  1 error: exe-signature-invalid",
            flipped.display()
        )
    );
    assert!(
        stdout.contains("  Authenticode: INVALID: the file changed after signing"),
        "{stdout}"
    );
}

fn another_ca_makes_the_signatures_untrusted() {
    if !pki::tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki::code_signing(tmp.path());
    let other = Pki::new(&tmp.path().join("other"), "/CN=some other CA");
    let exe = signed_exe_package(&pki, tmp.path());
    let mut files = managed();
    set(&mut files, "Setup.exe", signed_program(&pki, tmp.path()));
    let zip = tmp.path().join("signed.zip");
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    let other_ca = other.path("ca.pem");
    for input in [&exe, &zip] {
        let (code, doc) = audit_json(&[path_arg(input), "--trust-ca", path_arg(&other_ca)]);
        // A warning: the default --fail-on error passes, --fail-on warning fails.
        assert_eq!(code, 0);
        let f = finding(&doc, "exe-signature-untrusted");
        assert_eq!(f["severity"], "warning");
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("the Authenticode signature (signed by {SIGNER}) verifies, but the chain ends at CN=sepkg test CA, issued by CN=sepkg test CA, which is not a --trust-ca root")),
            "{msg}"
        );
        let (code, _) = audit_json(&[
            path_arg(input),
            "--trust-ca",
            path_arg(&other_ca),
            "--fail-on",
            "warning",
        ]);
        assert_eq!(code, 1);
        // The right CA among several roots: trusted.
        let (code, doc) = audit_json(&[
            path_arg(input),
            "--trust-ca",
            path_arg(&other_ca),
            "--trust-ca",
            path_arg(&pki.path("ca.pem")),
            "--fail-on",
            "warning",
        ]);
        assert_eq!(code, 0, "{:#?}", findings(&doc));
    }
    // A --trust-ca file that holds no certificate is an error naming it.
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let out = sepkg()
        .args(["audit", "--trust-ca"])
        .arg(&junk)
        .arg(&zip)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(stderr.contains("junk.pem"), "{stderr}");
}

fn an_unsigned_single_file_exe_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("SEP-setup.exe");
    std::fs::write(&exe, exe_package(&managed())).unwrap();
    let (code, doc) = audit_json(&[path_arg(&exe)]);
    assert_eq!(code, 0);
    let p = &doc["packages"][0];
    assert_eq!(p["signatures"][0]["status"], "unsigned");
    assert_eq!(p["signatures"][0]["present"], false);
    let f = p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "exe-unsigned")
        .unwrap();
    assert_eq!(f["severity"], "warning");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("the package file SEP-setup.exe carries no Authenticode signature: AppLocker, WDAC and SmartScreen"),
        "{f}"
    );
    // The Setup.exe inside is unsigned too: info, for an entry.
    let inner = &p["roots"][0]["findings"];
    assert!(
        inner
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "exe-unsigned"
                && f["severity"] == "info"
                && f["entry"] == "Setup.exe"),
        "{inner:#}"
    );
    let (code, _) = audit_json(&[path_arg(&exe), "--fail-on", "warning"]);
    assert_eq!(code, 1);
}
