//! Signed web-root records: `sepkg keygen`, `publish --sign-key` and
//! `verify --trusted-key`, against a real web server on 127.0.0.1, and
//! against an attacker who rewrites a package and its records on the
//! server consistently.

use std::path::{Path, PathBuf};

use crate::support::harness::tests;
use crate::support::web::{Server, sepkg_direct};
use crate::support::{fixtures, have, listing, sepkg, sha256, snapshot, text};

const PW_VAR: &str = "SEPKG_TEST_KEY_PASSWORD";
const PW: &str = "correct horse battery staple";

/// Runs sepkg with `args` and the test password in the environment:
/// (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let o = sepkg_direct().args(args).env(PW_VAR, PW).output().unwrap();
    let (out, err) = text(&o);
    crate::support::assert_no_panic("sepkg", &err);
    (o.status.code().unwrap(), out, err)
}

fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let o = sepkg_direct()
        .arg("--json")
        .args(args)
        .env(PW_VAR, PW)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", text(&o)));
    (o.status.code().unwrap(), doc)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `keygen -o dir/name` with the test password; returns (key, pub, key id).
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let stem = dir.join(name);
    let (code, doc) = run_json(&["keygen", "-o", s(&stem), "--password-env", PW_VAR]);
    assert_eq!(code, 0, "{doc}");
    let id = doc["keygen"]["key_id"].as_str().unwrap().to_string();
    (stem.with_extension("key"), stem.with_extension("pub"), id)
}

/// The bundled example transformed into `dir/name`, with its records.
fn artifact(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(name);
    let (code, stdout, err) = run(&[
        "transform",
        s(&fixtures().join("SEP-14.3.8289.5000-x64-client.zip")),
        "--sylink",
        s(&fixtures().join("sylink-managed.xml")),
        "-o",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    out
}

/// A web root with `X.zip` published and signed by `key`.
fn signed_webroot(tmp: &Path, key: &Path) -> PathBuf {
    let a = artifact(&tmp.join("out"), "X.zip");
    let web = tmp.join("web");
    std::fs::create_dir_all(&web).unwrap();
    let (code, stdout, err) = run(&[
        "publish",
        s(&a),
        "--to",
        s(&web),
        "--sign-key",
        s(key),
        "--sign-password-env",
        PW_VAR,
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    web
}

fn python() -> bool {
    if have("python3") {
        return true;
    }
    eprintln!("SKIPPED: python3 not installed, no web server");
    false
}

/// What an attacker with write access to the web root does: replace the
/// package and rewrite its sidecar, manifest, `index.json` and
/// `SHA256SUMS` so that every hash agrees again.
fn rewrite_consistently(web: &Path) {
    let mut package = std::fs::read(web.join("X.zip")).unwrap();
    package[4242] ^= 0x20;
    std::fs::write(web.join("X.zip"), &package).unwrap();
    let (sha, size) = (sha256(&package), package.len() as u64);
    std::fs::write(web.join("X.zip.sha256"), format!("{sha}  X.zip\n")).unwrap();
    for (file, pointer) in [
        ("X.zip.manifest.json", "/output"),
        ("index.json", "/packages/0"),
    ] {
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(web.join(file)).unwrap()).unwrap();
        let entry = doc.pointer_mut(pointer).unwrap();
        entry["sha256"] = sha.clone().into();
        entry["size"] = size.into();
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap();
        bytes.push(b'\n');
        std::fs::write(web.join(file), bytes).unwrap();
    }
    let sums: String = ["X.zip", "X.zip.manifest.json", "X.zip.sha256"]
        .iter()
        .map(|n| format!("{}  {n}\n", sha256(&std::fs::read(web.join(n)).unwrap())))
        .collect();
    std::fs::write(web.join("SHA256SUMS"), sums).unwrap();
}

fn a_rewritten_package_and_records_fail_only_with_the_trusted_key() {
    if !python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (key, public, id) = keygen(tmp.path(), "site");
    let web = signed_webroot(tmp.path(), &key);
    let server = Server::start(&web);
    let url = server.url("X.zip");
    let index_url = server.url("index.json");

    let (code, stdout, err) = run(&["verify", &url, "--trusted-key", s(&public)]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.starts_with(&format!("verified: {url}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "signature: {index_url}.minisig is good, key {id}, trusted comment: timestamp:"
        )),
        "{stdout}"
    );
    assert!(stdout.contains(" file:index.json hashed\n"), "{stdout}");
    if have("minisign") {
        // minisign itself accepts what sepkg signed.
        for record in ["index.json", "SHA256SUMS"] {
            let o = std::process::Command::new("minisign")
                .args(["-V", "-p", s(&public), "-m", s(&web.join(record))])
                .output()
                .unwrap();
            assert!(o.status.success(), "minisign -V {record}: {:?}", text(&o));
        }
    } else {
        eprintln!("SKIPPED: minisign not installed; cross-check of the signatures not run");
    }

    rewrite_consistently(&web);
    // Without the key every record agrees with every other: verify passes.
    // That is why the key matters.
    let (code, stdout, err) = run(&["verify", &url]);
    assert_eq!(code, 0, "{stdout}{err}");
    let (code, stdout, err) = run(&["verify", s(&web)]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains("note: index.json.minisig is present but not checked: pass --trusted-key"),
        "{stdout}"
    );
    // With it, the rewritten index.json is caught and the package is not
    // downloaded.
    let (code, stdout, err) = run(&["verify", &url, "--trusted-key", s(&public)]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(
        stdout.starts_with(&format!("MISMATCH: {url} (1 check failed)\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{index_url}.minisig: signature of {index_url} fails: does not match index.json"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("got: "), "{stdout}");
    assert!(
        stdout.contains("  not downloaded: the server's records are not signed by the trusted key"),
        "{stdout}"
    );
    let (code, doc) = run_json(&["verify", &url, "--trusted-key", s(&public)]);
    assert_eq!(code, 1);
    assert_eq!(doc["verified"], false);
    assert_eq!(doc["signatures"][0]["status"], "invalid", "{doc}");
    assert_eq!(doc["signatures"][0]["record"], index_url.as_str());
    assert_eq!(
        doc["signatures"][0]["signature"],
        format!("{index_url}.minisig")
    );
    assert_eq!(doc["checks"][0]["field"], "signature");
    assert!(doc.get("digest").is_none(), "{doc}");

    // The web root folder: both records' signatures fail.
    let (code, stdout, _) = run(&["verify", s(&web), "--trusted-key", s(&public)]);
    assert_eq!(code, 1, "{stdout}");
    for record in ["SHA256SUMS", "index.json"] {
        assert!(
            stdout.contains(&format!(
                "{record}.minisig: signature of {record} fails: does not match {record}"
            )),
            "{stdout}"
        );
    }
}

fn a_web_root_folder_verifies_and_reports_its_signatures_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public, id) = keygen(tmp.path(), "site");
    let web = signed_webroot(tmp.path(), &key);
    let (code, stdout, err) = run(&["verify", s(&web), "--trusted-key", s(&public)]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains(&format!("signature: SHA256SUMS.minisig is good, key {id}")),
        "{stdout}"
    );
    assert!(stdout.contains("index.json.minisig"), "{stdout}");
    let (code, doc) = run_json(&["verify", s(&web), "--trusted-key", s(&public)]);
    assert_eq!(code, 0, "{doc}");
    let sigs = doc["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "{doc}");
    for (sig, record) in sigs.iter().zip(["SHA256SUMS", "index.json"]) {
        assert_eq!(sig["record"], record);
        assert_eq!(sig["status"], "verified");
        assert_eq!(sig["key_id"], id.as_str());
        let comment = sig["trusted_comment"].as_str().unwrap();
        assert!(
            comment.starts_with("timestamp:") && comment.contains(&format!("\tfile:{record}\t")),
            "{comment}"
        );
    }
    // The public key's base64 line works as well as the file.
    let line = std::fs::read_to_string(&public).unwrap();
    let b64 = line.lines().nth(1).unwrap();
    let (code, _, err) = run(&["verify", s(&web), "--trusted-key", b64]);
    assert_eq!(code, 0, "{err}");
    // Without a key the signatures are reported, not checked.
    let (code, doc) = run_json(&["verify", s(&web)]);
    assert_eq!(code, 0);
    assert_eq!(doc["signatures"][1]["status"], "not-checked", "{doc}");

    // A package may not take a signature's name.
    let z = artifact(&tmp.path().join("out"), "index.json.minisig");
    let sign = ["--sign-key", s(&key), "--sign-password-env", PW_VAR];
    let (code, _, err) = run(&[&["publish", s(&z), "--to", s(&web)][..], &sign].concat());
    assert_eq!(code, 2);
    assert!(
        err.contains("that name is kept for the web root's own records"),
        "{err}"
    );
}

fn a_wrong_key_a_missing_or_swapped_signature_fail_naming_the_signature() {
    if !python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (key, public, id) = keygen(tmp.path(), "site");
    let (_, other, other_id) = keygen(tmp.path(), "other");
    let web = signed_webroot(tmp.path(), &key);
    let server = Server::start(&web);
    let url = server.url("X.zip");
    let index_url = server.url("index.json");

    let (code, stdout, _) = run(&["verify", &url, "--trusted-key", s(&other)]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{index_url}.minisig: signature of {index_url} fails: made with key {id}, not with the trusted key {other_id}"
        )),
        "{stdout}"
    );

    // Another record's good signature in its place.
    let sig = web.join("index.json.minisig");
    let good = std::fs::read(&sig).unwrap();
    std::fs::copy(web.join("SHA256SUMS.minisig"), &sig).unwrap();
    let (code, stdout, _) = run(&["verify", &url, "--trusted-key", s(&public)]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("is a signature of \"SHA256SUMS\", not of index.json"),
        "{stdout}"
    );
    // Garbage in its place: a mismatch, not a crash.
    std::fs::write(&sig, &good[..good.len() - 30]).unwrap();
    let (code, stdout, _) = run(&["verify", &url, "--trusted-key", s(&public)]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("fails: not a minisign signature"),
        "{stdout}"
    );

    std::fs::remove_file(&sig).unwrap();
    let (code, stdout, _) = run(&["verify", &url, "--trusted-key", s(&public)]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{index_url}.minisig: signature of {index_url} fails: missing: index.json is not signed"
        )),
        "{stdout}"
    );
    let (code, doc) = run_json(&["verify", &url, "--trusted-key", s(&public)]);
    assert_eq!(code, 1);
    assert_eq!(doc["signatures"][0]["status"], "missing", "{doc}");
    let (code, stdout, _) = run(&["verify", s(&web), "--trusted-key", s(&public)]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("index.json.minisig: signature of index.json fails: missing"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("SHA256SUMS.minisig: signature"),
        "{stdout}"
    );

    // The key applies to the server's records, not to --expect or an artifact.
    let local = tmp.path().join("out/X.zip.sha256");
    let (code, _, err) = run(&[
        "verify",
        &url,
        "--expect",
        s(&local),
        "--trusted-key",
        s(&public),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("give one or the other"), "{err}");
    let (code, _, err) = run(&["verify", s(&web.join("X.zip")), "--trusted-key", s(&public)]);
    assert_eq!(code, 2);
    assert!(
        err.contains("give the web root's folder or the package's URL"),
        "{err}"
    );
    // The secret key is not a trusted key.
    let (code, _, err) = run(&["verify", s(&web), "--trusted-key", s(&key)]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{}: is a SECRET key", key.display())),
        "{err}"
    );
}

fn keygen_writes_a_protected_pair_and_never_overwrites_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public, id) = keygen(tmp.path(), "site");
    let key_text = std::fs::read_to_string(&key).unwrap();
    assert!(
        key_text.starts_with(
            "untrusted comment: sepkg secret key, encrypted with a password\nRWRTY0Iy"
        ),
        "{key_text}"
    );
    assert_eq!(
        std::fs::read_to_string(&public)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
        format!("untrusted comment: minisign public key: {id}")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the secret key is readable by others: {mode:o}"
        );
    }
    let before = snapshot(tmp.path());
    for out in ["site", "site.key", "site.pub"] {
        let (code, _, err) = run(&[
            "keygen",
            "-o",
            s(&tmp.path().join(out)),
            "--password-env",
            PW_VAR,
        ]);
        assert_eq!(code, 2, "{out}: {err}");
        assert!(
            err.contains(&format!(
                "{}: already exists: sepkg keygen never overwrites a key",
                key.display()
            )),
            "{err}"
        );
    }
    // Only the public key there: still refused, and no secret key is left.
    std::fs::write(tmp.path().join("half.pub"), "x").unwrap();
    let (code, _, err) = run(&[
        "keygen",
        "-o",
        s(&tmp.path().join("half")),
        "--password-env",
        PW_VAR,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("half.pub: already exists"), "{err}");
    std::fs::remove_file(tmp.path().join("half.pub")).unwrap();
    assert_eq!(snapshot(tmp.path()), before);

    // No password and no terminal: an error, never a hang or an empty password.
    let o = sepkg()
        .args(["keygen", "-o", s(&tmp.path().join("n"))])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("no terminal to ask on"),
        "{:?}",
        text(&o)
    );
    let o = sepkg()
        .args([
            "keygen",
            "-o",
            s(&tmp.path().join("n")),
            "--password-env",
            "EMPTY_PW",
        ])
        .env("EMPTY_PW", "")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("the password is empty"),
        "{:?}",
        text(&o)
    );
    assert_eq!(snapshot(tmp.path()), before);
}

fn keygen_unencrypted_says_so_loudly_and_the_key_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, doc) = run_json(&[
        "keygen",
        "-o",
        s(&tmp.path().join("plain")),
        "--unencrypted",
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["keygen"]["encrypted"], false);
    let key_text = std::fs::read_to_string(tmp.path().join("plain.key")).unwrap();
    assert!(
        key_text.starts_with("untrusted comment: sepkg secret key, NOT ENCRYPTED\nRWQAAEIy"),
        "{key_text}"
    );
    assert!(
        doc["warning"].as_str().unwrap().contains("NOT encrypted"),
        "{doc}"
    );
    let (code, _, err) = run(&[
        "keygen",
        "-o",
        s(&tmp.path().join("plain2")),
        "--unencrypted",
    ]);
    assert_eq!(code, 0);
    assert!(
        err.contains("WARNING: ") && err.contains("plain2.key: the secret key is NOT encrypted"),
        "{err}"
    );
    let web = signed_webroot(tmp.path(), &tmp.path().join("plain.key"));
    let (code, stdout, _) = run(&[
        "verify",
        s(&web),
        "--trusted-key",
        s(&tmp.path().join("plain.pub")),
    ]);
    assert_eq!(code, 0, "{stdout}");
}

fn a_signed_web_root_refuses_an_unsigned_publish_and_stays_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public, id) = keygen(tmp.path(), "site");
    let web = signed_webroot(tmp.path(), &key);
    let before = snapshot(&web);
    let y = artifact(&tmp.path().join("out"), "Y.zip");

    // Without the key: refused, naming the web root and the option.
    let (code, _, err) = run(&["publish", s(&y), "--to", s(&web)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{}: this web root is signed (SHA256SUMS.minisig, index.json.minisig): publishing without --sign-key",
            web.display()
        )),
        "{err}"
    );
    // A wrong password, a public key for a secret one: refused before anything is written.
    let o = sepkg()
        .args([
            "publish",
            s(&y),
            "--to",
            s(&web),
            "--sign-key",
            s(&key),
            "--sign-password-env",
            PW_VAR,
        ])
        .env(PW_VAR, "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains(&format!(
            "{}: wrong password for this secret key",
            key.display()
        )),
        "{:?}",
        text(&o)
    );
    let (code, _, err) = run(&["publish", s(&y), "--to", s(&web), "--sign-key", s(&public)]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is a public key: --sign-key takes the secret key"),
        "{err}"
    );
    assert_eq!(snapshot(&web), before);

    // A signature that cannot be put in place (a folder stands there):
    // the whole publish is undone, records included.
    std::fs::remove_file(web.join("index.json.minisig")).unwrap();
    std::fs::create_dir(web.join("index.json.minisig")).unwrap();
    let blocked = snapshot(&web);
    let sign = ["--sign-key", s(&key), "--sign-password-env", PW_VAR];
    let (code, _, err) = run(&[&["publish", s(&y), "--to", s(&web)][..], &sign].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("index.json.minisig"), "{err}");
    assert_eq!(snapshot(&web), blocked);
    std::fs::remove_dir(web.join("index.json.minisig")).unwrap();

    // With the key: both records and both signatures rewritten together.
    let (code, doc) = run_json(&[&["publish", s(&y), "--to", s(&web)][..], &sign].concat());
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["signed_by"], id.as_str());
    let written: Vec<&str> = doc["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        &written[written.len() - 5..],
        [
            "SHA256SUMS",
            "index.json",
            "index.html",
            "SHA256SUMS.minisig",
            "index.json.minisig"
        ]
    );
    let (code, stdout, _) = run(&["verify", s(&web), "--trusted-key", s(&public)]);
    assert_eq!(code, 0, "{stdout}");
    // Again: nothing changes, nothing is signed again.
    let after = snapshot(&web);
    let (code, stdout, _) = run(&[&["publish", s(&y), "--to", s(&web)][..], &sign].concat());
    assert_eq!(code, 0);
    assert!(
        stdout.contains("nothing to do, nothing written"),
        "{stdout}"
    );
    assert_eq!(snapshot(&web), after);
    assert!(
        listing(&web).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        listing(&web)
    );
}

/// unpublish and reindex rewrite a signed web root's records, so they
/// sign them again with the key, and refuse without it.
fn unpublish_and_reindex_keep_a_signed_web_root_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public, _) = keygen(tmp.path(), "site");
    let web = signed_webroot(tmp.path(), &key);
    let y = artifact(&tmp.path().join("out"), "Y.zip");
    let signed = ["--sign-key", s(&key), "--sign-password-env", PW_VAR];
    let (code, out, err) = run(&[&["publish", s(&y), "--to", s(&web)][..], &signed].concat());
    assert_eq!(code, 0, "{out}{err}");
    let before = snapshot(&web);

    for (args, doing) in [
        (
            vec!["unpublish", "X.zip", "--from", s(&web)],
            "unpublishing",
        ),
        (vec!["reindex", s(&web)], "reindexing"),
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!(
                "{}: this web root is signed (SHA256SUMS.minisig, index.json.minisig): {doing} without --sign-key",
                web.display()
            )),
            "{err}"
        );
        assert_eq!(
            snapshot(&web),
            before,
            "{doing} without the key changed the web root"
        );
    }

    let (code, out, err) = run(&[&["unpublish", "X.zip", "--from", s(&web)][..], &signed].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&["verify", s(&web), "--trusted-key", s(&public)]);
    assert_eq!(code, 0, "after unpublish: {out}{err}");
    assert!(!web.join("X.zip").exists());

    let (code, out, err) = run(&[&["reindex", s(&web)][..], &signed].concat());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&["verify", s(&web), "--trusted-key", s(&public)]);
    assert_eq!(code, 0, "after reindex: {out}{err}");
    assert!(out.contains("Y.zip"), "{out}");
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        unpublish_and_reindex_keep_a_signed_web_root_signed,
        a_rewritten_package_and_records_fail_only_with_the_trusted_key,
        a_web_root_folder_verifies_and_reports_its_signatures_as_json,
        a_wrong_key_a_missing_or_swapped_signature_fail_naming_the_signature,
        keygen_writes_a_protected_pair_and_never_overwrites_one,
        keygen_unencrypted_says_so_loudly_and_the_key_signs,
        a_signed_web_root_refuses_an_unsigned_publish_and_stays_whole,
    ]
}
