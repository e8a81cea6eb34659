//! A web root's lifecycle under parallel pipelines, retired packages and
//! interruptions (issue 11): concurrent publishes all land, `unpublish` and
//! `reindex` leave a web root that `verify`, `sha256sum -c` and a real web
//! server accept, SIGINT/SIGTERM/SIGHUP leave nothing behind, and
//! concurrent transforms to one OUT leave a consistent triple.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::r#gen as fx;
use crate::support::harness::{test_with, tests};
use crate::support::web::{Server, sepkg_direct};
use crate::support::{fixtures, have, listing, sepkg, sha256, snapshot, text};

/// The bundled example transformed with `CUSTOM_SMC_CONFIG.Tag=tag` (so
/// each tag gives different bytes) into `dir/name`.
fn artifact(dir: &Path, name: &str, tag: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(name);
    let o = sepkg()
        .arg("transform")
        .arg(fixtures().join(fx::EXAMPLE_ZIP))
        .arg("--sylink")
        .arg(fixtures().join(fx::EXAMPLE_SYLINK))
        .args([
            "--setaid",
            &format!("CUSTOM_SMC_CONFIG.Tag={tag}"),
            "-q",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    out
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = sepkg().args(args).output().unwrap();
    let (out, err) = text(&o);
    (o.status.code().unwrap(), out, err)
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// `sepkg verify WEBROOT` exits 0 and GNU `sha256sum -c --strict` accepts
/// SHA256SUMS with `files` lines.
fn assert_intact(web: &Path, files: usize) {
    let (code, out, err) = run(&[os("verify"), web.as_os_str()]);
    assert_eq!(code, 0, "verify WEBROOT:\n{out}{err}");
    if !have("sha256sum") {
        eprintln!("SKIPPED: sha256sum not installed");
        return;
    }
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(web)
        .output()
        .unwrap();
    let (out, err) = text(&check);
    assert!(check.status.success(), "sha256sum -c:\n{out}{err}");
    assert_eq!(out.matches(": OK").count(), files, "{out}");
}

fn index_names(web: &Path) -> Vec<String> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(web.join("index.json")).unwrap()).unwrap();
    index["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

const ROUNDS: usize = 4;
const PARALLEL: usize = 8;

fn eight_concurrent_publishes_all_land_every_round() {
    let tmp = tempfile::tempdir().unwrap();
    let artifacts: Vec<PathBuf> = (1..=PARALLEL)
        .map(|n| {
            artifact(
                &tmp.path().join("out"),
                &format!("c{n}.zip"),
                &n.to_string(),
            )
        })
        .collect();
    let shas: Vec<String> = artifacts
        .iter()
        .map(|a| sha256(&std::fs::read(a).unwrap()))
        .collect();
    let mut sorted = shas.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), PARALLEL, "the artifacts are not distinct");
    let mut waited = 0;
    for round in 0..ROUNDS {
        let web = tmp.path().join(format!("web{round}"));
        std::fs::create_dir(&web).unwrap();
        let children: Vec<Child> = artifacts
            .iter()
            .map(|a| {
                Command::new(env!("CARGO_BIN_EXE_sepkg"))
                    .arg("publish")
                    .arg(a)
                    .arg("--to")
                    .arg(&web)
                    .arg("-q")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert_eq!(o.status.code(), Some(0), "round {round}: {err}");
            if err.contains("waiting for the lock on") {
                // The holder's pid and command, unless the wait began in
                // the instant before the holder wrote them.
                assert!(err.contains(".sepkg.lock held by another sepkg"), "{err}");
                waited += 1;
            }
        }
        let expected: Vec<String> = (1..=PARALLEL).map(|n| format!("c{n}.zip")).collect();
        assert_eq!(index_names(&web), expected, "round {round}");
        let sums = std::fs::read_to_string(web.join("SHA256SUMS")).unwrap();
        let html = std::fs::read_to_string(web.join("index.html")).unwrap();
        for (name, sha) in expected.iter().zip(&shas) {
            assert!(
                sums.contains(&format!("{sha}  {name}\n")),
                "round {round}: {sums}"
            );
            assert!(
                html.contains(sha.as_str()),
                "round {round}: index.html lacks {name}"
            );
        }
        assert_intact(&web, 3 * PARALLEL);
        // No lock file, no staging folder stays.
        assert!(
            !listing(&web).iter().any(|n| n.starts_with('.')),
            "{:?}",
            listing(&web)
        );
    }
    eprintln!(
        "{ROUNDS} rounds of {PARALLEL} concurrent publishes: all landed; {waited} publishes waited for the lock"
    );
}

/// Holds `WEBROOT/.sepkg.lock` as another sepkg would.
fn hold_lock(web: &Path) -> std::fs::File {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .read(true)
        .open(web.join(".sepkg.lock"))
        .unwrap();
    f.lock().unwrap();
    f.write_all(b"pid 4242: sepkg publish other.zip --to web\n")
        .unwrap();
    f
}

fn a_held_lock_makes_publish_wait_and_lock_timeout_bounds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let a = artifact(&tmp.path().join("out"), "A.zip", "a");
    let holder = hold_lock(&web);
    let before = snapshot(&web);
    for command in [
        vec![os("publish"), a.as_os_str(), os("--to"), web.as_os_str()],
        vec![os("unpublish"), os("A.zip"), os("--from"), web.as_os_str()],
        vec![os("reindex"), web.as_os_str()],
    ] {
        let mut args = command.clone();
        args.extend([os("--lock-timeout"), os("1")]);
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{command:?}: {out}{err}");
        let lock = web.join(".sepkg.lock").display().to_string();
        assert!(
            err.contains(&format!("waiting for the lock on {lock} held by another sepkg (pid 4242: sepkg publish other.zip --to web)")),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "error: {lock}: still locked after 1 s, held by pid 4242"
            )),
            "{err}"
        );
        assert_eq!(snapshot(&web), before, "{command:?} changed the web root");
    }
    // Released, the same publish goes through.
    drop(holder);
    let (code, out, err) = run(&[os("publish"), a.as_os_str(), os("--to"), web.as_os_str()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_intact(&web, 3);
}

fn unpublish_and_reindex_leave_a_web_root_a_real_server_serves_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let names = ["A.zip", "B.zip", "C.zip", "D.zip"];
    let mut args = vec![os("publish")];
    let paths: Vec<PathBuf> = names
        .iter()
        .map(|n| artifact(&tmp.path().join("out"), n, n))
        .collect();
    args.extend(paths.iter().map(|p| p.as_os_str()));
    args.extend([
        os("--to"),
        web.as_os_str(),
        os("--base-url"),
        os("http://sep.example/"),
    ]);
    assert_eq!(run(&args).0, 0);

    // An unknown name: exit 2 naming it, nothing changed.
    let before = snapshot(&web);
    let (code, _, err) = run(&[
        os("unpublish"),
        os("B.zip"),
        os("nope.zip"),
        os("--from"),
        web.as_os_str(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope.zip: not published in"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(snapshot(&web), before);

    // Retire B: its three files go, the records follow.
    let (code, out, err) = run(&[os("unpublish"), os("B.zip"), os("--from"), web.as_os_str()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unpublished B.zip"), "{out}");
    assert!(
        out.contains("removed: B.zip, B.zip.sha256, B.zip.manifest.json"),
        "{out}"
    );
    assert!(!listing(&web).iter().any(|n| n.starts_with("B.zip")));
    assert_eq!(index_names(&web), ["A.zip", "C.zip", "D.zip"]);
    assert_intact(&web, 9);

    // C deleted by hand (issue 11's defect 3): verify fails until reindex.
    for suffix in ["", ".sha256", ".manifest.json"] {
        std::fs::remove_file(web.join(format!("C.zip{suffix}"))).unwrap();
    }
    assert_eq!(run(&[os("verify"), web.as_os_str()]).0, 1);
    // A killed run's temporary, and the JSON report.
    std::fs::write(web.join(".X.zip.abc123.part"), b"half").unwrap();
    // And a SIGKILLed publish's staging folder.
    std::fs::create_dir(web.join(".sepkg-staging")).unwrap();
    std::fs::write(web.join(".sepkg-staging/.Y.zip.q1w2e3.part"), b"half").unwrap();
    let o = sepkg()
        .args(["--json", "reindex"])
        .arg(&web)
        .arg("--clean")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["listed"], serde_json::json!(["A.zip", "D.zip"]));
    assert_eq!(j["dropped"], serde_json::json!(["C.zip"]));
    assert_eq!(j["temporaries"], serde_json::json!([".X.zip.abc123.part"]));
    assert_eq!(j["cleaned"], true);
    assert_eq!(j["staging_removed"], true);
    assert!(!web.join(".sepkg-staging").exists());
    assert_eq!(j["left_out"], serde_json::json!([]));
    assert_eq!(j["index"]["base_url"], "http://sep.example/");
    assert!(!web.join(".X.zip.abc123.part").exists());
    assert_intact(&web, 6);

    // A damaged package is left out and named; exit 1.
    std::fs::write(web.join("D.zip"), b"not the published bytes").unwrap();
    let (code, out, _) = run(&[os("reindex"), web.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("LEFT OUT  D.zip: "), "{out}");
    assert!(out.contains("does not match"), "{out}");
    assert!(out.contains("1 package listed, 1 left out"), "{out}");
    assert_eq!(index_names(&web), ["A.zip"]);
    // Retired for good, the web root verifies again.
    for suffix in ["", ".sha256", ".manifest.json"] {
        std::fs::remove_file(web.join(format!("D.zip{suffix}"))).unwrap();
    }
    let (code, out, _) = run(&[os("reindex"), web.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert_intact(&web, 3);

    served_over_http(&web);
}

/// Served by a real web server: the package left verifies by URL, the
/// retired one is in no index.
fn served_over_http(web: &Path) {
    if !have("python3") {
        eprintln!("SKIPPED: python3 not installed, no web server");
        return;
    }
    let server = Server::start(web);
    let v = sepkg_direct()
        .args(["verify", &server.url("A.zip")])
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{:?}", text(&v));
    // The retired package is gone from the server and from its index.
    let v = sepkg_direct()
        .args(["verify", &server.url("B.zip")])
        .output()
        .unwrap();
    let (out, err) = text(&v);
    assert_eq!(v.status.code(), Some(2), "{out}{err}");
    assert!(err.contains("lists no package named \"B.zip\""), "{err}");
}

/// The signals, their names for `kill -s` and the exit codes they give.
const SIGNALS: [(&str, i32); 3] = [("INT", 130), ("TERM", 143), ("HUP", 129)];

/// True when a hidden `.part` file in `dir`, or the large `Big.msi` in a
/// hidden staged folder there (a `--to dir` output), has bytes.
fn growing(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            n.starts_with('.')
                && if path.is_dir() {
                    std::fs::metadata(path.join("Big.msi")).is_ok_and(|m| m.len() > 0)
                } else {
                    n.ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > 0)
                }
        })
    })
}

/// Starts `args`, waits until a hidden `.part` file in `dir` has bytes,
/// sends `signal`, and returns the exit code and stderr.
fn interrupt(args: &[&std::ffi::OsStr], dir: &Path, signal: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sepkg"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut caught = false;
    while Instant::now() < deadline && !caught {
        caught = growing(dir);
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if !caught {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(caught, "the command ended before its temporary file grew");
    let kill = Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().expect("exited, not killed by the signal"),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn a_signal_during_publish_leaves_the_web_root_as_it_was((signal, code): (&'static str, i32)) {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let small = artifact(&tmp.path().join("out"), "X.zip", "x");
    assert_eq!(
        run(&[
            os("publish"),
            small.as_os_str(),
            os("--to"),
            web.as_os_str()
        ])
        .0,
        0
    );
    let before = snapshot(&web);
    let big = crate::support::large_artifact(&tmp.path().join("big"), "BIG.exe", 300, "exe");
    let (got, err) = interrupt(
        &[os("publish"), big.as_os_str(), os("--to"), web.as_os_str()],
        &web.join(".sepkg-staging"),
        signal,
    );
    assert_eq!(got, code, "SIG{signal}: {err}");
    assert_eq!(
        err.trim_end().lines().last(),
        Some("interrupted: nothing written"),
        "{err}"
    );
    assert_eq!(
        snapshot(&web),
        before,
        "SIG{signal} left the web root changed"
    );
    assert_intact(&web, 3);
}

/// A folder package with a ~300 MiB incompressible file, made once.
fn big_folder_package() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        use std::io::Write;
        let tmp = tempfile::tempdir().unwrap();
        let pkg = tmp.path().join("export");
        fx::write_dir(&pkg, &fx::example_files());
        let mut f = std::io::BufWriter::new(std::fs::File::create(pkg.join("Big.msi")).unwrap());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..300 {
            for chunk in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
        tmp
    })
    .path()
}

fn a_signal_during_transform_leaves_the_output_folder_as_it_was(
    (signal, code): (&'static str, i32),
) {
    let input = big_folder_package().join("export");
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(out_dir.join("unrelated.txt"), b"kept").unwrap();
    let sylink = fixtures().join(fx::EXAMPLE_SYLINK);
    let out = out_dir.join("big.zip");
    let before = snapshot(&out_dir);
    let (got, err) = interrupt(
        &[
            os("transform"),
            input.as_os_str(),
            os("--sylink"),
            sylink.as_os_str(),
            os("--to"),
            os("zip"),
            os("-o"),
            out.as_os_str(),
        ],
        &out_dir,
        signal,
    );
    assert_eq!(got, code, "SIG{signal}: {err}");
    assert_eq!(
        err.trim_end().lines().last(),
        Some("interrupted: nothing written"),
        "{err}"
    );
    assert_eq!(
        snapshot(&out_dir),
        before,
        "SIG{signal} left the output folder changed"
    );
}

fn a_signal_during_a_to_dir_transform_leaves_no_folder() {
    let input = big_folder_package().join("export");
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let sylink = fixtures().join(fx::EXAMPLE_SYLINK);
    let out = out_dir.join("big");
    let before = snapshot(&out_dir);
    let (got, err) = interrupt(
        &[
            os("transform"),
            input.as_os_str(),
            os("--sylink"),
            sylink.as_os_str(),
            os("--to"),
            os("dir"),
            os("-o"),
            out.as_os_str(),
        ],
        &out_dir,
        "TERM",
    );
    assert_eq!(got, 143, "{err}");
    assert_eq!(
        err.trim_end().lines().last(),
        Some("interrupted: nothing written"),
        "{err}"
    );
    assert_eq!(snapshot(&out_dir), before, "the staged folder was left");
}

const TRANSFORM_ROUNDS: usize = 30;

fn two_concurrent_transforms_to_one_out_leave_one_runs_three_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("OUT.zip");
    let sylink = fixtures().join(fx::EXAMPLE_SYLINK);
    let mut mixed_winners = [0usize; 2];
    for round in 0..TRANSFORM_ROUNDS {
        let children: Vec<Child> = ["one", "two"]
            .iter()
            .map(|tag| {
                Command::new(env!("CARGO_BIN_EXE_sepkg"))
                    .arg("transform")
                    .arg(fixtures().join(fx::EXAMPLE_ZIP))
                    .arg("--sylink")
                    .arg(&sylink)
                    .args(["--setaid", &format!("CUSTOM_SMC_CONFIG.Tag={tag}"), "-o"])
                    .arg(&out)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let sha = sha256(&std::fs::read(&out).unwrap());
        let sidecar = std::fs::read_to_string(tmp.path().join("OUT.zip.sha256")).unwrap();
        assert_eq!(
            sidecar,
            format!("{sha}  OUT.zip\n"),
            "round {round}: OUT and OUT.sha256 disagree"
        );
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(tmp.path().join("OUT.zip.manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            manifest["output"]["sha256"], sha,
            "round {round}: OUT and its manifest disagree"
        );
        let tag = manifest["changes"].to_string().contains("\"two\"");
        mixed_winners[usize::from(tag)] += 1;
        assert_eq!(
            listing(tmp.path()),
            ["OUT.zip", "OUT.zip.manifest.json", "OUT.zip.sha256"],
            "round {round}"
        );
    }
    eprintln!(
        "{TRANSFORM_ROUNDS} rounds of two transforms to one OUT: consistent every round (last writer: one {}, two {})",
        mixed_winners[0], mixed_winners[1]
    );
}

fn a_batch_with_a_bad_input_keeps_the_good_outputs_and_says_what_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let good1 = tmp.path().join("good1.zip");
    let good2 = tmp.path().join("good2.zip");
    let bad = tmp.path().join("bad.zip");
    let zip = fx::zip(&fx::example_files());
    std::fs::write(&good1, &zip).unwrap();
    std::fs::write(&good2, &zip).unwrap();
    std::fs::write(&bad, &zip[..zip.len() / 2]).unwrap();
    let o = sepkg()
        .args(["transform", "--out-dir"])
        .arg(&out_dir)
        .arg("--sylink")
        .arg(fixtures().join(fx::EXAMPLE_SYLINK))
        .args([&good1, &bad, &good2])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert_eq!(
        out.trim_end().lines().last(),
        Some("2 of 3 packages written; failed: bad.zip (corrupt)"),
        "{out}"
    );
    assert!(err.contains("bad.zip"), "{err}");
    assert_eq!(
        listing(&out_dir),
        [
            "good1-managed.zip",
            "good1-managed.zip.manifest.json",
            "good1-managed.zip.sha256",
            "good2-managed.zip",
            "good2-managed.zip.manifest.json",
            "good2-managed.zip.sha256",
        ]
    );
    // The same in JSON.
    let o = sepkg()
        .args(["--json", "transform", "--out-dir"])
        .arg(tmp.path().join("out"))
        .arg("--sylink")
        .arg(fixtures().join(fx::EXAMPLE_SYLINK))
        .args([&bad])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // One input is not a batch: nothing written, the error is the document.
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["error"]["code"], "corrupt", "{j}");
}

fn verify_checks_a_to_dir_output_file_by_file() {
    let tmp = tempfile::tempdir().unwrap();
    let o = sepkg()
        .current_dir(tmp.path())
        .args(["transform", "--to", "dir", "-o", "pkg", "--sylink"])
        .arg(fixtures().join(fx::EXAMPLE_SYLINK))
        .arg(fixtures().join(fx::EXAMPLE_ZIP))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let verify = || {
        let o = sepkg()
            .current_dir(tmp.path())
            .args(["verify", "pkg"])
            .output()
            .unwrap();
        let (out, err) = text(&o);
        (o.status.code().unwrap(), out, err)
    };
    let (code, out, err) = verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("verified: pkg\n"), "{out}");
    assert!(out.contains("pkg.manifest.json, pkg.sha256"), "{out}");

    let ini = tmp.path().join("pkg/setup.ini");
    let original = std::fs::read(&ini).unwrap();
    std::fs::write(&ini, b"[Startup]\r\nProductVersion=1.0.0.0\r\n").unwrap();
    let (code, out, _) = verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("pkg/setup.ini: sha256 differs from pkg.manifest.json"),
        "{out}"
    );
    std::fs::write(&ini, &original).unwrap();

    std::fs::remove_file(tmp.path().join("pkg/sylink.xml")).unwrap();
    std::fs::write(tmp.path().join("pkg/extra.txt"), b"x").unwrap();
    let (code, out, _) = verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("pkg/sylink.xml: listed in pkg.manifest.json but missing"),
        "{out}"
    );
    assert!(
        out.contains("pkg/extra.txt: not listed in pkg.manifest.json"),
        "{out}"
    );
}

fn base_url_warns_when_the_artifact_is_not_a_single_file_exe() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let zip = artifact(&tmp.path().join("out"), "SEP.zip", "z");
    let (code, out, err) = run(&[
        os("publish"),
        zip.as_os_str(),
        os("--to"),
        web.as_os_str(),
        os("--base-url"),
        os("https://sep.example/pkgs"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("warning: SEP.zip is a zip, not a single-file .exe"),
        "{err}"
    );
    assert!(err.contains("\"Download from the following URL (http or https)\" option downloads one file and runs it"), "{err}");
    assert!(
        err.contains(
            "sepkg transform EXPORT --sylink managed.xml --to exe --stub EXPORT.exe -o setup.exe"
        ),
        "{err}"
    );
    // A single-file .exe gets no warning.
    let exe = crate::support::large_artifact(&tmp.path().join("exe"), "setup.exe", 1, "exe");
    let (code, out, err) = run(&[os("publish"), exe.as_os_str(), os("--to"), web.as_os_str()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("warning"), "{err}");
}

fn help_teaches_the_web_root_commands() {
    for (command, needles) in [
        (
            "unpublish",
            &[
                "--from <WEBROOT>",
                "transaction",
                "nothing changes",
                "Exit codes: 0 unpublished, 2 error",
            ][..],
        ),
        (
            "reindex",
            &[
                "--clean",
                "left out",
                "Exit codes: 0 every package present is listed, 1 some were left out",
            ][..],
        ),
        (
            "publish",
            &[
                "--lock-timeout <SECONDS>",
                "WEBROOT/.sepkg.lock",
                ".sepkg-staging/",
                "exit 130, 143 or 129",
            ][..],
        ),
        ("verify", &["a --to dir", "DIR.manifest.json"][..]),
    ] {
        let o = sepkg().args([command, "--help"]).output().unwrap();
        let (out, _) = text(&o);
        assert_eq!(o.status.code(), Some(0));
        for needle in needles {
            assert!(
                out.contains(needle),
                "{command} --help lacks {needle:?}:\n{out}"
            );
        }
    }
    let top = text(&sepkg().arg("--help").output().unwrap()).0;
    for needle in ["unpublish", "reindex"] {
        assert!(top.contains(needle), "{top}");
    }
}

/// While a publish holds the lock, its staging folder is work in progress
/// and verify passes over it; with nobody holding the lock it is a killed
/// run's leftover and named. An empty `.NAME.lock` beside a listed NAME
/// (what a transform leaves on Windows) is sepkg's own, like `.sepkg.lock`.
fn verify_passes_over_a_running_publishs_staging_and_names_a_leftover_one() {
    let tmp = tempfile::tempdir().unwrap();
    let a = artifact(&tmp.path().join("out"), "A.zip", "1");
    let web = tmp.path().join("web");
    std::fs::create_dir_all(&web).unwrap();
    let (code, out, err) = run(&[os("publish"), a.as_os_str(), os("--to"), web.as_os_str()]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(web.join(".A.zip.lock"), b"").unwrap();
    let staging = web.join(".sepkg-staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join(".B.zip.x1y2z3.part"), b"half a package").unwrap();

    let held = hold_lock(&web);
    let (code, out, err) = run(&[os("verify"), web.as_os_str()]);
    assert_eq!(code, 0, "a publish is running:\n{out}{err}");
    drop(held);

    let (code, out, err) = run(&[os("verify"), web.as_os_str()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(".sepkg-staging/: present but not listed"),
        "{out}"
    );
    assert!(!out.contains(".A.zip.lock"), "{out}");
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials = Vec::new();
    #[cfg(unix)]
    for (signal, code) in SIGNALS {
        trials.push(test_with(
            format!(
                "webroot::a_signal_during_transform_leaves_the_output_folder_as_it_was::sig{}",
                signal.to_lowercase()
            ),
            (signal, code),
            a_signal_during_transform_leaves_the_output_folder_as_it_was,
        ));
        trials.push(test_with(
            format!(
                "webroot::a_signal_during_publish_leaves_the_web_root_as_it_was::sig{}",
                signal.to_lowercase()
            ),
            (signal, code),
            a_signal_during_publish_leaves_the_web_root_as_it_was,
        ));
    }
    trials.extend(tests![
        eight_concurrent_publishes_all_land_every_round,
        two_concurrent_transforms_to_one_out_leave_one_runs_three_files,
        unpublish_and_reindex_leave_a_web_root_a_real_server_serves_and_verifies,
        a_held_lock_makes_publish_wait_and_lock_timeout_bounds_it,
        a_batch_with_a_bad_input_keeps_the_good_outputs_and_says_what_failed,
        verify_checks_a_to_dir_output_file_by_file,
        base_url_warns_when_the_artifact_is_not_a_single_file_exe,
        help_teaches_the_web_root_commands,
        verify_passes_over_a_running_publishs_staging_and_names_a_leftover_one,
    ]);
    #[cfg(unix)]
    trials.extend(tests![
        nginx_with_the_readme_rule_never_serves_what_a_killed_publish_leaves,
        a_signal_during_a_to_dir_transform_leaves_no_folder,
    ]);
    trials
}

/// nginx serving `web` on 127.0.0.1 with the README's dot-name rule;
/// stopped on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(web: &Path) -> Option<Nginx> {
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let dir = tempfile::tempdir().unwrap();
        let port = crate::support::web::free_port();
        let p = dir.path().display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {p}/b;\n  proxy_temp_path {p}/p;\n\
             fastcgi_temp_path {p}/f;\n  uwsgi_temp_path {p}/u;\n  scgi_temp_path {p}/s;\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {};\n    location ~ /\\. {{ deny all; }}\n  }}\n}}\n",
            web.display()
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut server = Nginx {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            if server.child.try_wait().unwrap().is_some() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The status line's code for a GET of `path`.
    fn status(&self, path: &str) -> u16 {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /{path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        String::from_utf8_lossy(&head[9..12]).parse().unwrap()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_with_the_readme_rule_never_serves_what_a_killed_publish_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let small = artifact(&tmp.path().join("out"), "X.zip", "x");
    assert_eq!(
        run(&[
            os("publish"),
            small.as_os_str(),
            os("--to"),
            web.as_os_str()
        ])
        .0,
        0
    );
    let Some(nginx) = Nginx::start(&web) else {
        eprintln!("SKIPPED: nginx not installed or did not start");
        return;
    };
    // SIGKILL a publish while its copy grows: it leaves a half-written
    // file in the hidden staging folder.
    let big = crate::support::large_artifact(&tmp.path().join("big"), "BIG.exe", 200, "exe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sepkg"))
        .arg("publish")
        .arg(&big)
        .arg("--to")
        .arg(&web)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let staging = web.join(".sepkg-staging");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut part = None;
    while Instant::now() < deadline && part.is_none() && child.try_wait().unwrap().is_none() {
        part = std::fs::read_dir(&staging).ok().and_then(|entries| {
            entries.flatten().find_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (n.ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > 0)).then_some(n)
            })
        });
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let part = part.expect("the publish finished before the test could kill it");
    assert!(staging.join(&part).is_file());
    assert_eq!(nginx.status(&format!(".sepkg-staging/{part}")), 403);
    assert_eq!(nginx.status(".sepkg.lock"), 403);
    assert_eq!(nginx.status("X.zip"), 200);
    assert_eq!(nginx.status("SHA256SUMS"), 200);
    // The published package still verifies through nginx; reindex clears
    // the leftovers and the web root verifies again.
    let v = sepkg_direct()
        .args(["verify", &nginx.url("X.zip")])
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{:?}", text(&v));
    let (code, out, err) = run(&[os("reindex"), web.as_os_str(), os("--clean")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("removed   .sepkg-staging/"), "{out}");
    assert!(
        !listing(&web).iter().any(|n| n.starts_with('.')),
        "{:?}",
        listing(&web)
    );
    assert_intact(&web, 3);
}
