//! `sepkg audit`: arguments, config, and the report as a terminal table,
//! one JSON document, or an HTML page rendered from `templates/report.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ErrorJson, Output};
use crate::audit::{
    self, Expect, ExpectedServer, Finding, MsiReport, Options, PackageReport, PackageVerdict,
    RootReport, SetaidReport, Severity, Signature, SignatureStatus, SylinkReport,
};
use crate::authenticode::Trust;
use crate::error::{Error, ExitCode, Result};
use crate::msi::Version;

pub(crate) const AFTER_HELP: &str = "\
The report starts with one verdict line per package, failing ones first:
  FAIL  SEP14-x64.zip  2 errors: self-managed-after-upgrade, exe-signature-invalid
  PASS  SEP14-x64-managed.zip
What it reports, for each package root (a folder holding a SetAid.ini):
  product version (setup.ini and MSI), platform, ProductCode, UpgradeCode, PackageCode,
  the MSI's Upgrade rows and what they mean, KeepPreviousSetting (value, section, line),
  [FEATURE_SELECTION], sylink.xml (managed or not and why, DomainId, servers, group, mode),
  signatures (Authenticode of the single-file .exe and of the programs at each
  root's top and of the MSI verified: signer, issuer, serial, digest, signing
  time, chain), and the package's SHA-256 (checked against NAME.sha256,
  NAME.manifest.json and SHA256SUMS beside it).
  Then findings, each with a code, a severity, a message and a hint.
No code-signing roots are bundled: without --trust-ca, chains are not checked.
A folder that holds package files (a web root) audits each .zip, .cab and .exe in it.

Examples:
  sepkg audit SEP14-x64.zip
  sepkg audit SEP14-x64.zip --from-version 14.3.7388.4000
  sepkg audit /var/www/sep/ --fail-on warning --json
  sepkg audit SEP14-x64-managed.zip --html report.html
  sepkg audit setup.exe --trust-ca corp-root.pem
  sepkg audit SEP14-x64-managed.zip --expect-domain-id AB969193097B6C8502344D15563D3282 \\
      --expect-server sepm.example.com:8014 --expect-group 'My Company\\Workstations'

Exit codes: 0 clean, 1 findings at or above --fail-on (default error), 2 error.";

/// The severity that fails the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Fail on warnings and errors.
    Warning,
    /// Fail on errors only.
    Error,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        }
    }
}

/// `sepkg audit` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages (a folder, a .zip, ...) or web-root folders holding packages.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// The version installed on the clients: say whether the MSI removes it.
    #[arg(long, value_name = "V", value_parser = parse_version)]
    from_version: Option<Version>,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, value_name = "LEVEL", default_value = "error")]
    fail_on: FailOn,
    /// Also write the report as an HTML page (written atomically).
    #[arg(long, value_name = "REPORT.html")]
    html: Option<PathBuf>,
    /// A trusted root for Authenticode chains: a PEM file of one or more
    /// certificates (repeatable). Without it chains are not checked; no
    /// roots are bundled.
    #[arg(long, value_name = "PEM")]
    trust_ca: Vec<PathBuf>,
    /// The site's DomainId: a sylink.xml with another is an error.
    #[arg(long, value_name = "HEX", value_parser = audit::site::parse_domain_id)]
    expect_domain_id: Option<String>,
    /// A management server of the site, HOST or HOST:PORT (repeatable): a
    /// sylink.xml listing any other server, or none of these, is an error.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = ExpectedServer::parse)]
    expect_server: Vec<ExpectedServer>,
    /// The site's group for new clients: a sylink.xml whose PreferredGroup
    /// differs (ignoring letter case) is an error.
    #[arg(long, value_name = "NAME")]
    expect_group: Option<String>,
}

fn parse_version(text: &str) -> std::result::Result<Version, String> {
    Version::parse(text)
}

/// An input that could not be audited.
#[derive(Serialize)]
struct InputError {
    input: String,
    error: ErrorJson,
}

/// Counts by severity, and the exit code they give.
#[derive(Serialize)]
struct Summary {
    packages: usize,
    failed_inputs: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
    exit_code: u8,
}

/// The whole audit: what `--json` prints and the HTML page shows.
#[derive(Serialize)]
struct Document {
    schema: &'static str,
    tool: String,
    fail_on: &'static str,
    from_version: Option<String>,
    trust_ca: Vec<String>,
    expect: Expect,
    verdicts: Vec<PackageVerdict>,
    packages: Vec<PackageReport>,
    errors: Vec<InputError>,
    summary: Summary,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<ExitCode> {
    let options = Options {
        from_version: args.from_version.clone(),
        trust: Trust::load(&args.trust_ca)?,
        expect: Expect {
            domain_id: args.expect_domain_id.clone(),
            servers: args.expect_server.clone(),
            group: args.expect_group.clone(),
        },
    };
    let mut inputs = Vec::new();
    for input in &args.inputs {
        inputs.extend(audit::expand(input)?);
    }
    let mut packages = Vec::new();
    let mut errors = Vec::new();
    let mut failures = Vec::new();
    let mut failed = Vec::new();
    for input in &inputs {
        let bar = out.progress();
        match audit::audit_package(input, &options, &bar) {
            Ok(report) => packages.push(report),
            Err(e) => {
                errors.push(InputError {
                    input: input.display().to_string(),
                    error: ErrorJson::from(&e),
                });
                failed.push((input.display().to_string(), e.to_string()));
                failures.push(e);
            }
        }
    }
    audit::cross_check(&mut packages);
    let count = |s: Severity| {
        packages
            .iter()
            .flat_map(PackageReport::all_findings)
            .filter(|f| f.severity == s)
            .count()
    };
    let worst = packages.iter().filter_map(PackageReport::worst).max();
    let code = if !errors.is_empty() {
        ExitCode::Error
    } else if worst.is_some_and(|w| w >= args.fail_on.severity()) {
        ExitCode::Findings
    } else {
        ExitCode::Ok
    };
    let doc = Document {
        schema: audit::SCHEMA,
        tool: crate::manifest::tool(),
        fail_on: args.fail_on.severity().name(),
        from_version: args.from_version.as_ref().map(|v| v.text.clone()),
        trust_ca: args
            .trust_ca
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        expect: options.expect,
        verdicts: audit::verdict::all(&packages, &failed, args.fail_on.severity()),
        summary: Summary {
            packages: packages.len(),
            failed_inputs: errors.len(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            exit_code: code as u8,
        },
        packages,
        errors,
    };
    if let Some(path) = &args.html {
        write_html(path, &doc)?;
    }
    if out.json {
        out.print_json(&doc)?;
    } else {
        for e in &failures {
            out.error(e);
        }
        out.print(&human(&doc))?;
    }
    Ok(code)
}

/// The HTML template, compiled into the binary.
const TEMPLATE: &str = include_str!("../../templates/report.html");

/// Renders the report page.
fn render_html(doc: &Document) -> Result<String> {
    let mut env = minijinja::Environment::new();
    // The name's `.html` turns on HTML auto-escaping: package contents are
    // untrusted text.
    // The template is compiled in: any failure is a bug, not bad input.
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| Error::internal(format!("the report template is invalid: {e}")))?;
    let template = env
        .get_template("report.html")
        .map_err(|e| Error::internal(format!("templates/report.html: {e}")))?;
    template
        .render(minijinja::context! { doc => doc })
        .map_err(|e| Error::internal(format!("cannot render the report: {e}")))
}

/// Writes the page to a temporary file beside `path` (world-readable: a
/// report is for people to open), then renames it.
fn write_html(path: &Path, doc: &Document) -> Result<()> {
    let html = render_html(doc)?;
    crate::atomic::write_file(path, ".sepkg-report-", ".tmp", html.as_bytes())
}

/// A two-column "label  value" block.
fn field(s: &mut String, label: &str, value: &str) {
    let _ = writeln!(s, "    {label:<22} {value}");
}

fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

/// The human report: the verdict lines, then each package.
fn human(doc: &Document) -> String {
    let mut s = String::new();
    for v in &doc.verdicts {
        let _ = writeln!(s, "{}", v.line);
    }
    let _ = writeln!(s);
    for p in &doc.packages {
        let _ = writeln!(s, "{} ({}, {} bytes)", p.input, p.kind.name(), p.size);
        if let Some(sha) = &p.sha256 {
            let _ = writeln!(s, "  SHA-256 {sha}");
        }
        for c in &p.hash_checks {
            let verdict = if c.matches {
                "matches"
            } else {
                "DOES NOT MATCH"
            };
            let _ = writeln!(s, "  {} {verdict}", c.file);
        }
        container_lines(&mut s, p);
        for g in &p.signatures {
            package_signature_lines(&mut s, g);
        }
        for root in &p.roots {
            human_root(&mut s, root, doc.from_version.as_deref());
        }
        findings_table(&mut s, p.all_findings());
        let _ = writeln!(s);
    }
    let sm = &doc.summary;
    let _ = writeln!(
        s,
        "Summary: {} package(s) audited, {} could not be read; {} error(s), {} warning(s), {} info. Exit {} (--fail-on {}).",
        sm.packages, sm.failed_inputs, sm.errors, sm.warnings, sm.infos, sm.exit_code, doc.fail_on
    );
    s
}

/// What the container itself says: an .exe's stub, payload and SFX
/// settings, a cabinet's folders, and signatures on the whole file.
fn container_lines(s: &mut String, p: &PackageReport) {
    if let Some(exe) = &p.container.exe {
        let payload = exe.payload_kind.name();
        let _ = writeln!(
            s,
            "  exe: {} machine {}, stub {} bytes, {payload} payload of {} bytes at offset {}",
            exe.pe_format, exe.machine, exe.stub_size, exe.payload_size, exe.payload_offset
        );
        if let Some(sfx) = &exe.sfx_config {
            let settings: Vec<String> = sfx
                .settings
                .iter()
                .map(|x| format!("{}={:?}", x.key, x.value))
                .collect();
            let _ = writeln!(s, "  SFX settings: {}", settings.join(" "));
        }
    }
    if let Some(z) = &p.container.sevenz {
        let dictionary = z
            .dictionary
            .map_or("none".to_string(), |d| format!("{} KiB", d >> 10));
        let header = z.header_method.as_deref().unwrap_or("plain");
        let _ = writeln!(
            s,
            "  7z: {} folder(s), {}, largest dictionary {dictionary}, header {header}",
            z.folders,
            if z.solid { "solid" } else { "not solid" }
        );
        for (n, u) in z.units.iter().enumerate() {
            let _ = writeln!(
                s,
                "    folder {}: {}, {} file(s), {} bytes in {} packed",
                n + 1,
                u.method,
                u.files,
                u.size,
                u.packed
            );
        }
    }
    if let Some(cab) = &p.container.cab {
        let _ = writeln!(
            s,
            "  cabinet: {} folder(s), compression {}",
            cab.folders,
            cab.compression.join(", ")
        );
    }
}

fn human_root(s: &mut String, root: &RootReport, from_version: Option<&str>) {
    let dir = if root.dir.is_empty() {
        "(top)"
    } else {
        &root.dir
    };
    let _ = writeln!(s, "  package root {dir}");
    product_version_line(s, root);
    for m in &root.msis {
        match &m.error {
            Some(e) => field(s, "MSI", &format!("{}: unreadable: {e}", m.entry)),
            None => msi_lines(s, m),
        }
    }
    setaid_lines(s, root.setaid.as_ref());
    sylink_lines(s, root.sylink.as_ref());
    signatures_line(s, root);
    for m in root.msis.iter().filter(|m| m.error.is_none()) {
        upgrade_rows(s, m, from_version);
    }
}

/// setup.ini's version and each MSI's, on one line.
fn product_version_line(s: &mut String, root: &RootReport) {
    let setup_version = root
        .setup_ini
        .as_ref()
        .and_then(|x| x.product_version.as_deref());
    let msi_versions: Vec<String> = root
        .msis
        .iter()
        .map(|m| format!("{} {}", m.entry, or_dash(m.info.product_version.as_deref())))
        .collect();
    field(
        s,
        "Product version",
        &format!(
            "setup.ini {}; {}",
            or_dash(setup_version),
            if msi_versions.is_empty() {
                "no MSI".to_string()
            } else {
                msi_versions.join("; ")
            }
        ),
    );
}

/// What a readable MSI says: platform, product, codes, sequencing.
fn msi_lines(s: &mut String, m: &MsiReport) {
    let i = &m.info;
    let langs: Vec<String> = i.languages.iter().map(u16::to_string).collect();
    field(
        s,
        "Platform",
        &format!(
            "{} (languages {})",
            or_dash(i.platform.as_deref()),
            if langs.is_empty() {
                "-".to_string()
            } else {
                langs.join(",")
            }
        ),
    );
    field(
        s,
        "Product",
        &format!(
            "{} ({})",
            or_dash(i.product_name.as_deref()),
            or_dash(i.manufacturer.as_deref())
        ),
    );
    field(s, "ProductCode", or_dash(i.product_code.as_deref()));
    field(s, "UpgradeCode", or_dash(i.upgrade_code.as_deref()));
    field(s, "PackageCode", or_dash(i.package_code.as_deref()));
    field(
        s,
        "RemoveExistingProducts",
        match i.remove_existing_products {
            None => "no InstallExecuteSequence table",
            Some(true) => "scheduled",
            Some(false) => "NOT scheduled: nothing is removed",
        },
    );
}

/// KeepPreviousSetting (the effective one and any elsewhere) and the
/// features.
fn setaid_lines(s: &mut String, setaid: Option<&SetaidReport>) {
    let Some(a) = setaid else {
        field(s, "KeepPreviousSetting", "no SetAid.ini");
        return;
    };
    let kps = match (&a.error, &a.keep_previous_setting) {
        (Some(e), _) => format!("unreadable: {e}"),
        (None, Some(kv)) => format!(
            "{}  [{}] {} line {}",
            kv.value, kv.section, a.entry, kv.line
        ),
        (None, None) => format!("missing from [CUSTOM_SMC_CONFIG] in {}", a.entry),
    };
    field(s, "KeepPreviousSetting", &kps);
    for kv in &a.keep_previous_elsewhere {
        field(
            s,
            "",
            &format!("also {} in [{}] line {}", kv.value, kv.section, kv.line),
        );
    }
    let features: Vec<String> = a
        .features
        .iter()
        .map(|f| format!("{}={}", f.name, f.value))
        .collect();
    field(
        s,
        "Features",
        &if features.is_empty() {
            "-".to_string()
        } else {
            features.join(" ")
        },
    );
}

/// The sylink.xml's state and, when readable, what it points at.
fn sylink_lines(s: &mut String, sylink: Option<&SylinkReport>) {
    let Some(x) = sylink else {
        field(s, "sylink.xml", "missing");
        return;
    };
    if let Some(e) = &x.error {
        field(s, "sylink.xml", &format!("{}: malformed: {e}", x.entry));
    } else if x.managed {
        field(s, "sylink.xml", &format!("{}: managed", x.entry));
    } else {
        field(
            s,
            "sylink.xml",
            &format!("{}: UNMANAGED: {}", x.entry, x.missing.join("; ")),
        );
    }
    if let Some(info) = &x.info {
        let servers: Vec<String> = info.servers.iter().map(ToString::to_string).collect();
        field(s, "  DomainId", or_dash(info.domain_id.as_deref()));
        field(
            s,
            "  Servers",
            &if servers.is_empty() {
                "-".to_string()
            } else {
                servers.join(" ")
            },
        );
        field(
            s,
            "  Group / mode",
            &format!(
                "{} / {}",
                or_dash(info.preferred_group.as_deref()),
                or_dash(info.communication_mode.as_deref())
            ),
        );
    }
}

/// Each signature of the root: its programs', then its MSIs'.
fn signatures_line(s: &mut String, root: &RootReport) {
    if root.signatures.is_empty() {
        field(s, "Signatures", "-");
    }
    for g in &root.signatures {
        field(
            s,
            "Signature",
            &format!("{}: {} {}", g.entry, kind_name(g.kind), signature_state(g)),
        );
        signature_details(s, g, "  ");
    }
}

/// The package file's own signature (a single-file .exe's, a cabinet's).
fn package_signature_lines(s: &mut String, g: &Signature) {
    let _ = writeln!(s, "  {}: {}", kind_name(g.kind), signature_state(g));
    signature_details(s, g, "");
}

fn kind_name(kind: &str) -> &str {
    match kind {
        "authenticode" => "Authenticode",
        "msi-digital-signature" => "MSI DigitalSignature",
        "cab-signature" => "cabinet signature",
        other => other,
    }
}

/// `valid`, `INVALID: why`, `detected, not verified: why`...
fn signature_state(g: &Signature) -> String {
    match (g.status, &g.problem, &g.not_verified) {
        (SignatureStatus::Detected, _, Some(why)) => why.clone(),
        (status, Some(problem), _) => format!("{}: {problem}", status.name()),
        (SignatureStatus::Unsigned, None, _) if g.kind != "authenticode" => "none".to_string(),
        (status, None, _) => status.name().to_string(),
    }
}

/// Signer, issuer, serial, digest, signing time and chain of a verified
/// signature, one field each (labels indented by `indent`).
fn signature_details(s: &mut String, g: &Signature, indent: &str) {
    let Some(chain) = &g.chain else {
        return;
    };
    if let Some(n) = &g.signer {
        field(s, &format!("{indent}Signer"), &n.subject);
        field(s, &format!("{indent}Issuer"), &n.issuer);
        field(s, &format!("{indent}Serial"), &n.serial);
    }
    field(
        s,
        &format!("{indent}Digest algorithm"),
        or_dash(g.digest_algorithm.as_deref()),
    );
    field(s, &format!("{indent}Signing time"), &signing_time(g));
    field(s, &format!("{indent}Chain"), &chain.to_string());
}

/// `2026-01-02T03:04:05Z (RFC 3161 timestamp)` or `none (no timestamp)`.
fn signing_time(g: &Signature) -> String {
    use crate::authenticode::TimestampKind;
    match (&g.signing_time, g.timestamp) {
        (Some(t), Some(TimestampKind::Rfc3161)) => format!("{t} (RFC 3161 timestamp)"),
        (Some(t), _) => format!("{t} (countersignature)"),
        (None, Some(_)) => "unknown (the timestamp cannot be read)".to_string(),
        (None, None) => "none (no timestamp)".to_string(),
    }
}

/// A readable MSI's Upgrade table, a row per line with its meaning below,
/// and with `--from-version` the verdict.
fn upgrade_rows(s: &mut String, m: &MsiReport, from_version: Option<&str>) {
    if m.upgrade_rows.is_empty() {
        field(s, "Upgrade rows", &format!("{}: none", m.entry));
        return;
    }
    let _ = writeln!(s, "    Upgrade rows of {}:", m.entry);
    let rows: Vec<[String; 6]> = m
        .upgrade_rows
        .iter()
        .enumerate()
        .map(|(n, r)| {
            [
                (n + 1).to_string(),
                r.row.upgrade_code.clone(),
                or_dash(r.row.version_min.as_deref()).to_string(),
                or_dash(r.row.version_max.as_deref()).to_string(),
                format!("{} {}", r.row.attributes, r.row.attribute_names.join("+")),
                r.row.action_property.clone(),
            ]
        })
        .collect();
    let head = ["#", "UpgradeCode", "Min", "Max", "Attributes", "Property"];
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([head[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut l = String::from("     ");
        for (c, cell) in cells.iter().enumerate() {
            let _ = write!(l, " {:<w$}", cell, w = widths[c]);
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(s, "{}", line(&head));
    for (r, report) in rows.iter().zip(&m.upgrade_rows) {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        let _ = writeln!(s, "{}", line(&cells));
        let _ = writeln!(s, "        {}", report.meaning);
    }
    if let (Some(d), Some(v)) = (&m.from_version, from_version) {
        let verdict = if d.removes { "REMOVED" } else { "NOT removed" };
        let _ = writeln!(s, "    From version {v}: {verdict}: {}", d.reason);
    }
}

fn findings_table<'a>(s: &mut String, findings: impl Iterator<Item = &'a Finding>) {
    let mut findings: Vec<&Finding> = findings.collect();
    // Worst first; stable, so each severity keeps the order found.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if findings.is_empty() {
        let _ = writeln!(s, "  Findings: none");
        return;
    }
    let code_w = findings.iter().map(|f| f.code.len()).max().unwrap_or(4);
    let _ = writeln!(s, "  Findings:");
    let _ = writeln!(s, "    {:<8} {:<code_w$} MESSAGE", "SEVERITY", "CODE");
    for f in findings {
        let _ = writeln!(
            s,
            "    {:<8} {:<code_w$} {}",
            f.severity.name().to_uppercase(),
            f.code,
            f.message
        );
        let _ = writeln!(s, "    {:<8} {:<code_w$} hint: {}", "", "", f.hint);
    }
}
