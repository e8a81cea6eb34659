//! The report: the verdict and exit code of the bundled example before and
//! after transform, the verdict lines first (failing first) in the
//! terminal, the JSON and the HTML page (read back through headless
//! Chromium), several roots, an unreadable input, .exe and cabinet
//! packages with their container facts, the JSON fields, the README's
//! example and the HTML page.

use super::*;
use crate::support::harness::tests;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        bundled_example_fails_with_the_self_managed_finding,
        transformed_example_passes,
        managed_package_with_only_info_findings_is_clean,
        several_roots_are_reported_each,
        unreadable_input_exits_2_and_names_it,
        exe_and_cab_packages_are_audited_with_their_container_facts,
        html_report_is_written_whole_and_escapes_package_text,
        readme_audit_example_is_the_real_output,
        json_fields_are_the_documented_ones,
        verdict_lines_come_first_failing_first,
        html_verdict_lines_come_first_in_headless_chromium,
    ]
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
    // The example's Setup.exe is a stand-in, not a program: a warning.
    assert_eq!(
        worst,
        BTreeSet::from(["info".to_string(), "warning".to_string()])
    );
    let warnings: Vec<String> = findings(&doc)
        .iter()
        .filter(|f| f["severity"] == "warning")
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(warnings, ["exe-unreadable"]);
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

fn managed_package_with_only_info_findings_is_clean() {
    let (_tmp, dir) = folder(&managed());
    let (code, doc) = audit_json(&[path_arg(&dir)]);
    assert_eq!(
        codes(&doc),
        BTreeSet::from(["msi-unsigned".to_string(), "exe-unsigned".to_string()])
    );
    assert_eq!(code, 0);
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
    assert_eq!(p["signatures"][0]["kind"], "authenticode");
    assert_eq!(p["signatures"][0]["status"], "unsigned");
    assert_eq!(p["signatures"][0]["present"], false);
    let out = sepkg().arg("audit").arg(&exe).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(
            "SFX settings: Title=\"Symantec Endpoint Protection\" RunProgram=\"setup.exe\""
        ),
        "{stdout}"
    );
    assert!(stdout.contains("  Authenticode: unsigned\n"), "{stdout}");

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
    assert_eq!(p["signatures"][0]["status"], "unsigned");
    // The MSI inside the cabinet was read through a temporary file.
    assert_eq!(
        p["roots"][0]["msis"][0]["package_code"],
        r#gen::PACKAGE_CODE
    );
    finding(&doc, "sha256-sidecar-match");
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
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn json_fields_are_the_documented_ones() {
    let zip = fixtures().join(r#gen::EXAMPLE_ZIP);
    let (_, doc) = audit_json(&[path_arg(&zip), "--from-version", "14.2.0"]);
    assert_eq!(
        keys(&doc),
        sorted(&[
            "schema",
            "tool",
            "fail_on",
            "from_version",
            "trust_ca",
            "expect",
            "verdicts",
            "packages",
            "errors",
            "summary"
        ])
    );
    assert_eq!(
        keys(&doc["expect"]),
        sorted(&["domain_id", "servers", "group"])
    );
    assert_eq!(
        keys(&doc["verdicts"][0]),
        sorted(&["input", "result", "reason", "codes", "line"])
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
    msi_sylink_and_signature_fields_are_the_documented_ones(r);
}

/// A root's MSI, sylink.xml, findings and signatures (the README's table).
fn msi_sylink_and_signature_fields_are_the_documented_ones(r: &Value) {
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
    let signature_keys = sorted(&[
        "entry",
        "kind",
        "present",
        "status",
        "problem",
        "signer",
        "digest_algorithm",
        "signing_time",
        "timestamp",
        "chain",
        "chain_text",
        "not_verified",
        "authenticode",
    ]);
    for sig in r["signatures"].as_array().unwrap() {
        assert_eq!(keys(sig), signature_keys);
    }
}

/// Three inputs, one each that passes, fails and cannot be read, given
/// passing first: the report starts with one line each, failing first.
fn verdict_inputs() -> (tempfile::TempDir, Vec<String>, [String; 3]) {
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass");
    r#gen::write_dir(&pass, &managed());
    let fail = tmp.path().join("fail");
    r#gen::write_dir(&fail, &example());
    let broken = tmp.path().join("broken.zip");
    std::fs::write(&broken, b"PK\x03\x04 truncated").unwrap();
    let args: Vec<String> = [&pass, &fail, &broken]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let lines = [
        format!("ERROR  {}  cannot be audited: ", broken.display()),
        format!(
            "FAIL  {}  1 error: self-managed-after-upgrade",
            fail.display()
        ),
        format!("PASS  {}", pass.display()),
    ];
    (tmp, args, lines)
}

fn verdict_lines_come_first_failing_first() {
    let (_tmp, args, lines) = verdict_inputs();
    let out = sepkg().arg("audit").args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (stdout, _) = text(&out);
    let top: Vec<&str> = stdout.lines().take(4).collect();
    assert!(top[0].starts_with(&lines[0]), "{stdout}");
    assert_eq!(top[1..3], lines[1..3], "{stdout}");
    assert_eq!(top[3], "");
    // With --fail-on warning, the failing package's warnings count too.
    let out = sepkg()
        .args(["audit", "--fail-on", "warning", &args[1]])
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(
        stdout.lines().next().unwrap(),
        format!(
            "FAIL  {}  1 error, 2 warnings: self-managed-after-upgrade, sylink-unmanaged, exe-unreadable",
            args[1]
        )
    );

    // The JSON has the same lines, in the same order.
    let out = sepkg()
        .arg("--json")
        .arg("audit")
        .args(&args)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = doc["verdicts"].as_array().unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["result"], "error");
    assert!(v[0]["line"].as_str().unwrap().starts_with(&lines[0]));
    assert_eq!(v[1]["result"], "fail");
    assert_eq!(v[1]["line"], lines[1].as_str());
    assert_eq!(
        v[1]["codes"],
        serde_json::json!(["self-managed-after-upgrade"])
    );
    assert_eq!(v[1]["reason"], "1 error: self-managed-after-upgrade");
    assert_eq!(v[2]["result"], "pass");
    assert_eq!(v[2]["line"], lines[2].as_str());
    assert_eq!(v[2]["reason"], "");
}

/// The page's text as headless Chromium renders it (`innerText`: what a
/// reader sees, CSS applied), or None when Chromium is not installed (in
/// CI, which installs it, it must be). The page is copied with one script
/// added at its end that replaces the body by its rendered text, which
/// `--dump-dom` then prints.
fn rendered_text(page: &Path) -> Option<String> {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| support::have(c))
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (apt-get install chromium)"
        );
        eprintln!(
            "\n######## SKIPPED: the HTML report is not checked in a browser: chromium is not installed (apt-get install chromium) ########\n"
        );
        return None;
    };
    let html = std::fs::read_to_string(page).unwrap();
    let probe = page.with_extension("probe.html");
    std::fs::write(
        &probe,
        html.replace(
            "</body>",
            "<script>document.body.textContent = document.body.innerText;</script></body>",
        ),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("<body>"),
        "{}",
        text(&out).1
    );
    let body = &dom[dom.find("<body>").unwrap() + 6..dom.rfind("</body>").unwrap()];
    Some(
        body.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
}

fn html_verdict_lines_come_first_in_headless_chromium() {
    let (tmp, args, lines) = verdict_inputs();
    let html = tmp.path().join("report.html");
    let out = sepkg()
        .arg("audit")
        .args(&args)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let Some(rendered) = rendered_text(&html) else {
        return;
    };
    let shown: Vec<&str> = rendered.lines().filter(|l| !l.trim().is_empty()).collect();
    // The heading, then the verdict lines as the terminal prints them,
    // before anything else about the packages.
    assert_eq!(shown[0], "SEP client package audit", "{rendered}");
    assert!(shown[1].starts_with(&lines[0]), "{rendered}");
    assert_eq!(shown[2..4], lines[1..3], "{rendered}");
    let terminal = text(&out).0;
    assert_eq!(
        shown[1],
        terminal.lines().next().unwrap(),
        "the page and the terminal give the same ERROR line"
    );
    assert!(shown[4].starts_with("sepkg "), "{rendered}");
    // Further down: the findings, and each package's own section.
    let after = rendered.find(&lines[2]).unwrap();
    assert!(rendered[after..].contains("self-managed-after-upgrade"));
    assert!(rendered[after..].contains("run `sepkg transform INPUT --sylink MANAGED.xml`"));
}
