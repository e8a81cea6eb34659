//! `sepkg verify`: arguments, config, report.

use std::path::PathBuf;
use std::time::Duration;

use super::Output;
use crate::error::{Error, ExitCode, Result};
use crate::records_sig::{SignatureStatus, TrustedKey};
use crate::verify::{self, Field, HttpOptions, Report, TargetKind};

pub(crate) const AFTER_HELP: &str = "\
TARGET is one of:
  an artifact   checked against the .sha256 and .manifest.json beside it (and --expect FILE)
  a web root    every file against SHA256SUMS and index.json; files present but not listed,
                and listed files missing, are mismatches
  a --to dir    output folder: every file against DIR.manifest.json (changed, missing and extra
                files are mismatches), and DIR.sha256's listing against the manifest
  a URL         http:// or https://, downloaded as a stream (redirects followed and shown) and
                compared with --expect FILE (a .sha256, a .manifest.json, an index.json, or the
                artifact itself) or else with the index.json beside it on the server

With --trusted-key KEY.pub (a web root or a URL), the records themselves must be signed by that
key (SHA256SUMS.minisig and index.json.minisig, written by `publish --sign-key`): otherwise anyone
who can write to the server can replace a package and rewrite its records to match. A missing or
failing signature is a mismatch, and for a URL the package is then not downloaded.

Examples:
  sepkg verify SEP14-x64-managed.zip
  sepkg verify /var/www/sep
  sepkg verify SEP14-x64-managed      # a folder written by transform --to dir
  sepkg verify https://web.example.com/sep/SEP14-x64-managed.zip
  sepkg verify https://web.example.com/sep/SEP14-x64-managed.zip --trusted-key sep-webroot.pub
  sepkg verify http://10.0.0.5/sep/SEP14-x64-managed.zip --expect SEP14-x64-managed.zip.sha256
  sepkg verify https://intranet.example/sep/SEP14-x64-managed.zip --ca-cert corp-root-ca.pem

Exit codes: 0 verified, 1 mismatch (what differs is printed), 2 error (unreachable server,
timeout, HTTP error status, unreadable file).";

/// `sepkg verify` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An artifact, a web root folder, or an http:// or https:// URL.
    #[arg(value_name = "TARGET")]
    target: String,
    /// The local record to compare with: a .sha256, a .manifest.json, an index.json, or the artifact.
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    /// Seconds allowed to connect, to wait for an answer, and for each read of a download.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// For https: trust the certificate authorities in this PEM file instead of the public
    /// web PKI roots (for a web server whose certificate comes from an internal CA).
    #[arg(long, value_name = "CA.pem")]
    ca_cert: Option<PathBuf>,
    /// Trust the web root's records only if signed by this minisign public key (PATH.pub from
    /// `sepkg keygen`, or the key itself, RW...): checks SHA256SUMS.minisig and index.json.minisig.
    #[arg(long, value_name = "KEY.pub")]
    trusted_key: Option<String>,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<ExitCode> {
    if args.timeout == 0 {
        return Err(Error::Usage("--timeout must be at least 1 second".into()));
    }
    let http = HttpOptions {
        timeout: Duration::from_secs(args.timeout),
        ca_cert: args.ca_cert,
    };
    let trusted = args
        .trusted_key
        .as_deref()
        .map(TrustedKey::load)
        .transpose()?;
    let bar = out.progress();
    let report = verify::run(
        &args.target,
        args.expect.as_deref(),
        trusted.as_ref(),
        &http,
        &bar,
    )?;
    if out.json {
        out.print_json(&report)?;
    } else {
        out.print(&human(&report))?;
    }
    Ok(if report.verified {
        ExitCode::Ok
    } else {
        ExitCode::Findings
    })
}

fn field(f: Field) -> &'static str {
    match f {
        Field::Sha256 => "sha256",
        Field::Size => "size",
        Field::Name => "name",
        Field::Present => "presence",
        Field::Listed => "listing",
        Field::Signature => "signature",
    }
}

/// The good signatures, and those present but not checked.
fn signatures(r: &Report, s: &mut String) {
    use std::fmt::Write;
    for sig in &r.signatures {
        let _ = match sig.status {
            SignatureStatus::Verified => writeln!(
                s,
                "  signature: {} is good, key {}, trusted comment: {}",
                sig.signature,
                sig.key_id.as_deref().unwrap_or("?"),
                sig.trusted_comment
                    .as_deref()
                    .unwrap_or("")
                    .replace('\t', " ")
            ),
            SignatureStatus::NotChecked => writeln!(
                s,
                "  note: {} is present but not checked: pass --trusted-key KEY.pub to know the records are genuine",
                sig.signature
            ),
            SignatureStatus::Missing | SignatureStatus::Invalid => Ok(()),
        };
    }
}

fn human(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if r.verified {
        let _ = writeln!(s, "verified: {}", r.target);
    } else {
        let n = r.mismatches().count();
        let _ = writeln!(
            s,
            "MISMATCH: {} ({n} check{} failed)",
            r.target,
            if n == 1 { "" } else { "s" }
        );
    }
    if r.kind == TargetKind::Url {
        if let Some(redirects) = &r.redirects
            && !redirects.is_empty()
        {
            let _ = writeln!(
                s,
                "  redirected: {} -> {}",
                r.target,
                redirects.join(" -> ")
            );
        }
        if let Some(url) = &r.final_url {
            let _ = writeln!(s, "  final URL: {url}");
        }
    }
    if let Some(d) = &r.digest {
        let _ = writeln!(s, "  got: {} bytes, sha256 {}", d.size, d.sha256);
    }
    for c in r.mismatches() {
        let _ = match c.field {
            Field::Present => writeln!(s, "  {}: listed in {} but missing", c.subject, c.record),
            Field::Listed if c.record.contains(' ') => writeln!(
                s,
                "  {}: present but not listed in {} (a leftover or stray file the web server also serves)",
                c.subject, c.record
            ),
            Field::Listed => writeln!(s, "  {}: not listed in {}", c.subject, c.record),
            Field::Signature => writeln!(
                s,
                "  {}: signature of {} fails: {}",
                c.record, c.subject, c.got
            ),
            f => writeln!(
                s,
                "  {}: {} differs from {}: expected {}, got {}",
                c.subject,
                field(f),
                c.record,
                c.expected,
                c.got
            ),
        };
    }
    signatures(r, &mut s);
    if r.kind == TargetKind::Url && r.digest.is_none() {
        let _ = writeln!(
            s,
            "  not downloaded: the server's records are not signed by the trusted key, so there is nothing trustworthy to compare the package with"
        );
    }
    let mut records: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| c.ok)
        .map(|c| c.record.as_str())
        .collect();
    records.sort_unstable();
    records.dedup();
    if !records.is_empty() {
        let ok = r.checks.iter().filter(|c| c.ok).count();
        let _ = writeln!(
            s,
            "  {ok} check{} passed against {}",
            if ok == 1 { "" } else { "s" },
            records.join(", ")
        );
    }
    s
}
