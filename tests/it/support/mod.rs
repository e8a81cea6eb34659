//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod r#gen;
pub mod harness;
pub mod pki;
pub mod schema;
pub mod sevenz;
pub mod web;
pub mod zips;

use std::path::{Path, PathBuf};
use std::process::Output;

/// The sepkg binary under test.
pub fn sepkg() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("sepkg").unwrap();
    // A build machine may set it; the tests pin manifests made without it.
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Names of the files in `dir` (not recursive), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// True when `tool` runs on this machine.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Reads every entry of a zip into (name, bytes), in archive order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

/// SHA-256 hex of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    sepkg::digest::of_bytes(bytes).sha256
}

/// Runs a cross-check tool (one nobody here wrote) on `file`: asserts it
/// accepts the file and returns its stdout and stderr, or says SKIPPED and
/// returns None when the tool is not installed.
pub fn check_tool(tool: &str, args: &[&str], file: &Path) -> Option<String> {
    if !have(tool) {
        eprintln!(
            "SKIPPED: {tool} is not installed; cross-check `{tool} {}` not run",
            args.join(" ")
        );
        return None;
    }
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "{tool} {args:?} rejected {}:\n{stdout}\n{stderr}",
        file.display()
    );
    Some(format!("{stdout}{stderr}"))
}

/// Every file and folder under `dir` with the SHA-256 of each file's bytes.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path);
                "dir".to_string()
            } else if meta.is_file() {
                sha256(&std::fs::read(&path).unwrap())
            } else {
                "special".to_string()
            };
            out.insert(rel, what);
        }
    }
    out
}

/// Panic text that must never reach a user.
pub fn assert_no_panic(what: &str, stream: &str) {
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(
            !stream.contains(bad),
            "{what}: panic text in output:\n{stream}"
        );
    }
}

/// A large artifact of `mib` MiB (`kind` as the manifest names it) with a
/// sidecar and a minimal manifest, as publish needs; written without being
/// held in memory.
pub fn large_artifact(dir: &Path, name: &str, mib: usize, kind: &str) -> PathBuf {
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut block = vec![0u8; 1 << 20];
    for i in 0..mib {
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        f.write_all(&block).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    let d = sepkg::digest::of_file(&path).unwrap();
    std::fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{}  {name}\n", d.sha256),
    )
    .unwrap();
    let manifest = serde_json::json!({
        "schema": "sepkg-manifest/1",
        "tool": "test",
        "output": {"name": name, "kind": kind, "size": d.size, "sha256": d.sha256},
        "product_version": "14.3.9999.0"
    });
    std::fs::write(
        dir.join(format!("{name}.manifest.json")),
        manifest.to_string(),
    )
    .unwrap();
    path
}
