//! Interruptions: SIGINT, SIGTERM and SIGHUP on Unix, Ctrl-C, Ctrl-Break
//! and closing the console on Windows. Whatever the command is doing, the
//! process removes every temporary file and folder it made, says
//! `interrupted: nothing written` on stderr and exits 130, 143 or 129
//! (128 + the signal's number; 130 on Windows, which has no numbers).
//!
//! How: every temporary path is [`register`]ed the moment it is named,
//! before the file is created, and [`forget`]ten once renamed into place.
//! The signal is not handled in a signal handler (which could do almost
//! nothing safely) but on a thread of its own: `signal-hook`'s iterator on
//! Unix, `ctrlc` (with its `termination` feature) on Windows, both safe
//! APIs, so `#![forbid(unsafe_code)]` holds in this crate. That thread
//! waits for any [`Transaction::commit`](crate::atomic::Transaction::commit)
//! in progress to end (renames take microseconds, and a commit cut in the
//! middle is the one state worse than either side), removes what is
//! registered, prints and exits.
//!
//! What it cannot do: SIGKILL (and a power loss) cannot be caught. They
//! leave the hidden temporaries, which `sepkg reindex --clean` removes from
//! a web root and which transform's next run to the same output ignores.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

/// Every temporary path of this process not yet renamed into place.
static TEMPORARIES: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
/// Held for the whole of a commit, and by the interruption once it starts.
static COMMIT: Mutex<()> = Mutex::new(());
/// Set as soon as a signal arrives.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Commits completed by this process: what an interruption cannot take back.
static COMMITS: AtomicUsize = AtomicUsize::new(0);

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    // A panic elsewhere must not stop the cleanup.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes `path` (a file or a folder with its contents) if this process
/// is interrupted before it is [`forget`]ten.
pub fn register(path: &Path) {
    lock(&TEMPORARIES).insert(path.to_path_buf());
}

/// A lock file this process holds: removed on an interruption where a
/// released lock's file is removed (Unix; see [`crate::lock`]).
pub fn register_lock(path: &Path) {
    #[cfg(unix)]
    register(path);
    #[cfg(not(unix))]
    let _ = path;
}

/// `path` is no longer a temporary (renamed into place, or removed).
pub fn forget(path: &Path) {
    lock(&TEMPORARIES).remove(path);
}

/// Held while a transaction commits: an interruption waits for it to end.
pub struct CommitGuard {
    _guard: MutexGuard<'static, ()>,
}

impl CommitGuard {
    /// The commit succeeded: an interruption from now on says so.
    pub fn done(self) {
        COMMITS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Starts a commit; refused once an interruption has begun (its cleanup
/// is about to run and the process to exit).
pub fn begin_commit() -> Result<CommitGuard> {
    let guard = lock(&COMMIT);
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(Error::Interrupted);
    }
    Ok(CommitGuard { _guard: guard })
}

/// Installs the handler (see the module docs). Called once by `main`; a
/// library user who wants this behaviour calls it too. Failing to install
/// it leaves the default behaviour (the process ends, temporaries stay).
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("sepkg-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    interrupted(128 + signal);
                }
            });
    }
    // Windows has no SIGTERM or SIGHUP: ctrlc's `termination` feature maps
    // Ctrl-C, Ctrl-Break and closing the console window (and a service
    // stop through a console control event) to this one handler.
    #[cfg(windows)]
    {
        let _ = ctrlc::set_handler(|| interrupted(130));
    }
}

/// The interruption: wait for a commit in progress, remove every
/// temporary, say so, exit with `code`.
fn interrupted(code: i32) -> ! {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let _commit = lock(&COMMIT);
    let paths: Vec<PathBuf> = std::mem::take(&mut *lock(&TEMPORARIES))
        .into_iter()
        .collect();
    // Reverse order: a folder's files before the folder.
    for path in paths.iter().rev() {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(path);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(path);
            }
            Err(_) => {}
        }
    }
    let kept = COMMITS.load(Ordering::SeqCst);
    if kept == 0 {
        eprintln!("interrupted: nothing written");
    } else {
        eprintln!(
            "interrupted: the {kept} output{} completed before the signal {} kept; nothing else written",
            if kept == 1 { "" } else { "s" },
            if kept == 1 { "is" } else { "are" }
        );
    }
    std::process::exit(code)
}
