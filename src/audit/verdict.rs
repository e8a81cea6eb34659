//! The verdict lines a report starts with: one per package, failing ones
//! first, so that the answer is the first thing read and a web root of
//! twenty packages does not hide its one failure on page three.
//!
//! ```text
//! ERROR  broken.zip  cannot be audited: broken.zip: corrupt or unsupported zip: ...
//! FAIL  SEP-x64.zip  2 errors: self-managed-after-upgrade, exe-signature-invalid
//! PASS  SEP-x64-managed.zip
//! ```

use serde::Serialize;

use super::{PackageReport, Severity};

/// A package's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It could not be audited (exit 2).
    Error,
    /// A finding at or above `--fail-on` (exit 1).
    Fail,
    /// None.
    Pass,
}

impl Outcome {
    /// `ERROR`, `FAIL`, `PASS`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Error => "ERROR",
            Outcome::Fail => "FAIL",
            Outcome::Pass => "PASS",
        }
    }
}

/// One verdict line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageVerdict {
    /// The input as given.
    pub input: String,
    /// Pass, fail or error.
    pub result: Outcome,
    /// What fails it: `2 errors: self-managed-after-upgrade,
    /// exe-signature-invalid`, or why it could not be audited; empty for a
    /// pass.
    pub reason: String,
    /// The codes of the findings that fail it, worst first.
    pub codes: Vec<&'static str>,
    /// The whole line, as the terminal report prints it.
    pub line: String,
}

impl PackageVerdict {
    fn new(input: &str, result: Outcome, reason: String, codes: Vec<&'static str>) -> Self {
        let line = if reason.is_empty() {
            format!("{:<4}  {input}", result.name())
        } else {
            format!("{:<4}  {input}  {reason}", result.name())
        };
        PackageVerdict {
            input: input.to_string(),
            result,
            reason,
            codes,
            line,
        }
    }
}

fn count(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The verdict of one audited package with `fail_on`.
pub fn of(report: &PackageReport, fail_on: Severity) -> PackageVerdict {
    let mut failing: Vec<(Severity, &'static str)> = report
        .all_findings()
        .filter(|f| f.severity >= fail_on)
        .map(|f| (f.severity, f.code))
        .collect();
    if failing.is_empty() {
        return PackageVerdict::new(&report.input, Outcome::Pass, String::new(), Vec::new());
    }
    // Worst first; stable, so each severity keeps the order found.
    failing.sort_by_key(|(s, _)| std::cmp::Reverse(*s));
    let mut counts = Vec::new();
    for (severity, one) in [(Severity::Error, "error"), (Severity::Warning, "warning")] {
        let n = failing.iter().filter(|(s, _)| *s == severity).count();
        if n > 0 {
            counts.push(count(n, one));
        }
    }
    let mut codes: Vec<&'static str> = Vec::new();
    for (_, code) in &failing {
        if !codes.contains(code) {
            codes.push(code);
        }
    }
    let named: Vec<String> = codes
        .iter()
        .map(|c| match failing.iter().filter(|(_, x)| x == c).count() {
            1 => c.to_string(),
            n => format!("{c} ({n})"),
        })
        .collect();
    let reason = format!("{}: {}", counts.join(", "), named.join(", "));
    PackageVerdict::new(&report.input, Outcome::Fail, reason, codes)
}

/// Every verdict, failing first (inputs that could not be audited, then
/// failing packages, then passing ones), each group in input order.
/// `failed` holds (input, error message) for inputs that could not be
/// audited.
pub fn all(
    reports: &[PackageReport],
    failed: &[(String, String)],
    fail_on: Severity,
) -> Vec<PackageVerdict> {
    let mut out: Vec<PackageVerdict> = failed
        .iter()
        .map(|(input, e)| {
            PackageVerdict::new(
                input,
                Outcome::Error,
                format!("cannot be audited: {e}"),
                Vec::new(),
            )
        })
        .collect();
    out.extend(reports.iter().map(|r| of(r, fail_on)));
    out.sort_by_key(|v| v.result);
    out
}
