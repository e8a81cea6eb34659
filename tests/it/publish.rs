//! `sepkg publish`: a web root that `sha256sum -c` and a real web server
//! accept, atomic under interruption, idempotent, refusing silent
//! replacement.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::harness::tests;
use crate::support::web::Server;
use crate::support::{fixtures, have, listing, sepkg, sha256, text};

/// Transforms the bundled example into `dir/name` (with `extra` options) and
/// returns its path; the .sha256 and .manifest.json are beside it.
fn artifact(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(name);
    let output = sepkg()
        .arg("transform")
        .arg(fixtures().join("SEP-14.3.8289.5000-x64-client.zip"))
        .arg("--sylink")
        .arg(fixtures().join("sylink-managed.xml"))
        .arg("-o")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", text(&output));
    out
}

fn publish(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let output = sepkg().arg("publish").args(args).output().unwrap();
    let (out, err) = text(&output);
    (output.status.code().unwrap(), out, err)
}

/// Every file in `dir` with its bytes, hidden ones included.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    listing(dir)
        .into_iter()
        .map(|n| {
            let p = dir.join(&n);
            let bytes = if p.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                b"<dir>".to_vec()
            };
            (n, bytes)
        })
        .collect()
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

const EXAMPLE_SHA: &str = "43e0ab4307d46d365e60bedc3a91e4cf7f93803e0ea01eec241f52e87ff773ea";

fn publishes_a_web_root_that_sha256sum_and_a_web_server_accept() {
    let tmp = tempfile::tempdir().unwrap();
    let a = artifact(&tmp.path().join("out"), "SEP14-x64-managed.zip", &[]);
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();

    let (code, out, err) = publish(&[
        a.as_os_str(),
        "--to".as_ref(),
        web.as_os_str(),
        "--base-url".as_ref(),
        "https://web.example.com/sep".as_ref(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("published {}", a.display())), "{out}");
    // The exact URL for the SEPM wizard, on its own line.
    assert!(
        out.lines()
            .any(|l| l.trim() == "https://web.example.com/sep/SEP14-x64-managed.zip"),
        "{out}"
    );
    assert_eq!(
        listing(&web),
        [
            "SEP14-x64-managed.zip",
            "SEP14-x64-managed.zip.manifest.json",
            "SEP14-x64-managed.zip.sha256",
            "SHA256SUMS",
            "index.html",
            "index.json"
        ]
    );
    // Byte-identical copies of the artifact and its records.
    for suffix in ["", ".sha256", ".manifest.json"] {
        let name = format!("SEP14-x64-managed.zip{suffix}");
        assert_eq!(
            std::fs::read(web.join(&name)).unwrap(),
            std::fs::read(a.with_file_name(&name)).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        sha256(&std::fs::read(web.join("SEP14-x64-managed.zip")).unwrap()),
        EXAMPLE_SHA
    );

    // SHA256SUMS: sorted, every published file, and GNU sha256sum agrees.
    let sums = std::fs::read_to_string(web.join("SHA256SUMS")).unwrap();
    let names: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        names,
        [
            "SEP14-x64-managed.zip",
            "SEP14-x64-managed.zip.manifest.json",
            "SEP14-x64-managed.zip.sha256"
        ]
    );
    assert!(sums.starts_with(&format!("{EXAMPLE_SHA}  SEP14-x64-managed.zip\n")));
    if have("sha256sum") {
        let check = std::process::Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&web)
            .output()
            .unwrap();
        let (out, err) = text(&check);
        assert!(check.status.success(), "sha256sum -c failed:\n{out}{err}");
        assert_eq!(out.matches(": OK").count(), 3, "{out}");
    } else {
        eprintln!("SKIPPED: sha256sum not installed");
    }

    // index.json
    let index = json(&std::fs::read(web.join("index.json")).unwrap());
    assert_eq!(index["schema"], "sepkg-index/1");
    assert_eq!(index["base_url"], "https://web.example.com/sep/");
    let p = &index["packages"][0];
    assert_eq!(p["name"], "SEP14-x64-managed.zip");
    assert_eq!(p["kind"], "zip");
    assert_eq!(p["size"], 9611);
    assert_eq!(p["sha256"], EXAMPLE_SHA);
    assert_eq!(p["product_version"], "14.3.8289.5000");
    assert_eq!(p["built"], serde_json::Value::Null);
    assert_eq!(
        p["url"],
        "https://web.example.com/sep/SEP14-x64-managed.zip"
    );
    let published = p["published"].as_str().unwrap();
    assert!(
        published.len() == 20 && published.ends_with('Z'),
        "{published}"
    );

    // index.html: what a person needs, and every link resolves, on disk and
    // through a real web server.
    let html = std::fs::read_to_string(web.join("index.html")).unwrap();
    for needle in [
        "SEP14-x64-managed.zip",
        "14.3.8289.5000",
        "9.4 KiB",
        EXAMPLE_SHA,
        "https://web.example.com/sep/SEP14-x64-managed.zip",
        "Download from the following URL (http or https)",
        "Upgrade Clients with Package",
        published,
        "<td class=\"num\">—</td>",
        "SOURCE_DATE_EPOCH",
    ] {
        assert!(html.contains(needle), "index.html lacks {needle:?}");
    }
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(hrefs.len(), 5, "{hrefs:?}");
    for href in &hrefs {
        assert!(
            web.join(href).is_file(),
            "index.html links to {href}, which is not in the web root"
        );
    }
    if !have("python3") {
        eprintln!("SKIPPED: python3 not installed, no web server");
        return;
    }
    let server = Server::start(&web);
    for href in &hrefs {
        let out = sepkg_get(&server.url(href));
        assert_eq!(out, std::fs::read(web.join(href)).unwrap(), "{href}");
    }
    // And the served artifact verifies against the index beside it.
    let v = support::web::sepkg_direct()
        .args(["verify", &server.url("SEP14-x64-managed.zip")])
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{:?}", text(&v));
}

/// The bytes at `url`, fetched with a plain TCP client: the test does not
/// trust sepkg's own HTTP code to check the server.
fn sepkg_get(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    assert!(head.starts_with("HTTP/1.0 200"), "{url}: {head}");
    all[split + 4..].to_vec()
}

fn publishing_the_same_artifact_twice_is_a_no_op() {
    let tmp = tempfile::tempdir().unwrap();
    let a = artifact(&tmp.path().join("out"), "X.zip", &[]);
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let args = [a.as_os_str(), "--to".as_ref(), web.as_os_str()];
    assert_eq!(publish(&args).0, 0);
    let before = snapshot(&web);
    let mtime = std::fs::metadata(web.join("index.json"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));

    let (code, out, err) = publish(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged"), "{out}");
    assert!(
        out.contains("already published with the same bytes, nothing written"),
        "{out}"
    );
    assert!(out.contains("nothing to do, nothing written"), "{out}");
    assert_eq!(snapshot(&web), before);
    assert_eq!(
        std::fs::metadata(web.join("index.json"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );

    // The same through --json.
    let output = sepkg()
        .args(["--json", "publish"])
        .args(args)
        .output()
        .unwrap();
    let doc = json(&output.stdout);
    assert_eq!(doc["changed"], false);
    assert_eq!(doc["written"], serde_json::json!([]));
    assert_eq!(doc["packages"][0]["action"], "unchanged");
    assert_eq!(snapshot(&web), before);
}

fn a_different_artifact_under_a_published_name_needs_replace() {
    let tmp = tempfile::tempdir().unwrap();
    let first = artifact(&tmp.path().join("one"), "X.zip", &[]);
    let second = artifact(
        &tmp.path().join("two"),
        "X.zip",
        &["--setaid", "CUSTOM_SMC_CONFIG.AddProgramIntoStartMenu=0"],
    );
    let new_sha = sha256(&std::fs::read(&second).unwrap());
    assert_ne!(new_sha, EXAMPLE_SHA);
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    assert_eq!(
        publish(&[first.as_os_str(), "--to".as_ref(), web.as_os_str()]).0,
        0
    );
    let before = snapshot(&web);

    let (code, out, err) = publish(&[second.as_os_str(), "--to".as_ref(), web.as_os_str()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("a different file is already published under this name"),
        "{err}"
    );
    assert!(err.contains(EXAMPLE_SHA) && err.contains(&new_sha), "{err}");
    assert!(err.contains("--replace"), "{err}");
    assert_eq!(
        snapshot(&web),
        before,
        "a refused publish must not touch the web root"
    );

    // --json names the error too.
    let output = sepkg()
        .args(["--json", "publish"])
        .arg(&second)
        .arg("--to")
        .arg(&web)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(json(&output.stdout)["error"]["code"], "already-published");

    let (code, out, err) = publish(&[
        second.as_os_str(),
        "--to".as_ref(),
        web.as_os_str(),
        "--replace".as_ref(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("replaced  {}", second.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("(was sha256 {EXAMPLE_SHA})")),
        "{out}"
    );
    assert_eq!(sha256(&std::fs::read(web.join("X.zip")).unwrap()), new_sha);
    let sums = std::fs::read_to_string(web.join("SHA256SUMS")).unwrap();
    assert!(sums.starts_with(&format!("{new_sha}  X.zip\n")), "{sums}");
    assert_eq!(
        json(&std::fs::read(web.join("index.json")).unwrap())["packages"][0]["sha256"],
        new_sha
    );
    assert!(
        listing(&web).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        listing(&web)
    );
    let v = sepkg().arg("verify").arg(&web).output().unwrap();
    assert_eq!(v.status.code(), Some(0), "{:?}", text(&v));
}

fn refuses_an_artifact_whose_records_do_not_match_it() {
    let tmp = tempfile::tempdir().unwrap();
    let a = artifact(&tmp.path().join("out"), "X.zip", &[]);
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();

    // One byte changed after transform: the sidecar no longer matches.
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&a, &bytes).unwrap();
    let (code, _, err) = publish(&[a.as_os_str(), "--to".as_ref(), web.as_os_str()]);
    assert_eq!(code, 2);
    assert!(err.contains("X.zip.sha256: does not match"), "{err}");
    assert!(err.contains(EXAMPLE_SHA), "{err}");
    assert!(listing(&web).is_empty(), "{:?}", listing(&web));

    // A matching sidecar but a stale manifest.
    std::fs::write(
        a.with_file_name("X.zip.sha256"),
        format!("{}  X.zip\n", sha256(&bytes)),
    )
    .unwrap();
    let (code, _, err) = publish(&[a.as_os_str(), "--to".as_ref(), web.as_os_str()]);
    assert_eq!(code, 2);
    assert!(err.contains("X.zip.manifest.json: does not match"), "{err}");
    assert!(listing(&web).is_empty());

    // No manifest at all.
    std::fs::remove_file(a.with_file_name("X.zip.manifest.json")).unwrap();
    let (code, _, err) = publish(&[a.as_os_str(), "--to".as_ref(), web.as_os_str()]);
    assert_eq!(code, 2);
    assert!(err.contains("X.zip.manifest.json: missing"), "{err}");
    assert!(listing(&web).is_empty());

    // A web root that does not exist.
    let b = artifact(&tmp.path().join("b"), "B.zip", &[]);
    let (code, _, err) = publish(&[
        b.as_os_str(),
        "--to".as_ref(),
        tmp.path().join("nope").as_os_str(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not an existing folder"), "{err}");
}

fn a_publish_killed_while_copying_leaves_no_partial_file_under_the_final_name() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let small = artifact(&tmp.path().join("out"), "X.zip", &[]);
    assert_eq!(
        publish(&[small.as_os_str(), "--to".as_ref(), web.as_os_str()]).0,
        0
    );
    let sums_before = std::fs::read(web.join("SHA256SUMS")).unwrap();
    let index_before = std::fs::read(web.join("index.json")).unwrap();
    let before_names = listing(&web);

    let big = crate::support::large_artifact(tmp.path(), "BIG.zip", 24, "zip");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sepkg"))
        .arg("publish")
        .arg(&big)
        .arg("--to")
        .arg(&web)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as its temporary copy (in the hidden staging folder)
    // has some bytes in it.
    let staging = web.join(".sepkg-staging");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut caught = None;
    while Instant::now() < deadline {
        let names = if staging.is_dir() {
            listing(&staging)
        } else {
            Vec::new()
        };
        let part = names
            .into_iter()
            .find(|n| n.starts_with(".BIG.zip.") && n.ends_with(".part"));
        if let Some(part) = part
            && std::fs::metadata(staging.join(&part)).is_ok_and(|m| m.len() > 0)
        {
            child.kill().unwrap();
            caught = Some(part);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    let part = caught.expect("the publish finished before the test could interrupt it");
    assert!(!status.success());
    let part_len = std::fs::metadata(staging.join(&part))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(part_len < 24 << 20, "the copy was complete: {part_len}");

    // Nothing under the final name, the records unchanged.
    assert!(!web.join("BIG.zip").exists());
    assert!(!web.join("BIG.zip.sha256").exists());
    assert!(!web.join("BIG.zip.manifest.json").exists());
    assert_eq!(std::fs::read(web.join("SHA256SUMS")).unwrap(), sums_before);
    assert_eq!(std::fs::read(web.join("index.json")).unwrap(), index_before);

    // Only hidden names are left (a web server denying dot-files serves
    // none of them); verify names the staging folder.
    for name in listing(&web) {
        assert!(
            name.starts_with('.') || before_names.contains(&name),
            "SIGKILL left {name} in the web root"
        );
    }
    let v = sepkg().arg("verify").arg(&web).output().unwrap();
    let (out, _) = text(&v);
    assert_eq!(v.status.code(), Some(1), "{out}");
    assert!(
        out.contains(".sepkg-staging/: present but not listed"),
        "{out}"
    );
    // Publishing again (under the lock, so the staging folder's content
    // can only be a dead process's) clears it and completes.
    let (code, out, err) = publish(&[
        big.as_os_str(),
        "--to".as_ref(),
        web.as_os_str(),
        "-q".as_ref(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v = sepkg().arg("verify").arg(&web).output().unwrap();
    assert_eq!(v.status.code(), Some(0), "{:?}", text(&v));
}

fn a_failing_final_rename_undoes_the_whole_publish() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let first = artifact(&tmp.path().join("a"), "A.zip", &[]);
    assert_eq!(
        publish(&[first.as_os_str(), "--to".as_ref(), web.as_os_str()]).0,
        0
    );

    // index.html is the last file renamed: make it a non-empty folder so
    // that rename fails after the artifact, its records, SHA256SUMS and
    // index.json have been renamed into place.
    std::fs::remove_file(web.join("index.html")).unwrap();
    std::fs::create_dir(web.join("index.html")).unwrap();
    std::fs::write(web.join("index.html").join("keep"), b"x").unwrap();
    let before = snapshot(&web);

    let second = artifact(
        &tmp.path().join("b"),
        "B.zip",
        &["--setaid", "CUSTOM_SMC_CONFIG.X=1"],
    );
    let (code, out, err) = publish(&[second.as_os_str(), "--to".as_ref(), web.as_os_str()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("index.html: cannot rename into place"),
        "{err}"
    );
    assert!(
        !web.join("B.zip").exists(),
        "the artifact stayed under its final name"
    );
    assert_eq!(
        snapshot(&web),
        before,
        "the web root is not as it was (temporary or backup files left?)"
    );
}

fn source_date_epoch_gives_a_build_date_shown_in_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("S.zip");
    let o = sepkg()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("transform")
        .arg(fixtures().join("SEP-14.3.8289.5000-x64-client.zip"))
        .arg("--sylink")
        .arg(fixtures().join("sylink-managed.xml"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let manifest = std::fs::read_to_string(tmp.path().join("S.zip.manifest.json")).unwrap();
    assert!(
        manifest.contains("\"built\": \"2023-11-14T22:13:20Z\""),
        "{manifest}"
    );
    // The package itself is unchanged by it: only the manifest records the time.
    assert_eq!(sha256(&std::fs::read(&out).unwrap()), EXAMPLE_SHA);
    let plain = artifact(&tmp.path().join("p"), "P.zip", &[]);
    let plain_manifest =
        std::fs::read_to_string(plain.with_file_name("P.zip.manifest.json")).unwrap();
    assert!(!plain_manifest.contains("\"built\""), "{plain_manifest}");

    let bad = sepkg()
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .arg("transform")
        .arg(fixtures().join("SEP-14.3.8289.5000-x64-client.zip"))
        .arg("--sylink")
        .arg(fixtures().join("sylink-managed.xml"))
        .arg("-o")
        .arg(tmp.path().join("bad.zip"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad).1.contains("SOURCE_DATE_EPOCH"),
        "{:?}",
        text(&bad)
    );
    assert!(!tmp.path().join("bad.zip").exists());

    let web = tmp.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let (code, o, e) = publish(&[
        out.as_os_str(),
        plain.as_os_str(),
        "--to".as_ref(),
        web.as_os_str(),
    ]);
    assert_eq!(code, 0, "{o}{e}");
    let index = json(&std::fs::read(web.join("index.json")).unwrap());
    assert_eq!(index["packages"][0]["name"], "P.zip");
    assert_eq!(index["packages"][0]["built"], serde_json::Value::Null);
    assert_eq!(index["packages"][1]["built"], "2023-11-14T22:13:20Z");
    let html = std::fs::read_to_string(web.join("index.html")).unwrap();
    assert!(html.contains("<td class=\"num\">2023-11-14T22:13:20Z</td>"));
    assert!(html.contains("<td class=\"num\">—</td>"));
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        // The slowest first.
        a_publish_killed_while_copying_leaves_no_partial_file_under_the_final_name,
        publishes_a_web_root_that_sha256sum_and_a_web_server_accept,
        publishing_the_same_artifact_twice_is_a_no_op,
        a_different_artifact_under_a_published_name_needs_replace,
        refuses_an_artifact_whose_records_do_not_match_it,
        a_failing_final_rename_undoes_the_whole_publish,
        source_date_epoch_gives_a_build_date_shown_in_the_index,
    ]
}
