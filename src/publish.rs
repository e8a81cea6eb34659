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
//! 3. Under the web root's lock ([`crate::webroot::Held`]), the index is
//!    read afresh and everything new is staged in the web root's hidden
//!    `.sepkg-staging/` folder (which a web server denying dot-files never
//!    serves) and fsynced, then renamed into place in one [`Transaction`]:
//!    artifacts first, then sidecars and manifests, then `SHA256SUMS`,
//!    `index.json`, `index.html`. A web server therefore never serves half a
//!    file, and never a `SHA256SUMS` naming a file that is not there yet. If
//!    a rename fails, the ones already made are undone (replaced files come
//!    back from hard-linked backups), so the web root is as it was.
//!
//! What it cannot undo (see [`crate::atomic`] for the exact guarantee): a
//! process killed (SIGKILL) between two renames leaves the renames made so
//! far (each file is still whole) and hidden `.NAME.*.bak` files or a
//! `.sepkg-staging/` folder, which `sepkg verify WEBROOT` reports and
//! `sepkg reindex --clean` removes. SIGINT, SIGTERM and SIGHUP remove them
//! ([`crate::interrupt`]). Concurrent publishes into one web root wait for
//! each other's lock, and each re-reads the index under it, so all land.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use tempfile::TempPath;

use crate::atomic::{self, Transaction};
use crate::digest::{self, Digest, HashingReader};
use crate::error::{Error, Result};
use crate::manifest::rfc3339_utc;
use crate::record::{
    self, INDEX_HTML, INDEX_JSON, INDEX_SCHEMA, Index, IndexEntry, ManifestSummary, SUMS,
    manifest_path, parse_index, parse_manifest, parse_sidecar, plain_name, read_if_file,
    read_record, sidecar_line, sidecar_path,
};
use crate::records_sig::{self, SigningKey};
use crate::webroot::Held;

const TEMPLATE: &str = include_str!("../templates/index.html");

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
        || name.ends_with(record::SIDECAR_SUFFIX)
        || name.ends_with(record::MANIFEST_SUFFIX)
        || name.ends_with(records_sig::SIG_SUFFIX)
    {
        return Err(Error::Usage(format!(
            "{}: that name is kept for the web root's own records; publish the package itself",
            path.display()
        )));
    }
    let sidecar_path = sidecar_path(path);
    let manifest_path = manifest_path(path);
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
    let record::Sidecar {
        sha256: sidecar_hash,
        name: sidecar_name,
    } = parse_sidecar(&String::from_utf8_lossy(&sidecar_bytes))
        .map_err(|reason| Error::record(&sidecar_at, reason))?;
    let manifest_bytes = read_record(&manifest_path)?;
    let manifest = parse_manifest(&manifest_bytes, &manifest_at)?;

    progress.start(meta.len(), &format!("hashing {name}"));
    let digest = digest::of_file_with(path, progress)?;
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
        // Not allowed unencoded in a URL, and they would break out of the
        // attribute the URL goes into in index.html.
        if let Some(c) = url
            .chars()
            .find(|c| matches!(c, '"' | '<' | '>' | '`' | '\\'))
        {
            return Err(format!(
                "{url:?}: {c:?} cannot stand in a URL as it is: percent-encode it (\" is %22, < is %3C, > is %3E)"
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
    /// Sign `SHA256SUMS` and `index.json` with this key (see
    /// [`crate::records_sig`]); without it a signed web root is refused.
    pub sign: Option<SigningKey>,
    /// How long to wait for another publish's lock; `None`: as long as it takes.
    pub lock_timeout: Option<std::time::Duration>,
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
    /// The id of the key that signs the records, with `--sign-key`.
    pub signed_by: Option<String>,
    /// What the user should know (an artifact a URL cannot deliver).
    pub warnings: Vec<String>,
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
    records_sig::refuse_unsigned(root, opts.sign.is_some(), "publishing")?;
    let checked = check_artifacts(artifacts, progress)?;
    // From here to the commit, no other sepkg changes this web root.
    let held = Held::lock(root, opts.lock_timeout, progress)?;
    let index_path = root.join(INDEX_JSON);
    let old_index = read_index(root)?;
    let base_url = base_url(opts, old_index.as_ref(), &index_path)?;
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
        let plan = plan(root, a, opts.replace)?;
        let published = match (&plan.action, entries.get(&a.name)) {
            (Action::Unchanged, Some(old)) if old.sha256 == a.digest.sha256 => {
                old.published.clone()
            }
            _ => now.clone(),
        };
        entries.insert(a.name.clone(), index_entry(a, published));
        plans.push(plan);
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

    let mut tx = Transaction::new();
    stage_artifacts(held.staging(), &plans, &mut tx, progress)?;
    let records = stage_index(root, held.staging(), &index, &plans, &mut tx)?;
    records_sig::stage(root, held.staging(), opts.sign.as_ref(), &records, &mut tx)?;
    let written = tx.commit()?.written;
    drop(held);
    let warnings = if base_url.is_some() {
        checked.iter().filter_map(url_warning).collect()
    } else {
        Vec::new()
    };
    let packages = plans
        .into_iter()
        .map(|plan| {
            let entry = index
                .packages
                .iter()
                .find(|e| e.name == plan.artifact.name)
                .cloned()
                .ok_or_else(|| Error::internal("a published entry is not in the index"))?;
            Ok(Published {
                source: plan.artifact.path.clone(),
                path: plan.target,
                action: plan.action,
                entry,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Outcome {
        webroot: root.clone(),
        packages,
        index,
        written,
        signed_by: opts.sign.as_ref().map(SigningKey::key_id),
        warnings,
    })
}

/// The SEPM's "Download from the following URL" option downloads one file
/// and runs it: anything but a single-file .exe cannot work there.
fn url_warning(a: &Artifact) -> Option<String> {
    if a.manifest.output.kind == "exe" {
        return None;
    }
    Some(format!(
        "{} is a {}, not a single-file .exe: the SEPM's \"Download from the following URL (http or https)\" option downloads one file and runs it, so clients cannot install from this URL; make a single-file setup.exe with `sepkg transform EXPORT --sylink managed.xml --to exe --stub EXPORT.exe -o setup.exe` (EXPORT.exe: a single-file export from the SEPM) and publish that",
        a.name, a.manifest.output.kind
    ))
}

/// The web root's `index.json`, when there is one.
pub(crate) fn read_index(root: &Path) -> Result<Option<Index>> {
    let index_path = root.join(INDEX_JSON);
    if !index_path.exists() {
        return Ok(None);
    }
    let bytes = read_record(&index_path)?;
    parse_index(&bytes, &index_path.display().to_string()).map(Some)
}

/// Checks every artifact ([`check_artifact`]) and refuses two that would
/// take one name.
fn check_artifacts(artifacts: &[PathBuf], progress: &dyn crate::Progress) -> Result<Vec<Artifact>> {
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
    Ok(checked)
}

/// The base URL: `--base-url`, else the one `index.json` remembers.
pub(crate) fn base_url(
    opts: &Options,
    old: Option<&Index>,
    index_path: &Path,
) -> Result<Option<BaseUrl>> {
    Ok(
        match (&opts.base_url, old.and_then(|i| i.base_url.as_ref())) {
            (Some(b), _) => Some(b.clone()),
            (None, Some(old)) => Some(BaseUrl::parse(old).map_err(|reason| {
                Error::record(index_path.display(), format!("base_url: {reason}"))
            })?),
            (None, None) => None,
        },
    )
}

/// What publish does with one checked artifact.
pub(crate) struct Plan<'a> {
    artifact: &'a Artifact,
    /// Where it goes in the web root.
    target: PathBuf,
    /// Its `.sha256` line.
    sidecar: String,
    action: Action,
}

/// Decides what to do with `a`: add it, leave it (same bytes and records
/// already there), replace it (only with `replace`), or refuse.
fn plan<'a>(root: &Path, a: &'a Artifact, replace: bool) -> Result<Plan<'a>> {
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
                && read_if_file(&sidecar_path(&target))?.as_deref() == Some(sidecar.as_bytes())
                && read_if_file(&manifest_path(&target))?.as_deref() == Some(&a.manifest_bytes[..]);
            if same_records {
                Action::Unchanged
            } else if !replace {
                if existing.sha256 == a.digest.sha256 {
                    return Err(Error::record(
                        manifest_path(&target).display(),
                        format!(
                            "{} is already published with the same bytes but a different .sha256 or manifest; pass --replace to update the records",
                            a.name
                        ),
                    ));
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
    Ok(Plan {
        artifact: a,
        target,
        sidecar,
        action,
    })
}

/// `a`'s `index.json` entry (its URL is set once the base URL is known).
pub(crate) fn index_entry(a: &Artifact, published: String) -> IndexEntry {
    IndexEntry {
        name: a.name.clone(),
        kind: a.manifest.output.kind.clone(),
        size: a.digest.size,
        sha256: a.digest.sha256.clone(),
        product_version: a.manifest.product_version.clone(),
        built: a.manifest.built.clone(),
        published,
        sha256_file: format!("{}{}", a.name, record::SIDECAR_SUFFIX),
        manifest_file: format!("{}{}", a.name, record::MANIFEST_SUFFIX),
        url: None,
    }
}

/// Stages each artifact that changes, then its sidecar and manifest: the
/// artifacts are renamed first, then their records, so a web server never
/// lists a file that is not there yet.
fn stage_artifacts(
    staging: &Path,
    plans: &[Plan<'_>],
    tx: &mut Transaction,
    progress: &dyn crate::Progress,
) -> Result<()> {
    let mut records = Vec::new();
    for plan in plans.iter().filter(|p| p.action != Action::Unchanged) {
        let a = plan.artifact;
        tx.put(stage_copy(staging, a, progress)?, plan.target.clone());
        records.push((
            stage_bytes(staging, &a.name, plan.sidecar.as_bytes())?,
            sidecar_path(&plan.target),
        ));
        records.push((
            stage_bytes(staging, &a.name, &a.manifest_bytes)?,
            manifest_path(&plan.target),
        ));
    }
    for (staged, target) in records {
        tx.put(staged, target);
    }
    Ok(())
}

/// Stages `SHA256SUMS`, `index.json` and `index.html` in `staging`, from
/// the index just built and the records on disk (or about to be), each only
/// when its bytes change. Returns the final bytes of `SHA256SUMS` and
/// `index.json`, the records that are signed.
pub(crate) fn stage_index(
    root: &Path,
    staging: &Path,
    index: &Index,
    plans: &[Plan<'_>],
    tx: &mut Transaction,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let sums = render_sums(root, index, plans)?;
    let json = record::index_json(index);
    let html = render_html(index)?;
    for (name, bytes) in [
        (SUMS, sums.as_bytes()),
        (INDEX_JSON, &json[..]),
        (INDEX_HTML, html.as_bytes()),
    ] {
        let target = root.join(name);
        if read_if_file(&target)?.as_deref() != Some(bytes) {
            tx.put(stage_bytes(staging, name, bytes)?, target);
        }
    }
    Ok(vec![(SUMS, sums.into_bytes()), (INDEX_JSON, json)])
}

/// `SHA256SUMS`: every artifact of the index (its hash from the index), and
/// the sidecar and manifest of each (hashed from what is being written, or
/// from the web root), sorted by name.
fn render_sums(root: &Path, index: &Index, plans: &[Plan<'_>]) -> Result<String> {
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    for e in &index.packages {
        lines.insert(e.name.clone(), e.sha256.clone());
        let new = plans.iter().find(|p| p.artifact.name == e.name);
        for (file, staged) in [
            (&e.sha256_file, new.map(|p| p.sidecar.as_bytes())),
            (
                &e.manifest_file,
                new.map(|p| &p.artifact.manifest_bytes[..]),
            ),
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
    Ok(record::render_sums(&lines))
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
    // The template is compiled in: any failure is a bug, not bad input.
    let internal = |e: minijinja::Error| Error::internal(format!("templates/index.html: {e}"));
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

/// Copies the artifact into a temporary file in the staging folder, hashing
/// the bytes as they go, and fsyncs it.
fn stage_copy(root: &Path, a: &Artifact, progress: &dyn crate::Progress) -> Result<TempPath> {
    let mut temp = atomic::temp_file(root, &atomic::hidden_prefix(&a.name), ".part")?;
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

/// Writes `bytes` to a temporary file in the staging folder (named after
/// the artifact `name`) and fsyncs it.
fn stage_bytes(root: &Path, name: &str, bytes: &[u8]) -> Result<TempPath> {
    atomic::stage_bytes(root, &atomic::hidden_prefix(name), ".part", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
