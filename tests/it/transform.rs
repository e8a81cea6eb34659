//! `sepkg transform` on folder and zip packages, driven through the binary.

use std::path::{Path, PathBuf};

use crate::support;
use crate::support::r#gen::{self as fx, Enc};
use crate::support::harness::tests;
use crate::support::{have, listing, sepkg, sha256, text, unzip};

fn managed_sylink_file(dir: &Path) -> PathBuf {
    let p = dir.join("managed.xml");
    std::fs::write(&p, fx::managed_sylink()).unwrap();
    p
}

fn example_zip(dir: &Path) -> PathBuf {
    let p = dir.join("pkg.zip");
    std::fs::write(&p, fx::zip(&fx::example_files())).unwrap();
    p
}

/// Runs a transform and returns the output bytes.
fn transform(input: &Path, sylink: &Path, out: &Path, extra: &[&str]) -> Vec<u8> {
    let assert = sepkg()
        .arg("transform")
        .arg(input)
        .arg("--sylink")
        .arg(sylink)
        .arg("-o")
        .arg(out)
        .args(extra)
        .assert();
    let output = assert.get_output().clone();
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "transform failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    support::schema::check_file(
        support::schema::MANIFEST,
        &out.with_file_name(format!(
            "{}.manifest.json",
            out.file_name().unwrap().to_string_lossy()
        )),
    );
    std::fs::read(out).unwrap()
}

fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
        .1
}

/// The expected SetAid.ini: the input with the KeepPreviousSetting value
/// unit changed from `1` to `0`, nothing else.
fn expected_setaid(enc: Enc, eol: &str) -> Vec<u8> {
    fx::encode(
        &fx::SETAID_TEXT.replace("KeepPreviousSetting=1", "KeepPreviousSetting=0"),
        enc,
        eol,
    )
}

fn fixtures_match_the_generator() {
    for (name, bytes) in fx::bundled() {
        let committed = std::fs::read(support::fixtures().join(&name)).unwrap();
        assert!(
            committed == bytes,
            "fixtures/{name} differs from the generator: run `cargo run --example gen_fixtures`"
        );
    }
}

fn bundled_example_output_is_pinned() {
    // Our output is reproducible, so its hash is the contract: a change to
    // it must be deliberate (and the README's example output updated).
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.zip");
    let bytes = transform(
        &support::fixtures().join(fx::EXAMPLE_ZIP),
        &support::fixtures().join(fx::EXAMPLE_SYLINK),
        &out,
        &[],
    );
    assert_eq!(
        sha256(&bytes),
        "43e0ab4307d46d365e60bedc3a91e4cf7f93803e0ea01eec241f52e87ff773ea"
    );
}

fn zip_setaid_changes_only_the_value_for_every_encoding_and_line_ending() {
    for enc in fx::ALL_ENCODINGS {
        for eol in ["\r\n", "\n"] {
            let tmp = tempfile::tempdir().unwrap();
            let files = fx::root_files(enc, eol, &fx::MsiSpec::example(fx::VERSION));
            let input = tmp.path().join("in.zip");
            std::fs::write(&input, fx::zip(&files)).unwrap();
            let out = transform(
                &input,
                &managed_sylink_file(tmp.path()),
                &tmp.path().join("out.zip"),
                &[],
            );
            let entries = unzip(&out);
            let got = entry(&entries, "setAid.ini");
            let want = expected_setaid(enc, eol);
            assert!(
                got == want.as_slice(),
                "{enc:?} {eol:?}: SetAid.ini differs beyond the value:\n{got:?}\n{want:?}"
            );
            // Exactly one unit differs from the input.
            let before = entry(&files, "setAid.ini");
            let diff = before.iter().zip(got).filter(|(a, b)| a != b).count();
            assert_eq!((before.len(), diff), (got.len(), 1), "{enc:?} {eol:?}");
        }
    }
}

fn independent_ini_reader_sees_keep_previous_setting_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let out = transform(
        &example_zip(tmp.path()),
        &managed_sylink_file(tmp.path()),
        &tmp.path().join("o.zip"),
        &[],
    );
    let setaid = entry(&unzip(&out), "setAid.ini").to_vec();
    let text = encoding_rs::WINDOWS_1252.decode(&setaid).0.into_owned();
    let mut ini = configparser::ini::Ini::new();
    ini.read(text).unwrap();
    assert_eq!(
        ini.get("custom_smc_config", "keepprevioussetting")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        ini.get("feature_selection", "savmain").as_deref(),
        Some("1")
    );
}

fn sylink_is_injected_byte_for_byte_and_other_entries_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let input = example_zip(tmp.path());
    let out = transform(
        &input,
        &managed_sylink_file(tmp.path()),
        &tmp.path().join("o.zip"),
        &[],
    );
    let before = fx::example_files();
    let after = unzip(&out);
    assert_eq!(entry(&after, "sylink.xml"), fx::managed_sylink().as_slice());
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&after),
        names(&before),
        "entry order and names are kept"
    );
    for (name, bytes) in &before {
        if name != "setAid.ini" && name != "sylink.xml" {
            assert!(entry(&after, name) == bytes.as_slice(), "{name} changed");
        }
    }
    // Untouched entries are raw copies: same compressed bytes, not recompressed.
    let mut a = zip::ZipArchive::new(std::fs::File::open(&input).unwrap()).unwrap();
    let mut b = zip::ZipArchive::new(std::io::Cursor::new(out)).unwrap();
    for name in ["Sep64.msi", "Setup.exe", "serdef.dat"] {
        let (x, y) = (a.by_name(name).unwrap(), b.by_name(name).unwrap());
        assert_eq!(
            (x.compressed_size(), x.crc32(), x.compression()),
            (y.compressed_size(), y.crc32(), y.compression()),
            "{name}"
        );
    }
}

fn key_in_another_section_is_left_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        "[SETUP]\r\nKeepPreviousSetting=1\r\n[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\n";
    let mut files = fx::example_files();
    files.iter_mut().find(|(n, _)| n == "setAid.ini").unwrap().1 = text.as_bytes().to_vec();
    let input = tmp.path().join("in.zip");
    std::fs::write(&input, fx::zip(&files)).unwrap();
    let out_path = tmp.path().join("o.zip");
    let output = sepkg()
        .args(["transform", "--json", "--sylink"])
        .arg(managed_sylink_file(tmp.path()))
        .arg(&input)
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let out = std::fs::read(&out_path).unwrap();
    assert_eq!(
        entry(&unzip(&out), "setAid.ini"),
        b"[SETUP]\r\nKeepPreviousSetting=1\r\n[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=0\r\n"
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let warnings = &json["transformed"][0]["manifest"]["warnings"];
    assert_eq!(warnings[0]["code"], "keep-previous-other-section");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("--setaid SETUP.KeepPreviousSetting=0")
    );
    // The manifest on disk says the same.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("o.zip.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["warnings"], *warnings);
}

fn missing_key_is_added_and_setaid_option_edits_more() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        "[CUSTOM_SMC_CONFIG]\r\nInstallationLogDir=\r\n\r\n[FEATURE_SELECTION]\r\nPop3Smtp=1\r\n";
    let mut files = fx::example_files();
    files.iter_mut().find(|(n, _)| n == "setAid.ini").unwrap().1 = text.as_bytes().to_vec();
    let input = tmp.path().join("in.zip");
    std::fs::write(&input, fx::zip(&files)).unwrap();
    let out = transform(
        &input,
        &managed_sylink_file(tmp.path()),
        &tmp.path().join("o.zip"),
        &["--setaid", "FEATURE_SELECTION.Pop3Smtp=0"],
    );
    assert_eq!(
        entry(&unzip(&out), "setAid.ini"),
        b"[CUSTOM_SMC_CONFIG]\r\nInstallationLogDir=\r\nKeepPreviousSetting=0\r\n\r\n[FEATURE_SELECTION]\r\nPop3Smtp=0\r\n"
    );
}

fn tools_nobody_here_wrote_accept_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o.zip");
    transform(
        &example_zip(tmp.path()),
        &managed_sylink_file(tmp.path()),
        &out,
        &[],
    );
    let run = |cmd: &str| {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(run("sha256sum -c o.zip.sha256").contains("o.zip: OK"));
    if have("unzip") {
        assert!(run("unzip -t o.zip").contains("No errors detected"));
    } else {
        eprintln!("SKIPPED unzip -t: unzip is not installed");
    }
    if have("7zz") {
        assert!(run("7zz t o.zip").contains("Everything is Ok"));
    } else {
        eprintln!("SKIPPED 7zz t: 7zz is not installed");
    }
}

fn two_runs_give_identical_bytes_and_a_second_transform_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let input = example_zip(tmp.path());
    let sylink = managed_sylink_file(tmp.path());
    let a = transform(&input, &sylink, &tmp.path().join("a.zip"), &[]);
    let b = transform(&input, &sylink, &tmp.path().join("b.zip"), &[]);
    assert!(a == b, "two runs differ");
    let read = |n: &str| std::fs::read_to_string(tmp.path().join(n)).unwrap();
    assert_eq!(
        read("a.zip.manifest.json").replace("a.zip", "X"),
        read("b.zip.manifest.json").replace("b.zip", "X")
    );

    let output = sepkg()
        .args(["transform", "--json", "--sylink"])
        .arg(&sylink)
        .arg(tmp.path().join("a.zip"))
        .arg("-o")
        .arg(tmp.path().join("again.zip"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json["transformed"][0]["manifest"]["changes"],
        serde_json::json!([])
    );
    let again = std::fs::read(tmp.path().join("again.zip")).unwrap();
    assert!(again == a, "a second transform changed the package's bytes");
    let (human, _) = text(
        &sepkg()
            .args(["transform", "--sylink"])
            .arg(&sylink)
            .arg(tmp.path().join("a.zip"))
            .arg("-o")
            .arg(tmp.path().join("again2.zip"))
            .output()
            .unwrap(),
    );
    assert!(
        human.contains("KeepPreviousSetting already 0, unchanged"),
        "{human}"
    );
    assert!(
        human.contains("already the managed sylink.xml, unchanged"),
        "{human}"
    );
}

fn folder_input_becomes_a_zip_with_the_folder_contents_at_the_top() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("SEP-export");
    fx::write_dir(&dir, &fx::example_files());
    let before = sha256(&std::fs::read(dir.join("setAid.ini")).unwrap());
    let output = sepkg()
        .current_dir(tmp.path())
        .args(["transform", "SEP-export", "--sylink"])
        .arg(managed_sylink_file(tmp.path()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let out = std::fs::read(tmp.path().join("SEP-export-managed.zip")).unwrap();
    let entries = unzip(&out);
    let mut want: Vec<String> = fx::example_files().into_iter().map(|(n, _)| n).collect();
    want.sort();
    assert_eq!(
        entries.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        want
    );
    assert_eq!(
        entry(&entries, "setAid.ini"),
        expected_setaid(Enc::Ansi, "\r\n").as_slice()
    );
    assert_eq!(
        entry(&entries, "Sep64.msi"),
        entry(&fx::example_files(), "Sep64.msi")
    );
    // The input folder is untouched and holds nothing new.
    assert_eq!(
        sha256(&std::fs::read(dir.join("setAid.ini")).unwrap()),
        before
    );
    assert_eq!(
        listing(&dir),
        [
            "Packages",
            "Sep64.msi",
            "Setup.exe",
            "serdef.dat",
            "setAid.ini",
            "setup.ini",
            "sylink.xml"
        ]
    );
}

fn several_roots_in_one_archive_are_each_transformed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = fx::under("x64/", fx::example_files());
    let mut x86 = fx::MsiSpec::example(fx::VERSION);
    x86.arch = "Intel";
    files.extend(fx::under(
        "x86/",
        fx::root_files(Enc::Utf16LeBom, "\r\n", &x86),
    ));
    files.retain(|(n, _)| n != "x86/sylink.xml");
    let input = tmp.path().join("both.zip");
    std::fs::write(&input, fx::zip(&files)).unwrap();
    let out = transform(
        &input,
        &managed_sylink_file(tmp.path()),
        &tmp.path().join("o.zip"),
        &[],
    );
    let entries = unzip(&out);
    assert_eq!(
        entry(&entries, "x64/setAid.ini"),
        expected_setaid(Enc::Ansi, "\r\n").as_slice()
    );
    assert_eq!(
        entry(&entries, "x86/setAid.ini"),
        expected_setaid(Enc::Utf16LeBom, "\r\n").as_slice()
    );
    assert_eq!(
        entry(&entries, "x64/sylink.xml"),
        fx::managed_sylink().as_slice()
    );
    // x86 had no sylink.xml: one is added in its root.
    assert_eq!(
        entry(&entries, "x86/sylink.xml"),
        fx::managed_sylink().as_slice()
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("o.zip.manifest.json")).unwrap())
            .unwrap();
    let roots: Vec<&str> = manifest["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dir"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["x64/", "x86/"]);
    assert_eq!(manifest["roots"][1]["setaid_encoding"], "utf16-le-bom");
}

fn to_dir_writes_a_folder_that_sha256sum_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let output = sepkg()
        .current_dir(tmp.path())
        .args(["transform", "--to", "dir", "-o", "outdir", "--sylink"])
        .arg(managed_sylink_file(tmp.path()))
        .arg(example_zip(tmp.path()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    assert_eq!(
        std::fs::read(tmp.path().join("outdir/sylink.xml")).unwrap(),
        fx::managed_sylink()
    );
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "outdir.sha256"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("outdir/setAid.ini: OK"));
}

fn batch_with_out_dir_transforms_every_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut inputs = Vec::new();
    for n in 0..3 {
        let p = tmp.path().join(format!("pkg{n}.zip"));
        std::fs::write(&p, fx::zip(&fx::example_files())).unwrap();
        inputs.push(p);
    }
    let output = sepkg()
        .args(["transform", "--json", "--out-dir"])
        .arg(&out_dir)
        .arg("--sylink")
        .arg(managed_sylink_file(tmp.path()))
        .args(&inputs)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["transformed"].as_array().unwrap().len(), 3);
    let names = listing(&out_dir);
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(names.contains(&"pkg2-managed.zip.sha256".to_string()));
}

/// Runs a transform expected to fail; returns stderr. Checks exit 2, no
/// panic text, and that the output folder holds nothing new.
fn fails(input: &Path, sylink: &Path, out_dir: &Path) -> String {
    let before = listing(out_dir);
    let output = sepkg()
        .arg("transform")
        .arg(input)
        .arg("--sylink")
        .arg(sylink)
        .arg("-o")
        .arg(out_dir.join("out.zip"))
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(listing(out_dir), before, "output left behind");
    stderr
}

fn unmanaged_sylink_is_refused_with_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("unmanaged.xml");
    std::fs::write(&bad, fx::unmanaged_sylink()).unwrap();
    let input = example_zip(tmp.path());
    let err = fails(&input, &bad, tmp.path());
    assert!(
        err.contains("unmanaged.xml: not a managed sylink.xml"),
        "{err}"
    );
    assert!(
        err.contains("no DomainId")
            && err.contains("Kcs")
            && err.contains("Server")
            && err.contains("Certificate"),
        "{err}"
    );
    assert!(
        err.contains("hint: export the communication settings"),
        "{err}"
    );
}

fn traversal_entry_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = fx::example_files();
    files.push(("../x".into(), b"escape".to_vec()));
    let input = tmp.path().join("evil.zip");
    std::fs::write(&input, fx::zip(&files)).unwrap();
    let err = fails(&input, &managed_sylink_file(tmp.path()), tmp.path());
    assert!(
        err.contains("entry \"../x\": refused: the name climbs out of the package"),
        "{err}"
    );
}

fn truncated_zip_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = fx::zip(&fx::example_files());
    let input = tmp.path().join("cut.zip");
    std::fs::write(&input, &bytes[..bytes.len() / 2]).unwrap();
    let hash = sha256(&std::fs::read(&input).unwrap());
    let err = fails(&input, &managed_sylink_file(tmp.path()), tmp.path());
    assert!(err.contains("cut.zip: corrupt or unsupported zip"), "{err}");
    assert_eq!(
        sha256(&std::fs::read(&input).unwrap()),
        hash,
        "input changed"
    );
}

fn missing_setaid_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<_> = fx::example_files()
        .into_iter()
        .filter(|(n, _)| n != "setAid.ini")
        .collect();
    let input = tmp.path().join("nosetaid.zip");
    std::fs::write(&input, fx::zip(&files)).unwrap();
    let err = fails(&input, &managed_sylink_file(tmp.path()), tmp.path());
    assert!(
        err.contains("nosetaid.zip: no package root found: no folder in it holds a SetAid.ini"),
        "{err}"
    );
}

fn output_equal_to_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = example_zip(tmp.path());
    let hash = sha256(&std::fs::read(&input).unwrap());
    let output = sepkg()
        .arg("transform")
        .arg(&input)
        .arg("--sylink")
        .arg(managed_sylink_file(tmp.path()))
        .arg("-o")
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output)
            .1
            .contains("the output would overwrite the input")
    );
    assert_eq!(sha256(&std::fs::read(&input).unwrap()), hash);
}

fn json_error_is_one_document() {
    let tmp = tempfile::tempdir().unwrap();
    let output = sepkg()
        .args(["transform", "--json", "missing.zip", "--sylink"])
        .arg(managed_sylink_file(tmp.path()))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["error"]["code"], "io");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing.zip")
    );
}

fn folder_to_zip_output_is_pinned() {
    // The writer that deflates a folder's files: fixed time, mode, level and
    // order make its bytes the contract, like the zip-to-zip path above.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    fx::write_dir(&dir, &fx::example_files());
    let bytes = transform(
        &dir,
        &managed_sylink_file(tmp.path()),
        &tmp.path().join("o.zip"),
        &[],
    );
    assert_eq!(
        sha256(&bytes),
        "d51836f95f230c99d146fb80b4f28c0bbf4db8895e50efa62c3f75cee8e20a70"
    );
}

/// An edited file of a folder is deflated even when deflating does not
/// make it smaller (a 44-byte SetAid.ini), as 0.1.0 wrote it; only files
/// copied as they are fall back to stored. Pinned: the output bytes are the
/// contract.
fn folder_to_zip_edit_that_does_not_shrink_is_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let setaid = b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\n".to_vec();
    fx::write_dir(&dir, &fx::example_with("setAid.ini", setaid));
    let out = tmp.path().join("o.zip");
    let bytes = transform(&dir, &managed_sylink_file(tmp.path()), &out, &[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("o.zip.manifest.json")).unwrap())
            .unwrap();
    let setaid = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "setAid.ini")
        .unwrap();
    assert_eq!(setaid["method"], "deflated", "{setaid}");
    assert_eq!(
        sha256(&bytes),
        "e938df98f106f6da21e1805e295a87107355f679bcb172f2e2ee3322fa6f14c2"
    );
}

fn help_teaches_the_job() {
    let output = sepkg().args(["transform", "--help"]).output().unwrap();
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0));
    for needle in [
        "KeepPreviousSetting=0 in [CUSTOM_SMC_CONFIG]",
        "--sylink <MANAGED.xml>",
        "OUT.sha256 (for sha256sum -c)",
        "sepkg transform SEP14-x64.zip --sylink sylink-managed.xml",
        "Exit codes: 0 every output written; 2 error",
        "the outputs of the inputs that succeed are kept",
        "2 of 3 packages written; failed: bad.zip (corrupt)",
        "exit 130, 143 or 129",
    ] {
        assert!(
            stdout.contains(needle),
            "--help lacks {needle:?}:\n{stdout}"
        );
    }
    let top = text(&sepkg().arg("--help").output().unwrap()).0;
    assert!(top.contains("KB 212696"), "{top}");
    for command in [
        "sepkg audit SEP14",
        "sepkg transform SEP14",
        "sepkg publish",
        "sepkg verify https://",
    ] {
        assert!(
            top.contains(command),
            "top-level help lacks the workflow step {command:?}:\n{top}"
        );
    }
}

fn manifest_names_each_entry_method_and_the_output_hash_is_the_file_hash() {
    // Folder to zip: incompressible files are stored (deflating would only
    // grow them), compressible ones deflated; a large one is streamed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let mut files = fx::example_files();
    files.push(("big.bin".into(), fx::filler(6 << 20, 11)));
    files.push(("small.bin".into(), fx::filler(100 << 10, 12)));
    files.push(("notes.txt".into(), b"compressible text\r\n".repeat(5000)));
    fx::write_dir(&dir, &files);
    let out = tmp.path().join("o.zip");
    let bytes = transform(&dir, &managed_sylink_file(tmp.path()), &out, &[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("o.zip.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["output"]["sha256"], sha256(&bytes));
    // A folder's input digest is that of its sha256sum-style listing, built
    // from the digests the writer took of the files it copied.
    let mut sorted = files.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let listing: String = sorted
        .iter()
        .map(|(n, b)| format!("{}  {n}\n", sha256(b)))
        .collect();
    assert_eq!(manifest["input"]["sha256"], sha256(listing.as_bytes()));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let method = |name: &str| {
        manifest["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no manifest entry {name}"))["method"]
            .clone()
    };
    for (name, want) in [
        ("big.bin", "stored"),
        ("small.bin", "stored"),
        ("notes.txt", "deflated"),
        ("setAid.ini", "deflated"),
    ] {
        assert_eq!(method(name), want, "{name}");
        let in_zip = archive.by_name(name).unwrap().compression();
        let expect = if want == "stored" {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        assert_eq!(in_zip, expect, "{name} in the zip");
    }
    for (name, content) in unzip(&bytes) {
        if let Some((_, original)) = files.iter().find(|(n, _)| *n == name)
            && name != "setAid.ini"
            && name != "sylink.xml"
        {
            assert!(content == *original, "{name} differs");
        }
    }

    // Zip to zip: copied entries keep their method; the manifest's output
    // digest (hashed while writing) is the file's.
    let zipped = tmp.path().join("in.zip");
    std::fs::write(&zipped, fx::zip(&files)).unwrap();
    let out2 = tmp.path().join("o2.zip");
    let bytes2 = transform(&zipped, &managed_sylink_file(tmp.path()), &out2, &[]);
    let manifest2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("o2.zip.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest2["output"]["sha256"], sha256(&bytes2));
    // The input's digest comes from the writer's own second read of it.
    assert_eq!(
        manifest2["input"]["sha256"],
        sha256(&std::fs::read(&zipped).unwrap())
    );
    let sidecar = std::fs::read_to_string(tmp.path().join("o2.zip.sha256")).unwrap();
    assert_eq!(sidecar, format!("{}  o2.zip\n", sha256(&bytes2)));
    for e in manifest2["entries"].as_array().unwrap() {
        assert_eq!(e["method"], "deflated", "{}", e["name"]);
        let name = e["name"].as_str().unwrap();
        let content = unzip(&bytes2)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        assert_eq!(e["sha256"], sha256(&content), "{name}");
        assert_eq!(e["size"], content.len() as u64, "{name}");
    }
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        // The slowest first (a 6 MiB deflate in a debug build).
        manifest_names_each_entry_method_and_the_output_hash_is_the_file_hash,
        fixtures_match_the_generator,
        bundled_example_output_is_pinned,
        zip_setaid_changes_only_the_value_for_every_encoding_and_line_ending,
        independent_ini_reader_sees_keep_previous_setting_zero,
        sylink_is_injected_byte_for_byte_and_other_entries_are_identical,
        key_in_another_section_is_left_and_reported,
        missing_key_is_added_and_setaid_option_edits_more,
        tools_nobody_here_wrote_accept_the_output,
        two_runs_give_identical_bytes_and_a_second_transform_changes_nothing,
        folder_input_becomes_a_zip_with_the_folder_contents_at_the_top,
        several_roots_in_one_archive_are_each_transformed,
        to_dir_writes_a_folder_that_sha256sum_accepts,
        batch_with_out_dir_transforms_every_input,
        unmanaged_sylink_is_refused_with_what_is_missing,
        traversal_entry_is_refused_by_name,
        truncated_zip_is_an_error_naming_the_file,
        missing_setaid_is_an_error,
        output_equal_to_input_is_refused,
        json_error_is_one_document,
        folder_to_zip_output_is_pinned,
        folder_to_zip_edit_that_does_not_shrink_is_pinned,
        help_teaches_the_job,
    ]
}
