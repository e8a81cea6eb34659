//! Issue 12's "bounded and clear on every input" and "conventions users
//! expect", driven through the binary: an inline `;` tail on
//! KeepPreviousSetting, whole-file reads through the 1 MiB limit, special
//! files as inputs, the refused `--setaid`, usage errors under `--json`,
//! `help --help`, completions and the man page.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::r#gen as fx;
use crate::support::harness::tests;
use crate::support::{sepkg, text, unzip};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        an_inline_tail_on_keep_previous_setting_is_kept,
        sylink_from_dev_zero_is_refused_at_the_limit,
        sylink_through_a_pipe_is_read,
        a_fifo_as_the_package_is_refused_at_once,
        setaid_keep_previous_setting_1_is_refused,
        usage_errors_under_json_are_one_json_document,
        help_help_exits_0,
        completions_and_man_come_from_the_definitions,
        transform_warns_about_each_name_windows_cannot_create,
        dry_run_prints_the_plan_and_writes_nothing,
        no_clobber_refuses_an_existing_output,
        a_managed_input_keeps_its_name_or_says_why_not,
        a_control_character_in_the_output_name_is_refused,
        verify_says_what_is_wrong_with_the_url_or_the_server,
        base_url_refuses_quotes_and_angle_brackets,
    ]
}

fn sylink_file(dir: &Path) -> PathBuf {
    let p = dir.join("managed.xml");
    std::fs::write(&p, fx::managed_sylink()).unwrap();
    p
}

/// The example package as a folder `pkg` under `dir`, SetAid.ini replaced
/// by `setaid` (ANSI, CRLF).
pub(crate) fn package_with_setaid(dir: &Path, setaid: &str) -> PathBuf {
    let mut files = fx::example_files();
    for f in &mut files {
        if f.0 == "setAid.ini" {
            f.1 = fx::encode(setaid, fx::Enc::Ansi, "\r\n");
        }
    }
    let pkg = dir.join("pkg");
    fx::write_dir(&pkg, &files);
    pkg
}

fn an_inline_tail_on_keep_previous_setting_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let with_tail = fx::SETAID_TEXT.replace(
        "KeepPreviousSetting=1",
        "KeepPreviousSetting=1 ;keep the old settings",
    );
    let pkg = package_with_setaid(tmp.path(), &with_tail);
    let out = tmp.path().join("out.zip");
    let run = sepkg()
        .arg("transform")
        .arg(&pkg)
        .arg("--sylink")
        .arg(sylink_file(tmp.path()))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            r#"KeepPreviousSetting "1 ;keep the old settings" -> "0 ;keep the old settings""#
        ),
        "{stdout}"
    );
    let entries = unzip(&std::fs::read(&out).unwrap());
    let setaid = &entries.iter().find(|(n, _)| n == "setAid.ini").unwrap().1;
    let expected = fx::encode(
        &with_tail.replace("Setting=1 ;keep", "Setting=0 ;keep"),
        fx::Enc::Ansi,
        "\r\n",
    );
    assert_eq!(
        String::from_utf8_lossy(setaid),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(
        setaid.len(),
        fx::encode(&with_tail, fx::Enc::Ansi, "\r\n").len()
    );

    // The output keeps its clients managed (the leading number is 0), and
    // audit says the value is not clean.
    let audit = sepkg()
        .args(["--json", "audit"])
        .arg(&out)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let root = &doc["packages"][0]["roots"][0];
    let codes: Vec<&str> = root["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"keep-previous-unclean"), "{codes:?}");
    assert!(!codes.contains(&"self-managed-after-upgrade"), "{codes:?}");
    assert_eq!(audit.status.code(), Some(0), "{codes:?}");
}

fn sylink_from_dev_zero_is_refused_at_the_limit() {
    if !Path::new("/dev/zero").exists() {
        eprintln!("SKIPPED: no /dev/zero");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package_with_setaid(tmp.path(), fx::SETAID_TEXT);
    let run = sepkg()
        .arg("transform")
        .arg(&pkg)
        .args(["--sylink", "/dev/zero", "-o"])
        .arg(tmp.path().join("out.zip"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/dev/zero: 1048577 bytes is larger than the 1048576-byte limit"),
        "{stderr}"
    );
    assert!(!tmp.path().join("out.zip").exists());
}

fn sylink_through_a_pipe_is_read() {
    if !Path::new("/dev/stdin").exists() {
        eprintln!("SKIPPED: no /dev/stdin");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package_with_setaid(tmp.path(), fx::SETAID_TEXT);
    let out = tmp.path().join("out.zip");
    let run = sepkg()
        .arg("transform")
        .arg(&pkg)
        .args(["--sylink", "/dev/stdin", "-o"])
        .arg(&out)
        .write_stdin(fx::managed_sylink())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    let entries = unzip(&std::fs::read(&out).unwrap());
    let sylink = &entries.iter().find(|(n, _)| n == "sylink.xml").unwrap().1;
    assert_eq!(sylink, &fx::managed_sylink());
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo failed");
}

fn a_fifo_as_the_package_is_refused_at_once() {
    #[cfg(unix)]
    {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("SEP14.zip");
        mkfifo(&fifo);
        let sylink = sylink_file(tmp.path());
        for args in [
            vec![
                "transform",
                "--sylink",
                sylink.to_str().unwrap(),
                "--out-dir",
                ".",
            ],
            vec!["audit"],
        ] {
            // Without the check the open waits for a writer for ever: the
            // timeout turns that into a failure.
            let run = sepkg()
                .args(&args)
                .arg(&fifo)
                .current_dir(tmp.path())
                .timeout(Duration::from_secs(30))
                .output()
                .unwrap();
            let (_, stderr) = text(&run);
            assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains("SEP14.zip: not a SEP client package: it is a FIFO (named pipe)"),
                "{args:?}: {stderr}"
            );
        }
        let run = sepkg()
            .arg("verify")
            .arg(&fifo)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let (_, stderr) = text(&run);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("SEP14.zip: it is a FIFO (named pipe), not an artifact"),
            "{stderr}"
        );
        // A FIFO as --stub is refused the same way.
        let input = package_with_setaid(tmp.path(), fx::SETAID_TEXT);
        let run = sepkg()
            .arg("transform")
            .arg(&input)
            .arg("--sylink")
            .arg(&sylink)
            .args(["--to", "exe", "--stub"])
            .arg(&fifo)
            .arg("-o")
            .arg(tmp.path().join("setup.exe"))
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let (_, stderr) = text(&run);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("SEP14.zip: not a SEP client package: it is a FIFO"),
            "{stderr}"
        );
        assert_eq!(
            crate::support::listing(tmp.path()),
            ["SEP14.zip", "managed.xml", "pkg"]
        );
    }
}

fn setaid_keep_previous_setting_1_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package_with_setaid(tmp.path(), fx::SETAID_TEXT);
    let run = sepkg()
        .arg("transform")
        .arg(&pkg)
        .arg("--sylink")
        .arg(sylink_file(tmp.path()))
        .args([
            "--setaid",
            "Custom_SMC_Config.keeppreviousSetting=1",
            "--out-dir",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refused: KeepPreviousSetting other than 0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("self-managed after AutoUpgrade"),
        "{stderr}"
    );
    assert!(!tmp.path().join("pkg-managed.zip").exists());
}

fn usage_errors_under_json_are_one_json_document() {
    for (args, says) in [
        (
            vec!["--json", "transform", "pkg.zip"],
            "the following required arguments were not provided: --sylink <MANAGED.xml>",
        ),
        (
            vec!["transform", "--bogus", "--json"],
            "unexpected argument '--bogus'",
        ),
        (vec!["--json"], "requires a subcommand"),
        (
            vec![
                "--json",
                "transform",
                "p",
                "--sylink",
                "s",
                "--setaid",
                "A.B",
            ],
            "expected SECTION.KEY=VALUE",
        ),
    ] {
        let run = sepkg().args(&args).output().unwrap();
        let (stdout, stderr) = text(&run);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr, "", "{args:?}");
        let doc: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"));
        let error = &doc["error"];
        assert_eq!(error["code"], "usage", "{doc}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{args:?}: {message}");
        assert!(!message.contains("Usage:"), "{message}");
        assert!(
            error["hint"]
                .as_str()
                .is_some_and(|h| h.contains("sepkg help"))
        );
    }
    // Without --json, clap's text on stderr, as before.
    let run = sepkg().args(["transform", "pkg.zip"]).output().unwrap();
    let (stdout, stderr) = text(&run);
    assert_eq!((run.status.code(), stdout.as_str()), (Some(2), ""));
    assert!(stderr.contains("Usage: sepkg transform"), "{stderr}");
}

fn help_help_exits_0() {
    let run = sepkg().args(["help", "--help"]).output().unwrap();
    let (stdout, _) = text(&run);
    assert_eq!(run.status.code(), Some(0));
    assert!(stdout.contains("Usage: sepkg help"), "{stdout}");
    let run = sepkg().args(["help", "transform"]).output().unwrap();
    let (stdout, _) = text(&run);
    assert_eq!(run.status.code(), Some(0));
    assert!(stdout.contains("Usage: sepkg transform"), "{stdout}");
    assert!(stdout.contains("--dry-run"), "{stdout}");
    let run = sepkg().args(["help", "nope"]).output().unwrap();
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        stderr.contains("no command \"nope\"; the commands are transform"),
        "{stderr}"
    );
}

fn completions_and_man_come_from_the_definitions() {
    for (shell, says) in [
        ("bash", "complete -F _sepkg"),
        ("zsh", "#compdef sepkg"),
        ("fish", "complete -c sepkg"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = sepkg().args(["completions", shell]).output().unwrap();
        let (stdout, stderr) = text(&run);
        assert_eq!(run.status.code(), Some(0), "{shell}: {stderr}");
        assert!(stdout.contains(says), "{shell}: {stdout}");
        // Every option of transform is there, the new ones too.
        // (fish writes `-l sylink`, the others `--sylink`.)
        for option in ["sylink", "keep-times", "dry-run", "no-clobber"] {
            assert!(stdout.contains(option), "{shell} lacks {option}");
        }
    }
    let run = sepkg().arg("man").output().unwrap();
    let (page, _) = text(&run);
    assert_eq!(run.status.code(), Some(0));
    assert!(
        page.starts_with(".ie") && page.contains(".TH sepkg 1"),
        "{page}"
    );
    assert!(page.contains("sepkg\\-transform(1)"), "{page}");
    let run = sepkg().args(["man", "transform"]).output().unwrap();
    let (page, _) = text(&run);
    assert_eq!(run.status.code(), Some(0));
    assert!(page.contains(".TH sepkg-transform 1"), "{page}");
    assert!(page.contains("\\-\\-no\\-clobber"), "{page}");
    if crate::support::have("man") {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("sepkg-transform.1");
        std::fs::write(&file, &page).unwrap();
        let shown = std::process::Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&shown.stdout);
        assert!(shown.contains("--sylink"), "{shown}");
    }
}

/// Names Windows cannot create, and the start of the reason given for each.
fn windows_invalid_names() -> Vec<(String, &'static str)> {
    let long = format!("Packages/{}/file.txt", "d".repeat(255));
    vec![
        ("CON.txt".into(), "is a device name on Windows (CON)"),
        ("Packages/aux".into(), "is a device name on Windows (AUX)"),
        ("name.".into(), "ends with a dot or a space"),
        ("Packages/name ".into(), "ends with a dot or a space"),
        ("a*b.txt".into(), "holds '*'"),
        ("<>\"|?*.txt".into(), "holds '<'"),
        (
            long,
            "characters long, over Windows' 260-character path limit",
        ),
    ]
}

fn transform_warns_about_each_name_windows_cannot_create() {
    let tmp = tempfile::tempdir().unwrap();
    let names = windows_invalid_names();
    let mut files = fx::example_files();
    for (name, _) in &names {
        files.push((name.clone(), b"x".to_vec()));
    }
    let input = tmp.path().join("pkg.zip");
    std::fs::write(&input, fx::zip(&files)).unwrap();
    let out = tmp.path().join("out.zip");
    let run = |json: bool| {
        let mut cmd = sepkg();
        if json {
            cmd.arg("--json");
        }
        cmd.arg("transform")
            .arg(&input)
            .arg("--sylink")
            .arg(sylink_file(tmp.path()))
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap()
    };
    let human = run(false);
    let (stdout, stderr) = text(&human);
    assert_eq!(human.status.code(), Some(0), "{stderr}");
    for (name, says) in &names {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("  warning: {name}: ")))
            .unwrap_or_else(|| panic!("no warning for {name:?}:\n{stdout}"));
        assert!(line.contains(says), "{line}");
        assert!(line.contains("Windows clients cannot unpack it"), "{line}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("out.zip.manifest.json")).unwrap())
            .unwrap();
    let warned: Vec<&str> = manifest["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "windows-invalid-name")
        .map(|w| w["entry"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(warned, expected);
    // The JSON report carries the manifest; audit finds the same entries
    // with the same test.
    let json = run(true);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        doc["transformed"][0]["manifest"]["warnings"],
        manifest["warnings"]
    );
    let audit = sepkg()
        .args(["--json", "audit"])
        .arg(&input)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let found: Vec<&str> = doc["packages"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "windows-invalid-name")
        .map(|f| f["entry"].as_str().unwrap())
        .collect();
    assert_eq!(found, expected);
}

fn dry_run_prints_the_plan_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let with_tail = fx::SETAID_TEXT.replace(
        "KeepPreviousSetting=1",
        "KeepPreviousSetting=1 ;keep the old settings",
    );
    let pkg = package_with_setaid(tmp.path(), &with_tail);
    std::fs::write(pkg.join("CON.txt"), b"x").unwrap();
    let sylink = sylink_file(tmp.path());
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let before = crate::support::snapshot(tmp.path());
    let run = |json: bool| {
        let mut cmd = sepkg();
        if json {
            cmd.arg("--json");
        }
        cmd.arg("transform")
            .arg(&pkg)
            .arg("--sylink")
            .arg(&sylink)
            .arg("--out-dir")
            .arg(&out)
            .arg("--dry-run")
            .output()
            .unwrap()
    };
    let human = run(false);
    let (stdout, stderr) = text(&human);
    assert_eq!(human.status.code(), Some(0), "{stderr}");
    let out_zip = out.join("pkg-managed.zip").display().to_string();
    for says in [
        format!("-> {out_zip} (dry run: nothing written)"),
        r#"setAid.ini: [CUSTOM_SMC_CONFIG] KeepPreviousSetting "1 ;keep the old settings" -> "0 ;keep the old settings" at line 4 (set)"#.to_string(),
        "sylink.xml: replaced with the managed sylink.xml (sha256 ".to_string(),
        "warning: CON.txt: \"CON.txt\" is a device name on Windows (CON)".to_string(),
        format!("would write: {out_zip} (zip, 8 entries), {out_zip}.sha256, {out_zip}.manifest.json"),
    ] {
        assert!(stdout.contains(&says), "lacks {says:?}:\n{stdout}");
    }
    let json = run(true);
    assert_eq!(json.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let plan = &doc["dry_run"][0]["plan"];
    assert_eq!(plan["output"], out_zip.as_str());
    assert_eq!(plan["sha256_file"], format!("{out_zip}.sha256").as_str());
    assert_eq!(
        plan["manifest_file"],
        format!("{out_zip}.manifest.json").as_str()
    );
    assert_eq!(plan["changes"][0]["old"], "1 ;keep the old settings");
    assert_eq!(plan["changes"][0]["new"], "0 ;keep the old settings");
    assert_eq!(plan["changes"][1]["file"], "sylink");
    assert_eq!(plan["warnings"][0]["code"], "windows-invalid-name");
    // It fails where the real run would: the signing key is read too.
    let signed = sepkg()
        .arg("transform")
        .arg(&pkg)
        .arg("--sylink")
        .arg(&sylink)
        .arg("--out-dir")
        .arg(&out)
        .args(["--dry-run", "--sign"])
        .arg(tmp.path().join("missing.pfx"))
        .output()
        .unwrap();
    assert_eq!(signed.status.code(), Some(2));
    assert!(
        text(&signed).1.contains("missing.pfx: cannot read"),
        "{}",
        text(&signed).1
    );
    assert_eq!(
        crate::support::snapshot(tmp.path()),
        before,
        "a dry run wrote"
    );
}

fn no_clobber_refuses_an_existing_output() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package_with_setaid(tmp.path(), fx::SETAID_TEXT);
    let sylink = sylink_file(tmp.path());
    let out = tmp.path().join("out.zip");
    let transform = |extra: &[&str]| {
        sepkg()
            .arg("transform")
            .arg(&pkg)
            .arg("--sylink")
            .arg(&sylink)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    std::fs::write(&out, b"an older output").unwrap();
    let run = transform(&["--no-clobber"]);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: already exists, and --no-clobber refuses to replace it",
            out.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"an older output");
    assert_eq!(
        crate::support::listing(tmp.path()),
        ["managed.xml", "out.zip", "pkg"]
    );
    // A record left alone counts too.
    std::fs::remove_file(&out).unwrap();
    std::fs::write(tmp.path().join("out.zip.sha256"), b"x").unwrap();
    let run = transform(&["--no-clobber"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run).1.contains("out.zip.sha256: already exists"));
    assert!(!out.exists());
    // Without it the output is replaced, as always.
    assert_eq!(transform(&[]).status.code(), Some(0));
    assert!(std::fs::read(&out).unwrap().starts_with(b"PK"));
}

fn a_managed_input_keeps_its_name_or_says_why_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let input = a.join("X-managed.zip");
    std::fs::write(&input, fx::zip(&fx::example_files())).unwrap();
    let sylink = sylink_file(tmp.path());
    let run = |cwd: &Path| {
        sepkg()
            .arg("transform")
            .arg(&input)
            .arg("--sylink")
            .arg(&sylink)
            .current_dir(cwd)
            .output()
            .unwrap()
    };
    let elsewhere = run(&b);
    assert_eq!(elsewhere.status.code(), Some(0), "{}", text(&elsewhere).1);
    assert_eq!(
        crate::support::listing(&b),
        [
            "X-managed.zip",
            "X-managed.zip.manifest.json",
            "X-managed.zip.sha256"
        ]
    );
    let beside = run(&a);
    let (_, stderr) = text(&beside);
    assert_eq!(beside.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("X-managed.zip: the name already ends in -managed, so the default output name is the input's own; give the output another name with -o"),
        "{stderr}"
    );
    assert_eq!(crate::support::listing(&a), ["X-managed.zip"]);
}

fn a_control_character_in_the_output_name_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package_with_setaid(tmp.path(), fx::SETAID_TEXT);
    let run = sepkg()
        .arg("transform")
        .arg(&pkg)
        .arg("--sylink")
        .arg(sylink_file(tmp.path()))
        .arg("-o")
        .arg(tmp.path().join("web\nsetup.zip"))
        .output()
        .unwrap();
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"web\nsetup.zip": the output name holds the control character '\n': the `.sha256` line beside it could not be read back by sha256sum -c"#),
        "{stderr}"
    );
    assert_eq!(crate::support::listing(tmp.path()), ["managed.xml", "pkg"]);
}

/// `sepkg --json verify ARGS`: the exit code and the error document.
fn verify_error(args: &[&str]) -> (i32, serde_json::Value) {
    let run = crate::support::web::sepkg_direct()
        .args(["--json", "verify"])
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&run);
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (run.status.code().unwrap(), doc["error"].clone())
}

fn verify_says_what_is_wrong_with_the_url_or_the_server() {
    use crate::support::web::{Behaviour, fake};
    let tmp = tempfile::tempdir().unwrap();
    let sidecar = tmp.path().join("SEP14.zip.sha256");
    std::fs::write(&sidecar, format!("{}  SEP14.zip\n", "0".repeat(64))).unwrap();
    let expect = sidecar.to_str().unwrap();

    let port = fake(
        Behaviour::Gzip {
            body: b"\x1f\x8b\x08 compressed".to_vec(),
        },
        1,
    );
    let (code, error) = verify_error(&[
        &format!("http://127.0.0.1:{port}/SEP14.zip"),
        "--expect",
        expect,
    ]);
    assert_eq!(code, 2, "{error}");
    assert_eq!(error["code"], "server-answer");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("the server sent the body encoded (Content-Encoding: gzip) although verify asks for the bytes as they are (Accept-Encoding: identity)"),
        "{message}"
    );
    assert!(
        !error["hint"]
            .as_str()
            .unwrap()
            .contains("check that the server is running")
    );

    // A server that redirects every request to itself.
    let port = fake(
        Behaviour::Redirect {
            location: "/SEP14.zip".into(),
        },
        12,
    );
    let (code, error) = verify_error(&[
        &format!("http://127.0.0.1:{port}/SEP14.zip"),
        "--expect",
        expect,
    ]);
    assert_eq!(code, 2, "{error}");
    assert_eq!(error["code"], "server-answer", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("redirect loop"),
        "{error}"
    );
    assert!(
        error["hint"].as_str().unwrap().contains("redirect rules"),
        "{error}"
    );

    let (code, error) = verify_error(&["http://127.0.0.1:1/SEP 14.zip", "--expect", expect]);
    assert_eq!(code, 2, "{error}");
    assert_eq!(error["code"], "bad-url", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:1/SEP 14.zip: not a valid URL"),
        "{error}"
    );
    assert!(error["hint"].as_str().unwrap().contains("%20"), "{error}");
}

fn base_url_refuses_quotes_and_angle_brackets() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    std::fs::create_dir(&root).unwrap();
    for url in ["https://h/sep\"x/", "https://h/<sep>/", "https://h/a>b/"] {
        let run = sepkg()
            .args(["publish", "nothing.zip", "--to"])
            .arg(&root)
            .args(["--base-url", url])
            .output()
            .unwrap();
        let (_, stderr) = text(&run);
        assert_eq!(run.status.code(), Some(2), "{url}: {stderr}");
        assert!(
            stderr.contains("cannot stand in a URL as it is: percent-encode it"),
            "{url}: {stderr}"
        );
    }
    assert!(crate::support::listing(&root).is_empty());
}
