//! Cabinet packages: gcab-made inputs, our cabinet output checked by
//! cabextract, gcab and 7-Zip, conversions, determinism, hostile inputs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;
use crate::support::r#gen as fx;
use crate::support::harness::tests;
use crate::support::{check_tool, have, sepkg, sha256, text};

/// Writes the example package's files under `dir/src` and packs them with
/// gcab (`-z`: MSZIP) into `dir/NAME`. None when gcab is missing.
fn gcab_package(dir: &Path, name: &str, compress: bool) -> Option<PathBuf> {
    if !have("gcab") {
        eprintln!("SKIPPED: gcab is not installed; this test needs it to make its cabinet");
        return None;
    }
    let src = dir.join("src");
    fx::write_dir(&src, &fx::example_files());
    let out = dir.join(name);
    let mut cmd = Command::new("gcab");
    cmd.current_dir(&src).arg("-c");
    if compress {
        cmd.arg("-z");
    }
    cmd.arg(&out);
    for (n, _) in fx::example_files() {
        cmd.arg(n);
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "gcab failed");
    Some(out)
}

fn transform(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    sepkg()
        .arg("transform")
        .arg(input)
        .arg("--sylink")
        .arg(support::fixtures().join(fx::EXAMPLE_SYLINK))
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// The example's SetAid.ini after the transform.
fn expected_setaid() -> Vec<u8> {
    let text = fx::SETAID_TEXT.replace("KeepPreviousSetting=1", "KeepPreviousSetting=0");
    fx::encode(&text, fx::Enc::Ansi, "\r\n")
}

/// Extracts a cabinet with cabextract into `dir`, returning (name, bytes).
fn cabextract(cab: &Path, dir: &Path) -> Option<Vec<(String, Vec<u8>)>> {
    if !have("cabextract") {
        eprintln!("SKIPPED: cabextract is not installed; extraction cross-check not run");
        return None;
    }
    let status = Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(dir)
        .arg(cab)
        .status()
        .unwrap();
    assert!(status.success());
    let mut files = Vec::new();
    fn walk(top: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(top, &p, out);
            } else {
                let rel = p
                    .strip_prefix(top)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut files);
    files.sort();
    Some(files)
}

/// Every file of the example, with the two edits applied, sorted by name.
fn expected_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fx::example_files()
        .into_iter()
        .map(|(n, b)| match n.as_str() {
            "setAid.ini" => (n, expected_setaid()),
            "sylink.xml" => (n, fx::managed_sylink()),
            _ => (n, b),
        })
        .collect();
    files.sort();
    files
}

fn gcab_mszip_cabinet_transforms_and_cross_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = gcab_package(tmp.path(), "SEP.cab", true) else {
        return;
    };
    let out = tmp.path().join("SEP-managed.cab");
    let o = transform(&input, &out, &[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("KeepPreviousSetting \"1\" -> \"0\""),
        "{stdout}"
    );
    assert!(stdout.contains("sylink.xml: replaced"), "{stdout}");
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"MSCF");

    if let Some(listing) = check_tool("cabextract", &["-t"], &out) {
        assert!(listing.contains("All done, no errors"), "{listing}");
    }
    if let Some(listing) = check_tool("gcab", &["-l"], &out) {
        for (name, _) in fx::example_files() {
            assert!(
                listing.contains(&name.replace('/', "\\")),
                "gcab -l lacks {name}: {listing}"
            );
        }
    }
    if let Some(listing) = check_tool("7zz", &["t"], &out) {
        assert!(listing.contains("Everything is Ok"), "{listing}");
    }
    if let Some(files) = cabextract(&out, &tmp.path().join("x")) {
        assert_eq!(files, expected_files());
    }

    // The manifest and sidecar sit beside it and agree with the bytes.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("SEP-managed.cab.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["output"]["kind"], "cab");
    assert_eq!(manifest["input"]["kind"], "cab");
    assert_eq!(
        manifest["output"]["sha256"],
        sha256(&std::fs::read(&out).unwrap())
    );
}

fn uncompressed_gcab_cabinet_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = gcab_package(tmp.path(), "plain.cab", false) else {
        return;
    };
    let out = tmp.path().join("out.zip");
    let o = transform(&input, &out, &["--to", "zip"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let mut files = support::unzip(&std::fs::read(&out).unwrap());
    files.sort();
    assert_eq!(files, expected_files());
}

fn two_runs_give_identical_cabinets() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = gcab_package(tmp.path(), "SEP.cab", true) else {
        return;
    };
    let a = tmp.path().join("a.cab");
    let b = tmp.path().join("b.cab");
    assert!(transform(&input, &a, &[]).status.success());
    assert!(transform(&input, &b, &[]).status.success());
    let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(sha256(&a), sha256(&b));
}

fn zip_converts_to_cab_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let input = support::fixtures().join(fx::EXAMPLE_ZIP);
    let cab = tmp.path().join("SEP.cab");
    let o = transform(&input, &cab, &["--to", "cab"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let bytes = std::fs::read(&cab).unwrap();
    assert_eq!(&bytes[..4], b"MSCF");
    // Pinned: the cabinet writer is deterministic (fixed times, attributes,
    // order and MSZIP level), so its hash is the contract.
    assert_eq!(
        sha256(&bytes),
        "d7a2db4081a87e6562aa2e4e98124c73088cbc8e5fc854673e84ab9ee0c863fa"
    );
    check_tool("cabextract", &["-t"], &cab);
    check_tool("7zz", &["t"], &cab);
    if let Some(files) = cabextract(&cab, &tmp.path().join("x")) {
        assert_eq!(files, expected_files());
    }

    // Back to a folder: no further edits, the same files.
    let dir = tmp.path().join("again");
    let o = transform(&cab, &dir, &["--to", "dir"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o).0.contains("already 0, unchanged"),
        "{:?}",
        text(&o)
    );
    let mut again: Vec<(String, Vec<u8>)> = expected_files()
        .into_iter()
        .map(|(n, _)| {
            let b = std::fs::read(dir.join(&n)).unwrap();
            (n, b)
        })
        .collect();
    again.sort();
    assert_eq!(again, expected_files());
}

/// Runs a transform that must fail: exit 2, the message names the input,
/// nothing is written, and no panic text reaches stderr.
fn assert_refused(input: &Path, out: &Path, expect: &[&str]) -> String {
    let o = transform(input, out, &[]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}\n{stderr}");
    let name = input.file_name().unwrap().to_string_lossy();
    assert!(
        stderr.contains(&*name),
        "error does not name the file: {stderr}"
    );
    for e in expect {
        assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
    }
    assert!(
        !stderr.contains("panicked"),
        "panic text in stderr: {stderr}"
    );
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "panic text in stderr: {stderr}"
    );
    assert!(!out.exists(), "output written despite the error");
    let parent = out.parent().unwrap();
    let leftovers: Vec<String> = support::listing(parent)
        .into_iter()
        .filter(|n| n.contains("out.cab"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
    stderr
}

fn truncated_cabinet_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = gcab_package(tmp.path(), "SEP.cab", true) else {
        return;
    };
    let bytes = std::fs::read(&input).unwrap();
    for cut in [20, 60, bytes.len() / 2, bytes.len() - 10] {
        let bad = tmp.path().join(format!("cut{cut}.cab"));
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        assert_refused(&bad, &tmp.path().join("out.cab"), &["cabinet"]);
    }
}

/// gcab writes no data-block checksums, so flipped content bytes inside a
/// stored deflate block cannot be noticed by anyone; a damaged block
/// header (the MSZIP `CK` signature) must be.
fn corrupt_data_block_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = gcab_package(tmp.path(), "SEP.cab", true) else {
        return;
    };
    let mut bytes = std::fs::read(&input).unwrap();
    let data_at = u32::from_le_bytes(bytes[36..40].try_into().unwrap()) as usize;
    assert_eq!(&bytes[data_at + 8..data_at + 10], b"CK");
    bytes[data_at + 8] = b'X';
    let bad = tmp.path().join("flipped.cab");
    std::fs::write(&bad, &bytes).unwrap();
    assert_refused(&bad, &tmp.path().join("out.cab"), &["corrupt", "cabinet"]);
}

/// The crafted cabinets that panic the `cab` crate 0.6 (LZX) or end
/// sepkg's own reader early (None) are refused by the file-table check
/// before either reads them: a clean error naming the entry, no panic.
fn cabinet_that_panics_the_crate_is_contained() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, method) in [("crafted-lzx.cab", 0x0F03), ("crafted-none.cab", 0)] {
        let bad = tmp.path().join(name);
        std::fs::write(&bad, fx::blockless_cabinet(method)).unwrap();
        assert_refused(
            &bad,
            &tmp.path().join("out.cab"),
            &[
                "cabinet",
                "entry \"setAid.ini\"",
                "bytes 0..10 belong to no file",
            ],
        );
    }
}

fn traversal_name_in_cabinet_is_refused() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let mut builder = cab::CabinetBuilder::new();
    let folder = builder.add_folder(cab::CompressionType::MsZip);
    folder.add_file("setAid.ini");
    folder.add_file("..\\..\\Windows\\evil.dll");
    let mut w = builder.build(std::io::Cursor::new(Vec::new())).unwrap();
    while let Some(mut f) = w.next_file().unwrap() {
        f.write_all(b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\n")
            .unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let bad = tmp.path().join("evil.cab");
    std::fs::write(&bad, &bytes).unwrap();
    assert_refused(
        &bad,
        &tmp.path().join("out.cab"),
        &["../../Windows/evil.dll", "refused"],
    );
}

/// LZX folders are read (nothing here writes LZX: these are the bytes of
/// rust-cab's own LZX test cabinet, MIT licensed, two CRLF text files).
fn lzx_cabinet_is_read() {
    let binary: &[u8] = b"\x4d\x53\x43\x46\x00\x00\x00\x00\x97\x00\x00\x00\x00\x00\x00\
        \x00\x2c\x00\x00\x00\x00\x00\x00\x00\x03\x01\x01\x00\x02\x00\
        \x00\x00\x2d\x05\x00\x00\x5b\x00\x00\x00\x01\x00\x03\x13\x0f\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x21\x53\x0d\xb2\x20\x00\
        \x68\x69\x2e\x74\x78\x74\x00\x10\x00\x00\x00\x0f\x00\x00\x00\
        \x00\x00\x21\x53\x0b\xb2\x20\x00\x62\x79\x65\x2e\x74\x78\x74\
        \x00\x5c\xef\x2a\xc7\x34\x00\x1f\x00\x5b\x80\x80\x8d\x00\x30\
        \xf0\x01\x10\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x48\
        \x65\x6c\x6c\x6f\x2c\x20\x77\x6f\x72\x6c\x64\x21\x0d\x0a\x53\
        \x65\x65\x20\x79\x6f\x75\x20\x6c\x61\x74\x65\x72\x21\x0d\x0a\
        \x00";
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lzx.cab");
    std::fs::write(&path, binary).unwrap();
    let mut pkg = sepkg::Package::open(&path).unwrap();
    assert_eq!(pkg.kind(), sepkg::Kind::Cab);
    let names: Vec<&str> = pkg.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["hi.txt", "bye.txt"]);
    assert_eq!(pkg.read_small(1, 100).unwrap(), b"See you later!\r\n");
    assert_eq!(pkg.read_small(0, 100).unwrap(), b"Hello, world!\r\n");
}

/// A compressible file of several MSZIP blocks: each block's deflate data
/// refers back into the previous block, which sepkg's folder reader must
/// carry over. Also checks files after it in the same folder.
fn multi_block_mszip_folder_reads_back_exactly() {
    if !have("gcab") {
        eprintln!("SKIPPED: gcab is not installed; this test needs it to make its cabinet");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut files = fx::example_files();
    let big: Vec<u8> = (0..40_000u32)
        .flat_map(|i| {
            format!(
                "line {} of a log, value {}\r\n",
                i % 977,
                (i * 7919) % 10007
            )
            .into_bytes()
        })
        .collect();
    assert!(big.len() > 20 * 32768);
    files.insert(0, ("Packages/big.log".to_string(), big.clone()));
    fx::write_dir(&src, &files);
    let cab = tmp.path().join("big.cab");
    let mut cmd = Command::new("gcab");
    cmd.current_dir(&src).arg("-c").arg("-z").arg(&cab);
    for (n, _) in &files {
        cmd.arg(n);
    }
    assert!(cmd.status().unwrap().success());
    // gcab compresses each block on its own; the `cab` crate's writer (our
    // cabinet output) lets blocks refer back, so read that back too.
    let ours = tmp.path().join("ours.cab");
    let o = transform(&cab, &ours, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    for (input, out) in [(&cab, "out1"), (&ours, "out2")] {
        let out = tmp.path().join(out);
        let o = transform(input, &out, &["--to", "dir"]);
        assert!(o.status.success(), "{:?}", text(&o));
        assert_eq!(std::fs::read(out.join("Packages/big.log")).unwrap(), big);
        for (name, bytes) in expected_files() {
            assert_eq!(std::fs::read(out.join(&name)).unwrap(), bytes, "{name}");
        }
    }
}

/// A cabinet signed with osslsigncode (a throwaway certificate made here):
/// the signature is found, the transform says it is gone, and the output
/// is a clean unsigned cabinet.
fn signed_cabinet_loses_its_signature_and_says_so() {
    for tool in ["openssl", "osslsigncode"] {
        if !have(tool) {
            eprintln!("SKIPPED: {tool} is not installed; the signed-cabinet test needs it");
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = gcab_package(tmp.path(), "SEP.cab", true) else {
        return;
    };
    let (key, crt) = (tmp.path().join("t.key"), tmp.path().join("t.crt"));
    let o = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=sepkg throwaway test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let signed = tmp.path().join("signed.cab");
    let o = Command::new("osslsigncode")
        .arg("sign")
        .arg("-certs")
        .arg(&crt)
        .arg("-key")
        .arg(&key)
        .arg("-in")
        .arg(&input)
        .arg("-out")
        .arg(&signed)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));

    let pkg = sepkg::Package::open(&signed).unwrap();
    let info = pkg.container_info().cab.unwrap();
    assert_eq!(info.compression, ["mszip"]);
    assert_eq!(info.header_reserve_size, 20);
    let sig = info.signature.expect("the cabinet's signature is found");
    assert_eq!(
        sig.offset + sig.size,
        std::fs::metadata(&signed).unwrap().len()
    );
    assert!(
        sepkg::Package::open(&input)
            .unwrap()
            .container_info()
            .cab
            .unwrap()
            .signature
            .is_none()
    );

    let out = tmp.path().join("out.cab");
    let o = transform(&signed, &out, &[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("warning: signed.cab: the cabinet carried an Authenticode signature"),
        "{stdout}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("out.cab.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["warnings"][0]["code"], "cab-signature-invalidated");
    check_tool("cabextract", &["-t"], &out);
    if let Some(files) = cabextract(&out, &tmp.path().join("x")) {
        assert_eq!(files, expected_files());
    }
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        gcab_mszip_cabinet_transforms_and_cross_checks,
        uncompressed_gcab_cabinet_is_read,
        two_runs_give_identical_cabinets,
        zip_converts_to_cab_and_back,
        truncated_cabinet_is_refused,
        corrupt_data_block_is_refused,
        cabinet_that_panics_the_crate_is_contained,
        traversal_name_in_cabinet_is_refused,
        lzx_cabinet_is_read,
        multi_block_mszip_folder_reads_back_exactly,
        signed_cabinet_loses_its_signature_and_says_so,
    ]
}
