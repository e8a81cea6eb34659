//! The 7z engine (`sepkg::package::sevenz`) against 7-Zip itself: archives
//! made by `7zz` with the settings installers use are read, transformed
//! (SetAid.ini edited, sylink.xml replaced) and written again; the output
//! is checked with `7zz t`, `7zz x`, `7zz l -slt` and by running Debian's
//! 7-Zip console self-extractor on it. Hostile inputs give errors naming
//! the file and the entry, never a panic.

use crate::support::r#gen;
use crate::support::harness::tests;
use crate::support::sevenz as sz;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use sepkg::error::Error;
use sepkg::package::sevenz::{
    Action, Archive, FileRecord, FolderReport, Replacement, Step, WriteOptions, Writer,
    find_payload, into_error,
};
use sz::settings;

const ALL: &[(&str, &[&str])] = &[
    ("default", settings::DEFAULT),
    ("lzma", settings::LZMA),
    ("bcj2", settings::BCJ2),
    ("non-solid", settings::NON_SOLID),
    ("plain-header", settings::PLAIN_HEADER),
    ("fastest", settings::FASTEST),
];

pub(crate) fn skip() -> bool {
    if sz::have_7zz() {
        return false;
    }
    eprintln!("SKIPPED: 7zz is not installed");
    true
}

/// Opens a plain .7z, or the payload of a single-file .exe.
fn open(path: &Path) -> sepkg::error::Result<Archive> {
    let len = std::fs::metadata(path).unwrap().len();
    let mut f = File::open(path).unwrap();
    let mut magic = Vec::new();
    (&mut f).take(6).read_to_end(&mut magic).unwrap();
    let (base, len) = if magic.starts_with(b"MZ") || magic.starts_with(b"\x7fELF") {
        find_payload(&mut f, 2, len).unwrap().expect("a 7z payload")
    } else {
        (0, len)
    };
    Archive::open(path, base, len)
}

/// Every entry's content, read in archive order.
fn contents(a: &mut Archive) -> sepkg::error::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for i in 0..a.entries().len() {
        if a.entries()[i].is_dir {
            continue;
        }
        let at = a.location(i);
        let mut buf = Vec::new();
        a.open_entry(i)?
            .read_to_end(&mut buf)
            .map_err(|e| into_error(e, &at))?;
        out.push((a.entries()[i].name.clone(), buf));
    }
    out.sort();
    Ok(out)
}

fn sorted(mut files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    files.sort();
    files
}

/// SetAid.ini with KeepPreviousSetting=0, and the managed sylink.xml.
fn edits() -> Vec<(String, Vec<u8>)> {
    let old = r#gen::setaid(r#gen::Enc::Ansi, "\r\n");
    let key = b"KeepPreviousSetting=1";
    let at = old.windows(key.len()).position(|w| w == key).unwrap() + key.len() - 1;
    let mut new = old.clone();
    new[at] = b'0';
    vec![
        ("setAid.ini".to_string(), new),
        ("sylink.xml".to_string(), r#gen::managed_sylink()),
    ]
}

/// What the transformed package holds.
pub(crate) fn expected() -> Vec<(String, Vec<u8>)> {
    let mut files = sz::package_files();
    for (name, bytes) in edits() {
        if let Some(f) = files.iter_mut().find(|f| f.0 == name) {
            f.1 = bytes;
        }
    }
    sorted(files)
}

/// Transforms `input` into `out` (after `stub`): every folder without an
/// edit copied, the others rewritten.
fn transform(
    input: &Path,
    out: &Path,
    stub: &[u8],
    edits: &[(String, Vec<u8>)],
) -> Vec<FolderReport> {
    try_transform(input, out, stub, edits).unwrap()
}

fn try_transform(
    input: &Path,
    out: &Path,
    stub: &[u8],
    edits: &[(String, Vec<u8>)],
) -> sepkg::error::Result<Vec<FolderReport>> {
    let mut a = open(input)?;
    let mut f = File::create(out).unwrap();
    f.write_all(stub).unwrap();
    let mut w = Writer::new(f, out, WriteOptions::like(&a))?;
    let reps: Vec<Replacement> = edits
        .iter()
        .filter_map(|(name, bytes)| {
            let entry = a.entries().iter().position(|e| &e.name == name)?;
            Some(Replacement { entry, bytes })
        })
        .collect();
    for step in a.plan() {
        match step {
            Step::Entry(i) => w.add_entry(a.entries()[i].record.clone())?,
            Step::Folder(fi) => w.rewrite_folder(&mut a, fi, &reps)?,
        }
    }
    for (name, bytes) in edits {
        if !a.entries().iter().any(|e| &e.name == name) {
            let record = FileRecord {
                name: name.clone(),
                ..FileRecord::default()
            };
            let at = sepkg::error::Location::file("added");
            w.add_file(record, bytes.len() as u64, &mut bytes.as_slice(), &at)?;
        }
    }
    let (mut f, reports) = w.finish()?;
    f.flush().unwrap();
    Ok(reports)
}

/// (method, dictionary) of every folder 7zz lists, from `7zz l -slt`'s
/// per-file Method lines.
pub(crate) fn methods(file: &Path) -> Vec<String> {
    let mut m: Vec<String> = sz::list(file)
        .into_iter()
        .skip(1)
        .filter_map(|e| e.get("Method").cloned())
        .filter(|m| !m.is_empty())
        .collect();
    m.sort();
    m.dedup();
    m
}

/// Coder names and the dictionary bytes they declare, e.g.
/// `LZMA2:25` -> ("LZMA2", Some(32 MiB)), `LZMA2:384k`.
pub(crate) fn coders(method: &str) -> Vec<(String, Option<u64>)> {
    method
        .split(' ')
        .map(|c| match c.split_once(':') {
            Some((name, d)) => {
                // "LZMA:19:lc0:lp2": the dictionary comes first.
                let d = d.split(':').next().unwrap();
                let n = |s: &str| s.parse::<u64>().unwrap();
                let dict = if let Some(k) = d.strip_suffix('k') {
                    n(k) << 10
                } else if let Some(m) = d.strip_suffix('m') {
                    n(m) << 20
                } else if d.chars().all(|c| c.is_ascii_digit()) {
                    1 << n(d)
                } else {
                    // BCJ2's and others' options: no dictionary.
                    return (name.to_string(), None);
                };
                (name.to_string(), Some(dict))
            }
            None => (c.to_string(), None),
        })
        .collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn every_setting_reads_back_as_7zz_wrote_it() {
    if skip() {
        return;
    }
    for (label, set) in ALL {
        let dir = tmp();
        let bytes = sz::package(dir.path(), set);
        let plain = dir.path().join("p.7z");
        std::fs::write(&plain, &bytes).unwrap();
        let exe = dir.path().join("p.exe");
        std::fs::write(&exe, sz::sfx(&bytes)).unwrap();
        for path in [&plain, &exe] {
            let mut a = open(path).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(
                contents(&mut a).unwrap(),
                sorted(sz::package_files()),
                "{label}"
            );
            let dirs: Vec<&str> = a
                .entries()
                .iter()
                .filter(|e| e.is_dir)
                .map(|e| e.name.as_str())
                .collect();
            assert!(dirs.contains(&sz::EMPTY_DIR), "{label}: {dirs:?}");
            let empty = a
                .entries()
                .iter()
                .find(|e| e.name == "Packages/empty.txt")
                .unwrap();
            assert!(
                empty.empty_file && !empty.has_stream && !empty.is_dir,
                "{label}"
            );
            let facts = a.facts();
            assert_eq!(facts.header_encoded, *label != "plain-header", "{label}");
            assert_eq!(facts.solid, *label != "non-solid", "{label}");
            let methods: Vec<&str> = facts.units.iter().map(|u| u.method.as_str()).collect();
            match *label {
                "bcj2" => assert!(
                    methods.iter().any(|m| m.starts_with("BCJ2 ")),
                    "{methods:?}"
                ),
                "lzma" => assert!(methods.iter().all(|m| m.contains("LZMA:")), "{methods:?}"),
                "default" => assert!(
                    methods.iter().any(|m| m.starts_with("BCJ LZMA2")),
                    "{methods:?}"
                ),
                _ => {}
            }
        }
        // The .exe's payload starts after the stub and config block.
        let a = open(&exe).unwrap();
        assert_eq!(a.span().0 as usize, sz::sfx(&[]).len());
    }
}

fn a_folder_is_decoded_once_when_read_in_order_and_again_when_going_back() {
    if skip() {
        return;
    }
    let dir = tmp();
    let path = dir.path().join("p.7z");
    std::fs::write(&path, sz::package(dir.path(), settings::DEFAULT)).unwrap();
    let mut a = open(&path).unwrap();
    let last = (0..a.entries().len())
        .rev()
        .find(|&i| a.entries()[i].has_stream)
        .unwrap();
    let first = (0..a.entries().len())
        .find(|&i| a.entries()[i].has_stream)
        .unwrap();
    let mut b = Vec::new();
    a.open_entry(last).unwrap().read_to_end(&mut b).unwrap();
    let mut c = Vec::new();
    a.open_entry(first).unwrap().read_to_end(&mut c).unwrap();
    let files = sorted(sz::package_files());
    let names: Vec<String> = a.entries().iter().map(|e| e.name.clone()).collect();
    let want = |i: usize| &files.iter().find(|f| f.0 == names[i]).unwrap().1;
    assert_eq!(&b, want(last));
    assert_eq!(&c, want(first));
    // A partly read entry, then the next one.
    let mut part = [0u8; 10];
    a.open_entry(first).unwrap().read_exact(&mut part).unwrap();
    let next = (first + 1..a.entries().len())
        .find(|&i| a.entries()[i].has_stream)
        .unwrap();
    let mut d = Vec::new();
    a.open_entry(next).unwrap().read_to_end(&mut d).unwrap();
    assert_eq!(&d, want(next));
}

fn encrypted_archives_are_refused_naming_the_archive() {
    if skip() {
        return;
    }
    for set in [settings::ENCRYPTED_HEADER, settings::ENCRYPTED] {
        let dir = tmp();
        let path = dir.path().join("p.7z");
        std::fs::write(&path, sz::package(dir.path(), set)).unwrap();
        let e = open(&path).unwrap_err();
        let Error::UnsafeEntry { at, reason } = &e else {
            panic!("{set:?}: {e}")
        };
        assert_eq!(at.path, path);
        assert!(reason.contains("encrypted"), "{reason}");
        assert!(reason.contains("without a password"), "{reason}");
        // Content-only encryption names the entry; an encrypted header
        // hides the names.
        assert_eq!(at.entry.is_some(), set == settings::ENCRYPTED, "{e}");
    }
}

fn check_output(label: &str, out: &Path, input: &Path) {
    let (ok, log) = sz::test(out);
    assert!(ok, "{label}: 7zz t failed:\n{log}");
    let x = tempfile::tempdir().unwrap();
    let (files, dirs) = sz::extract(out, x.path());
    assert_eq!(files, expected(), "{label}: 7zz x");
    assert!(
        dirs.contains(&sz::EMPTY_DIR.to_string()),
        "{label}: {dirs:?}"
    );
    // Only the input's coders, or Copy; dictionaries no larger.
    let input_coders: Vec<(String, Option<u64>)> =
        methods(input).iter().flat_map(|m| coders(m)).collect();
    for m in methods(out) {
        for (name, dict) in coders(&m) {
            if name == "Copy" {
                continue;
            }
            // A rewritten BCJ2 folder becomes BCJ + its main coder.
            let like = |c: &str| c == name || (name == "BCJ" && c == "BCJ2");
            let max = input_coders
                .iter()
                .filter(|c| like(&c.0))
                .map(|c| c.1)
                .max();
            assert!(
                max.is_some(),
                "{label}: {name} is not an input coder ({m}; input {:?})",
                methods(input)
            );
            assert!(
                dict <= max.unwrap(),
                "{label}: {m} has a larger dictionary than the input's"
            );
            assert_ne!(name, "BCJ2", "{label}: BCJ2 written anew");
        }
    }
}

fn transformed_archives_pass_7zz_and_keep_everything_else() {
    if skip() {
        return;
    }
    for (label, set) in ALL {
        let dir = tmp();
        let input = dir.path().join("in.7z");
        std::fs::write(&input, sz::package(dir.path(), set)).unwrap();
        let out = dir.path().join("out.7z");
        let reports = transform(&input, &out, &[], &edits());
        check_output(label, &out, &input);
        // Times and attributes as in the input.
        let before: BTreeMap<String, (String, String)> = sz::list(&input)
            .into_iter()
            .skip(1)
            .map(|e| {
                (
                    e["Path"].clone(),
                    (e["Modified"].clone(), e["Attributes"].clone()),
                )
            })
            .collect();
        let after: BTreeMap<String, (String, String)> = sz::list(&out)
            .into_iter()
            .skip(1)
            .map(|e| {
                (
                    e["Path"].clone(),
                    (e["Modified"].clone(), e["Attributes"].clone()),
                )
            })
            .collect();
        assert_eq!(before, after, "{label}");
        // Deterministic.
        let again = dir.path().join("again.7z");
        transform(&input, &again, &[], &edits());
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(&again).unwrap(),
            "{label}"
        );
        // The header is encoded when the input's was.
        let a = open(&out).unwrap();
        assert_eq!(
            a.facts().header_encoded,
            open(&input).unwrap().facts().header_encoded
        );
        // What was done.
        assert!(
            reports.iter().any(|r| r.action != Action::Copied),
            "{label}: {reports:?}"
        );
        match *label {
            "default" | "plain-header" => {
                // One solid LZMA2 folder for the MSI, ini, xml and data:
                // its chunks before setAid.ini are kept.
                let spliced = reports.iter().find(|r| r.action == Action::Spliced);
                let spliced = spliced.unwrap_or_else(|| panic!("{label}: {reports:?}"));
                assert!(spliced.kept.unwrap() > 2 << 20, "{spliced:?}");
                assert!(
                    reports.iter().any(|r| r.action == Action::Copied),
                    "{label}: the exe folder"
                );
            }
            "lzma" => {
                // The incompressible blob goes to a Copy folder of its own.
                assert!(
                    reports
                        .iter()
                        .any(|r| r.method == "Copy" && r.action == Action::Split),
                    "{reports:?}"
                );
            }
            "non-solid" => {
                let copied = reports
                    .iter()
                    .filter(|r| r.action == Action::Copied)
                    .count();
                assert_eq!(copied, reports.len() - 2, "{reports:?}");
            }
            _ => {}
        }
    }
}

fn a_non_solid_input_keeps_every_untouched_packed_stream_byte_for_byte() {
    if skip() {
        return;
    }
    let dir = tmp();
    let input = dir.path().join("in.7z");
    std::fs::write(&input, sz::package(dir.path(), settings::NON_SOLID)).unwrap();
    let out = dir.path().join("out.7z");
    transform(&input, &out, &[], &edits());
    let (a, b) = (open(&input).unwrap(), open(&out).unwrap());
    let (ia, ib) = (std::fs::read(&input).unwrap(), std::fs::read(&out).unwrap());
    let packed = |bytes: &[u8], arch: &Archive, name: &str| -> Vec<u8> {
        let i = arch.entries().iter().position(|e| e.name == name).unwrap();
        let (f, _) = arch.entries()[i].folder.unwrap();
        arch.folders()[f]
            .packed
            .iter()
            .flat_map(|p| bytes[p.offset as usize..(p.offset + p.size) as usize].to_vec())
            .collect()
    };
    let mut n = 0;
    for e in a.entries().iter().filter(|e| e.has_stream) {
        if edits().iter().any(|(name, _)| name == &e.name) {
            continue;
        }
        assert_eq!(
            packed(&ia, &a, &e.name),
            packed(&ib, &b, &e.name),
            "{}",
            e.name
        );
        n += 1;
    }
    assert!(n >= 6);
}

/// The console SFX is a Linux program: on another host this says SKIPPED.
fn the_7zip_console_sfx_extracts_the_rewritten_payload() {
    if skip() {
        return;
    }
    if !cfg!(unix) {
        eprintln!("SKIPPED: 7zCon.sfx is a Linux program");
        return;
    }
    let Some(stub) = sz::console_sfx() else {
        eprintln!("SKIPPED: /usr/lib/p7zip/7zCon.sfx (p7zip-full) is not installed");
        return;
    };
    for (label, set) in [
        ("default", settings::DEFAULT),
        ("bcj2", settings::BCJ2),
        ("lzma", settings::LZMA),
    ] {
        let dir = tmp();
        let input = dir.path().join("in.exe");
        std::fs::write(
            &input,
            [stub.clone(), sz::package(dir.path(), set)].concat(),
        )
        .unwrap();
        let out = dir.path().join("out.sfx");
        transform(&input, &out, &stub, &edits());
        check_output(label, &out, &input);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let x = dir.path().join("x");
        let o = std::process::Command::new(&out)
            .arg("-y")
            .arg(format!("-o{}", x.display()))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{label}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let (files, dirs) = sz::read_tree(&x);
        assert_eq!(files, expected(), "{label}");
        assert!(dirs.contains(&sz::EMPTY_DIR.to_string()));
    }
}

fn transforming_the_output_again_changes_no_file() {
    if skip() {
        return;
    }
    let dir = tmp();
    let input = dir.path().join("in.7z");
    std::fs::write(&input, sz::package(dir.path(), settings::DEFAULT)).unwrap();
    let once = dir.path().join("once.7z");
    transform(&input, &once, &[], &edits());
    let twice = dir.path().join("twice.7z");
    transform(&once, &twice, &[], &edits());
    let x = tmp();
    assert_eq!(sz::extract(&twice, x.path()).0, expected());
}

fn an_archive_from_another_format_is_one_solid_lzma2_folder() {
    if skip() {
        return;
    }
    let dir = tmp();
    let out = dir.path().join("new.7z");
    let f = File::create(&out).unwrap();
    let mut w = Writer::new(f, &out, WriteOptions::fresh()).unwrap();
    let at = sepkg::error::Location::file("input");
    for (name, bytes) in expected() {
        let record = FileRecord {
            name,
            mtime: Some(133_485_408_000_000_000),
            attrib: Some(0x20),
            ..FileRecord::default()
        };
        w.add_file(record, bytes.len() as u64, &mut bytes.as_slice(), &at)
            .unwrap();
    }
    w.add_entry(FileRecord {
        name: sz::EMPTY_DIR.into(),
        attrib: Some(0x10),
        ..FileRecord::default()
    })
    .unwrap();
    let (_, reports) = w.finish().unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].method, "LZMA2:22");
    let (ok, log) = sz::test(&out);
    assert!(ok, "{log}");
    let x = tmp();
    let (files, dirs) = sz::extract(&out, x.path());
    assert_eq!(files, expected());
    assert!(dirs.contains(&sz::EMPTY_DIR.to_string()));
    // The random blob is stored, not run through the match finder.
    assert!(reports[0].packed > 3 << 20 && reports[0].packed < reports[0].size);
}

// ------------------------------------------------------------ hostile input

/// Opens and reads everything; returns the first error.
fn read_all(path: &Path) -> Result<(), Error> {
    let mut a = open(path)?;
    contents(&mut a).map(drop)
}

fn assert_names(e: &Error, path: &Path, entry: Option<&str>) {
    let text = e.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    if let Some(entry) = entry {
        assert!(text.contains(entry), "{text}");
    }
    assert!(
        text.contains("7z") || matches!(e, Error::UnsafeEntry { .. }),
        "{text}"
    );
}

fn a_flipped_packed_byte_fails_naming_the_entry() {
    if skip() {
        return;
    }
    for set in [settings::NON_SOLID, settings::DEFAULT, settings::LZMA] {
        let dir = tmp();
        let path = dir.path().join("p.7z");
        let mut bytes = sz::package(dir.path(), set);
        let a = {
            std::fs::write(&path, &bytes).unwrap();
            open(&path).unwrap()
        };
        // The middle of the blob's packed data (stored or compressed).
        let i = a
            .entries()
            .iter()
            .position(|e| e.name == "Packages/blob.cab")
            .unwrap();
        let (f, _) = a.entries()[i].folder.unwrap();
        let p = a.folders()[f].packed[0];
        let at = if a.folders()[f].files.len() == 1 {
            p.offset + p.size / 2
        } else {
            // In a solid folder, inside the blob's stretch.
            p.offset
                + (a.entries()[i].offset + a.entries()[i].size / 2) * p.size
                    / a.folders()[f].unpack_size
        };
        bytes[at as usize] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let e = read_all(&path).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert_names(&e, &path, None);
        let Error::Corrupt { at, .. } = &e else {
            unreachable!()
        };
        assert!(at.entry.is_some(), "{set:?}: {e}");
        // Rewriting the folder around it fails too (a raw-copied folder is
        // checked when its entries are read for their digests).
        if set != settings::NON_SOLID {
            let out = dir.path().join("o.7z");
            let e = try_transform(&path, &out, &[], &edits()).unwrap_err();
            assert_names(&e, &path, Some("blob.cab"));
        }
    }
}

fn truncations_fail_naming_the_archive_and_never_panic() {
    if skip() {
        return;
    }
    let dir = tmp();
    let path = dir.path().join("p.7z");
    let bytes = sz::package(dir.path(), settings::PLAIN_HEADER);
    let n = bytes.len();
    for cut in [0, 5, 31, 32, 100, n / 2, n - 200, n - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = read_all(&path).unwrap_err();
        assert_names(&e, &path, None);
    }
    // A multi-volume first part says how to join the parts.
    std::fs::write(&path, &bytes[..n - 1]).unwrap();
    let e = read_all(&path).unwrap_err().to_string();
    assert!(
        e.contains("multi-volume") && e.contains("cat NAME.7z.0*"),
        "{e}"
    );
}

fn a_byte_flip_sweep_over_the_start_header_and_the_plain_header_never_panics() {
    if skip() {
        return;
    }
    let dir = tmp();
    let files = vec![
        (
            "setAid.ini".to_string(),
            r#gen::setaid(r#gen::Enc::Ansi, "\r\n"),
        ),
        ("sylink.xml".to_string(), r#gen::unmanaged_sylink()),
        ("e.txt".to_string(), Vec::new()),
    ];
    let bytes = sz::archive(dir.path(), &files, &["d"], settings::PLAIN_HEADER);
    let path = dir.path().join("p.7z");
    let header_at = {
        std::fs::write(&path, &bytes).unwrap();
        let a = open(&path).unwrap();
        a.folders()
            .iter()
            .map(|f| f.packed.iter().map(|p| p.offset + p.size).max().unwrap())
            .max()
            .unwrap() as usize
    };
    // Byte 7 is the minor version, which 7-Zip does not check either.
    let positions: Vec<usize> = (0..32)
        .filter(|&i| i != 7)
        .chain(header_at..bytes.len())
        .collect();
    let mut refused = 0;
    for &i in &positions {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            std::fs::write(&path, &b).unwrap();
            match read_all(&path) {
                Ok(()) => {}
                Err(e) => {
                    assert_names(&e, &path, None);
                    assert!(
                        matches!(e, Error::Corrupt { .. } | Error::UnsafeEntry { .. }),
                        "byte {i} ^ {flip:#x}: {e}"
                    );
                    refused += 1;
                }
            }
        }
    }
    // The header CRC covers the header: every flip there is refused.
    assert_eq!(refused, positions.len() * 3);
}

/// Writes an archive whose entries are `names` (each a small file).
fn archive_named(path: &Path, names: &[&str]) {
    let f = File::create(path).unwrap();
    let mut w = Writer::new(f, path, WriteOptions::fresh()).unwrap();
    let at = sepkg::error::Location::file("x");
    for name in names {
        let record = FileRecord {
            name: name.to_string(),
            ..FileRecord::default()
        };
        w.add_file(record, 3, &mut &b"abc"[..], &at).unwrap();
    }
    w.finish().unwrap();
}

fn unsafe_and_duplicate_names_are_refused_naming_the_entry() {
    let dir = tmp();
    let path = dir.path().join("names.7z");
    for (names, bad) in [
        (&["ok.txt", "../evil.txt"][..], "../evil.txt"),
        (&["/etc/passwd"][..], "/etc/passwd"),
        (&["a\\..\\..\\x"][..], "a\\\\..\\\\..\\\\x"),
        (&["C:/Windows/x"][..], "C:/Windows/x"),
        (&["setAid.ini", "SETAID.INI"][..], "SETAID.INI"),
        (&["x", "x"][..], "x"),
    ] {
        archive_named(&path, names);
        let e = open(&path).unwrap_err();
        let Error::UnsafeEntry { at, .. } = &e else {
            panic!("{names:?}: {e}")
        };
        assert_eq!(at.path, path);
        assert!(e.to_string().contains(bad), "{e}");
    }
    archive_named(&path, &["fine/a.txt", "fine/b.txt"]);
    assert!(open(&path).is_ok());
}

fn a_lying_declared_size_is_an_error_naming_the_source() {
    let dir = tmp();
    let path = dir.path().join("x.7z");
    let f = File::create(&path).unwrap();
    let mut w = Writer::new(f, &path, WriteOptions::fresh()).unwrap();
    let at = sepkg::error::Location::entry("in.zip", "big.bin");
    let e = w
        .add_file(
            FileRecord {
                name: "big.bin".into(),
                ..FileRecord::default()
            },
            10,
            &mut &b"abc"[..],
            &at,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("in.zip") && e.to_string().contains("big.bin"),
        "{e}"
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        every_setting_reads_back_as_7zz_wrote_it,
        a_folder_is_decoded_once_when_read_in_order_and_again_when_going_back,
        encrypted_archives_are_refused_naming_the_archive,
        transformed_archives_pass_7zz_and_keep_everything_else,
        a_non_solid_input_keeps_every_untouched_packed_stream_byte_for_byte,
        the_7zip_console_sfx_extracts_the_rewritten_payload,
        transforming_the_output_again_changes_no_file,
        an_archive_from_another_format_is_one_solid_lzma2_folder,
        a_flipped_packed_byte_fails_naming_the_entry,
        truncations_fail_naming_the_archive_and_never_panic,
        a_byte_flip_sweep_over_the_start_header_and_the_plain_header_never_panics,
        unsafe_and_duplicate_names_are_refused_naming_the_entry,
        a_lying_declared_size_is_an_error_naming_the_source,
    ]
}
