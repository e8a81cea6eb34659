//! A web root's lifecycle beyond `publish`: the lock every command that
//! changes a web root holds ([`Held`]), the hidden staging folder where it
//! writes, `unpublish` (retire packages) and `reindex` (rebuild the records
//! from what is present).
//!
//! # The lock and the staging folder
//! `WEBROOT/.sepkg.lock` ([`crate::lock`]) is held from before the index is
//! read until after the commit, so concurrent publishes, unpublishes and
//! reindexes of one web root run one after the other and each sees the
//! others' result. Files are staged in `WEBROOT/.sepkg-staging/`: hidden,
//! so a web server that denies dot-files (the README's nginx and IIS rules)
//! never serves a half-written one, and on the web root's filesystem, so
//! the commit's renames are atomic. Whoever holds the lock owns the staging
//! folder: anything found in it was left by a process that died (SIGKILL),
//! and is removed; the folder goes when the lock is released.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::atomic::Transaction;
use crate::error::{Error, Result};
use crate::lock::{self, Lock};
use crate::manifest::rfc3339_utc;
use crate::publish::{self, BaseUrl};
use crate::record::{self, INDEX_HTML, INDEX_JSON, INDEX_SCHEMA, Index, IndexEntry, SUMS};
use crate::records_sig::{self, SigningKey};

/// The hidden folder in a web root where files are staged.
pub const STAGING: &str = ".sepkg-staging";

/// The web root's lock, held, with its staging folder ready.
#[derive(Debug)]
pub struct Held {
    staging: PathBuf,
    stale: bool,
    _lock: Lock,
}

impl Held {
    /// Waits for the lock on `root` (see [`lock::acquire`]; `progress`
    /// hears of a wait) and empties the staging folder.
    pub fn lock(
        root: &Path,
        timeout: Option<Duration>,
        progress: &dyn crate::Progress,
    ) -> Result<Held> {
        let lock = lock::acquire(&root.join(lock::WEBROOT_LOCK), timeout, &|path, holder| {
            progress.waiting(path, holder)
        })?;
        let staging = root.join(STAGING);
        let mut stale = false;
        match std::fs::symlink_metadata(&staging) {
            Ok(m) if m.is_dir() => {
                stale = true;
                // A dead process's leftovers: no live one can own them.
                std::fs::remove_dir_all(&staging)
                    .map_err(|e| Error::io(&staging, "cannot clear the staging folder", e))?;
            }
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "{}: not a folder; sepkg stages files there: move it away",
                    staging.display()
                )));
            }
            Err(_) => {}
        }
        // Registered before it exists, so that an interruption from here
        // on removes it (and never a file of the user's: checked above).
        crate::interrupt::register(&staging);
        std::fs::create_dir(&staging)
            .map_err(|e| Error::io(&staging, "cannot create the staging folder", e))?;
        Ok(Held {
            staging,
            stale,
            _lock: lock,
        })
    }

    /// The staging folder.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// True when a dead process's staging folder was found (and removed).
    pub fn found_stale(&self) -> bool {
        self.stale
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Before the lock goes (fields drop after this): nobody else can
        // be using the folder.
        let _ = std::fs::remove_dir_all(&self.staging);
        crate::interrupt::forget(&self.staging);
    }
}

/// The base URL `index.json` remembers, if it parses.
fn remembered_url(old: Option<&Index>) -> Option<BaseUrl> {
    old.and_then(|i| i.base_url.as_deref())
        .and_then(|u| BaseUrl::parse(u).ok())
}

/// An index of `entries` (sorted by name), their URLs set from `base`.
fn build_index(entries: BTreeMap<String, IndexEntry>, base: Option<&BaseUrl>) -> Index {
    Index {
        schema: INDEX_SCHEMA.to_string(),
        tool: crate::manifest::tool(),
        base_url: base.map(|b| b.as_str().to_string()),
        packages: entries
            .into_values()
            .map(|mut e| {
                e.url = base.map(|b| b.join(&e.name));
                e
            })
            .collect(),
    }
}

fn require_dir(root: &Path, option: &str) -> Result<()> {
    if root.is_dir() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{option}{}: not an existing folder",
        root.display()
    )))
}

/// What `unpublish` did.
#[derive(Debug, Clone, Serialize)]
pub struct Unpublished {
    /// The web root.
    pub webroot: PathBuf,
    /// The packages retired.
    pub removed: Vec<String>,
    /// The files removed, in order.
    pub files_removed: Vec<String>,
    /// The records rewritten.
    pub written: Vec<String>,
    /// The web root's index afterwards.
    pub index: Index,
}

/// Retires `names` from `root`: each package with its sidecar and manifest
/// is removed and `SHA256SUMS`, `index.json` and `index.html` rewritten,
/// in one transaction under the lock. A name `index.json` does not list is
/// refused before anything changes.
pub fn unpublish(
    names: &[String],
    root: &Path,
    sign: Option<&SigningKey>,
    timeout: Option<Duration>,
    progress: &dyn crate::Progress,
) -> Result<Unpublished> {
    require_dir(root, "--from ")?;
    records_sig::refuse_unsigned(root, sign.is_some(), "unpublishing")?;
    let held = Held::lock(root, timeout, progress)?;
    let old = publish::read_index(root)?.ok_or_else(|| {
        Error::record(
            root.display(),
            format!("no {INDEX_JSON}: not a web root published by sepkg (nothing to unpublish)"),
        )
    })?;
    let mut entries: BTreeMap<String, IndexEntry> = old
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.clone()))
        .collect();
    let mut gone = Vec::new();
    for name in names {
        match entries.remove(name) {
            Some(e) => gone.push(e),
            None if gone.iter().any(|g| &g.name == name) => {}
            None => {
                let listed: Vec<&str> = old.packages.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "{name}: not published in {} (it lists: {}); nothing was changed",
                    root.display(),
                    if listed.is_empty() {
                        "nothing".to_string()
                    } else {
                        listed.join(", ")
                    }
                )));
            }
        }
    }
    let base = remembered_url(Some(&old));
    let index = build_index(entries, base.as_ref());
    let mut tx = Transaction::new();
    // The records first, so no index offers a file that is going.
    let records = publish::stage_index(root, held.staging(), &index, &[], &mut tx)?;
    records_sig::stage(root, held.staging(), sign, &records, &mut tx)?;
    for e in &gone {
        tx.remove(root.join(&e.name));
        tx.remove(root.join(&e.sha256_file));
        tx.remove(root.join(&e.manifest_file));
    }
    let committed = tx.commit()?;
    drop(held);
    Ok(Unpublished {
        webroot: root.to_path_buf(),
        removed: gone.into_iter().map(|e| e.name).collect(),
        files_removed: committed.removed,
        written: committed.written,
        index,
    })
}

/// A file `reindex` did not list, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    /// The file name.
    pub name: String,
    /// Why: the error that checking it gave.
    pub reason: String,
}

/// What `reindex` did.
#[derive(Debug, Clone, Serialize)]
pub struct Reindexed {
    /// The web root.
    pub webroot: PathBuf,
    /// The packages listed now.
    pub listed: Vec<String>,
    /// Packages (or records without their package) left out.
    pub left_out: Vec<LeftOut>,
    /// Packages the old index listed that are no longer there.
    pub dropped: Vec<String>,
    /// Hidden temporaries found (removed with `--clean`).
    pub temporaries: Vec<String>,
    /// True when the temporaries were removed.
    pub cleaned: bool,
    /// True when a killed run's `.sepkg-staging/` was found and removed
    /// (always: the lock shows nobody is using it).
    pub staging_removed: bool,
    /// Why the old `index.json` was not used, when it was unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_index_error: Option<String>,
    /// The records rewritten.
    pub written: Vec<String>,
    /// The web root's index afterwards.
    pub index: Index,
}

/// Rebuilds `SHA256SUMS`, `index.json` and `index.html` of `root` from the
/// packages present whose sidecar and manifest agree with them
/// ([`publish::check_artifact`]); the others are reported and left out.
/// With `clean`, removes hidden `.NAME.*.part` and `.NAME.*.bak` files left
/// by killed runs (safe: the lock says no sepkg is writing here).
pub fn reindex(
    root: &Path,
    clean: bool,
    sign: Option<&SigningKey>,
    timeout: Option<Duration>,
    progress: &dyn crate::Progress,
) -> Result<Reindexed> {
    require_dir(root, "")?;
    records_sig::refuse_unsigned(root, sign.is_some(), "reindexing")?;
    let held = Held::lock(root, timeout, progress)?;
    let (old, old_index_error) = match publish::read_index(root) {
        Ok(i) => (i, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let survey = Survey::of(root)?;
    let now = rfc3339_utc(time::OffsetDateTime::now_utc());
    let mut entries = BTreeMap::new();
    let mut left_out = Vec::new();
    for name in &survey.packages {
        match publish::check_artifact(&root.join(name), progress) {
            Ok(a) => {
                let published = old
                    .iter()
                    .flat_map(|i| i.packages.iter())
                    .find(|p| p.name == a.name && p.sha256 == a.digest.sha256)
                    .map_or_else(|| now.clone(), |p| p.published.clone());
                entries.insert(a.name.clone(), publish::index_entry(&a, published));
            }
            Err(e) => left_out.push(LeftOut {
                name: name.clone(),
                reason: e.to_string(),
            }),
        }
    }
    for name in &survey.orphans {
        left_out.push(LeftOut {
            name: name.clone(),
            reason:
                "a record whose package is not in the web root; remove it if the package is retired"
                    .into(),
        });
    }
    let dropped = old
        .iter()
        .flat_map(|i| i.packages.iter())
        .filter(|p| !survey.packages.contains(&p.name))
        .map(|p| p.name.clone())
        .collect();
    let base = remembered_url(old.as_ref());
    let index = build_index(entries, base.as_ref());
    let mut tx = Transaction::new();
    let records = publish::stage_index(root, held.staging(), &index, &[], &mut tx)?;
    records_sig::stage(root, held.staging(), sign, &records, &mut tx)?;
    if clean {
        for name in &survey.temporaries {
            tx.remove(root.join(name));
        }
    }
    let committed = tx.commit()?;
    let staging_removed = held.found_stale();
    drop(held);
    Ok(Reindexed {
        webroot: root.to_path_buf(),
        listed: index.packages.iter().map(|p| p.name.clone()).collect(),
        left_out,
        dropped,
        temporaries: survey.temporaries,
        cleaned: clean,
        staging_removed,
        old_index_error,
        written: committed.written,
        index,
    })
}

/// What is in a web root, by name, sorted.
struct Survey {
    /// Files that may be packages: not hidden, not records.
    packages: Vec<String>,
    /// Sidecars and manifests whose package is not there.
    orphans: Vec<String>,
    /// Hidden `.NAME.*.part` and `.NAME.*.bak` files.
    temporaries: Vec<String>,
}

impl Survey {
    fn of(root: &Path) -> Result<Survey> {
        let mut files = Vec::new();
        for e in std::fs::read_dir(root).map_err(|e| Error::io(root, "cannot list", e))? {
            let e = e.map_err(|e| Error::io(root, "cannot list", e))?;
            if e.file_type().is_ok_and(|t| t.is_file()) {
                files.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        files.sort();
        let mut survey = Survey {
            packages: Vec::new(),
            orphans: Vec::new(),
            temporaries: Vec::new(),
        };
        let present = |n: &str| files.iter().any(|f| f == n);
        for name in &files {
            if name.starts_with('.') {
                if name.ends_with(".part") || name.ends_with(".bak") {
                    survey.temporaries.push(name.clone());
                }
                continue;
            }
            if [SUMS, INDEX_JSON, INDEX_HTML].contains(&name.as_str())
                || records_sig::signature_files().any(|sig| &sig == name)
            {
                continue;
            }
            let owner = name
                .strip_suffix(record::SIDECAR_SUFFIX)
                .or_else(|| name.strip_suffix(record::MANIFEST_SUFFIX));
            match owner {
                Some(owner) if !present(owner) => survey.orphans.push(name.clone()),
                Some(_) => {}
                None => survey.packages.push(name.clone()),
            }
        }
        Ok(survey)
    }
}
