//! A throwaway PKI for signed fixtures: a CA and leaves made by `openssl`
//! in the test's temporary folder, and programs signed by `osslsigncode`
//! (both from Debian, installed by `.ci/run`). Used by the Authenticode
//! tests and by the audit's signature tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{have, text};
use sepkg::authenticode::Trust;

/// The signer's subject as sepkg prints it (RFC 4514: last RDN first).
pub const SIGNER: &str = "O=Example Corp,CN=sepkg test signer";
/// The CA's subject, as sepkg prints it.
pub const CA: &str = "CN=sepkg test CA";

/// Runs `cmd`, failing with its output unless it succeeds; returns its
/// stdout and stderr.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{cmd:?} failed:\n{stdout}\n{stderr}");
    format!("{stdout}{stderr}")
}

/// `openssl ARGS` in `dir`.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    run(Command::new("openssl").current_dir(dir).args(args))
}

/// True when openssl and osslsigncode are installed; else says SKIPPED.
pub fn tools() -> bool {
    for tool in ["openssl", "osslsigncode"] {
        if !have(tool) {
            eprintln!("SKIPPED: {tool} is not installed; the Authenticode tests need it");
            return false;
        }
    }
    true
}

/// A throwaway CA named `ca_name` in `dir` (`ca.pem`, `ca.key`), and a
/// leaf it issued for `purpose` (`codeSigning` or `timeStamping`) named
/// `leaf` (`LEAF.pem`, `LEAF.key`, `LEAF-chain.pem` = leaf + CA).
pub struct Pki {
    pub dir: PathBuf,
    /// The leaves' key type, as `openssl req -newkey` takes it.
    pub key: &'static str,
}

impl Pki {
    pub fn new(dir: &Path, ca_name: &str) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                ca_name,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=keyCertSign,cRLSign",
            ],
        );
        Pki {
            dir: dir.to_path_buf(),
            key: "rsa:2048",
        }
    }

    pub fn leaf(&self, name: &str, subject: &str, purpose: &str, serial: &str) -> PathBuf {
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,{purpose}\n"
        );
        std::fs::write(self.dir.join(format!("{name}.ext")), ext).unwrap();
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            &self.dir,
            &[
                "req", "-newkey", self.key, "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                subject,
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                serial,
                "-days",
                "30",
                "-out",
                &pem,
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
        let chain = [
            std::fs::read(self.dir.join(&pem)).unwrap(),
            std::fs::read(self.dir.join("ca.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(self.dir.join(format!("{name}-chain.pem")), chain).unwrap();
        self.dir.join(pem)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn trust(&self) -> Trust {
        Trust::load(&[self.path("ca.pem")]).unwrap()
    }
}

/// A CA with a code-signing leaf `signer` (serial 0x1234).
pub fn code_signing(dir: &Path) -> Pki {
    let pki = Pki::new(&dir.join("pki"), "/CN=sepkg test CA");
    pki.leaf(
        "signer",
        "/CN=sepkg test signer/O=Example Corp",
        "codeSigning",
        "0x1234",
    );
    pki
}

/// `input` signed by osslsigncode with `signer-chain.pem`, SHA-256, with
/// `extra` arguments (a timestamp URL, say).
pub fn osslsign(pki: &Pki, input: &Path, out: &Path, extra: &[&str]) {
    run(Command::new("osslsigncode")
        .arg("sign")
        .arg("-certs")
        .arg(pki.path("signer-chain.pem"))
        .arg("-key")
        .arg(pki.path("signer.key"))
        .args(["-h", "sha256", "-n", "sepkg test"])
        .args(extra)
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(out));
}
