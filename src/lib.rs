//! sepkg: make Symantec Endpoint Protection client packages keep their
//! clients **managed** through AutoUpgrade, and audit packages for the risk.
//!
//! When AutoUpgrade runs and the client's cached MSI is missing, the upgrade
//! falls back to the package's own sylink.xml, which in a SEPM export is
//! unmanaged (Broadcom KB 212696). A package whose SetAid.ini has
//! `KeepPreviousSetting=0` and which carries a managed sylink.xml avoids that.
//!
//! # The transform pipeline
//! ```text
//! cli: Args ─▶ transform::Job (no I/O)
//! ManagedSylink::load ─┐
//! Package::open ───────┼─▶ transform::plan ─▶ Plan ─▶ package::write ─▶ Written ─▶ Outcome
//! OutputSpec::resolve ─┘    (SetAid.ini edits,         (one copy loop:          (manifest,
//!   (detect, list,           sylink decision)           raw units, streams,      sidecar,
//!    format, stub)                                      both digests)            commit)
//! ```
//! Stages return values and never print; the `cli` module prints.
//!
//! # Modules
//! - [`package`]: containers (folder, zip, cabinet, single-file .exe), entries
//!   as handles, package roots; one reader and one writer per format and
//!   the one copy loop.
//! - [`setaid`]: the format-preserving SetAid.ini editor (also reads setup.ini).
//! - [`sylink`]: validating and describing sylink.xml.
//! - [`transform`]: the main job.
//! - [`msi`]: reading the MSI (read-only) and judging its Upgrade table.
//! - [`audit`]: the audit report and its findings.
//! - [`manifest`]: `OUT.manifest.json` and the `OUT.sha256` sidecar.
//! - [`publish`]: the web root: artifacts, `SHA256SUMS`, `index.json`, `index.html`.
//! - [`webroot`]: the web root's lock and staging folder, `unpublish` and
//!   `reindex`.
//! - [`lock`]: advisory lock files (a web root's, a transform output's).
//! - [`interrupt`]: SIGINT, SIGTERM and SIGHUP remove this process's
//!   temporaries and exit 130, 143 or 129.
//! - [`record`]: reading and writing the records: the `.sha256` sidecar,
//!   `SHA256SUMS`, the manifest summary, `index.json`.
//! - [`verify`]: checking artifacts, web roots and URLs against their records.
//! - [`records_sig`]: minisign key pairs and the signatures of a web root's
//!   `SHA256SUMS` and `index.json` (`keygen`, `publish --sign-key`,
//!   `verify --trusted-key`).
//! - [`authenticode`]: verifying and applying Authenticode signatures of PE programs.
//! - [`digest`]: SHA-256 helpers.
//! - [`atomic`]: temporary files beside their targets, and the transaction
//!   that renames a group of them into place with undo.
//! - [`error`]: the error type and exit codes.
//! - [`limits`]: whole-file reads through a size limit; special files refused as inputs.
//! - [`cli`]: argument parsing, output rendering, exit codes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod atomic;
pub mod audit;
pub mod authenticode;
pub mod cli;
mod contain;
pub mod digest;
pub mod error;
pub mod interrupt;
pub mod limits;
pub mod lock;
pub mod manifest;
pub mod msi;
pub mod package;
pub mod publish;
pub mod record;
pub mod records_sig;
pub mod setaid;
pub mod sylink;
pub mod transform;
pub mod verify;
pub mod webroot;

pub use error::{Error, ExitCode, Result};
pub use package::{Kind, Package};

/// Progress reports from long work. Stages call it; the CLI draws it.
pub trait Progress: Sync {
    /// Work of `total` bytes on `what` begins.
    fn start(&self, total: u64, what: &str);
    /// `bytes` more are done.
    fn advance(&self, bytes: u64);
    /// The work is done.
    fn finish(&self);
    /// Another process holds the lock at `lock` (it wrote `holder` into
    /// it): this one waits. Called once per wait; nothing by default.
    fn waiting(&self, lock: &std::path::Path, holder: Option<&str>) {
        let _ = (lock, holder);
    }
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64, _: &str) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
