//! Advisory locks on a lock file: one for a web root (`WEBROOT/.sepkg.lock`,
//! held by `publish`, `unpublish` and `reindex` for their whole run) and one
//! for a transform's output name (`.OUT.lock` beside OUT, held while OUT,
//! OUT.sha256 and OUT.manifest.json are renamed into place).
//!
//! The lock is `std::fs::File::lock` (`flock` on Unix, `LockFileEx` on
//! Windows): the operating system releases it when the process ends, however
//! it ends, so a crashed holder never leaves a web root locked. The holder
//! writes its process id and command line into the file so that a process
//! waiting for it can say whom it waits for (on Windows the locked file
//! cannot be read by others, and the message says "another sepkg process").
//!
//! On Unix the holder removes the lock file before it unlocks, so no lock
//! file stays behind; a process that was waiting on the removed file sees
//! (by comparing device and inode with what the name now points to) that
//! its lock is on a file no one else can find, and starts again. On
//! Windows the lock file stays (empty once released): an open file's name
//! cannot be checked the same way there with std alone; `verify` ignores it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The web root's lock file name.
pub const WEBROOT_LOCK: &str = ".sepkg.lock";

/// The lock file of a transform's output `name`: `.NAME.lock`, hidden.
pub fn output_lock_name(name: &str) -> String {
    format!(".{name}.lock")
}

/// A held lock, released (and on Unix its file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// Waits for the lock on `path`, creating the file if needed. When another
/// process holds it, `waiting` is called once with the path and what the
/// holder wrote, then this waits: for ever, or until `timeout`, when it
/// fails with [`Error::Locked`].
pub fn acquire(
    path: &Path,
    timeout: Option<Duration>,
    waiting: &dyn Fn(&Path, Option<&str>),
) -> Result<Lock> {
    let started = Instant::now();
    let mut told = false;
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, "cannot open the lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = holder(&file);
                if !told && holder.is_none() {
                    // The holder writes who it is just after it locks.
                    std::thread::sleep(Duration::from_millis(20));
                    holder = self::holder(&file);
                }
                if !told {
                    waiting(path, holder.as_deref());
                    told = true;
                }
                match timeout {
                    Some(limit) if started.elapsed() >= limit => {
                        return Err(Error::Locked {
                            path: path.to_path_buf(),
                            holder: holder.unwrap_or_else(|| "another sepkg process".into()),
                            waited: limit.as_secs(),
                        });
                    }
                    Some(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    None => file.lock().map_err(|e| Error::io(path, "cannot lock", e))?,
                }
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(path, "cannot lock", e)),
        }
        if !still_named(&file, path) {
            // The holder we waited for removed this file as it let go.
            continue;
        }
        crate::interrupt::register_lock(path);
        let mut lock = Lock {
            file,
            path: path.to_path_buf(),
        };
        lock.write_holder();
        return Ok(lock);
    }
}

impl Lock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `pid N: sepkg ARGS`: best effort, only for others' messages.
    fn write_holder(&mut self) {
        // `sepkg`, not the path it was started by: the rest says enough.
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let command: String = args.join(" ").chars().take(400).collect();
        let text = format!("pid {}: sepkg {command}\n", std::process::id());
        let _ = self.file.set_len(0);
        let _ = self.file.rewind();
        let _ = self.file.write_all(text.as_bytes());
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let _ = std::fs::remove_file(&self.path);
        }
        #[cfg(not(unix))]
        {
            let _ = self.file.set_len(0);
        }
        crate::interrupt::forget(&self.path);
        let _ = self.file.unlock();
    }
}

/// What the holder wrote, when it can be read.
fn holder(mut file: &File) -> Option<String> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(1024).read_to_string(&mut text).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// True when `path` still names the open `file`.
#[cfg(unix)]
fn still_named(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// On Windows the lock file is never removed, so the name always holds.
#[cfg(not(unix))]
fn still_named(_: &File, _: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_names_the_first_and_times_out() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(WEBROOT_LOCK);
        let first = acquire(&path, None, &|_, _| panic!("nobody holds it")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(&format!("pid {}: sepkg ", std::process::id())),
            "{text}"
        );
        let heard = std::sync::Mutex::new(Vec::new());
        let e = acquire(&path, Some(Duration::from_secs(1)), &|p, holder| {
            heard
                .lock()
                .unwrap()
                .push((p.to_path_buf(), holder.map(str::to_string)));
        })
        .unwrap_err();
        let heard = heard.into_inner().unwrap();
        assert_eq!(heard.len(), 1, "told once: {heard:?}");
        assert_eq!(heard[0].0, path);
        assert_eq!(heard[0].1.as_deref(), Some(text.trim()));
        assert!(
            e.to_string()
                .contains("still locked after 1 s, held by pid"),
            "{e}"
        );
        drop(first);
        // Released: on Unix the file is gone; either way it can be taken.
        #[cfg(unix)]
        assert!(!path.exists());
        let again = acquire(&path, Some(Duration::from_secs(1)), &|_, _| {
            panic!("released")
        });
        assert!(again.is_ok());
    }
}
