//! 7z packages through the command line, as an administrator uses them: a
//! 7-Zip single-file export transformed in place, a folder or zip export
//! turned into a single-file `setup.exe` with a 7z SFX stub, conversions
//! to and from 7z, and the audit of a 7z export. Every output is checked by
//! 7-Zip itself (`7zz t`, `7zz x`, `7zz l -slt`) and by running 7-Zip's
//! own console self-extractor (`7zCon.sfx` from Debian's p7zip-full) on the
//! rewritten payload.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sevenz::{coders, expected, methods, skip};
use crate::support::r#gen as fx;
use crate::support::harness::tests;
use crate::support::sevenz::{self as sz, settings};
use crate::support::{sepkg, text};

fn sylink(dir: &Path) -> PathBuf {
    let p = dir.join("managed.xml");
    std::fs::write(&p, fx::managed_sylink()).unwrap();
    p
}

/// `sepkg --json transform INPUT --sylink managed.xml -o OUT EXTRA...`:
/// asserts exit 0 and returns the manifest.
fn transform(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let dir = out.parent().unwrap();
    let o = sepkg()
        .args(["--json", "transform"])
        .arg(input)
        .arg("--sylink")
        .arg(sylink(dir))
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    doc["transformed"][0]["manifest"].clone()
}

/// The usual package as a 7-Zip single-file export made with `settings`.
fn export(dir: &Path, settings: &[&str]) -> PathBuf {
    let input = dir.join("SEP-setup.exe");
    std::fs::write(&input, sz::sfx(&sz::package(dir, settings))).unwrap();
    input
}

/// `7zz t` accepts `file` with no warning, and `7zz x` gives exactly the
/// transformed package (edits made, every other file as it was, the empty
/// file and the empty folder kept).
fn assert_7zip_extracts_the_package(file: &Path, dir: &Path) {
    let (ok, log) = sz::test(file);
    assert!(
        ok && !log.contains("WARNING"),
        "7zz t {}:\n{log}",
        file.display()
    );
    let x = dir.join(format!("x-{}", file.file_name().unwrap().to_string_lossy()));
    let (files, dirs) = sz::extract(file, &x);
    assert_eq!(files, expected(), "7zz x {}", file.display());
    assert!(dirs.iter().any(|d| d == sz::EMPTY_DIR), "{dirs:?}");
}

/// The 7z archive inside the .exe at `exe`, after `prefix` bytes.
fn payload(exe: &Path, prefix: usize) -> Vec<u8> {
    std::fs::read(exe).unwrap()[prefix..].to_vec()
}

/// Runs 7-Zip's console self-extractor with `archive` appended: it must
/// extract the transformed package. SKIPPED without p7zip-full.
fn assert_7zip_sfx_extracts(archive: &[u8], dir: &Path) {
    let Some(module) = sz::console_sfx() else {
        eprintln!("SKIPPED: /usr/lib/p7zip/7zCon.sfx (p7zip-full) is not installed");
        return;
    };
    let sfx = dir.join("console.sfx");
    std::fs::write(&sfx, [module, archive.to_vec()].concat()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sfx, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = dir.join("sfx-out");
    let o = Command::new(&sfx)
        .arg("-y")
        .arg(format!("-o{}", out.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "7zCon.sfx: {:?}", text(&o));
    let (files, _) = sz::read_tree(&out);
    assert_eq!(files, expected(), "what 7-Zip's SFX extracted");
}

fn stub_len() -> usize {
    fx::pe_stub().len() + fx::sfx_config("setup.exe").len()
}

/// The product's case: a 7-Zip single-file export (7-Zip's defaults: one
/// solid LZMA2 folder) transformed into a single-file export that keeps
/// clients managed.
fn a_7zip_single_file_export_is_transformed_in_place() {
    if skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = export(tmp.path(), settings::DEFAULT);
    let out = tmp.path().join("setup.exe");
    let manifest = transform(&input, &out, &[]);
    let bytes = std::fs::read(&out).unwrap();
    let original = std::fs::read(&input).unwrap();
    assert_eq!(
        bytes[..stub_len()],
        original[..stub_len()],
        "the PE stub and the SFX config block are kept byte for byte"
    );
    assert_7zip_extracts_the_package(&out, tmp.path());
    assert_7zip_sfx_extracts(&payload(&out, stub_len()), tmp.path());
    // The folder holding SetAid.ini is spliced or re-encoded, never a new
    // coder, never a larger dictionary.
    let folders = manifest["folders"].as_array().unwrap();
    assert!(
        folders
            .iter()
            .any(|f| matches!(f["action"].as_str(), Some("spliced" | "reencoded"))),
        "{folders:?}"
    );
    let input_coders: Vec<(String, Option<u64>)> =
        methods(&input).iter().flat_map(|m| coders(m)).collect();
    for (name, dict) in methods(&out).iter().flat_map(|m| coders(m)) {
        let same = input_coders.iter().find(|(n, _)| *n == name);
        assert!(
            same.is_some() || name == "Copy",
            "{name} is not a coder of the input {input_coders:?}"
        );
        if let (Some((_, Some(max))), Some(d)) = (same, dict) {
            assert!(d <= *max, "{name}: dictionary {d} > the input's {max}");
        }
    }
    // The records: sha256sum -c accepts the sidecar; the manifest names the
    // output's digest.
    let o = Command::new("sha256sum")
        .current_dir(tmp.path())
        .args(["-c", "setup.exe.sha256"])
        .output()
        .unwrap();
    assert!(o.status.success(), "sha256sum -c: {:?}", text(&o));
    assert_eq!(manifest["output"]["kind"], "exe");
    assert_eq!(manifest["input"]["kind"], "exe");
}

/// Two runs give the same bytes, and transforming the output again changes
/// no file (the package is already managed).
fn transforming_a_7z_export_is_deterministic_and_idempotent() {
    if skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = export(tmp.path(), settings::DEFAULT);
    let (a, b) = (tmp.path().join("a.exe"), tmp.path().join("b.exe"));
    transform(&input, &a, &[]);
    transform(&input, &b, &[]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let again = tmp.path().join("again.exe");
    let manifest = transform(&a, &again, &[]);
    assert_eq!(manifest["changes"], serde_json::json!([]), "{manifest}");
    assert_7zip_extracts_the_package(&again, tmp.path());
}

/// `-ms=off`: a folder per file. Only the folders of the edited files are
/// rewritten; every other one is copied as it is.
fn a_non_solid_export_copies_every_untouched_folder() {
    if skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = export(tmp.path(), settings::NON_SOLID);
    let out = tmp.path().join("setup.exe");
    let manifest = transform(&input, &out, &[]);
    let folders = manifest["folders"].as_array().unwrap();
    let copied = folders.iter().filter(|f| f["action"] == "copied").count();
    let rewritten: Vec<_> = folders.iter().filter(|f| f["action"] != "copied").collect();
    assert_eq!(
        rewritten.len(),
        2,
        "SetAid.ini's and sylink.xml's: {folders:?}"
    );
    assert!(copied >= 5, "{folders:?}");
    assert_7zip_extracts_the_package(&out, tmp.path());

    // The human report names the two rewritten folders and sums up the
    // copied ones in one line instead of a line per file.
    let human = tmp.path().join("human.exe");
    let o = sepkg()
        .arg("transform")
        .arg(&input)
        .arg("--sylink")
        .arg(sylink(tmp.path()))
        .arg("-o")
        .arg(&human)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let listed = stdout.lines().filter(|l| l.contains("7z folder ")).count();
    assert_eq!(listed, 2, "{stdout}");
    let summary = format!(
        "7z folders copied as they were: {copied} of {}",
        folders.len()
    );
    assert!(stdout.contains(&summary), "{stdout}");
}

/// An administrator with only a folder (or zip) export makes the single
/// `setup.exe` that URL delivery needs, from a 7-Zip SFX export's stub.
fn a_folder_export_becomes_a_7zip_single_file_export() {
    if skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let stub = export(tmp.path(), settings::DEFAULT);
    let folder = sz::tree(tmp.path(), &sz::package_files(), &[sz::EMPTY_DIR]);
    let out = tmp.path().join("setup.exe");
    let stub_arg = stub.to_string_lossy().into_owned();
    let manifest = transform(&folder, &out, &["--to", "exe", "--stub", &stub_arg]);
    assert_eq!(manifest["output"]["kind"], "exe");
    assert_eq!(manifest["folders"][0]["action"], "added");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        bytes[..stub_len()],
        std::fs::read(&stub).unwrap()[..stub_len()]
    );
    assert_7zip_extracts_the_package(&out, tmp.path());
    assert_7zip_sfx_extracts(&payload(&out, stub_len()), tmp.path());
}

/// 7z to zip, cabinet and folder, and the bundled zip to a plain `.7z`.
fn conversions_to_and_from_7z_keep_every_file() {
    if skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = export(tmp.path(), settings::DEFAULT);
    let zip = tmp.path().join("p.zip");
    transform(&input, &zip, &["--to", "zip"]);
    let mut files = crate::support::unzip(&std::fs::read(&zip).unwrap());
    files.retain(|(n, _)| !n.ends_with('/'));
    files.sort();
    assert_eq!(files, expected(), "7z -> zip");
    let dir = tmp.path().join("p.dir");
    transform(&input, &dir, &["--to", "dir"]);
    assert_eq!(sz::read_tree(&dir).0, expected(), "7z -> dir");
    let cab = tmp.path().join("p.cab");
    transform(&input, &cab, &["--to", "cab"]);
    let (files, _) = sz::extract(&cab, &tmp.path().join("x-cab"));
    assert_eq!(files, expected(), "7z -> cab");

    let plain = tmp.path().join("p.7z");
    let manifest = transform(&zip, &plain, &["--to", "7z"]);
    assert_eq!(manifest["output"]["kind"], "7z");
    assert_eq!(&std::fs::read(&plain).unwrap()[..6], b"7z\xBC\xAF\x27\x1C");
    let (ok, log) = sz::test(&plain);
    assert!(ok, "{log}");
    let (files, _) = sz::extract(&plain, &tmp.path().join("x-7z"));
    assert_eq!(files, expected(), "zip -> 7z");
}

/// A stub without a payload of its own cannot say which format its
/// self-extractor reads: the transform says what it wrote.
fn a_stub_without_a_payload_is_named_in_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("export");
    fx::write_dir(&folder, &fx::example_files());
    let stub = tmp.path().join("stub.exe");
    std::fs::write(&stub, fx::pe_stub()).unwrap();
    let out = tmp.path().join("setup.exe");
    let stub_arg = stub.to_string_lossy().into_owned();
    let manifest = transform(&folder, &out, &["--to", "exe", "--stub", &stub_arg]);
    let warnings = manifest["warnings"].as_array().unwrap();
    let w = warnings
        .iter()
        .find(|w| w["code"] == "exe-stub-without-payload")
        .unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(w["message"].as_str().unwrap().contains("7-Zip SFX"), "{w}");
}

/// The audit of a 7-Zip single-file export: the self-managed risk, the
/// MSI's codes (the MSI streamed out of the 7z) and the 7z facts.
fn audit_of_a_7z_export_reports_the_risk_and_the_archive() {
    if skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = export(tmp.path(), settings::DEFAULT);
    let o = sepkg()
        .args(["--json", "audit"])
        .arg(&input)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let p = &doc["packages"][0];
    assert_eq!(p["container"]["exe"]["payload_kind"], "7z", "{p}");
    let z = &p["container"]["sevenz"];
    assert!(z["folders"].as_u64().unwrap() >= 1, "{z}");
    assert!(z["dictionary"].as_u64().is_some(), "{z}");
    let root = &p["roots"][0];
    assert!(
        root["msis"][0]["product_code"]
            .as_str()
            .is_some_and(|c| c.starts_with('{')),
        "{root}"
    );
    let codes: Vec<&str> = root["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"self-managed-after-upgrade"), "{codes:?}");
    let human = sepkg().arg("audit").arg(&input).output().unwrap();
    let (stdout, _) = text(&human);
    assert!(
        stdout.contains("7z: ") && stdout.contains("folder 1: LZMA2"),
        "{stdout}"
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        a_7zip_single_file_export_is_transformed_in_place,
        transforming_a_7z_export_is_deterministic_and_idempotent,
        a_non_solid_export_copies_every_untouched_folder,
        a_folder_export_becomes_a_7zip_single_file_export,
        conversions_to_and_from_7z_keep_every_file,
        a_stub_without_a_payload_is_named_in_a_warning,
        audit_of_a_7z_export_reports_the_risk_and_the_archive,
    ]
}
