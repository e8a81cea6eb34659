//! SetAid.ini (and setup.ini): a format-preserving INI reader and editor.
//!
//! No INI crate on crates.io writes such a file back unchanged: `configparser`
//! lowercases names, drops comments and cuts values at `;`; `rust-ini` eats
//! backslashes (see `shared/research/rust-ecosystem.md` §1.5). So this module
//! is a small line editor, written by hand, that follows the Windows profile
//! API's reading rules and changes nothing but the value it is asked to set:
//!
//! - The text is kept as code units in its own encoding: bytes for UTF-8 and
//!   Windows-1252 (both ASCII-compatible, and every name we match is ASCII),
//!   16-bit units for UTF-16. Nothing is decoded and re-encoded, so bytes we do
//!   not edit cannot change. The BOM and every line ending stay as they are.
//! - `[Section]` and `Key` names match ASCII case-insensitively; the spelling
//!   in the file is kept. The first occurrence of a key in the first matching
//!   section is the effective one.
//! - `;` starts a comment only as the first non-blank character of a line; a
//!   `;` inside a value is part of the value.
//! - A value's surrounding blanks (and matching quotes) are not part of it, so
//!   `Key = 1 ` edited to 0 becomes `Key = 0 `.
//!
//! ```
//! use sepkg::setaid::{Edit, IniFile};
//!
//! let before = b"; exported by the SEPM\r\n[Custom_SMC_Config]\r\nkeepPreviousSetting = 1 \r\n";
//! let mut ini = IniFile::parse(before).unwrap();
//! let changes = ini.apply(&Edit::keep_previous_off()).unwrap();
//! assert_eq!(changes[0].old.as_deref(), Some("1"));
//! // One byte differs; the comment, case, spacing and CRLF are untouched.
//! assert_eq!(ini.to_bytes(), b"; exported by the SEPM\r\n[Custom_SMC_Config]\r\nkeepPreviousSetting = 0 \r\n");
//! // Applying the edit again changes nothing.
//! assert!(ini.apply(&Edit::keep_previous_off()).unwrap().is_empty());
//! ```

use std::fmt;
use std::ops::Range;

/// The largest SetAid.ini or setup.ini that is parsed (a real one is < 2 KB).
pub const MAX_SIZE: u64 = 1024 * 1024;

/// The section the installer reads `KeepPreviousSetting` from (inferred, not
/// documented: see SPEC §1).
pub const SMC_SECTION: &str = "CUSTOM_SMC_CONFIG";
/// The key that maps to the MSI property MIGRATESETTINGS.
pub const KEEP_PREVIOUS: &str = "KeepPreviousSetting";
/// The section listing features to install.
pub const FEATURE_SECTION: &str = "FEATURE_SELECTION";

/// How the file's bytes encode its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8 with no byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16 little-endian with a byte-order mark.
    Utf16LeBom,
    /// UTF-16 big-endian with a byte-order mark.
    Utf16BeBom,
    /// An 8-bit file that is not valid UTF-8, read as Windows-1252 ("ANSI").
    Windows1252,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Utf16LeBom => "UTF-16LE with BOM",
            Encoding::Utf16BeBom => "UTF-16BE with BOM",
            Encoding::Windows1252 => "Windows-1252",
        })
    }
}

/// Why a file cannot be read as INI text. The caller adds the file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A code unit: a byte or a UTF-16 unit. Names are matched on ASCII only.
trait Unit: Copy + Eq {
    fn ascii(self) -> Option<u8>;
    fn from_ascii(byte: u8) -> Self;
}

impl Unit for u8 {
    fn ascii(self) -> Option<u8> {
        self.is_ascii().then_some(self)
    }
    fn from_ascii(byte: u8) -> Self {
        byte
    }
}

impl Unit for u16 {
    fn ascii(self) -> Option<u8> {
        (self < 0x80).then_some(self as u8)
    }
    fn from_ascii(byte: u8) -> Self {
        u16::from(byte)
    }
}

/// What one line is. Ranges index the line's units (terminator excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Section {
        name: Range<usize>,
    },
    Key {
        name: Range<usize>,
        value: Range<usize>,
    },
    /// A line with no `=`: Windows reads it as a key with no value; we keep it.
    Other,
}

#[derive(Debug, Clone)]
struct Line<T> {
    /// The line's units, terminator included.
    units: Vec<T>,
    /// Units before the terminator.
    body: usize,
    kind: Kind,
}

fn is_blank<T: Unit>(u: T) -> bool {
    matches!(u.ascii(), Some(b' ' | b'\t'))
}

fn parse_line<T: Unit>(units: Vec<T>) -> Line<T> {
    let mut body = units.len();
    if body > 0 && units[body - 1].ascii() == Some(b'\n') {
        body -= 1;
        if body > 0 && units[body - 1].ascii() == Some(b'\r') {
            body -= 1;
        }
    }
    let text = &units[..body];
    let start = text.iter().position(|u| !is_blank(*u)).unwrap_or(body);
    let kind = if start == body {
        Kind::Blank
    } else {
        match text[start].ascii() {
            Some(b';') => Kind::Comment,
            Some(b'[') => {
                let close = text[start..]
                    .iter()
                    .position(|u| u.ascii() == Some(b']'))
                    .map_or(body, |p| start + p);
                Kind::Section {
                    name: trim(text, start + 1..close),
                }
            }
            _ => match text.iter().position(|u| u.ascii() == Some(b'=')) {
                Some(eq) => {
                    let mut value = trim(text, eq + 1..body);
                    if value.len() >= 2 {
                        let (first, last) =
                            (text[value.start].ascii(), text[value.end - 1].ascii());
                        if first == last && matches!(first, Some(b'"' | b'\'')) {
                            value = value.start + 1..value.end - 1;
                        }
                    }
                    Kind::Key {
                        name: trim(text, start..eq),
                        value,
                    }
                }
                None => Kind::Other,
            },
        }
    };
    Line { units, body, kind }
}

fn trim<T: Unit>(text: &[T], range: Range<usize>) -> Range<usize> {
    let mut r = range;
    while r.start < r.end && is_blank(text[r.start]) {
        r.start += 1;
    }
    while r.end > r.start && is_blank(text[r.end - 1]) {
        r.end -= 1;
    }
    r
}

fn eq_ascii_ci<T: Unit>(units: &[T], name: &str) -> bool {
    units.len() == name.len()
        && units
            .iter()
            .zip(name.bytes())
            .all(|(u, b)| u.ascii().is_some_and(|a| a.eq_ignore_ascii_case(&b)))
}

/// The lines of one file in one unit width.
#[derive(Debug, Clone)]
struct Lines<T> {
    lines: Vec<Line<T>>,
}

impl<T: Unit> Lines<T> {
    fn split(units: &[T]) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, u) in units.iter().enumerate() {
            if u.ascii() == Some(b'\n') {
                lines.push(parse_line(units[start..=i].to_vec()));
                start = i + 1;
            }
        }
        if start < units.len() {
            lines.push(parse_line(units[start..].to_vec()));
        }
        Lines { lines }
    }

    /// The line ending the file uses most: CRLF unless it has only bare LFs.
    fn eol(&self) -> Vec<T> {
        let (mut crlf, mut lf) = (0, 0);
        for line in &self.lines {
            match line.units.len() - line.body {
                2 => crlf += 1,
                1 => lf += 1,
                _ => {}
            }
        }
        if lf > crlf {
            vec![T::from_ascii(b'\n')]
        } else {
            vec![T::from_ascii(b'\r'), T::from_ascii(b'\n')]
        }
    }

    /// Index of the section each line belongs to (`None` before the first).
    fn section_of(&self) -> Vec<Option<usize>> {
        let mut current = None;
        self.lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                if let Kind::Section { .. } = line.kind {
                    current = Some(i);
                }
                current
            })
            .collect()
    }

    fn section_matches(&self, header: usize, section: &str) -> bool {
        match &self.lines[header].kind {
            Kind::Section { name } => eq_ascii_ci(&self.lines[header].units[name.clone()], section),
            _ => false,
        }
    }

    /// Every `key=` line: (line index, section header index).
    fn keys(&self) -> impl Iterator<Item = (usize, Option<usize>, &Range<usize>, &Range<usize>)> {
        let sections = self.section_of();
        self.lines
            .iter()
            .enumerate()
            .filter_map(move |(i, line)| match &line.kind {
                Kind::Key { name, value } => Some((i, sections[i], name, value)),
                _ => None,
            })
    }

    fn to_units(&self) -> Vec<T> {
        self.lines
            .iter()
            .flat_map(|l| l.units.iter().copied())
            .collect()
    }

    /// Replaces the first `len` value units of key line `i` (all of them
    /// when `len` is `None`).
    fn set_value(&mut self, i: usize, len: Option<usize>, value: &[T]) {
        let line = &self.lines[i];
        if let Kind::Key { value: range, .. } = &line.kind {
            let end = len.map_or(range.end, |n| (range.start + n).min(range.end));
            let mut units = line.units[..range.start].to_vec();
            units.extend_from_slice(value);
            units.extend_from_slice(&line.units[end..]);
            self.lines[i] = parse_line(units);
        }
    }

    /// Makes sure line `i` ends with a line terminator.
    fn terminate(&mut self, i: usize, eol: &[T]) {
        if self.lines[i].body == self.lines[i].units.len() {
            let mut units = self.lines[i].units.clone();
            units.extend_from_slice(eol);
            self.lines[i] = parse_line(units);
        }
    }

    fn insert(&mut self, at: usize, text: &str, eol: &[T], encode: &dyn Fn(&str) -> Vec<T>) {
        let mut units = encode(text);
        units.extend_from_slice(eol);
        self.lines.insert(at, parse_line(units));
    }
}

/// The file's text in its own unit width.
#[derive(Debug, Clone)]
enum Text {
    Bytes(Lines<u8>),
    Wide(Lines<u16>),
}

/// One occurrence of a key in the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Occurrence {
    /// The section's name as written, or empty before the first section.
    pub section: String,
    /// The key's name as written.
    pub key: String,
    /// The value, decoded for display.
    pub value: String,
    /// The 1-based line number.
    pub line: usize,
}

/// A key written more than once in the sections of one name; the first
/// occurrence is the effective one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Duplicate {
    /// The section, as the caller named it (not as written).
    pub section: String,
    /// The key as first written.
    pub key: String,
    /// Every line it stands on, 1-based, in file order.
    pub lines: Vec<usize>,
}

/// What the installer will read from a SetAid.ini, and what makes that
/// doubtful: worked out once here, so that `audit` and `transform` report
/// the same things. See [`IniFile::facts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The effective `KeepPreviousSetting`: its first occurrence in a
    /// `[CUSTOM_SMC_CONFIG]` section (names matched case-insensitively), as
    /// [`IniFile::get`] finds it. `None` when no such section holds it.
    pub keep_previous: Option<Occurrence>,
    /// `KeepPreviousSetting` standing in any other section, or before the
    /// first section (`section` empty), in file order. Which section the
    /// installer reads is inferred, not documented, so each is a warning.
    pub keep_previous_elsewhere: Vec<Occurrence>,
    /// Keys written more than once in `[CUSTOM_SMC_CONFIG]`, then in
    /// `[FEATURE_SELECTION]` (the sections the installer is known to read),
    /// each in the order first written; `section` is [`SMC_SECTION`] or
    /// [`FEATURE_SECTION`].
    pub duplicates: Vec<Duplicate>,
}

/// An edit asked for: set `section.key` to `value`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Edit {
    /// The section name (matched case-insensitively).
    pub section: String,
    /// The key name (matched case-insensitively).
    pub key: String,
    /// The value to write.
    pub value: String,
}

impl Edit {
    /// `KeepPreviousSetting=0` in `[CUSTOM_SMC_CONFIG]`: the edit this tool exists for.
    pub fn keep_previous_off() -> Self {
        Edit {
            section: SMC_SECTION.to_string(),
            key: KEEP_PREVIOUS.to_string(),
            value: "0".to_string(),
        }
    }

    /// Parses `SECTION.KEY=VALUE` (the `--setaid` argument).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (target, value) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?}: expected SECTION.KEY=VALUE"))?;
        let (section, key) = target.split_once('.').ok_or_else(|| {
            format!("{spec:?}: expected SECTION.KEY=VALUE, with a dot between section and key")
        })?;
        let (section, key) = (section.trim(), key.trim());
        let bad =
            |s: &str| s.is_empty() || s.contains(['[', ']', '=', '\r', '\n']) || s.starts_with(';');
        if bad(section) || bad(key) {
            return Err(format!(
                "{spec:?}: section and key must be non-empty INI names"
            ));
        }
        if value.contains(['\r', '\n']) {
            return Err(format!("{spec:?}: the value must be on one line"));
        }
        if section.eq_ignore_ascii_case(SMC_SECTION)
            && key.eq_ignore_ascii_case(KEEP_PREVIOUS)
            && value.trim() != "0"
        {
            return Err(format!(
                "{spec:?}: refused: KeepPreviousSetting other than 0 in [{SMC_SECTION}] keeps the clients' previous communication settings, which is what makes them self-managed after AutoUpgrade; undoing that is the opposite of what sepkg transform is for (it sets KeepPreviousSetting=0 itself)"
            ));
        }
        Ok(Edit {
            section: section.to_string(),
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// What an edit did to one line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// An existing value was changed.
    Set,
    /// The key was missing from its section and was added at the section's end.
    AddedKey,
    /// The section was missing and was added, with the key, at the end of the file.
    AddedSection,
}

/// One change made to the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// What was done.
    pub action: Action,
    /// The section as written in the file (or as added).
    pub section: String,
    /// The key as written in the file (or as added).
    pub key: String,
    /// The 1-based line number after the edit.
    pub line: usize,
    /// The previous value, if the key existed.
    pub old: Option<String>,
    /// The new value.
    pub new: String,
    /// True when this occurrence is not the first (effective) one.
    pub duplicate: bool,
}

/// A parsed SetAid.ini or setup.ini, ready to be queried, edited and written back.
#[derive(Debug, Clone)]
pub struct IniFile {
    encoding: Encoding,
    /// The byte-order mark, kept apart so the first line parses like the others.
    bom: &'static [u8],
    text: Text,
}

/// Dispatches a closure over the file's unit width.
macro_rules! with_lines {
    ($self:expr, $lines:ident => $body:expr) => {
        match &$self.text {
            Text::Bytes($lines) => $body,
            Text::Wide($lines) => $body,
        }
    };
}

impl IniFile {
    /// Reads INI text, detecting its encoding from its bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
            let text = std::str::from_utf8(rest).map_err(|e| {
                ParseError(format!(
                    "invalid UTF-8 at byte {} (the file starts with a UTF-8 byte-order mark)",
                    e.valid_up_to() + 3
                ))
            })?;
            check_controls(text.bytes().map(u32::from))?;
            return Ok(IniFile {
                encoding: Encoding::Utf8Bom,
                bom: &[0xEF, 0xBB, 0xBF],
                text: Text::Bytes(Lines::split(rest)),
            });
        }
        const LE: &[u8] = &[0xFF, 0xFE];
        const BE: &[u8] = &[0xFE, 0xFF];
        for (bom, encoding) in [(LE, Encoding::Utf16LeBom), (BE, Encoding::Utf16BeBom)] {
            if let Some(rest) = bytes.strip_prefix(bom) {
                if rest.len() % 2 != 0 {
                    return Err(ParseError(
                        "UTF-16 text with an odd number of bytes: the file is truncated".into(),
                    ));
                }
                let units: Vec<u16> = rest
                    .chunks_exact(2)
                    .map(|c| {
                        if encoding == Encoding::Utf16LeBom {
                            u16::from_le_bytes([c[0], c[1]])
                        } else {
                            u16::from_be_bytes([c[0], c[1]])
                        }
                    })
                    .collect();
                if let Some(pos) =
                    char::decode_utf16(units.iter().copied()).position(|c| c.is_err())
                {
                    return Err(ParseError(format!(
                        "invalid UTF-16 (an unpaired surrogate) near byte {}",
                        2 + 2 * pos
                    )));
                }
                check_controls(units.iter().map(|&u| u32::from(u)))?;
                return Ok(IniFile {
                    encoding,
                    bom,
                    text: Text::Wide(Lines::split(&units)),
                });
            }
        }
        if bytes.contains(&0) {
            let odd_zeros = bytes.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
            let even_zeros = bytes.iter().step_by(2).filter(|&&b| b == 0).count();
            let half = bytes.len() / 2;
            if half > 0 && (odd_zeros * 10 >= half * 9 || even_zeros * 10 >= half * 9) {
                return Err(ParseError("looks like UTF-16 without a byte-order mark, which Windows does not read as UTF-16".into()));
            }
            return Err(ParseError("binary data (NUL bytes), not INI text".into()));
        }
        let encoding = if std::str::from_utf8(bytes).is_ok() {
            Encoding::Utf8
        } else {
            Encoding::Windows1252
        };
        check_controls(bytes.iter().map(|&b| u32::from(b)))?;
        Ok(IniFile {
            encoding,
            bom: &[],
            text: Text::Bytes(Lines::split(bytes)),
        })
    }

    /// The detected encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The line ending used: `"CRLF"` or `"LF"`.
    pub fn line_ending(&self) -> &'static str {
        let len = with_lines!(self, l => l.eol().len());
        if len == 2 { "CRLF" } else { "LF" }
    }

    /// The file's bytes, BOM included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.bom.to_vec();
        match &self.text {
            Text::Bytes(lines) => bytes.extend(lines.to_units()),
            Text::Wide(lines) => {
                let be = self.encoding == Encoding::Utf16BeBom;
                bytes.extend(
                    lines
                        .to_units()
                        .into_iter()
                        .flat_map(|u| if be { u.to_be_bytes() } else { u.to_le_bytes() }),
                );
            }
        }
        bytes
    }

    fn decode(&self, units: Decodable<'_>) -> String {
        match units {
            Decodable::Bytes(b) => match self.encoding {
                Encoding::Windows1252 => encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(b)
                    .0
                    .into_owned(),
                _ => String::from_utf8_lossy(b).into_owned(),
            },
            Decodable::Wide(w) => String::from_utf16_lossy(w),
        }
    }

    /// Every occurrence of `key`, in every section, in file order.
    pub fn occurrences(&self, key: &str) -> Vec<Occurrence> {
        with_lines!(self, lines => {
            lines
                .keys()
                .filter(|(i, _, name, _)| eq_ascii_ci(&lines.lines[*i].units[(*name).clone()], key))
                .map(|(i, header, name, value)| {
                    let section = match header.map(|h| &lines.lines[h]) {
                        Some(Line { kind: Kind::Section { name }, units, .. }) => self.decode(Decodable::from(&units[name.clone()])),
                        _ => String::new(),
                    };
                    let units = &lines.lines[i].units;
                    Occurrence {
                        section,
                        key: self.decode(Decodable::from(&units[name.clone()])),
                        value: self.decode(Decodable::from(&units[value.clone()])),
                        line: i + 1,
                    }
                })
                .collect()
        })
    }

    /// Occurrences of `key` inside sections named `section` (case-insensitive).
    pub fn lookup(&self, section: &str, key: &str) -> Vec<Occurrence> {
        self.occurrences(key)
            .into_iter()
            .filter(|o| o.section.eq_ignore_ascii_case(section))
            .collect()
    }

    /// The effective value of `section.key`: the first occurrence.
    pub fn get(&self, section: &str, key: &str) -> Option<Occurrence> {
        self.lookup(section, key).into_iter().next()
    }

    /// Every `key=value` line of the sections named `section`, in order.
    pub fn section_entries(&self, section: &str) -> Vec<Occurrence> {
        with_lines!(self, lines => {
            lines
                .keys()
                .filter(|(_, header, _, _)| header.is_some_and(|h| lines.section_matches(h, section)))
                .map(|(i, _, name, value)| {
                    let units = &lines.lines[i].units;
                    Occurrence {
                        section: section.to_string(),
                        key: self.decode(Decodable::from(&units[name.clone()])),
                        value: self.decode(Decodable::from(&units[value.clone()])),
                        line: i + 1,
                    }
                })
                .collect()
        })
    }

    /// The facts audit and transform report (see [`Facts`]).
    pub fn facts(&self) -> Facts {
        Facts {
            keep_previous: self.get(SMC_SECTION, KEEP_PREVIOUS),
            keep_previous_elsewhere: self
                .occurrences(KEEP_PREVIOUS)
                .into_iter()
                .filter(|o| !o.section.eq_ignore_ascii_case(SMC_SECTION))
                .collect(),
            duplicates: [SMC_SECTION, FEATURE_SECTION]
                .iter()
                .flat_map(|section| self.duplicates(section))
                .collect(),
        }
    }

    /// Keys written more than once in the sections named `section`, in the
    /// order first written (keys matched case-insensitively).
    pub fn duplicates(&self, section: &str) -> Vec<Duplicate> {
        let mut found: Vec<Duplicate> = Vec::new();
        for o in self.section_entries(section) {
            match found
                .iter_mut()
                .find(|d| d.key.eq_ignore_ascii_case(&o.key))
            {
                Some(d) => d.lines.push(o.line),
                None => found.push(Duplicate {
                    section: section.to_string(),
                    key: o.key,
                    lines: vec![o.line],
                }),
            }
        }
        found.retain(|d| d.lines.len() > 1);
        found
    }

    /// `section.key` when it is written more than once: exactly the
    /// occurrences [`IniFile::apply`] sets for an edit of it, so a warning
    /// built from this says what the edit does.
    pub fn duplicate(&self, section: &str, key: &str) -> Option<Duplicate> {
        let occurrences = self.lookup(section, key);
        (occurrences.len() > 1).then(|| Duplicate {
            section: section.to_string(),
            key: occurrences[0].key.clone(),
            lines: occurrences.iter().map(|o| o.line).collect(),
        })
    }

    /// Sets `edit.section.edit.key` to `edit.value`, changing only value units.
    ///
    /// Every occurrence in every matching section is set (duplicates are
    /// reported with `duplicate: true`). A missing key is added after the last
    /// non-blank line of the first matching section; a missing section is
    /// added at the end of the file. An occurrence that already holds the
    /// value is left alone, so applying an edit twice changes nothing the
    /// second time.
    pub fn apply(&mut self, edit: &Edit) -> Result<Vec<Change>, ParseError> {
        if self.encoding == Encoding::Windows1252 {
            let (_, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&edit.value);
            if unmappable {
                return Err(ParseError(format!(
                    "the value {:?} cannot be written in this Windows-1252 file",
                    edit.value
                )));
            }
        }
        let encoding = self.encoding;
        let enc_bytes = |s: &str| match encoding {
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252.encode(s).0.into_owned(),
            _ => s.as_bytes().to_vec(),
        };
        let enc_wide = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let existing = self.lookup(&edit.section, &edit.key);
        let mut changes = Vec::new();
        match &mut self.text {
            Text::Bytes(lines) => apply_lines(lines, edit, &existing, &enc_bytes, &mut changes),
            Text::Wide(lines) => apply_lines(lines, edit, &existing, &enc_wide, &mut changes),
        }
        // Line numbers of additions are known only once the text is settled.
        if changes.iter().any(|c| c.action != Action::Set) {
            let now = self.lookup(&edit.section, &edit.key);
            for change in changes.iter_mut().filter(|c| c.action != Action::Set) {
                if let Some(o) = now.last() {
                    change.line = o.line;
                    change.section = o.section.clone();
                }
            }
        }
        Ok(changes)
    }
}

fn apply_lines<T: Unit>(
    lines: &mut Lines<T>,
    edit: &Edit,
    existing: &[Occurrence],
    encode: &dyn Fn(&str) -> Vec<T>,
    changes: &mut Vec<Change>,
) {
    let new = encode(&edit.value);
    if !existing.is_empty() {
        for (n, o) in existing.iter().enumerate() {
            // A number with a tail (`1 ;keep the old settings`) keeps its
            // tail when a number is written: only the leading digits change.
            let number = leading_number(&o.value).filter(|_| is_number(&edit.value));
            let (current, len, after) = match number {
                Some(digits) => (
                    digits,
                    Some(digits.len()),
                    format!("{}{}", edit.value, &o.value[digits.len()..]),
                ),
                None => (o.value.as_str(), None, edit.value.clone()),
            };
            if current != edit.value {
                lines.set_value(o.line - 1, len, &new);
                changes.push(Change {
                    action: Action::Set,
                    section: o.section.clone(),
                    key: o.key.clone(),
                    line: o.line,
                    old: Some(o.value.clone()),
                    new: after,
                    duplicate: n > 0,
                });
            }
        }
        return;
    }
    let eol = lines.eol();
    let header = (0..lines.lines.len()).find(|&i| lines.section_matches(i, &edit.section));
    let text = format!("{}={}", edit.key, edit.value);
    match header {
        Some(h) => {
            // After the last non-blank line of the section, before blank separators.
            let mut last = h;
            for i in h + 1..lines.lines.len() {
                match lines.lines[i].kind {
                    Kind::Section { .. } => break,
                    Kind::Blank => {}
                    _ => last = i,
                }
            }
            lines.terminate(last, &eol);
            lines.insert(last + 1, &text, &eol, encode);
            changes.push(change_added(Action::AddedKey, edit, &edit.section));
        }
        None => {
            if let Some(last) = lines.lines.len().checked_sub(1) {
                lines.terminate(last, &eol);
                if lines.lines[last].kind != Kind::Blank {
                    lines.insert(last + 1, "", &eol, encode);
                }
            }
            let at = lines.lines.len();
            lines.insert(at, &format!("[{}]", edit.section), &eol, encode);
            lines.insert(at + 1, &text, &eol, encode);
            changes.push(change_added(Action::AddedSection, edit, &edit.section));
        }
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The leading number of a value that has a tail after it, separated by a
/// blank or a `;` (`1 ;keep the old settings`): `Some("1")`. The Windows
/// profile APIs read the whole line as the value, but an integer read
/// (`GetPrivateProfileInt`, the installer's) takes the leading number. A
/// value that is a number alone, or that does not start with one, is `None`.
pub fn leading_number(value: &str) -> Option<&str> {
    let end = value.bytes().position(|b| !b.is_ascii_digit())?;
    let tail = &value.as_bytes()[end..];
    (end > 0 && matches!(tail[0], b' ' | b'\t' | b';')).then(|| &value[..end])
}

fn change_added(action: Action, edit: &Edit, section: &str) -> Change {
    Change {
        action,
        section: section.to_string(),
        key: edit.key.clone(),
        line: 0,
        old: None,
        new: edit.value.clone(),
        duplicate: false,
    }
}

enum Decodable<'a> {
    Bytes(&'a [u8]),
    Wide(&'a [u16]),
}

impl<'a> From<&'a [u8]> for Decodable<'a> {
    fn from(b: &'a [u8]) -> Self {
        Decodable::Bytes(b)
    }
}

impl<'a> From<&'a [u16]> for Decodable<'a> {
    fn from(w: &'a [u16]) -> Self {
        Decodable::Wide(w)
    }
}

/// Refuses text with control characters that no INI file holds.
fn check_controls(units: impl Iterator<Item = u32>) -> Result<(), ParseError> {
    for (i, u) in units.enumerate() {
        // Tab, LF, CR, form feed and the DOS end-of-file mark are seen in real text.
        if u < 0x20 && !matches!(u, 0x09 | 0x0A | 0x0C | 0x0D | 0x1A) {
            return Err(ParseError(format!(
                "binary data (control character 0x{u:02X} at character {i}), not INI text"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &[u8]) -> (Vec<u8>, Vec<Change>) {
        let mut ini = IniFile::parse(text).unwrap();
        let changes = ini.apply(&Edit::keep_previous_off()).unwrap();
        (ini.to_bytes(), changes)
    }

    #[test]
    fn changes_only_the_value_byte() {
        let input = b"; comment\r\n[Custom_SMC_Config]\r\nInstallationLogDir=C:\\Logs\\\r\nkeeppreviousSETTING = 1 \r\n\r\n[FEATURE_SELECTION]\r\nCore=1\r\n";
        let (out, changes) = edit(input);
        let mut expected = input.to_vec();
        let pos = input.windows(4).position(|w| w == b"= 1 ").unwrap() + 2;
        expected[pos] = b'0';
        assert_eq!(out, expected);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].old.as_deref(), Some("1"));
        assert_eq!(changes[0].key, "keeppreviousSETTING");
        assert_eq!(changes[0].section, "Custom_SMC_Config");
        assert_eq!(changes[0].line, 4);
    }

    #[test]
    fn an_inline_tail_is_kept_and_only_the_number_changes() {
        let text = b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1 ;keep the old settings\r\n";
        let (out, changes) = edit(text);
        assert_eq!(
            out,
            b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=0 ;keep the old settings\r\n"
        );
        assert_eq!(changes[0].old.as_deref(), Some("1 ;keep the old settings"));
        assert_eq!(changes[0].new, "0 ;keep the old settings");
        // Idempotent: the leading number is already 0.
        assert!(edit(&out).1.is_empty());
        assert_eq!(leading_number("1\t; x"), Some("1"));
        assert_eq!(leading_number("1"), None);
        assert_eq!(leading_number("yes ;1"), None);
    }

    #[test]
    fn semicolon_inside_a_value_is_kept() {
        let ini = IniFile::parse(b"[A]\nCmd=/qn ; REBOOT=ReallySuppress\n").unwrap();
        assert_eq!(
            ini.get("a", "cmd").unwrap().value,
            "/qn ; REBOOT=ReallySuppress"
        );
    }

    #[test]
    fn adds_missing_key_at_the_end_of_its_section() {
        let (out, changes) =
            edit(b"[CUSTOM_SMC_CONFIG]\r\nA=1\r\n\r\n[FEATURE_SELECTION]\r\nCore=1\r\n");
        assert_eq!(out, b"[CUSTOM_SMC_CONFIG]\r\nA=1\r\nKeepPreviousSetting=0\r\n\r\n[FEATURE_SELECTION]\r\nCore=1\r\n");
        assert_eq!(changes[0].action, Action::AddedKey);
        assert_eq!(changes[0].line, 3);
    }

    #[test]
    fn adds_missing_section_at_the_end_of_the_file() {
        let (out, changes) = edit(b"[FEATURE_SELECTION]\nCore=1");
        assert_eq!(
            out,
            b"[FEATURE_SELECTION]\nCore=1\n\n[CUSTOM_SMC_CONFIG]\nKeepPreviousSetting=0\n"
        );
        assert_eq!(changes[0].action, Action::AddedSection);
        assert_eq!(changes[0].line, 5);
    }

    #[test]
    fn sets_duplicates_and_leaves_other_sections() {
        let input = b"[OTHER]\nKeepPreviousSetting=1\n[CUSTOM_SMC_CONFIG]\nKeepPreviousSetting=1\nKeepPreviousSetting=1\n";
        let (out, changes) = edit(input);
        assert_eq!(out, b"[OTHER]\nKeepPreviousSetting=1\n[CUSTOM_SMC_CONFIG]\nKeepPreviousSetting=0\nKeepPreviousSetting=0\n");
        assert_eq!(
            changes.iter().map(|c| c.duplicate).collect::<Vec<_>>(),
            [false, true]
        );
    }

    #[test]
    fn utf16le_changes_one_code_unit() {
        let text = "[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\nDir=C:\\Präfix\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let (out, _) = edit(&bytes);
        let diff: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] != out[i]).collect();
        assert_eq!(out.len(), bytes.len());
        assert_eq!(diff.len(), 1);
    }

    #[test]
    fn windows_1252_round_trips_every_byte() {
        let mut input = b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\nName=".to_vec();
        input.extend(0x80u8..=0xFF);
        input.extend(b"\r\n");
        let ini = IniFile::parse(&input).unwrap();
        assert_eq!(ini.encoding(), Encoding::Windows1252);
        assert_eq!(ini.to_bytes(), input);
    }

    #[test]
    fn refuses_utf16_without_bom_and_binary() {
        let wide: Vec<u8> = "[A]\r\nB=1\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(
            IniFile::parse(&wide)
                .unwrap_err()
                .0
                .contains("without a byte-order mark")
        );
        assert!(
            IniFile::parse(b"\x7fELF\x02\x01\x01\x00")
                .unwrap_err()
                .0
                .contains("binary")
        );
    }

    #[test]
    fn facts_effective_elsewhere_and_duplicates() {
        let ini = IniFile::parse(
            b"KeepPreviousSetting=1\r\n\
              [Custom_Smc_Config]\r\n\
              InstallationLogDir=C:\\Logs\r\n\
              keeppreviousSETTING = 1 \r\n\
              KeepPreviousSetting=0\r\n\
              [OTHER]\r\n\
              KeepPreviousSetting=1\r\n\
              A=1\r\n\
              a=2\r\n\
              [FEATURE_SELECTION]\r\n\
              Core=1\r\n\
              SAVMain=1\r\n\
              core=0\r\n",
        )
        .unwrap();
        let f = ini.facts();
        let kps = f.keep_previous.as_ref().unwrap();
        assert_eq!(
            (
                kps.section.as_str(),
                kps.key.as_str(),
                kps.value.as_str(),
                kps.line
            ),
            ("Custom_Smc_Config", "keeppreviousSETTING", "1", 4)
        );
        let elsewhere: Vec<(&str, usize)> = f
            .keep_previous_elsewhere
            .iter()
            .map(|o| (o.section.as_str(), o.line))
            .collect();
        assert_eq!(elsewhere, [("", 1), ("OTHER", 7)]);
        // [OTHER] is not a section the installer is known to read.
        assert_eq!(
            f.duplicates,
            [
                Duplicate {
                    section: SMC_SECTION.into(),
                    key: "keeppreviousSETTING".into(),
                    lines: vec![4, 5],
                },
                Duplicate {
                    section: FEATURE_SECTION.into(),
                    key: "Core".into(),
                    lines: vec![11, 13],
                },
            ]
        );
        assert_eq!(ini.duplicates("other")[0].lines, [8, 9]);
        // What duplicate() reports is what apply() sets.
        let d = ini.duplicate(SMC_SECTION, KEEP_PREVIOUS).unwrap();
        assert_eq!(d.lines, [4, 5]);
        assert_eq!(ini.duplicate("FEATURE_SELECTION", "SAVMain"), None);
        let mut edited = ini.clone();
        let changes = edited.apply(&Edit::keep_previous_off()).unwrap();
        assert_eq!(changes.iter().map(|c| c.line).collect::<Vec<_>>(), [4]);
        assert!(d.lines.contains(&changes[0].line));
    }

    #[test]
    fn facts_of_a_file_without_the_key() {
        let f = IniFile::parse(b"[FEATURE_SELECTION]\nCore=1\n")
            .unwrap()
            .facts();
        assert_eq!(
            f,
            Facts {
                keep_previous: None,
                keep_previous_elsewhere: Vec::new(),
                duplicates: Vec::new(),
            }
        );
    }

    #[test]
    fn edit_spec_parses() {
        let e = Edit::parse("FEATURE_SELECTION.Firewall=0").unwrap();
        assert_eq!(
            (e.section.as_str(), e.key.as_str(), e.value.as_str()),
            ("FEATURE_SELECTION", "Firewall", "0")
        );
        assert!(Edit::parse("NoDot=1").is_err());
        assert!(Edit::parse("A.B").is_err());
    }
}
