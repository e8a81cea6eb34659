//! 7z archives and 7z payloads of a single-file .exe: truncations, flipped
//! bytes in each start-header field and in packed data, encryption, names
//! that climb out or collide. Every case runs with every output format and
//! through `sepkg audit` unless it says why not.
//!
//! The archives are made by `7zz` (the example package, with the settings
//! 7-Zip's installers use), or, for names 7-Zip will not store, by the 7z
//! engine's writer; a case with an `.exe` name gets a PE stub and a 7-Zip
//! SFX config block before the archive, as a 7-Zip self-extractor has.

use std::sync::OnceLock;

use super::{Case, file_case};
use crate::support::r#gen as fx;
use crate::support::sevenz::{self as sz, settings};

/// A case whose input is the file `name`: a 7z archive (`archive`) after
/// `patch`; an `.exe` name puts a PE stub and an SFX config block before
/// it, as a 7-Zip SFX has.
pub fn sevenz_case(
    name: &str,
    code: &'static str,
    expect: &[&str],
    archive: fn() -> Vec<u8>,
    patch: impl Fn(&mut Vec<u8>) + Send + Sync + 'static,
) -> Case {
    let sfx = name.ends_with(".exe");
    file_case(name, code, expect, move || {
        let mut bytes = archive();
        patch(&mut bytes);
        if sfx {
            [fx::pe_stub(), fx::sfx_config("setup.exe"), bytes].concat()
        } else {
            bytes
        }
    })
}

/// A 7z signature and version, then no real archive.
fn signature_only() -> Vec<u8> {
    let mut payload = b"7z\xBC\xAF\x27\x1C\x00\x04".to_vec();
    payload.extend(fx::filler(512, 9));
    payload
}

/// The example package made by `7zz a` with `settings`, made once.
fn made(cell: &'static OnceLock<Vec<u8>>, settings: &'static [&'static str]) -> Vec<u8> {
    cell.get_or_init(|| {
        assert!(
            sz::have_7zz(),
            "the 7z hostile cases need 7zz (Debian's 7zip package)"
        );
        let dir = tempfile::tempdir().unwrap();
        sz::archive(dir.path(), &fx::example_files(), &["Logs"], settings)
    })
    .clone()
}

/// 7-Zip's defaults: one solid LZMA2 folder, an encoded header.
fn solid() -> Vec<u8> {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    made(&CELL, settings::DEFAULT)
}

/// A plain header (`-mhc=off`), so that its bytes are the records.
fn plain() -> Vec<u8> {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    made(&CELL, settings::PLAIN_HEADER)
}

fn encrypted() -> Vec<u8> {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    made(&CELL, settings::ENCRYPTED)
}

fn encrypted_header() -> Vec<u8> {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    made(&CELL, settings::ENCRYPTED_HEADER)
}

/// An archive holding the example package's files plus `extra` names (a
/// few bytes each), written by the 7z engine, which stores any name.
fn named(extra: &[&str]) -> Vec<u8> {
    use sepkg::package::sevenz::{FileRecord, WriteOptions, Writer};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.7z");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = Writer::new(file, &path, WriteOptions::fresh()).unwrap();
    let at = sepkg::error::Location::file("generator");
    let mut files = fx::example_files();
    files.extend(extra.iter().map(|n| (n.to_string(), b"abc".to_vec())));
    for (name, bytes) in &files {
        let record = FileRecord {
            name: name.clone(),
            ..FileRecord::default()
        };
        w.add_file(record, bytes.len() as u64, &mut bytes.as_slice(), &at)
            .unwrap();
    }
    w.finish().unwrap();
    std::fs::read(&path).unwrap()
}

/// Where the first packed stream starts: right after the signature header.
const PACKED: usize = 32;

fn flip(at: usize) -> impl Fn(&mut Vec<u8>) + Send + Sync + 'static {
    move |b: &mut Vec<u8>| b[at] ^= 0x55
}

fn cut(keep: fn(usize) -> usize) -> impl Fn(&mut Vec<u8>) + Send + Sync + 'static {
    move |b: &mut Vec<u8>| {
        let n = keep(b.len());
        b.truncate(n);
    }
}

/// Truncations and start-header fields.
fn structure_cases() -> Vec<Case> {
    let truncated = &["7z", "truncated"];
    vec![
        sevenz_case(
            "cut-in-signature.7z",
            "corrupt",
            &["7z"],
            plain,
            cut(|_| 20),
        ),
        sevenz_case(
            "cut-after-signature-header.7z",
            "corrupt",
            truncated,
            plain,
            cut(|_| 32),
        ),
        sevenz_case(
            "cut-in-the-middle.7z",
            "corrupt",
            truncated,
            plain,
            cut(|n| n / 2),
        ),
        sevenz_case(
            "cut-last-byte.7z",
            "corrupt",
            &["7z", "multi-volume"],
            plain,
            cut(|n| n - 1),
        ),
        sevenz_case(
            "cut-last-byte-sfx.exe",
            "corrupt",
            &["7z"],
            solid,
            cut(|n| n - 1),
        ),
        sevenz_case(
            "start-header-crc.7z",
            "corrupt",
            &["7z", "start header"],
            plain,
            flip(8),
        ),
        sevenz_case("next-header-offset.7z", "corrupt", &["7z"], plain, flip(12)),
        sevenz_case(
            "next-header-offset-high.7z",
            "corrupt",
            &["7z"],
            plain,
            flip(19),
        ),
        sevenz_case("next-header-size.7z", "corrupt", &["7z"], plain, flip(20)),
        sevenz_case("next-header-crc.7z", "corrupt", &["7z"], plain, flip(28)),
        sevenz_case("major-version.7z", "corrupt", &["7z"], plain, flip(6)),
        sevenz_case(
            "header-byte.7z",
            "corrupt",
            &["7z", "header"],
            plain,
            |b: &mut Vec<u8>| {
                let at = b.len() - 10;
                b[at] ^= 0x55;
            },
        ),
        sevenz_case(
            "encoded-header-byte.7z",
            "corrupt",
            &["7z"],
            solid,
            |b: &mut Vec<u8>| {
                let at = b.len() - 10;
                b[at] ^= 0x55;
            },
        ),
        // A self-extractor whose archive is damaged at its start: 7-Zip
        // passes over a signature whose start header does not check.
        sevenz_case(
            "sfx7z.exe",
            "corrupt",
            &[
                "sfx7z.exe",
                "7z archive at offset",
                "start header does not check",
            ],
            signature_only,
            |_| {},
        ),
        sevenz_case(
            "start-header-crc-sfx.exe",
            "corrupt",
            &["7z archive at offset", "start header does not check"],
            solid,
            flip(8),
        ),
    ]
}

/// Damaged content, encryption, and names.
fn content_cases() -> Vec<Case> {
    let names = |extra: &'static [&'static str]| move || named(extra);
    vec![
        // The first packed byte of the solid folder: its first file no
        // longer decodes, or fails its CRC. Audit reads only SetAid.ini,
        // sylink.xml, setup.ini and the MSI, which it reports as findings.
        sevenz_case(
            "packed-byte.7z",
            "corrupt",
            &["7z", "entry"],
            solid,
            flip(PACKED),
        )
        .not_audited("audit reports the files it cannot read as findings (exit 1)"),
        sevenz_case(
            "packed-byte-sfx.exe",
            "corrupt",
            &["7z", "entry"],
            solid,
            flip(PACKED),
        )
        .not_audited("audit reports the files it cannot read as findings (exit 1)"),
        sevenz_case(
            "encrypted.7z",
            "unsafe-entry",
            &["encrypted", "without a password"],
            encrypted,
            |_| {},
        ),
        sevenz_case(
            "encrypted-header.exe",
            "unsafe-entry",
            &["header is encrypted", "without a password"],
            encrypted_header,
            |_| {},
        ),
        file_case(
            "climbs-out.7z",
            "unsafe-entry",
            &["../evil.txt", "`..`"],
            names(&["../evil.txt"]),
        ),
        file_case(
            "absolute.7z",
            "unsafe-entry",
            &["/etc/cron.d/x", "absolute"],
            names(&["/etc/cron.d/x"]),
        ),
        file_case(
            "drive-letter.7z",
            "unsafe-entry",
            &["C:/Windows/x"],
            names(&["C:/Windows/x"]),
        ),
        file_case(
            "backslash-climb.7z",
            "unsafe-entry",
            &["`..`"],
            names(&["Packages\\..\\..\\x"]),
        ),
        file_case(
            "duplicate.7z",
            "unsafe-entry",
            &["setup.ini", "twice"],
            names(&["setup.ini"]),
        ),
        file_case(
            "case-twin.7z",
            "unsafe-entry",
            &["SETAID.INI", "letter case"],
            names(&["SETAID.INI"]),
        ),
    ]
}

pub fn cases() -> Vec<Case> {
    let mut cases = structure_cases();
    cases.extend(content_cases());
    cases
}
