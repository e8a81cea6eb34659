//! The MSI: its tables read as msitools' `msiinfo` reads them (MSIs built
//! with the `msi` crate and with `wixl`), the findings on its properties,
//! versions and Upgrade rows (`--from-version`), and damaged MSIs: a
//! finding naming the package and the entry, never a panic.

use super::*;
use crate::support::r#gen as fx;
use crate::support::harness::tests;
use crate::support::{assert_no_panic, snapshot};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials = tests![
        msi_built_with_the_msi_crate_agrees_with_msiinfo,
        msi_built_with_wixl_agrees_with_msiinfo,
        truncated_and_bit_flipped_msis_never_panic,
        a_panic_in_the_msi_crate_is_contained_and_named,
        every_flipped_msi_through_the_binary_is_a_finding_or_a_clean_read,
        a_damaged_msi_entry_in_a_zip_is_named_once,
        from_versions_windows_installer_cannot_hold_are_refused,
    ];
    trials.extend(damaged_msi_trials());
    trials
}

pub(super) fn scenarios() -> Vec<Scenario> {
    let mut all = table_scenarios();
    all.extend(upgrade_scenarios());
    all
}

/// The MSI itself: missing, unreadable, its properties.
fn table_scenarios() -> Vec<Scenario> {
    vec![
        scenario(
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
        scenario(
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
        scenario(
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
        scenario(
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
    ]
}

/// The Upgrade table and `--from-version`.
fn upgrade_scenarios() -> Vec<Scenario> {
    vec![
        scenario(
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
        scenario(
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
        scenario(
            "no-remove-existing-products",
            "error",
            "InstallExecuteSequence has no RemoveExistingProducts: the Upgrade rows find older versions but nothing removes them",
            without_remove_existing_products(),
            &[],
        ),
        // A matching row removes nothing when the action is not sequenced.
        scenario(
            "from-version-not-removed",
            "error",
            "installed version 14.2.0 is NOT removed by Sep64.msi: Upgrade row 2 (>= 12.1.0.0 and < 14.3.8289.5000) holds 14.2.0 and is not OnlyDetect, but InstallExecuteSequence has no RemoveExistingProducts",
            without_remove_existing_products(),
            &["--from-version", "14.2.0"],
        ),
        scenario(
            "from-version-removed",
            "info",
            "installed version 14.2.1000.50 is removed by Sep64.msi: Upgrade row 2",
            managed(),
            &["--from-version", "14.2.1000.50"],
        ),
        // Only the first three fields count: 14.3.8289.1000 is 14.3.8289,
        // which the exclusive maximum 14.3.8289.5000 leaves out.
        scenario(
            "from-version-not-removed",
            "error",
            "holds 14.3.8289: nothing is removed; Windows Installer sees 14.3.8289.1000 as the same version as this package (14.3.8289.5000)",
            managed(),
            &["--from-version", "14.3.8289.1000"],
        ),
    ]
}

fn without_property(name: &str) -> Vec<u8> {
    use ::msi::{Delete, Expr};
    let bytes = r#gen::msi(&MsiSpec::example(r#gen::VERSION));
    let mut pkg = ::msi::Package::open(std::io::Cursor::new(bytes)).unwrap();
    pkg.delete_rows(Delete::from("Property").with(Expr::col("Property").eq(Expr::string(name))))
        .unwrap();
    pkg.into_inner().unwrap().into_inner()
}

/// The example MSI with an InstallExecuteSequence that finds related
/// products but never removes them.
fn without_remove_existing_products() -> Files {
    use ::msi::{Column, Insert, Value};
    let bytes = r#gen::msi(&MsiSpec::example(r#gen::VERSION));
    let mut pkg = ::msi::Package::open(std::io::Cursor::new(bytes)).unwrap();
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

/// A damaged Sep64.msi: its name, its bytes, and what the finding must say
/// about it.
type MsiDamage = (&'static str, fn() -> Vec<u8>, &'static str);

fn good_msi() -> Vec<u8> {
    fx::msi(&fx::MsiSpec::example(fx::VERSION))
}

/// The damages: each makes the MSI unreadable.
fn msi_damages() -> Vec<MsiDamage> {
    vec![
        ("empty", Vec::new, "0 bytes is too small"),
        (
            "not-ole",
            || b"This is not an OLE compound file.\r\n".repeat(40),
            "wrong magic number",
        ),
        (
            "ole-magic-only",
            || {
                let mut b = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
                b.extend(fx::filler(600, 13));
                b
            },
            "byte order mark",
        ),
        (
            "cut-header",
            || good_msi()[..300].to_vec(),
            "300 bytes is too small",
        ),
        (
            "cut-512",
            || good_msi()[..512].to_vec(),
            "length of 512 < sector length",
        ),
        (
            "cut-half",
            || {
                let b = good_msi();
                b[..b.len() / 2].to_vec()
            },
            "Malformed FAT",
        ),
        (
            "cut-last-sector",
            || {
                let b = good_msi();
                b[..b.len() - 4096].to_vec()
            },
            "Malformed FAT",
        ),
        (
            "flip-magic",
            || {
                let mut b = good_msi();
                b[0] ^= 0x01;
                b
            },
            "wrong magic number",
        ),
        (
            "flip-sector-shift",
            || {
                let mut b = good_msi();
                b[30] ^= 0x04;
                b
            },
            "sector shift",
        ),
        (
            "flip-directory-start",
            || {
                let mut b = good_msi();
                b[48] ^= 0x40;
                b
            },
            "Directory chain",
        ),
    ]
}

/// A package holding `msi` as Sep64.msi, written under `dir` as a
/// `kind` ("zip", "cab" or a folder); returns its path.
fn package_with_msi(dir: &Path, name: &str, kind: &str, msi: Vec<u8>) -> PathBuf {
    let files = fx::example_with("Sep64.msi", msi);
    let path = dir.join(name);
    match kind {
        "zip" => std::fs::write(&path, fx::zip(&files)).unwrap(),
        "cab" => std::fs::write(&path, fx::cab(&fx::cab_names(files))).unwrap(),
        _ => fx::write_dir(&path, &files),
    }
    path
}

/// One trial per damage and container:
/// `audit::msi::damaged::DAMAGE::in_zip|in_cab|in_dir`.
fn damaged_msi_trials() -> Vec<libtest_mimic::Trial> {
    let mut trials = Vec::new();
    for damage in msi_damages() {
        for kind in ["zip", "cab", "dir"] {
            let name = format!(
                "audit::msi::damaged::{}::in_{kind}",
                damage.0.replace('-', "_")
            );
            trials.push(test_with(
                name,
                (damage, kind),
                audit_of_a_damaged_msi_is_a_finding_naming_package_and_entry,
            ));
        }
    }
    trials
}

fn audit_of_a_damaged_msi_is_a_finding_naming_package_and_entry(
    ((damage, bytes, says), kind): (MsiDamage, &'static str),
) {
    // transform never parses the MSI (it is copied byte for byte); audit
    // does, and an unreadable one is the error finding `msi-unreadable`:
    // exit 1 (not 2: the package itself was read), no panic, nothing
    // written, the input unchanged.
    let what = format!("{damage} in a {kind}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let name = format!("msi-{damage}.{kind}");
    let input = package_with_msi(dir, &name, kind, bytes());
    let before = snapshot(dir);
    let json = sepkg()
        .args(["audit", "--json"])
        .arg(&input)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&json);
    assert_no_panic(&what, &stderr);
    assert_no_panic(&what, &stdout);
    assert_eq!(json.status.code(), Some(1), "{what}: {stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // The MSI is a root's file: its findings are the root's.
    let findings = doc["packages"][0]["roots"][0]["findings"]
        .as_array()
        .unwrap();
    let f = findings
        .iter()
        .find(|f| f["code"] == "msi-unreadable")
        .unwrap_or_else(|| panic!("{what}: no msi-unreadable in {findings:?}"));
    assert_eq!(f["severity"], "error", "{what}");
    assert_eq!(f["entry"], "Sep64.msi", "{what}");
    let message = f["message"].as_str().unwrap();
    if std::env::var_os("HOSTILE_SHOW").is_some() {
        eprintln!("--- {what}\n{message}");
    }
    assert!(
        message.contains(&format!("{name}, entry \"Sep64.msi\"")),
        "{what}: the message does not name the package and the entry: {message}"
    );
    assert!(
        message.contains("not a readable MSI database") && message.contains(says),
        "{what}: the message does not say {says:?}: {message}"
    );
    assert_eq!(doc["summary"]["exit_code"], 1, "{what}");

    // The human report says it too, with the same exit code.
    let human = sepkg().arg("audit").arg(&input).output().unwrap();
    let (stdout, stderr) = text(&human);
    assert_no_panic(&what, &stderr);
    assert_no_panic(&what, &stdout);
    assert_eq!(human.status.code(), Some(1), "{what}: {stdout}\n{stderr}");
    assert!(stdout.contains("msi-unreadable"), "{what}: {stdout}");
    assert!(stdout.contains("entry \"Sep64.msi\""), "{what}: {stdout}");
    assert_eq!(snapshot(dir), before, "{what}: something changed");
}

/// Windows Installer versions are major.minor.build with major and minor
/// at most 255 and build at most 65535: `--from-version` beyond them
/// describes no installed product, and is refused (exit 2) saying so.
fn from_versions_windows_installer_cannot_hold_are_refused() {
    let (_tmp, dir) = folder(&managed());
    for (v, says) in [
        ("300.0.0", "the major field is 300, over 255"),
        ("14.256.1", "the minor field is 256, over 255"),
        ("14.3.70000", "the build field is 70000, over 65535"),
    ] {
        let out = sepkg()
            .arg("audit")
            .arg(&dir)
            .args(["--from-version", v])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{v}: {stdout}{stderr}");
        assert!(stderr.contains(says), "{v}: {stderr}");
        assert!(stderr.contains("Windows Installer versions are major.minor.build"));
        assert!(stdout.is_empty(), "{v}: nothing is audited: {stdout}");
    }
    // The largest versions it can hold are accepted.
    let (code, doc) = audit_json(&[path_arg(&dir), "--from-version", "255.255.65535.99999"]);
    assert_eq!(code, 1, "a version above the package's is not removed");
    assert_eq!(doc["from_version"], "255.255.65535.99999");
}
