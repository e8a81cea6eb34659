//! `sepkg audit`, driven through the binary: exit codes, findings in JSON and
//! in the human report, the HTML page, and the MSI reading checked against
//! msitools' `msiinfo` on MSIs built two ways (the `msi` crate and `wixl`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support;
use crate::support::r#gen::{self as r#gen, MsiSpec, UpgradeRow};
use crate::support::harness::tests;
use crate::support::{fixtures, sepkg, text};
use serde_json::Value;

type Files = Vec<(String, Vec<u8>)>;

fn set(files: &mut Files, name: &str, bytes: Vec<u8>) {
    match files.iter_mut().find(|(n, _)| n == name) {
        Some(f) => f.1 = bytes,
        None => files.push((name.to_string(), bytes)),
    }
}

fn remove(files: &mut Files, name: &str) {
    let before = files.len();
    files.retain(|(n, _)| n != name);
    assert_eq!(files.len() + 1, before, "{name} was not in the package");
}

/// The example package's files, as a folder under a new temporary folder.
fn folder(files: &Files) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pkg");
    r#gen::write_dir(&dir, files);
    (tmp, dir)
}

/// Runs `sepkg --json audit ARGS` and returns the exit code and document.
fn audit_json(args: &[&str]) -> (i32, Value) {
    let out = sepkg()
        .arg("--json")
        .arg("audit")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (out.status.code().unwrap(), doc)
}

fn path_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every finding of every package, package-level and root-level.
fn findings(doc: &Value) -> Vec<Value> {
    let mut all = Vec::new();
    for p in doc["packages"].as_array().unwrap() {
        all.extend(p["findings"].as_array().unwrap().iter().cloned());
        for r in p["roots"].as_array().unwrap() {
            all.extend(r["findings"].as_array().unwrap().iter().cloned());
        }
    }
    all
}

fn codes(doc: &Value) -> BTreeSet<String> {
    findings(doc)
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The finding with `code`, failing with the whole list when it is absent.
fn finding(doc: &Value, code: &str) -> Value {
    findings(doc)
        .into_iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {:#?}", codes(doc)))
}

fn msi_report(doc: &Value) -> Value {
    doc["packages"][0]["roots"][0]["msis"][0].clone()
}

fn bundled_example_fails_with_the_self_managed_finding() {
    let zip = fixtures().join(r#gen::EXAMPLE_ZIP);
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 1);
    let f = finding(&doc, "self-managed-after-upgrade");
    assert_eq!(f["severity"], "error");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("KeepPreviousSetting=1 in [CUSTOM_SMC_CONFIG] (setAid.ini line 4)"),
        "{f}"
    );
    assert!(f["hint"].as_str().unwrap().contains("sepkg transform"));
    let root = &doc["packages"][0]["roots"][0];
    assert_eq!(root["setaid"]["keep_previous_setting"]["value"], "1");
    assert_eq!(root["setaid"]["keep_previous_setting"]["line"], 4);
    assert_eq!(root["sylink"]["managed"], false);
    assert_eq!(root["setaid"]["features"][0]["name"], "Core");
    assert_eq!(doc["summary"]["exit_code"], 1);

    // The human report says the same.
    let out = sepkg().arg("audit").arg(&zip).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("ERROR    self-managed-after-upgrade"),
        "{stdout}"
    );
    assert!(stdout.contains("hint: run `sepkg transform"), "{stdout}");
    assert!(
        stdout.contains("KeepPreviousSetting    1  [CUSTOM_SMC_CONFIG] setAid.ini line 4"),
        "{stdout}"
    );
}

fn transformed_example_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("SEP-managed.zip");
    sepkg()
        .arg("transform")
        .arg(fixtures().join(r#gen::EXAMPLE_ZIP))
        .arg("--sylink")
        .arg(fixtures().join(r#gen::EXAMPLE_SYLINK))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let (code, doc) = audit_json(&[path_arg(&out)]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    let worst: BTreeSet<String> = findings(&doc)
        .iter()
        .map(|f| f["severity"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(worst, BTreeSet::from(["info".to_string()]));
    let root = &doc["packages"][0]["roots"][0];
    assert_eq!(root["setaid"]["keep_previous_setting"]["value"], "0");
    assert_eq!(root["sylink"]["managed"], true);
    assert_eq!(
        root["sylink"]["domain_id"],
        "AB969193097B6C8502344D15563D3282"
    );
    assert_eq!(root["sylink"]["servers"][1]["address"], "sepm.example.com");
    assert_eq!(
        root["sylink"]["preferred_group"],
        "My Company\\Workstations"
    );
    // The Kcs is a secret: it is never printed.
    assert!(!doc.to_string().contains("F51F7A0D7C3E4B2A9D8E1F0A2B3C08CD"));
    // The sidecar and manifest transform wrote agree with the output.
    finding(&doc, "sha256-sidecar-match");
    finding(&doc, "manifest-match");
    let sha = support::sha256(&std::fs::read(&out).unwrap());
    assert_eq!(doc["packages"][0]["sha256"], sha.as_str());
}

// ---------------------------------------------------------------------------
// The MSI reading, checked against msiinfo.

/// Tables as `msiinfo export` prints them: rows after the three header lines.
fn msiinfo_rows(msi: &Path, table: &str) -> Vec<Vec<String>> {
    let out = std::process::Command::new("msiinfo")
        .args(["export", path_arg(msi), table])
        .output()
        .unwrap();
    assert!(out.status.success(), "msiinfo export {table} failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(3)
        .map(|l| {
            l.trim_end_matches('\r')
                .split('\t')
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn msiinfo_summary(msi: &Path, field: &str) -> String {
    let out = std::process::Command::new("msiinfo")
        .args(["suminfo", path_arg(msi)])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("no {field} in msiinfo suminfo:\n{text}"))
        .to_string()
}

/// True when msitools can be used; in CI (which installs them) they must be.
fn have_msitools(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !support::have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install {missing:?} (apt-get install msitools wixl)"
    );
    eprintln!("SKIPPED msiinfo cross-check: {missing:?} not installed");
    false
}

/// Asserts that the audit's MSI fields equal what msiinfo prints for `msi`.
fn assert_agrees_with_msiinfo(msi_in_pkg: &Path, report: &Value) {
    let props: std::collections::BTreeMap<String, String> = msiinfo_rows(msi_in_pkg, "Property")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    for (json, prop) in [
        ("product_code", "ProductCode"),
        ("upgrade_code", "UpgradeCode"),
        ("product_version", "ProductVersion"),
        ("product_name", "ProductName"),
        ("manufacturer", "Manufacturer"),
    ] {
        assert_eq!(report[json], props[prop].as_str(), "{prop}");
    }
    assert_eq!(
        report["package_code"],
        msiinfo_summary(msi_in_pkg, "Revision number (UUID)").as_str()
    );
    let template = msiinfo_summary(msi_in_pkg, "Template");
    let (platform, langs) = template.split_once(';').unwrap();
    assert_eq!(report["platform"], platform);
    let langs: Vec<u64> = langs.split(',').map(|l| l.parse().unwrap()).collect();
    assert_eq!(report["languages"], serde_json::json!(langs));

    let expected: BTreeSet<Vec<String>> = msiinfo_rows(msi_in_pkg, "Upgrade").into_iter().collect();
    let ours: BTreeSet<Vec<String>> = report["upgrade"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            [
                "upgrade_code",
                "version_min",
                "version_max",
                "language",
                "attributes",
                "remove",
                "action_property",
            ]
            .iter()
            .map(|k| match &r[*k] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(ours, expected);
}

fn msi_built_with_the_msi_crate_agrees_with_msiinfo() {
    if !have_msitools(&["msiinfo"]) {
        return;
    }
    let mut spec = MsiSpec::example(r#gen::VERSION);
    spec.package_code = "{0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0}".into();
    spec.upgrade.push(UpgradeRow {
        upgrade_code: "{CCCCCCCC-1111-2222-3333-444444444444}".into(),
        min: Some("11.0.0".into()),
        max: Some("12.0.6".into()),
        attributes: 4 | 256 | 512 | 1024,
        property: "LEGACYFOUND".into(),
    });
    let files = r#gen::root_files(r#gen::Enc::Ansi, "\r\n", &spec);
    let (_tmp, dir) = folder(&files);
    let (_, doc) = audit_json(&[path_arg(&dir)]);
    let report = msi_report(&doc);
    assert_eq!(report["entry"], "Sep64.msi");
    assert_agrees_with_msiinfo(&dir.join("Sep64.msi"), &report);
    assert_eq!(
        report["package_code"],
        "{0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0}"
    );
    // The generated MSI has no InstallExecuteSequence: nothing to tell.
    assert_eq!(report["remove_existing_products"], Value::Null);
    let legacy = report["upgrade"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action_property"] == "LEGACYFOUND")
        .unwrap();
    assert_eq!(
        legacy["attribute_names"],
        serde_json::json!([
            "IgnoreRemoveFailure",
            "VersionMinInclusive",
            "VersionMaxInclusive",
            "LanguagesExclusive"
        ])
    );
    assert_eq!(legacy["own_product"], false);
    assert_eq!(legacy["range"], ">= 11.0.0 and <= 12.0.6");
}

fn msi_built_with_wixl_agrees_with_msiinfo() {
    if !have_msitools(&["wixl", "msiinfo"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let wxs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/upgrade.wxs");
    std::fs::write(tmp.path().join("readme.txt"), "synthetic fixture\n").unwrap();
    let msi = tmp.path().join("built.msi");
    let status = std::process::Command::new("wixl")
        .current_dir(tmp.path())
        .args(["-a", "x64", "-o", path_arg(&msi), path_arg(&wxs)])
        .status()
        .unwrap();
    assert!(status.success(), "wixl failed");

    // A zip package around it, so the MSI is read through a temporary file.
    let mut files = r#gen::example_files();
    set(&mut files, "Sep64.msi", std::fs::read(&msi).unwrap());
    let zip = tmp.path().join("wixl-package.zip");
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    let (_, doc) = audit_json(&[path_arg(&zip), "--from-version", "14.3.8200.0"]);
    let report = msi_report(&doc);
    assert!(report["error"].is_null(), "{report}");
    assert_agrees_with_msiinfo(&msi, &report);
    assert_eq!(
        report["product_code"],
        "{11111111-2222-3333-4444-555555555555}"
    );
    assert_eq!(report["upgrade"].as_array().unwrap().len(), 3);
    // wixl sequences RemoveExistingProducts (tests/data/upgrade.wxs).
    assert_eq!(report["remove_existing_products"], true);
    // The removing row for its own UpgradeCode decides for 14.3.8200.
    let d = &report["from_version"];
    assert_eq!(d["removes"], true);
    let decider = &report["upgrade"][d["deciding_row"].as_u64().unwrap() as usize];
    assert_eq!(decider["action_property"], "OLDERVERSIONBEINGUPGRADED");
    assert_eq!(decider["own_product"], true);
    finding(&doc, "from-version-removed");
}

// ---------------------------------------------------------------------------
// Damaged MSIs: a finding naming the file and entry, never a panic.

fn truncated_and_bit_flipped_msis_never_panic() {
    let good = r#gen::msi(&MsiSpec::example(r#gen::VERSION));
    let mut variants: Vec<Vec<u8>> = [0, 8, 511, 512, 1024, good.len() / 2, good.len() - 1]
        .iter()
        .map(|&n| good[..n].to_vec())
        .collect();
    // Flip bytes across the header, the FAT, the directory and the streams.
    for pos in (0..good.len()).step_by(97) {
        let mut bad = good.clone();
        bad[pos] ^= 0xFF;
        variants.push(bad);
    }
    let mut failed = 0;
    for bytes in &variants {
        // The library call returns; a panic here would fail the test.
        if let Err(e) = sepkg::msi::read(std::io::Cursor::new(bytes.clone())) {
            assert!(!e.0.is_empty());
            failed += 1;
        }
    }
    eprintln!("{failed} of {} damaged MSIs were refused", variants.len());
    // Every truncation is refused; the flips hit the header and tables too.
    assert!(failed >= 7, "{failed}");
    // Through the binary, inside a zip: a finding that names both.
    let mut files = r#gen::example_files();
    set(&mut files, "Sep64.msi", good[..good.len() / 2].to_vec());
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("damaged.zip");
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 1);
    let f = finding(&doc, "msi-unreadable");
    assert_eq!(f["severity"], "error");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("damaged.zip") && msg.contains("\"Sep64.msi\""),
        "{msg}"
    );
    // And in the human report, with no panic message on stderr.
    let out = sepkg().arg("audit").arg(&zip).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("msi-unreadable"), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Bytes where one flipped bit makes the `msi` crate panic (an `unwrap` on
/// a `None`): found by flipping every byte of the generated MSI. If the
/// generator's output changes, find new ones the same way.
const PANICKING_FLIPS: [(usize, u8); 2] = [(8568, 0x10), (16384, 0x01)];

fn a_panic_in_the_msi_crate_is_contained_and_named() {
    let good = r#gen::msi(&MsiSpec::example(r#gen::VERSION));
    for (pos, bit) in PANICKING_FLIPS {
        let mut bad = good.clone();
        bad[pos] ^= bit;
        let e = sepkg::msi::read(std::io::Cursor::new(bad.clone())).unwrap_err();
        assert!(e.0.contains("gave up on malformed data"), "byte {pos}: {e}");

        let mut files = example();
        set(&mut files, "Sep64.msi", bad);
        let (_tmp, dir) = folder(&files);
        let out = sepkg().arg("audit").arg(&dir).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1));
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stdout.contains("msi-unreadable"), "{stdout}");
        assert!(
            stdout.contains("entry \"Sep64.msi\": the MSI reader gave up"),
            "{stdout}"
        );
    }
}

fn every_flipped_msi_through_the_binary_is_a_finding_or_a_clean_read() {
    // Fewer positions than the library test: each runs the binary.
    let good = r#gen::msi(&MsiSpec::example(r#gen::VERSION));
    for pos in [
        0usize, 30, 48, 60, 76, 512, 600, 1024, 2048, 4096, 8000, 12000,
    ] {
        if pos >= good.len() {
            continue;
        }
        let mut files = r#gen::example_files();
        let mut bad = good.clone();
        bad[pos] ^= 0x5A;
        set(&mut files, "Sep64.msi", bad);
        let (_tmp, dir) = folder(&files);
        let (code, doc) = audit_json(&[path_arg(&dir)]);
        assert_eq!(code, 1, "byte {pos}");
        let report = msi_report(&doc);
        if let Some(err) = report["error"].as_str() {
            assert!(err.contains("Sep64.msi"), "byte {pos}: {err}");
            finding(&doc, "msi-unreadable");
        }
    }
}

// ---------------------------------------------------------------------------
// One scenario per finding code.

struct Case {
    code: &'static str,
    severity: &'static str,
    /// Text the message must contain.
    says: &'static str,
    files: Files,
    args: Vec<&'static str>,
}

fn example() -> Files {
    r#gen::example_files()
}

fn managed() -> Files {
    let mut f = example();
    set(&mut f, "sylink.xml", r#gen::managed_sylink());
    set(
        &mut f,
        "setAid.ini",
        r#gen::SETAID_TEXT
            .replace("KeepPreviousSetting=1", "KeepPreviousSetting=0")
            .replace('\n', "\r\n")
            .into_bytes(),
    );
    f
}

fn with_setaid(text: &str) -> Files {
    let mut f = managed();
    set(
        &mut f,
        "setAid.ini",
        text.replace('\n', "\r\n").into_bytes(),
    );
    f
}

fn with_msi(spec: MsiSpec) -> Files {
    let mut f = managed();
    set(&mut f, "Sep64.msi", r#gen::msi(&spec));
    f
}

fn without_property(name: &str) -> Vec<u8> {
    use msi::{Delete, Expr};
    let bytes = r#gen::msi(&MsiSpec::example(r#gen::VERSION));
    let mut pkg = msi::Package::open(std::io::Cursor::new(bytes)).unwrap();
    pkg.delete_rows(Delete::from("Property").with(Expr::col("Property").eq(Expr::string(name))))
        .unwrap();
    pkg.into_inner().unwrap().into_inner()
}

/// The example MSI with an InstallExecuteSequence that finds related
/// products but never removes them.
fn without_remove_existing_products() -> Files {
    use msi::{Column, Insert, Value};
    let bytes = r#gen::msi(&MsiSpec::example(r#gen::VERSION));
    let mut pkg = msi::Package::open(std::io::Cursor::new(bytes)).unwrap();
    pkg.create_table(
        "InstallExecuteSequence",
        vec![
            Column::build("Action").primary_key().id_string(72),
            Column::build("Condition").nullable().formatted_string(255),
            Column::build("Sequence").nullable().int16(),
        ],
    )
    .unwrap();
    pkg.insert_rows(Insert::into("InstallExecuteSequence").rows(vec![
        vec![
            Value::from("FindRelatedProducts"),
            Value::Null,
            Value::from(25),
        ],
        vec![
            Value::from("InstallValidate"),
            Value::Null,
            Value::from(1400),
        ],
    ]))
    .unwrap();
    let mut f = managed();
    set(&mut f, "Sep64.msi", pkg.into_inner().unwrap().into_inner());
    f
}

fn cases() -> Vec<Case> {
    let managed_kps0 = r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1", "KeepPreviousSetting=0");
    let case = |code, severity, says, files, args: &[&'static str]| Case {
        code,
        severity,
        says,
        files,
        args: args.to_vec(),
    };
    vec![
        case(
            "self-managed-after-upgrade",
            "error",
            "become self-managed",
            example(),
            &[],
        ),
        case(
            "sylink-missing",
            "error",
            "has no sylink.xml",
            {
                let mut f = managed();
                remove(&mut f, "sylink.xml");
                f
            },
            &[],
        ),
        case(
            "sylink-malformed",
            "error",
            "sylink.xml: ",
            {
                let mut f = managed();
                set(
                    &mut f,
                    "sylink.xml",
                    b"<ServerSettings><CommConf></ServerSettings>".to_vec(),
                );
                f
            },
            &[],
        ),
        // With KeepPreviousSetting=0, an unmanaged sylink.xml is an error on its own.
        case(
            "sylink-unmanaged",
            "error",
            "no ServerCertList/Certificate",
            {
                let mut f = managed();
                set(&mut f, "sylink.xml", r#gen::unmanaged_sylink());
                f
            },
            &[],
        ),
        case(
            "sylink-empty-server-address",
            "warning",
            "1 Server element(s) have an empty Address",
            {
                let mut f = managed();
                let text = String::from_utf8(r#gen::managed_sylink()).unwrap().replace(
                "<Server Address=\"10.0.0.111\"",
                "<Server Address=\"\" HttpPort=\"80\"/>\n        <Server Address=\"10.0.0.111\"",
            );
                set(&mut f, "sylink.xml", text.into_bytes());
                f
            },
            &[],
        ),
        case(
            "setaid-missing",
            "error",
            "but no SetAid.ini",
            {
                let mut f = managed();
                remove(&mut f, "setAid.ini");
                f
            },
            &[],
        ),
        case(
            "setaid-unreadable",
            "error",
            "setAid.ini: binary data",
            {
                let mut f = managed();
                set(
                    &mut f,
                    "setAid.ini",
                    b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=0\x01\r\n".to_vec(),
                );
                f
            },
            &[],
        ),
        case(
            "setaid-duplicate-key",
            "warning",
            "[FEATURE_SELECTION] Core appears 2 times (lines 9, 18)",
            with_setaid(&format!("{managed_kps0}Core=0\n")),
            &[],
        ),
        case(
            "keep-previous-missing",
            "warning",
            "[CUSTOM_SMC_CONFIG] has no KeepPreviousSetting",
            with_setaid(&r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1\n", "")),
            &[],
        ),
        case(
            "keep-previous-other-section",
            "warning",
            "KeepPreviousSetting=1 stands in [Startup] at line 20",
            with_setaid(&format!(
                "{managed_kps0}\n[Startup]\nKeepPreviousSetting=1\n"
            )),
            &[],
        ),
        case(
            "keep-previous-invalid",
            "warning",
            "KeepPreviousSetting is \"yes\" at line 4",
            with_setaid(
                &r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1", "KeepPreviousSetting=yes"),
            ),
            &[],
        ),
        case(
            "setup-ini-missing",
            "warning",
            "has no setup.ini",
            {
                let mut f = managed();
                remove(&mut f, "setup.ini");
                f
            },
            &[],
        ),
        case(
            "setup-ini-unreadable",
            "warning",
            "setup.ini: it has no ProductVersion",
            {
                let mut f = managed();
                set(
                    &mut f,
                    "setup.ini",
                    b"[Startup]\r\nCmdLine=/qn\r\n".to_vec(),
                );
                f
            },
            &[],
        ),
        case(
            "msi-missing",
            "error",
            "has no .msi",
            {
                let mut f = managed();
                remove(&mut f, "Sep64.msi");
                f
            },
            &[],
        ),
        case(
            "msi-unreadable",
            "error",
            "entry \"Sep64.msi\": not a readable MSI database",
            {
                let mut f = managed();
                set(
                    &mut f,
                    "Sep64.msi",
                    b"\xD0\xCF\x11\xE0 not really an MSI".to_vec(),
                );
                f
            },
            &[],
        ),
        case(
            "msi-property-missing",
            "warning",
            "the Property table has no ProductCode",
            {
                let mut f = managed();
                set(&mut f, "Sep64.msi", without_property("ProductCode"));
                f
            },
            &[],
        ),
        case(
            "msi-unsigned",
            "info",
            "Sep64.msi carries no digital signature",
            managed(),
            &[],
        ),
        case(
            "version-mismatch",
            "error",
            "setup.ini says ProductVersion 14.3.9999.0 but Sep64.msi says 14.3.8289.5000",
            {
                let mut f = managed();
                set(&mut f, "setup.ini", r#gen::setup_ini("14.3.9999.0"));
                f
            },
            &[],
        ),
        case(
            "no-upgrade-row",
            "error",
            "no Upgrade row is for its own UpgradeCode",
            {
                let mut spec = MsiSpec::example(r#gen::VERSION);
                spec.upgrade.clear();
                with_msi(spec)
            },
            &[],
        ),
        case(
            "upgrade-only-detect",
            "error",
            "is OnlyDetect",
            {
                let mut spec = MsiSpec::example(r#gen::VERSION);
                spec.upgrade.remove(0);
                with_msi(spec)
            },
            &[],
        ),
        case(
            "no-remove-existing-products",
            "error",
            "InstallExecuteSequence has no RemoveExistingProducts: the Upgrade rows find older versions but nothing removes them",
            without_remove_existing_products(),
            &[],
        ),
        // A matching row removes nothing when the action is not sequenced.
        case(
            "from-version-not-removed",
            "error",
            "installed version 14.2.0 is NOT removed by Sep64.msi: Upgrade row 2 (>= 12.1.0.0 and < 14.3.8289.5000) holds 14.2.0 and is not OnlyDetect, but InstallExecuteSequence has no RemoveExistingProducts",
            without_remove_existing_products(),
            &["--from-version", "14.2.0"],
        ),
        case(
            "from-version-removed",
            "info",
            "installed version 14.2.1000.50 is removed by Sep64.msi: Upgrade row 2",
            managed(),
            &["--from-version", "14.2.1000.50"],
        ),
        // Only the first three fields count: 14.3.8289.1000 is 14.3.8289,
        // which the exclusive maximum 14.3.8289.5000 leaves out.
        case(
            "from-version-not-removed",
            "error",
            "holds 14.3.8289: nothing is removed; Windows Installer sees 14.3.8289.1000 as the same version as this package (14.3.8289.5000)",
            managed(),
            &["--from-version", "14.3.8289.1000"],
        ),
    ]
}

fn each_finding_code_shows_with_its_severity_and_message() {
    let mut seen = BTreeSet::new();
    for case in cases() {
        let (tmp, dir) = folder(&case.files);
        // Every report shape also renders as HTML, naming the finding.
        let html = tmp.path().join("report.html");
        let mut args = vec![path_arg(&dir), "--html", path_arg(&html)];
        args.extend(case.args.iter().copied());
        let (code, doc) = audit_json(&args);
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(
            page.contains(case.code),
            "{}: HTML lacks the code",
            case.code
        );
        let f = finding(&doc, case.code);
        assert_eq!(f["severity"], case.severity, "{}: {f}", case.code);
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.contains(case.says),
            "{}: {msg:?} should say {:?}",
            case.code,
            case.says
        );
        assert!(!f["hint"].as_str().unwrap().is_empty());
        let worst_is_error = findings(&doc).iter().any(|f| f["severity"] == "error");
        assert_eq!(code, if worst_is_error { 1 } else { 0 }, "{}", case.code);
        seen.insert(case.code);
    }
    // The checksum codes are covered by `checksums_beside_the_input_are_checked`,
    // the cross-package ones by `builds_in_one_web_root_are_compared`.
    for code in sepkg::audit::CODES {
        assert!(
            seen.contains(code) || CHECKSUM_CODES.contains(code) || CROSS_CODES.contains(code),
            "finding code {code} has no test"
        );
    }
}

fn managed_package_with_only_info_findings_is_clean() {
    let (_tmp, dir) = folder(&managed());
    let (code, doc) = audit_json(&[path_arg(&dir)]);
    assert_eq!(codes(&doc), BTreeSet::from(["msi-unsigned".to_string()]));
    assert_eq!(code, 0);
}

fn fail_on_warning_fails_on_a_warning() {
    let files = with_setaid(&r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1\n", ""));
    let (_tmp, dir) = folder(&files);
    let (code, _) = audit_json(&[path_arg(&dir)]);
    assert_eq!(code, 0);
    let (code, doc) = audit_json(&[path_arg(&dir), "--fail-on", "warning"]);
    assert_eq!(code, 1);
    assert_eq!(doc["fail_on"], "warning");
}

const CHECKSUM_CODES: [&str; 7] = [
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

// ---------------------------------------------------------------------------
// Inputs, exit codes, HTML.

fn a_web_root_audits_each_package_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("www");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("a-unmanaged.zip"), r#gen::zip(&example())).unwrap();
    std::fs::write(web.join("b-managed.zip"), r#gen::zip(&managed())).unwrap();
    std::fs::write(web.join("index.html"), "<html></html>").unwrap();
    r#gen::write_dir(&web.join("c-folder"), &managed());
    let (code, doc) = audit_json(&[path_arg(&web)]);
    assert_eq!(code, 1);
    let inputs: Vec<String> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            Path::new(p["input"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(inputs, ["a-unmanaged.zip", "b-managed.zip", "c-folder"]);
    let first: Vec<Value> = doc["packages"][0]["roots"][0]["findings"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        first
            .iter()
            .any(|f| f["code"] == "self-managed-after-upgrade")
    );
    let second = &doc["packages"][1]["roots"][0]["findings"];
    assert!(
        !second
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "error")
    );
}

fn several_roots_are_reported_each() {
    let mut files = r#gen::under("x86/", example());
    files.extend(r#gen::under("x64/", managed()));
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("both.zip");
    std::fs::write(&zip, r#gen::zip(&files)).unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 1);
    let roots = doc["packages"][0]["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0]["dir"], "x86/");
    assert!(
        roots[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "self-managed-after-upgrade")
    );
    assert!(
        !roots[1]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "self-managed-after-upgrade")
    );
}

fn unreadable_input_exits_2_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.zip");
    let (code, doc) = audit_json(&[path_arg(&missing)]);
    assert_eq!(code, 2);
    assert_eq!(doc["errors"][0]["error"]["code"], "io");
    assert!(
        doc["errors"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope.zip")
    );
    let bad = tmp.path().join("bad.zip");
    std::fs::write(&bad, b"PK\x03\x04 truncated").unwrap();
    let out = sepkg().arg("audit").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("bad.zip") && stderr.contains("hint:"),
        "{stderr}"
    );
    // A bad --from-version is a usage error.
    let zip = fixtures().join(r#gen::EXAMPLE_ZIP);
    sepkg()
        .args(["audit", path_arg(&zip), "--from-version", "14.x"])
        .assert()
        .code(2);
}

fn html_report_is_written_whole_and_escapes_package_text() {
    let mut files = managed();
    let text = String::from_utf8(r#gen::managed_sylink()).unwrap().replace(
        "My Company\\Workstations",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    );
    set(&mut files, "sylink.xml", text.into_bytes());
    let (tmp, dir) = folder(&files);
    let html = tmp.path().join("report.html");
    let out = sepkg()
        .args([
            "audit",
            path_arg(&dir),
            "--from-version",
            "14.2.0",
            "--html",
            path_arg(&html),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("PASS: no finding at or above"));
    assert!(page.contains("AB969193097B6C8502344D15563D3282"));
    assert!(page.contains("{1F2E3D4C-5B6A-4789-8A7B-6C5D4E3F2A10}"));
    assert!(page.contains("OLDERVERSIONBEINGUPGRADED"));
    assert!(page.contains("from-version-removed"));
    assert!(
        page.contains("&lt;script&gt;"),
        "package text must be escaped"
    );
    assert!(!page.contains("<script>"));
    // Nothing but the report (and the package) is left in the folder.
    let names = support::listing(tmp.path());
    assert_eq!(names, ["pkg", "report.html"]);

    // A failing audit says so on the page.
    let (_tmp2, unmanaged) = folder(&example());
    sepkg()
        .args(["audit", path_arg(&unmanaged), "--html", path_arg(&html)])
        .assert()
        .code(1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("FAIL: findings at or above"));
    assert!(page.contains("self-managed-after-upgrade"));
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

fn readme_audit_example_is_the_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let command =
        "$ sepkg audit fixtures/SEP-14.3.8289.5000-x64-client.zip --from-version 14.3.8289.1000\n";
    let start = readme
        .find(command)
        .expect("README shows the audit example")
        + command.len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let out = sepkg()
        .current_dir(root)
        .args([
            "audit",
            "fixtures/SEP-14.3.8289.5000-x64-client.zip",
            "--from-version",
            "14.3.8289.1000",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out).0,
        shown,
        "README's audit example drifted from the real output"
    );
}

/// The JSON fields are API: this is the README's "audit JSON" table.
fn json_fields_are_the_documented_ones() {
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let sorted = |names: &[&str]| {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let zip = fixtures().join(r#gen::EXAMPLE_ZIP);
    let (_, doc) = audit_json(&[path_arg(&zip), "--from-version", "14.2.0"]);
    assert_eq!(
        keys(&doc),
        sorted(&[
            "schema",
            "tool",
            "fail_on",
            "from_version",
            "packages",
            "errors",
            "summary"
        ])
    );
    assert_eq!(doc["schema"], "sepkg-audit/1");
    assert_eq!(
        keys(&doc["summary"]),
        sorted(&[
            "packages",
            "failed_inputs",
            "errors",
            "warnings",
            "infos",
            "exit_code"
        ])
    );
    let p = &doc["packages"][0];
    assert_eq!(
        keys(p),
        sorted(&[
            "input",
            "kind",
            "size",
            "sha256",
            "hash_checks",
            "container",
            "signatures",
            "roots",
            "findings"
        ])
    );
    let r = &p["roots"][0];
    assert_eq!(
        keys(r),
        sorted(&[
            "dir",
            "setaid",
            "setup_ini",
            "msis",
            "sylink",
            "signatures",
            "findings"
        ])
    );
    assert_eq!(
        keys(&r["setaid"]),
        sorted(&[
            "entry",
            "encoding",
            "keep_previous_setting",
            "keep_previous_elsewhere",
            "features",
            "duplicates",
            "error"
        ])
    );
    let m = &r["msis"][0];
    assert_eq!(
        keys(m),
        sorted(&[
            "entry",
            "size",
            "product_code",
            "upgrade_code",
            "product_version",
            "product_name",
            "manufacturer",
            "package_code",
            "platform",
            "languages",
            "has_upgrade_table",
            "remove_existing_products",
            "signed",
            "upgrade",
            "from_version",
            "error",
        ])
    );
    assert_eq!(
        keys(&m["upgrade"][0]),
        sorted(&[
            "upgrade_code",
            "version_min",
            "version_max",
            "language",
            "attributes",
            "attribute_names",
            "remove",
            "action_property",
            "own_product",
            "range",
            "meaning",
        ])
    );
    assert_eq!(
        keys(&m["from_version"]),
        sorted(&[
            "installed",
            "compared_as",
            "removes",
            "detected",
            "deciding_row",
            "rows",
            "reason"
        ])
    );
    assert_eq!(
        m["from_version"]["rows"],
        serde_json::json!(["out-of-range", "removes"])
    );
    assert_eq!(
        keys(&r["sylink"]),
        sorted(&[
            "entry",
            "managed",
            "missing",
            "error",
            "encoding",
            "domain_id",
            "kcs_valid",
            "communication_mode",
            "servers",
            "certificates",
            "preferred_group",
            "preferred_mode",
        ])
    );
    assert_eq!(
        keys(&r["findings"][0]),
        sorted(&["code", "severity", "entry", "message", "hint"])
    );
}

fn a_published_web_root_audits_clean_with_every_record_agreeing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("SEP-managed.zip");
    sepkg()
        .arg("transform")
        .arg(fixtures().join(r#gen::EXAMPLE_ZIP))
        .arg("--sylink")
        .arg(fixtures().join(r#gen::EXAMPLE_SYLINK))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let web = tmp.path().join("www");
    std::fs::create_dir(&web).unwrap();
    sepkg()
        .arg("publish")
        .arg(&out)
        .arg("--to")
        .arg(&web)
        .assert()
        .success();
    let (code, doc) = audit_json(&[path_arg(&web)]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    assert_eq!(doc["packages"].as_array().unwrap().len(), 1);
    let checks: Vec<(String, bool)> = doc["packages"][0]["hash_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["matches"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("sha256".to_string(), true),
            ("manifest".to_string(), true),
            ("sha256sums".to_string(), true)
        ]
    );
}

fn a_damaged_msi_entry_in_a_zip_is_named_once() {
    let mut bytes = r#gen::zip(&example());
    let name = bytes.windows(9).position(|w| w == b"Sep64.msi").unwrap();
    // Inside the entry's compressed data: inflating or the CRC check fails.
    bytes[name + 9 + 300] ^= 0xFF;
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("crc.zip");
    std::fs::write(&zip, bytes).unwrap();
    let (code, doc) = audit_json(&[path_arg(&zip)]);
    assert_eq!(code, 1);
    let msg = finding(&doc, "msi-unreadable")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("cannot unpack the entry"), "{msg}");
    assert_eq!(
        msg.matches("crc.zip, entry \"Sep64.msi\"").count(),
        1,
        "{msg}"
    );
}

/// A single-file .exe export: a PE stub, a 7-Zip SFX block, a zip payload.
fn exe_package(files: &Files) -> Vec<u8> {
    [
        r#gen::pe_stub(),
        r#gen::sfx_config("setup.exe"),
        r#gen::zip(files),
    ]
    .concat()
}

fn exe_and_cab_packages_are_audited_with_their_container_facts() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("SEP-setup.exe");
    std::fs::write(&exe, exe_package(&example())).unwrap();
    let (code, doc) = audit_json(&[path_arg(&exe)]);
    assert_eq!(code, 1);
    finding(&doc, "self-managed-after-upgrade");
    let p = &doc["packages"][0];
    assert_eq!(p["kind"], "exe");
    assert_eq!(p["container"]["exe"]["payload_kind"], "zip");
    assert_eq!(
        p["container"]["exe"]["sfx_config"]["settings"][1],
        serde_json::json!({"key": "RunProgram", "value": "setup.exe"})
    );
    assert_eq!(
        p["signatures"],
        serde_json::json!([{"entry": "", "kind": "authenticode", "present": false}])
    );
    let out = sepkg().arg("audit").arg(&exe).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(
            "SFX settings: Title=\"Symantec Endpoint Protection\" RunProgram=\"setup.exe\""
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("signature (authenticode): none"),
        "{stdout}"
    );

    // The transform's cabinet output audits clean, through the same API.
    let cab = tmp.path().join("SEP-managed.cab");
    sepkg()
        .arg("transform")
        .arg(fixtures().join(r#gen::EXAMPLE_ZIP))
        .arg("--sylink")
        .arg(fixtures().join(r#gen::EXAMPLE_SYLINK))
        .args(["--to", "cab", "-o"])
        .arg(&cab)
        .assert()
        .success();
    let (code, doc) = audit_json(&[path_arg(&cab)]);
    assert_eq!(code, 0, "{:#?}", findings(&doc));
    let p = &doc["packages"][0];
    assert_eq!(p["kind"], "cab");
    assert_eq!(p["signatures"][0]["kind"], "cab-signature");
    assert_eq!(p["signatures"][0]["present"], false);
    // The MSI inside the cabinet was read through a temporary file.
    assert_eq!(
        p["roots"][0]["msis"][0]["package_code"],
        r#gen::PACKAGE_CODE
    );
    finding(&doc, "sha256-sidecar-match");
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

const CROSS_CODES: [&str; 2] = ["package-code-reused", "product-code-reused"];

fn builds_in_one_web_root_are_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("www");
    std::fs::create_dir(&web).unwrap();
    let with = |spec: &MsiSpec| {
        let mut f = managed();
        set(&mut f, "setup.ini", r#gen::setup_ini(&spec.version));
        set(&mut f, "Sep64.msi", r#gen::msi(spec));
        r#gen::zip(&f)
    };
    // a: the example build.
    std::fs::write(web.join("a.zip"), with(&MsiSpec::example(r#gen::VERSION))).unwrap();
    // b: a newer version that kept the ProductCode (not a major upgrade).
    let mut b = MsiSpec::example("14.3.9000.1");
    b.package_code = "{B0B1C2D3-E4F5-4607-8899-AABBCCDDEEFF}".into();
    std::fs::write(web.join("b.zip"), with(&b)).unwrap();
    // c: a new ProductCode and version, but a's PackageCode.
    let mut c = MsiSpec::example("14.3.9100.1");
    c.product_code = "{C1C2C3C4-5B6A-4789-8A7B-6C5D4E3F2A10}".into();
    std::fs::write(web.join("c.zip"), with(&c)).unwrap();
    // d: a copy of a (same build twice is fine).
    std::fs::copy(web.join("a.zip"), web.join("d.zip")).unwrap();

    let (code, doc) = audit_json(&[path_arg(&web)]);
    assert_eq!(code, 1);
    let of = |n: usize| -> BTreeSet<String> {
        doc["packages"][n]["roots"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .filter(|c| CROSS_CODES.contains(&c.as_str()))
            .collect()
    };
    assert!(of(0).is_empty());
    assert_eq!(of(1), BTreeSet::from(["product-code-reused".to_string()]));
    assert_eq!(of(2), BTreeSet::from(["package-code-reused".to_string()]));
    assert!(of(3).is_empty(), "{:?}", of(3));
    let f = finding(&doc, "product-code-reused");
    assert_eq!(f["severity"], "error");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("b.zip (version 14.3.9000.1)")
            && msg.contains("a.zip (version 14.3.8289.5000)"),
        "{msg}"
    );
    let f = finding(&doc, "package-code-reused");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("{A0B1C2D3-E4F5-4607-8899-AABBCCDDEEFF}")
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        bundled_example_fails_with_the_self_managed_finding,
        transformed_example_passes,
        msi_built_with_the_msi_crate_agrees_with_msiinfo,
        msi_built_with_wixl_agrees_with_msiinfo,
        truncated_and_bit_flipped_msis_never_panic,
        a_panic_in_the_msi_crate_is_contained_and_named,
        every_flipped_msi_through_the_binary_is_a_finding_or_a_clean_read,
        each_finding_code_shows_with_its_severity_and_message,
        managed_package_with_only_info_findings_is_clean,
        fail_on_warning_fails_on_a_warning,
        checksums_beside_the_input_are_checked,
        a_web_root_audits_each_package_in_it,
        several_roots_are_reported_each,
        unreadable_input_exits_2_and_names_it,
        html_report_is_written_whole_and_escapes_package_text,
        a_signed_msi_is_reported_as_signed,
        readme_audit_example_is_the_real_output,
        json_fields_are_the_documented_ones,
        a_published_web_root_audits_clean_with_every_record_agreeing,
        a_damaged_msi_entry_in_a_zip_is_named_once,
        exe_and_cab_packages_are_audited_with_their_container_facts,
        a_signed_exe_shows_its_authenticode_signature,
        builds_in_one_web_root_are_compared,
    ]
}
