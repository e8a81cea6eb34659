//! `sepkg transform`: arguments, config, report.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ErrorJson, Output};
use crate::authenticode::Signer;
use crate::error::{Error, ExitCode, Result};
use crate::manifest::ChangedFile;
use crate::package::Kind;
use crate::setaid::Edit;
use crate::transform::{self, Destination, Job, ManagedSylink, Outcome};

pub(crate) const AFTER_HELP: &str = "\
What it does, for each package root (a folder holding a SetAid.ini):
  - SetAid.ini: KeepPreviousSetting=0 in [CUSTOM_SMC_CONFIG]; only the value bytes change.
    Encoding, BOM, line endings, comments and letter case are kept. A missing key is added.
  - sylink.xml: replaced, byte for byte, by the managed file given with --sylink.
  - Every other entry is copied unchanged (from a zip, without recompressing, with its
    headers and extra fields as they are; only the offset of its local header changes).
  - A single-file .exe keeps its stub (and any 7-Zip SFX config block) byte for byte and
    gets a new payload; an Authenticode signature on it is dropped and reported, or, with
    --sign PFX (or --sign-cert/--sign-key), replaced by yours (SHA-256, deterministic).
Beside the output: OUT.sha256 (for sha256sum -c) and OUT.manifest.json (every change and entry).
Times: a folder's or cabinet's files written into a zip, and every file of a cabinet output,
are dated 1980-01-01 00:00:00 (same content, same bytes); --keep-times keeps the input's times.
Nothing appears under OUT until it is complete; the input is never modified. OUT, OUT.sha256
and OUT.manifest.json are renamed into place together while holding the hidden lock .OUT.lock
beside OUT, so two runs to one OUT leave one run's three files, never a mix. Ctrl-C, SIGTERM and
SIGHUP remove every temporary file and exit 130, 143 or 129 (\"interrupted: nothing written\").

Batches (several INPUTs with --out-dir): every input is tried. An input that fails writes
nothing; the outputs of the inputs that succeed are kept. The last line counts them and names
each failure: \"2 of 3 packages written; failed: bad.zip (corrupt)\", and the exit code is 2.
--dry-run prints the plan (changes with old and new values, warnings, output names) and
writes nothing; --no-clobber refuses to replace an existing OUT.

Examples:
  sepkg transform SEP14-x64.zip --sylink sylink-managed.xml
  sepkg transform ./SEP14-export/ --sylink sylink.xml -o web/SEP14-x64.zip
  sepkg transform a.zip b.zip c.zip --sylink sylink.xml --out-dir out/ --json
  sepkg transform SEP14-x64.cab --sylink sylink.xml --to zip
  sepkg transform SEP14-x64.zip --sylink sylink.xml --dry-run --json
  sepkg transform ./SEP14-export/ --sylink sylink.xml --to exe --stub sfx-stub.exe -o web/setup.exe
  PFX_PASS=... sepkg transform SEP14.exe --sylink sylink.xml --sign signer.pfx --sign-password-env PFX_PASS \
      --timestamp-url http://timestamp.example.com/ -o web/setup.exe

Exit codes: 0 every output written; 2 error: with one INPUT nothing is written, in a batch
nothing is written for the inputs that failed (the others' outputs are kept, see above).";

/// `sepkg transform` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exported client packages: a folder, a .zip, a .cab or a single-file .exe.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// The managed sylink.xml to inject (exported from the SEPM in managed mode).
    #[arg(long, value_name = "MANAGED.xml")]
    sylink: PathBuf,
    /// The output file (a folder with --to dir). Default: ./NAME-managed.EXT.
    #[arg(short, long, value_name = "OUT", conflicts_with = "out_dir")]
    output: Option<PathBuf>,
    /// With several inputs: write each output into this folder, in parallel.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// The output container. Default: the input's (a folder becomes a zip).
    #[arg(long, value_name = "KIND")]
    to: Option<Kind>,
    /// With --to exe: the program to put before the payload (a single-file
    /// .exe export, whose own payload is replaced). Default: the input's own
    /// stub when the input is an .exe.
    #[arg(long, value_name = "FILE")]
    stub: Option<PathBuf>,
    /// A further SetAid.ini edit, made the same way. Repeatable.
    #[arg(long = "setaid", value_name = "SECTION.KEY=VALUE", value_parser = Edit::parse)]
    edits: Vec<Edit>,
    /// Sign the .exe output (SHA-256 Authenticode) with the certificate and
    /// key in this PKCS#12 file.
    #[arg(long, value_name = "PFX", conflicts_with_all = ["sign_cert", "sign_key"])]
    sign: Option<PathBuf>,
    /// The environment variable holding the password of --sign's PFX (or
    /// of an encrypted --sign-key). Passwords never go on the command line.
    #[arg(long, value_name = "VAR")]
    sign_password_env: Option<String>,
    /// Sign with this PEM certificate (then any chain certificates) ...
    #[arg(long, value_name = "PEM", requires = "sign_key")]
    sign_cert: Option<PathBuf>,
    /// ... and this PEM private key (RSA, or ECDSA P-256).
    #[arg(long, value_name = "PEM", requires = "sign_cert")]
    sign_key: Option<PathBuf>,
    /// Timestamp the signature at this RFC 3161 timestamp authority
    /// (http:// or https://).
    #[arg(long, value_name = "URL")]
    timestamp_url: Option<String>,
    /// Date the files written afresh (a folder's or a cabinet's files in a
    /// zip, every file of a cabinet output) with their input's modification
    /// time (a file's mtime, in UTC; a zip entry's or a cabinet file's
    /// date). Default: 1980-01-01 00:00:00, so that the output depends on
    /// the content alone.
    #[arg(long)]
    keep_times: bool,
    /// Print the plan (every change with its old and new value, the
    /// warnings, the output names) and write nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
    /// Refuse to replace an existing output (or its .sha256 or
    /// .manifest.json) instead of replacing it.
    #[arg(long)]
    no_clobber: bool,
}

/// How the output is to be signed, from the arguments (read in [`run`]).
#[derive(Debug, Clone)]
struct SignArgs {
    pfx: Option<PathBuf>,
    pem: Option<(PathBuf, PathBuf)>,
    password_env: Option<String>,
    timestamp_url: Option<String>,
}

impl SignArgs {
    fn from_args(args: &Args) -> Result<Option<SignArgs>> {
        let pem = args.sign_cert.clone().zip(args.sign_key.clone());
        if args.sign.is_none() && pem.is_none() {
            if args.sign_password_env.is_some() || args.timestamp_url.is_some() {
                return Err(Error::Usage(
                    "--sign-password-env and --timestamp-url go with --sign PFX or --sign-cert/--sign-key".into(),
                ));
            }
            return Ok(None);
        }
        if let Some(url) = &args.timestamp_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Error::Usage(format!(
                "--timestamp-url {url}: give an http:// or https:// URL"
            )));
        }
        Ok(Some(SignArgs {
            pfx: args.sign.clone(),
            pem,
            password_env: args.sign_password_env.clone(),
            timestamp_url: args.timestamp_url.clone(),
        }))
    }

    /// Reads the key (and the password from the environment).
    fn load(&self) -> Result<Signer> {
        let password = match &self.password_env {
            None => None,
            Some(var) => Some(std::env::var(var).map_err(|_| {
                Error::Usage(format!(
                    "--sign-password-env {var}: the environment variable {var} is not set (or not UTF-8)"
                ))
            })?),
        };
        let signer = match (&self.pfx, &self.pem) {
            (Some(pfx), _) => Signer::from_pfx(pfx, password.as_deref().unwrap_or(""))?,
            (None, Some((cert, key))) => Signer::from_pem(cert, key, password.as_deref())?,
            (None, None) => return Err(Error::Internal("signing without a key".into())),
        };
        Ok(signer.with_timestamp(
            self.timestamp_url.clone(),
            std::time::Duration::from_secs(60),
        ))
    }
}

/// Validated arguments: one job per input. Built without I/O: the default
/// output names, which depend on each input's kind, are resolved when the
/// jobs run.
struct Config {
    jobs: Vec<Job>,
    sylink: PathBuf,
    sign: Option<SignArgs>,
    dry_run: bool,
}

impl Config {
    fn from_args(args: Args) -> Result<Config> {
        let sign = SignArgs::from_args(&args)?;
        let destination = match (&args.output, &args.out_dir, args.inputs.len()) {
            (Some(out), None, 1) => Destination::Named(out.clone()),
            (Some(_), None, _) => {
                return Err(Error::Usage(
                    "-o names one output; with several inputs use --out-dir DIR".into(),
                ));
            }
            (None, Some(dir), _) => Destination::InDir(dir.clone()),
            (None, None, 1) => Destination::InDir(PathBuf::from(".")),
            (None, None, _) => {
                return Err(Error::Usage("several inputs need --out-dir DIR".into()));
            }
            (Some(_), Some(_), _) => {
                return Err(Error::Usage(
                    "-o and --out-dir cannot be used together".into(),
                ));
            }
        };
        let jobs = args
            .inputs
            .iter()
            .map(|input| Job {
                input: input.clone(),
                destination: destination.clone(),
                to: args.to,
                stub: args.stub.clone(),
                edits: args.edits.clone(),
                sign: None,
                keep_times: args.keep_times,
                no_clobber: args.no_clobber,
            })
            .collect();
        Ok(Config {
            jobs,
            sylink: args.sylink,
            sign,
            dry_run: args.dry_run,
        })
    }
}

/// Before a batch runs: `--out-dir` is an existing folder, and no two
/// inputs would be written to one output.
fn check_batch(config: &Config) -> Result<()> {
    let Some(Destination::InDir(dir)) = config.jobs.first().map(|j| &j.destination) else {
        return Ok(());
    };
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--out-dir {}: not an existing folder",
            dir.display()
        )));
    }
    let outputs = config
        .jobs
        .iter()
        .map(Job::output)
        .collect::<Result<Vec<_>>>()?;
    for (n, out) in outputs.iter().enumerate() {
        if outputs[..n].contains(out) {
            return Err(Error::Usage(format!(
                "two inputs would both be written to {}; rename one of them",
                out.display()
            )));
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JobJson<'a> {
    input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<&'a crate::manifest::Manifest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorJson>,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<ExitCode> {
    let mut config = Config::from_args(args)?;
    check_batch(&config)?;
    let sylink = ManagedSylink::load(&config.sylink)?;
    if let Some(sign) = &config.sign {
        let signer = std::sync::Arc::new(sign.load()?);
        for job in &mut config.jobs {
            job.sign = Some(signer.clone());
        }
    }
    if config.dry_run {
        return dry_run(&config, &sylink, out);
    }
    let results: Vec<(PathBuf, Result<Outcome>)> = if config.jobs.len() == 1 {
        let job = &config.jobs[0];
        let outcome = transform::run(job, &sylink, &out.progress())?;
        vec![(job.input.clone(), Ok(outcome))]
    } else {
        run_batch(&config, &sylink)
    };

    if out.json {
        let jobs: Vec<JobJson<'_>> = results
            .iter()
            .map(|(input, r)| match r {
                Ok(o) => JobJson {
                    input: input.display().to_string(),
                    output: Some(o.output.display().to_string()),
                    sha256_file: Some(o.sidecar.display().to_string()),
                    manifest_file: Some(o.manifest_path.display().to_string()),
                    manifest: Some(&o.manifest),
                    error: None,
                },
                Err(e) => JobJson {
                    input: input.display().to_string(),
                    output: None,
                    sha256_file: None,
                    manifest_file: None,
                    manifest: None,
                    error: Some(ErrorJson::from(e)),
                },
            })
            .collect();
        let failed: Vec<String> = results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(input, _)| input.display().to_string())
            .collect();
        out.print_json(&serde_json::json!({
            "transformed": jobs,
            "written": results.len() - failed.len(),
            "failed": failed,
        }))?;
    } else {
        let mut text = String::new();
        for (input, r) in &results {
            match r {
                Ok(o) => text.push_str(&human(input, o)),
                Err(e) => {
                    out.error(e);
                }
            }
        }
        if results.len() > 1 {
            text.push_str(&batch_summary(&results));
        }
        out.print(&text)?;
    }
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    Ok(if failed > 0 {
        ExitCode::Error
    } else {
        ExitCode::Ok
    })
}

/// `--dry-run`: each job's plan, printed; nothing written. The signing key
/// has been read, so that a dry run fails where the real one would.
fn dry_run(config: &Config, sylink: &ManagedSylink, out: &Output) -> Result<ExitCode> {
    let results: Vec<(&Job, Result<transform::DryRun>)> = match config.jobs.as_slice() {
        // One input: its error is the command's, as without --dry-run.
        [job] => vec![(job, Ok(transform::dry_run(job, sylink)?))],
        jobs => jobs
            .iter()
            .map(|job| (job, transform::dry_run(job, sylink)))
            .collect(),
    };
    if out.json {
        let plans: Vec<serde_json::Value> = results
            .iter()
            .map(|(job, r)| match r {
                Ok(plan) => serde_json::json!({
                    "input": job.input.display().to_string(),
                    "plan": plan,
                }),
                Err(e) => serde_json::json!({
                    "input": job.input.display().to_string(),
                    "error": ErrorJson::from(e),
                }),
            })
            .collect();
        out.print_json(&serde_json::json!({ "dry_run": plans }))?;
    } else {
        let mut text = String::new();
        for (job, r) in &results {
            match r {
                Ok(plan) => text.push_str(&human_plan(&job.input, plan)),
                Err(e) => out.error(e),
            }
        }
        out.print(&text)?;
    }
    Ok(if results.iter().any(|(_, r)| r.is_err()) {
        ExitCode::Error
    } else {
        ExitCode::Ok
    })
}

/// The human report of a dry run: what would be written, and every change.
fn human_plan(input: &Path, plan: &transform::DryRun) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} -> {} (dry run: nothing written)",
        input.display(),
        plan.output.display()
    );
    for c in &plan.changes {
        s.push_str(&change_line(c));
    }
    if plan.changes.is_empty() {
        let _ = writeln!(
            s,
            "  no change: the package already keeps its clients managed"
        );
    }
    for w in &plan.warnings {
        let _ = writeln!(s, "  warning: {}: {}", w.entry, w.message);
    }
    let _ = writeln!(
        s,
        "  would write: {} ({}, {} entries), {}, {}",
        plan.output.display(),
        plan.kind.name(),
        plan.entries,
        plan.sha256_file.display(),
        plan.manifest_file.display()
    );
    s
}

/// A SetAid.ini change, as the report and the dry run show it:
/// `    setAid.ini: [CUSTOM_SMC_CONFIG] KeepPreviousSetting "1" -> "0" at line 4 (set)`.
fn setaid_change_line(c: &crate::manifest::ChangeRecord) -> String {
    let old = c
        .old
        .as_deref()
        .map_or("(missing)".to_string(), |v| format!("{v:?}"));
    let dup = if c.duplicate { " (duplicate)" } else { "" };
    format!(
        "    {}: [{}] {} {old} -> {:?} at line {} ({}){dup}\n",
        c.entry,
        c.section.as_deref().unwrap_or(""),
        c.key.as_deref().unwrap_or(""),
        c.new,
        c.line.unwrap_or(0),
        c.action
    )
}

/// One change, as the human reports show it.
fn change_line(c: &crate::manifest::ChangeRecord) -> String {
    match c.file {
        ChangedFile::Setaid => setaid_change_line(c),
        ChangedFile::Sylink => {
            let old = c
                .old
                .as_deref()
                .map_or("(none)".to_string(), |o| format!("sha256 {o}"));
            format!(
                "    {}: {} with the managed sylink.xml ({old} -> sha256 {})\n",
                c.entry, c.action, c.new
            )
        }
    }
}

/// The last line of a batch: `2 of 3 packages written; failed: bad.zip (corrupt)`.
fn batch_summary(results: &[(PathBuf, Result<Outcome>)]) -> String {
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(input, r)| {
            r.as_ref().err().map(|e| {
                let name = input.file_name().map_or_else(
                    || input.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                format!("{name} ({})", e.code())
            })
        })
        .collect();
    let written = results.len() - failed.len();
    let mut line = format!(
        "{written} of {} package{} written",
        results.len(),
        if results.len() == 1 { "" } else { "s" }
    );
    if !failed.is_empty() {
        line.push_str(&format!("; failed: {}", failed.join(", ")));
    }
    line.push('\n');
    line
}

/// Runs every job on a pool of threads, one per core.
fn run_batch(config: &Config, sylink: &ManagedSylink) -> Vec<(PathBuf, Result<Outcome>)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(config.jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Outcome>>> = (0..config.jobs.len()).map(|_| None).collect();
    let slots: Vec<std::sync::Mutex<&mut Option<Result<Outcome>>>> =
        results.iter_mut().map(std::sync::Mutex::new).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = config.jobs.get(n) else {
                        break;
                    };
                    let r = transform::run(job, sylink, &Waits);
                    if let Ok(mut slot) = slots[n].lock() {
                        **slot = Some(r);
                    }
                }
            });
        }
    });
    drop(slots);
    config
        .jobs
        .iter()
        .zip(results)
        .map(|(job, r)| {
            (
                job.input.clone(),
                r.unwrap_or_else(|| Err(Error::Internal("a batch job did not run".into()))),
            )
        })
        .collect()
}

/// A batch's progress: no bars (the jobs run at once), but a wait for
/// another process's lock on an output is still said.
struct Waits;

impl crate::Progress for Waits {
    fn start(&self, _: u64, _: &str) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn waiting(&self, lock: &Path, holder: Option<&str>) {
        eprintln!("{}", super::waiting_line(lock, holder));
    }
}

/// The human report for one transformed package.
fn human(input: &Path, o: &Outcome) -> String {
    use std::fmt::Write;
    let m = &o.manifest;
    let mut s = String::new();
    let _ = writeln!(s, "{} -> {}", input.display(), o.output.display());
    for root in &m.roots {
        let dir = if root.dir.is_empty() {
            "(top)".to_string()
        } else {
            root.dir.clone()
        };
        let version = root
            .product_version
            .as_deref()
            .map(|v| format!(", product version {v}"))
            .unwrap_or_default();
        let _ = writeln!(s, "  package root {dir}{version}");
        let mine: Vec<_> = m
            .changes
            .iter()
            .filter(|c| c.entry == root.setaid || c.entry == root.sylink)
            .collect();
        if !mine.iter().any(|c| c.file == ChangedFile::Setaid) {
            let _ = writeln!(
                s,
                "    {}: KeepPreviousSetting already 0, unchanged",
                root.setaid
            );
        }
        for c in &mine {
            match c.file {
                ChangedFile::Setaid => s.push_str(&setaid_change_line(c)),
                ChangedFile::Sylink => {
                    let _ = writeln!(
                        s,
                        "    {}: {} with the managed sylink.xml",
                        c.entry, c.action
                    );
                }
            }
        }
        if !mine.iter().any(|c| c.file == ChangedFile::Sylink) {
            let _ = writeln!(
                s,
                "    {}: already the managed sylink.xml, unchanged",
                root.sylink
            );
        }
    }
    let info = &m.sylink.info;
    let servers: Vec<String> = info.servers.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        s,
        "  managed sylink.xml: DomainId {}, servers {}, group {}, mode {}",
        info.domain_id.as_deref().unwrap_or("?"),
        servers.join(" "),
        info.preferred_group.as_deref().unwrap_or("(none)"),
        info.communication_mode.as_deref().unwrap_or("(unset)")
    );
    for w in &m.warnings {
        let _ = writeln!(s, "  warning: {}: {}", w.entry, w.message);
    }
    s.push_str(&folder_lines(&m.folders));
    let _ = writeln!(
        s,
        "  output:   {} ({} bytes, {} entries)",
        o.output.display(),
        m.output.size,
        m.entries.len()
    );
    let _ = writeln!(
        s,
        "  sha256:   {}  ({})",
        m.output.sha256,
        o.sidecar.display()
    );
    if let Some(sig) = &m.signature {
        s.push_str(&signed_lines(sig));
    }
    let _ = writeln!(s, "  manifest: {}", o.manifest_path.display());
    s
}

/// The report's lines for the Authenticode signature of a `--sign` output.
fn signed_lines(sig: &crate::authenticode::Signed) -> String {
    let n = &sig.signer;
    let mut s = format!(
        "  signed:   {} (issuer {}, serial {}), {}\n",
        n.subject, n.issuer, n.serial, sig.digest_algorithm
    );
    if let (Some(time), Some(tsa)) = (&sig.timestamp, &sig.timestamp_authority) {
        s.push_str(&format!("  timestamp: {time} by {}\n", tsa.subject));
    }
    s
}

/// One 7z output folder: what was done, its coders, files and sizes.
/// The report's lines for a 7z output's folders: each one, or, when there
/// are more than [`FOLDERS_LISTED`] (a non-solid archive has one per file),
/// each folder that was not copied as it was and one line summing up the
/// copied ones; the manifest lists every folder.
fn folder_lines(folders: &[crate::package::UnitReport]) -> String {
    use crate::package::sevenz::Action;
    use std::fmt::Write as _;
    let mut s = String::new();
    let summed = folders.len() > FOLDERS_LISTED;
    let (mut copied, mut files, mut packed) = (0usize, 0usize, 0u64);
    for (n, f) in folders.iter().enumerate() {
        if summed && f.action == Action::Copied {
            copied += 1;
            files += f.files;
            packed += f.packed;
        } else {
            let _ = writeln!(s, "  7z folder {}: {}", n + 1, folder_line(f));
        }
    }
    if copied > 0 {
        let _ = writeln!(
            s,
            "  7z folders copied as they were: {copied} of {}, {files} files, {packed} packed bytes \
             (each folder is in the manifest)",
            folders.len()
        );
    }
    s
}

/// Up to this many 7z folders, the report has a line for each.
const FOLDERS_LISTED: usize = 4;

fn folder_line(f: &crate::package::UnitReport) -> String {
    let action = serde_json::to_value(f.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let coders = match &f.input_method {
        Some(before) => format!("{before} -> {}", f.method),
        None => f.method.clone(),
    };
    let kept = f
        .kept
        .map(|k| format!(", {k} of them kept as they were"))
        .unwrap_or_default();
    format!(
        "{action} ({coders}), {} files, {} bytes in {} packed{kept}",
        f.files, f.size, f.packed
    )
}
