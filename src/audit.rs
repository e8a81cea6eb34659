//! `sepkg audit`: what a package will do to the clients it upgrades.
//!
//! The stages, each returning a value (nothing here prints):
//!
//! 1. [`expand`]: an input that is a web root (a folder of package files)
//!    becomes one input per package; any other input stays as it is.
//! 2. [`audit_package`]: open the package with [`Package::open`] (whatever
//!    its container), hash it, check a `.sha256` / `.manifest.json` /
//!    `SHA256SUMS` beside it, and report each package root: SetAid.ini,
//!    setup.ini, the MSI (read-only, see [`crate::msi`]), sylink.xml.
//!    Authenticode signatures are verified ([`signing`]): the single-file
//!    .exe's and those of the programs at each root's top; the sylink.xml
//!    is held against the site's values ([`site`], `--expect-*`).
//! 3. Findings: each with a stable code (listed in [`CODES`]), a severity,
//!    a message and a hint. The exit code follows from the worst severity,
//!    and each package's verdict line from its findings ([`verdict`]).
//!
//! The report's JSON shape is documented in the README ("audit JSON").

pub mod signing;
pub mod site;
pub mod verdict;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::authenticode::Trust;
use crate::digest;
use crate::error::{Error, Result};
use crate::msi::{self, Decision, MsiInfo, UpgradeRow, Version};
use crate::package::{ContainerInfo, Kind, Package, Root};
use crate::record::{self, read_beside, sums_lookup};
use crate::setaid::{self, Duplicate, IniFile};
use crate::sylink;

pub use signing::{Signature, SignatureStatus};
pub use site::{Expect, ExpectedServer};
pub use verdict::PackageVerdict;

/// The report's schema name and version.
pub const SCHEMA: &str = "sepkg-audit/1";

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails the audit.
    Info,
    /// Check it; fails with `--fail-on warning`.
    Warning,
    /// Clients will be hurt; fails the audit by default.
    Error,
}

impl Severity {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Every finding code this module emits, for documentation and tests.
pub const CODES: &[&str] = &[
    "self-managed-after-upgrade",
    "sylink-missing",
    "sylink-malformed",
    "sylink-unmanaged",
    "sylink-empty-server-address",
    "setaid-missing",
    "setaid-unreadable",
    "setaid-duplicate-key",
    "keep-previous-missing",
    "keep-previous-other-section",
    "keep-previous-invalid",
    "keep-previous-unclean",
    "setup-ini-missing",
    "setup-ini-unreadable",
    "msi-missing",
    "msi-unreadable",
    "msi-property-missing",
    "msi-unsigned",
    "msi-signature-invalid",
    "msi-signature-untrusted",
    "version-mismatch",
    "no-upgrade-row",
    "upgrade-only-detect",
    "no-remove-existing-products",
    "from-version-removed",
    "from-version-not-removed",
    "sha256-sidecar-match",
    "sha256-sidecar-mismatch",
    "manifest-match",
    "manifest-mismatch",
    "sha256sums-match",
    "sha256sums-mismatch",
    "checksum-file-unreadable",
    "package-code-reused",
    "product-code-reused",
    "exe-signature-invalid",
    "exe-signature-untrusted",
    "exe-unsigned",
    "exe-unreadable",
    "sylink-domain-id-unexpected",
    "sylink-server-unexpected",
    "sylink-group-unexpected",
    "sylink-as-expected",
    "windows-invalid-name",
    "zip-trailing-data",
];

/// One thing the audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable kebab-case code (see [`CODES`]).
    pub code: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// The entry (or file beside the input) concerned, if one is.
    pub entry: Option<String>,
    /// What was found.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

fn finding(
    code: &'static str,
    severity: Severity,
    entry: Option<&str>,
    message: String,
    hint: &str,
) -> Finding {
    Finding {
        code,
        severity,
        entry: entry.map(str::to_string),
        message,
        hint: hint.to_string(),
    }
}

/// What the audit is asked to check besides the package itself.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--from-version`: the version installed on the clients.
    pub from_version: Option<Version>,
    /// `--trust-ca`: the roots Authenticode chains must reach (none: the
    /// chains are not checked).
    pub trust: Trust,
    /// `--expect-*`: what the site's sylink.xml says.
    pub expect: Expect,
}

/// A key's value and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// The value.
    pub value: String,
    /// The section as written (empty before any section).
    pub section: String,
    /// The 1-based line.
    pub line: usize,
}

impl From<setaid::Occurrence> for KeyValue {
    fn from(o: setaid::Occurrence) -> Self {
        KeyValue {
            value: o.value,
            section: o.section,
            line: o.line,
        }
    }
}

/// One `[FEATURE_SELECTION]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feature {
    /// The feature name (case-sensitive for the installer).
    pub name: String,
    /// Its value (`1` install, `0` leave out).
    pub value: String,
    /// The 1-based line.
    pub line: usize,
}

/// What the root's SetAid.ini says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetaidReport {
    /// The entry name.
    pub entry: String,
    /// Its encoding (null when unreadable).
    pub encoding: Option<setaid::Encoding>,
    /// The effective `KeepPreviousSetting` in `[CUSTOM_SMC_CONFIG]`.
    pub keep_previous_setting: Option<KeyValue>,
    /// `KeepPreviousSetting` standing in any other section.
    pub keep_previous_elsewhere: Vec<KeyValue>,
    /// `[FEATURE_SELECTION]`, in file order.
    pub features: Vec<Feature>,
    /// Keys written more than once in `[CUSTOM_SMC_CONFIG]` or
    /// `[FEATURE_SELECTION]`.
    pub duplicates: Vec<Duplicate>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// What the root's setup.ini says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupIniReport {
    /// The entry name.
    pub entry: String,
    /// `ProductVersion`.
    pub product_version: Option<String>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// One Upgrade row with what it means for this package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowReport {
    /// The row as stored.
    #[serde(flatten)]
    pub row: UpgradeRow,
    /// True when the row is for the MSI's own UpgradeCode.
    pub own_product: bool,
    /// `>= 12.1.0.0 and < 14.3.8289.5000`.
    pub range: String,
    /// One sentence.
    pub meaning: String,
}

/// One MSI of the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MsiReport {
    /// The entry name.
    pub entry: String,
    /// Its size in bytes.
    pub size: u64,
    /// What it says (all null when unreadable).
    #[serde(flatten)]
    pub info: MsiInfo,
    /// The Upgrade rows with their meaning (JSON `upgrade`).
    #[serde(rename = "upgrade")]
    pub upgrade_rows: Vec<RowReport>,
    /// With `--from-version`: whether this MSI removes that version.
    pub from_version: Option<Decision>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
    /// Its signature, checked while the MSI was open (reported in the
    /// root's `signatures`); None when unsigned or unreadable.
    #[serde(skip)]
    pub signature: Option<crate::authenticode::MsiVerdict>,
}

/// What the root's sylink.xml says (never the Kcs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SylinkReport {
    /// The entry name.
    pub entry: String,
    /// True when managed.
    pub managed: bool,
    /// Why it is not managed.
    pub missing: Vec<String>,
    /// DomainId, servers, group, mode (absent when malformed).
    #[serde(flatten)]
    pub info: Option<sylink::Info>,
    /// Why it could not be parsed, if it could not.
    pub error: Option<String>,
}

/// One package root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootReport {
    /// The folder, `""` for the top.
    pub dir: String,
    /// SetAid.ini, when there is one.
    pub setaid: Option<SetaidReport>,
    /// setup.ini, when there is one.
    pub setup_ini: Option<SetupIniReport>,
    /// Every `.msi` in the root folder.
    pub msis: Vec<MsiReport>,
    /// sylink.xml, when there is one.
    pub sylink: Option<SylinkReport>,
    /// Signatures in this root: each program at its top (Authenticode,
    /// verified), then each MSI's (verified the same way).
    pub signatures: Vec<Signature>,
    /// What the audit found here.
    pub findings: Vec<Finding>,
}

/// A checksum file beside the input and whether it agrees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HashCheck {
    /// The checksum file's name.
    pub file: String,
    /// `sha256`, `manifest` or `sha256sums`.
    pub kind: &'static str,
    /// The SHA-256 it records.
    pub expected: Option<String>,
    /// True when it equals the input's.
    pub matches: bool,
}

/// The audit of one input package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageReport {
    /// The input as given.
    pub input: String,
    /// The container kind.
    pub kind: Kind,
    /// Size in bytes (a folder: the sum of its files).
    pub size: u64,
    /// SHA-256 of the package file (null for a folder).
    pub sha256: Option<String>,
    /// Checksum files found beside the input.
    pub hash_checks: Vec<HashCheck>,
    /// The container's own facts: for a single-file .exe its stub, payload,
    /// signature and 7-Zip SFX settings; for a cabinet its folders.
    pub container: ContainerInfo,
    /// Signatures on the package file itself: a single-file .exe's
    /// Authenticode (verified), a cabinet's (detected).
    pub signatures: Vec<Signature>,
    /// Every package root.
    pub roots: Vec<RootReport>,
    /// Findings about the package as a whole.
    pub findings: Vec<Finding>,
}

impl PackageReport {
    /// Every finding, package-level first, then root by root.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .chain(self.roots.iter().flat_map(|r| r.findings.iter()))
    }

    /// The worst severity, if there is any finding.
    pub fn worst(&self) -> Option<Severity> {
        self.all_findings().map(|f| f.severity).max()
    }
}

/// Package file extensions looked for in a web root.
const PACKAGE_EXTENSIONS: [&str; 3] = ["zip", "cab", "exe"];

/// Turns each input into the packages to audit: a folder that is not itself
/// a package but holds package files (a web root) gives each `.zip`, `.cab`
/// and `.exe` in it and each sub-folder holding a SetAid.ini; anything else
/// is audited as it is.
pub fn expand(input: &Path) -> Result<Vec<PathBuf>> {
    if !input.is_dir() || is_package_folder(input)? {
        return Ok(vec![input.to_path_buf()]);
    }
    let read = std::fs::read_dir(input).map_err(|e| Error::io(input, "cannot list", e))?;
    let mut found = Vec::new();
    for child in read {
        let child = child.map_err(|e| Error::io(input, "cannot list", e))?;
        let path = child.path();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let file_type = child
            .file_type()
            .map_err(|e| Error::io(&path, "cannot read", e))?;
        let is_package_file = file_type.is_file() && PACKAGE_EXTENSIONS.contains(&ext.as_str());
        if is_package_file || (file_type.is_dir() && holds_setaid(&path)?) {
            found.push(path);
        }
    }
    if found.is_empty() {
        // Not a web root either: audit it as a package and let that say why.
        return Ok(vec![input.to_path_buf()]);
    }
    found.sort();
    Ok(found)
}

/// True when the folder's own top holds SetAid.ini, setup.ini or an MSI.
fn is_package_folder(dir: &Path) -> Result<bool> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot list", e))?;
    for child in read {
        let child = child.map_err(|e| Error::io(dir, "cannot list", e))?;
        let name = child.file_name().to_string_lossy().to_ascii_lowercase();
        if name == "setaid.ini" || name == "setup.ini" || name.ends_with(".msi") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// True when a SetAid.ini stands anywhere under `dir`.
fn holds_setaid(dir: &Path) -> Result<bool> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot list", e))?;
    for child in read {
        let child = child.map_err(|e| Error::io(dir, "cannot list", e))?;
        let path = child.path();
        if child.file_type().is_ok_and(|t| t.is_dir()) {
            if holds_setaid(&path)? {
                return Ok(true);
            }
        } else if child
            .file_name()
            .to_string_lossy()
            .eq_ignore_ascii_case("setaid.ini")
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Compares the MSIs of every audited package with each other, as a web
/// root holding several builds needs: Windows Installer takes two MSIs with
/// one PackageCode for the same package, and a major upgrade needs a new
/// ProductCode for a new version. Findings go to the later package's root.
pub fn cross_check(reports: &mut [PackageReport]) {
    struct Seen {
        input: String,
        entry: String,
        product_code: Option<String>,
        upgrade_code: Option<String>,
        version: Option<String>,
        package_code: Option<String>,
    }
    let mut seen: Vec<Seen> = Vec::new();
    for report in reports.iter_mut() {
        for root in &mut report.roots {
            for m in root.msis.iter().filter(|m| m.error.is_none()) {
                let i = &m.info;
                let key = |v: &Option<String>| {
                    v.as_deref()
                        .and_then(|t| Version::parse(t).ok())
                        .map(|v| v.key)
                };
                // A second copy of one build adds nothing: its conflicts
                // were reported against the first copy.
                if seen.iter().any(|o| {
                    o.package_code == i.package_code
                        && o.product_code == i.product_code
                        && o.version == i.product_version
                }) {
                    continue;
                }
                for other in &seen {
                    let same = |a: &Option<String>, b: &Option<String>| {
                        a.is_some()
                            && a.as_deref().map(str::to_ascii_uppercase)
                                == b.as_deref().map(str::to_ascii_uppercase)
                    };
                    let differs = !same(&i.product_code, &other.product_code)
                        || i.product_version != other.version;
                    if same(&i.package_code, &other.package_code) && differs {
                        root.findings.push(finding(
                            "package-code-reused",
                            Severity::Error,
                            Some(&m.entry),
                            format!(
                                "{} in {} has PackageCode {} like {} in {}, but a different ProductCode or ProductVersion: Windows Installer takes them for one package",
                                m.entry,
                                report.input,
                                i.package_code.as_deref().unwrap_or(""),
                                other.entry,
                                other.input
                            ),
                            "every build needs its own PackageCode: use the MSIs exactly as the SEPM exported them",
                        ));
                    }
                    if same(&i.product_code, &other.product_code)
                        && same(&i.upgrade_code, &other.upgrade_code)
                        && key(&i.product_version) != key(&other.version)
                    {
                        root.findings.push(finding(
                            "product-code-reused",
                            Severity::Error,
                            Some(&m.entry),
                            format!(
                                "{} in {} (version {}) has ProductCode {} like {} in {} (version {}): a new version with the same ProductCode is not a major upgrade",
                                m.entry,
                                report.input,
                                i.product_version.as_deref().unwrap_or("-"),
                                i.product_code.as_deref().unwrap_or(""),
                                other.entry,
                                other.input,
                                other.version.as_deref().unwrap_or("-")
                            ),
                            "a major upgrade needs a new ProductCode: use the MSIs exactly as the SEPM exported them",
                        ));
                    }
                }
                seen.push(Seen {
                    input: report.input.clone(),
                    entry: m.entry.clone(),
                    product_code: i.product_code.clone(),
                    upgrade_code: i.upgrade_code.clone(),
                    version: i.product_version.clone(),
                    package_code: i.package_code.clone(),
                });
            }
        }
    }
}

/// Audits one package: a folder, or a file in any container
/// [`Package::open`] reads.
///
/// `progress` sees the package being hashed, the one long step: a 400 MB
/// package is read once, streamed.
pub fn audit_package(
    path: &Path,
    options: &Options,
    progress: &dyn crate::Progress,
) -> Result<PackageReport> {
    let mut pkg = Package::open(path)?;
    let roots = pkg.roots();
    if roots.is_empty() {
        return Err(Error::NoPackageRoot {
            path: path.to_path_buf(),
        });
    }
    let (size, sha256) = if pkg.kind() == Kind::Dir {
        (pkg.entries().iter().map(|e| e.size).sum(), None)
    } else {
        let d = hash_file(path, progress)?;
        (d.size, Some(d.sha256))
    };
    let mut report = PackageReport {
        input: path.display().to_string(),
        kind: pkg.kind(),
        size,
        sha256: sha256.clone(),
        hash_checks: Vec::new(),
        container: pkg.container_info(),
        signatures: signing::of_package(&pkg, &options.trust),
        roots: Vec::new(),
        findings: Vec::new(),
    };
    if let Some(sha) = &sha256 {
        check_beside(path, sha, &mut report);
    }
    let name = path.file_name().map_or_else(
        || report.input.clone(),
        |n| n.to_string_lossy().into_owned(),
    );
    for sig in &report.signatures {
        signing::findings(sig, &name, &mut report.findings);
    }
    container_findings(&pkg, &mut report.findings);
    for root in &roots {
        report.roots.push(audit_root(&mut pkg, root, options));
    }
    Ok(report)
}

/// Findings about the container itself: entry names Windows cannot
/// create, and bytes after the end of a zip that no entry holds.
fn container_findings(pkg: &Package, findings: &mut Vec<Finding>) {
    for e in pkg.entries() {
        if let Some(problem) = crate::package::windows_name(&e.name) {
            findings.push(finding(
                "windows-invalid-name",
                Severity::Warning,
                Some(&e.name),
                format!("{}: {problem}: clients cannot unpack it under this name, so the installer misses it or the extraction fails", e.name),
                "rename it in the source folder and make the package again (sepkg transform also warns about such names)",
            ));
        }
    }
    if let Some((offset, count)) = pkg.trailing_data() {
        let name = pkg
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        findings.push(finding(
            "zip-trailing-data",
            Severity::Warning,
            name.as_deref(),
            format!("{count} bytes follow the end of the zip (from offset {offset}); they belong to no entry, and sepkg transform does not copy them"),
            "check where they came from (an interrupted copy, a second archive appended, a signature): download or export the package again if it should not have them",
        ));
    }
}

/// The package file's digest, streamed, with progress.
fn hash_file(path: &Path, progress: &dyn crate::Progress) -> Result<digest::Digest> {
    let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    progress.start(total, "hashing");
    let digest = digest::of_file_with(path, progress);
    progress.finish();
    digest
}

fn audit_root(pkg: &mut Package, root: &Root, options: &Options) -> RootReport {
    let setaid = root.setaid.map(|i| read_setaid(pkg, i));
    let setup_ini = root.setup_ini.map(|i| read_setup_ini(pkg, i));
    let sylink = root.sylink.map(|i| read_sylink(pkg, i));
    let msis: Vec<MsiReport> = root
        .msis
        .iter()
        .map(|&i| read_msi(pkg, i, options))
        .collect();
    let mut signatures = signing::of_programs(pkg, &root.dir, &options.trust);
    signatures.extend(
        msis.iter()
            .filter(|m| m.error.is_none())
            .map(signing::of_msi),
    );
    let where_root = if root.dir.is_empty() {
        "the package's top folder".to_string()
    } else {
        format!("folder {}", root.dir)
    };

    let mut findings = Vec::new();
    let keep = setaid_findings(setaid.as_ref(), &where_root, &mut findings);
    let sylink_state = sylink_findings(sylink.as_ref(), keep.off, &where_root, &mut findings);
    if !keep.off && !sylink_state.managed {
        findings.push(finding(
            "self-managed-after-upgrade",
            Severity::Error,
            setaid.as_ref().map(|s| s.entry.as_str()),
            format!("{} and {}: clients whose cached MSI is missing from C:\\Windows\\Installer fall back to this package's communication settings during AutoUpgrade and become self-managed (Broadcom KB 212696)", keep.text, sylink_state.text),
            "run `sepkg transform INPUT --sylink MANAGED.xml` with a managed sylink.xml exported from the SEPM: it sets KeepPreviousSetting=0 and injects the managed file",
        ));
    }
    setup_ini_findings(setup_ini.as_ref(), &where_root, &mut findings);
    if msis.is_empty() {
        findings.push(finding(
            "msi-missing",
            Severity::Error,
            None,
            format!(
                "{where_root} has no .msi (Sep64.msi or Sep.msi): Setup.exe has nothing to install"
            ),
            "export the whole package again from the SEPM",
        ));
    }
    for m in &msis {
        msi_findings(m, setup_ini.as_ref(), options, &mut findings);
    }
    site::findings(sylink.as_ref(), &options.expect, &mut findings);
    for sig in &signatures {
        signing::findings(sig, "", &mut findings);
    }

    RootReport {
        dir: root.dir.clone(),
        setaid,
        setup_ini,
        msis,
        sylink,
        signatures,
        findings,
    }
}

/// Whether a root turns KeepPreviousSetting off, and how to say what it
/// has, for the self-managed finding.
struct KeepState {
    /// True for `KeepPreviousSetting=0` in `[CUSTOM_SMC_CONFIG]`.
    off: bool,
    /// "KeepPreviousSetting=1 in [CUSTOM_SMC_CONFIG] (setAid.ini line 3)".
    text: String,
}

/// Findings about SetAid.ini: missing, unreadable, KeepPreviousSetting
/// missing or odd, standing elsewhere, duplicate keys.
fn setaid_findings(
    setaid: Option<&SetaidReport>,
    where_root: &str,
    findings: &mut Vec<Finding>,
) -> KeepState {
    match setaid {
        None => {
            findings.push(finding(
                "setaid-missing",
                Severity::Error,
                None,
                format!("{where_root} has setup.ini or an MSI but no SetAid.ini: the install settings (KeepPreviousSetting, features) are the installer's defaults"),
                "export the package again from the SEPM, or add a SetAid.ini with [CUSTOM_SMC_CONFIG] KeepPreviousSetting=0 (sepkg transform adds the key)",
            ));
            KeepState {
                off: false,
                text: "there is no SetAid.ini (so no KeepPreviousSetting)".into(),
            }
        }
        Some(s) if s.error.is_some() => {
            findings.push(finding(
                "setaid-unreadable",
                Severity::Error,
                Some(&s.entry),
                format!("{}: {}", s.entry, s.error.as_deref().unwrap_or("")),
                "save SetAid.ini as ANSI, UTF-8 or UTF-16LE with a byte-order mark, in INI syntax, or export the package again",
            ));
            KeepState {
                off: false,
                text: format!("{} cannot be read", s.entry),
            }
        }
        Some(s) => {
            let keep = keep_previous_findings(s, findings);
            setaid_doubt_findings(s, findings);
            keep
        }
    }
}

/// The effective KeepPreviousSetting of a readable SetAid.ini: invalid or
/// missing is a finding.
fn keep_previous_findings(s: &SetaidReport, findings: &mut Vec<Finding>) -> KeepState {
    match &s.keep_previous_setting {
        Some(kv) => {
            // `1 ;keep the old settings`: the installer's integer read takes
            // the leading number, a profile-string read the whole text.
            let number =
                setaid::leading_number(kv.value.trim()).filter(|n| matches!(*n, "0" | "1"));
            let effective = number.unwrap_or(kv.value.trim());
            if let Some(n) = number {
                findings.push(finding(
                    "keep-previous-unclean",
                    Severity::Warning,
                    Some(&s.entry),
                    format!(
                        "{}: KeepPreviousSetting is {:?} at line {}, not a clean 0 or 1: the installer's integer read takes the leading {n}, but a program that reads the value as text sees the whole line",
                        s.entry, kv.value, kv.line
                    ),
                    "write the value alone, with any comment on a line of its own (sepkg transform changes only the leading number and keeps the rest)",
                ));
            } else if !matches!(effective, "0" | "1") {
                findings.push(finding(
                    "keep-previous-invalid",
                    Severity::Warning,
                    Some(&s.entry),
                    format!(
                        "{}: KeepPreviousSetting is {:?} at line {}: the known values are 0 and 1",
                        s.entry, kv.value, kv.line
                    ),
                    "set it to 0: sepkg transform INPUT --sylink MANAGED.xml",
                ));
            }
            KeepState {
                off: effective == "0",
                text: format!(
                    "KeepPreviousSetting={} in [{}] ({} line {})",
                    kv.value, kv.section, s.entry, kv.line
                ),
            }
        }
        None => {
            findings.push(finding(
                "keep-previous-missing",
                Severity::Warning,
                Some(&s.entry),
                format!("{}: [{}] has no KeepPreviousSetting: the installer keeps the previous settings by default", s.entry, setaid::SMC_SECTION),
                "add KeepPreviousSetting=0 with sepkg transform INPUT --sylink MANAGED.xml",
            ));
            KeepState {
                off: false,
                text: format!(
                    "KeepPreviousSetting is missing from [{}] in {}",
                    setaid::SMC_SECTION,
                    s.entry
                ),
            }
        }
    }
}

/// What makes a readable SetAid.ini doubtful: KeepPreviousSetting in
/// another section, keys written twice.
fn setaid_doubt_findings(s: &SetaidReport, findings: &mut Vec<Finding>) {
    for kv in &s.keep_previous_elsewhere {
        let section = if kv.section.is_empty() {
            "before any section".to_string()
        } else {
            format!("in [{}]", kv.section)
        };
        findings.push(finding(
            "keep-previous-other-section",
            Severity::Warning,
            Some(&s.entry),
            format!("{}: KeepPreviousSetting={} stands {section} at line {}: which section the installer reads is not documented", s.entry, kv.value, kv.line),
            &format!("make it agree with [CUSTOM_SMC_CONFIG]: sepkg transform ... --setaid {}.KeepPreviousSetting=0", kv.section),
        ));
    }
    for d in &s.duplicates {
        findings.push(finding(
            "setaid-duplicate-key",
            Severity::Warning,
            Some(&s.entry),
            format!(
                "{}: [{}] {} appears {} times (lines {}); the first one counts",
                s.entry,
                d.section,
                d.key,
                d.lines.len(),
                d.lines
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "remove the extra lines so that what the file says is what the installer does",
        ));
    }
}

/// Whether the root's sylink.xml is managed, and how to say what it is,
/// for the self-managed finding.
struct SylinkState {
    managed: bool,
    /// "sylink.xml is unmanaged".
    text: String,
}

/// Findings about sylink.xml: missing, malformed, unmanaged (an error when
/// KeepPreviousSetting is off, as the package's file is then used), empty
/// server addresses.
fn sylink_findings(
    sylink: Option<&SylinkReport>,
    keep_off: bool,
    where_root: &str,
    findings: &mut Vec<Finding>,
) -> SylinkState {
    let managed = sylink.is_some_and(|s| s.managed);
    let text = match sylink {
        None => {
            findings.push(finding(
                "sylink-missing",
                Severity::Error,
                None,
                format!("{where_root} has no sylink.xml: a client that does not keep its settings has no management server"),
                "add a managed sylink.xml exported from the SEPM: sepkg transform INPUT --sylink MANAGED.xml",
            ));
            "there is no sylink.xml".to_string()
        }
        Some(s) if s.error.is_some() => {
            findings.push(finding(
                "sylink-malformed",
                Severity::Error,
                Some(&s.entry),
                format!("{}: {}", s.entry, s.error.as_deref().unwrap_or("")),
                "export the communication settings again from the SEPM (Clients > group > Export Communication Settings, managed mode)",
            ));
            format!("{} cannot be read", s.entry)
        }
        Some(s) => {
            if !s.managed {
                findings.push(finding(
                    "sylink-unmanaged",
                    if keep_off { Severity::Error } else { Severity::Warning },
                    Some(&s.entry),
                    format!("{} is unmanaged: {}", s.entry, s.missing.join("; ")),
                    "inject a managed sylink.xml exported from the SEPM: sepkg transform INPUT --sylink MANAGED.xml",
                ));
            }
            let empty = s.info.as_ref().map_or(0, sylink::Info::empty_addresses);
            if empty > 0 {
                findings.push(finding(
                    "sylink-empty-server-address",
                    Severity::Warning,
                    Some(&s.entry),
                    format!("{}: {empty} Server element(s) have an empty Address", s.entry),
                    "export the communication settings again, or remove the empty Server elements in the SEPM's management server list",
                ));
            }
            format!("{} is unmanaged", s.entry)
        }
    };
    SylinkState { managed, text }
}

/// Findings about setup.ini: missing or unreadable.
fn setup_ini_findings(
    setup_ini: Option<&SetupIniReport>,
    where_root: &str,
    findings: &mut Vec<Finding>,
) {
    match setup_ini {
        None => findings.push(finding(
            "setup-ini-missing",
            Severity::Warning,
            None,
            format!("{where_root} has no setup.ini: the product version cannot be cross-checked"),
            "export the package again from the SEPM",
        )),
        Some(s) if s.error.is_some() => findings.push(finding(
            "setup-ini-unreadable",
            Severity::Warning,
            Some(&s.entry),
            format!("{}: {}", s.entry, s.error.as_deref().unwrap_or("")),
            "export the package again from the SEPM",
        )),
        Some(_) => {}
    }
}

/// Findings about one MSI: unreadable, its properties and signature, its
/// Upgrade table, and with `--from-version` whether it removes that version.
fn msi_findings(
    m: &MsiReport,
    setup_ini: Option<&SetupIniReport>,
    options: &Options,
    findings: &mut Vec<Finding>,
) {
    if let Some(error) = &m.error {
        findings.push(finding(
            "msi-unreadable",
            Severity::Error,
            Some(&m.entry),
            format!("{}: {error}", m.entry),
            "the MSI is damaged or truncated: export or download the package again",
        ));
        return;
    }
    msi_property_findings(m, setup_ini, findings);
    upgrade_table_findings(m, findings);
    from_version_findings(m, options, findings);
}

/// Properties a major upgrade needs, the signature, and the version
/// against setup.ini's.
fn msi_property_findings(
    m: &MsiReport,
    setup_ini: Option<&SetupIniReport>,
    findings: &mut Vec<Finding>,
) {
    let entry = Some(m.entry.as_str());
    let info = &m.info;
    let missing: Vec<&str> = [
        ("ProductCode", &info.product_code),
        ("UpgradeCode", &info.upgrade_code),
        ("ProductVersion", &info.product_version),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() {
        findings.push(finding(
            "msi-property-missing",
            Severity::Warning,
            entry,
            format!(
                "{}: the Property table has no {}",
                m.entry,
                missing.join(", ")
            ),
            "an MSI without these cannot take part in a major upgrade: export the package again",
        ));
    }
    if !info.signed {
        findings.push(finding(
            "msi-unsigned",
            Severity::Info,
            entry,
            format!(
                "{} carries no digital signature (Symantec's MSIs are signed)",
                m.entry
            ),
            "check where the package came from",
        ));
    }
    if let (Some(setup), Some(msi_version)) = (
        setup_ini.and_then(|s| s.product_version.as_deref()),
        info.product_version.as_deref(),
    ) && setup.trim() != msi_version.trim()
    {
        findings.push(finding(
            "version-mismatch",
            Severity::Error,
            entry,
            format!(
                "setup.ini says ProductVersion {setup} but {} says {msi_version}",
                m.entry
            ),
            "the files come from different builds: export the package again from the SEPM",
        ));
    }
}

/// Whether the Upgrade table and InstallExecuteSequence make this MSI
/// remove older versions of its own product.
fn upgrade_table_findings(m: &MsiReport, findings: &mut Vec<Finding>) {
    let entry = Some(m.entry.as_str());
    let info = &m.info;
    if let Some(code) = &info.upgrade_code {
        let own: Vec<&RowReport> = m.upgrade_rows.iter().filter(|r| r.own_product).collect();
        if own.is_empty() {
            findings.push(finding(
                "no-upgrade-row",
                Severity::Error,
                entry,
                format!("{}: no Upgrade row is for its own UpgradeCode {code}: installing it does not remove an older version (no major upgrade)", m.entry),
                "use the MSI exported by the SEPM for this product; a repackaged MSI must keep the Upgrade table",
            ));
        } else if own.iter().all(|r| r.row.only_detect()) {
            findings.push(finding(
                "upgrade-only-detect",
                Severity::Error,
                entry,
                format!("{}: every Upgrade row for {code} is OnlyDetect: older versions are detected but never removed", m.entry),
                "use the MSI exported by the SEPM for this product; a repackaged MSI must keep the Upgrade table",
            ));
        }
    }
    // FindRelatedProducts only finds; RemoveExistingProducts removes. Without
    // it in the sequence the Upgrade rows remove nothing.
    let not_sequenced = info.remove_existing_products == Some(false);
    if not_sequenced
        && m.upgrade_rows
            .iter()
            .any(|r| r.own_product && !r.row.only_detect())
    {
        findings.push(finding(
            "no-remove-existing-products",
            Severity::Error,
            entry,
            format!("{}: InstallExecuteSequence has no RemoveExistingProducts: the Upgrade rows find older versions but nothing removes them", m.entry),
            "use the MSI exported by the SEPM for this product; a repackaged MSI must keep RemoveExistingProducts in InstallExecuteSequence",
        ));
    }
}

/// With `--from-version`: whether this MSI removes the installed version.
fn from_version_findings(m: &MsiReport, options: &Options, findings: &mut Vec<Finding>) {
    let entry = Some(m.entry.as_str());
    let info = &m.info;
    let not_sequenced = info.remove_existing_products == Some(false);
    if let (Some(d), Some(v)) = (&m.from_version, &options.from_version) {
        if d.removes && not_sequenced {
            findings.push(finding(
                "from-version-not-removed",
                Severity::Error,
                entry,
                format!("installed version {v} is NOT removed by {}: {}, but InstallExecuteSequence has no RemoveExistingProducts", m.entry, d.reason.replace(": RemoveExistingProducts removes it", "")),
                "clients on this version are not upgraded by this package: use a package whose MSI removes it",
            ));
        } else if d.removes {
            findings.push(finding(
                "from-version-removed",
                Severity::Info,
                entry,
                format!(
                    "installed version {v} is removed by {}: {}",
                    m.entry, d.reason
                ),
                "nothing to do",
            ));
        } else {
            // The classic trap: a build that differs only in the fourth field.
            let same = info
                .product_version
                .as_deref()
                .and_then(|pv| Version::parse(pv).ok())
                .filter(|pv| pv.key == v.key)
                .map(|pv| format!("; Windows Installer sees {v} as the same version as this package ({pv}), because only the first three fields count"))
                .unwrap_or_default();
            findings.push(finding(
                "from-version-not-removed",
                Severity::Error,
                entry,
                format!("installed version {v} is NOT removed by {}: {}{same}", m.entry, d.reason),
                "clients on this version are not upgraded by this package: use a package whose Upgrade table covers it, or upgrade them in steps",
            ));
        }
    }
}

fn read_setaid(pkg: &mut Package, index: usize) -> SetaidReport {
    let entry = pkg.entries()[index].name.clone();
    let mut report = SetaidReport {
        entry,
        encoding: None,
        keep_previous_setting: None,
        keep_previous_elsewhere: Vec::new(),
        features: Vec::new(),
        duplicates: Vec::new(),
        error: None,
    };
    let ini = match pkg
        .read_small(index, setaid::MAX_SIZE)
        .map_err(|e| e.to_string())
        .and_then(|b| IniFile::parse(&b).map_err(|e| e.0))
    {
        Ok(ini) => ini,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let facts = ini.facts();
    report.encoding = Some(ini.encoding());
    report.keep_previous_setting = facts.keep_previous.map(KeyValue::from);
    report.keep_previous_elsewhere = facts
        .keep_previous_elsewhere
        .into_iter()
        .map(KeyValue::from)
        .collect();
    report.features = ini
        .section_entries(setaid::FEATURE_SECTION)
        .into_iter()
        .map(|o| Feature {
            name: o.key,
            value: o.value,
            line: o.line,
        })
        .collect();
    report.duplicates = facts.duplicates;
    report
}

fn read_setup_ini(pkg: &mut Package, index: usize) -> SetupIniReport {
    let entry = pkg.entries()[index].name.clone();
    match pkg
        .read_small(index, setaid::MAX_SIZE)
        .map_err(|e| e.to_string())
        .and_then(|b| IniFile::parse(&b).map_err(|e| e.0))
    {
        Ok(ini) => {
            let version = ini
                .occurrences("ProductVersion")
                .into_iter()
                .next()
                .map(|o| o.value);
            SetupIniReport {
                error: version
                    .is_none()
                    .then(|| "it has no ProductVersion".to_string()),
                entry,
                product_version: version,
            }
        }
        Err(e) => SetupIniReport {
            entry,
            product_version: None,
            error: Some(e),
        },
    }
}

fn read_sylink(pkg: &mut Package, index: usize) -> SylinkReport {
    let entry = pkg.entries()[index].name.clone();
    match pkg
        .read_small(index, sylink::MAX_SIZE)
        .map_err(|e| e.to_string())
        .and_then(|b| sylink::inspect(&b))
    {
        Ok(info) => SylinkReport {
            entry,
            managed: info.is_managed(),
            missing: info.missing(),
            info: Some(info),
            error: None,
        },
        Err(e) => SylinkReport {
            entry,
            managed: false,
            missing: Vec::new(),
            info: None,
            error: Some(e),
        },
    }
}

fn read_msi(pkg: &mut Package, index: usize, options: &Options) -> MsiReport {
    let entry = pkg.entries()[index].name.clone();
    let size = pkg.entries()[index].size;
    let at = pkg.location(index);
    match signing::read_msi(pkg, index, &options.trust) {
        Ok((info, signature)) => {
            let own_code = info.upgrade_code.clone().unwrap_or_default();
            let upgrade_rows = info
                .upgrade
                .iter()
                .map(|row| {
                    let own = row.upgrade_code.eq_ignore_ascii_case(&own_code);
                    RowReport {
                        own_product: own,
                        range: row.range(),
                        meaning: row.meaning(own),
                        row: row.clone(),
                    }
                })
                .collect();
            let from_version = options
                .from_version
                .as_ref()
                .map(|v| msi::evaluate(&own_code, &info.upgrade, v));
            MsiReport {
                entry,
                size,
                info,
                upgrade_rows,
                from_version,
                error: None,
                signature,
            }
        }
        Err(e) => MsiReport {
            entry,
            size,
            info: MsiInfo::default(),
            upgrade_rows: Vec::new(),
            from_version: None,
            signature: None,
            // Errors from unpacking already name the package and entry.
            error: Some(if e.0.contains(&at.to_string()) {
                e.0
            } else {
                format!("{at}: {e}")
            }),
        },
    }
}

/// Checks `NAME.sha256`, `NAME.manifest.json` and the folder's `SHA256SUMS`
/// against the input's digest, adding a check and a finding for each found.
fn check_beside(path: &Path, sha256: &str, report: &mut PackageReport) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut check = |file: &str,
                     kind: &'static str,
                     expected: std::result::Result<Option<String>, String>,
                     codes: (&'static str, &'static str)| {
        match expected {
            Err(reason) => report.findings.push(finding(
                "checksum-file-unreadable",
                Severity::Warning,
                Some(file),
                format!("{file} beside the input cannot be read: {reason}"),
                "write it again (sepkg transform writes NAME.sha256 and NAME.manifest.json)",
            )),
            Ok(None) => {}
            Ok(Some(expected)) => {
                let matches = expected.eq_ignore_ascii_case(sha256);
                if matches {
                    report.findings.push(finding(
                        codes.0,
                        Severity::Info,
                        Some(file),
                        format!("{file} agrees with {name}: SHA-256 {sha256}"),
                        "nothing to do",
                    ));
                } else {
                    report.findings.push(finding(
                        codes.1,
                        Severity::Error,
                        Some(file),
                        format!("{file} records SHA-256 {expected} but {name} has {sha256}: the package is not the one that was recorded"),
                        "the file was changed, damaged or replaced after it was recorded: transform or download it again",
                    ));
                }
                report.hash_checks.push(HashCheck {
                    file: file.to_string(),
                    kind,
                    expected: Some(expected),
                    matches,
                });
            }
        }
    };

    let sidecar = format!("{name}.sha256");
    if let Some(text) = read_beside(&dir.join(&sidecar)) {
        let expected = text.and_then(|t| {
            sums_lookup(&t, &name, true)
                .map(Some)
                .ok_or_else(|| "no `HEX  NAME` line for this file".to_string())
        });
        check(
            &sidecar,
            "sha256",
            expected,
            ("sha256-sidecar-match", "sha256-sidecar-mismatch"),
        );
    }
    let manifest = format!("{name}.manifest.json");
    if let Some(text) = read_beside(&dir.join(&manifest)) {
        let expected = text.and_then(|t| record::manifest_sha256(&t).map(Some));
        check(
            &manifest,
            "manifest",
            expected,
            ("manifest-match", "manifest-mismatch"),
        );
    }
    if let Some(text) = read_beside(&dir.join(record::SUMS)) {
        // A SHA256SUMS without a line for this file says nothing about it.
        let expected = text.map(|t| sums_lookup(&t, &name, false));
        check(
            "SHA256SUMS",
            "sha256sums",
            expected,
            ("sha256sums-match", "sha256sums-mismatch"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }
}
