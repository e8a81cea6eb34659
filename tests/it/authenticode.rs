//! Authenticode: programs signed by osslsigncode with a throwaway CA made
//! by openssl, verified by `sepkg::authenticode`; `transform --sign`
//! output checked by `osslsigncode verify`; timestamps from an RFC 3161
//! responder (`openssl ts -reply` behind a tiny HTTP server on 127.0.0.1).

use crate::support;
use crate::support::harness::tests;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::r#gen as fx;
use crate::support::pki::{CA, Pki, SIGNER, code_signing, openssl, osslsign, run, tools};
use crate::support::{have, sepkg, text};
use sepkg::authenticode::{self, Chain, Status, TimestampKind, Trust, Verdict};
use sepkg::error::Location;

/// The generated PE32+ stub, signed.
fn signed_stub(dir: &Path, pki: &Pki) -> PathBuf {
    let input = dir.join("stub.exe");
    std::fs::write(
        &input,
        [fx::pe_stub(), fx::sfx_config("setup.exe")].concat(),
    )
    .unwrap();
    let out = dir.join("signed.exe");
    osslsign(pki, &input, &out, &[]);
    out
}

/// Verifies `path` both ways (as a file and streamed) and checks that
/// they agree.
fn verify(path: &Path, trust: &Trust) -> Verdict {
    let file = authenticode::verify_file(path, trust).unwrap();
    let mut reader = std::fs::File::open(path).unwrap();
    let at = Location::entry("package.zip", "Setup.exe");
    let streamed = authenticode::verify_reader(&mut reader, &at, trust).unwrap();
    assert_eq!(file, streamed, "verify_file and verify_reader disagree");
    file
}

fn osslsigncode_signature_is_valid_and_names_the_signer() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let signed = signed_stub(tmp.path(), &pki);

    let v = verify(&signed, &Trust::none());
    assert_eq!(v.status, Status::Valid, "{v}");
    assert_eq!(v.finding(), None);
    let s = v.primary().unwrap();
    let signer = s.signer.as_ref().unwrap();
    assert_eq!(signer.subject, SIGNER);
    assert_eq!(signer.issuer, CA);
    assert_eq!(signer.serial, "1234");
    assert_eq!(s.digest_algorithm.as_deref(), Some("sha256"));
    assert_eq!(s.timestamp, None);
    assert_eq!(s.chain, Chain::NotChecked);
    assert_eq!(
        v.to_string(),
        format!(
            "valid: signed by {SIGNER} (issuer {CA}, serial 1234), sha256, no timestamp, chain not checked (no --trust-ca roots given; none are bundled)"
        )
    );

    let v = verify(&signed, &pki.trust());
    assert_eq!(v.status, Status::Valid, "{v}");
    assert_eq!(
        v.primary().unwrap().chain,
        Chain::Trusted { root: CA.into() }
    );
}

fn pe32_signature_is_valid_too() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let input = tmp.path().join("x86.exe");
    std::fs::write(&input, fx::pe32_stub()).unwrap();
    let signed = tmp.path().join("x86-signed.exe");
    osslsign(&pki, &input, &signed, &[]);
    let v = verify(&signed, &pki.trust());
    assert_eq!(v.status, Status::Valid, "{v}");
    assert_eq!(
        v.primary().unwrap().signer.as_ref().unwrap().subject,
        SIGNER
    );
}

fn a_flipped_byte_makes_it_invalid() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let signed = signed_stub(tmp.path(), &pki);
    let good = std::fs::read(&signed).unwrap();
    // In the code section, in the overlay (the SFX config block) and in
    // the headers: every one is covered by the image digest.
    for at in [0x201usize, 0x410, 0x10] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let path = tmp.path().join(format!("flipped-{at:x}.exe"));
        std::fs::write(&path, &bad).unwrap();
        let v = verify(&path, &Trust::none());
        assert_eq!(v.status, Status::Invalid, "offset {at:#x}: {v}");
        assert_eq!(v.finding(), Some("exe-signature-invalid"));
        let problem = v.problem.clone().unwrap();
        assert!(
            problem.starts_with("the file changed after signing: its sha256 image digest is "),
            "{problem}"
        );
        // The signer is still named: the report says who signed what changed.
        assert_eq!(
            v.primary().unwrap().signer.as_ref().unwrap().subject,
            SIGNER
        );
    }
    // The CheckSum field is not covered: changing it leaves the signature valid.
    let mut sum = good.clone();
    sum[0x58 + 64] ^= 0xff;
    let path = tmp.path().join("checksum.exe");
    std::fs::write(&path, &sum).unwrap();
    assert_eq!(verify(&path, &Trust::none()).status, Status::Valid);
}

fn another_ca_makes_it_untrusted() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let signed = signed_stub(tmp.path(), &pki);
    let other = Pki::new(&tmp.path().join("other"), "/CN=some other CA");
    let v = verify(&signed, &other.trust());
    assert_eq!(v.status, Status::Untrusted, "{v}");
    assert_eq!(v.finding(), Some("exe-signature-untrusted"));
    assert_eq!(
        v.problem.as_deref(),
        Some(
            "the chain ends at CN=sepkg test CA, issued by CN=sepkg test CA, which is not a --trust-ca root"
        )
    );
    assert_eq!(
        v.primary().unwrap().signer.as_ref().unwrap().subject,
        SIGNER
    );
}

fn a_certificate_for_another_purpose_is_untrusted() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(&tmp.path().join("pki"), "/CN=sepkg test CA");
    pki.leaf("signer", "/CN=web server/O=Example Corp", "serverAuth", "7");
    let signed = signed_stub(tmp.path(), &pki);
    let v = verify(&signed, &pki.trust());
    assert_eq!(v.status, Status::Untrusted, "{v}");
    assert!(v.problem.unwrap().contains("is not for code signing"));
}

fn unsigned_is_unsigned() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("plain.exe");
    std::fs::write(&path, fx::pe_stub()).unwrap();
    let v = verify(&path, &Trust::none());
    assert_eq!(v.status, Status::Unsigned);
    assert_eq!(v.finding(), Some("exe-unsigned"));
    assert_eq!(v.to_string(), "unsigned");
    assert!(v.signatures.is_empty());
}

fn a_file_that_is_no_program_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("notes.exe");
    std::fs::write(&path, b"just text").unwrap();
    let e = authenticode::verify_file(&path, &Trust::none()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: corrupt or unsupported PE program: no MZ signature: not a Windows program",
            path.display()
        )
    );
    let e = authenticode::verify_file(&tmp.path().join("missing.exe"), &Trust::none()).unwrap_err();
    assert!(e.to_string().contains("missing.exe: cannot open"), "{e}");
}

/// Truncations and garbled tables: a clear reason, never a panic.
fn damaged_certificate_tables_are_invalid_with_a_reason() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let signed = signed_stub(tmp.path(), &pki);
    let good = std::fs::read(&signed).unwrap();
    let info = sepkg::package::exe::inspect(&signed).ok();
    let dir_at = 0x58 + 112 + 32;
    let table_at = u32::from_le_bytes(good[dir_at..dir_at + 4].try_into().unwrap()) as usize;
    assert!(table_at > 0 && table_at < good.len(), "{info:?}");

    let check = |name: &str, bytes: &[u8], expect: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let v = verify(&path, &Trust::none());
        assert_eq!(v.status, Status::Invalid, "{name}: {v}");
        let problem = v.problem.unwrap();
        assert!(problem.contains(expect), "{name}: {problem}");
    };
    check(
        "truncated.exe",
        &good[..good.len() - 100],
        "runs past the end of the file",
    );
    check(
        "appended.exe",
        &[&good[..], b"appended"].concat(),
        "follow the certificate table",
    );
    let mut kind = good.clone();
    kind[table_at + 6] = 9;
    check("type.exe", &kind, "not PKCS#7 SignedData");
    let mut len = good.clone();
    len[table_at..table_at + 4].copy_from_slice(&0x00FF_FFFF_u32.to_le_bytes());
    check(
        "length.exe",
        &len,
        "the WIN_CERTIFICATE declares 16777215 bytes",
    );
    let mut der = good.clone();
    der[table_at + 8] = 0x31;
    check("garbled.exe", &der, "the PKCS#7 signature is malformed");
    let mut dir = good.clone();
    dir[dir_at..dir_at + 4].copy_from_slice(&4u32.to_le_bytes());
    check("directory.exe", &dir, "directory entry is garbled");

    // Every truncation and every byte of the table flipped: a verdict,
    // never a panic; flips that leave the signature valid are only in
    // parts no signature covers (the CA certificate, padding is not).
    let (mut invalid, mut valid) = (0, 0);
    for n in (0..good.len()).step_by(97) {
        let mut r = &good[..n];
        let at = Location::entry("p.zip", "Setup.exe");
        if let Ok(v) = authenticode::verify_reader(&mut r, &at, &Trust::none()) {
            assert_ne!(v.status, Status::Valid, "truncated at {n}");
        }
    }
    for at in (table_at..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[at] ^= 0x55;
        let mut r = bad.as_slice();
        let loc = Location::entry("p.zip", "Setup.exe");
        match authenticode::verify_reader(&mut r, &loc, &Trust::none())
            .unwrap()
            .status
        {
            Status::Invalid => invalid += 1,
            _ => {
                valid += 1;
                eprintln!("still valid with table byte {} flipped", at - table_at);
            }
        }
    }
    // What stays valid is a carried CA certificate edited so that it no
    // longer names itself or the signer's issuer: no signature covers it.
    assert!(
        valid * 10 < invalid,
        "{invalid} invalid, {valid} still valid"
    );
}

// ---------------------------------------------------------------------------
// RFC 3161 timestamps: `openssl ts -reply` behind a tiny HTTP server.

/// A timestamp authority on 127.0.0.1: a python3 HTTP server that answers
/// each POSTed request with `openssl ts -reply`. Killed on drop; it also
/// exits by itself after 20 requests or 120 seconds.
struct Tsa {
    child: Child,
    url: String,
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TSA_SCRIPT: &str = r#"import http.server, subprocess, sys, tempfile, os, threading
port, conf = int(sys.argv[1]), sys.argv[2]
threading.Timer(120, lambda: os._exit(0)).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        with tempfile.TemporaryDirectory() as d:
            q, r = os.path.join(d, 'q.tsq'), os.path.join(d, 'r.tsr')
            open(q, 'wb').write(body)
            subprocess.run(['openssl', 'ts', '-reply', '-config', conf, '-queryfile', q, '-out', r], check=True, capture_output=True)
            data = open(r, 'rb').read()
        self.send_response(200)
        self.send_header('Content-Type', 'application/timestamp-reply')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', port), H)
for _ in range(20):
    s.handle_request()
"#;

impl Tsa {
    /// Starts a TSA whose certificate `tsa.pem` is issued by `pki`'s CA.
    fn start(pki: &Pki) -> Option<Tsa> {
        if !have("python3") {
            eprintln!("SKIPPED: python3 is not installed; the timestamp tests need it");
            return None;
        }
        pki.leaf("tsa", "/CN=sepkg test TSA", "timeStamping", "0x7531");
        let d = pki.dir.display();
        let conf = format!(
            "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = {d}/tsaserial\ncrypto_device = builtin\nsigner_cert = {d}/tsa.pem\ncerts = {d}/ca.pem\nsigner_key = {d}/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha1, sha256, sha384, sha512\naccuracy = secs:1\nordering = no\ntsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
        );
        std::fs::write(pki.path("ts.cnf"), conf).unwrap();
        std::fs::write(pki.path("tsaserial"), "01\n").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-c", TSA_SCRIPT])
            .arg(port.to_string())
            .arg(pki.path("ts.cnf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let tsa = Tsa {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the TSA did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(tsa)
    }
}

fn osslsigncode_timestamp_is_verified() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let Some(tsa) = Tsa::start(&pki) else {
        return;
    };
    let input = tmp.path().join("stub.exe");
    std::fs::write(&input, fx::pe_stub()).unwrap();
    let signed = tmp.path().join("ts.exe");
    osslsign(&pki, &input, &signed, &["-ts", &tsa.url]);

    let v = verify(&signed, &pki.trust());
    assert_eq!(v.status, Status::Valid, "{v}");
    let ts = v.primary().unwrap().timestamp.clone().expect("a timestamp");
    assert_eq!(ts.kind, TimestampKind::Rfc3161);
    assert_eq!(ts.problem, None);
    assert_eq!(ts.authority.unwrap().subject, "CN=sepkg test TSA");
    assert_eq!(ts.chain, Chain::Trusted { root: CA.into() });
    let time = ts.time.unwrap();
    assert!(time.len() == 20 && time.ends_with('Z'), "{time}");
    assert!(
        v.to_string().contains(&format!(", timestamped {time},")),
        "{v}"
    );
}

// ---------------------------------------------------------------------------
// transform --sign

/// A single-file .exe export: the PE32+ stub, an SFX config block and a
/// zip of the example package, signed by osslsigncode as a vendor's is.
fn signed_export(dir: &Path, pki: &Pki) -> PathBuf {
    let plain = dir.join("export.exe");
    let payload = fx::zip(&fx::example_files());
    std::fs::write(
        &plain,
        [fx::pe_stub(), fx::sfx_config("setup.exe"), payload].concat(),
    )
    .unwrap();
    let signed = dir.join("SEP-setup.exe");
    osslsign(pki, &plain, &signed, &[]);
    signed
}

fn sylink(dir: &Path) -> PathBuf {
    let path = dir.join("sylink-managed.xml");
    std::fs::write(&path, fx::managed_sylink()).unwrap();
    path
}

fn transform(input: &Path, sylink: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    sepkg()
        .arg("transform")
        .arg(input)
        .arg("--sylink")
        .arg(sylink)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn manifest(out: &Path) -> serde_json::Value {
    let path = PathBuf::from(format!("{}.manifest.json", out.display()));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// osslsigncode's verdict on `file` against `ca`.
fn osslverify(file: &Path, ca: &Path) -> String {
    run(Command::new("osslsigncode")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .arg("-TSA-CAfile")
        .arg(ca)
        .arg("-in")
        .arg(file))
}

fn transform_sign_output_passes_osslsigncode_and_our_verifier() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let input = signed_export(tmp.path(), &pki);
    let sylink = sylink(tmp.path());
    let out = tmp.path().join("setup.exe");
    let (cert, key) = (pki.path("signer-chain.pem"), pki.path("signer.key"));
    let args = [
        "--sign-cert",
        cert.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
    ];
    let o = transform(&input, &sylink, &out, &args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "  signed:   {SIGNER} (issuer {CA}, serial 1234), sha256\n"
        )),
        "{stdout}"
    );
    // The input's signature is replaced, not lost: no warning about it.
    assert!(!stdout.contains("Authenticode signature"), "{stdout}");

    let report = osslverify(&out, &pki.path("ca.pem"));
    assert!(report.contains("Signature verification: ok"), "{report}");
    assert!(
        report.contains("Subject: /CN=sepkg test signer/O=Example Corp"),
        "{report}"
    );
    let v = verify(&out, &pki.trust());
    assert_eq!(v.status, Status::Valid, "{v}");
    assert_eq!(
        v.primary().unwrap().signer.as_ref().unwrap().subject,
        SIGNER
    );
    assert_eq!(
        v.primary().unwrap().chain,
        Chain::Trusted { root: CA.into() }
    );

    // The sidecar and the manifest describe the signed bytes.
    let bytes = std::fs::read(&out).unwrap();
    let sha = support::sha256(&bytes);
    let sidecar = std::fs::read_to_string(tmp.path().join("setup.exe.sha256")).unwrap();
    assert_eq!(sidecar, format!("{sha}  setup.exe\n"));
    let m = manifest(&out);
    assert_eq!(m["output"]["sha256"], sha.as_str());
    assert_eq!(m["output"]["size"], bytes.len() as u64);
    assert_eq!(m["signature"]["signer"]["subject"], SIGNER);
    assert_eq!(m["signature"]["signer"]["serial"], "1234");
    assert_eq!(m["signature"]["digest_algorithm"], "sha256");
    assert!(m["signature"].get("timestamp").is_none(), "{m}");
    assert!(m["warnings"].as_array().unwrap().is_empty(), "{m}");
    // osslsigncode sets the checksum; so do we, over the final bytes.
    let field = u32::from_le_bytes(bytes[0x58 + 64..0x58 + 68].try_into().unwrap());
    assert_eq!(field, pe_checksum(&bytes));

    // Deterministic: the same inputs and key give the same bytes.
    let again = tmp.path().join("again.exe");
    assert!(transform(&input, &sylink, &again, &args).status.success());
    assert_eq!(std::fs::read(&again).unwrap(), bytes);

    // The payload is still the package, and the stub still finds it.
    let pkg = sepkg::Package::open(&out).unwrap();
    assert!(
        pkg.entries()
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case("sylink.xml"))
    );
}

/// `2026-12-01T23:32:50Z` as OpenSSL prints it: `Dec  1 23:32:50 2026 GMT`.
fn openssl_time(t: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month: usize = t[5..7].parse().unwrap();
    let day: u32 = t[8..10].parse().unwrap();
    format!(
        "{} {day:>2} {} {} GMT",
        MONTHS[month - 1],
        &t[11..19],
        &t[..4]
    )
}

/// The PE checksum (CheckSumMappedFile), computed independently.
fn pe_checksum(b: &[u8]) -> u32 {
    let mut sum: u64 = 0;
    for (i, w) in b.chunks(2).enumerate() {
        if i * 2 == 0x58 + 64 || i * 2 == 0x58 + 66 {
            continue;
        }
        let v = u64::from(w[0]) | (u64::from(*w.get(1).unwrap_or(&0)) << 8);
        sum += v;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32).wrapping_add(b.len() as u32)
}

fn a_pfx_signs_the_same_bytes_as_the_pem_files() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let input = signed_export(tmp.path(), &pki);
    let sylink = sylink(tmp.path());
    let pem_out = tmp.path().join("pem.exe");
    let (cert, key) = (pki.path("signer-chain.pem"), pki.path("signer.key"));
    let pem_args = [
        "--sign-cert",
        cert.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
    ];
    assert!(
        transform(&input, &sylink, &pem_out, &pem_args)
            .status
            .success()
    );
    let want = std::fs::read(&pem_out).unwrap();

    // OpenSSL 3's default (PBES2, AES-256, SHA-256 MAC) and the legacy
    // 3DES form Windows exports.
    for (name, extra) in [
        ("aes.pfx", vec![]),
        (
            "3des.pfx",
            vec![
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
    ] {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            "signer.key",
            "-in",
            "signer.pem",
            "-certfile",
            "ca.pem",
            "-out",
            name,
            "-passout",
            "pass:s3cret pass",
        ];
        args.extend(extra);
        openssl(&pki.dir, &args);
        let out = tmp.path().join(format!("{name}.exe"));
        let pfx = pki.path(name);
        let o = sepkg()
            .env("SEPKG_TEST_PFX_PASS", "s3cret pass")
            .arg("transform")
            .arg(&input)
            .arg("--sylink")
            .arg(&sylink)
            .arg("-o")
            .arg(&out)
            .arg("--sign")
            .arg(&pfx)
            .args(["--sign-password-env", "SEPKG_TEST_PFX_PASS"])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{name}: {stdout}\n{stderr}");
        assert_eq!(std::fs::read(&out).unwrap(), want, "{name}");

        let wrong = sepkg()
            .env("SEPKG_TEST_PFX_PASS", "not it")
            .arg("transform")
            .arg(&input)
            .arg("--sylink")
            .arg(&sylink)
            .arg("-o")
            .arg(tmp.path().join("wrong.exe"))
            .arg("--sign")
            .arg(&pfx)
            .args(["--sign-password-env", "SEPKG_TEST_PFX_PASS"])
            .output()
            .unwrap();
        assert_eq!(wrong.status.code(), Some(2));
        let (_, stderr) = text(&wrong);
        assert!(
            stderr.contains(&format!(
                "{}: cannot sign with it: the password is wrong",
                pfx.display()
            )),
            "{stderr}"
        );
        assert!(!tmp.path().join("wrong.exe").exists());
    }
}

fn sign_refuses_what_it_cannot_do() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let other = Pki::new(&tmp.path().join("other"), "/CN=some other CA");
    let input = signed_export(tmp.path(), &pki);
    let sylink = sylink(tmp.path());
    let out = tmp.path().join("out.zip");
    let (cert, key) = (pki.path("signer.pem"), pki.path("signer.key"));
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "--to".into(),
                "zip".into(),
                "--sign-cert".into(),
                cert.display().to_string(),
                "--sign-key".into(),
                key.display().to_string(),
            ],
            "--sign signs an .exe output, and this one is a zip".into(),
        ),
        (
            vec![
                "--sign-cert".into(),
                cert.display().to_string(),
                "--sign-key".into(),
                other.path("ca.key").display().to_string(),
            ],
            format!(
                "{}: cannot sign with it: no certificate in it matches the private key",
                cert.display()
            ),
        ),
        (
            vec![
                "--sign".into(),
                "x.pfx".into(),
                "--sign-password-env".into(),
                "SEPKG_TEST_UNSET_VAR".into(),
            ],
            "the environment variable SEPKG_TEST_UNSET_VAR is not set".into(),
        ),
        (
            vec!["--timestamp-url".into(), "http://127.0.0.1:9/".into()],
            "--sign-password-env and --timestamp-url go with --sign PFX".into(),
        ),
    ];
    for (args, expect) in cases {
        let o = sepkg()
            .env_remove("SEPKG_TEST_UNSET_VAR")
            .arg("transform")
            .arg(&input)
            .arg("--sylink")
            .arg(&sylink)
            .arg("-o")
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(&expect), "{args:?}: {stderr}");
        assert!(!out.exists());
    }
}

fn transform_sign_with_a_timestamp() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let Some(tsa) = Tsa::start(&pki) else {
        return;
    };
    let input = signed_export(tmp.path(), &pki);
    let sylink = sylink(tmp.path());
    let out = tmp.path().join("setup.exe");
    let (cert, key) = (pki.path("signer-chain.pem"), pki.path("signer.key"));
    let args = [
        "--sign-cert",
        cert.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
        "--timestamp-url",
        &tsa.url,
    ];
    let o = transform(&input, &sylink, &out, &args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");

    let report = osslverify(&out, &pki.path("ca.pem"));
    assert!(report.contains("Signature verification: ok"), "{report}");
    assert!(
        report.contains("Timestamp Server Signature verification: ok"),
        "{report}"
    );

    let v = verify(&out, &pki.trust());
    assert_eq!(v.status, Status::Valid, "{v}");
    let ts = v.primary().unwrap().timestamp.clone().expect("a timestamp");
    assert_eq!(
        (ts.kind, ts.problem.as_deref()),
        (TimestampKind::Rfc3161, None)
    );
    assert_eq!(ts.authority.as_ref().unwrap().subject, "CN=sepkg test TSA");
    assert_eq!(ts.chain, Chain::Trusted { root: CA.into() });
    let time = ts.time.unwrap();
    assert!(
        stdout.contains(&format!("  timestamp: {time} by CN=sepkg test TSA\n")),
        "{stdout}"
    );
    // The same time as osslsigncode reads ("Dec  1 23:32:50 2026 GMT").
    assert!(
        report.contains(&format!("Timestamp time: {}", openssl_time(&time))),
        "{time}\n{report}"
    );
    let m = manifest(&out);
    assert_eq!(m["signature"]["timestamp"], time.as_str());
    assert_eq!(
        m["signature"]["timestamp_authority"]["subject"],
        "CN=sepkg test TSA"
    );
    assert_eq!(
        m["output"]["sha256"],
        support::sha256(&std::fs::read(&out).unwrap()).as_str()
    );
}

fn ecdsa_p256_signs_and_verifies_both_ways() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = Pki::new(&tmp.path().join("pki"), "/CN=sepkg test CA");
    openssl(
        &pki.dir,
        &["ecparam", "-name", "prime256v1", "-out", "p256.param"],
    );
    pki.key = "ec:p256.param";
    pki.leaf(
        "signer",
        "/CN=sepkg test signer/O=Example Corp",
        "codeSigning",
        "0x1234",
    );

    // osslsigncode signs with the P-256 key; sepkg verifies.
    let theirs = signed_stub(tmp.path(), &pki);
    let v = verify(&theirs, &pki.trust());
    assert_eq!(v.status, Status::Valid, "{v}");
    assert_eq!(
        v.primary().unwrap().signer.as_ref().unwrap().subject,
        SIGNER
    );

    // sepkg signs with it; osslsigncode and sepkg verify, and RFC 6979
    // keeps it deterministic.
    let input = signed_export(tmp.path(), &pki);
    let sylink = sylink(tmp.path());
    let (cert, key) = (pki.path("signer-chain.pem"), pki.path("signer.key"));
    let args = [
        "--sign-cert",
        cert.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
    ];
    let out = tmp.path().join("ec.exe");
    let o = transform(&input, &sylink, &out, &args);
    assert!(o.status.success(), "{:?}", text(&o));
    let report = osslverify(&out, &pki.path("ca.pem"));
    assert!(report.contains("Signature verification: ok"), "{report}");
    assert_eq!(verify(&out, &pki.trust()).status, Status::Valid);
    let again = tmp.path().join("ec-again.exe");
    assert!(transform(&input, &sylink, &again, &args).status.success());
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&out).unwrap());
}

/// Dual signing: a SHA-1 signature with a SHA-256 one nested in it, as
/// vendors ship for old and new Windows alike. Both are checked.
fn nested_signatures_are_checked_too() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let input = tmp.path().join("stub.exe");
    std::fs::write(&input, fx::pe_stub()).unwrap();
    let sha1 = tmp.path().join("sha1.exe");
    run(Command::new("osslsigncode")
        .arg("sign")
        .arg("-certs")
        .arg(pki.path("signer-chain.pem"))
        .arg("-key")
        .arg(pki.path("signer.key"))
        .args(["-h", "sha1"])
        .arg("-in")
        .arg(&input)
        .arg("-out")
        .arg(&sha1));
    let dual = tmp.path().join("dual.exe");
    osslsign(&pki, &sha1, &dual, &["-nest"]);

    let v = verify(&dual, &pki.trust());
    assert_eq!(v.status, Status::Valid, "{v}");
    let algs: Vec<(bool, Option<&str>)> = v
        .signatures
        .iter()
        .map(|s| (s.nested, s.digest_algorithm.as_deref()))
        .collect();
    assert_eq!(algs, [(false, Some("sha1")), (true, Some("sha256"))]);

    // A changed byte breaks both digests; the report says so.
    let mut bad = std::fs::read(&dual).unwrap();
    bad[0x201] ^= 1;
    let path = tmp.path().join("dual-bad.exe");
    std::fs::write(&path, &bad).unwrap();
    let v = verify(&path, &Trust::none());
    assert_eq!(v.status, Status::Invalid);
    assert!(
        v.signatures.iter().all(|s| s
            .problem
            .as_deref()
            .is_some_and(|p| p.starts_with("the file changed after signing"))),
        "{v:?}"
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        osslsigncode_signature_is_valid_and_names_the_signer,
        pe32_signature_is_valid_too,
        a_flipped_byte_makes_it_invalid,
        another_ca_makes_it_untrusted,
        a_certificate_for_another_purpose_is_untrusted,
        unsigned_is_unsigned,
        a_file_that_is_no_program_is_an_error_naming_it,
        damaged_certificate_tables_are_invalid_with_a_reason,
        osslsigncode_timestamp_is_verified,
        transform_sign_output_passes_osslsigncode_and_our_verifier,
        a_pfx_signs_the_same_bytes_as_the_pem_files,
        sign_refuses_what_it_cannot_do,
        transform_sign_with_a_timestamp,
        ecdsa_p256_signs_and_verifies_both_ways,
        nested_signatures_are_checked_too,
        msi_signatures_verify_as_osslsigncode_computes_them,
        a_flipped_byte_in_an_msi_stream_makes_it_invalid,
        msi_dse_metadata_changed_after_signing_is_invalid,
        msi_dse_over_stream_times_cfb_hides_is_not_verified,
        unsigned_msi_is_unsigned,
        damaged_signed_msis_get_a_verdict,
    ]
}

/// The generated MSI with more to order: a storage with its own CLSID and
/// streams whose names are prefixes of each other or differ in the high
/// byte of a code unit (osslsigncode compares names bytewise, low byte
/// first), an empty stream, and a CLSID on the root.
fn ordered_msi(dir: &Path) -> PathBuf {
    let path = dir.join("plain.msi");
    std::fs::write(&path, fx::msi(&fx::MsiSpec::example(fx::VERSION))).unwrap();
    let mut cf = cfb::open_rw(&path).unwrap();
    let clsid = |n: u128| uuid::Uuid::from_u128(n);
    cf.set_storage_clsid("/", clsid(0x000c1084_0000_0000_c000_000000000046))
        .unwrap();
    cf.create_storage("/Nested").unwrap();
    cf.set_storage_clsid("/Nested", clsid(0x0123_4567_89ab_cdef_0011_2233_4455_6677))
        .unwrap();
    for (name, data) in [
        ("/Nested/x", &b"first"[..]),
        ("/Nested/xy", b"second"),
        ("/Nested/\u{100}", b"high byte"),
        ("/Nested/\u{1}", b"low byte"),
        ("/Nested/empty", b""),
        ("/sepkgtimes", b"a stream whose times osslsigncode signs"),
    ] {
        use std::io::Write;
        cf.create_stream(name).unwrap().write_all(data).unwrap();
    }
    cf.flush().unwrap();
    path
}

/// Signs `input` with osslsigncode (`extra`: `-add-msi-dse`, `-h sha1`...).
fn signed_msi(dir: &Path, pki: &Pki, input: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    osslsign(pki, input, &out, extra);
    out
}

fn msi_verdict(path: &Path, trust: &Trust) -> Verdict {
    let file = std::fs::File::open(path).unwrap();
    match authenticode::verify_msi(file, trust) {
        authenticode::MsiVerdict::Checked(v) => v,
        other => panic!("{}: {other:?}", path.display()),
    }
}

/// osslsigncode's own verdict on `path`.
fn osslsigncode_verify(path: &Path, ca: &Path) -> (bool, String) {
    let out = Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(ca)
        .arg("-in")
        .arg(path)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    (out.status.success(), format!("{stdout}{stderr}"))
}

fn msi_signatures_verify_as_osslsigncode_computes_them() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let plain = ordered_msi(tmp.path());
    for (name, extra, alg) in [
        ("sha256.msi", &[][..], "sha256"),
        ("dse.msi", &["-add-msi-dse"][..], "sha256"),
        ("sha1.msi", &["-h", "sha1"][..], "sha1"),
        (
            "sha384-dse.msi",
            &["-h", "sha384", "-add-msi-dse"][..],
            "sha384",
        ),
    ] {
        let signed = signed_msi(tmp.path(), &pki, &plain, name, extra);
        let (ok, out) = osslsigncode_verify(&signed, &pki.path("ca.pem"));
        assert!(ok, "osslsigncode rejects {name}:\n{out}");
        let v = msi_verdict(&signed, &Trust::none());
        assert_eq!(v.status, Status::Valid, "{name}: {v}");
        let s = v.primary().unwrap();
        assert_eq!(s.signer.as_ref().unwrap().subject, SIGNER);
        assert_eq!(s.digest_algorithm.as_deref(), Some(alg));
        assert_eq!(s.chain, Chain::NotChecked);
        let v = msi_verdict(&signed, &pki.trust());
        assert_eq!(v.status, Status::Valid, "{name}: {v}");
        assert_eq!(
            v.primary().unwrap().chain,
            Chain::Trusted { root: CA.into() }
        );
        // Another CA: the signature verifies, the chain does not reach it.
        let other = Pki::new(&tmp.path().join(format!("other-{name}")), "/CN=other CA");
        let v = msi_verdict(&signed, &other.trust());
        assert_eq!(v.status, Status::Untrusted, "{name}: {v}");
    }
    // A wixl MSI (msitools' writer) too, when it is installed.
    if have("wixl") {
        let wxs = tmp.path().join("p.wxs");
        std::fs::write(&wxs, WXS).unwrap();
        let wixl = tmp.path().join("wixl.msi");
        run(Command::new("wixl").arg("-o").arg(&wixl).arg(&wxs));
        let signed = signed_msi(
            tmp.path(),
            &pki,
            &wixl,
            "wixl-signed.msi",
            &["-add-msi-dse"],
        );
        assert!(osslsigncode_verify(&signed, &pki.path("ca.pem")).0);
        let v = msi_verdict(&signed, &pki.trust());
        assert_eq!(v.status, Status::Valid, "wixl: {v}");
    } else {
        eprintln!("SKIPPED (wixl part): wixl is not installed");
    }
}

const WXS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="sepkg wixl" Language="1033" Version="1.0.0" Manufacturer="sepkg"
           UpgradeCode="12345678-1234-1234-1234-123456789012">
    <Package InstallerVersion="200" Compressed="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir" />
    <Feature Id="Main" Level="1" />
  </Product>
</Wix>
"#;

/// Where `needle` is in `hay`, once.
fn find_once(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{:?} found {} times",
        String::from_utf8_lossy(needle),
        hits.len()
    );
    hits[0]
}

fn a_flipped_byte_in_an_msi_stream_makes_it_invalid() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let plain = ordered_msi(tmp.path());
    for (name, extra) in [("signed.msi", &[][..]), ("dse.msi", &["-add-msi-dse"][..])] {
        let signed = signed_msi(tmp.path(), &pki, &plain, name, extra);
        let mut bytes = std::fs::read(&signed).unwrap();
        // Inside the stream /Nested/xy ("second"): its data, not its entry.
        let at = find_once(&bytes, b"second") + 1;
        bytes[at] ^= 0x01;
        let flipped = tmp.path().join(format!("flipped-{name}"));
        std::fs::write(&flipped, &bytes).unwrap();
        let v = msi_verdict(&flipped, &Trust::none());
        assert_eq!(v.status, Status::Invalid, "{v}");
        let problem = v.problem.as_deref().unwrap();
        assert!(
            problem.starts_with("the file changed after signing: its sha256 MSI digest is "),
            "{problem}"
        );
        assert_eq!(
            v.primary().unwrap().signer.as_ref().unwrap().subject,
            SIGNER
        );
        let (ok, out) = osslsigncode_verify(&flipped, &pki.path("ca.pem"));
        assert!(
            !ok && out.contains("MISMATCH"),
            "osslsigncode accepts it:\n{out}"
        );
    }
}

/// The offset of the directory entry named `name` (UTF-16LE, then its
/// terminator) in the compound file `bytes`.
fn dir_entry(bytes: &[u8], name: &str) -> usize {
    let stored: Vec<u8> = name
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect();
    find_once(bytes, &stored)
}

fn msi_dse_metadata_changed_after_signing_is_invalid() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let plain = ordered_msi(tmp.path());
    let signed = signed_msi(tmp.path(), &pki, &plain, "dse.msi", &["-add-msi-dse"]);
    // The storage's state bits (offset 0x60 of its entry): metadata only,
    // no stream's content changes.
    let mut bytes = std::fs::read(&signed).unwrap();
    let at = dir_entry(&bytes, "Nested") + 0x60;
    bytes[at] ^= 0x01;
    let changed = tmp.path().join("changed.msi");
    std::fs::write(&changed, &bytes).unwrap();
    let v = msi_verdict(&changed, &Trust::none());
    assert_eq!(v.status, Status::Invalid, "{v}");
    let problem = v.problem.as_deref().unwrap();
    assert!(
        problem.starts_with("the entries' metadata (names, sizes, state bits, times) changed after signing: their sha256 pre-hash is "),
        "{problem}"
    );
    let (ok, out) = osslsigncode_verify(&changed, &pki.path("ca.pem"));
    assert!(!ok, "osslsigncode accepts it:\n{out}");
    // Without MsiDigitalSignatureEx the metadata is not signed.
    let signed = signed_msi(tmp.path(), &pki, &plain, "plain-signed.msi", &[]);
    let mut bytes = std::fs::read(&signed).unwrap();
    let at = dir_entry(&bytes, "Nested") + 0x60;
    bytes[at] ^= 0x01;
    std::fs::write(&changed, &bytes).unwrap();
    assert_eq!(msi_verdict(&changed, &Trust::none()).status, Status::Valid);
    assert!(osslsigncode_verify(&changed, &pki.path("ca.pem")).0);
}

fn msi_dse_over_stream_times_cfb_hides_is_not_verified() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let plain = ordered_msi(tmp.path());
    // A stream with a creation time (the format says zero; cfb reads it
    // as zero), signed over by osslsigncode's pre-hash.
    let mut bytes = std::fs::read(&plain).unwrap();
    let at = dir_entry(&bytes, "sepkgtimes") + 0x64;
    bytes[at..at + 8].copy_from_slice(&0x01d9_0000_0000_0000u64.to_le_bytes());
    let timed = tmp.path().join("timed.msi");
    std::fs::write(&timed, &bytes).unwrap();
    let signed = signed_msi(tmp.path(), &pki, &timed, "dse.msi", &["-add-msi-dse"]);
    assert!(osslsigncode_verify(&signed, &pki.path("ca.pem")).0);
    let file = std::fs::File::open(&signed).unwrap();
    match authenticode::verify_msi(file, &Trust::none()) {
        authenticode::MsiVerdict::NotVerified(why) => assert!(
            why.starts_with("detected, not verified: the streams verify, but its MsiDigitalSignatureEx part signs the entries' metadata, and this file holds values the cfb crate does not hand over as stored (its strict reading says: ")
                && why.contains("non-zero stream creation time"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    // Without MsiDigitalSignatureEx the times are not signed: valid.
    let signed = signed_msi(tmp.path(), &pki, &timed, "plain-signed.msi", &[]);
    assert_eq!(msi_verdict(&signed, &Trust::none()).status, Status::Valid);
}

fn unsigned_msi_is_unsigned() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = ordered_msi(tmp.path());
    let v = msi_verdict(&plain, &Trust::none());
    assert_eq!(v.status, Status::Unsigned);
    assert!(v.signatures.is_empty());
    // Not a compound file: invalid, saying so, no panic.
    let junk = tmp.path().join("junk.msi");
    std::fs::write(&junk, b"not an MSI at all").unwrap();
    let v = msi_verdict(&junk, &Trust::none());
    assert_eq!(v.status, Status::Invalid);
    assert!(
        v.problem
            .as_deref()
            .unwrap()
            .starts_with("the MSI cannot be read as a compound file: "),
        "{v}"
    );
}

/// Bytes flipped all over a signed MSI: every one gets a verdict (no panic
/// escapes), and a flip in a stream's data is never valid.
fn damaged_signed_msis_get_a_verdict() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = code_signing(tmp.path());
    let plain = ordered_msi(tmp.path());
    let signed = signed_msi(tmp.path(), &pki, &plain, "dse.msi", &["-add-msi-dse"]);
    let bytes = std::fs::read(&signed).unwrap();
    let data = find_once(&bytes, b"second");
    let mut invalid = 0;
    for at in (0..bytes.len()).step_by(61).chain(data..data + 6) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5a;
        let verdict = authenticode::verify_msi(std::io::Cursor::new(damaged), &Trust::none());
        if let authenticode::MsiVerdict::Checked(v) = &verdict {
            if v.status == Status::Invalid {
                invalid += 1;
            }
            assert!(
                !(data..data + 6).contains(&at) || v.status == Status::Invalid,
                "offset {at}: {v}"
            );
        }
    }
    assert!(invalid > 6, "{invalid}");
}
