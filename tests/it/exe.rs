//! Single-file .exe packages: a generated PE32+ stub with zip and cabinet
//! payloads, a 7-Zip SFX config block, an osslsigncode signature; the
//! rebuilt .exe checked with unzip, 7-Zip, cabextract and osslsigncode.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;
use crate::support::r#gen as fx;
use crate::support::harness::tests;
use crate::support::{check_tool, have, sepkg, sha256, text};

/// File offset of the PE32+ CheckSum field in [`fx::pe_stub`].
const CHECKSUM_AT: usize = 0x58 + 64;
/// File offset of the certificate-table directory entry in [`fx::pe_stub`].
const SECURITY_DIR_AT: usize = 0x58 + 112 + 4 * 8;

/// The stub and SFX config block that come before the payload.
fn prefix() -> Vec<u8> {
    [fx::pe_stub(), fx::sfx_config("setup.exe")].concat()
}

/// An .exe with a zip of the example package as payload, made the way
/// simple SFX builders do (`cat stub config payload.zip`): the zip's offsets
/// count from the payload, not from the file.
fn zip_exe(dir: &Path) -> PathBuf {
    let path = dir.join("SEP-setup.exe");
    std::fs::write(&path, [prefix(), fx::zip(&fx::example_files())].concat()).unwrap();
    path
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

fn expected_files() -> Vec<(String, Vec<u8>)> {
    let setaid = fx::encode(
        &fx::SETAID_TEXT.replace("KeepPreviousSetting=1", "KeepPreviousSetting=0"),
        fx::Enc::Ansi,
        "\r\n",
    );
    let mut files: Vec<(String, Vec<u8>)> = fx::example_files()
        .into_iter()
        .map(|(n, b)| match n.as_str() {
            "setAid.ini" => (n, setaid.clone()),
            "sylink.xml" => (n, fx::managed_sylink()),
            _ => (n, b),
        })
        .collect();
    files.sort();
    files
}

/// `unzip -t` and `7zz t` accept the .exe as a zip, with no complaint
/// about offsets (which `unzip` reports as "extra bytes").
fn zip_tools_accept(exe: &Path) {
    if let Some(out) = check_tool("unzip", &["-t"], exe) {
        assert!(out.contains("No errors detected"), "{out}");
        assert!(!out.to_lowercase().contains("warning"), "{out}");
    }
    if let Some(out) = check_tool("7zz", &["t"], exe) {
        assert!(out.contains("Everything is Ok"), "{out}");
        assert!(!out.contains("WARNINGS"), "{out}");
    }
}

/// The PE checksum, computed the way pefile does (32-bit words, folded):
/// a second implementation to check ours against.
fn pe_checksum(data: &[u8]) -> u32 {
    let mut sum: u64 = 0;
    let mut padded = data.to_vec();
    while !padded.len().is_multiple_of(4) {
        padded.push(0);
    }
    for (i, w) in padded.chunks_exact(4).enumerate() {
        if i * 4 == CHECKSUM_AT {
            continue;
        }
        sum = (sum & 0xffff_ffff)
            + u64::from(u32::from_le_bytes(w.try_into().unwrap()))
            + (sum >> 32);
        if sum > 1 << 32 {
            sum = (sum & 0xffff_ffff) + (sum >> 32);
        }
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum += sum >> 16;
    sum &= 0xffff;
    (sum + data.len() as u64) as u32
}

fn exe_with_zip_payload_transforms() {
    let tmp = tempfile::tempdir().unwrap();
    let input = zip_exe(tmp.path());
    let out = tmp.path().join("setup.exe");
    let o = transform(&input, &out, &["--json"]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let manifest = &json["transformed"][0]["manifest"];
    assert_eq!(manifest["input"]["kind"], "exe");
    assert_eq!(manifest["output"]["kind"], "exe");
    assert_eq!(
        manifest["warnings"],
        serde_json::json!([]),
        "an unsigned stub loses nothing"
    );

    let bytes = std::fs::read(&out).unwrap();
    let prefix = prefix();
    assert_eq!(
        &bytes[..prefix.len()],
        &prefix[..],
        "the stub and config block must be kept byte for byte"
    );
    assert_eq!(&bytes[prefix.len()..prefix.len() + 4], b"PK\x03\x04");
    let mut files = support::unzip(&bytes);
    files.sort();
    assert_eq!(files, expected_files());
    zip_tools_accept(&out);
}

fn two_runs_give_identical_exes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = zip_exe(tmp.path());
    let (a, b) = (tmp.path().join("a.exe"), tmp.path().join("b.exe"));
    assert!(transform(&input, &a, &[]).status.success());
    assert!(transform(&input, &b, &[]).status.success());
    let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(a, b);
    // Pinned: stub bytes plus the deterministic zip writer.
    assert_eq!(
        sha256(&a),
        "bf9897cbebd5384e0363cc95bcc1ffc57b56a07cff8c1442286f2f477903489a"
    );
}

fn container_facts_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let input = zip_exe(tmp.path());
    let pkg = sepkg::Package::open(&input).unwrap();
    let info = serde_json::to_value(pkg.container_info()).unwrap();
    let stub = prefix().len();
    assert_eq!(
        info,
        serde_json::json!({
            "kind": "exe",
            "exe": {
                "pe_format": "PE32+",
                "machine": "0x8664",
                "image_end": 1024,
                "stub_size": stub,
                "payload_kind": "zip",
                "payload_offset": stub,
                "payload_size": std::fs::metadata(&input).unwrap().len() as usize - stub,
                "signature": null,
                "sfx_config": {
                    "offset": 1024,
                    // Up to the end of `;!@InstallEnd@!`, not its line break.
                    "size": stub - 1024 - 2,
                    "settings": [
                        {"key": "Title", "value": "Symantec Endpoint Protection"},
                        {"key": "RunProgram", "value": "setup.exe"},
                        {"key": "GUIMode", "value": "2"}
                    ]
                }
            }
        })
    );
    // `inspect` gives the same facts without listing the payload.
    let direct = sepkg::package::exe::inspect(&input).unwrap();
    assert_eq!(Some(direct), pkg.container_info().exe);
}

/// Makes a throwaway certificate and signs `input` with osslsigncode.
/// None (and a SKIPPED line) when openssl or osslsigncode is missing.
fn sign(dir: &Path, input: &Path) -> Option<PathBuf> {
    for tool in ["openssl", "osslsigncode"] {
        if !have(tool) {
            eprintln!("SKIPPED: {tool} is not installed; the signed-exe test needs it");
            return None;
        }
    }
    let (key, crt) = (dir.join("test.key"), dir.join("test.crt"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=sepkg throwaway test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(status.status.success(), "{:?}", text(&status));
    let signed = dir.join("signed-setup.exe");
    let o = Command::new("osslsigncode")
        .arg("sign")
        .arg("-certs")
        .arg(&crt)
        .arg("-key")
        .arg(&key)
        .args(["-n", "sepkg test"])
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(&signed)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    Some(signed)
}

fn signed_exe_loses_its_signature_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let unsigned = zip_exe(tmp.path());
    let Some(input) = sign(tmp.path(), &unsigned) else {
        return;
    };
    let signed = std::fs::read(&input).unwrap();
    // Our second checksum implementation agrees with osslsigncode's on the
    // signed file (even length, where osslsigncode's is exact).
    assert!(signed.len().is_multiple_of(2));
    let field = u32::from_le_bytes(signed[CHECKSUM_AT..CHECKSUM_AT + 4].try_into().unwrap());
    assert_ne!(field, 0, "osslsigncode sets the PE checksum");
    assert_eq!(pe_checksum(&signed), field);

    let info = sepkg::package::exe::inspect(&input).unwrap();
    let sig = info
        .signature
        .clone()
        .expect("the Authenticode table is found");
    assert!(sig.offset >= unsigned.metadata().unwrap().len());
    assert_eq!(sig.offset + sig.size, signed.len() as u64);

    let out = tmp.path().join("setup.exe");
    let o = transform(&input, &out, &[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("warning: signed-setup.exe: the stub carried an Authenticode signature"),
        "{stdout}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("setup.exe.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["warnings"][0]["code"], "exe-signature-invalidated");

    let bytes = std::fs::read(&out).unwrap();
    let prefix = prefix().len();
    // The stub is kept except two fields: the certificate-table entry is
    // zeroed (the table is gone) and the PE checksum is recomputed.
    for i in 0..prefix {
        let patched = (SECURITY_DIR_AT..SECURITY_DIR_AT + 8).contains(&i)
            || (CHECKSUM_AT..CHECKSUM_AT + 4).contains(&i);
        if !patched {
            assert_eq!(bytes[i], signed[i], "stub byte {i} changed");
        }
    }
    assert_eq!(&bytes[SECURITY_DIR_AT..SECURITY_DIR_AT + 8], &[0u8; 8]);
    let field = u32::from_le_bytes(bytes[CHECKSUM_AT..CHECKSUM_AT + 4].try_into().unwrap());
    assert_eq!(
        field,
        pe_checksum(&bytes),
        "the PE checksum must match the new file"
    );
    assert!(
        sepkg::package::exe::inspect(&out)
            .unwrap()
            .signature
            .is_none()
    );
    let mut files = support::unzip(&bytes);
    files.sort();
    assert_eq!(files, expected_files());
    zip_tools_accept(&out);
    if have("osslsigncode") {
        let v = Command::new("osslsigncode")
            .arg("verify")
            .arg(&out)
            .output()
            .unwrap();
        let (vo, ve) = text(&v);
        assert!(!v.status.success());
        assert!(
            format!("{vo}{ve}").contains("No signature found"),
            "{vo}{ve}"
        );
    }
}

fn exe_with_cab_payload_transforms() {
    if !have("gcab") {
        eprintln!("SKIPPED: gcab is not installed; this test needs it to make the cabinet payload");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fx::write_dir(&src, &fx::example_files());
    let cab = tmp.path().join("payload.cab");
    let mut cmd = Command::new("gcab");
    cmd.current_dir(&src).arg("-c").arg("-z").arg(&cab);
    for (n, _) in fx::example_files() {
        cmd.arg(n);
    }
    assert!(cmd.status().unwrap().success());
    let input = tmp.path().join("SEP-cab-setup.exe");
    std::fs::write(
        &input,
        [fx::pe_stub(), std::fs::read(&cab).unwrap()].concat(),
    )
    .unwrap();

    let out = tmp.path().join("setup.exe");
    let o = transform(&input, &out, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let bytes = std::fs::read(&out).unwrap();
    let stub = fx::pe_stub();
    assert_eq!(&bytes[..stub.len()], &stub[..]);
    assert_eq!(&bytes[stub.len()..stub.len() + 4], b"MSCF");
    let info = sepkg::package::exe::inspect(&out).unwrap();
    assert_eq!(info.payload_kind, sepkg::package::Format::Cab);
    assert_eq!(info.payload_offset + info.payload_size, bytes.len() as u64);

    // The payload alone is a cabinet the independent tools accept.
    let payload = tmp.path().join("out-payload.cab");
    std::fs::write(&payload, &bytes[stub.len()..]).unwrap();
    if let Some(out) = check_tool("cabextract", &["-t"], &payload) {
        assert!(out.contains("All done, no errors"), "{out}");
    }
    check_tool("gcab", &["-l"], &payload);
    check_tool("7zz", &["t"], &payload);
    let mut pkg = sepkg::Package::open(&out).unwrap();
    let mut files = Vec::new();
    for i in 0..pkg.entries().len() {
        let name = pkg.entries()[i].name.clone();
        files.push((name, pkg.read_small(i, 1 << 20).unwrap()));
    }
    files.sort();
    assert_eq!(files, expected_files());

    // Deterministic too.
    let again = tmp.path().join("again.exe");
    assert!(transform(&input, &again, &[]).status.success());
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
}

fn zip_converts_to_exe_with_a_stub_and_exe_to_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let stub = tmp.path().join("stub.exe");
    std::fs::write(&stub, fx::pe_stub()).unwrap();
    let zip = support::fixtures().join(fx::EXAMPLE_ZIP);

    // A stub for a zip output makes no sense: refused.
    let o = transform(
        &zip,
        &tmp.path().join("x.zip"),
        &["--stub", stub.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("--stub applies only to an .exe output"),
        "{:?}",
        text(&o)
    );

    // No stub: refused before anything is written.
    let out = tmp.path().join("setup.exe");
    let o = transform(&zip, &out, &["--to", "exe"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--stub"), "{:?}", text(&o));
    assert!(!out.exists());

    let o = transform(
        &zip,
        &out,
        &["--to", "exe", "--stub", stub.to_str().unwrap()],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..1024], &fx::pe_stub()[..]);
    let mut files = support::unzip(&bytes);
    files.sort();
    assert_eq!(files, expected_files());
    zip_tools_accept(&out);

    // And back out of the .exe into a plain zip.
    let plain = tmp.path().join("plain.zip");
    let o = transform(&out, &plain, &["--to", "zip"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let bytes = std::fs::read(&plain).unwrap();
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    let mut files = support::unzip(&bytes);
    files.sort();
    assert_eq!(files, expected_files());
}

/// A transform that must fail: exit 2, the message names the input and
/// says `expect`, nothing is written, no panic text.
fn assert_refused(input: &Path, expect: &[&str]) -> String {
    let dir = input.parent().unwrap();
    let out = dir.join("out.exe");
    let o = transform(input, &out, &[]);
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
    assert!(!stderr.contains("panicked"), "panic text: {stderr}");
    assert!(!out.exists());
    assert!(
        !support::listing(dir).iter().any(|n| n.contains("out.exe")),
        "partial output left: {:?}",
        support::listing(dir)
    );
    stderr
}

fn truncated_and_corrupt_exes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read(zip_exe(tmp.path())).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // Inside the PE headers, inside the section data, inside the payload.
    assert_refused(
        &write("cut-headers.exe", &good[..100]),
        &["exe", "truncated"],
    );
    assert_refused(&write("cut-image.exe", &good[..700]), &["exe", "truncated"]);
    assert_refused(
        &write("cut-payload.exe", &good[..good.len() - 30]),
        &["zip"],
    );
    // A PE signature that is not there.
    let mut bad = good.clone();
    bad[0x40] = b'X';
    assert_refused(&write("no-pe.exe", &bad), &["no PE signature"]);
    // A program with no archive after it.
    assert_refused(
        &write("plain.exe", &fx::pe_stub()),
        &["not a SEP client package", "no zip, cabinet or 7z"],
    );
    // Signatures with nothing behind them.
    let stubby = [fx::pe_stub(), b"PK\x03\x04PK\x05\x06".to_vec()].concat();
    assert_refused(&write("tiny-zip.exe", &stubby), &["zip"]);
    let stubby = [fx::pe_stub(), b"MSCF\0\0\0\0".to_vec()].concat();
    assert_refused(&write("tiny-cab.exe", &stubby), &["cabinet"]);
    // A config block with no end line.
    let open_config = [
        fx::pe_stub(),
        b";!@Install@!UTF-8!\r\nRunProgram=\"setup.exe\"\r\n".to_vec(),
    ]
    .concat();
    assert_refused(
        &write("open-config.exe", &open_config),
        &[";!@InstallEnd@!"],
    );
    // Unknown data after the payload would be lost: refused.
    assert_refused(
        &write("trailer.exe", &[&good[..], &[1u8; 40][..]].concat()),
        &["unknown bytes"],
    );
}

fn damaged_seven_zip_payload_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut payload = b"7z\xBC\xAF\x27\x1C\x00\x04".to_vec();
    payload.extend(fx::filler(512, 9));
    let input = tmp.path().join("sfx7z.exe");
    std::fs::write(&input, [prefix(), payload].concat()).unwrap();
    let stderr = assert_refused(
        &input,
        &["7z archive at offset", "start header does not check"],
    );
    assert!(stderr.contains("corrupt or unsupported 7z"), "{stderr}");
}

/// A signed 32-bit (PE32) stub with a zip payload: the
/// certificate-table entry sits 16 bytes earlier than in PE32+, and is
/// found and zeroed there.
fn signed_pe32_exe_is_handled() {
    let tmp = tempfile::tempdir().unwrap();
    let unsigned = tmp.path().join("x86-setup.exe");
    std::fs::write(
        &unsigned,
        [fx::pe32_stub(), fx::zip(&fx::example_files())].concat(),
    )
    .unwrap();
    let info = sepkg::package::exe::inspect(&unsigned).unwrap();
    assert_eq!((info.pe_format, info.machine.as_str()), ("PE32", "0x14c"));
    assert_eq!(info.stub_size, 1024);
    let Some(input) = sign(tmp.path(), &unsigned) else {
        return;
    };
    let signed = std::fs::read(&input).unwrap();
    let sig = sepkg::package::exe::inspect(&input)
        .unwrap()
        .signature
        .unwrap();
    assert_eq!(sig.offset + sig.size, signed.len() as u64);
    const PE32_SECURITY_DIR_AT: usize = 0x58 + 96 + 4 * 8;
    assert_eq!(
        u32::from_le_bytes(
            signed[PE32_SECURITY_DIR_AT..PE32_SECURITY_DIR_AT + 4]
                .try_into()
                .unwrap()
        ) as u64,
        sig.offset
    );

    let out = tmp.path().join("setup.exe");
    let o = transform(&input, &out, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("Authenticode"), "{:?}", text(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        &bytes[PE32_SECURITY_DIR_AT..PE32_SECURITY_DIR_AT + 8],
        &[0u8; 8]
    );
    let field = u32::from_le_bytes(bytes[CHECKSUM_AT..CHECKSUM_AT + 4].try_into().unwrap());
    assert_eq!(field, pe_checksum(&bytes));
    let mut files = support::unzip(&bytes);
    files.sort();
    assert_eq!(files, expected_files());
    zip_tools_accept(&out);
}

fn exe_output_sidecar_and_manifest_hash_the_whole_file() {
    // The payload is written after the stub, so the digest taken while
    // writing would miss the stub: the file must be hashed whole.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("setup.exe");
    let output = transform(&zip_exe(tmp.path()), &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let whole = sha256(&std::fs::read(&out).unwrap());
    let sidecar = std::fs::read_to_string(tmp.path().join("setup.exe.sha256")).unwrap();
    assert_eq!(sidecar, format!("{whole}  setup.exe\n"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("setup.exe.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["output"]["sha256"], whole);
    let check = Command::new("sha256sum")
        .args(["-c", "setup.exe.sha256"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

fn stub_holding_zip_signature_bytes_still_transforms() {
    // A real SFX stub can contain the bytes of a zip local-header signature
    // (in its code or strings). The payload must still be found and read,
    // and the stub kept byte for byte.
    let tmp = tempfile::tempdir().unwrap();
    let mut stub = fx::pe_stub();
    let at = stub.len() - 64;
    let fake = b"PK\x03\x04 looks like a zip header";
    stub[at..at + fake.len()].copy_from_slice(fake);
    let prefix = [stub, fx::sfx_config("setup.exe")].concat();
    let input = tmp.path().join("SEP-setup.exe");
    std::fs::write(
        &input,
        [prefix.clone(), fx::zip(&fx::example_files())].concat(),
    )
    .unwrap();
    let out = tmp.path().join("out.exe");
    let output = transform(&input, &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(&prefix), "the stub changed");
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        exe_with_zip_payload_transforms,
        two_runs_give_identical_exes,
        container_facts_are_reported,
        signed_exe_loses_its_signature_and_says_so,
        exe_with_cab_payload_transforms,
        zip_converts_to_exe_with_a_stub_and_exe_to_zip,
        truncated_and_corrupt_exes_are_refused,
        damaged_seven_zip_payload_is_refused_clearly,
        signed_pe32_exe_is_handled,
        exe_output_sidecar_and_manifest_hash_the_whole_file,
        stub_holding_zip_signature_bytes_still_transforms,
    ]
}
