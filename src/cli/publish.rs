//! `sepkg publish`: arguments, config, report.

use std::path::PathBuf;

use super::Output;
use crate::error::{ExitCode, Result};
use crate::publish::{self, Action, BaseUrl, Options, Outcome};
use crate::records_sig::{SecretKeyFile, SigningKey};

pub(crate) const AFTER_HELP: &str = "\
What it does:
  - Checks each ARTIFACT against the .sha256 and .manifest.json beside it (as sepkg transform
    writes them) and refuses one that does not match.
  - Copies it into WEBROOT under a hidden temporary name, fsyncs, then renames it into place, so
    the web server never serves half a file; then its .sha256 and .manifest.json.
  - Rewrites SHA256SUMS (sha256sum -c format), index.json and index.html for the whole folder.
    If any rename fails, the renames already made are undone.
With --sign-key KEY, also writes SHA256SUMS.minisig and index.json.minisig (minisign) in the same
all-or-nothing step; a web root that has them is refused without --sign-key.
Publishing the same artifact again changes nothing. A different file under a published name is
refused unless --replace.

Concurrent publishes (the x86 and x64 jobs of one pipeline) are safe: each holds the lock
WEBROOT/.sepkg.lock from reading index.json to the last rename, so they run one after the other
and every package lands. A publish that waits says so on stderr, naming the holder;
--lock-timeout bounds the wait. Files are written in the hidden WEBROOT/.sepkg-staging/ first:
configure the web server to deny names starting with a dot (see the README). Ctrl-C, SIGTERM
and SIGHUP remove the temporary files and exit 130, 143 or 129 with the web root as it was.
--base-url of a package that is not a single-file .exe warns: the SEPM's URL option downloads
and runs one file. `sepkg unpublish` retires packages; `sepkg reindex` rebuilds the records.

Examples:
  sepkg publish SEP14-x64-managed.zip --to /var/www/sep --base-url https://web.example.com/sep/
  sepkg publish out/*.zip --to /var/www/sep --json

Exit codes: 0 published (or already published), 2 error (the web root is left as it was; also
when --lock-timeout passes, naming the lock file and its holder).";

/// `sepkg publish` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages written by `sepkg transform`, each with its .sha256 and .manifest.json beside it.
    #[arg(required = true, value_name = "ARTIFACT")]
    artifacts: Vec<PathBuf>,
    /// The web server's folder (it must exist).
    #[arg(long, value_name = "WEBROOT")]
    to: PathBuf,
    /// The URL of WEBROOT on the web server, to print the exact URL for the SEPM wizard.
    /// Remembered in index.json for later publishes.
    #[arg(long, value_name = "URL", value_parser = BaseUrl::parse)]
    base_url: Option<BaseUrl>,
    /// Replace a different file already published under the same name.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    sign: SignArgs,
    /// Wait at most this long for another sepkg holding WEBROOT/.sepkg.lock (default: as
    /// long as it takes), then exit 2.
    #[arg(long, value_name = "SECONDS")]
    lock_timeout: Option<u64>,
}

/// `--sign-key` and its password, for every command that writes a web
/// root's records (publish, unpublish, reindex): a signed web root keeps
/// its records signed whatever changes them.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Sign SHA256SUMS and index.json with this minisign secret key (from `sepkg keygen`),
    /// writing SHA256SUMS.minisig and index.json.minisig. A signed web root needs it every time.
    #[arg(long, value_name = "KEY")]
    sign_key: Option<PathBuf>,
    /// The environment variable holding --sign-key's password (else it is asked for on the
    /// terminal). Passwords never go on the command line.
    #[arg(long, value_name = "VAR", requires = "sign_key")]
    sign_password_env: Option<String>,
}

impl SignArgs {
    /// The secret key, unlocked (its password from the environment
    /// variable or the terminal); `None` without `--sign-key`.
    pub(crate) fn load(&self) -> Result<Option<SigningKey>> {
        let Some(path) = &self.sign_key else {
            return Ok(None);
        };
        let file = SecretKeyFile::read(path)?;
        let password = match file.encrypted() {
            true => Some(super::keygen::password(
                self.sign_password_env.as_deref(),
                "--sign-password-env",
                &format!("Password for {}: ", path.display()),
                false,
            )?),
            false => None,
        };
        Ok(Some(file.unlock(password.as_deref())?))
    }
}

pub(crate) fn run(args: Args, out: &Output) -> Result<ExitCode> {
    let sign = args.sign.load()?;
    let opts = Options {
        webroot: args.to,
        base_url: args.base_url,
        replace: args.replace,
        sign,
        lock_timeout: super::lock_timeout(args.lock_timeout)?,
    };
    let bar = out.progress();
    let outcome = publish::publish(&args.artifacts, &opts, &bar)?;
    if out.json {
        out.print_json(&serde_json::json!({
            "webroot": outcome.webroot.display().to_string(),
            "base_url": outcome.index.base_url,
            "changed": !outcome.written.is_empty(),
            "written": outcome.written,
            "signed_by": outcome.signed_by,
            "packages": outcome.packages,
            "index": outcome.index,
            "warnings": outcome.warnings,
        }))?;
    } else {
        out.print(&human(&outcome))?;
        for w in &outcome.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(ExitCode::Ok)
}

fn human(o: &Outcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for p in &o.packages {
        let e = &p.entry;
        match &p.action {
            Action::Added => {
                let _ = writeln!(
                    s,
                    "published {} -> {}",
                    p.source.display(),
                    p.path.display()
                );
            }
            Action::Replaced { previous_sha256 } => {
                let _ = writeln!(
                    s,
                    "replaced  {} -> {} (was sha256 {previous_sha256})",
                    p.source.display(),
                    p.path.display()
                );
            }
            Action::Unchanged => {
                let _ = writeln!(
                    s,
                    "unchanged {}: already published with the same bytes, nothing written",
                    p.path.display()
                );
            }
        }
        let version = e.product_version.as_deref().unwrap_or("unknown");
        let _ = writeln!(
            s,
            "  {} bytes, product version {version}, sha256 {}",
            e.size, e.sha256
        );
    }
    let _ = writeln!(
        s,
        "\nURL for the SEPM wizard (Clients > Upgrade Clients with Package > \"Download from the following URL (http or https)\"):"
    );
    for p in &o.packages {
        match &p.entry.url {
            Some(url) => {
                let _ = writeln!(s, "  {url}");
            }
            None => {
                let _ = writeln!(
                    s,
                    "  (the web root's URL)/{}  -- pass --base-url https://SERVER/PATH/ to print it exactly",
                    p.entry.name
                );
            }
        }
    }
    if let Some(id) = &o.signed_by {
        let _ = writeln!(
            s,
            "\nrecords signed with key {id}: check them with `sepkg verify URL --trusted-key KEY.pub`"
        );
    }
    let count = o.index.packages.len();
    let plural = if count == 1 { "" } else { "s" };
    if o.written.is_empty() {
        let _ = writeln!(
            s,
            "\n{}: {count} package{plural}; nothing to do, nothing written",
            o.webroot.display()
        );
    } else {
        let _ = writeln!(
            s,
            "\n{}: {count} package{plural}; wrote {}",
            o.webroot.display(),
            o.written.join(", ")
        );
    }
    s
}
