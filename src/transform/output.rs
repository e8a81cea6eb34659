//! The output of a transform: the package staged beside its final name, its
//! manifest and `.sha256` sidecar, and the commit that puts the three in
//! place together.

use std::path::{Path, PathBuf};

use crate::atomic;
use crate::error::{Error, Result};
use crate::manifest::{FileRecord, Manifest, SCHEMA, SylinkRecord, sidecar_line};
use crate::package::{self, Kind, OutputSpec, Package};

use super::{ManagedSylink, Outcome, Plan, file_name, with_suffix};

/// Writes the planned package at `output` as `spec`, with its sidecar and
/// manifest. Until the commit nothing exists under the three names; on any
/// error the temporary files are removed.
pub(crate) fn write(
    pkg: &mut Package,
    plan: Plan,
    sylink: &ManagedSylink,
    spec: &OutputSpec,
    output: &Path,
    progress: &dyn crate::Progress,
) -> Result<Outcome> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let out_name = file_name(output);
    let kind = spec.kind();
    let staged = Staged::new(kind, output, &parent, &out_name)?;
    let written = package::write(pkg, &plan.layout, spec, staged.path(), &out_name, progress)?;
    progress.finish();

    let sidecar_text = match kind {
        Kind::Dir => package::listing(
            &format!("{out_name}/"),
            written
                .entries
                .iter()
                .map(|e| (e.sha256.as_str(), e.name.as_str())),
        ),
        _ => sidecar_line(&written.output.sha256, &out_name),
    };
    let manifest = Manifest {
        schema: SCHEMA,
        tool: crate::manifest::tool(),
        built: crate::manifest::built_from_env()?,
        input: FileRecord {
            name: file_name(pkg.path()),
            kind: pkg.kind(),
            size: written.input.size,
            sha256: written.input.sha256,
        },
        output: FileRecord {
            name: out_name.clone(),
            kind,
            size: written.output.size,
            sha256: written.output.sha256,
        },
        product_version: plan.roots.iter().find_map(|r| r.product_version.clone()),
        sylink: SylinkRecord {
            name: sylink.name.clone(),
            digest: sylink.digest.clone(),
            info: sylink.info.clone(),
        },
        roots: plan.roots,
        changes: plan.changes,
        warnings: plan.warnings,
        entries: written.entries,
    };

    let temp = |suffix: &str| temp_file(&parent, &out_name, suffix);
    let mut sidecar = temp(".sha256.part")?;
    write_all(&mut sidecar, sidecar_text.as_bytes())?;
    let mut manifest_file = temp(".manifest.part")?;
    write_all(&mut manifest_file, &manifest.to_json())?;

    let sidecar_path = with_suffix(output, ".sha256");
    let manifest_path = with_suffix(output, ".manifest.json");
    staged.persist(output)?;
    atomic::persist(sidecar.into_temp_path(), &sidecar_path)
        .map_err(|e| Error::io(&sidecar_path, "cannot rename into place", e))?;
    atomic::persist(manifest_file.into_temp_path(), &manifest_path)
        .map_err(|e| Error::io(&manifest_path, "cannot rename into place", e))?;
    Ok(Outcome {
        output: output.to_path_buf(),
        sidecar: sidecar_path,
        manifest_path,
        manifest,
    })
}

/// The output being written: a temporary file, or for a folder output a
/// temporary folder, beside its final name.
enum Staged {
    File(tempfile::NamedTempFile),
    Dir(tempfile::TempDir),
}

impl Staged {
    fn new(kind: Kind, output: &Path, parent: &Path, out_name: &str) -> Result<Staged> {
        if kind != Kind::Dir {
            return temp_file(parent, out_name, ".part").map(Staged::File);
        }
        if output.exists() {
            return Err(Error::Usage(format!(
                "{}: already exists; remove it or choose another output with -o",
                output.display()
            )));
        }
        tempfile::Builder::new()
            .prefix(&format!(".{out_name}."))
            .tempdir_in(parent)
            .map(Staged::Dir)
            .map_err(|e| Error::io(parent, "cannot create a temporary folder in", e))
    }

    fn path(&self) -> &Path {
        match self {
            Staged::File(f) => f.path(),
            Staged::Dir(d) => d.path(),
        }
    }

    fn persist(self, output: &Path) -> Result<()> {
        match self {
            Staged::File(file) => atomic::persist(file.into_temp_path(), output)
                .map_err(|e| Error::io(output, "cannot rename into place", e)),
            // Onto a free name (checked before writing): no platform's
            // rename replaces a folder that holds files.
            Staged::Dir(dir) => {
                let path = dir.keep();
                std::fs::rename(&path, output).map_err(|e| {
                    let _ = std::fs::remove_dir_all(&path);
                    Error::io(output, "cannot rename into place", e)
                })
            }
        }
    }
}

/// A temporary file `.NAME.XXXXXX<suffix>` in `parent`, readable as the
/// output will be (see [`atomic`]).
fn temp_file(parent: &Path, out_name: &str, suffix: &str) -> Result<tempfile::NamedTempFile> {
    atomic::temp_file(parent, &format!(".{out_name}."), suffix)
        .map_err(|e| Error::io(parent, "cannot create a temporary file in", e))
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
