//! `sepkg audit`, driven through the binary: exit codes, findings in JSON and
//! in the human report, the HTML page, and the MSI reading checked against
//! msitools' `msiinfo` on MSIs built two ways (the `msi` crate and `wixl`).
//!
//! By subject: [`setaid`], [`sylink`], [`site`] (`--expect-*`), [`msi`]
//! (tables, versions, Upgrade rows, damaged MSIs), [`signatures`]
//! (Authenticode verified, with a throwaway CA), [`entries`] (names
//! Windows cannot create, bytes after a zip), [`records`] (the records
//! beside the input), [`webroots`] and [`report`] (verdict lines, exit
//! codes, JSON fields, containers, HTML read back through headless
//! Chromium). Every finding code has a scenario, a trial
//! `audit::SUBJECT::finding::CODE`, in its subject's `scenarios()`; the
//! codes are checked both ways against `sepkg::audit::CODES` (a listed
//! code without a scenario fails, and so does a code an audit emits in any
//! test that is not listed).

mod entries;
mod msi;
mod records;
mod report;
mod setaid;
mod signatures;
mod site;
mod sylink;
mod webroots;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support;
use crate::support::r#gen::{self as r#gen, MsiSpec, UpgradeRow};
use crate::support::harness::{test_with, tests};
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
    // Every code an audit emits is one sepkg lists: the coverage check's
    // other way, made on every audit these tests run.
    if doc["packages"].is_array() {
        support::schema::check(support::schema::AUDIT, &doc);
        for code in codes(&doc) {
            assert!(
                sepkg::audit::CODES.contains(&code.as_str()),
                "finding code {code} is emitted but not in sepkg::audit::CODES"
            );
        }
    }
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

/// A single-file .exe export: a PE stub, a 7-Zip SFX block, a zip payload.
fn exe_package(files: &Files) -> Vec<u8> {
    [
        r#gen::pe_stub(),
        r#gen::sfx_config("setup.exe"),
        r#gen::zip(files),
    ]
    .concat()
}

fn example() -> Files {
    r#gen::example_files()
}

/// The example made managed, with a real (unsigned) PE program as its
/// Setup.exe instead of the example's stand-in, which is no program: its
/// audit has only info findings.
fn managed() -> Files {
    let mut f = example();
    set(&mut f, "Setup.exe", r#gen::pe_stub());
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

/// One scenario per finding code: a package (and audit options) whose
/// report must hold the finding `code` with `severity`, its message
/// saying `says`.
struct Scenario {
    code: &'static str,
    severity: &'static str,
    /// Text the message must contain.
    says: &'static str,
    files: Files,
    args: Vec<&'static str>,
}

fn scenario(
    code: &'static str,
    severity: &'static str,
    says: &'static str,
    files: Files,
    args: &[&'static str],
) -> Scenario {
    Scenario {
        code,
        severity,
        says,
        files,
        args: args.to_vec(),
    }
}

/// Every scenario, with its subject.
fn scenarios() -> Vec<(&'static str, Scenario)> {
    let subjects = [
        ("sylink", sylink::scenarios()),
        ("setaid", setaid::scenarios()),
        ("msi", msi::scenarios()),
        ("signatures", signatures::scenarios()),
        ("site", site::scenarios()),
        ("entries", entries::scenarios()),
    ];
    subjects
        .into_iter()
        .flat_map(|(subject, all)| all.into_iter().map(move |s| (subject, s)))
        .collect()
}

/// The finding shows with its severity, message and hint, in the JSON
/// and the HTML report, and the exit code follows the worst severity.
fn each_finding_code_shows_with_its_severity_and_message(case: Scenario) {
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
}

/// Both ways: every code sepkg lists has a test, and every code a test
/// expects is listed. (The other half of "emitted but not listed" is in
/// [`audit_json`]: any code any audit in these tests emits must be listed.)
fn every_finding_code_is_listed_and_tested() {
    let listed = sepkg::audit::CODES;
    // The checksum codes are covered by `records`, the cross-package ones
    // by `webroots`, the ones that need a signed program (made with
    // openssl and osslsigncode when the test runs) by `signatures`, and
    // the ones about a zip file by `entries`.
    let mut tested: BTreeSet<&str> = scenarios().iter().map(|(_, s)| s.code).collect();
    tested.extend(records::CHECKSUM_CODES);
    tested.extend(webroots::CROSS_CODES);
    tested.extend(signatures::SIGNED_CODES);
    tested.extend(entries::ZIP_CODES);
    let untested: Vec<&&str> = listed.iter().filter(|c| !tested.contains(**c)).collect();
    assert!(
        untested.is_empty(),
        "finding codes with no test: {untested:?}"
    );
    let unlisted: Vec<&&str> = tested.iter().filter(|c| !listed.contains(c)).collect();
    assert!(
        unlisted.is_empty(),
        "finding codes tested but not in sepkg::audit::CODES: {unlisted:?}"
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials = tests![every_finding_code_is_listed_and_tested];
    let mut seen = BTreeSet::new();
    for (subject, s) in scenarios() {
        // A code with two scenarios: the second is `CODE_2`.
        let mut name = format!("audit::{subject}::finding::{}", s.code.replace('-', "_"));
        let mut n = 1;
        while !seen.insert(name.clone()) {
            n += 1;
            name = format!(
                "audit::{subject}::finding::{}_{n}",
                s.code.replace('-', "_")
            );
        }
        trials.push(test_with(
            name,
            s,
            each_finding_code_shows_with_its_severity_and_message,
        ));
    }
    for subject in [
        setaid::trials(),
        msi::trials(),
        signatures::trials(),
        site::trials(),
        entries::trials(),
        records::trials(),
        webroots::trials(),
        report::trials(),
    ] {
        trials.extend(subject);
    }
    trials
}
