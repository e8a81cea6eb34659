//! Writing outputs so that a reader sees each file whole or not at all, and
//! a group of files (a package and its records) renamed into place as one
//! unit, undone on failure.
//!
//! Two tools, used by `publish`, `unpublish`, `reindex`, `audit --html` and
//! `transform`:
//!
//! - **Temporary files beside the target** ([`temp_file`], [`temp_dir`],
//!   [`stage_bytes`], [`write_file`]): hidden names (`.NAME.XXXXXX.part` by
//!   convention, see [`hidden_prefix`]) in the target's own folder, so the
//!   final rename never crosses a filesystem. Files are created with mode
//!   0644 (less the umask) on Unix, where `tempfile` would make them 0600:
//!   outputs are for a web server, which runs as another user.
//! - **[`Transaction`]**: staged files and folders, and files to remove, with
//!   their targets; [`Transaction::commit`] renames them in the order given
//!   and, if one step fails, undoes the steps already made.
//!
//! # What is guaranteed, and what is not
//!
//! - **Each file is whole.** A staged file is complete and fsynced before it
//!   is renamed ([`stage_bytes`] syncs; a caller that writes a staged file
//!   itself must sync it). A rename within one folder is atomic on POSIX
//!   filesystems: a reader opening the target gets the old file or the new
//!   one, never a mix. On Windows `std::fs::rename` (MoveFileEx with
//!   replace) behaves so on NTFS, but Microsoft does not document it as
//!   atomic, and it fails while another process holds the target open
//!   without delete sharing.
//! - **An error the process sees undoes the commit.** When a step fails, the
//!   steps already made are undone in reverse order: a new target is
//!   removed, a replaced file comes back from a hard link taken just before
//!   it was replaced, a removed file is renamed back; staged files not yet
//!   renamed are deleted. Then the first error is returned. Undoing is best
//!   effort: a failure while undoing is not reported over the original one.
//!   On a filesystem without hard links a replaced file cannot be restored
//!   and the new one stays (removing it would leave nothing at all).
//! - **Not atomic across a crash.** Nothing here survives the process: a
//!   SIGKILL, a power loss or an abort between two renames leaves the
//!   renames made so far in place (each file whole), the remaining staged
//!   files under their hidden temporary names, and hidden `.NAME.XXXXXX.bak`
//!   files (hard links to replaced files, or removed files). So a package
//!   can be new while its `.sha256` is still the old one. Order the steps so
//!   that the state in between is the least harmful (publish renames the
//!   artifacts first, their records next, the index last) and let a later
//!   run clean up (`verify WEBROOT` reports hidden leftovers).
//! - **Not atomic for concurrent readers across files.** Between two renames
//!   a reader can see the new first file with the old second one.
//! - **No lock here.** Two transactions on the same targets would interleave
//!   their renames; callers serialise them with [`crate::lock`]: publish,
//!   unpublish and reindex hold the web root's lock, transform the lock on
//!   its output's name.
//! - **Durable once committed.** Each target's folder is fsynced after the
//!   renames (best effort: not every platform can open a folder to sync it);
//!   before that a power loss may lose renames.
//! - **Signals.** Every temporary and backup name is registered with
//!   [`crate::interrupt`] before the file is created, and a commit holds
//!   off an interruption until its renames are done: SIGINT, SIGTERM and
//!   SIGHUP remove every temporary and leave the targets as they were
//!   before the commit, or as it left them.
//! - **Staged files may live in another folder** of the same filesystem
//!   (a web root's hidden `.sepkg-staging/`): a rename between two folders
//!   of one filesystem is as atomic as one within a folder.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempDir, TempPath};

use crate::error::{Error, Result};

/// The hidden prefix for temporaries of a file named `name`: `.NAME.`, so a
/// leftover says what it was for and a web server that denies dot-files
/// never serves it.
pub fn hidden_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// A new temporary file in `dir`, named `{prefix}XXXXXX{suffix}`, mode 0644
/// on Unix (less the umask). Removed when dropped unless persisted.
///
/// Created through std, not tempfile's own `tempfile_in`: on Windows that
/// sets `FILE_ATTRIBUTE_TEMPORARY`, which would stay on the published file
/// (some backup tools skip such files); here the file gets the folder's
/// inherited ACL, which is where a web server's read access is granted
/// (IIS_IUSRS on the site's folder): Windows' equivalent of 0644.
pub fn temp_file(dir: &Path, prefix: &str, suffix: &str) -> Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .make_in(dir, |path| {
            crate::interrupt::register(path);
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o644);
            }
            options.open(path)
        })
        .map_err(|e| Error::io(dir, "cannot create a temporary file in", e))
}

/// Renames `temp` onto `target`, replacing a file there; on an error the
/// temporary file is removed.
///
/// `std::fs::rename`, not tempfile's `persist`: on Windows both replace an
/// existing file with `MoveFileExW` and `MOVEFILE_REPLACE_EXISTING`, but
/// where that is denied (a web server or a scanner holding the old file
/// open) std goes on with a POSIX-semantics rename (Windows 10 1607 and
/// later, NTFS), and std takes paths over 260 characters (it adds the
/// `\\?\` prefix) where tempfile hands the path to `MoveFileExW` as it is.
pub fn persist(mut temp: TempPath, target: &Path) -> std::io::Result<()> {
    std::fs::rename(&temp, target)?;
    temp.disable_cleanup(true);
    crate::interrupt::forget(&temp);
    Ok(())
}

/// A new temporary folder in `dir`, named `{prefix}XXXXXX`, with
/// `tempfile`'s mode (0700 on Unix). Removed with its contents when dropped
/// unless renamed into place by a [`Transaction`].
pub fn temp_dir(dir: &Path, prefix: &str) -> Result<TempDir> {
    let made = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(dir)
        .map_err(|e| Error::io(dir, "cannot create a temporary folder in", e))?;
    // Registered once made (tempfile names it inside): a signal in that
    // instant leaves one empty hidden folder.
    crate::interrupt::register(made.path());
    Ok(made)
}

/// Writes all of `bytes` to `file` and fsyncs it. Errors name the file once
/// (through the `std::fs::File`: `NamedTempFile`'s own `Write` adds its
/// path to the message again).
pub fn write_synced(file: &mut NamedTempFile, bytes: &[u8]) -> Result<()> {
    let path = file.path().to_path_buf();
    file.as_file_mut()
        .write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| Error::io(&path, "cannot write", e))
}

/// Writes `bytes` to a new temporary file in `dir` (see [`temp_file`]),
/// fsynced, ready for [`Transaction::put`].
pub fn stage_bytes(dir: &Path, prefix: &str, suffix: &str, bytes: &[u8]) -> Result<TempPath> {
    let mut temp = temp_file(dir, prefix, suffix)?;
    write_synced(&mut temp, bytes)?;
    Ok(temp.into_temp_path())
}

/// Writes `bytes` at `path` atomically: a temporary file beside it (named
/// `{prefix}XXXXXX{suffix}`, mode 0644), fsynced, then renamed over it.
/// One file, so no [`Transaction`] is needed.
pub fn write_file(path: &Path, prefix: &str, suffix: &str, bytes: &[u8]) -> Result<()> {
    let temp = stage_bytes(parent(path), prefix, suffix, bytes)?;
    persist(temp, path).map_err(|e| Error::io(path, "cannot rename into place", e))
}

/// The folder `path` is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes the renames in `dir` durable. Best effort: not every platform can
/// open a folder for syncing.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Staged files and folders and the names they take, and files to remove,
/// applied in order by [`Transaction::commit`]: all or nothing, as far as
/// the module docs say.
#[derive(Debug, Default)]
pub struct Transaction {
    steps: Vec<(Step, PathBuf)>,
}

/// One step of a transaction, with its target beside it.
#[derive(Debug)]
enum Step {
    /// Rename this staged file onto the target.
    File(TempPath),
    /// Rename this staged folder to the target, which must not exist.
    Dir(TempDir),
    /// Remove the target file.
    Remove,
}

/// What a commit did, by file name (no folder), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Targets written (renamed into place).
    pub written: Vec<String>,
    /// Targets removed (a missing one is not listed).
    pub removed: Vec<String>,
}

/// How to undo one step made.
#[derive(Debug)]
enum Undo {
    /// The target was new: remove the file.
    RemoveFile,
    /// The target was a new folder: remove it and its contents.
    RemoveDir,
    /// The target replaced a file, or was removed: rename this back to it.
    Restore(TempPath),
    /// Nothing can be undone: a file replaced on a filesystem without hard
    /// links, or a folder or link that stood in the way.
    Keep,
    /// The step did nothing (a removal of a missing file).
    Nothing,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Transaction::default()
    }

    /// True when there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Renames `staged` (a complete, synced file in `target`'s folder) onto
    /// `target` at commit, replacing any file there.
    pub fn put(&mut self, staged: TempPath, target: PathBuf) {
        self.steps.push((Step::File(staged), target));
    }

    /// Renames the folder `staged` (complete, in `target`'s folder) to
    /// `target` at commit. `target` must not exist then; if it does, the
    /// commit fails (or, where the platform replaces an empty folder,
    /// replaces it, which cannot be undone).
    pub fn put_dir(&mut self, staged: TempDir, target: PathBuf) {
        self.steps.push((Step::Dir(staged), target));
    }

    /// Writes `bytes` to a staged file beside `target` (named
    /// `.NAME.XXXXXX.part`) and puts it there at commit.
    pub fn put_bytes(&mut self, target: PathBuf, bytes: &[u8]) -> Result<()> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staged = stage_bytes(parent(&target), &hidden_prefix(&name), ".part", bytes)?;
        self.put(staged, target);
        Ok(())
    }

    /// Removes the file `target` at commit (kept under a hidden name until
    /// the commit succeeds, so a failure can bring it back). A missing
    /// target is no error.
    pub fn remove(&mut self, target: PathBuf) {
        self.steps.push((Step::Remove, target));
    }

    /// Applies every step in order. On a failure, undoes the steps already
    /// made (newest first), removes the staged files left, and returns the
    /// error. Each target's folder is synced at the end either way.
    pub fn commit(self) -> Result<Committed> {
        let guard = crate::interrupt::begin_commit()?;
        let committed = self.apply_all()?;
        guard.done();
        Ok(committed)
    }

    /// [`Transaction::commit`]'s renames, undone on a failure.
    fn apply_all(self) -> Result<Committed> {
        let mut done: Vec<(PathBuf, Undo)> = Vec::new();
        let mut committed = Committed::default();
        let mut folders = BTreeSet::new();
        let mut steps = self.steps.into_iter();
        let mut failure = None;
        for (step, target) in steps.by_ref() {
            folders.insert(parent(&target).to_path_buf());
            let removing = matches!(step, Step::Remove);
            match apply(step, &target) {
                Ok(undo) => {
                    let name = target
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    match (&undo, removing) {
                        (Undo::Nothing, _) => {}
                        (_, true) => committed.removed.push(name),
                        (_, false) => committed.written.push(name),
                    }
                    done.push((target, undo));
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // Staged files of steps not reached are removed as they drop.
        drop(steps);
        if let Some(e) = failure {
            for (target, undo) in done.into_iter().rev() {
                undo_step(&target, undo);
            }
            folders.iter().for_each(|d| sync_dir(d));
            return Err(e);
        }
        folders.iter().for_each(|d| sync_dir(d));
        // Backups of replaced and removed files go as `done` drops.
        Ok(committed)
    }
}

/// Makes one step, returning how to undo it.
fn apply(step: Step, target: &Path) -> Result<Undo> {
    match step {
        Step::File(temp) => {
            let undo = backup_link(target);
            persist(temp, target).map_err(|e| Error::io(target, "cannot rename into place", e))?;
            Ok(undo)
        }
        Step::Dir(dir) => {
            let undo = match std::fs::symlink_metadata(target) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Undo::RemoveDir,
                _ => Undo::Keep,
            };
            // On failure `dir` drops here and takes the staged folder with it.
            std::fs::rename(dir.path(), target)
                .map_err(|e| Error::io(target, "cannot rename into place", e))?;
            crate::interrupt::forget(&dir.keep());
            Ok(undo)
        }
        Step::Remove => remove_keeping(target),
    }
}

/// Before `target` is replaced: a hidden hard link to the file there, so
/// the rename can be undone.
fn backup_link(target: &Path) -> Undo {
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_file() => tempfile::Builder::new()
            .prefix(&hidden_prefix(&file_name(target)))
            .suffix(".bak")
            .make_in(parent(target), |p| {
                crate::interrupt::register(p);
                std::fs::hard_link(target, p)
            })
            .map_or(Undo::Keep, |f| Undo::Restore(f.into_temp_path())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Undo::RemoveFile,
        // A folder or link in the way: the rename fails (a folder), or
        // replaces the link, which cannot be put back.
        _ => Undo::Keep,
    }
}

/// Removes `target` by renaming it to a new hidden `.NAME.XXXXXX.bak`, which
/// is deleted once the commit succeeds.
fn remove_keeping(target: &Path) -> Result<Undo> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Undo::Nothing),
        Err(e) => return Err(Error::io(target, "cannot read", e)),
        Ok(m) if !m.is_file() => {
            return Err(Error::io(
                target,
                "cannot remove",
                std::io::Error::other("not a file"),
            ));
        }
        Ok(_) => {}
    }
    // A placeholder made with create_new reserves a name no one else has;
    // the rename then replaces it atomically, leaving no moment without
    // either name.
    let backup = tempfile::Builder::new()
        .prefix(&hidden_prefix(&file_name(target)))
        .suffix(".bak")
        .make_in(parent(target), |p| {
            crate::interrupt::register(p);
            std::fs::File::create_new(p)
        })
        .map_err(|e| Error::io(parent(target), "cannot create a temporary file in", e))?
        .into_temp_path();
    std::fs::rename(target, &backup).map_err(|e| Error::io(target, "cannot remove", e))?;
    Ok(Undo::Restore(backup))
}

/// Undoes one step. Best effort: the error being reported matters more.
fn undo_step(target: &Path, undo: Undo) {
    match undo {
        Undo::Restore(backup) => {
            let _ = persist(backup, target);
        }
        Undo::RemoveFile => {
            let _ = std::fs::remove_file(target);
        }
        Undo::RemoveDir => {
            let _ = std::fs::remove_dir_all(target);
        }
        Undo::Keep | Undo::Nothing => {}
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commits_files_folders_and_removals() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("old.zip"), b"old").unwrap();
        std::fs::write(root.join("gone.zip"), b"gone").unwrap();
        let mut tx = Transaction::new();
        tx.put_bytes(root.join("old.zip"), b"new").unwrap();
        tx.put_bytes(root.join("old.zip.sha256"), b"sum").unwrap();
        let dir = temp_dir(root, &hidden_prefix("out")).unwrap();
        std::fs::write(dir.path().join("a.txt"), b"a").unwrap();
        tx.put_dir(dir, root.join("out"));
        tx.remove(root.join("gone.zip"));
        tx.remove(root.join("never-there.zip"));
        let c = tx.commit().unwrap();
        assert_eq!(c.written, ["old.zip", "old.zip.sha256", "out"]);
        assert_eq!(c.removed, ["gone.zip"]);
        assert_eq!(std::fs::read(root.join("old.zip")).unwrap(), b"new");
        assert_eq!(std::fs::read(root.join("out/a.txt")).unwrap(), b"a");
        // No temporary or backup is left.
        assert_eq!(names(root), ["old.zip", "old.zip.sha256", "out"]);
    }

    #[test]
    fn a_failing_step_undoes_the_others() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("a.zip"), b"old a").unwrap();
        std::fs::write(root.join("c.zip"), b"c").unwrap();
        // A folder where a file must go: that rename fails.
        std::fs::create_dir(root.join("b.zip")).unwrap();
        std::fs::write(root.join("b.zip/keep"), b"").unwrap();
        let mut tx = Transaction::new();
        tx.put_bytes(root.join("a.zip"), b"new a").unwrap();
        tx.put_bytes(root.join("new.zip"), b"new").unwrap();
        tx.remove(root.join("c.zip"));
        tx.put_bytes(root.join("b.zip"), b"b").unwrap();
        tx.put_bytes(root.join("d.zip"), b"d").unwrap();
        let e = tx.commit().unwrap_err();
        assert!(
            e.to_string().contains("b.zip: cannot rename into place"),
            "{e}"
        );
        assert_eq!(std::fs::read(root.join("a.zip")).unwrap(), b"old a");
        assert_eq!(std::fs::read(root.join("c.zip")).unwrap(), b"c");
        assert_eq!(names(root), ["a.zip", "b.zip", "c.zip"]);
    }

    #[cfg(unix)]
    #[test]
    fn temporaries_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("report.html");
        write_file(&path, ".report.", ".tmp", b"<p>").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // 0644 less whatever the umask takes away from group and others.
        assert_eq!(mode & 0o600, 0o600);
        assert_eq!(mode & 0o133, 0);
        assert_eq!(names(tmp.path()), ["report.html"]);
    }
}
