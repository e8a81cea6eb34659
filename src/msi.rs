//! The MSI inside a package: reading it (never writing it) and judging its
//! Upgrade table the way Windows Installer does.
//!
//! SEP's `Sep64.msi` / `Sep.msi` is vendor-signed, so this module only reads:
//! the Property table (`ProductCode`, `UpgradeCode`, `ProductVersion`,
//! `ProductName`, `Manufacturer`), the summary information (the revision
//! number is the **PackageCode**; the template gives platform and languages),
//! every Upgrade row, and whether a digital signature stream is present.
//!
//! The `msi` crate needs `Read + Seek`. A folder entry is opened where it
//! lies; an entry inside an archive is streamed into a temporary file first,
//! because a 400 MB MSI must never sit in memory.
//!
//! The crate (and `cfb` under it) indexes and slices on values read from the
//! file, so crafted input can panic. Every read runs under
//! `crate::contain`, and a panic becomes a [`ReadError`] naming the
//! entry, with nothing on stderr.
//!
//! # Upgrade rules ([`evaluate`])
//! As FindRelatedProducts and RemoveExistingProducts apply them:
//! - only the first three fields of a version count (7.0.2210.332 is 7.0.2210);
//! - a null `VersionMin` or `VersionMax` is an open bound;
//! - bit 256 makes `VersionMin` inclusive, bit 512 makes `VersionMax` inclusive;
//! - a row with bit 2 (OnlyDetect) sets its property but removes nothing;
//! - an installed product is removed when a matching row without OnlyDetect
//!   exists; the first such row in table order is the one reported.

use std::fmt;
use std::io::{self, Read, Seek};
use std::path::Path;

use serde::Serialize;

use crate::package::Package;

/// The Upgrade table's attribute bits and their names.
pub const ATTRIBUTE_NAMES: [(i32, &str); 6] = [
    (1, "MigrateFeatures"),
    (2, "OnlyDetect"),
    (4, "IgnoreRemoveFailure"),
    (256, "VersionMinInclusive"),
    (512, "VersionMaxInclusive"),
    (1024, "LanguagesExclusive"),
];

const ONLY_DETECT: i32 = 2;
const MIN_INCLUSIVE: i32 = 256;
const MAX_INCLUSIVE: i32 = 512;

/// One row of the Upgrade table, as stored, with its attributes in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradeRow {
    /// The family of products this row looks for.
    pub upgrade_code: String,
    /// The lower bound, or null for none.
    pub version_min: Option<String>,
    /// The upper bound, or null for none.
    pub version_max: Option<String>,
    /// Comma-separated language ids, or null for any.
    pub language: Option<String>,
    /// The attribute bits as stored.
    pub attributes: i32,
    /// The attribute bits in words (unknown bits as `0x...`).
    pub attribute_names: Vec<String>,
    /// Features to remove (null: all).
    pub remove: Option<String>,
    /// The property FindRelatedProducts sets to the found ProductCodes.
    pub action_property: String,
}

impl UpgradeRow {
    /// True when the row only detects (bit 2).
    pub fn only_detect(&self) -> bool {
        self.attributes & ONLY_DETECT != 0
    }

    /// The range in words, e.g. `>= 12.1.0.0 and < 14.3.8289.5000`.
    pub fn range(&self) -> String {
        let min = self.version_min.as_ref().map(|v| {
            let op = if self.attributes & MIN_INCLUSIVE != 0 {
                ">="
            } else {
                ">"
            };
            format!("{op} {v}")
        });
        let max = self.version_max.as_ref().map(|v| {
            let op = if self.attributes & MAX_INCLUSIVE != 0 {
                "<="
            } else {
                "<"
            };
            format!("{op} {v}")
        });
        match (min, max) {
            (Some(a), Some(b)) => format!("{a} and {b}"),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => "any version".to_string(),
        }
    }

    /// What the row does, in one sentence. `own` says whether the row is
    /// for the MSI's own UpgradeCode ("this product").
    pub fn meaning(&self, own: bool) -> String {
        let verb = if self.only_detect() {
            "detects (does not remove)"
        } else {
            "removes"
        };
        let lang = match &self.language {
            Some(l) if self.attributes & 1024 != 0 => format!(", languages other than {l}"),
            Some(l) => format!(", languages {l}"),
            None => String::new(),
        };
        let whose = if own {
            "this product".to_string()
        } else {
            format!("UpgradeCode {}", self.upgrade_code)
        };
        format!(
            "{verb} installed versions {} of {whose}{lang}; sets {}",
            self.range(),
            self.action_property
        )
    }
}

/// The attribute bits in words; unknown bits as hex.
pub fn attribute_names(attributes: i32) -> Vec<String> {
    let mut names: Vec<String> = ATTRIBUTE_NAMES
        .iter()
        .filter(|(bit, _)| attributes & bit != 0)
        .map(|(_, name)| (*name).to_string())
        .collect();
    let known = ATTRIBUTE_NAMES.iter().fold(0, |acc, (bit, _)| acc | bit);
    let unknown = attributes & !known;
    if unknown != 0 {
        names.push(format!("0x{unknown:X}"));
    }
    names
}

/// What an MSI says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MsiInfo {
    /// Property `ProductCode`.
    pub product_code: Option<String>,
    /// Property `UpgradeCode`.
    pub upgrade_code: Option<String>,
    /// Property `ProductVersion`.
    pub product_version: Option<String>,
    /// Property `ProductName`.
    pub product_name: Option<String>,
    /// Property `Manufacturer`.
    pub manufacturer: Option<String>,
    /// Summary information revision number: the PackageCode, `{UPPERCASE}`.
    pub package_code: Option<String>,
    /// The platform from the summary template (`x64`, `Intel`, ...).
    pub platform: Option<String>,
    /// Language ids from the summary template.
    pub languages: Vec<u16>,
    /// True when the MSI has an Upgrade table.
    pub has_upgrade_table: bool,
    /// Whether InstallExecuteSequence schedules RemoveExistingProducts, the
    /// action that removes what the Upgrade rows found; null when the MSI
    /// has no InstallExecuteSequence table to tell.
    pub remove_existing_products: Option<bool>,
    /// Every Upgrade row, in the order the crate returns them. Not
    /// serialised here: the audit report lists them, with their meaning, as
    /// `upgrade`.
    #[serde(skip_serializing)]
    pub upgrade: Vec<UpgradeRow>,
    /// True when a `\u{5}DigitalSignature` stream is present (not verified).
    pub signed: bool,
}

/// Why an MSI could not be read. The caller adds the file and entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs `f` under [`crate::contain`], turning a panic inside it into a
/// [`ReadError`].
fn contain<T>(f: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    crate::contain::contain(crate::contain::MSI, f).unwrap_or_else(|reason| Err(ReadError(reason)))
}

/// Reads an MSI from any seekable source.
pub fn read<F: Read + Seek>(inner: F) -> Result<MsiInfo, ReadError> {
    contain(|| read_inner(inner))
}

/// Reads the MSI file at `path`.
pub fn read_file(path: &Path) -> Result<MsiInfo, ReadError> {
    let file = std::fs::File::open(path).map_err(|e| ReadError(format!("cannot open: {e}")))?;
    read(io::BufReader::new(file))
}

/// Reads the MSI at entry `index` of `pkg`: in place for a file on disk,
/// otherwise streamed into a temporary file that is removed afterwards.
pub fn read_entry(pkg: &mut Package, index: usize) -> Result<MsiInfo, ReadError> {
    with_seekable(pkg, index, read)
}

/// Runs `f` on the MSI at entry `index` of `pkg`, opened in place for a
/// file on disk, otherwise streamed into a temporary file that is removed
/// afterwards (the `msi` and `cfb` crates need `Seek`).
pub fn with_seekable<T>(
    pkg: &mut Package,
    index: usize,
    f: impl FnOnce(io::BufReader<std::fs::File>) -> Result<T, ReadError>,
) -> Result<T, ReadError> {
    if let Some(path) = pkg.entry_file(index) {
        let file = std::fs::File::open(path).map_err(|e| ReadError(format!("cannot open: {e}")))?;
        return f(io::BufReader::new(file));
    }
    let mut temp = tempfile::tempfile()
        .map_err(|e| ReadError(format!("cannot create a temporary file: {e}")))?;
    {
        let mut reader = pkg
            .open_entry(index)
            .map_err(|e| ReadError(format!("cannot read the entry: {e}")))?;
        io::copy(&mut reader, &mut temp)
            .map_err(|e| ReadError(format!("cannot unpack the entry: {e}")))?;
    }
    temp.rewind()
        .map_err(|e| ReadError(format!("cannot read the temporary copy: {e}")))?;
    f(io::BufReader::new(temp))
}

fn read_inner<F: Read + Seek>(inner: F) -> Result<MsiInfo, ReadError> {
    let mut pkg = msi::Package::open(inner)
        .map_err(|e| ReadError(format!("not a readable MSI database: {e}")))?;
    let summary = pkg.summary_info();
    let mut info = MsiInfo {
        package_code: summary
            .uuid()
            .map(|u| format!("{{{}}}", u.hyphenated().to_string().to_uppercase())),
        platform: summary.arch().map(str::to_string),
        languages: summary.languages().iter().map(|l| l.id()).collect(),
        signed: pkg.has_digital_signature(),
        has_upgrade_table: pkg.has_table("Upgrade"),
        ..MsiInfo::default()
    };
    if !pkg.has_table("Property") {
        return Err(ReadError("the MSI has no Property table".into()));
    }
    let rows = pkg
        .select_rows(msi::Select::table("Property"))
        .map_err(|e| ReadError(format!("cannot read the Property table: {e}")))?;
    for row in rows {
        let (Some(name), Some(value)) = (
            column(&row, "Property").and_then(msi::Value::as_str),
            column(&row, "Value").and_then(msi::Value::as_str),
        ) else {
            continue;
        };
        let slot = match name {
            "ProductCode" => &mut info.product_code,
            "UpgradeCode" => &mut info.upgrade_code,
            "ProductVersion" => &mut info.product_version,
            "ProductName" => &mut info.product_name,
            "Manufacturer" => &mut info.manufacturer,
            _ => continue,
        };
        *slot = Some(value.to_string());
    }
    if pkg.has_table("InstallExecuteSequence") {
        let rows = pkg
            .select_rows(msi::Select::table("InstallExecuteSequence"))
            .map_err(|e| ReadError(format!("cannot read the InstallExecuteSequence table: {e}")))?;
        let mut found = false;
        for row in rows {
            if column(&row, "Action").and_then(msi::Value::as_str) == Some("RemoveExistingProducts")
            {
                found = true;
            }
        }
        info.remove_existing_products = Some(found);
    }
    if info.has_upgrade_table {
        let rows = pkg
            .select_rows(msi::Select::table("Upgrade"))
            .map_err(|e| ReadError(format!("cannot read the Upgrade table: {e}")))?;
        for row in rows {
            let text = |name: &str| column(&row, name).and_then(|v| v.as_str().map(str::to_string));
            let attributes = column(&row, "Attributes")
                .and_then(msi::Value::as_int)
                .unwrap_or(0);
            info.upgrade.push(UpgradeRow {
                upgrade_code: text("UpgradeCode").unwrap_or_default(),
                version_min: text("VersionMin"),
                version_max: text("VersionMax"),
                language: text("Language"),
                attributes,
                attribute_names: attribute_names(attributes),
                remove: text("Remove"),
                action_property: text("ActionProperty").unwrap_or_default(),
            });
        }
    }
    Ok(info)
}

/// A row's value by column name, without the panicking `row["name"]`.
fn column<'a>(row: &'a msi::Row, name: &str) -> Option<&'a msi::Value> {
    let i = row.columns().iter().position(|c| c.name() == name)?;
    (i < row.len()).then(|| &row[i])
}

/// A product version as Windows Installer compares it: the first three
/// fields (major.minor.build); a fourth field is kept for display only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// major, minor, build: the fields that count.
    pub key: [u32; 3],
    /// The text as given.
    pub text: String,
}

/// The fields Windows Installer compares, with their largest values.
const LIMITS: [(&str, u32); 3] = [("major", 255), ("minor", 255), ("build", 65535)];

impl Version {
    /// Parses `a[.b[.c[.d]]]`, each a decimal number. Missing fields are 0.
    /// The fields that count are held to Windows Installer's limits (major
    /// and minor at most 255, build at most 65535): a version beyond them
    /// is not one Windows Installer can hold, so `--from-version 300.0.0`
    /// would describe no installed product. The fourth field, which
    /// Windows Installer ignores, is only required to be a number.
    pub fn parse(text: &str) -> Result<Version, String> {
        let trimmed = text.trim();
        let fields: Vec<&str> = trimmed.split('.').collect();
        if trimmed.is_empty() || fields.len() > 4 {
            return Err(format!(
                "{text:?} is not a version of one to four dotted numbers"
            ));
        }
        let mut key = [0u32; 3];
        for (i, f) in fields.iter().enumerate() {
            let n: u32 = f
                .parse()
                .map_err(|_| format!("{text:?}: field {:?} is not a number", f))?;
            if i < 3 {
                let (name, max) = LIMITS[i];
                if n > max {
                    return Err(format!(
                        "{text:?}: the {name} field is {n}, over {max}: Windows Installer versions are major.minor.build with major and minor at most 255 and build at most 65535"
                    ));
                }
                key[i] = n;
            }
        }
        Ok(Version {
            key,
            text: trimmed.to_string(),
        })
    }

    /// True when the fourth field would be ignored by Windows Installer.
    pub fn has_fourth_field(&self) -> bool {
        self.text.split('.').count() == 4
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How one Upgrade row treats an installed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowOutcome {
    /// In range and not OnlyDetect: the installed product is removed.
    Removes,
    /// In range but OnlyDetect: found, not removed.
    DetectsOnly,
    /// Outside the range.
    OutOfRange,
    /// The row is for another UpgradeCode.
    OtherProduct,
    /// A bound is not a version; Windows Installer would fail or skip it.
    BadBound,
}

/// Does `row`'s version range hold `installed`? Only the first three fields
/// count; a null bound is open.
pub fn in_range(row: &UpgradeRow, installed: &Version) -> Result<bool, String> {
    if let Some(min) = &row.version_min {
        let min = Version::parse(min)?;
        let ok = if row.attributes & MIN_INCLUSIVE != 0 {
            installed.key >= min.key
        } else {
            installed.key > min.key
        };
        if !ok {
            return Ok(false);
        }
    }
    if let Some(max) = &row.version_max {
        let max = Version::parse(max)?;
        let ok = if row.attributes & MAX_INCLUSIVE != 0 {
            installed.key <= max.key
        } else {
            installed.key < max.key
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The outcome of one row for an installed product of `upgrade_code` at
/// `installed`.
pub fn row_outcome(row: &UpgradeRow, upgrade_code: &str, installed: &Version) -> RowOutcome {
    if !row.upgrade_code.eq_ignore_ascii_case(upgrade_code) {
        return RowOutcome::OtherProduct;
    }
    match in_range(row, installed) {
        Err(_) => RowOutcome::BadBound,
        Ok(false) => RowOutcome::OutOfRange,
        Ok(true) if row.only_detect() => RowOutcome::DetectsOnly,
        Ok(true) => RowOutcome::Removes,
    }
}

/// The answer to "will this MSI remove an installed V?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The installed version asked about.
    pub installed: String,
    /// The fields Windows Installer compares (major.minor.build).
    pub compared_as: String,
    /// True when the installed product is removed.
    pub removes: bool,
    /// True when some row detects it (removing or not).
    pub detected: bool,
    /// The index (0-based, in [`MsiInfo::upgrade`]) of the deciding row.
    pub deciding_row: Option<usize>,
    /// Each row's outcome, in row order.
    pub rows: Vec<RowOutcome>,
    /// One sentence saying why.
    pub reason: String,
}

/// Decides whether installing this MSI removes an installed product of the
/// same UpgradeCode at version `installed`.
///
/// The installed product is assumed to share this MSI's UpgradeCode (a
/// product of the same family). Language filters are not evaluated: the
/// installed product's language is not known here, so a row with a
/// `Language` is treated as matching and the reason says so.
pub fn evaluate(upgrade_code: &str, rows: &[UpgradeRow], installed: &Version) -> Decision {
    let outcomes: Vec<RowOutcome> = rows
        .iter()
        .map(|r| row_outcome(r, upgrade_code, installed))
        .collect();
    let first = |want: RowOutcome| outcomes.iter().position(|o| *o == want);
    let compared_as = format!(
        "{}.{}.{}",
        installed.key[0], installed.key[1], installed.key[2]
    );
    let lang_note = |i: usize| match &rows[i].language {
        Some(l) => format!(" (assuming the installed language matches {l})"),
        None => String::new(),
    };
    let (removes, detected, deciding, reason) = if let Some(i) = first(RowOutcome::Removes) {
        (
            true,
            true,
            Some(i),
            format!(
                "Upgrade row {} ({}) holds {compared_as} and is not OnlyDetect: RemoveExistingProducts removes it{}",
                i + 1,
                rows[i].range(),
                lang_note(i)
            ),
        )
    } else if let Some(i) = first(RowOutcome::DetectsOnly) {
        (
            false,
            true,
            Some(i),
            format!(
                "only Upgrade row {} ({}) holds {compared_as}, and it is OnlyDetect: {} is set but nothing is removed{}",
                i + 1,
                rows[i].range(),
                rows[i].action_property,
                lang_note(i)
            ),
        )
    } else if outcomes.iter().all(|o| *o == RowOutcome::OtherProduct) {
        (
            false,
            false,
            None,
            format!("no Upgrade row is for UpgradeCode {upgrade_code}: nothing is removed"),
        )
    } else {
        let bad: Vec<String> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| **o == RowOutcome::BadBound)
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        let bad = if bad.is_empty() {
            String::new()
        } else {
            format!(
                " (Upgrade row {} has a bound that is not a version and was skipped)",
                bad.join(", ")
            )
        };
        (
            false,
            false,
            None,
            format!(
                "no Upgrade row for UpgradeCode {upgrade_code} holds {compared_as}: nothing is removed{bad}"
            ),
        )
    };
    Decision {
        installed: installed.text.clone(),
        compared_as,
        removes,
        detected,
        deciding_row: deciding,
        rows: outcomes,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}";

    fn row(min: Option<&str>, max: Option<&str>, attributes: i32) -> UpgradeRow {
        UpgradeRow {
            upgrade_code: CODE.into(),
            version_min: min.map(Into::into),
            version_max: max.map(Into::into),
            language: None,
            attributes,
            attribute_names: attribute_names(attributes),
            remove: None,
            action_property: "OLDER".into(),
        }
    }

    fn removes(r: &UpgradeRow, v: &str) -> bool {
        evaluate(CODE, std::slice::from_ref(r), &Version::parse(v).unwrap()).removes
    }

    #[test]
    fn inclusive_minimum() {
        let r = row(Some("12.1.0"), None, MIN_INCLUSIVE);
        assert!(!removes(&r, "12.0.9999"));
        assert!(removes(&r, "12.1.0"));
        assert!(removes(&r, "12.1.1"));
    }

    #[test]
    fn exclusive_minimum() {
        let r = row(Some("12.1.0"), None, 0);
        assert!(!removes(&r, "12.0.9999"));
        assert!(!removes(&r, "12.1.0"));
        assert!(removes(&r, "12.1.1"));
    }

    #[test]
    fn inclusive_maximum() {
        let r = row(None, Some("14.3.8289"), MAX_INCLUSIVE);
        assert!(removes(&r, "14.3.8288"));
        assert!(removes(&r, "14.3.8289"));
        assert!(!removes(&r, "14.3.8290"));
    }

    #[test]
    fn exclusive_maximum() {
        let r = row(None, Some("14.3.8289"), 0);
        assert!(removes(&r, "14.3.8288"));
        assert!(!removes(&r, "14.3.8289"));
        assert!(!removes(&r, "14.3.8290"));
    }

    #[test]
    fn null_bounds_are_open() {
        let r = row(None, None, 0);
        assert!(removes(&r, "0.0.0"));
        assert!(removes(&r, "255.255.65535"));
    }

    #[test]
    fn only_the_first_three_fields_count() {
        // 14.3.8289.1000 and 14.3.8289.5000 are the same version to Windows
        // Installer: an exclusive maximum of .5000 excludes .1000 too.
        let r = row(Some("12.1.0.0"), Some("14.3.8289.5000"), MIN_INCLUSIVE);
        assert!(!removes(&r, "14.3.8289.1000"));
        assert!(!removes(&r, "14.3.8289.9999"));
        assert!(removes(&r, "14.3.8288.9999"));
        let inclusive = row(None, Some("14.3.8289.5000"), MAX_INCLUSIVE);
        assert!(removes(&inclusive, "14.3.8289.9999"));
        let min = row(Some("14.3.8289.5000"), None, 0);
        assert!(!removes(&min, "14.3.8289.9999"));
    }

    #[test]
    fn only_detect_detects_but_does_not_remove() {
        let rows = [row(Some("14.3.8289"), None, ONLY_DETECT)];
        let d = evaluate(CODE, &rows, &Version::parse("14.3.9000").unwrap());
        assert!(d.detected && !d.removes);
        assert_eq!(d.deciding_row, Some(0));
        assert!(d.reason.contains("OnlyDetect"), "{}", d.reason);
    }

    #[test]
    fn removing_row_wins_over_an_earlier_detect_row() {
        let rows = [
            row(None, None, ONLY_DETECT),
            row(Some("12.1"), Some("14.3.8289"), MIN_INCLUSIVE),
        ];
        let d = evaluate(CODE, &rows, &Version::parse("14.2").unwrap());
        assert!(d.removes);
        assert_eq!(d.deciding_row, Some(1));
        assert_eq!(d.rows, [RowOutcome::DetectsOnly, RowOutcome::Removes]);
    }

    #[test]
    fn rows_for_another_upgrade_code_do_not_count() {
        let mut other = row(None, None, 0);
        other.upgrade_code = "{00000000-0000-0000-0000-000000000000}".into();
        let d = evaluate(CODE, &[other], &Version::parse("1.0").unwrap());
        assert!(!d.removes && !d.detected);
        assert_eq!(d.rows, [RowOutcome::OtherProduct]);
        // UpgradeCode compares without regard to letter case.
        let lower = UpgradeRow {
            upgrade_code: CODE.to_lowercase(),
            ..row(None, None, 0)
        };
        assert!(removes(&lower, "1.0"));
    }

    #[test]
    fn language_filters_are_assumed_to_match_and_say_so() {
        let mut r = row(Some("12.1"), None, MIN_INCLUSIVE);
        r.language = Some("1033".into());
        let d = evaluate(
            CODE,
            std::slice::from_ref(&r),
            &Version::parse("13").unwrap(),
        );
        assert!(d.removes);
        assert!(
            d.reason
                .contains("assuming the installed language matches 1033"),
            "{}",
            d.reason
        );
        r.attributes |= 1024;
        assert!(r.meaning(true).contains("languages other than 1033"));
    }

    #[test]
    fn bad_bound_is_reported_not_matched() {
        let r = row(Some("twelve"), None, 0);
        let d = evaluate(
            CODE,
            std::slice::from_ref(&r),
            &Version::parse("13").unwrap(),
        );
        assert_eq!(d.rows, [RowOutcome::BadBound]);
        assert!(!d.removes);
        assert!(
            d.reason.contains("row 1 has a bound that is not a version"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn versions_parse() {
        assert_eq!(Version::parse("14.3.8289.5000").unwrap().key, [14, 3, 8289]);
        assert_eq!(Version::parse("12").unwrap().key, [12, 0, 0]);
        assert!(Version::parse("1.2.3.4.5").is_err());
        assert!(Version::parse("1.x").is_err());
        assert!(Version::parse("").is_err());
        assert_eq!(
            Version::parse("255.255.65535").unwrap().key,
            [255, 255, 65535]
        );
        let e = Version::parse("300.0.0").unwrap_err();
        assert!(e.contains("the major field is 300, over 255"), "{e}");
        let e = Version::parse("14.256").unwrap_err();
        assert!(e.contains("the minor field is 256, over 255"), "{e}");
        let e = Version::parse("14.3.70000").unwrap_err();
        assert!(e.contains("the build field is 70000, over 65535"), "{e}");
    }

    #[test]
    fn attributes_in_words() {
        assert_eq!(
            attribute_names(257),
            ["MigrateFeatures", "VersionMinInclusive"]
        );
        assert_eq!(attribute_names(2 | 4096), ["OnlyDetect", "0x1000"]);
        assert!(attribute_names(0).is_empty());
        assert_eq!(
            row(Some("1"), Some("2"), 256).range(),
            ">= 1 and < 2".to_string()
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        bytes.extend(std::iter::repeat_n(0xFFu8, 600));
        assert!(read(io::Cursor::new(bytes)).is_err());
        assert!(read(io::Cursor::new(Vec::new())).is_err());
    }
}
