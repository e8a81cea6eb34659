//! The record of a transform: `OUT.manifest.json` and the `OUT.sha256`
//! sidecar, and the atomic writing of both beside the output.
//!
//! The manifest holds no clock time, host name or absolute path, so the same
//! inputs give the same manifest bytes. Its fields are documented in the
//! README ("JSON schema"); `schema` changes when a field changes meaning.

use serde::Serialize;

use crate::digest::Digest;
use crate::package::{Kind, WrittenEntry};
use crate::setaid;
use crate::sylink;

/// The manifest's schema name and version.
pub const SCHEMA: &str = "sepkg-manifest/1";

/// A file named without its folder, with its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// The file name (no folder).
    pub name: String,
    /// The container kind.
    pub kind: Kind,
    /// Size in bytes (for a folder, the sum of its files).
    pub size: u64,
    /// SHA-256 (for a folder output: of its `.sha256` listing).
    pub sha256: String,
}

/// The managed sylink.xml that was injected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SylinkRecord {
    /// The file name given with `--sylink` (no folder).
    pub name: String,
    /// Its digest.
    #[serde(flatten)]
    pub digest: Digest,
    /// What it says (DomainId, servers, group, mode).
    #[serde(flatten)]
    pub info: sylink::Info,
}

/// One package root and what it holds after the transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootRecord {
    /// The folder, `""` for the top.
    pub dir: String,
    /// The SetAid.ini entry name.
    pub setaid: String,
    /// Its encoding.
    pub setaid_encoding: setaid::Encoding,
    /// Its line ending, `CRLF` or `LF`.
    pub setaid_line_ending: &'static str,
    /// The sylink.xml entry name in the output.
    pub sylink: String,
    /// `ProductVersion` from setup.ini, when there is one.
    pub product_version: Option<String>,
}

/// Which file a change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangedFile {
    /// SetAid.ini.
    Setaid,
    /// sylink.xml.
    Sylink,
}

/// One change, with its old and new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRecord {
    /// The entry changed.
    pub entry: String,
    /// Which file it is.
    pub file: ChangedFile,
    /// `set`, `added-key`, `added-section` (SetAid.ini); `replaced`, `added` (sylink.xml).
    pub action: String,
    /// SetAid.ini: the section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// SetAid.ini: the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// SetAid.ini: the line (after the edit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The old value (SetAid.ini) or old SHA-256 (sylink.xml); null when added.
    pub old: Option<String>,
    /// The new value or SHA-256.
    pub new: String,
    /// SetAid.ini: true when this occurrence is a duplicate of the effective one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// Something the user should know that did not stop the transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// A stable code.
    pub code: &'static str,
    /// The entry concerned.
    pub entry: String,
    /// What it means and what to do.
    pub message: String,
}

/// `OUT.manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// `sepkg` and its version.
    pub tool: String,
    /// The build time, only when `SOURCE_DATE_EPOCH` is set (see
    /// [`built_from_env`]); absent otherwise, so outputs stay byte-identical.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built: Option<String>,
    /// The input package.
    pub input: FileRecord,
    /// The output package.
    pub output: FileRecord,
    /// The Authenticode signature of an .exe output signed with `--sign`:
    /// signer, digest algorithm, timestamp. Absent when not signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::authenticode::Signed>,
    /// The first package root's product version.
    pub product_version: Option<String>,
    /// The injected sylink.xml.
    pub sylink: SylinkRecord,
    /// Every package root.
    pub roots: Vec<RootRecord>,
    /// Every change made; empty when the input already was managed.
    pub changes: Vec<ChangeRecord>,
    /// Things to check.
    pub warnings: Vec<Warning>,
    /// Every file entry of the output, in order.
    pub entries: Vec<WrittenEntry>,
    /// For a 7z output (or an .exe with a 7z payload): each folder (solid
    /// block) written, with what was done to it: `copied` from the input
    /// as it was, `spliced` (the input's LZMA2 chunks before the first
    /// changed file kept, the rest encoded), `reencoded`, `split` (files
    /// that are mostly incompressible stored apart) or `added` (new files).
    /// Absent for other formats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<crate::package::UnitReport>,
}

impl Manifest {
    /// The manifest as pretty JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain structs of strings and numbers cannot fail.
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

// Kept here for `transform` until it takes it from `record`.
pub use crate::record::sidecar_line;

/// The build time from `SOURCE_DATE_EPOCH` (reproducible-builds.org: Unix
/// seconds, UTC), as `YYYY-MM-DDTHH:MM:SSZ`; `None` when it is unset or
/// empty. A malformed value is an error, as the specification asks, rather
/// than a silently missing date.
pub fn built_from_env() -> crate::Result<Option<String>> {
    let value = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => v,
        _ => return Ok(None),
    };
    let bad = || {
        crate::Error::Usage(format!(
            "SOURCE_DATE_EPOCH={value:?} is not a number of seconds since 1970-01-01 UTC; \
             set it to one (for example $(git log -1 --format=%ct)) or unset it"
        ))
    };
    let secs: i64 = value.trim().parse().map_err(|_| bad())?;
    let at = time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| bad())?;
    Ok(Some(rfc3339_utc(at)))
}

/// A UTC time as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, whole seconds).
pub fn rfc3339_utc(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The tool name and version written into manifests.
pub fn tool() -> String {
    format!("sepkg {}", env!("CARGO_PKG_VERSION"))
}
