//! `sepkg unpublish` and `sepkg reindex`: arguments, config, report.

use std::path::PathBuf;

use super::Output;
use crate::error::{Error, ExitCode, Result};
use crate::webroot::{self, Reindexed, Unpublished};

pub(crate) const UNPUBLISH_HELP: &str = "\
What it does:
  - Removes each NAME (a file name as index.json lists it), its NAME.sha256 and
    NAME.manifest.json, and rewrites SHA256SUMS, index.json and index.html without them, in one
    transaction: the records first, so the index never offers a file that is gone. If a step
    fails, the steps already made are undone.
  - Holds WEBROOT/.sepkg.lock throughout, like publish: concurrent publishes wait for it.
  - A signed web root (SHA256SUMS.minisig, index.json.minisig) needs --sign-key, as publish does,
    so its records stay signed; without it the web root is refused and left as it was.
A NAME the index does not list is refused, naming it, and nothing changes.

Examples:
  sepkg unpublish SEP14.3-x64-managed.exe --from /var/www/sep
  sepkg unpublish old-x86.zip old-x64.zip --from /var/www/sep --json

Exit codes: 0 unpublished, 2 error (unknown NAME, lock timeout, I/O: the web root is as it was).";

pub(crate) const REINDEX_HELP: &str = "\
What it does:
  - Looks at every file in WEBROOT: a package is listed again when its NAME.sha256 and
    NAME.manifest.json describe its exact bytes (what publish requires). A package that fails
    that check, and a sidecar or manifest whose package is gone, is reported and left out.
  - Rewrites SHA256SUMS, index.json and index.html from what passed, keeping each package's
    publication time and the remembered base URL when index.json can still be read; a signed
    web root needs --sign-key, as publish does, and gets its records signed again.
  - Removes the hidden staging folder WEBROOT/.sepkg-staging/ a killed (SIGKILL, power loss)
    publish leaves; with --clean, also the hidden .NAME.*.part and .NAME.*.bak files. It holds
    WEBROOT/.sepkg.lock, so no publish is running while it does.
After a reindex that left nothing out, `sepkg verify WEBROOT` passes (with --clean, also when
there were temporaries).

Examples:
  sepkg reindex /var/www/sep
  sepkg reindex /var/www/sep --clean --json

Exit codes: 0 every package present is listed, 1 some were left out (each named, with why: remove
or republish them), 2 error.";

/// `sepkg unpublish` arguments.
#[derive(Debug, clap::Args)]
pub struct UnpublishArgs {
    /// The published file names to retire (as index.json lists them, without a folder).
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// The web root they are published in.
    #[arg(long, value_name = "WEBROOT")]
    from: PathBuf,
    /// Wait at most this long for another sepkg holding WEBROOT/.sepkg.lock, then exit 2.
    #[arg(long, value_name = "SECONDS")]
    lock_timeout: Option<u64>,
    #[command(flatten)]
    sign: super::publish::SignArgs,
}

/// `sepkg reindex` arguments.
#[derive(Debug, clap::Args)]
pub struct ReindexArgs {
    /// The web root.
    #[arg(value_name = "WEBROOT")]
    webroot: PathBuf,
    /// Also remove hidden temporaries (.NAME.*.part, .NAME.*.bak) left by killed runs.
    #[arg(long)]
    clean: bool,
    /// Wait at most this long for another sepkg holding WEBROOT/.sepkg.lock, then exit 2.
    #[arg(long, value_name = "SECONDS")]
    lock_timeout: Option<u64>,
    #[command(flatten)]
    sign: super::publish::SignArgs,
}

pub(crate) fn unpublish(args: UnpublishArgs, out: &Output) -> Result<ExitCode> {
    for name in &args.names {
        crate::record::plain_name(name).map_err(|reason| {
            Error::Usage(format!(
                "{name}: {reason}; give the file name as index.json lists it, with --from WEBROOT"
            ))
        })?;
    }
    let timeout = super::lock_timeout(args.lock_timeout)?;
    let bar = out.progress();
    let sign = args.sign.load()?;
    let done = webroot::unpublish(&args.names, &args.from, sign.as_ref(), timeout, &bar)?;
    if out.json {
        out.print_json(&done)?;
    } else {
        out.print(&unpublished_human(&done))?;
    }
    Ok(ExitCode::Ok)
}

fn unpublished_human(u: &Unpublished) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for name in &u.removed {
        let _ = writeln!(s, "unpublished {name}");
    }
    let _ = writeln!(s, "  removed: {}", u.files_removed.join(", "));
    let count = u.index.packages.len();
    let _ = writeln!(
        s,
        "\n{}: {count} package{} left; wrote {}",
        u.webroot.display(),
        if count == 1 { "" } else { "s" },
        u.written.join(", ")
    );
    s
}

pub(crate) fn reindex(args: ReindexArgs, out: &Output) -> Result<ExitCode> {
    let timeout = super::lock_timeout(args.lock_timeout)?;
    let bar = out.progress();
    let sign = args.sign.load()?;
    let done = webroot::reindex(&args.webroot, args.clean, sign.as_ref(), timeout, &bar)?;
    if out.json {
        out.print_json(&done)?;
    } else {
        out.print(&reindexed_human(&done))?;
    }
    Ok(if done.left_out.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Findings
    })
}

fn reindexed_human(r: &Reindexed) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if let Some(e) = &r.old_index_error {
        let _ = writeln!(s, "old index.json not used: {e}");
    }
    for name in &r.listed {
        let _ = writeln!(s, "listed    {name}");
    }
    for name in &r.dropped {
        let _ = writeln!(
            s,
            "dropped   {name}: listed before, no longer in the web root"
        );
    }
    for l in &r.left_out {
        let _ = writeln!(s, "LEFT OUT  {}: {}", l.name, l.reason);
    }
    if r.staging_removed {
        let _ = writeln!(
            s,
            "removed   {}/: a killed run's staging folder (the lock showed no sepkg was using it)",
            crate::webroot::STAGING
        );
    }
    for t in &r.temporaries {
        if r.cleaned {
            let _ = writeln!(s, "removed   {t} (a killed run's temporary)");
        } else {
            let _ = writeln!(
                s,
                "temporary {t}: left by a killed run; `sepkg reindex --clean` removes it"
            );
        }
    }
    let count = r.listed.len();
    let written = if r.written.is_empty() {
        "nothing to write, the records were already right".to_string()
    } else {
        format!("wrote {}", r.written.join(", "))
    };
    let _ = writeln!(
        s,
        "\n{}: {count} package{} listed, {} left out; {written}",
        r.webroot.display(),
        if count == 1 { "" } else { "s" },
        r.left_out.len()
    );
    s
}
