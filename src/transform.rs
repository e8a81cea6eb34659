//! `sepkg transform`: make a package keep its clients managed.
//!
//! The stages, each taking one value and returning the next:
//!
//! 1. [`ManagedSylink::load`]: read and validate the `--sylink` file; refuse
//!    one that is not managed.
//! 2. [`Package::open`]: detect the container, list entries (handles only).
//! 3. [`plan`]: find the package roots; edit each SetAid.ini in memory
//!    (`KeepPreviousSetting=0` and any `--setaid` edits); decide each
//!    root's sylink.xml. Returns a [`Plan`]: the output [`Layout`] and the
//!    changes and warnings.
//! 4. [`write()`]: write the layout to a temporary file (or folder) beside the
//!    output, hash it, and build the [`Manifest`]; then rename the output,
//!    its `.sha256` and its `.manifest.json` into place. Until the rename
//!    nothing exists under the output's name; on any error the temporary
//!    files are removed.

use std::path::{Path, PathBuf};

use crate::digest::{self, Digest};
use crate::error::{Error, Location, Result};
use crate::manifest::{
    ChangeRecord, ChangedFile, FileRecord, Manifest, RootRecord, SCHEMA, SylinkRecord, Warning,
    sidecar_line,
};
use crate::package::{self, Content, Item, Kind, Layout, Package};
use crate::setaid::{self, Edit, IniFile};
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
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot read", e))?;
        if meta.len() > sylink::MAX_SIZE {
            return Err(Error::TooLarge {
                at,
                size: meta.len(),
                limit: sylink::MAX_SIZE,
            });
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
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

/// What [`plan`] decided: the output's entries and why they differ.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The output's entries.
    pub layout: Layout,
    /// Every package root.
    pub roots: Vec<RootRecord>,
    /// Every change, in root order.
    pub changes: Vec<ChangeRecord>,
    /// Things the user should check.
    pub warnings: Vec<Warning>,
}

/// Plans the output of `pkg`: edits each root's SetAid.ini and decides its
/// sylink.xml. Reads only the small files; nothing is written.
pub fn plan(pkg: &mut Package, sylink: &ManagedSylink, edits: &[Edit]) -> Result<Plan> {
    let roots = pkg.roots();
    if roots.is_empty() {
        return Err(Error::NoPackageRoot {
            path: pkg.path().to_path_buf(),
        });
    }
    let mut replace: Vec<Option<Vec<u8>>> = vec![None; pkg.entries().len()];
    let mut added = Vec::new();
    let mut records = Vec::new();
    let mut changes = Vec::new();
    let mut warnings = Vec::new();

    for root in &roots {
        let setaid_name = pkg.entries()[root.setaid].name.clone();
        let bytes = pkg.read_small(root.setaid, setaid::MAX_SIZE)?;
        let mut ini = IniFile::parse(&bytes).map_err(|e| Error::Ini {
            at: pkg.location(root.setaid),
            reason: e.0,
        })?;

        // The key standing in other sections is reported, not changed.
        for o in ini.occurrences(setaid::KEEP_PREVIOUS) {
            if !o.section.eq_ignore_ascii_case(setaid::SMC_SECTION) {
                let section = if o.section.is_empty() {
                    "(before any section)".to_string()
                } else {
                    format!("[{}]", o.section)
                };
                warnings.push(Warning {
                    code: "keep-previous-other-section",
                    entry: setaid_name.clone(),
                    message: format!(
                        "{} also stands in {section} at line {} with value {:?}; it was left unchanged because which section the installer reads is not documented. To set it too, add --setaid {}.{}=0",
                        o.key, o.line, o.value, o.section, o.key
                    ),
                });
            }
        }
        let mut all_edits = vec![Edit::keep_previous_off()];
        all_edits.extend(edits.iter().cloned());
        for edit in &all_edits {
            let occurrences = ini.lookup(&edit.section, &edit.key);
            if occurrences.len() > 1 {
                warnings.push(Warning {
                    code: "setaid-duplicate-key",
                    entry: setaid_name.clone(),
                    message: format!(
                        "{} appears {} times in [{}] (lines {}); every occurrence is set to {:?}",
                        edit.key,
                        occurrences.len(),
                        edit.section,
                        occurrences
                            .iter()
                            .map(|o| o.line.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        edit.value
                    ),
                });
            }
            let made = ini.apply(edit).map_err(|e| Error::Ini {
                at: pkg.location(root.setaid),
                reason: e.0,
            })?;
            changes.extend(made.into_iter().map(|c| {
                ChangeRecord {
                    entry: setaid_name.clone(),
                    file: ChangedFile::Setaid,
                    action: match c.action {
                        setaid::Action::Set => "set",
                        setaid::Action::AddedKey => "added-key",
                        setaid::Action::AddedSection => "added-section",
                    }
                    .to_string(),
                    section: Some(c.section),
                    key: Some(c.key),
                    line: Some(c.line),
                    old: c.old,
                    new: c.new,
                    duplicate: c.duplicate,
                }
            }));
        }
        let edited = ini.to_bytes();
        if edited != bytes {
            replace[root.setaid] = Some(edited);
        }

        let sylink_name = match root.sylink {
            Some(index) => {
                let name = pkg.entries()[index].name.clone();
                let old = pkg.read_small(index, sylink::MAX_SIZE)?;
                if old != sylink.bytes {
                    changes.push(ChangeRecord {
                        entry: name.clone(),
                        file: ChangedFile::Sylink,
                        action: "replaced".to_string(),
                        section: None,
                        key: None,
                        line: None,
                        old: Some(digest::of_bytes(&old).sha256),
                        new: sylink.digest.sha256.clone(),
                        duplicate: false,
                    });
                    replace[index] = Some(sylink.bytes.clone());
                }
                name
            }
            None => {
                let name = format!("{}sylink.xml", root.dir);
                // A folder of that name would make the output unpackable.
                let lower = name.to_lowercase();
                if let Some(e) = pkg.entries().iter().find(|e| {
                    let other = e.name.to_lowercase();
                    other.trim_end_matches('/') == lower || other.starts_with(&format!("{lower}/"))
                }) {
                    return Err(Error::UnsafeEntry {
                        at: Location::entry(pkg.path(), &e.name),
                        reason: format!(
                            "a folder {name:?} stands where the managed sylink.xml must be added"
                        ),
                    });
                }
                changes.push(ChangeRecord {
                    entry: name.clone(),
                    file: ChangedFile::Sylink,
                    action: "added".to_string(),
                    section: None,
                    key: None,
                    line: None,
                    old: None,
                    new: sylink.digest.sha256.clone(),
                    duplicate: false,
                });
                added.push(Item {
                    name: name.clone(),
                    content: Content::Add(sylink.bytes.clone()),
                });
                name
            }
        };

        // setup.ini is only read for the product version shown in the
        // manifest, and is copied through unchanged: a garbled or oversized
        // one must not stop the transform, so it is a warning. A damaged
        // archive entry (CRC, truncation) still fails, since it cannot be
        // copied either.
        let product_version = match root.setup_ini {
            Some(index) => match product_version(pkg, index) {
                Ok(version) => version,
                Err(Error::Ini { reason, .. }) => {
                    warnings.push(setup_ini_warning(pkg, index, &reason));
                    None
                }
                Err(Error::TooLarge { size, limit, .. }) => {
                    let reason = format!("{size} bytes is larger than the {limit}-byte limit");
                    warnings.push(setup_ini_warning(pkg, index, &reason));
                    None
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        records.push(RootRecord {
            dir: root.dir.clone(),
            setaid: setaid_name,
            setaid_encoding: ini.encoding(),
            setaid_line_ending: ini.line_ending(),
            sylink: sylink_name,
            product_version,
        });
    }

    let mut items: Vec<Item> = pkg
        .entries()
        .iter()
        .enumerate()
        .map(|(i, e)| Item {
            name: e.name.clone(),
            content: match replace[i].take() {
                Some(bytes) => Content::Replace(i, bytes),
                None => Content::Copy(i),
            },
        })
        .collect();
    items.extend(added);
    Ok(Plan {
        layout: Layout { items },
        roots: records,
        changes,
        warnings,
    })
}

/// The `ProductVersion` in setup.ini entry `index`.
fn product_version(pkg: &mut Package, index: usize) -> Result<Option<String>> {
    let bytes = pkg.read_small(index, setaid::MAX_SIZE)?;
    let setup = IniFile::parse(&bytes).map_err(|e| Error::Ini {
        at: pkg.location(index),
        reason: e.0,
    })?;
    Ok(setup
        .occurrences("ProductVersion")
        .into_iter()
        .next()
        .map(|o| o.value))
}

fn setup_ini_warning(pkg: &Package, index: usize, reason: &str) -> Warning {
    Warning {
        code: "setup-ini-unreadable",
        entry: pkg.entries()[index].name.clone(),
        message: format!(
            "cannot be read ({reason}); it only gives the product version, so the version is left out and the file is copied unchanged"
        ),
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

/// The output name used when none is given: `NAME-managed.EXT` in `dir`.
pub fn default_output(input: &Path, kind: Kind, dir: &Path) -> PathBuf {
    let stem = match input.file_stem() {
        Some(s) if input.is_file() => s.to_string_lossy().into_owned(),
        _ => file_name(input),
    };
    let name = match kind.extension() {
        "" => format!("{stem}-managed"),
        ext => format!("{stem}-managed.{ext}"),
    };
    dir.join(name)
}

/// Refuses an output that would overwrite or sit inside the input.
pub fn check_output(input: &Path, output: &Path) -> Result<()> {
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
    let out_abs = parent_abs.join(output.file_name().unwrap_or_default());
    let siblings = [
        with_suffix(&out_abs, ".sha256"),
        with_suffix(&out_abs, ".manifest.json"),
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

/// `path` with `suffix` appended to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn file_name(path: &Path) -> String {
    match path.file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "package".to_string()),
    }
}

/// Writes the planned package at `output` as `kind`, with its sidecar and
/// manifest, atomically. `input_digest` is the input file's digest (a
/// folder input's is taken over its entries' listing). An .exe output is
/// written after `stub`.
pub fn write(
    pkg: &mut Package,
    plan: Plan,
    sylink: &ManagedSylink,
    kind: Kind,
    stub: Option<&package::exe::Stub>,
    output: &Path,
    progress: &dyn crate::Progress,
) -> Result<Outcome> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let out_name = file_name(output);
    let sidecar_path = with_suffix(output, ".sha256");
    let manifest_path = with_suffix(output, ".manifest.json");
    let temp = |suffix: &str| {
        let prefix = format!(".{out_name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(suffix);
        readable(&mut builder);
        builder
            .tempfile_in(&parent)
            .map_err(|e| Error::io(&parent, "cannot create a temporary file in", e))
    };

    // The input's digest is a separate read of the input: it runs on another
    // core while the output is written.
    let input_path = pkg.path().to_path_buf();
    let input_kind = pkg.kind();
    let input_entries = pkg.entries().to_vec();
    let (input_from_thread, written) = std::thread::scope(|scope| {
        // A folder's record is built afterwards from the digests the writer
        // takes of the files it copies (the same bytes), and a zip written
        // to a zip is hashed by the writer's own second read: no extra read.
        let from_writer = input_kind == Kind::Dir || (input_kind == Kind::Zip && kind == Kind::Zip);
        let input_job = (!from_writer)
            .then(|| scope.spawn(|| input_record(&input_path, input_kind, &input_entries)));
        let written = write_staged(
            pkg, &plan, kind, stub, output, &parent, &out_name, progress, &temp,
        );
        let input = input_job.map(|job| {
            job.join().unwrap_or_else(|_| {
                Err(Error::io(
                    &input_path,
                    "cannot read",
                    std::io::Error::other("the thread hashing the input stopped unexpectedly"),
                ))
            })
        });
        (input, written)
    });
    let input_from_thread = input_from_thread.transpose()?;
    let (entries, output_record, sidecar_text, staged, input_digest) = written?;
    let input_record = match (input_from_thread, input_digest) {
        (Some(record), _) => record,
        (None, _) if input_kind == Kind::Dir => {
            dir_input_record(&input_path, &input_entries, &entries)?
        }
        (None, Some(d)) => FileRecord {
            name: file_name(&input_path),
            kind: input_kind,
            size: d.size,
            sha256: d.sha256,
        },
        (None, None) => input_record(&input_path, input_kind, &input_entries)?,
    };
    progress.finish();

    let manifest = Manifest {
        schema: SCHEMA,
        tool: crate::manifest::tool(),
        built: crate::manifest::built_from_env()?,
        input: input_record,
        output: output_record,
        product_version: plan.roots.iter().find_map(|r| r.product_version.clone()),
        sylink: SylinkRecord {
            name: sylink.name.clone(),
            digest: sylink.digest.clone(),
            info: sylink.info.clone(),
        },
        roots: plan.roots,
        changes: plan.changes,
        warnings: plan.warnings,
        entries,
    };

    let mut sidecar = temp(".sha256.part")?;
    write_all(&mut sidecar, sidecar_text.as_bytes())?;
    let mut manifest_file = temp(".manifest.part")?;
    write_all(&mut manifest_file, &manifest.to_json())?;

    match staged {
        Staged::File(file) => {
            file.persist(output)
                .map_err(|e| Error::io(output, "cannot rename into place", e.error))?;
        }
        Staged::Dir(dir) => {
            let path = dir.keep();
            std::fs::rename(&path, output).map_err(|e| {
                let _ = std::fs::remove_dir_all(&path);
                Error::io(output, "cannot rename into place", e)
            })?;
        }
    }
    sidecar
        .persist(&sidecar_path)
        .map_err(|e| Error::io(&sidecar_path, "cannot rename into place", e.error))?;
    manifest_file
        .persist(&manifest_path)
        .map_err(|e| Error::io(&manifest_path, "cannot rename into place", e.error))?;
    Ok(Outcome {
        output: output.to_path_buf(),
        sidecar: sidecar_path,
        manifest_path,
        manifest,
    })
}

/// The written entries, the output's record, its sidecar text, the staged
/// file or folder, and the input's digest when the writer took it.
type StagedOutput = (
    Vec<package::WrittenEntry>,
    FileRecord,
    String,
    Staged,
    Option<Digest>,
);

/// Writes the output to a temporary file (or folder) beside `output`, and
/// returns its entries, its record, its sidecar text and the staged file.
#[allow(clippy::too_many_arguments)]
fn write_staged(
    pkg: &mut Package,
    plan: &Plan,
    kind: Kind,
    stub: Option<&package::exe::Stub>,
    output: &Path,
    parent: &Path,
    out_name: &str,
    progress: &dyn crate::Progress,
    temp: &dyn Fn(&str) -> Result<tempfile::NamedTempFile>,
) -> Result<StagedOutput> {
    let total: u64 = plan
        .layout
        .items
        .iter()
        .map(|i| match &i.content {
            Content::Copy(n) => pkg.entries()[*n].size,
            Content::Replace(_, b) | Content::Add(b) => b.len() as u64,
        })
        .sum();
    progress.start(total, out_name);

    let staged = match kind {
        Kind::Dir => {
            if output.exists() {
                return Err(Error::Usage(format!(
                    "{}: already exists; remove it or choose another output with -o",
                    output.display()
                )));
            }
            let dir = tempfile::Builder::new()
                .prefix(&format!(".{out_name}."))
                .tempdir_in(parent)
                .map_err(|e| Error::io(parent, "cannot create a temporary folder in", e))?;
            let entries = package::write(pkg, &plan.layout, kind, dir.path(), None, progress)?;
            let listing: String = entries
                .iter()
                .map(|e| sidecar_line(&e.sha256, &format!("{out_name}/{}", e.name)))
                .collect();
            let record = FileRecord {
                name: out_name.to_string(),
                kind,
                size: entries.iter().map(|e| e.size).sum(),
                sha256: digest::of_bytes(listing.as_bytes()).sha256,
            };
            (entries, record, listing, Staged::Dir(dir), None)
        }
        _ => {
            let file = temp(".part")?;
            let written =
                package::write_with_digest(pkg, &plan.layout, kind, file.path(), stub, progress)?;
            let entries = written.entries;
            let d = match written.output {
                Some(d) => d,
                None => digest::of_file(file.path())?,
            };
            let record = FileRecord {
                name: out_name.to_string(),
                kind,
                size: d.size,
                sha256: d.sha256.clone(),
            };
            (
                entries,
                record,
                sidecar_line(&d.sha256, out_name),
                Staged::File(file),
                written.input,
            )
        }
    };
    Ok(staged)
}

/// Outputs are for a web server: readable by all (less the umask), where
/// tempfile's default is 0600.
fn readable(builder: &mut tempfile::Builder<'_, '_>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = builder;
}

enum Staged {
    File(tempfile::NamedTempFile),
    Dir(tempfile::TempDir),
}

fn write_all(file: &mut tempfile::NamedTempFile, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let path = file.path().to_path_buf();
    // Through the std::fs::File: NamedTempFile's own Write adds "at path"
    // to errors, and the message already names the file.
    file.as_file_mut()
        .write_all(bytes)
        .map_err(|e| Error::io(&path, "cannot write", e))?;
    file.as_file()
        .sync_all()
        .map_err(|e| Error::io(&path, "cannot write", e))
}

/// The input's record: a file's own digest; for a folder, the digest of a
/// `sha256sum`-style listing of its files (so it too names the exact bytes).
/// Reads through its own handles, so it can run beside the writer.
fn input_record(path: &Path, kind: Kind, entries: &[package::Entry]) -> Result<FileRecord> {
    let name = file_name(path);
    match kind {
        Kind::Dir => dir_input_record(path, entries, &[]),
        kind => {
            let d = digest::of_file(path)?;
            Ok(FileRecord {
                name,
                kind,
                size: d.size,
                sha256: d.sha256,
            })
        }
    }
}

/// A folder input's record (see [`input_record`]): the digests of the files
/// the writer copied (`written`), hashing the others (all, when `written` is
/// empty).
fn dir_input_record(
    path: &Path,
    entries: &[package::Entry],
    written: &[package::WrittenEntry],
) -> Result<FileRecord> {
    let copied: std::collections::HashMap<&str, &package::WrittenEntry> = written
        .iter()
        .filter(|w| w.source == "copied")
        .map(|w| (w.name.as_str(), w))
        .collect();
    let mut listing = String::new();
    let mut size = 0;
    for entry in entries {
        if entry.is_dir {
            continue;
        }
        let d = match (copied.get(entry.name.as_str()), &entry.handle) {
            (Some(w), _) => Digest {
                size: w.size,
                sha256: w.sha256.clone(),
            },
            (None, package::Handle::Path(p)) => digest::of_file(p)?,
            (None, _) => {
                return Err(Error::Corrupt {
                    at: Location::entry(path, &entry.name),
                    format: "folder",
                    reason: "entry handle does not match its package".into(),
                });
            }
        };
        size += d.size;
        listing.push_str(&sidecar_line(&d.sha256, &entry.name));
    }
    Ok(FileRecord {
        name: file_name(path),
        kind: Kind::Dir,
        size,
        sha256: digest::of_bytes(listing.as_bytes()).sha256,
    })
}

/// Transforms one input into `output` (see the module docs). An .exe
/// output is written after `stub` (`--stub`) or, without one, after the
/// input's own stub when the input is an .exe.
#[allow(clippy::too_many_arguments)]
pub fn run(
    input: &Path,
    sylink: &ManagedSylink,
    edits: &[Edit],
    to: Option<Kind>,
    stub: Option<&Path>,
    output: &Path,
    progress: &dyn crate::Progress,
) -> Result<Outcome> {
    check_output(input, output)?;
    let mut pkg = Package::open(input)?;
    let kind = to.unwrap_or(match pkg.kind() {
        Kind::Dir => Kind::Zip,
        k => k,
    });
    if stub.is_some() && kind != Kind::Exe {
        return Err(Error::Usage(format!(
            "--stub applies only to an .exe output, and this one is a {}: add --to exe or drop --stub",
            kind.name()
        )));
    }
    let stub = match kind {
        Kind::Exe => match package::exe::Stub::choose(stub, &pkg)? {
            Some(stub) => Some(stub),
            None => {
                return Err(Error::Usage(format!(
                    "{}: --to exe needs a stub for a {} input: give --stub FILE (a single-file .exe export, or the program to run the payload)",
                    input.display(),
                    pkg.kind().name()
                )));
            }
        },
        _ => None,
    };
    let mut plan = plan(&mut pkg, sylink, edits)?;
    if let Some(stub) = &stub
        && let Some(sig) = &stub.signature
    {
        plan.warnings.push(Warning {
            code: "exe-signature-invalidated",
            entry: file_name(&stub.source),
            message: format!(
                "the stub carried an Authenticode signature ({} bytes at offset {}); a new payload makes it invalid, so the output has none: sign the output again (signtool or osslsigncode) if clients or policies require a signed setup.exe",
                sig.size, sig.offset
            ),
        });
    }
    if let Some(sig) = pkg.container_info().cab.and_then(|c| c.signature) {
        plan.warnings.push(Warning {
            code: "cab-signature-invalidated",
            entry: file_name(input),
            message: format!(
                "the cabinet carried an Authenticode signature ({} bytes at offset {}); the rewritten package cannot keep it, so the output has none: sign the output again if it must be signed",
                sig.size, sig.offset
            ),
        });
    }
    write(
        &mut pkg,
        plan,
        sylink,
        kind,
        stub.as_ref(),
        output,
        progress,
    )
}
