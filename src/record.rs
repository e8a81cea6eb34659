//! The records that say what an artifact is, read and written in one place
//! for `audit`, `publish` and `verify` (and `transform`, which writes them):
//!
//! - the **sidecar** `NAME.sha256`: one `sha256sum` line, [`sidecar_line`]
//!   and [`parse_sidecar`];
//! - **`SHA256SUMS`** in a web root: `sha256sum -c` lines sorted by name,
//!   [`render_sums`] and [`parse_sums`] (strict: sepkg's own web roots), and
//!   [`sums_lookup`] (lenient: any checksum file found beside an input);
//! - the **manifest** `NAME.manifest.json`: written whole by
//!   [`crate::manifest::Manifest`], read here as a [`ManifestSummary`]
//!   ([`parse_manifest`]) or, leniently, for its `output.sha256` alone
//!   ([`manifest_sha256`]);
//! - the **index** `index.json`: [`Index`], [`parse_index`], [`index_json`].
//!
//! Every format here is API: scripts, `sha256sum -c` and web servers read
//! these files, so their bytes do not change without a schema change.
//! Names inside web-root records are plain file names ([`plain_name`]), so
//! no record can point outside its folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `index.json`'s schema name and version.
pub const INDEX_SCHEMA: &str = "sepkg-index/1";
/// The checksum list for `sha256sum -c`.
pub const SUMS: &str = "SHA256SUMS";
/// The machine-readable index.
pub const INDEX_JSON: &str = "index.json";
/// The page for people.
pub const INDEX_HTML: &str = "index.html";
/// What a sidecar's name adds to its artifact's.
pub const SIDECAR_SUFFIX: &str = ".sha256";
/// What a manifest's name adds to its artifact's.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// Records (manifests, indexes, sidecars) are small; a larger one is not ours.
pub const MAX_RECORD: u64 = 32 << 20;

/// The largest checksum file beside an audited input that is read.
const MAX_BESIDE: u64 = 16 * 1024 * 1024;

/// `NAME.sha256` beside `artifact`.
pub fn sidecar_path(artifact: &Path) -> PathBuf {
    with_suffix(artifact, SIDECAR_SUFFIX)
}

/// `NAME.manifest.json` beside `artifact`.
pub fn manifest_path(artifact: &Path) -> PathBuf {
    with_suffix(artifact, MANIFEST_SUFFIX)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads a small record file, refusing one larger than [`MAX_RECORD`].
pub fn read_record(path: &Path) -> Result<Vec<u8>> {
    crate::limits::read_whole(path, MAX_RECORD)
}

/// The record's bytes, or `None` when there is no such file (or something
/// other than a file stands there).
pub fn read_if_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => read_record(path).map(Some),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, "cannot read", e)),
    }
}

/// A checksum file beside an audited input, as text: `None` when it is
/// absent; `Some(Err)` saying why when it is unreadable, too large or not
/// UTF-8 (audit reports that as a finding, not an error).
pub fn read_beside(path: &Path) -> Option<std::result::Result<String, String>> {
    let meta = std::fs::metadata(path).ok()?;
    if let Some(kind) = crate::limits::special_kind(&meta) {
        return Some(Err(format!("{kind}, not a checksum file")));
    }
    Some(match crate::limits::read_whole(path, MAX_BESIDE) {
        Err(Error::TooLarge { size, .. }) => {
            Err(format!("{size} bytes is too large for a checksum file"))
        }
        Err(e) => Err(e.to_string()),
        Ok(b) => String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()),
    })
}

// ---------------------------------------------------------------------------
// Sidecars and SHA256SUMS.

/// A `sha256sum -c` line: `<hex>  <name>\n`.
pub fn sidecar_line(sha256: &str, name: &str) -> String {
    format!("{sha256}  {name}\n")
}

/// What a sidecar says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// The SHA-256, lowercase hex.
    pub sha256: String,
    /// The file name, in the `sha256sum` forms; `None` for a bare hash.
    pub name: Option<String>,
}

/// Parses a sidecar's first non-blank line. Accepts `HEX  NAME`, `HEX
/// *NAME` (binary mode) and a bare `HEX`; the error says what is wrong.
pub fn parse_sidecar(text: &str) -> std::result::Result<Sidecar, String> {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or("empty: no SHA-256 in it")?;
    let (hash, rest) = line.split_at(line.len().min(64));
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{line:?} does not start with a SHA-256 (64 hex digits)"
        ));
    }
    let name = if rest.trim().is_empty() {
        None
    } else if let Some(n) = rest.strip_prefix("  ").or_else(|| rest.strip_prefix(" *")) {
        Some(n.to_string())
    } else {
        return Err(format!(
            "{line:?} is not in sha256sum format (HASH, two spaces, NAME)"
        ));
    };
    Ok(Sidecar {
        sha256: hash.to_ascii_lowercase(),
        name,
    })
}

/// Parses a web root's `SHA256SUMS` into (name, sha256) pairs, in file
/// order; `at` names it in errors. Strict: every line must be a sidecar
/// line with a plain file name.
pub fn parse_sums(text: &str, at: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::record(at, format!("line {}: {reason}", n + 1));
        let sidecar = parse_sidecar(line).map_err(bad)?;
        let name = sidecar
            .name
            .ok_or_else(|| bad("no file name after the hash".into()))?;
        plain_name(&name).map_err(bad)?;
        out.push((name, sidecar.sha256));
    }
    Ok(out)
}

/// `SHA256SUMS` from (name, sha256) pairs: one sidecar line each, sorted by
/// name (the map's order).
pub fn render_sums(lines: &BTreeMap<String, String>) -> String {
    lines
        .iter()
        .map(|(name, sha)| sidecar_line(sha, name))
        .collect()
}

/// The hash recorded for `name` in any checksum file a user may keep beside
/// a package: `HEX  NAME`, `HEX *NAME`, or BSD `SHA256 (NAME) = HEX`, a
/// name compared by its last path component. With `single`, a lone hash
/// line with any name counts (a sidecar describes one file). Lenient, as
/// audit reads files sepkg did not write; see [`parse_sums`] for the strict
/// reader of sepkg's own web roots.
pub fn sums_lookup(text: &str, name: &str, single: bool) -> Option<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("SHA256 (")
            && let Some((file, hex)) = rest.split_once(") = ")
        {
            if file == name || (single && lines.len() == 1) {
                return Some(hex.trim().to_string());
            }
            continue;
        }
        let (hex, file) = match line.split_once(' ') {
            Some((h, f)) => (h, f.trim_start_matches([' ', '*'])),
            None => (line, ""),
        };
        let file = file.rsplit('/').next().unwrap_or(file);
        if hex.len() == 64 && (file == name || (single && lines.len() == 1)) {
            return Some(hex.to_string());
        }
    }
    None
}

/// Refuses a name that is not a plain file name in the web root, so a
/// record can never point outside it.
pub fn plain_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || name.starts_with('.')
    {
        return Err(format!("{name:?} is not a plain file name in the web root"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Manifests.

/// The fields of `OUT.manifest.json` that publishing and verifying use. Read
/// leniently (unknown fields ignored) so any `sepkg-manifest/1` is accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestSummary {
    /// `sepkg-manifest/1`.
    pub schema: String,
    /// The artifact the manifest describes.
    pub output: OutputSummary,
    /// The product version, when known.
    #[serde(default)]
    pub product_version: Option<String>,
    /// The build time, when the transform ran with `SOURCE_DATE_EPOCH`.
    #[serde(default)]
    pub built: Option<String>,
}

/// The manifest's `output` record.
#[derive(Debug, Clone, Deserialize)]
pub struct OutputSummary {
    /// File name, no folder.
    pub name: String,
    /// `zip`, `cab`, `exe`, `dir`.
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// Parses a manifest's bytes; `at` names it in errors.
pub fn parse_manifest(bytes: &[u8], at: &str) -> Result<ManifestSummary> {
    let m: ManifestSummary = serde_json::from_slice(bytes)
        .map_err(|e| Error::record(at, format!("not a sepkg manifest: {e}")))?;
    if !m.schema.starts_with("sepkg-manifest/") {
        return Err(Error::record(
            at,
            format!("schema {:?} is not a sepkg manifest", m.schema),
        ));
    }
    Ok(m)
}

/// A manifest's `output.sha256` and nothing else, from any JSON that has
/// one: audit reads a manifest beside an input this way, so that an older
/// or hand-made manifest still says which bytes it recorded.
pub fn manifest_sha256(text: &str) -> std::result::Result<String, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    match v["output"]["sha256"].as_str() {
        Some(s) => Ok(s.to_string()),
        None => Err("no output.sha256 field: not a sepkg manifest".to_string()),
    }
}

// ---------------------------------------------------------------------------
// The index.

/// `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// [`INDEX_SCHEMA`].
    pub schema: String,
    /// The sepkg that last wrote it.
    pub tool: String,
    /// The web root's URL, as last given with `--base-url`.
    pub base_url: Option<String>,
    /// Every published artifact, sorted by name.
    pub packages: Vec<IndexEntry>,
}

/// One published artifact in `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// File name in the web root.
    pub name: String,
    /// Container kind, from the manifest.
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Product version, from the manifest.
    pub product_version: Option<String>,
    /// Build time, from the manifest (only with `SOURCE_DATE_EPOCH`).
    pub built: Option<String>,
    /// When this version was copied into the web root (UTC).
    pub published: String,
    /// The sidecar's file name.
    pub sha256_file: String,
    /// The manifest's file name.
    pub manifest_file: String,
    /// The URL to enter in the SEPM wizard, when the base URL is known.
    pub url: Option<String>,
}

/// Parses `index.json`; `at` names it in errors.
pub fn parse_index(bytes: &[u8], at: &str) -> Result<Index> {
    let index: Index = serde_json::from_slice(bytes)
        .map_err(|e| Error::record(at, format!("not a sepkg index.json: {e}")))?;
    if !index.schema.starts_with("sepkg-index/") {
        return Err(Error::record(
            at,
            format!("schema {:?} is not a sepkg index", index.schema),
        ));
    }
    for p in &index.packages {
        plain_name(&p.name).map_err(|reason| Error::record(at, reason))?;
    }
    Ok(index)
}

/// `index.json` as pretty JSON with a final newline.
pub fn index_json(index: &Index) -> Vec<u8> {
    // Plain strings and numbers: serialising cannot fail.
    let mut bytes = serde_json::to_vec_pretty(index).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

// ---------------------------------------------------------------------------
// Telling records apart.

/// A record whose kind was told from its content.
#[derive(Debug, Clone)]
pub enum Record {
    /// A sepkg manifest (JSON with an `output`).
    Manifest(ManifestSummary),
    /// A sepkg `index.json` (JSON with `packages`).
    Index(Index),
    /// A sidecar line.
    Sidecar(Sidecar),
}

/// Tells a record apart by content: JSON with `output` is a manifest, JSON
/// with `packages` an index (each then parsed strictly: an error if it is
/// not a sepkg one), text starting with a sidecar line a sidecar. `None`
/// for anything else (other JSON, or the artifact itself).
pub fn identify(bytes: &[u8], at: &str) -> Result<Option<Record>> {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        if value.get("output").is_some() {
            return parse_manifest(bytes, at).map(|m| Some(Record::Manifest(m)));
        }
        if value.get("packages").is_some() {
            return parse_index(bytes, at).map(|i| Some(Record::Index(i)));
        }
        return Ok(None);
    }
    let text = String::from_utf8_lossy(bytes);
    Ok(parse_sidecar(&text).ok().map(Record::Sidecar))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_forms() {
        let h = "a".repeat(64);
        let named = |n: &str| Sidecar {
            sha256: h.clone(),
            name: Some(n.into()),
        };
        assert_eq!(parse_sidecar(&format!("{h}  x.zip\n")), Ok(named("x.zip")));
        assert_eq!(parse_sidecar(&format!("{h} *x.zip\n")), Ok(named("x.zip")));
        assert_eq!(
            parse_sidecar(&format!("{}\n", h.to_uppercase())),
            Ok(Sidecar {
                sha256: h.clone(),
                name: None
            })
        );
        assert!(parse_sidecar("abc  x.zip").is_err());
        assert!(parse_sidecar(&format!("{h}x.zip")).is_err());
        assert!(parse_sidecar("").is_err());
        // What sidecar_line writes, parse_sidecar reads.
        assert_eq!(
            parse_sidecar(&sidecar_line(&h, "y z.zip")),
            Ok(named("y z.zip"))
        );
    }

    #[test]
    fn sums_round_trip_sorted_and_refuse_paths() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let map: BTreeMap<String, String> =
            [("z.zip".into(), a.clone()), ("m.zip".into(), b.clone())]
                .into_iter()
                .collect();
        let text = render_sums(&map);
        assert_eq!(text, format!("{b}  m.zip\n{a}  z.zip\n"));
        assert_eq!(
            parse_sums(&text, "SUMS").unwrap(),
            [("m.zip".to_string(), b), ("z.zip".to_string(), a.clone())]
        );
        let e = parse_sums(&format!("\n{a}  ../x.zip\n"), "SUMS").unwrap_err();
        assert_eq!(e.code(), "bad-record");
        assert!(e.to_string().starts_with("SUMS: line 2: "), "{e}");
        assert!(parse_sums(&format!("{a}\n"), "SUMS").is_err());
    }

    #[test]
    fn sums_lines_are_found() {
        let h = "a".repeat(64);
        assert_eq!(
            sums_lookup(&format!("{h}  x.zip\n"), "x.zip", false),
            Some(h.clone())
        );
        assert_eq!(
            sums_lookup(&format!("{h} *x.zip\n"), "x.zip", false),
            Some(h.clone())
        );
        assert_eq!(
            sums_lookup(&format!("SHA256 (x.zip) = {h}\n"), "x.zip", false),
            Some(h.clone())
        );
        assert_eq!(sums_lookup(&format!("{h}  y.zip\n"), "x.zip", false), None);
        assert_eq!(
            sums_lookup(&format!("{h}  y.zip\n"), "x.zip", true),
            Some(h)
        );
    }

    #[test]
    fn plain_names_only() {
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", ".hidden"] {
            assert!(plain_name(bad).is_err(), "{bad}");
        }
        assert!(plain_name("SEP-14.zip").is_ok());
    }

    #[test]
    fn manifests_strict_and_lenient() {
        let h = "c".repeat(64);
        let m = format!(
            r#"{{"schema":"sepkg-manifest/1","output":{{"name":"x.zip","kind":"zip","size":3,"sha256":"{h}"}},"extra":1}}"#
        );
        let s = parse_manifest(m.as_bytes(), "m").unwrap();
        assert_eq!((s.output.size, s.output.sha256.as_str()), (3, h.as_str()));
        assert_eq!(manifest_sha256(&m), Ok(h.clone()));
        let other = format!(r#"{{"schema":"x/1","output":{{"sha256":"{h}"}}}}"#);
        assert!(parse_manifest(other.as_bytes(), "m").is_err());
        assert_eq!(manifest_sha256(&other), Ok(h));
        assert!(
            manifest_sha256("{}")
                .unwrap_err()
                .contains("no output.sha256")
        );
        assert!(
            manifest_sha256("nope")
                .unwrap_err()
                .starts_with("not JSON: ")
        );
    }

    #[test]
    fn records_are_told_apart() {
        let h = "d".repeat(64);
        let index = Index {
            schema: INDEX_SCHEMA.into(),
            tool: "t".into(),
            base_url: None,
            packages: Vec::new(),
        };
        let json = index_json(&index);
        assert!(json.ends_with(b"}\n"));
        assert!(matches!(identify(&json, "i"), Ok(Some(Record::Index(i))) if i == index));
        assert!(matches!(
            identify(sidecar_line(&h, "x").as_bytes(), "s"),
            Ok(Some(Record::Sidecar(_)))
        ));
        assert!(matches!(identify(b"{\"a\":1}", "j"), Ok(None)));
        assert!(matches!(identify(b"PK\x03\x04", "z"), Ok(None)));
        assert!(identify(b"{\"output\":1}", "m").is_err());
    }
}
