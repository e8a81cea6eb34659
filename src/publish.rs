//! `sepkg publish`: the web root a SEPM's AutoUpgrade downloads from.
//!
//! A web root holds, for each published artifact `NAME`: `NAME`, `NAME.sha256`
//! and `NAME.manifest.json`; and for the whole folder `SHA256SUMS` (every
//! artifact, sidecar and manifest, `sha256sum -c` format, sorted by name),
//! `index.json` (schema [`INDEX_SCHEMA`]) and `index.html` (rendered from
//! `templates/index.html`).
//!
//! The stages:
//! 1. [`check_artifact`]: hash each artifact and refuse it unless the
//!    `.sha256` and `.manifest.json` beside it describe exactly those bytes.
//! 2. [`publish`] decides for each one: added, replaced (only with
//!    `--replace`) or unchanged (same bytes, same records: nothing written).
//! 3. Everything new is staged under hidden temporary names in the web root
//!    and fsynced, then renamed into place in one transaction: artifacts
//!    first, then sidecars and manifests, then `SHA256SUMS`, `index.json`,
//!    `index.html`. A web server therefore never serves half a file, and
//!    never a `SHA256SUMS` naming a file that is not there yet. If a rename
//!    fails, the ones already made are undone (replaced files come back from
//!    hard-linked backups), so the web root is as it was.
//!
//! What it cannot undo: a process killed between two renames leaves the
//! renames made so far (each file is still whole) and hidden `.NAME.*.part`
//! or `.bak` files, which `sepkg verify WEBROOT` reports. One publish at a
//! time per web root: two at once can lose each other's index entries.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{self, Digest, HashingReader};
use crate::error::{Error, Result};
use crate::manifest::{rfc3339_utc, sidecar_line};
use crate::transform::with_suffix;

/// `index.json`'s schema name and version.
pub const INDEX_SCHEMA: &str = "sepkg-index/1";
/// The checksum list for `sha256sum -c`.
pub const SUMS: &str = "SHA256SUMS";
/// The machine-readable index.
pub const INDEX_JSON: &str = "index.json";
/// The page for people.
pub const INDEX_HTML: &str = "index.html";

/// Records (manifests, indexes, sidecars) are small; a larger one is not ours.
pub const MAX_RECORD: u64 = 32 << 20;

const TEMPLATE: &str = include_str!("../templates/index.html");

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

/// An artifact whose sidecar and manifest agree with its bytes.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Where it is.
    pub path: PathBuf,
    /// Its file name: the name it is published under.
    pub name: String,
    /// Its size and SHA-256.
    pub digest: Digest,
    /// The manifest beside it, exactly as it is.
    pub manifest_bytes: Vec<u8>,
    /// What the manifest says.
    pub manifest: ManifestSummary,
}

/// Reads a small record file, refusing one larger than [`MAX_RECORD`].
pub fn read_record(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if bytes.len() as u64 > MAX_RECORD {
        return Err(Error::TooLarge {
            at: crate::error::Location::file(path),
            size: bytes.len() as u64,
            limit: MAX_RECORD,
        });
    }
    Ok(bytes)
}

/// Parses a manifest's bytes; `at` names it in errors.
pub fn parse_manifest(bytes: &[u8], at: &str) -> Result<ManifestSummary> {
    let m: ManifestSummary = serde_json::from_slice(bytes).map_err(|e| Error::Record {
        at: at.to_string(),
        reason: format!("not a sepkg manifest: {e}"),
    })?;
    if !m.schema.starts_with("sepkg-manifest/") {
        return Err(Error::Record {
            at: at.to_string(),
            reason: format!("schema {:?} is not a sepkg manifest", m.schema),
        });
    }
    Ok(m)
}

/// Parses `index.json`; `at` names it in errors.
pub fn parse_index(bytes: &[u8], at: &str) -> Result<Index> {
    let index: Index = serde_json::from_slice(bytes).map_err(|e| Error::Record {
        at: at.to_string(),
        reason: format!("not a sepkg index.json: {e}"),
    })?;
    if !index.schema.starts_with("sepkg-index/") {
        return Err(Error::Record {
            at: at.to_string(),
            reason: format!("schema {:?} is not a sepkg index", index.schema),
        });
    }
    for p in &index.packages {
        plain_name(&p.name).map_err(|reason| Error::Record {
            at: at.to_string(),
            reason,
        })?;
    }
    Ok(index)
}

/// A sidecar: the hash and, in the `sha256sum` forms, the file name.
/// Accepts `HEX  NAME`, `HEX *NAME` (binary mode) and a bare `HEX`.
pub fn parse_sidecar(text: &str) -> std::result::Result<(String, Option<String>), String> {
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
    Ok((hash.to_ascii_lowercase(), name))
}

/// Parses `SHA256SUMS` into (name, sha256) pairs.
pub fn parse_sums(text: &str, at: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::Record {
            at: at.to_string(),
            reason: format!("line {}: {reason}", n + 1),
        };
        let (hash, name) = parse_sidecar(line).map_err(bad)?;
        let name = name.ok_or_else(|| bad("no file name after the hash".into()))?;
        plain_name(&name).map_err(bad)?;
        out.push((name, hash));
    }
    Ok(out)
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

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::Usage(format!(
                "{}: not a file name sepkg can publish (it must be valid UTF-8)",
                path.display()
            ))
        })
}

/// Hashes `path` with progress.
pub fn hash_file(path: &Path, progress: &dyn crate::Progress) -> Result<Digest> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let mut reader = HashingReader::new(file);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => progress.advance(n as u64),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, "cannot read", e)),
        }
    }
    Ok(reader.finish())
}

/// Hashes `path` and refuses it unless `PATH.sha256` and
/// `PATH.manifest.json` beside it both describe these exact bytes under
/// this name.
pub fn check_artifact(path: &Path, progress: &dyn crate::Progress) -> Result<Artifact> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot read", e))?;
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "{}: not a file; publish a .zip, .cab or .exe package (a folder cannot be downloaded by a SEP client)",
            path.display()
        )));
    }
    let name = file_name(path)?;
    plain_name(&name).map_err(|reason| Error::Usage(format!("{}: {reason}", path.display())))?;
    if [SUMS, INDEX_JSON, INDEX_HTML].contains(&name.as_str())
        || name.ends_with(".sha256")
        || name.ends_with(".manifest.json")
    {
        return Err(Error::Usage(format!(
            "{}: that name is kept for the web root's own records; publish the package itself",
            path.display()
        )));
    }
    let sidecar_path = with_suffix(path, ".sha256");
    let manifest_path = with_suffix(path, ".manifest.json");
    let sidecar_at = sidecar_path.display().to_string();
    let manifest_at = manifest_path.display().to_string();
    let missing = |p: &Path| Error::Record {
        at: p.display().to_string(),
        reason: format!(
            "missing: every published package needs it beside it; `sepkg transform ... -o {}` writes it",
            path.display()
        ),
    };
    if !sidecar_path.is_file() {
        return Err(missing(&sidecar_path));
    }
    if !manifest_path.is_file() {
        return Err(missing(&manifest_path));
    }
    let sidecar_bytes = read_record(&sidecar_path)?;
    let (sidecar_hash, sidecar_name) = parse_sidecar(&String::from_utf8_lossy(&sidecar_bytes))
        .map_err(|reason| Error::Record {
            at: sidecar_at.clone(),
            reason,
        })?;
    let manifest_bytes = read_record(&manifest_path)?;
    let manifest = parse_manifest(&manifest_bytes, &manifest_at)?;

    progress.start(meta.len(), &format!("hashing {name}"));
    let digest = hash_file(path, progress)?;
    progress.finish();

    if let Some(n) = &sidecar_name
        && n != &name
    {
        return Err(Error::Record {
            at: sidecar_at,
            reason: format!(
                "names {n:?}, not {name:?}: `sha256sum -c` would look for the wrong file"
            ),
        });
    }
    if sidecar_hash != digest.sha256 {
        return Err(Error::Record {
            at: sidecar_at,
            reason: format!(
                "does not match {}: sidecar sha256 {sidecar_hash}, file sha256 {}",
                path.display(),
                digest.sha256
            ),
        });
    }
    let out = &manifest.output;
    if out.name != name {
        return Err(Error::Record {
            at: manifest_at,
            reason: format!("describes {:?}, not {name:?}", out.name),
        });
    }
    if out.sha256 != digest.sha256 || out.size != digest.size {
        return Err(Error::Record {
            at: manifest_at,
            reason: format!(
                "does not match {}: manifest says {} bytes, sha256 {}; the file is {} bytes, sha256 {}",
                path.display(),
                out.size,
                out.sha256,
                digest.size,
                digest.sha256
            ),
        });
    }
    Ok(Artifact {
        path: path.to_path_buf(),
        name,
        digest,
        manifest_bytes,
        manifest,
    })
}

/// A validated `--base-url`: http or https, ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Checks `url` and adds the final `/`.
    pub fn parse(url: &str) -> std::result::Result<BaseUrl, String> {
        let lower = url.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .ok_or_else(|| format!("{url:?}: the SEPM downloads over http:// or https:// only"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!("{url:?}: no host name"));
        }
        if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{url:?}: give the web root's folder URL, without spaces, query or fragment"
            ));
        }
        let mut s = url.to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        Ok(BaseUrl(s))
    }

    /// The URL of `name` in the web root, with the name percent-encoded.
    pub fn join(&self, name: &str) -> String {
        join_url(&self.0, name)
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `base` (ending in `/`) joined with a percent-encoded file name.
fn join_url(base: &str, name: &str) -> String {
    let mut url = base.to_string();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+()".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// What `publish` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The web root: an existing folder.
    pub webroot: PathBuf,
    /// The web root's URL, when given.
    pub base_url: Option<BaseUrl>,
    /// Replace a different file already published under the same name.
    pub replace: bool,
}

/// What happened to one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "action")]
pub enum Action {
    /// Newly published.
    Added,
    /// Replaced a different file of the same name (`--replace`).
    Replaced {
        /// SHA-256 of the file it replaced.
        previous_sha256: String,
    },
    /// Already published with the same bytes and records: nothing written.
    Unchanged,
}

/// One artifact's result.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// Where it came from.
    pub source: PathBuf,
    /// Where it is now.
    pub path: PathBuf,
    /// What was done.
    #[serde(flatten)]
    pub action: Action,
    /// Its index entry.
    #[serde(flatten)]
    pub entry: IndexEntry,
}

/// What `publish` did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The web root.
    pub webroot: PathBuf,
    /// The artifacts given, in order.
    pub packages: Vec<Published>,
    /// The web root's index after publishing.
    pub index: Index,
    /// The files written (renamed into place), in order; empty for a no-op.
    pub written: Vec<String>,
}

/// Publishes `artifacts` into `opts.webroot` (see the module docs).
pub fn publish(
    artifacts: &[PathBuf],
    opts: &Options,
    progress: &dyn crate::Progress,
) -> Result<Outcome> {
    let root = &opts.webroot;
    if !root.is_dir() {
        return Err(Error::Usage(format!(
            "--to {}: not an existing folder; create the web server's folder first",
            root.display()
        )));
    }
    let mut checked: Vec<Artifact> = Vec::new();
    for path in artifacts {
        let a = check_artifact(path, progress)?;
        if let Some(other) = checked.iter().find(|o| o.name == a.name) {
            return Err(Error::Usage(format!(
                "{} and {} would both be published as {:?}; rename one of them",
                other.path.display(),
                path.display(),
                a.name
            )));
        }
        checked.push(a);
    }

    let index_path = root.join(INDEX_JSON);
    let old_index = if index_path.exists() {
        let bytes = read_record(&index_path)?;
        Some(parse_index(&bytes, &index_path.display().to_string())?)
    } else {
        None
    };
    let base_url = match (
        &opts.base_url,
        old_index.as_ref().and_then(|i| i.base_url.as_ref()),
    ) {
        (Some(b), _) => Some(b.clone()),
        (None, Some(old)) => Some(BaseUrl::parse(old).map_err(|reason| Error::Record {
            at: index_path.display().to_string(),
            reason: format!("base_url: {reason}"),
        })?),
        (None, None) => None,
    };
    let mut entries: BTreeMap<String, IndexEntry> = old_index
        .iter()
        .flat_map(|i| i.packages.iter())
        .map(|p| (p.name.clone(), p.clone()))
        .collect();
    let now = rfc3339_utc(time::OffsetDateTime::now_utc());

    // Decide every artifact's fate before writing anything, so a refusal
    // leaves the web root untouched.
    let mut plans = Vec::new();
    for a in &checked {
        let target = root.join(&a.name);
        let sidecar = sidecar_line(&a.digest.sha256, &a.name);
        let action = match std::fs::symlink_metadata(&target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Action::Added,
            Err(e) => return Err(Error::io(&target, "cannot read", e)),
            Ok(m) if !m.is_file() => {
                return Err(Error::Usage(format!(
                    "{}: is a folder or link, not a published file; move it out of the web root",
                    target.display()
                )));
            }
            Ok(_) => {
                let existing = digest::of_file(&target)?;
                let same_records = existing.sha256 == a.digest.sha256
                    && read_if_file(&with_suffix(&target, ".sha256"))?.as_deref()
                        == Some(sidecar.as_bytes())
                    && read_if_file(&with_suffix(&target, ".manifest.json"))?.as_deref()
                        == Some(&a.manifest_bytes[..]);
                if same_records {
                    Action::Unchanged
                } else if !opts.replace {
                    if existing.sha256 == a.digest.sha256 {
                        return Err(Error::Record {
                            at: with_suffix(&target, ".manifest.json").display().to_string(),
                            reason: format!(
                                "{} is already published with the same bytes but a different .sha256 or manifest; pass --replace to update the records",
                                a.name
                            ),
                        });
                    }
                    return Err(Error::AlreadyPublished {
                        path: target,
                        existing: existing.sha256,
                        new: a.digest.sha256.clone(),
                    });
                } else {
                    Action::Replaced {
                        previous_sha256: existing.sha256,
                    }
                }
            }
        };
        let published = match (&action, entries.get(&a.name)) {
            (Action::Unchanged, Some(old)) if old.sha256 == a.digest.sha256 => {
                old.published.clone()
            }
            _ => now.clone(),
        };
        let entry = IndexEntry {
            name: a.name.clone(),
            kind: a.manifest.output.kind.clone(),
            size: a.digest.size,
            sha256: a.digest.sha256.clone(),
            product_version: a.manifest.product_version.clone(),
            built: a.manifest.built.clone(),
            published,
            sha256_file: format!("{}.sha256", a.name),
            manifest_file: format!("{}.manifest.json", a.name),
            url: None,
        };
        entries.insert(a.name.clone(), entry.clone());
        plans.push((a, target, sidecar, action, entry));
    }
    for e in entries.values_mut() {
        e.url = base_url.as_ref().map(|b| b.join(&e.name));
    }
    let index = Index {
        schema: INDEX_SCHEMA.to_string(),
        tool: crate::manifest::tool(),
        base_url: base_url.as_ref().map(|b| b.as_str().to_string()),
        packages: entries.into_values().collect(),
    };

    let mut tx = Transaction::new(root);
    let mut artifacts_tx = Vec::new();
    let mut records_tx = Vec::new();
    for (a, target, sidecar, action, _) in &plans {
        if *action == Action::Unchanged {
            continue;
        }
        artifacts_tx.push((stage_copy(root, a, progress)?, target.clone()));
        records_tx.push((
            stage_bytes(root, &a.name, sidecar.as_bytes())?,
            with_suffix(target, ".sha256"),
        ));
        records_tx.push((
            stage_bytes(root, &a.name, &a.manifest_bytes)?,
            with_suffix(target, ".manifest.json"),
        ));
    }
    tx.staged.extend(artifacts_tx);
    tx.staged.extend(records_tx);

    // The index files come from the index just built and from the records
    // on disk (or about to be); written only when their bytes change.
    let sums = render_sums(root, &index, &plans)?;
    let json = index_json(&index);
    let html = render_html(&index)?;
    for (name, bytes) in [
        (SUMS, sums.as_bytes()),
        (INDEX_JSON, &json[..]),
        (INDEX_HTML, html.as_bytes()),
    ] {
        let target = root.join(name);
        if read_if_file(&target)?.as_deref() != Some(bytes) {
            tx.staged.push((stage_bytes(root, name, bytes)?, target));
        }
    }
    let written = tx.commit()?;

    let packages = plans
        .into_iter()
        .map(|(a, target, _, action, _)| {
            let entry = index
                .packages
                .iter()
                .find(|e| e.name == a.name)
                .cloned()
                .ok_or_else(|| {
                    Error::Usage("internal: a published entry is not in the index".into())
                })?;
            Ok(Published {
                source: a.path.clone(),
                path: target,
                action,
                entry,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Outcome {
        webroot: root.clone(),
        packages,
        index,
        written,
    })
}

/// The file's bytes, or `None` when there is no such file.
fn read_if_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => read_record(path).map(Some),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, "cannot read", e)),
    }
}

/// `SHA256SUMS`: every artifact of the index (its hash from the index), and
/// the sidecar and manifest of each (hashed from what is being written, or
/// from the web root), sorted by name.
fn render_sums(
    root: &Path,
    index: &Index,
    plans: &[(&Artifact, PathBuf, String, Action, IndexEntry)],
) -> Result<String> {
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    for e in &index.packages {
        lines.insert(e.name.clone(), e.sha256.clone());
        let new = plans.iter().find(|p| p.0.name == e.name);
        for (file, staged) in [
            (&e.sha256_file, new.map(|p| p.2.as_bytes())),
            (&e.manifest_file, new.map(|p| &p.0.manifest_bytes[..])),
        ] {
            let sha = match staged {
                Some(bytes) => Some(digest::of_bytes(bytes).sha256),
                None => read_if_file(&root.join(file))?.map(|b| digest::of_bytes(&b).sha256),
            };
            if let Some(sha) = sha {
                lines.insert(file.clone(), sha);
            }
        }
    }
    Ok(lines
        .iter()
        .map(|(name, sha)| sidecar_line(sha, name))
        .collect())
}

/// `index.json` as pretty JSON with a final newline.
pub fn index_json(index: &Index) -> Vec<u8> {
    // Plain strings and numbers: serialising cannot fail.
    let mut bytes = serde_json::to_vec_pretty(index).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A size for people: `9.4 KiB`, `312.0 MiB`.
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if size < 1024 {
        return format!("{size} bytes");
    }
    let mut value = size as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `index.html`, from `templates/index.html`.
pub fn render_html(index: &Index) -> Result<String> {
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        entry: &'a IndexEntry,
        size_human: String,
        // Percent-encoded, so a name with `#`, `?` or a space still links.
        href: String,
        sha256_href: String,
        manifest_href: String,
    }
    let rows: Vec<Row<'_>> = index
        .packages
        .iter()
        .map(|entry| Row {
            entry,
            size_human: human_size(entry.size),
            href: join_url("", &entry.name),
            sha256_href: join_url("", &entry.sha256_file),
            manifest_href: join_url("", &entry.manifest_file),
        })
        .collect();
    let mut env = minijinja::Environment::new();
    let internal =
        |e: minijinja::Error| Error::Usage(format!("internal: templates/index.html: {e}"));
    // The `.html` name turns on HTML escaping of every value. minijinja's
    // own escaper also writes `/` as `&#x2f;`, which is valid but makes the
    // URLs in the page's source unreadable and unsearchable; `/` needs no
    // escaping in text or quoted attributes, so this one leaves it.
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() || value.is_none() {
            return Ok(());
        }
        let text = value.to_string();
        if value.is_safe() {
            out.write_str(&text)?;
        } else {
            out.write_str(&html_escape(&text))?;
        }
        Ok(())
    });
    env.add_template("index.html", TEMPLATE).map_err(internal)?;
    let template = env.get_template("index.html").map_err(internal)?;
    template
        .render(minijinja::context! {
            packages => rows,
            base_url => index.base_url,
            tool => index.tool,
            sums => SUMS,
            index_json => INDEX_JSON,
        })
        .map_err(internal)
}

/// Escapes text for HTML content and double- or single-quoted attributes.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A file staged under a hidden temporary name in the web root.
type Staged = (tempfile::TempPath, PathBuf);

/// A hidden temporary file in the web root, readable by the web server
/// (see `crate::atomic`).
fn stage_file(root: &Path, name: &str) -> Result<tempfile::NamedTempFile> {
    crate::atomic::temp_file(root, &format!(".{name}."), ".part")
        .map_err(|e| Error::io(root, "cannot create a temporary file in", e))
}

/// Copies the artifact into a temporary file in the web root, hashing the
/// bytes as they go, and fsyncs it.
fn stage_copy(
    root: &Path,
    a: &Artifact,
    progress: &dyn crate::Progress,
) -> Result<tempfile::TempPath> {
    let mut temp = stage_file(root, &a.name)?;
    let source = std::fs::File::open(&a.path).map_err(|e| Error::io(&a.path, "cannot read", e))?;
    let mut reader = HashingReader::new(source);
    let mut buf = vec![0u8; 1 << 20];
    progress.start(a.digest.size, &format!("copying {}", a.name));
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&a.path, "cannot read", e)),
        };
        temp.write_all(&buf[..n])
            .map_err(|e| Error::io(temp.path(), "cannot write", e))?;
        progress.advance(n as u64);
    }
    progress.finish();
    let copied = reader.finish();
    if copied != a.digest {
        return Err(Error::Record {
            at: a.path.display().to_string(),
            reason: format!(
                "changed while it was being published ({} bytes, sha256 {} when checked; {} bytes, sha256 {} when copied); publish it again once nothing writes to it",
                a.digest.size, a.digest.sha256, copied.size, copied.sha256
            ),
        });
    }
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io(temp.path(), "cannot write", e))?;
    Ok(temp.into_temp_path())
}

/// Writes `bytes` to a temporary file in the web root and fsyncs it.
fn stage_bytes(root: &Path, name: &str, bytes: &[u8]) -> Result<tempfile::TempPath> {
    let mut temp = stage_file(root, name)?;
    temp.write_all(bytes)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| Error::io(temp.path(), "cannot write", e))?;
    Ok(temp.into_temp_path())
}

/// Staged files and the names they take, renamed in order; all or nothing.
struct Transaction<'a> {
    root: &'a Path,
    staged: Vec<Staged>,
}

/// A rename made, and how to undo it.
struct Done {
    target: PathBuf,
    undo: Undo,
}

/// How to undo one rename.
enum Undo {
    /// The target was new: remove it.
    Remove,
    /// The target replaced a file: rename this hard link to it back.
    Restore(tempfile::TempPath),
    /// The target replaced a file that could not be linked (a filesystem
    /// without hard links): the new file stays, as removing it would leave
    /// nothing at all.
    Keep,
}

impl<'a> Transaction<'a> {
    fn new(root: &'a Path) -> Self {
        Transaction {
            root,
            staged: Vec::new(),
        }
    }

    /// Renames every staged file into place. On a failure, undoes the
    /// renames already made and returns the error; the staged files left
    /// are removed when dropped.
    fn commit(self) -> Result<Vec<String>> {
        let mut done: Vec<Done> = Vec::new();
        let mut written = Vec::new();
        let root = self.root;
        for (temp, target) in self.staged {
            match rename(root, temp, &target) {
                Ok(undo) => {
                    written.push(
                        target
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                    done.push(Done { target, undo });
                }
                Err(e) => {
                    for d in done.into_iter().rev() {
                        // Best effort: the error being reported matters more.
                        match d.undo {
                            Undo::Restore(backup) => {
                                let _ = crate::atomic::persist(backup, &d.target);
                            }
                            Undo::Remove => {
                                let _ = std::fs::remove_file(&d.target);
                            }
                            Undo::Keep => {}
                        }
                    }
                    sync_dir(root);
                    return Err(e);
                }
            }
        }
        sync_dir(root);
        Ok(written)
    }
}

/// Renames `temp` onto `target`, first keeping a hard link to the file it
/// replaces so the rename can be undone.
fn rename(root: &Path, temp: tempfile::TempPath, target: &Path) -> Result<Undo> {
    let undo = match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_file() => {
            let prefix = format!(
                ".{}.",
                target
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            tempfile::Builder::new()
                .prefix(&prefix)
                .suffix(".bak")
                .make_in(root, |p| std::fs::hard_link(target, p))
                .map_or(Undo::Keep, |f| Undo::Restore(f.into_temp_path()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Undo::Remove,
        // A folder or link in the way: the rename below fails, and there is
        // nothing of it to undo.
        _ => Undo::Keep,
    };
    crate::atomic::persist(temp, target)
        .map_err(|e| Error::io(target, "cannot rename into place", e))?;
    Ok(undo)
}

/// Makes the renames durable. Best effort: not every platform can open a
/// folder for syncing.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_forms() {
        let h = "a".repeat(64);
        assert_eq!(
            parse_sidecar(&format!("{h}  x.zip\n")).unwrap(),
            (h.clone(), Some("x.zip".into()))
        );
        assert_eq!(
            parse_sidecar(&format!("{h} *x.zip\n")).unwrap(),
            (h.clone(), Some("x.zip".into()))
        );
        assert_eq!(
            parse_sidecar(&format!("{}\n", h.to_uppercase())).unwrap(),
            (h.clone(), None)
        );
        assert!(parse_sidecar("abc  x.zip").is_err());
        assert!(parse_sidecar(&format!("{h}x.zip")).is_err());
        assert!(parse_sidecar("").is_err());
    }

    #[test]
    fn base_url_joins_and_encodes() {
        let b = BaseUrl::parse("https://sep.example.com/pkgs").unwrap();
        assert_eq!(
            b.join("SEP 14 x64.zip"),
            "https://sep.example.com/pkgs/SEP%2014%20x64.zip"
        );
        assert!(BaseUrl::parse("ftp://x/").is_err());
        assert!(BaseUrl::parse("https://").is_err());
        assert!(BaseUrl::parse("https://x/?a=b").is_err());
    }

    #[test]
    fn plain_names_only() {
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", ".hidden"] {
            assert!(plain_name(bad).is_err(), "{bad}");
        }
        assert!(plain_name("SEP-14.zip").is_ok());
    }

    #[test]
    fn html_is_escaped_but_urls_stay_readable() {
        let index = Index {
            schema: INDEX_SCHEMA.into(),
            tool: "t".into(),
            base_url: Some("https://h/p/".into()),
            packages: vec![IndexEntry {
                name: "<b>&\"x'.zip".into(),
                kind: "zip".into(),
                size: 1,
                sha256: "0".repeat(64),
                product_version: None,
                built: None,
                published: "2026-01-01T00:00:00Z".into(),
                sha256_file: "a.sha256".into(),
                manifest_file: "a.manifest.json".into(),
                url: Some("https://h/p/a.zip".into()),
            }],
        };
        let html = render_html(&index).unwrap();
        assert!(html.contains("&lt;b&gt;&amp;&quot;x&#39;.zip"), "{html}");
        assert!(!html.contains("<b>&"));
        assert!(html.contains("href=\"%3Cb%3E%26%22x%27.zip\""), "{html}");
        assert!(html.contains(">https://h/p/a.zip<"));
        assert!(html.contains("<td class=\"num\">unknown</td>"));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(10), "10 bytes");
        assert_eq!(human_size(9611), "9.4 KiB");
        assert_eq!(human_size(300 << 20), "300.0 MiB");
    }
}
