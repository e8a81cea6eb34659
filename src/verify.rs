//! `sepkg verify`: recompute SHA-256 and compare it with the records.
//!
//! Three kinds of target:
//! - an **artifact**: against the `.sha256` and `.manifest.json` beside it
//!   (and `--expect FILE`);
//! - a **web root**: every file in `SHA256SUMS` and every package in
//!   `index.json` (artifact, sidecar, manifest), plus files present that no
//!   record lists and listed files that are missing;
//! - an **`http://` or `https://` URL**: downloaded as a stream (never held in
//!   memory), hashed as it arrives, and compared with `--expect FILE` (a
//!   sidecar, a manifest, an `index.json` or the artifact itself) or with the
//!   `index.json` beside the URL on the server.
//!
//! A mismatch is not an error: it is a [`Report`] with failed [`Check`]s
//! (exit 1). An error (unreachable server, HTTP error status, unreadable
//! file) is an [`Error`] (exit 2).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::digest::{self, Digest, HashingReader};
use crate::error::{Error, Result};
use crate::record::{
    self, INDEX_HTML, INDEX_JSON, Index, IndexEntry, MAX_RECORD, Record, SUMS, Sidecar,
    manifest_path, parse_index, parse_manifest, parse_sidecar, parse_sums, read_record,
    sidecar_path,
};
use crate::records_sig::{self, SIG_SUFFIX, SignatureCheck, SignatureStatus, TrustedKey};

/// What was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The SHA-256.
    Sha256,
    /// The size in bytes.
    Size,
    /// The file name a record gives.
    Name,
    /// Whether a listed file exists.
    Present,
    /// Whether a present file is listed.
    Listed,
    /// A record's minisign signature (`--trusted-key`).
    Signature,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The file or URL checked.
    pub subject: String,
    /// The record it is checked against.
    pub record: String,
    /// What is compared.
    pub field: Field,
    /// What the record says.
    pub expected: String,
    /// What was found.
    pub got: String,
    /// True when they agree.
    pub ok: bool,
}

impl Check {
    fn new(
        subject: &str,
        record: &str,
        field: Field,
        expected: impl ToString,
        got: impl ToString,
    ) -> Check {
        let (expected, got) = (expected.to_string(), got.to_string());
        Check {
            subject: subject.to_string(),
            record: record.to_string(),
            field,
            ok: expected == got,
            expected,
            got,
        }
    }
}

/// The kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A file.
    Artifact,
    /// A published folder.
    Webroot,
    /// A `transform --to dir` output, against `DIR.manifest.json` and `DIR.sha256`.
    Folder,
    /// A URL.
    Url,
}

/// The result of verifying a target.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The target as given.
    pub target: String,
    /// What it is.
    pub kind: TargetKind,
    /// True when every check passed.
    pub verified: bool,
    /// Artifact and URL: what was downloaded or read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// URL: the URL that answered, after redirects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    /// URL: each redirect followed, in order (empty when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirects: Option<Vec<String>>,
    /// Every comparison made.
    pub checks: Vec<Check>,
    /// Web root and URL: the records' signatures (checked with
    /// `--trusted-key`, else only reported when present).
    pub signatures: Vec<SignatureCheck>,
}

impl Report {
    fn new(target: &str, kind: TargetKind, checks: Vec<Check>) -> Report {
        Report {
            target: target.to_string(),
            kind,
            verified: checks.iter().all(|c| c.ok),
            digest: None,
            final_url: None,
            redirects: None,
            checks,
            signatures: Vec::new(),
        }
    }

    /// Adds the records' signatures, each one checked a failed check unless
    /// good.
    fn with_signatures(mut self, signatures: Vec<SignatureCheck>) -> Report {
        for s in signatures
            .iter()
            .filter(|s| s.status != SignatureStatus::NotChecked)
        {
            let id = s.key_id.as_deref().unwrap_or("?");
            let expected = format!("a good signature by trusted key {id}");
            let got = match s.status {
                SignatureStatus::Verified => expected.clone(),
                _ => s.reason.clone().unwrap_or_default(),
            };
            self.checks.push(Check::new(
                &s.record,
                &s.signature,
                Field::Signature,
                expected,
                got,
            ));
        }
        self.verified = self.checks.iter().all(|c| c.ok);
        self.signatures = signatures;
        self
    }

    /// The checks that failed.
    pub fn mismatches(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// What a record says a file should be.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Where the record is (file or URL), for reports.
    pub record: String,
    /// The size, when the record gives one (a sidecar does not).
    pub size: Option<u64>,
    /// The SHA-256.
    pub sha256: String,
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Connecting, waiting for a response, and each read of the body (a
    /// stalled transfer) may each take this long.
    pub timeout: Duration,
    /// A PEM file of certificate authorities to trust for https instead of
    /// the public web PKI roots (Mozilla's, built in): for a web server
    /// whose certificate comes from an internal CA.
    pub ca_cert: Option<std::path::PathBuf>,
}

/// Verifies `target`: a URL, a folder (web root) or a file (artifact);
/// with `trusted`, a web root's or URL's records must be signed by it.
pub fn run(
    target: &str,
    expect: Option<&Path>,
    trusted: Option<&TrustedKey>,
    http: &HttpOptions,
    progress: &dyn crate::Progress,
) -> Result<Report> {
    if trusted.is_some() && expect.is_some() {
        return Err(Error::Usage(
            "--trusted-key checks the records on the server (index.json.minisig); with --expect FILE the record is your own file, which the key does not cover: give one or the other".into(),
        ));
    }
    if is_url(target) {
        return url(target, expect, trusted, http, progress);
    }
    let path = Path::new(target);
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot read", e))?;
    if let Some(kind) = crate::limits::special_kind(&meta) {
        // Hashing a FIFO would wait for a writer; a device never ends.
        return Err(Error::Usage(format!(
            "{}: it is {kind}, not an artifact or a web root folder",
            path.display()
        )));
    }
    if meta.is_dir() {
        if expect.is_some() {
            return Err(Error::Usage(
                "--expect applies to an artifact or a URL; a web root is checked against its own SHA256SUMS and index.json".into(),
            ));
        }
        let is_output = !path.join(SUMS).exists()
            && !path.join(INDEX_JSON).exists()
            && (manifest_path(path).is_file() || sidecar_path(path).is_file());
        if !is_output {
            webroot(path, trusted, progress)
        } else if trusted.is_some() {
            Err(Error::Usage(format!(
                "{target}: a `--to dir` output is checked against its own manifest; --trusted-key checks a web root's signed records"
            )))
        } else {
            folder(path, progress)
        }
    } else if trusted.is_some() {
        Err(Error::Usage(format!(
            "{target}: --trusted-key checks a web root's signed records: give the web root's folder or the package's URL"
        )))
    } else {
        artifact(path, expect, progress)
    }
}

/// True for an `http://` or `https://` target.
pub fn is_url(target: &str) -> bool {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The record in `--expect FILE`, for the artifact called `name`. Told apart
/// by content: a sepkg manifest, a sepkg `index.json`, a sidecar, or else the
/// artifact itself (hashed).
pub fn load_expected(file: &Path, name: &str) -> Result<Expected> {
    let record = file.display().to_string();
    let meta = std::fs::metadata(file).map_err(|e| Error::io(file, "cannot read", e))?;
    if meta.len() <= MAX_RECORD {
        let bytes = read_record(file)?;
        if let Some(e) = expected_from_record(&bytes, &record, name)? {
            return Ok(e);
        }
    }
    let d = digest::of_file(file)?;
    Ok(Expected {
        record,
        size: Some(d.size),
        sha256: d.sha256,
    })
}

/// A manifest, index or sidecar in `bytes`; `None` when it is none of them.
fn expected_from_record(bytes: &[u8], record: &str, name: &str) -> Result<Option<Expected>> {
    Ok(match record::identify(bytes, record)? {
        Some(Record::Manifest(m)) => Some(Expected {
            record: record.to_string(),
            size: Some(m.output.size),
            sha256: m.output.sha256,
        }),
        Some(Record::Index(index)) => Some(expected_from_index(&index, record, name)?),
        Some(Record::Sidecar(sidecar)) => Some(Expected {
            record: record.to_string(),
            size: None,
            sha256: sidecar.sha256,
        }),
        None => None,
    })
}

fn expected_from_index(index: &Index, record: &str, name: &str) -> Result<Expected> {
    let entry = index
        .packages
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::Record {
            at: record.to_string(),
            reason: format!(
                "lists no package named {name:?} (it lists: {}); give the record with --expect FILE",
                index
                    .packages
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    Ok(Expected {
        record: record.to_string(),
        size: Some(entry.size),
        sha256: entry.sha256.clone(),
    })
}

fn compare(subject: &str, expected: &Expected, got: &Digest, checks: &mut Vec<Check>) {
    if let Some(size) = expected.size {
        checks.push(Check::new(
            subject,
            &expected.record,
            Field::Size,
            size,
            got.size,
        ));
    }
    checks.push(Check::new(
        subject,
        &expected.record,
        Field::Sha256,
        &expected.sha256,
        &got.sha256,
    ));
}

/// Verifies one file against the records beside it and `expect`.
pub fn artifact(
    path: &Path,
    expect: Option<&Path>,
    progress: &dyn crate::Progress,
) -> Result<Report> {
    let subject = path.display().to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sidecar = sidecar_path(path);
    let manifest = manifest_path(path);
    if !sidecar.is_file() && !manifest.is_file() && expect.is_none() {
        return Err(Error::Record {
            at: subject,
            reason: format!(
                "nothing to check it against: no {name}.sha256 or {name}.manifest.json beside it"
            ),
        });
    }
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, "cannot read", e))?
        .len();
    progress.start(size, &format!("hashing {name}"));
    let got = digest::of_file_with(path, progress)?;
    progress.finish();

    let mut checks = Vec::new();
    if sidecar.is_file() {
        let record = sidecar.display().to_string();
        let text = String::from_utf8_lossy(&read_record(&sidecar)?).into_owned();
        let Sidecar {
            sha256,
            name: named,
        } = parse_sidecar(&text).map_err(|reason| Error::record(&record, reason))?;
        if let Some(named) = named {
            checks.push(Check::new(&subject, &record, Field::Name, named, &name));
        }
        checks.push(Check::new(
            &subject,
            &record,
            Field::Sha256,
            sha256,
            &got.sha256,
        ));
    }
    if manifest.is_file() {
        let record = manifest.display().to_string();
        let m = parse_manifest(&read_record(&manifest)?, &record)?;
        checks.push(Check::new(
            &subject,
            &record,
            Field::Name,
            &m.output.name,
            &name,
        ));
        checks.push(Check::new(
            &subject,
            &record,
            Field::Size,
            m.output.size,
            got.size,
        ));
        checks.push(Check::new(
            &subject,
            &record,
            Field::Sha256,
            &m.output.sha256,
            &got.sha256,
        ));
    }
    if let Some(file) = expect {
        compare(&subject, &load_expected(file, &name)?, &got, &mut checks);
    }
    let mut report = Report::new(&subject, TargetKind::Artifact, checks);
    report.digest = Some(got);
    Ok(report)
}

/// Verifies a web root written by `sepkg publish` (its records signed by
/// `trusted`, when given).
pub fn webroot(
    dir: &Path,
    trusted: Option<&TrustedKey>,
    progress: &dyn crate::Progress,
) -> Result<Report> {
    let target = dir.display().to_string();
    let mut checks = Vec::new();
    let records = WebRootRecords::read(dir, &mut checks)?;
    let listed = records.listed();
    let digests = hash_listed(dir, &listed, progress)?;
    let digest_of = |name: &str| digests.get(name).cloned().flatten();

    for (name, sha) in records.sums.iter().flatten() {
        match digest_of(name) {
            Some(d) => checks.push(Check::new(name, SUMS, Field::Sha256, sha, &d.sha256)),
            None => checks.push(Check::new(name, SUMS, Field::Present, "present", "missing")),
        }
    }
    for p in records.index.iter().flat_map(|i| i.packages.iter()) {
        match digest_of(&p.name) {
            Some(d) => check_package(dir, p, &d, records.sums.as_deref(), &mut checks)?,
            None => checks.push(Check::new(
                &p.name,
                INDEX_JSON,
                Field::Present,
                "present",
                "missing",
            )),
        }
    }
    check_unlisted(dir, &listed, &mut checks)?;
    let signatures = records_sig::check_webroot(dir, &records.raw, trusted)?;
    Ok(Report::new(&target, TargetKind::Webroot, checks).with_signatures(signatures))
}

/// One file of a folder output, as its manifest lists it.
#[derive(serde::Deserialize)]
struct FolderEntry {
    name: String,
    size: u64,
    sha256: String,
}

/// A folder output's manifest: what the check needs of it.
#[derive(serde::Deserialize)]
struct FolderManifest {
    output: record::OutputSummary,
    entries: Vec<FolderEntry>,
}

/// Verifies a `transform --to dir` output: every file against
/// `DIR.manifest.json` (changed, missing and extra files are mismatches),
/// and `DIR.sha256`'s listing against the manifest's output digest.
pub fn folder(dir: &Path, progress: &dyn crate::Progress) -> Result<Report> {
    let target = dir.display().to_string();
    let mpath = manifest_path(dir);
    let record = mpath.display().to_string();
    if !mpath.is_file() {
        return Err(Error::record(
            &target,
            format!("a folder output needs its manifest beside it: {record} is missing"),
        ));
    }
    let m: FolderManifest = serde_json::from_slice(&read_record(&mpath)?)
        .map_err(|e| Error::record(&record, format!("not a sepkg manifest: {e}")))?;
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut checks = vec![Check::new(
        &target,
        &record,
        Field::Name,
        &m.output.name,
        &base,
    )];
    let present = files_under(dir)?;
    let total = present.values().sum();
    progress.start(total, &format!("hashing {base}/"));
    let mut listing = Vec::new();
    for e in &m.entries {
        let subject = format!("{base}/{}", e.name);
        if e.name.ends_with('/') {
            let ok = dir.join(&e.name).is_dir();
            checks.push(Check::new(
                &subject,
                &record,
                Field::Present,
                "present",
                if ok { "present" } else { "missing" },
            ));
            continue;
        }
        let path = dir.join(&e.name);
        if !present.contains_key(&e.name) {
            checks.push(Check::new(
                &subject,
                &record,
                Field::Present,
                "present",
                "missing",
            ));
            listing.push((e.sha256.clone(), e.name.clone()));
            continue;
        }
        let d = digest::of_file_with(&path, progress)?;
        checks.push(Check::new(&subject, &record, Field::Size, e.size, d.size));
        checks.push(Check::new(
            &subject,
            &record,
            Field::Sha256,
            &e.sha256,
            &d.sha256,
        ));
        listing.push((d.sha256, e.name.clone()));
    }
    progress.finish();
    for name in present
        .keys()
        .filter(|n| !m.entries.iter().any(|e| &e.name == *n))
    {
        checks.push(Check::new(
            &format!("{base}/{name}"),
            &record,
            Field::Listed,
            "listed",
            "not listed",
        ));
    }
    check_listing(dir, &base, &m, &listing, &mut checks)?;
    Ok(Report::new(&target, TargetKind::Folder, checks))
}

/// The output digest is that of the listing `DIR.sha256` holds: of the
/// files found (`listing`), and of the sidecar itself.
fn check_listing(
    dir: &Path,
    base: &str,
    m: &FolderManifest,
    listing: &[(String, String)],
    checks: &mut Vec<Check>,
) -> Result<()> {
    let target = dir.display().to_string();
    let record = manifest_path(dir).display().to_string();
    let text = crate::package::listing(
        &format!("{base}/"),
        listing
            .iter()
            .map(|(sha, name)| (sha.as_str(), name.as_str())),
    );
    checks.push(Check::new(
        &target,
        &record,
        Field::Sha256,
        &m.output.sha256,
        digest::of_bytes(text.as_bytes()).sha256,
    ));
    let spath = sidecar_path(dir);
    if spath.is_file() {
        let sidecar = read_record(&spath)?;
        let srecord = spath.display().to_string();
        checks.push(Check::new(
            &target,
            &srecord,
            Field::Sha256,
            &m.output.sha256,
            digest::of_bytes(&sidecar).sha256,
        ));
    }
    Ok(())
}

/// Every file under `dir`, by `/`-separated relative name, with its size.
fn files_under(dir: &Path) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| Error::io(&d, "cannot list", e))? {
            let e = e.map_err(|e| Error::io(&d, "cannot list", e))?;
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            let meta = std::fs::symlink_metadata(e.path())
                .map_err(|err| Error::io(e.path(), "cannot read", err))?;
            if meta.is_dir() {
                stack.push((e.path(), format!("{name}/")));
            } else {
                out.insert(name, meta.len());
            }
        }
    }
    Ok(out)
}

/// A web root's own records: `SHA256SUMS` and `index.json`, each when
/// present.
struct WebRootRecords {
    sums: Option<Vec<(String, String)>>,
    index: Option<Index>,
    /// The bytes of each record read, for checking its signature.
    raw: Vec<(&'static str, Vec<u8>)>,
}

impl WebRootRecords {
    /// Reads both; a missing one (and a missing `index.html` beside an
    /// `index.json`) is a failed check, both missing is not a web root.
    fn read(dir: &Path, checks: &mut Vec<Check>) -> Result<WebRootRecords> {
        let target = dir.display().to_string();
        let sums_path = dir.join(SUMS);
        let index_path = dir.join(INDEX_JSON);
        if !sums_path.is_file() && !index_path.is_file() {
            return Err(Error::record(
                target,
                format!("not a web root published by sepkg: no {SUMS} or {INDEX_JSON} in it"),
            ));
        }
        let missing = |name: &str| Check::new(name, &target, Field::Present, "present", "missing");
        let mut raw = Vec::new();
        let sums = if sums_path.is_file() {
            let bytes = read_record(&sums_path)?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            raw.push((SUMS, bytes));
            Some(parse_sums(&text, &sums_path.display().to_string())?)
        } else {
            checks.push(missing(SUMS));
            None
        };
        let index = if index_path.is_file() {
            let at = index_path.display().to_string();
            let bytes = read_record(&index_path)?;
            let index = parse_index(&bytes, &at)?;
            raw.push((INDEX_JSON, bytes));
            Some(index)
        } else {
            checks.push(missing(INDEX_JSON));
            None
        };
        if index.is_some() && !dir.join(INDEX_HTML).is_file() {
            checks.push(missing(INDEX_HTML));
        }
        Ok(WebRootRecords { sums, index, raw })
    }

    /// Every name any record lists, the records themselves included.
    fn listed(&self) -> BTreeSet<String> {
        let mut listed: BTreeSet<String> = [SUMS, INDEX_JSON, INDEX_HTML]
            .iter()
            .map(|s| s.to_string())
            .chain(records_sig::signature_files())
            .collect();
        for (name, _) in self.sums.iter().flatten() {
            listed.insert(name.clone());
        }
        for p in self.index.iter().flat_map(|i| i.packages.iter()) {
            listed.insert(p.name.clone());
            listed.insert(p.sha256_file.clone());
            listed.insert(p.manifest_file.clone());
        }
        listed
    }
}

/// The digest of each listed file that is there (`None` for one that is
/// not a file), each hashed once, under one progress bar.
fn hash_listed(
    dir: &Path,
    listed: &BTreeSet<String>,
    progress: &dyn crate::Progress,
) -> Result<BTreeMap<String, Option<Digest>>> {
    let total: u64 = listed
        .iter()
        .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    progress.start(total, "hashing the web root");
    let mut digests = BTreeMap::new();
    for name in listed {
        let path = dir.join(name);
        let d = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => Some(digest::of_file_with(&path, progress)?),
            _ => None,
        };
        digests.insert(name.clone(), d);
    }
    progress.finish();
    Ok(digests)
}

/// One `index.json` package that is present (digest `d`): against the
/// index, `SHA256SUMS`, its sidecar and its manifest.
fn check_package(
    dir: &Path,
    p: &IndexEntry,
    d: &Digest,
    sums: Option<&[(String, String)]>,
    checks: &mut Vec<Check>,
) -> Result<()> {
    checks.push(Check::new(&p.name, INDEX_JSON, Field::Size, p.size, d.size));
    checks.push(Check::new(
        &p.name,
        INDEX_JSON,
        Field::Sha256,
        &p.sha256,
        &d.sha256,
    ));
    if let Some(sums) = sums {
        let in_sums = sums.iter().any(|(n, _)| n == &p.name);
        checks.push(Check::new(
            &p.name,
            SUMS,
            Field::Listed,
            "listed",
            if in_sums { "listed" } else { "not listed" },
        ));
    }
    check_package_sidecar(dir, p, d, checks)?;
    check_package_manifest(dir, p, d, checks)
}

/// A published package's `.sha256` against its digest.
fn check_package_sidecar(
    dir: &Path,
    p: &IndexEntry,
    d: &Digest,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let sidecar_path = dir.join(&p.sha256_file);
    if !sidecar_path.is_file() {
        checks.push(Check::new(
            &p.sha256_file,
            INDEX_JSON,
            Field::Present,
            "present",
            "missing",
        ));
        return Ok(());
    }
    let text = String::from_utf8_lossy(&read_record(&sidecar_path)?).into_owned();
    match parse_sidecar(&text) {
        Ok(Sidecar {
            sha256: sha,
            name: named,
        }) => {
            if let Some(named) = named {
                checks.push(Check::new(
                    &p.name,
                    &p.sha256_file,
                    Field::Name,
                    named,
                    &p.name,
                ));
            }
            checks.push(Check::new(
                &p.name,
                &p.sha256_file,
                Field::Sha256,
                sha,
                &d.sha256,
            ));
        }
        Err(reason) => checks.push(Check::new(
            &p.sha256_file,
            &p.sha256_file,
            Field::Sha256,
            "a sha256sum line",
            reason,
        )),
    }
    Ok(())
}

/// A published package's `.manifest.json` against its digest.
fn check_package_manifest(
    dir: &Path,
    p: &IndexEntry,
    d: &Digest,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let manifest_path = dir.join(&p.manifest_file);
    if !manifest_path.is_file() {
        checks.push(Check::new(
            &p.manifest_file,
            INDEX_JSON,
            Field::Present,
            "present",
            "missing",
        ));
        return Ok(());
    }
    let at = manifest_path.display().to_string();
    match parse_manifest(&read_record(&manifest_path)?, &at) {
        Ok(m) => {
            checks.push(Check::new(
                &p.name,
                &p.manifest_file,
                Field::Size,
                m.output.size,
                d.size,
            ));
            checks.push(Check::new(
                &p.name,
                &p.manifest_file,
                Field::Sha256,
                m.output.sha256,
                &d.sha256,
            ));
        }
        Err(e) => checks.push(Check::new(
            &p.manifest_file,
            &p.manifest_file,
            Field::Sha256,
            "a sepkg manifest",
            e.to_string(),
        )),
    }
    Ok(())
}

/// Whatever the server would also serve: leftovers of an interrupted
/// publish (hidden `.NAME.*.part`), stray uploads, folders (named with a
/// final `/`).
fn check_unlisted(dir: &Path, listed: &BTreeSet<String>, checks: &mut Vec<Check>) -> Result<()> {
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, "cannot list", e))?
        .filter_map(|e| e.ok())
        .map(|e| {
            let mut n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                n.push('/');
            }
            n
        })
        .collect();
    present.sort();
    // The lock file is sepkg's own and holds nothing served: on Windows it
    // stays, on Unix a killed publish leaves it (see `crate::lock`). So
    // does an empty `.NAME.lock` a transform left beside a listed NAME
    // (Windows). The staging folder is a publish's work in progress while
    // one holds the lock; with nobody holding it, it is a killed run's
    // leftover and reported.
    let running = publish_running(dir);
    let own = |n: &str| {
        n == crate::lock::WEBROOT_LOCK
            || (running && n.strip_suffix('/') == Some(crate::webroot::STAGING))
            || n.strip_prefix('.')
                .and_then(|n| n.strip_suffix(".lock"))
                .is_some_and(|owner| {
                    listed.contains(owner)
                        && std::fs::metadata(dir.join(format!(".{owner}.lock")))
                            .is_ok_and(|m| m.is_file() && m.len() == 0)
                })
    };
    for name in present.iter().filter(|n| !listed.contains(*n) && !own(n)) {
        checks.push(Check::new(
            name,
            &format!("{SUMS} and {INDEX_JSON}"),
            Field::Listed,
            "listed",
            "not listed",
        ));
    }
    Ok(())
}

/// True when another process holds `dir`'s web-root lock (a publish,
/// unpublish or reindex is running). Only looks: the lock file is opened
/// read-only, never created, and released at once if it was free.
fn publish_running(dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(dir.join(crate::lock::WEBROOT_LOCK)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(_) => false,
    }
}

fn agent(http: &HttpOptions) -> Result<ureq::Agent> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = &http.ca_cert {
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&load_ca(path)?));
    }
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .save_redirect_history(true)
        .max_redirects(10)
        .timeout_resolve(Some(http.timeout))
        .timeout_connect(Some(http.timeout))
        .timeout_recv_response(Some(http.timeout))
        .timeout_per_read(Some(http.timeout))
        .user_agent(format!("sepkg/{}", env!("CARGO_PKG_VERSION")))
        // The hash must be of the bytes a SEP client gets: no compression.
        .accept_encoding("identity")
        .tls_config(tls.build())
        .build();
    Ok(ureq::Agent::new_with_config(config))
}

/// The certificates in a PEM file.
fn load_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let bytes = read_record(path)?;
    let bad = |reason: String| Error::Record {
        at: path.display().to_string(),
        reason,
    };
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item.map_err(|e| bad(format!("not a PEM file: {e}")))? {
            ureq::tls::PemItem::Certificate(c) => certs.push(c),
            _ => continue,
        }
    }
    if certs.is_empty() {
        return Err(bad(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

fn network_error(url: &str, e: ureq::Error) -> Error {
    let reason = match e {
        ureq::Error::BadUri(reason) => {
            return Error::BadUrl {
                url: url.to_string(),
                reason,
            };
        }
        ureq::Error::Http(e) => {
            return Error::BadUrl {
                url: url.to_string(),
                reason: e.to_string(),
            };
        }
        ureq::Error::TooManyRedirects => {
            return Error::ServerAnswer {
                url: url.to_string(),
                reason: "more than 10 redirects: the server sends the request round a redirect loop (or down a chain longer than 10), so no file is ever served".to_string(),
            };
        }
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "cannot connect".to_string(),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused: nothing listens on that host and port".to_string()
            }
            // rustls reports a failed handshake as invalid data.
            std::io::ErrorKind::InvalidData
                if url
                    .get(..8)
                    .is_some_and(|s| s.eq_ignore_ascii_case("https://")) =>
            {
                format!(
                    "TLS handshake failed: {io} (does the server speak HTTPS on that port, with a certificate for that name from a CA sepkg trusts? For an internal CA, pass --ca-cert CA.pem)"
                )
            }
            _ => io.to_string(),
        },
        ureq::Error::Rustls(tls) => format!("TLS failed: {tls}"),
        other => other.to_string(),
    };
    Error::Network {
        url: url.to_string(),
        reason,
    }
}

/// GETs `url`, following redirects; refuses an error status.
fn get(agent: &ureq::Agent, url: &str) -> Result<ureq::http::Response<ureq::Body>> {
    use ureq::ResponseExt;
    let response = agent.get(url).call().map_err(|e| network_error(url, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::HttpStatus {
            url: response.get_uri().to_string(),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
        });
    }
    Ok(response)
}

/// Refuses a body the server encoded (`Content-Encoding: gzip`) although
/// the request asked for `identity`: its bytes are not the file's, so
/// hashing them can only give a mismatch that says nothing of the file.
fn check_identity(response: &ureq::http::Response<ureq::Body>, url: &str) -> Result<()> {
    let encoding = response
        .headers()
        .get_all("content-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("identity"))
        .collect::<Vec<_>>();
    if encoding.is_empty() {
        return Ok(());
    }
    Err(Error::ServerAnswer {
        url: url.to_string(),
        reason: format!(
            "the server sent the body encoded (Content-Encoding: {}) although verify asks for the bytes as they are (Accept-Encoding: identity): what arrived is not the file's bytes, so its size and SHA-256 cannot be compared",
            encoding.join(", ")
        ),
    })
}

/// The URL's last path segment, percent-decoded: the artifact's name.
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let authority = path.find("://").map_or(0, |i| i + 3);
    let path = match path[authority..].find('/') {
        Some(i) => &path[authority + i..],
        None => "",
    };
    let last = path.rsplit('/').next().unwrap_or("");
    let bytes = last.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = last
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `index.json` beside `url`: the same folder on the server.
pub fn index_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let authority = path.find("://").map_or(0, |i| i + 3);
    match path[authority..].rfind('/') {
        Some(i) => format!("{}/{INDEX_JSON}", &path[..authority + i]),
        None => format!("{path}/{INDEX_JSON}"),
    }
}

/// A record's body (at most [`MAX_RECORD`] bytes).
fn read_small(response: ureq::http::Response<ureq::Body>, url: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_RECORD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Network {
            url: url.to_string(),
            reason: format!("download broke off: {e}"),
        })?;
    if bytes.len() as u64 > MAX_RECORD {
        return Err(Error::Record {
            at: url.to_string(),
            reason: format!("larger than {MAX_RECORD} bytes: not a sepkg record"),
        });
    }
    Ok(bytes)
}

/// The signature of the index at `index_url`, checked with `key`: a 404
/// is a missing signature, any other failure an error.
fn index_signature(
    agent: &ureq::Agent,
    index_url: &str,
    index: &[u8],
    key: &TrustedKey,
) -> Result<SignatureCheck> {
    let sig_url = format!("{index_url}{SIG_SUFFIX}");
    let sig = match get(agent, &sig_url) {
        Ok(response) => Some(read_small(response, &sig_url)?),
        Err(Error::HttpStatus { status: 404, .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(key.check(INDEX_JSON, index_url, &sig_url, index, sig.as_deref()))
}

/// Downloads `url` as a stream and compares it with the record. With
/// `trusted`, the server's `index.json` must be signed by that key: if
/// its signature is missing or fails, the package is not downloaded.
pub fn url(
    url: &str,
    expect: Option<&Path>,
    trusted: Option<&TrustedKey>,
    http: &HttpOptions,
    progress: &dyn crate::Progress,
) -> Result<Report> {
    use ureq::ResponseExt;
    let agent = agent(http)?;
    let name = url_file_name(url);
    if name.is_empty() {
        return Err(Error::Usage(format!(
            "{url}: give the URL of a package file, not of a folder"
        )));
    }
    let mut signatures = Vec::new();
    let expected = match expect {
        Some(file) => load_expected(file, &name)?,
        None => {
            let index_url = index_url(url);
            let response = get(&agent, &index_url).map_err(|e| match e {
                Error::HttpStatus { url, status, reason } => Error::HttpStatus {
                    url,
                    status,
                    reason: format!(
                        "{reason} (fetching the index beside the package, to know what to expect; give --expect FILE instead)"
                    ),
                },
                e => e,
            })?;
            let bytes = read_small(response, &index_url)?;
            if let Some(key) = trusted {
                let check = index_signature(&agent, &index_url, &bytes, key)?;
                let good = check.ok();
                signatures.push(check);
                if !good {
                    return Ok(
                        Report::new(url, TargetKind::Url, Vec::new()).with_signatures(signatures)
                    );
                }
            }
            let index = parse_index(&bytes, &index_url)?;
            expected_from_index(&index, &index_url, &name)?
        }
    };

    let response = get(&agent, url)?;
    let final_url = response.get_uri().to_string();
    check_identity(&response, &final_url)?;
    let redirects: Vec<String> = response
        .get_redirect_history()
        .map(|h| h.iter().skip(1).map(|u| u.to_string()).collect())
        .unwrap_or_default();
    let announced = response.body().content_length();
    progress.start(announced.unwrap_or(0), &format!("downloading {name}"));
    let mut reader = HashingReader::new(response.into_body().into_reader());
    let mut buf = vec![0u8; 1 << 20];
    let mut got_bytes: u64 = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got_bytes += n as u64;
                progress.advance(n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                progress.finish();
                let of = announced
                    .map(|a| format!(" of the {a} announced"))
                    .unwrap_or_default();
                return Err(Error::Network {
                    url: final_url,
                    reason: format!("download broke off after {got_bytes} bytes{of}: {e}"),
                });
            }
        }
    }
    progress.finish();
    let got = reader.finish();
    let mut checks = Vec::new();
    compare(url, &expected, &got, &mut checks);
    let mut report = Report::new(url, TargetKind::Url, checks).with_signatures(signatures);
    report.digest = Some(got);
    report.final_url = Some(final_url);
    report.redirects = Some(redirects);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_beside() {
        assert_eq!(
            index_url("http://h:8/a/b/X.zip"),
            "http://h:8/a/b/index.json"
        );
        assert_eq!(index_url("http://h/X.zip?x=1"), "http://h/index.json");
        assert_eq!(index_url("http://h"), "http://h/index.json");
    }

    #[test]
    fn names_from_urls() {
        assert_eq!(url_file_name("http://h/a/SEP%2014.zip?x"), "SEP 14.zip");
        assert_eq!(url_file_name("http://h/a/"), "");
        assert_eq!(url_file_name("http://h:80"), "");
    }

    #[test]
    fn urls() {
        assert!(is_url("HTTPS://x"));
        assert!(is_url("http://x"));
        assert!(!is_url("./http"));
    }
}
