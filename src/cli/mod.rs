//! The command layer: arguments, validation into a typed config, rendering
//! (human or JSON), progress bars, and the exit code. The only module that
//! prints.

mod audit;
mod generated;
mod keygen;
mod publish;
mod transform;
mod verify;
mod webroot;

use std::io::{IsTerminal, Write};

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::error::{Error, ExitCode};

const ABOUT: &str =
    "Make SEP client packages keep clients managed through AutoUpgrade, and audit them.

When AutoUpgrade runs on a client whose cached MSI is missing from C:\\Windows\\Installer, \
the upgrade falls back to the package's own sylink.xml, which in a SEPM export is unmanaged, \
and the client becomes self-managed (Broadcom KB 212696). sepkg rewrites a package so that \
SetAid.ini has KeepPreviousSetting=0 and the package carries a managed sylink.xml, then \
hashes it for delivery from a web server.";

const AFTER_HELP: &str = "\
Typical use:
  sepkg audit SEP14-x64.zip                          # exit 1: clients would become self-managed
  sepkg transform SEP14-x64.zip --sylink managed.xml # writes SEP14-x64-managed.zip and hashes
  sepkg audit SEP14-x64-managed.zip                  # exit 0
  sepkg publish SEP14-x64-managed.zip --to /var/www/sep --base-url https://updates.example.com/sep/
  sepkg verify https://updates.example.com/sep/SEP14-x64-managed.zip
  sepkg unpublish SEP14-x64-old.zip --from /var/www/sep   # retire a package and its records
  sepkg reindex /var/www/sep --clean                      # rebuild the records from what is there

Exit codes: 0 ok (clean, verified), 1 audit findings or verification mismatch, 2 error.
`sepkg help COMMAND` explains each command.";

/// The command line. `bin_name` is fixed so that usage lines say `sepkg`
/// on Windows too, where clap would take `sepkg.exe` from `argv[0]`.
#[derive(Debug, Parser)]
#[command(
    name = "sepkg",
    bin_name = "sepkg",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Print one JSON document on stdout instead of the human report.
    #[arg(long, global = true)]
    pub json: bool,
    /// Show no progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set KeepPreviousSetting=0, inject a managed sylink.xml, repack and hash.
    #[command(after_help = transform::AFTER_HELP)]
    Transform(transform::Args),
    /// Report what a package will do to the clients it upgrades, with findings.
    #[command(after_help = audit::AFTER_HELP)]
    Audit(audit::Args),
    /// Copy packages into a web server's folder atomically, with SHA256SUMS, index.json and index.html.
    #[command(after_help = publish::AFTER_HELP)]
    Publish(publish::Args),
    /// Check an artifact, a web root, a --to dir output or a URL against its SHA-256 records.
    #[command(after_help = verify::AFTER_HELP)]
    Verify(verify::Args),
    /// Make a minisign key pair to sign web roots (publish --sign-key, verify --trusted-key).
    #[command(after_help = keygen::AFTER_HELP)]
    Keygen(keygen::Args),
    /// Print a shell completion script, generated from these definitions.
    #[command(after_help = generated::COMPLETIONS_AFTER_HELP)]
    Completions(generated::CompletionsArgs),
    /// Print the manual page (roff), generated from these definitions.
    #[command(after_help = generated::MAN_AFTER_HELP)]
    Man(generated::ManArgs),
    /// Print this message or the help of the given command.
    Help(generated::HelpArgs),
    /// Retire published packages: remove them and their records from a web root.
    #[command(after_help = webroot::UNPUBLISH_HELP)]
    Unpublish(webroot::UnpublishArgs),
    /// Rebuild a web root's SHA256SUMS, index.json and index.html from the packages present.
    #[command(after_help = webroot::REINDEX_HELP)]
    Reindex(webroot::ReindexArgs),
}

/// Parses `args` (the program name first). A usage error under `--json`
/// becomes one JSON error document on stdout, like every other error there
/// (clap would print text on stderr); `--help` and `--version` print as
/// usual. `Err` carries the exit code when there is nothing to run.
pub fn parse<I, T>(args: I) -> Result<Cli, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let e = match Cli::try_parse_from(&args) {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    if !e.use_stderr() {
        let _ = e.print();
        return Err(ExitCode::Ok);
    }
    // The arguments did not parse, so `--json` is looked for by hand: as
    // an argument of its own, before any `--`.
    let json = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    if json {
        let out = Output { json, quiet: true };
        out.error(&Error::Usage(usage_message(&e)));
    } else {
        let _ = e.print();
    }
    Err(ExitCode::Error)
}

/// clap's message without its `error: ` label, usage lines and advice, on
/// one line: `the following required arguments were not provided: --sylink <MANAGED.xml>`.
fn usage_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let body = text.split("\n\nUsage:").next().unwrap_or(&text);
    let body = body
        .split("\n\nFor more information")
        .next()
        .unwrap_or(body);
    let body = body.trim().trim_start_matches("error:").trim();
    body.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs the command and returns its exit code. Prints everything it prints.
pub fn run(cli: Cli) -> ExitCode {
    let out = Output {
        json: cli.json,
        quiet: cli.quiet,
    };
    let result = match cli.command {
        Command::Transform(args) => transform::run(args, &out),
        Command::Audit(args) => audit::run(args, &out),
        Command::Publish(args) => publish::run(args, &out),
        Command::Verify(args) => verify::run(args, &out),
        Command::Keygen(args) => keygen::run(args, &out),
        Command::Completions(args) => generated::completions(&args, &out),
        Command::Man(args) => generated::man(&args, &out),
        Command::Help(args) => generated::help(&args, &out),
        Command::Unpublish(args) => webroot::unpublish(args, &out),
        Command::Reindex(args) => webroot::reindex(args, &out),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::Ok,
        Err(e) => {
            out.error(&e);
            e.exit_code()
        }
    }
}

/// How to print: human or JSON, with or without progress bars.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub json: bool,
    pub quiet: bool,
}

/// An error as JSON.
#[derive(Serialize)]
pub(crate) struct ErrorJson {
    code: &'static str,
    message: String,
    hint: Option<&'static str>,
}

impl ErrorJson {
    pub(crate) fn from(e: &Error) -> Self {
        ErrorJson {
            code: e.code(),
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

impl Output {
    /// Prints a JSON document on stdout.
    pub(crate) fn print_json<T: Serialize>(&self, value: &T) -> Result<(), Error> {
        // Our documents are plain structs, strings and numbers: a failure
        // here is a bug.
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::internal(format!("cannot write the JSON document: {e}")))?;
        text.push('\n');
        self.print(&text)
    }

    /// Prints text on stdout.
    pub(crate) fn print(&self, text: &str) -> Result<(), Error> {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|_| stdout.flush())
            .map_err(|e| Error::io("<stdout>", "cannot write", e))
    }

    /// Reports an error: JSON on stdout with `--json`, else a message and a
    /// hint on stderr.
    pub(crate) fn error(&self, e: &Error) {
        if self.json {
            let _ = self.print_json(&serde_json::json!({ "error": ErrorJson::from(e) }));
        } else {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {e}");
            if let Some(hint) = e.hint() {
                let _ = writeln!(stderr, "  hint: {hint}");
            }
        }
    }

    /// A progress bar on stderr, hidden with `--quiet` or when stderr is not
    /// a terminal.
    pub(crate) fn progress(&self) -> Bar {
        let visible = !self.quiet && std::io::stderr().is_terminal();
        Bar {
            bar: visible.then(indicatif::ProgressBar::no_length),
        }
    }
}

/// A [`crate::Progress`] drawn with indicatif.
pub(crate) struct Bar {
    bar: Option<indicatif::ProgressBar>,
}

impl crate::Progress for Bar {
    fn start(&self, total: u64, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(what.to_string());
            bar.set_length(total);
        }
    }
    fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
    fn waiting(&self, lock: &std::path::Path, holder: Option<&str>) {
        let line = waiting_line(lock, holder);
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

/// What a process waiting for a lock says, once, on stderr (also with
/// `--quiet` and `--json`: a wait that says nothing looks like a hang).
pub(crate) fn waiting_line(lock: &std::path::Path, holder: Option<&str>) -> String {
    format!(
        "waiting for the lock on {} held by {}",
        lock.display(),
        holder.map_or_else(
            || "another sepkg process".to_string(),
            |h| format!("another sepkg ({h})")
        )
    )
}

/// `--lock-timeout SECONDS`, checked.
pub(crate) fn lock_timeout(seconds: Option<u64>) -> Result<Option<std::time::Duration>, Error> {
    match seconds {
        Some(0) => Err(Error::Usage(
            "--lock-timeout must be at least 1 second (leave it out to wait as long as it takes)"
                .into(),
        )),
        s => Ok(s.map(std::time::Duration::from_secs)),
    }
}
