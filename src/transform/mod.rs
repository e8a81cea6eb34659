//! `sepkg transform`: make a package keep its clients managed.
//!
//! The command layer builds one [`Job`] per input; [`run`] carries it out
//! in stages, each taking one value and returning the next:
//!
//! 1. [`ManagedSylink::load`] (once, for every job): read and validate the
//!    `--sylink` file; refuse one that is not managed.
//! 2. [`Package::open`]: detect the container, list entries (handles only);
//!    [`OutputSpec::resolve`]: what to write (format, and an .exe's stub).
//! 3. [`plan()`](fn@plan) ([`plan`](mod@plan) module): find the package roots; edit each
//!    SetAid.ini in memory (`KeepPreviousSetting=0` and any `--setaid`
//!    edits); decide each root's sylink.xml. Returns a [`Plan`]: the output
//!    [`crate::package::Layout`] and the changes and warnings.
//! 4. the `output` module: write the layout to a temporary file (or
//!    folder) beside the output, with both digests, and build the
//!    [`Manifest`]; then put the output, its `.sha256` and its
//!    `.manifest.json` in place. Until then nothing exists under the
//!    output's name; on any error the temporary files are removed.

mod output;
pub mod plan;

use std::path::{Path, PathBuf};

pub use plan::{Plan, plan};

use crate::digest::{self, Digest};
use crate::error::{Error, Location, Result};
use crate::manifest::{Manifest, Warning};
use crate::package::{Kind, OutputSpec, Package};
use crate::setaid::Edit;
use crate::sylink;

/// The managed sylink.xml to inject: its bytes, exactly as given.
#[derive(Debug, Clone)]
pub struct ManagedSylink {
    /// The file name (no folder), for the manifest.
    pub name: String,
    /// The bytes, injected as they are.
    pub bytes: Vec<u8>,
    /// Their digest.
    pub digest: Digest,
    /// What the file says.
    pub info: sylink::Info,
}

impl ManagedSylink {
    /// Reads `path` and refuses it unless it is a managed sylink.xml.
    pub fn load(path: &Path) -> Result<Self> {
        let at = Location::file(path);
        // `--sylink <(command)` and `/dev/stdin` are FIFOs: read, through the limit.
        let bytes = crate::limits::read_whole(path, sylink::MAX_SIZE)?;
        let info = sylink::inspect(&bytes).map_err(|reason| Error::Xml {
            at: at.clone(),
            reason,
        })?;
        let missing = info.missing();
        if !missing.is_empty() {
            return Err(Error::Unmanaged { at, missing });
        }
        Ok(ManagedSylink {
            name: file_name(path),
            digest: digest::of_bytes(&bytes),
            bytes,
            info,
        })
    }
}

/// What a transform produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The output package.
    pub output: PathBuf,
    /// Its `.sha256` sidecar.
    pub sidecar: PathBuf,
    /// Its `.manifest.json`.
    pub manifest_path: PathBuf,
    /// The manifest written.
    pub manifest: Manifest,
}

/// Where a job's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// This path (`-o`).
    Named(PathBuf),
    /// `NAME-managed.EXT` in this folder (`--out-dir`, or `.`).
    InDir(PathBuf),
}

/// One transform to run, as the command line asked for it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The exported package.
    pub input: PathBuf,
    /// Where the output goes.
    pub destination: Destination,
    /// The output kind (`--to`); default: the input's, a folder becoming a zip.
    pub to: Option<Kind>,
    /// The stub of an .exe output (`--stub`).
    pub stub: Option<PathBuf>,
    /// Further SetAid.ini edits (`--setaid`).
    pub edits: Vec<Edit>,
    /// Who signs an .exe output (`--sign`, `--sign-cert`).
    pub sign: Option<std::sync::Arc<crate::authenticode::Signer>>,
    /// `--keep-times`: entries written afresh (a folder's or a cabinet's
    /// files in a zip, any file in a cabinet) take their input entry's
    /// modification time instead of 1980-01-01.
    pub keep_times: bool,
    /// `--no-clobber`: refuse to replace an existing output (or its
    /// `.sha256` or `.manifest.json`).
    pub no_clobber: bool,
}

impl Job {
    /// The output path: the named one, or the default name in the folder
    /// (which depends on the input's kind, detected from its bytes).
    pub fn output(&self) -> Result<PathBuf> {
        match &self.destination {
            Destination::Named(path) => Ok(path.clone()),
            Destination::InDir(dir) => {
                let kind = match self.to {
                    Some(k) => k,
                    None => match crate::package::detect(&self.input)? {
                        Kind::Dir => Kind::Zip,
                        k => k,
                    },
                };
                let output = default_output(&self.input, kind, dir);
                let same = |a: &Path, b: &Path| matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b);
                if same(&output, &self.input) {
                    return Err(Error::Usage(format!(
                        "{}: the name already ends in -managed, so the default output name is the input's own; give the output another name with -o (or --out-dir another folder)",
                        self.input.display()
                    )));
                }
                Ok(output)
            }
        }
    }
}

/// The output name used when none is given: `NAME-managed.EXT` in `dir`,
/// or `NAME.EXT` when NAME already ends in `-managed` (a package made by
/// sepkg, transformed again, is not `X-managed-managed.zip`).
pub fn default_output(input: &Path, kind: Kind, dir: &Path) -> PathBuf {
    let mut stem = match input.file_stem() {
        Some(s) if input.is_file() => s.to_string_lossy().into_owned(),
        _ => file_name(input),
    };
    if let Some(base) = stem.strip_suffix("-managed") {
        stem = base.to_string();
    }
    let name = match kind.extension() {
        "" => format!("{stem}-managed"),
        ext => format!("{stem}-managed.{ext}"),
    };
    dir.join(name)
}

/// Refuses an output that would overwrite or sit inside the input.
pub fn check_output(input: &Path, output: &Path) -> Result<()> {
    let name = output.file_name().unwrap_or_default().to_string_lossy();
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(Error::Usage(format!(
            "{:?}: the output name holds the control character {c:?}: the `.sha256` line beside it could not be read back by sha256sum -c; choose a name without one with -o",
            output.display().to_string()
        )));
    }
    let input_abs = std::fs::canonicalize(input).map_err(|e| Error::io(input, "cannot open", e))?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent_abs = std::fs::canonicalize(&parent)
        .map_err(|e| Error::io(&parent, "cannot open output folder", e))?;
    if !parent_abs.is_dir() {
        return Err(Error::io(
            &parent,
            "cannot open output folder",
            std::io::Error::from(std::io::ErrorKind::NotADirectory),
        ));
    }
    // A name that exists is resolved by the file system: where names are
    // case-insensitive (Windows, macOS) `-o sep.zip` is the input `SEP.zip`,
    // and renaming over it would replace the input. A symlink is not
    // followed: the rename replaces the link, not what it points to.
    let resolve = |p: PathBuf| match std::fs::symlink_metadata(&p) {
        Ok(m) if !m.file_type().is_symlink() => std::fs::canonicalize(&p).unwrap_or(p),
        _ => p,
    };
    let out_abs = resolve(parent_abs.join(output.file_name().unwrap_or_default()));
    let siblings = [
        resolve(crate::record::sidecar_path(&out_abs)),
        resolve(crate::record::manifest_path(&out_abs)),
    ];
    if out_abs == input_abs || siblings.contains(&input_abs) {
        return Err(Error::OutputIsInput {
            path: output.to_path_buf(),
        });
    }
    if input_abs.is_dir() && out_abs.starts_with(&input_abs) {
        return Err(Error::Usage(format!(
            "{}: the output would be written inside the input folder {}; choose an output outside it",
            output.display(),
            input.display()
        )));
    }
    Ok(())
}

pub(crate) fn file_name(path: &Path) -> String {
    match path.file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "package".to_string()),
    }
}

/// What a transform would do, from `--dry-run`: everything but the
/// writing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DryRun {
    /// The output package it would write.
    pub output: PathBuf,
    /// Its `.sha256` sidecar.
    pub sha256_file: PathBuf,
    /// Its `.manifest.json`.
    pub manifest_file: PathBuf,
    /// The output's container.
    pub kind: Kind,
    /// The package roots.
    pub roots: Vec<crate::manifest::RootRecord>,
    /// Every change, with its old and new value.
    pub changes: Vec<crate::manifest::ChangeRecord>,
    /// What the manifest's warnings would say.
    pub warnings: Vec<Warning>,
    /// How many entries the output would hold.
    pub entries: usize,
}

/// A job ready to write: the package open, the output resolved and the
/// plan made, every warning included.
struct Prepared {
    pkg: Package,
    spec: OutputSpec,
    plan: Plan,
    output: PathBuf,
}

/// Transforms one input (see the module docs).
pub fn run(job: &Job, sylink: &ManagedSylink, progress: &dyn crate::Progress) -> Result<Outcome> {
    let Prepared {
        mut pkg,
        spec,
        plan,
        output,
    } = prepare(job, sylink)?;
    output::write(&mut pkg, plan, sylink, &spec, &output, progress)
}

/// Everything [`run`] would do short of writing: the plan, with old and
/// new values, warnings and output names. Reads only the small files.
pub fn dry_run(job: &Job, sylink: &ManagedSylink) -> Result<DryRun> {
    let p = prepare(job, sylink)?;
    Ok(DryRun {
        sha256_file: crate::record::sidecar_path(&p.output),
        manifest_file: crate::record::manifest_path(&p.output),
        output: p.output,
        kind: p.spec.kind(),
        roots: p.plan.roots,
        changes: p.plan.changes,
        warnings: p.plan.warnings,
        entries: p.plan.layout.items.len(),
    })
}

fn prepare(job: &Job, sylink: &ManagedSylink) -> Result<Prepared> {
    let output = job.output()?;
    check_output(&job.input, &output)?;
    if job.no_clobber {
        check_no_clobber(&output)?;
    }
    let mut pkg = Package::open(&job.input)?;
    let mut spec = OutputSpec::resolve(job.to, job.stub.as_deref(), &pkg)?;
    if job.sign.is_some() && spec.kind() != Kind::Exe {
        return Err(Error::Usage(format!(
            "--sign signs an .exe output, and this one is a {}: add --to exe (with --stub), or drop --sign",
            spec.kind().name()
        )));
    }
    spec.sign = job.sign.clone();
    spec.keep_times = job.keep_times;
    let mut plan = plan(&mut pkg, sylink, &job.edits)?;
    plan.warnings.extend(trailing_data(&pkg));
    if spec.kind() == Kind::Dir {
        let names: Vec<&str> = plan.layout.items.iter().map(|i| i.name.as_str()).collect();
        crate::package::dir::check_writable(&job.input, &names)?;
    }
    plan.warnings.extend(windows_names(&plan));
    plan.warnings.extend(lost_signatures(&pkg, &spec));
    plan.warnings.extend(stub_payload(&pkg, &spec));
    Ok(Prepared {
        pkg,
        spec,
        plan,
        output,
    })
}

/// `--no-clobber`: the output and its records must not exist yet. Checked
/// before anything is written; a file that appears under one of the names
/// while the output is written is replaced by the commit all the same (the
/// commit renames, and a rename that refuses to replace has no portable
/// form for a group of files).
fn check_no_clobber(output: &Path) -> Result<()> {
    let records = [
        output.to_path_buf(),
        crate::record::sidecar_path(output),
        crate::record::manifest_path(output),
    ];
    match records
        .iter()
        .find(|p| std::fs::symlink_metadata(p).is_ok())
    {
        None => Ok(()),
        Some(existing) => Err(Error::Usage(format!(
            "{}: already exists, and --no-clobber refuses to replace it; nothing was written: remove it or choose another output with -o",
            existing.display()
        ))),
    }
}

/// Entries of the output that Windows cannot create under their names
/// (the test audit's `windows-invalid-name` finding makes): clients would
/// fail to unpack them.
fn windows_names(plan: &Plan) -> Vec<Warning> {
    plan.layout
        .items
        .iter()
        .filter_map(|item| {
            let problem = crate::package::windows_name(&item.name)?;
            Some(Warning {
                code: "windows-invalid-name",
                entry: item.name.clone(),
                message: format!(
                    "{problem}: Windows clients cannot unpack it under this name, so the installer misses it or the extraction fails; rename it in the source and make the package again"
                ),
            })
        })
        .collect()
}

/// Bytes after the end of the input archive (junk appended to a zip): no
/// entry holds them and the output does not carry them.
fn trailing_data(pkg: &Package) -> Option<Warning> {
    let (offset, count) = pkg.trailing_data()?;
    Some(Warning {
        code: "zip-trailing-data",
        entry: file_name(pkg.path()),
        message: format!(
            "{count} bytes follow the end of the zip (from offset {offset}); they belong to no entry and are not copied to the output: check where they came from (an interrupted copy, a second archive appended, a signature) if the input should not have them"
        ),
    })
}

/// Signatures the output cannot keep: the stub's (a new payload makes it
/// invalid) and an input cabinet's.
fn lost_signatures(pkg: &Package, spec: &OutputSpec) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if let Some(stub) = &spec.stub
        && let Some(sig) = &stub.signature
        && spec.sign.is_none()
    {
        warnings.push(Warning {
            code: "exe-signature-invalidated",
            entry: file_name(&stub.source),
            message: format!(
                "the stub carried an Authenticode signature ({} bytes at offset {}); a new payload makes it invalid, so the output has none: sign the output again (signtool or osslsigncode) if clients or policies require a signed setup.exe",
                sig.size, sig.offset
            ),
        });
    }
    if let Some(sig) = pkg.container_info().cab.and_then(|c| c.signature) {
        warnings.push(Warning {
            code: "cab-signature-invalidated",
            entry: file_name(pkg.path()),
            message: format!(
                "the cabinet carried an Authenticode signature ({} bytes at offset {}); the rewritten package cannot keep it, so the output has none: sign the output again if it must be signed",
                sig.size, sig.offset
            ),
        });
    }
    warnings
}

/// What the stub's self-extractor will find: a stub with no payload of its
/// own says nothing about the format it reads, and a stub whose payload
/// differs from the input's format gets the payload converted to its own.
fn stub_payload(pkg: &Package, spec: &OutputSpec) -> Vec<Warning> {
    let Some(stub) = &spec.stub else {
        return Vec::new();
    };
    let entry = file_name(&stub.source);
    if !stub.has_payload {
        return vec![Warning {
            code: "exe-stub-without-payload",
            entry,
            message: format!(
                "the stub carries no archive, so sepkg cannot tell which format its self-extractor reads; the payload is written as a {}: a 7-Zip SFX module reads only 7z, so give --stub a single-file export (a 7-Zip self-extractor with its 7z payload) if that is what the clients run",
                stub.payload.name()
            ),
        }];
    }
    if stub.payload != pkg.format() && pkg.kind() != crate::package::Kind::Dir {
        return vec![Warning {
            code: "exe-payload-converted",
            entry,
            message: format!(
                "the stub's self-extractor reads a {} payload, so the {} input is written as a {} payload",
                stub.payload.name(),
                pkg.format().name(),
                stub.payload.name()
            ),
        }];
    }
    Vec::new()
}
