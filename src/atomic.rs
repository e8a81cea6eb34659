//! Files that appear whole or not at all: a hidden temporary file beside
//! the target, written and synced by the caller, then renamed over it. The
//! one place that knows how each platform creates and renames them.
//!
//! - **Unix**: the temporary file is created 0644 (less the umask), where
//!   tempfile's default is 0600: outputs are for a web server, which runs as
//!   another user.
//! - **Windows**: the file gets the folder's inherited ACL, which is where
//!   a web server's read access is granted (IIS_IUSRS on the site's
//!   folder): Windows' equivalent of 0644, with nothing to set. It is
//!   created without `FILE_ATTRIBUTE_TEMPORARY`, which tempfile's own files
//!   carry and which would stay on the published file (some backup tools
//!   skip such files).
//! - **The rename** is `std::fs::rename`, not tempfile's `persist`. On
//!   Windows both replace an existing file with `MoveFileExW` and
//!   `MOVEFILE_REPLACE_EXISTING`, but where that is denied (a web server
//!   or a scanner holding the old file open, a read-only file) std goes on
//!   with a POSIX-semantics rename (Windows 10 1607 and later, NTFS), which
//!   succeeds when the reader opened the file allowing deletion and leaves
//!   it the old file; and std takes paths over 260
//!   characters (it adds the `\\?\` prefix) where tempfile hands the path
//!   to `MoveFileExW` as it is. No platform's rename replaces a folder that
//!   holds files: a folder output is renamed only onto a free name.

use std::io;
use std::path::Path;

use tempfile::{NamedTempFile, TempPath};

/// A new temporary file `PREFIX` + random + `SUFFIX` in `dir`, open for
/// reading and writing, removed when dropped.
pub(crate) fn temp_file(dir: &Path, prefix: &str, suffix: &str) -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .make_in(dir, |path| {
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o644);
            }
            options.open(path)
        })
}

/// Renames `temp` to `target`, replacing a file there. On an error the
/// temporary file is removed.
pub(crate) fn persist(mut temp: TempPath, target: &Path) -> io::Result<()> {
    std::fs::rename(&temp, target)?;
    temp.disable_cleanup(true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_replaces_the_target_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.zip");
        std::fs::write(&target, b"old").unwrap();
        let mut temp = temp_file(dir.path(), ".out.zip.", ".part").unwrap();
        io::Write::write_all(&mut temp, b"new").unwrap();
        persist(temp.into_temp_path(), &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.zip"]);
    }

    #[test]
    fn a_failed_persist_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let temp = temp_file(dir.path(), ".x.", ".part").unwrap();
        let missing = dir.path().join("no-such-folder").join("x");
        assert!(persist(temp.into_temp_path(), &missing).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn temporary_files_are_readable_by_all() {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        // What the umask leaves of 0777, for comparison.
        let probe = dir.path().join("probe");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o777)
            .open(&probe)
            .unwrap();
        let allowed = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
        let temp = temp_file(dir.path(), ".x.", ".part").unwrap();
        let mode = temp.as_file().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode,
            0o644 & allowed,
            "mode {mode:o}, umask leaves {allowed:o}"
        );
    }
}
