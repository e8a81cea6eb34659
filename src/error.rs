//! The library's one error type, and the exit codes that are the CLI's API.
//!
//! Every variant carries what a user needs to act on it: the file, the entry
//! inside an archive, the INI section and key or the XML element. A bare
//! `io::Error` that has lost its path never reaches the user.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where something is: a file on disk, optionally an entry inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file or folder on disk.
    pub path: PathBuf,
    /// The entry inside an archive or folder, with `/` separators.
    pub entry: Option<String>,
}

impl Location {
    /// A file on disk.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Location {
            path: path.into(),
            entry: None,
        }
    }

    /// An entry inside the package at `path`.
    pub fn entry(path: impl Into<PathBuf>, entry: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            entry: Some(entry.into()),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(entry) => write!(f, "{}, entry {:?}", self.path.display(), entry),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Everything that can go wrong in sepkg.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {action}: {source}", path = .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done ("cannot read", "cannot create", ...).
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),

    /// The input is not a package sepkg can read.
    #[error("{path}: not a SEP client package: {reason}", path = .path.display())]
    NotAPackage {
        /// The input.
        path: PathBuf,
        /// What was seen instead.
        reason: String,
    },

    /// An archive's structure is damaged or unsupported.
    #[error("{at}: corrupt or unsupported {format}: {reason}")]
    Corrupt {
        /// The archive, and the entry when one is to blame.
        at: Location,
        /// "zip", "cabinet", "exe", "MSI".
        format: &'static str,
        /// What is wrong.
        reason: String,
        /// The library's own error, when one reported the damage (its text
        /// is the reason).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// An entry that must not be unpacked or repacked: traversal, symlink,
    /// duplicate name, encryption.
    #[error("{at}: refused: {reason}")]
    UnsafeEntry {
        /// The archive and the entry.
        at: Location,
        /// Why it is refused.
        reason: String,
    },

    /// A file that is parsed is larger than the limit for its kind.
    #[error("{at}: {size} bytes is larger than the {limit}-byte limit for this file")]
    TooLarge {
        /// The file or entry.
        at: Location,
        /// Its (declared or read) size.
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// No directory in the input holds a SetAid.ini.
    #[error("{path}: no package root found: no folder in it holds a SetAid.ini", path = .path.display())]
    NoPackageRoot {
        /// The input.
        path: PathBuf,
    },

    /// A SetAid.ini or setup.ini that cannot be read or edited safely.
    #[error("{at}: {reason}")]
    Ini {
        /// The file or entry.
        at: Location,
        /// What is wrong, with the line when there is one.
        reason: String,
    },

    /// A sylink.xml that cannot be parsed.
    #[error("{at}: {reason}")]
    Xml {
        /// The file or entry.
        at: Location,
        /// What is wrong, naming the element.
        reason: String,
    },

    /// The `--sylink` file is not a managed sylink.xml.
    #[error("{at}: not a managed sylink.xml: {}", .missing.join("; "))]
    Unmanaged {
        /// The file.
        at: Location,
        /// Each part that is missing or wrong.
        missing: Vec<String>,
    },

    /// The output would overwrite an input.
    #[error("{path}: the output would overwrite the input", path = .path.display())]
    OutputIsInput {
        /// The path given as both.
        path: PathBuf,
    },

    /// A record of an artifact (its `.sha256`, its manifest, `SHA256SUMS`,
    /// `index.json`) is missing, malformed, or disagrees with the artifact.
    #[error("{at}: {reason}")]
    Record {
        /// The file or URL.
        at: String,
        /// What is wrong, with expected and actual values.
        reason: String,
    },

    /// A different file is already published under the artifact's name.
    #[error("{path}: a different file is already published under this name (published sha256 {existing}, new {new})", path = .path.display())]
    AlreadyPublished {
        /// The file in the web root.
        path: PathBuf,
        /// SHA-256 of the file there now.
        existing: String,
        /// SHA-256 of the artifact being published.
        new: String,
    },

    /// An HTTP server answered with an error status.
    #[error("{url}: HTTP {status} {reason}")]
    HttpStatus {
        /// The URL asked for (after redirects, the one that answered).
        url: String,
        /// The status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },

    /// A server could not be reached, or a transfer broke off.
    #[error("{url}: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// What happened: refused, timed out, closed early, TLS failure.
        reason: String,
    },

    /// A minisign key file (`keygen`, `publish --sign-key`, `verify
    /// --trusted-key`) that cannot be read, written, decrypted or used.
    #[error("{path}: {reason}", path = .path.display())]
    Key {
        /// The key file (or the key as given).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A URL that cannot be sent as it is written.
    #[error("{url}: not a valid URL: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A server that answers, but not with the file: a redirect loop, a
    /// body sent encoded although sepkg asked for the bytes as they are.
    #[error("{url}: {reason}")]
    ServerAnswer {
        /// The URL asked for.
        url: String,
        /// What the server did.
        reason: String,
    },

    /// A state sepkg's own code should never reach: a bug, not bad input.
    /// Never for anything the user's files or arguments can cause.
    #[error("internal error: {0}")]
    Internal(String),

    /// The input is sound but does not fit a limit of the output format
    /// (a cabinet's 2 GiB per file, a count field's width): not damage, and
    /// not a usage mistake.
    #[error("{at}: {what}")]
    Limit {
        /// The file or entry that does not fit.
        at: Location,
        /// Which limit, and by how much.
        what: String,
    },

    /// A lock another sepkg process holds did not come free in time.
    #[error("{path}: still locked after {waited} s, held by {holder}", path = .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote into it (pid and command), or a stand-in.
        holder: String,
        /// Seconds waited (`--lock-timeout`).
        waited: u64,
    },

    /// The process is being interrupted (SIGINT, SIGTERM, SIGHUP): the
    /// interruption's own cleanup runs and ends the process.
    #[error("interrupted: nothing written")]
    Interrupted,
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<Path>, action: &'static str, source: io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            action,
            source,
        }
    }

    /// An archive that is damaged or that sepkg cannot read: the one way to
    /// build [`Error::Corrupt`], so that a source error can be kept in one
    /// place later (see [`Error::corrupt_from`]).
    pub fn corrupt(at: Location, format: &'static str, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            at,
            format,
            reason: reason.into(),
            source: None,
        }
    }

    /// [`Error::corrupt`] for a failure that another library reported: its
    /// text is the reason, and the error itself the `source`.
    pub fn corrupt_from(
        at: Location,
        format: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Corrupt {
            at,
            format,
            reason: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    /// A record (sidecar, manifest, `SHA256SUMS`, `index.json`) at `at`
    /// (a path or URL) that is missing, malformed or does not match.
    pub fn record(at: impl fmt::Display, reason: impl Into<String>) -> Self {
        Error::Record {
            at: at.to_string(),
            reason: reason.into(),
        }
    }

    /// A bug in sepkg (see [`Error::Internal`]).
    pub fn internal(what: impl fmt::Display) -> Self {
        Error::Internal(what.to_string())
    }

    /// A stable, machine-readable name for the kind of error (used in JSON).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Usage(_) => "usage",
            Error::NotAPackage { .. } => "not-a-package",
            Error::Corrupt { .. } => "corrupt",
            Error::UnsafeEntry { .. } => "unsafe-entry",
            Error::TooLarge { .. } => "too-large",
            Error::NoPackageRoot { .. } => "no-package-root",
            Error::Ini { .. } => "bad-ini",
            Error::Xml { .. } => "bad-xml",
            Error::Unmanaged { .. } => "sylink-unmanaged",
            Error::OutputIsInput { .. } => "output-is-input",
            Error::Record { .. } => "bad-record",
            Error::AlreadyPublished { .. } => "already-published",
            Error::HttpStatus { .. } => "http-status",
            Error::Network { .. } => "network",
            Error::Key { .. } => "bad-key",
            Error::BadUrl { .. } => "bad-url",
            Error::ServerAnswer { .. } => "server-answer",
            Error::Internal(_) => "internal",
            Error::Limit { .. } => "limit",
            Error::Locked { .. } => "locked",
            Error::Interrupted => "interrupted",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::Io { .. } => {
                "check that the path exists, is readable, and that the output folder is writable with space left"
            }
            Error::Usage(_) => "see `sepkg help` for the command's options",
            Error::NotAPackage { .. } => {
                "give a folder export, or a .zip, .cab or single-file .exe exported from the SEPM"
            }
            Error::Corrupt { .. } => {
                "the file is damaged or truncated: export or download it again"
            }
            Error::UnsafeEntry { .. } => {
                "this archive was not made by the SEPM or has been tampered with: export the package again"
            }
            Error::TooLarge { .. } => {
                "a genuine file of this kind is a few KB: check where the package came from"
            }
            Error::NoPackageRoot { .. } => {
                "point sepkg at a SEPM client package export: a folder holding Setup.exe and setAid.ini, or an archive of one"
            }
            Error::Ini { .. } => {
                "save the file as ANSI, UTF-8 or UTF-16LE with a byte-order mark, in INI syntax"
            }
            Error::Xml { .. } => {
                "export the sylink.xml again from the SEPM (Clients > group > Export Communication Settings, managed mode)"
            }
            Error::Unmanaged { .. } => {
                "export the communication settings from the SEPM in managed mode (Clients > group > Export Communication Settings) and pass that file"
            }
            Error::OutputIsInput { .. } => "choose another output path with -o or --out-dir",
            Error::Record { .. } => {
                "publish what `sepkg transform` wrote, with its .sha256 and .manifest.json beside it unchanged; transform again to recreate them, or name the right record with --expect"
            }
            Error::AlreadyPublished { .. } => {
                "pass --replace to replace the published file, or give the new package another name (sepkg transform -o NAME)"
            }
            Error::HttpStatus { .. } => {
                "check the URL: 404 means no file at that path on the server (publish it there, or correct the URL); 401/403 mean the server refuses access"
            }
            Error::Network { .. } => {
                "check that the server is running and reachable from here (host, port, firewall, HTTPS_PROXY/NO_PROXY); --timeout SECS allows a slow server more time"
            }
            Error::Key { .. } => {
                "`sepkg keygen -o PATH` writes PATH.key (for publish --sign-key, with its password in --sign-password-env VAR) and PATH.pub (for verify --trusted-key)"
            }
            Error::BadUrl { .. } => {
                "write the URL as the server names the file, percent-encoding spaces and other special characters (a space is %20), for example http://host/sep/SEP%2014.exe"
            }
            Error::ServerAnswer { .. } => {
                "the server is running but misconfigured for this path: fix its redirect rules or compression settings (SEP clients must get the file's own bytes), or use the URL that serves the file directly"
            }
            Error::Internal(_) => {
                "this is a bug in sepkg: please report it with the command and input"
            }
            Error::Limit { .. } => {
                "the package is sound but too large for this output format: choose another with --to"
            }
            Error::Locked { .. } => {
                "another sepkg is publishing to this web root (or writing this output): wait for it, or raise --lock-timeout; the lock goes when that process ends"
            }
            Error::Interrupted => return None,
        })
    }

    /// The process exit code for this error: always 2 (see [`ExitCode`]).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Error
    }

    /// True when the error is a closed pipe on output, which ends quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Process exit codes. They are API: scripts depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Success, audit clean, verified.
    Ok = 0,
    /// Audit findings at or above `--fail-on`, or a verification mismatch.
    Findings = 1,
    /// Usage error, bad input, I/O error.
    Error = 2,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_says_it_is_a_bug() {
        let e = Error::internal("a batch job did not run");
        assert_eq!(e.code(), "internal");
        assert_eq!(e.to_string(), "internal error: a batch job did not run");
        assert!(e.hint().is_some_and(|h| h.contains("bug in sepkg")));
        assert_eq!(e.exit_code(), ExitCode::Error);
    }

    #[test]
    fn limit_names_the_entry() {
        let e = Error::Limit {
            at: Location::entry("out.cab", "Sep64.msi"),
            what: "a cabinet cannot hold a file of 3000000000 bytes (at most 2147450880)".into(),
        };
        assert_eq!(e.code(), "limit");
        assert_eq!(
            e.to_string(),
            "out.cab, entry \"Sep64.msi\": a cabinet cannot hold a file of 3000000000 bytes (at most 2147450880)"
        );
        assert!(e.hint().is_some_and(|h| h.contains("--to")));
    }

    #[test]
    fn corrupt_helpers_build_the_same_error() {
        let io = io::Error::new(io::ErrorKind::InvalidData, "bad CRC");
        let e = Error::corrupt_from(Location::file("p.zip"), "zip", io);
        assert_eq!(e.code(), "corrupt");
        assert_eq!(e.to_string(), "p.zip: corrupt or unsupported zip: bad CRC");
        let e = Error::corrupt(Location::entry("p.cab", "a"), "cabinet", "truncated");
        assert_eq!(
            e.to_string(),
            "p.cab, entry \"a\": corrupt or unsupported cabinet: truncated"
        );
        let e = Error::record("x.sha256", "empty");
        assert_eq!(
            (e.code(), e.to_string()),
            ("bad-record", "x.sha256: empty".into())
        );
    }
}
