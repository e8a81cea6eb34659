//! `sepkg verify` on artifacts, web roots and URLs served by a real web
//! server (`python3 -m http.server`) and by tiny misbehaving ones.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::harness::tests;
use crate::support::web::{self, Behaviour, Server};
use crate::support::{fixtures, have, sepkg, text};

const EXAMPLE_SHA: &str = "43e0ab4307d46d365e60bedc3a91e4cf7f93803e0ea01eec241f52e87ff773ea";

/// A web root with the bundled example published as `X.zip`; also returns
/// the transform output folder (the local records).
fn published(tmp: &Path) -> (PathBuf, PathBuf) {
    let out = tmp.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let a = out.join("X.zip");
    let o = sepkg()
        .arg("transform")
        .arg(fixtures().join("SEP-14.3.8289.5000-x64-client.zip"))
        .arg("--sylink")
        .arg(fixtures().join("sylink-managed.xml"))
        .arg("-o")
        .arg(&a)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let web = tmp.join("web");
    std::fs::create_dir_all(&web).unwrap();
    let o = sepkg()
        .arg("publish")
        .arg(&a)
        .arg("--to")
        .arg(&web)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    (web, out)
}

/// Runs `sepkg verify ARGS`: (exit code, stdout, stderr).
fn verify(args: &[&str]) -> (i32, String, String) {
    let o = web::sepkg_direct()
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    (o.status.code().unwrap(), out, err)
}

fn verify_json(args: &[&str]) -> (i32, serde_json::Value) {
    let o = web::sepkg_direct()
        .args(["--json", "verify"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        serde_json::from_slice(&o.stdout).unwrap(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn python() -> bool {
    if have("python3") {
        return true;
    }
    eprintln!("SKIPPED: python3 not installed, no web server");
    false
}

fn an_artifact_is_checked_against_its_sidecar_and_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = published(tmp.path());
    let a = out.join("X.zip");
    let (code, stdout, err) = verify(&[s(&a)]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.starts_with(&format!("verified: {}", a.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("sha256 {EXAMPLE_SHA}")),
        "{stdout}"
    );

    let mut bytes = std::fs::read(&a).unwrap();
    bytes[9000] ^= 0x80;
    std::fs::write(&a, &bytes).unwrap();
    let (code, stdout, _) = verify(&[s(&a)]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("MISMATCH"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "sha256 differs from {}.sha256: expected {EXAMPLE_SHA}, got ",
            a.display()
        )),
        "{stdout}"
    );
    let (code, doc) = verify_json(&[s(&a)]);
    assert_eq!(code, 1);
    assert_eq!(doc["kind"], "artifact");
    assert_eq!(doc["verified"], false);
    let failed: Vec<_> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 2, "{doc}"); // the sidecar's and the manifest's sha256
    assert!(
        failed
            .iter()
            .all(|c| c["field"] == "sha256" && c["expected"] == EXAMPLE_SHA)
    );

    // Nothing to compare with: an error, not a pass.
    let lone = tmp.path().join("lone.zip");
    std::fs::write(&lone, b"x").unwrap();
    let (code, _, err) = verify(&[s(&lone)]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to check it against"), "{err}");
}

fn a_web_root_is_checked_file_by_file_including_strays_and_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (web, _) = published(tmp.path());
    let (code, stdout, err) = verify(&[s(&web)]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains(
            "checks passed against SHA256SUMS, X.zip.manifest.json, X.zip.sha256, index.json"
        ),
        "{stdout}"
    );

    std::fs::write(web.join("stray.exe"), b"MZ").unwrap();
    let (code, stdout, _) = verify(&[s(&web)]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("stray.exe: present but not listed in SHA256SUMS and index.json"),
        "{stdout}"
    );
    std::fs::remove_file(web.join("stray.exe")).unwrap();

    let served = std::fs::read(web.join("X.zip")).unwrap();
    let mut flipped = served.clone();
    flipped[10] ^= 1;
    std::fs::write(web.join("X.zip"), &flipped).unwrap();
    let (code, stdout, _) = verify(&[s(&web)]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!(
            "X.zip: sha256 differs from SHA256SUMS: expected {EXAMPLE_SHA}"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "X.zip: sha256 differs from index.json: expected {EXAMPLE_SHA}"
        )),
        "{stdout}"
    );

    std::fs::remove_file(web.join("X.zip")).unwrap();
    let (code, stdout, _) = verify(&[s(&web)]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("X.zip: listed in SHA256SUMS but missing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("X.zip: listed in index.json but missing"),
        "{stdout}"
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, _, err) = verify(&[s(&empty)]);
    assert_eq!(code, 2);
    assert!(err.contains("not a web root published by sepkg"), "{err}");
}

fn over_http_a_clean_copy_verifies_and_a_flipped_byte_does_not() {
    if !python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (web, out) = published(tmp.path());
    let server = Server::start(&web);
    let url = server.url("X.zip");

    // Against the index.json beside it on the server.
    let (code, stdout, err) = verify(&[&url]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.starts_with(&format!("verified: {url}")), "{stdout}");
    assert!(stdout.contains(&format!("final URL: {url}")), "{stdout}");
    assert!(
        stdout.contains(&format!("got: 9611 bytes, sha256 {EXAMPLE_SHA}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("passed against {}", server.url("index.json"))),
        "{stdout}"
    );

    // Against each kind of local record.
    for record in ["X.zip.sha256", "X.zip.manifest.json", "X.zip"] {
        let (code, stdout, err) = verify(&[&url, "--expect", s(&out.join(record))]);
        assert_eq!(code, 0, "{record}: {stdout}{err}");
    }
    let (code, doc) = verify_json(&[&url, "--expect", s(&out.join("X.zip.manifest.json"))]);
    assert_eq!(code, 0);
    assert_eq!(doc["kind"], "url");
    assert_eq!(doc["verified"], true);
    assert_eq!(doc["final_url"], url.as_str());
    assert_eq!(doc["redirects"], serde_json::json!([]));
    assert_eq!(doc["digest"]["sha256"], EXAMPLE_SHA);
    assert_eq!(doc["checks"].as_array().unwrap().len(), 2);

    // One byte flipped in the served file.
    let mut bytes = std::fs::read(web.join("X.zip")).unwrap();
    bytes[4242] ^= 0x20;
    std::fs::write(web.join("X.zip"), &bytes).unwrap();
    let got = sepkg::digest::of_bytes(&bytes).sha256;
    let (code, stdout, err) = verify(&[&url]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(
        stdout.starts_with(&format!("MISMATCH: {url} (1 check failed)")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "sha256 differs from {}: expected {EXAMPLE_SHA}, got {got}",
            server.url("index.json")
        )),
        "{stdout}"
    );
    let (code, stdout, _) = verify(&[&url, "--expect", s(&out.join("X.zip.sha256"))]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!("expected {EXAMPLE_SHA}, got {got}")),
        "{stdout}"
    );
    let (code, doc) = verify_json(&[&url, "--expect", s(&out.join("X.zip"))]);
    assert_eq!(code, 1);
    assert_eq!(doc["verified"], false);
    let sha = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "sha256")
        .unwrap();
    assert_eq!(
        (&sha["expected"], &sha["got"], &sha["ok"]),
        (&EXAMPLE_SHA.into(), &got.into(), &false.into())
    );
}

fn over_http_a_missing_file_is_an_error_naming_the_status() {
    if !python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (web, out) = published(tmp.path());
    let server = Server::start(&web);
    let url = server.url("Nope.zip");
    let (code, stdout, err) = verify(&[&url, "--expect", s(&out.join("X.zip.sha256"))]);
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(
        err.contains(&format!("error: {url}: HTTP 404 Not Found")),
        "{err}"
    );
    let (code, doc) = verify_json(&[&url, "--expect", s(&out.join("X.zip.sha256"))]);
    assert_eq!(code, 2);
    assert_eq!(doc["error"]["code"], "http-status");

    // Without --expect the index beside it is asked for first; a package it
    // does not list is an error too.
    let (code, _, err) = verify(&[&url]);
    assert_eq!(code, 2);
    assert!(
        err.contains("index.json: lists no package named \"Nope.zip\""),
        "{err}"
    );
    std::fs::remove_file(web.join("index.json")).unwrap();
    let (code, _, err) = verify(&[&server.url("X.zip")]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{}: HTTP 404 Not Found", server.url("index.json"))),
        "{err}"
    );
    assert!(err.contains("give --expect FILE"), "{err}");
}

fn a_server_that_stops_mid_download_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = published(tmp.path());
    let port = web::fake(
        Behaviour::CloseEarly {
            announced: 9611,
            body: std::fs::read(out.join("X.zip")).unwrap()[..4000].to_vec(),
        },
        2,
    );
    let url = format!("http://127.0.0.1:{port}/X.zip");
    let (code, stdout, err) = verify(&[
        &url,
        "--expect",
        s(&out.join("X.zip.sha256")),
        "--timeout",
        "10",
    ]);
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(
        err.contains(&format!(
            "error: {url}: download broke off after 4000 bytes of the 9611 announced"
        )),
        "{err}"
    );
    let (code, doc) = verify_json(&[&url, "--expect", s(&out.join("X.zip.sha256"))]);
    assert_eq!(code, 2);
    assert_eq!(doc["error"]["code"], "network");
}

fn a_stalled_download_times_out_and_a_closed_port_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = published(tmp.path());
    let port = web::fake(
        Behaviour::Stall {
            announced: 9611,
            body: vec![0; 100],
            stall: Duration::from_secs(4),
        },
        1,
    );
    let url = format!("http://127.0.0.1:{port}/X.zip");
    let started = std::time::Instant::now();
    let (code, stdout, err) = verify(&[&url, "--expect", s(&out.join("X.zip")), "--timeout", "1"]);
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(
        err.contains(&format!("error: {url}: download broke off after 100 bytes")),
        "{err}"
    );
    assert!(
        err.contains("timed out") || err.contains("timeout"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    let closed = web::free_port();
    let url = format!("http://127.0.0.1:{closed}/X.zip");
    let (code, _, err) = verify(&[&url, "--expect", s(&out.join("X.zip"))]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("error: {url}: connection refused")),
        "{err}"
    );
}

fn redirects_are_followed_and_the_final_url_is_reported() {
    if !python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (web, out) = published(tmp.path());
    let server = Server::start(&web);
    let target = server.url("X.zip");
    let port = web::fake(
        Behaviour::Redirect {
            location: target.clone(),
        },
        2,
    );
    let url = format!("http://127.0.0.1:{port}/old/X.zip");
    let (code, stdout, err) = verify(&[&url, "--expect", s(&out.join("X.zip.manifest.json"))]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains(&format!("redirected: {url} -> {target}")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("final URL: {target}")), "{stdout}");
    let (code, doc) = verify_json(&[&url, "--expect", s(&out.join("X.zip.manifest.json"))]);
    assert_eq!(code, 0);
    assert_eq!(doc["final_url"], target.as_str());
    assert_eq!(doc["redirects"], serde_json::json!([target]));
}

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let o = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "openssl {args:?}: {:?}", text(&o));
}

fn https_is_checked_by_rustls_against_the_webpki_roots_or_ca_cert() {
    if !python() {
        return;
    }
    if !have("openssl") {
        eprintln!("SKIPPED: openssl not installed, no certificate");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (web, out) = published(tmp.path());
    // A private CA and a server certificate it signs for localhost.
    let d = tmp.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=sepkg test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "cert.pem",
        ],
    );
    let server = Server::start_tls(&web, &d.join("cert.pem"), &d.join("key.pem"));
    let url = format!("https://localhost:{}/X.zip", server.port);

    // Not signed by a public CA: an error, never a pass.
    let (code, stdout, err) = verify(&[&url, "--expect", s(&out.join("X.zip")), "--timeout", "10"]);
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(
        err.contains(&format!(
            "error: {url}: TLS handshake failed: invalid peer certificate"
        )),
        "{err}"
    );
    assert!(err.contains("--ca-cert"), "{err}");

    // Trusting the private CA: verified over https, index.json included.
    let ca = d.join("ca.pem");
    let (code, stdout, err) = verify(&[&url, "--ca-cert", s(&ca)]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains(&format!(
            "passed against https://localhost:{}/index.json",
            server.port
        )),
        "{stdout}"
    );
    // ... and a flipped byte is still caught over https.
    let mut bytes = std::fs::read(web.join("X.zip")).unwrap();
    bytes[1] ^= 1;
    std::fs::write(web.join("X.zip"), &bytes).unwrap();
    let (code, stdout, _) = verify(&[&url, "--ca-cert", s(&ca)]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("expected {EXAMPLE_SHA}, got ")),
        "{stdout}"
    );

    // A --ca-cert that holds no certificate.
    let (code, _, err) = verify(&[&url, "--ca-cert", s(&d.join("server.ext"))]);
    assert_eq!(code, 2);
    assert!(err.contains("holds no PEM certificate"), "{err}");

    // HTTPS to a port that speaks plain HTTP.
    let plain = Server::start(&web);
    let url = format!("https://127.0.0.1:{}/X.zip", plain.port);
    let (code, _, err) = verify(&[&url, "--expect", s(&out.join("X.zip"))]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("error: {url}: TLS handshake failed")),
        "{err}"
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        an_artifact_is_checked_against_its_sidecar_and_manifest,
        a_web_root_is_checked_file_by_file_including_strays_and_missing_files,
        over_http_a_clean_copy_verifies_and_a_flipped_byte_does_not,
        over_http_a_missing_file_is_an_error_naming_the_status,
        a_server_that_stops_mid_download_is_an_error,
        a_stalled_download_times_out_and_a_closed_port_is_refused,
        redirects_are_followed_and_the_final_url_is_reported,
        https_is_checked_by_rustls_against_the_webpki_roots_or_ca_cert,
    ]
}
