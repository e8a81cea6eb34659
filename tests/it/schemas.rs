//! The JSON Schemas in `schemas/` against real output: a manifest for
//! every output kind, audit reports (every audit the tests run is also
//! checked, in `audit::audit_json`), and index.json; and proof that the
//! schemas refuse what they should.

use std::path::Path;

use crate::support::r#gen as fx;
use crate::support::harness::tests;
use crate::support::schema::{self, AUDIT, INDEX, MANIFEST};
use crate::support::{sepkg, text};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        manifests_of_every_output_kind_are_valid,
        audit_reports_are_valid,
        index_json_is_valid,
        audit_schema_lists_every_finding_code,
        schemas_refuse_documents_that_break_them,
    ]
}

fn run_ok(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// Transforms the example package (a zip) into `name` under `dir` as
/// `to`, and returns the JSON report.
fn transform(dir: &Path, input: &Path, name: &str, extra: &[&str]) -> serde_json::Value {
    let sylink = dir.join("managed.xml");
    std::fs::write(&sylink, fx::managed_sylink()).unwrap();
    let stdout = run_ok(
        sepkg()
            .args(["--json", "transform"])
            .arg(input)
            .arg("--sylink")
            .arg(&sylink)
            .arg("-o")
            .arg(dir.join(name))
            .args(extra),
    );
    serde_json::from_str(&stdout).unwrap()
}

fn example_zip(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("SEP14.zip");
    let mut files = fx::example_files();
    // A warning in the manifest too.
    files.push(("Packages/CON.txt".into(), b"x".to_vec()));
    std::fs::write(&input, fx::zip(&files)).unwrap();
    input
}

fn manifests_of_every_output_kind_are_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let input = example_zip(tmp.path());
    for (name, extra) in [
        ("out.zip", vec![]),
        ("out.cab", vec!["--to", "cab", "--keep-times"]),
        ("out.7z", vec!["--to", "7z"]),
        ("out-dir", vec!["--to", "dir"]),
        (
            "added.zip",
            vec![
                "--setaid",
                "NEW_SECTION.Key=1",
                "--setaid",
                "CUSTOM_SMC_CONFIG.Other=x",
            ],
        ),
    ] {
        let report = transform(tmp.path(), &input, name, &extra);
        let manifest = &report["transformed"][0]["manifest"];
        schema::check(MANIFEST, manifest);
        schema::check_file(MANIFEST, &tmp.path().join(format!("{name}.manifest.json")));
        assert!(
            !manifest["warnings"].as_array().unwrap().is_empty(),
            "{name}"
        );
    }
}

fn audit_reports_are_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let input = example_zip(tmp.path());
    transform(tmp.path(), &input, "out.zip", &[]);
    std::fs::write(tmp.path().join("junk.zip"), b"junk").unwrap();
    for (args, code) in [
        (vec!["SEP14.zip"], 1),
        (vec!["out.zip"], 0),
        (vec!["out.zip", "junk.zip", "SEP14.zip"], 2),
        (
            vec![
                "SEP14.zip",
                "--from-version",
                "14.2.0",
                "--fail-on",
                "warning",
            ],
            1,
        ),
    ] {
        let out = sepkg()
            .args(["--json", "audit"])
            .args(&args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        schema::check(AUDIT, &doc);
    }
}

fn index_json_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let input = example_zip(tmp.path());
    transform(tmp.path(), &input, "a.zip", &[]);
    transform(tmp.path(), &input, "b.cab", &["--to", "cab"]);
    let web = tmp.path().join("www");
    std::fs::create_dir(&web).unwrap();
    run_ok(
        sepkg()
            .arg("publish")
            .arg(tmp.path().join("a.zip"))
            .arg("--to")
            .arg(&web),
    );
    schema::check_file(INDEX, &web.join("index.json"));
    run_ok(
        sepkg()
            .arg("publish")
            .arg(tmp.path().join("b.cab"))
            .arg("--to")
            .arg(&web)
            .args(["--base-url", "https://updates.example.com/sep"]),
    );
    schema::check_file(INDEX, &web.join("index.json"));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(web.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["packages"].as_array().unwrap().len(), 2);
}

fn audit_schema_lists_every_finding_code() {
    let audit = schema::load(AUDIT);
    let listed: Vec<&str> = audit["$defs"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        sepkg::audit::CODES,
        "schemas/{AUDIT} must list sepkg::audit::CODES in order"
    );
}

fn schemas_refuse_documents_that_break_them() {
    let tmp = tempfile::tempdir().unwrap();
    let input = example_zip(tmp.path());
    let report = transform(tmp.path(), &input, "out.zip", &[]);
    let manifest = report["transformed"][0]["manifest"].clone();
    let broken = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut doc = manifest.clone();
        f(&mut doc);
        schema::problem(MANIFEST, &doc)
    };
    assert!(broken(&|d| d["output"]["sha256"] = "ABC".into()).is_some());
    assert!(broken(&|d| d["schema"] = "sepkg-manifest/2".into()).is_some());
    assert!(
        broken(&|d| {
            d.as_object_mut().unwrap().remove("entries");
        })
        .is_some()
    );
    assert!(broken(&|d| d["changes"][0]["file"] = "msi".into()).is_some());
    assert!(broken(&|_| {}).is_none());
    let mut audit = serde_json::json!({});
    assert!(schema::problem(AUDIT, &audit).is_some());
    audit = serde_json::json!({"schema": "sepkg-index/1", "tool": "sepkg 0", "packages": [{"name": "x"}]});
    assert!(schema::problem(INDEX, &audit).is_some());
}
