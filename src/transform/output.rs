//! The output of a transform: the package staged beside its final name, its
//! manifest and `.sha256` sidecar, and the commit that puts the three in
//! place together, under the lock on the output's name (`.OUT.lock` beside
//! it, see [`crate::lock`]), with the same [`Transaction`] as publish.

use std::path::{Path, PathBuf};

use crate::atomic::{self, Transaction};
use crate::error::{Error, Result};
use crate::lock;
use crate::manifest::{FileRecord, Manifest, SCHEMA, SylinkRecord};
use crate::package::{self, Kind, OutputSpec, Package};
use crate::record::{self, sidecar_line};

use super::{ManagedSylink, Outcome, Plan, file_name};

/// Writes the planned package at `output` as `spec`, with its sidecar and
/// manifest, committed as one [`Transaction`]: until the commit nothing
/// exists under the three names; on any error the temporary files are
/// removed, and a commit that fails half-way is undone.
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
        signature: written.signed,
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
        folders: written.units,
    };

    let prefix = atomic::hidden_prefix(&out_name);
    let sidecar_path = record::sidecar_path(output);
    let manifest_path = record::manifest_path(output);
    // Two transforms to one OUT: each renames its three files while holding
    // `.OUT.lock`, so the triple left is always one run's. Taken only now,
    // once the output is written: the long work runs in parallel, and an
    // interruption before this point leaves the folder as it was.
    let _lock = lock::acquire(
        &parent.join(lock::output_lock_name(&out_name)),
        None,
        &|path, holder| progress.waiting(path, holder),
    )?;
    let mut commit = Transaction::new();
    staged.put(&mut commit, output);
    commit.put(
        atomic::stage_bytes(&parent, &prefix, ".sha256.part", sidecar_text.as_bytes())?,
        sidecar_path.clone(),
    );
    commit.put(
        atomic::stage_bytes(&parent, &prefix, ".manifest.part", &manifest.to_json())?,
        manifest_path.clone(),
    );
    commit.commit()?;
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
        let prefix = atomic::hidden_prefix(out_name);
        if kind != Kind::Dir {
            return atomic::temp_file(parent, &prefix, ".part").map(Staged::File);
        }
        if output.exists() {
            return Err(Error::Usage(format!(
                "{}: already exists; remove it or choose another output with -o",
                output.display()
            )));
        }
        atomic::temp_dir(parent, &prefix).map(Staged::Dir)
    }

    fn path(&self) -> &Path {
        match self {
            Staged::File(f) => f.path(),
            Staged::Dir(d) => d.path(),
        }
    }

    /// Adds the staged output to `commit`, to become `output`.
    fn put(self, commit: &mut Transaction, output: &Path) {
        match self {
            Staged::File(file) => commit.put(file.into_temp_path(), output.to_path_buf()),
            Staged::Dir(dir) => commit.put_dir(dir, output.to_path_buf()),
        }
    }
}
