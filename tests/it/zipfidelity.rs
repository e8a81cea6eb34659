//! Zip fidelity on archives made by tools nobody here wrote (Info-ZIP,
//! 7-Zip, Python's zipfile): copied entries keep every header field,
//! Zip64 inputs give outputs 7-Zip finds sound, CP437 names, times with
//! `--keep-times`, junk after a zip, and the parts of a split zip.

use crate::support;
use crate::support::harness::tests;
use crate::support::zips;

use std::path::{Path, PathBuf};

use crate::support::r#gen as fx;
use crate::support::{check_tool, have, sepkg, text};

fn sylink(dir: &Path) -> PathBuf {
    let p = dir.join("managed.xml");
    std::fs::write(&p, fx::managed_sylink()).unwrap();
    p
}

/// The example package as a folder, `dir/export`.
fn package(dir: &Path) -> PathBuf {
    let export = dir.join("export");
    fx::write_dir(&export, &fx::example_files());
    export
}

/// Runs a transform that must succeed; returns its stdout and manifest.
fn transform(input: &Path, out: &Path, extra: &[&str]) -> (String, serde_json::Value) {
    let dir = out.parent().unwrap();
    let output = sepkg()
        .arg("transform")
        .arg(input)
        .arg("--sylink")
        .arg(sylink(dir))
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "transform failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let manifest = std::fs::read(format!("{}.manifest.json", out.display())).unwrap();
    (stdout, serde_json::from_slice(&manifest).unwrap())
}

/// A transform that must be refused (exit 2); returns stderr.
fn refused(input: &Path, out: &Path) -> String {
    let output = sepkg()
        .arg("transform")
        .arg(input)
        .arg("--sylink")
        .arg(sylink(out.parent().unwrap()))
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(!out.exists());
    text(&output).1
}

/// The entries transform edits in the example package.
const EDITED: [&str; 2] = ["setAid.ini", "sylink.xml"];

/// Every entry of `input` is in `output`, in order; each copied one has
/// every header field of the input but its local header offset; each
/// edited one every field but the offset, CRC, sizes and data.
fn assert_same_headers(input: &zips::Parsed, output: &zips::Parsed) {
    assert_eq!(
        input
            .entries
            .iter()
            .map(zips::Stored::text)
            .collect::<Vec<_>>(),
        output
            .entries
            .iter()
            .map(zips::Stored::text)
            .collect::<Vec<_>>()
    );
    let edited = ["offset", "crc", "size", "packed", "data", "descriptor"];
    for (a, b) in input.entries.iter().zip(&output.entries) {
        let except: &[&str] = if EDITED.contains(&a.text().as_str()) {
            &edited
        } else {
            &["offset"]
        };
        let diff = zips::differences(a, b, except);
        assert!(diff.is_empty(), "{}: {diff:#?}", a.text());
    }
}

/// The field `name` of a record.
fn field<'a>(fields: &'a [zips::Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// An archive made by `zip ARGS` in the example package's folder.
fn infozip(tmp: &Path, args: &[&str]) -> Option<PathBuf> {
    let export = package(tmp);
    let input = tmp.join("in.zip");
    let mut all = vec!["-q", "-r"];
    all.extend_from_slice(args);
    all.extend([input.to_str().unwrap(), "."]);
    zips::run_in(&export, "zip", &all)?;
    Some(input)
}

fn a_zip64_input_from_infozip_gives_an_output_that_7zip_finds_sound() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = infozip(tmp.path(), &["-fz"]) else {
        return;
    };
    let before = zips::parse(&read(&input));
    // What `zip -fz` writes: a Zip64 extra field in every local header,
    // 4.5 as the version needed, and a Zip64 end record.
    assert!(before.zip64_end.is_some());
    for e in &before.entries {
        assert!(field(&e.local, "zip64.size").is_some(), "{}", e.text());
        assert_eq!(field(&e.local, "version needed"), Some("45"));
    }
    let out = tmp.path().join("out.zip");
    transform(&input, &out, &[]);
    zips::seven_zip_accepts(&out);
    check_tool("unzip", &["-t"], &out);
    let after = zips::parse(&read(&out));
    assert!(after.zip64_end.is_some(), "the Zip64 end record is kept");
    assert_same_headers(&before, &after);
    // The edited entries keep their Zip64 form, with the new sizes in it.
    for name in EDITED {
        let e = after.entries.iter().find(|e| e.text() == name).unwrap();
        assert_eq!(field(&e.local, "size"), Some("4294967295"), "{name}");
        assert_eq!(
            field(&e.local, "zip64.packed").map(str::to_string),
            Some(e.data.len().to_string()),
            "{name}"
        );
    }
}

fn infozip_entries_keep_times_attributes_and_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = infozip(tmp.path(), &[]) else {
        return;
    };
    let before = zips::parse(&read(&input));
    // What 0.1.0 lost: UT and Unix extra fields, version made by 3.0 on
    // Unix, the text bit of the internal attributes.
    let ini = before
        .entries
        .iter()
        .find(|e| e.text() == "setup.ini")
        .unwrap();
    assert!(
        ini.central.iter().any(|(n, _)| n.contains("0x5455")),
        "{:?}",
        ini.central
    );
    assert!(
        ini.local.iter().any(|(n, _)| n.contains("0x7875")),
        "{:?}",
        ini.local
    );
    assert_eq!(
        field(&ini.central, "version made by"),
        Some(&*(0x031E).to_string())
    );
    assert_eq!(field(&ini.central, "internal attributes"), Some("0x0001"));
    let out = tmp.path().join("out.zip");
    transform(&input, &out, &[]);
    zips::seven_zip_accepts(&out);
    check_tool("unzip", &["-t"], &out);
    assert_same_headers(&before, &zips::parse(&read(&out)));
}

fn sevenzip_entries_keep_their_ntfs_times() {
    let tmp = tempfile::tempdir().unwrap();
    let export = package(tmp.path());
    let input = tmp.path().join("in.zip");
    if zips::run_in(
        &export,
        "7zz",
        &["a", "-tzip", "-bso0", input.to_str().unwrap(), "."],
    )
    .is_none()
    {
        return;
    }
    let before = zips::parse(&read(&input));
    assert!(
        before.entries[1]
            .central
            .iter()
            .any(|(n, _)| n.contains("0x000a")),
        "7-Zip writes an NTFS time field: {:?}",
        before.entries[1].central
    );
    let out = tmp.path().join("out.zip");
    transform(&input, &out, &[]);
    zips::seven_zip_accepts(&out);
    check_tool("unzip", &["-t"], &out);
    assert_same_headers(&before, &zips::parse(&read(&out)));
}

fn a_streamed_zip_keeps_its_data_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let export = package(tmp.path());
    if !have("zip") {
        eprintln!("SKIPPED: zip is not installed");
        return;
    }
    // Writing to a pipe, Info-ZIP cannot seek back: every entry has bit 3
    // and a data descriptor after its data.
    zips::run_in(&export, "sh", &["-c", "zip -q -r - . | cat > ../in.zip"]).unwrap();
    let input = tmp.path().join("in.zip");
    let before = zips::parse(&read(&input));
    assert!(before.entries.iter().filter(|e| e.flags & 8 != 0).count() >= 7);
    assert!(
        before
            .entries
            .iter()
            .all(|e| e.flags & 8 == 0 || !e.descriptor.is_empty())
    );
    let out = tmp.path().join("out.zip");
    transform(&input, &out, &[]);
    zips::seven_zip_accepts(&out);
    check_tool("unzip", &["-t"], &out);
    let after = zips::parse(&read(&out));
    assert_same_headers(&before, &after);
    // The edited entries stream too: CRC and compressed size left 0 in the
    // local header as Info-ZIP left them, the new ones in the descriptor.
    for name in EDITED {
        let e = after.entries.iter().find(|e| e.text() == name).unwrap();
        assert_eq!(field(&e.local, "crc"), Some("0x00000000"), "{name}");
        assert_eq!(e.descriptor.len(), 16, "{name}");
        assert_eq!(e.descriptor[4..8], e.crc.to_le_bytes(), "{name}");
    }
}

fn cp437_names_are_decoded_checked_and_written_back_as_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = fx::example_files();
    files.push(("LXsmig.txt".into(), b"a".to_vec()));
    files.push(("LYsmig.txt".into(), b"o".to_vec()));
    let raw: [(&str, &[u8]); 2] = [
        ("LXsmig.txt", b"L\x84smig.txt"),
        ("LYsmig.txt", b"L\x94smig.txt"),
    ];
    let Some(bytes) = zips::python_zip_with_raw_names(tmp.path(), &files, &raw) else {
        return;
    };
    let input = tmp.path().join("in.zip");
    std::fs::write(&input, &bytes).unwrap();
    let out = tmp.path().join("out.zip");
    let (_, manifest) = transform(&input, &out, &[]);
    let names: Vec<&str> = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Läsmig.txt") && names.contains(&"Lösmig.txt"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains('\u{FFFD}')), "{names:?}");
    // Written back with the bytes stored, bit 11 still clear.
    let after = zips::parse(&read(&out));
    for (_, stored) in raw {
        let e = after.entries.iter().find(|e| e.name == stored).unwrap();
        assert_eq!(e.flags & 0x800, 0);
    }
    assert_same_headers(&zips::parse(&bytes), &after);
    // Unpacked to a folder, the names are what Windows shows.
    let dir = tmp.path().join("unpacked");
    transform(&input, &dir, &["--to", "dir"]);
    assert_eq!(read(&dir.join("Läsmig.txt")), b"a");
    assert_eq!(read(&dir.join("Lösmig.txt")), b"o");
}

fn cp437_names_that_differ_only_in_case_are_refused_in_their_decoded_form() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = fx::example_files();
    files.push(("LXsmig.txt".into(), b"a".to_vec()));
    files.push(("LYsmig.txt".into(), b"A".to_vec()));
    // 0x84 is ä and 0x8E is Ä: one file on Windows.
    let raw: [(&str, &[u8]); 2] = [
        ("LXsmig.txt", b"L\x84smig.txt"),
        ("LYsmig.txt", b"L\x8esmig.txt"),
    ];
    let Some(bytes) = zips::python_zip_with_raw_names(tmp.path(), &files, &raw) else {
        return;
    };
    let input = tmp.path().join("in.zip");
    std::fs::write(&input, bytes).unwrap();
    let stderr = refused(&input, &tmp.path().join("out.zip"));
    assert!(stderr.contains("LÄsmig.txt"), "{stderr}");
    assert!(
        stderr.contains("differs only in letter case from \"Läsmig.txt\""),
        "{stderr}"
    );
}

/// Names with a DOS (date, time) each.
type Times = Vec<(String, (u16, u16))>;

/// `t` as DOS (date, time), as UTC, odd seconds rounded up (as Info-ZIP
/// and the cab crate do).
fn dos(t: std::time::SystemTime) -> (u16, u16) {
    let t = time::OffsetDateTime::from(t);
    let t = if t.second() % 2 == 1 {
        t + time::Duration::SECOND
    } else {
        t
    };
    let date =
        ((t.year() - 1980) as u16) << 9 | u16::from(u8::from(t.month())) << 5 | u16::from(t.day());
    let clock = u16::from(t.hour()) << 11 | u16::from(t.minute()) << 5 | u16::from(t.second() / 2);
    (date, clock)
}

/// The example folder with each file's mtime set, distinct per file;
/// returns the folder and each file's DOS time by name.
fn dated_package(tmp: &Path) -> (PathBuf, Times) {
    let export = package(tmp);
    let mut times = Vec::new();
    for (k, (name, _)) in fx::example_files().iter().enumerate() {
        let when = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(1_614_834_368 + 86_461 * k as u64);
        let file = std::fs::File::options()
            .write(true)
            .open(export.join(name))
            .unwrap();
        file.set_modified(when).unwrap();
        times.push((name.clone(), dos(when)));
    }
    (export, times)
}

/// Each file of the cabinet at `path` with its DOS (date, time).
fn cab_times(path: &Path) -> Times {
    let cabinet = cab::Cabinet::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for folder in cabinet.folder_entries() {
        for f in folder.file_entries() {
            let t = f.datetime().unwrap();
            let date = ((t.year() - 1980) as u16) << 9
                | u16::from(u8::from(t.month())) << 5
                | u16::from(t.day());
            let clock =
                u16::from(t.hour()) << 11 | u16::from(t.minute()) << 5 | u16::from(t.second() / 2);
            out.push((f.name().replace('\\', "/"), (date, clock)));
        }
    }
    out
}

fn keep_times_dates_folder_files_with_their_mtimes_and_the_default_is_1980() {
    let tmp = tempfile::tempdir().unwrap();
    let (export, times) = dated_package(tmp.path());
    let kept = tmp.path().join("kept.zip");
    transform(&export, &kept, &["--keep-times"]);
    let entries = zips::parse(&read(&kept)).entries;
    for (name, when) in &times {
        let e = entries.iter().find(|e| e.text() == *name).unwrap();
        assert_eq!(e.dos, *when, "{name}");
    }
    check_tool("unzip", &["-t"], &kept);
    let fixed = tmp.path().join("fixed.zip");
    transform(&export, &fixed, &[]);
    assert!(
        zips::parse(&read(&fixed))
            .entries
            .iter()
            .all(|e| e.dos == (0x21, 0))
    );
    // A cabinet output alike.
    let cab = tmp.path().join("kept.cab");
    transform(&export, &cab, &["--to", "cab", "--keep-times"]);
    let mut got = cab_times(&cab);
    let mut want = times.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let fixed_cab = tmp.path().join("fixed.cab");
    transform(&export, &fixed_cab, &["--to", "cab"]);
    assert!(cab_times(&fixed_cab).iter().all(|(_, t)| *t == (0x21, 0)));
}

fn keep_times_carries_a_zip_entry_time_into_a_cabinet_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(input) = infozip(tmp.path(), &[]) else {
        return;
    };
    // Distinct times, in the zip's own DOS fields.
    let mut bytes = read(&input);
    let parsed = zips::parse(&bytes);
    let mut want = Vec::new();
    for (k, e) in parsed
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.text().ends_with('/'))
    {
        let when = (0x5263 + k as u16, 0x3A4F + 32 * k as u16);
        want.push((e.text(), when));
        for at in [e.offset as usize + 10, central_at(&bytes, &e.name) + 12] {
            bytes[at..at + 2].copy_from_slice(&when.1.to_le_bytes());
            bytes[at + 2..at + 4].copy_from_slice(&when.0.to_le_bytes());
        }
    }
    std::fs::write(&input, &bytes).unwrap();
    let cab = tmp.path().join("out.cab");
    transform(&input, &cab, &["--to", "cab", "--keep-times"]);
    let mut got = cab_times(&cab);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let back = tmp.path().join("back.zip");
    transform(&cab, &back, &["--to", "zip", "--keep-times"]);
    let mut again: Vec<_> = zips::parse(&read(&back))
        .entries
        .iter()
        .map(|e| (e.text(), e.dos))
        .collect();
    again.sort();
    assert_eq!(again, want);
}

/// Where the central record of `name` starts.
fn central_at(bytes: &[u8], name: &[u8]) -> usize {
    let eocd = zips::parse(bytes).eocd;
    (0..eocd)
        .rev()
        .find(|&i| {
            bytes[i..].starts_with(b"PK\x01\x02")
                && bytes[i + 46..].starts_with(name)
                && usize::from(u16::from_le_bytes([bytes[i + 28], bytes[i + 29]])) == name.len()
        })
        .unwrap()
}

fn junk_after_a_zip_is_warned_about_and_not_copied_while_a_comment_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = fx::zip(&fx::example_files());
    // An archive comment, then 40 bytes that belong to nothing.
    let eocd = zips::parse(&bytes).eocd;
    let comment = b"exported by the SEPM";
    bytes[eocd + 20..eocd + 22].copy_from_slice(&(comment.len() as u16).to_le_bytes());
    bytes.extend_from_slice(comment);
    let clean = bytes.clone();
    bytes.extend_from_slice(&[b'J'; 40]);
    let input = tmp.path().join("in.zip");
    std::fs::write(&input, &bytes).unwrap();
    let out = tmp.path().join("out.zip");
    let (stdout, manifest) = transform(&input, &out, &[]);
    let offset = clean.len();
    assert!(
        stdout.contains(&format!(
            "warning: in.zip: 40 bytes follow the end of the zip (from offset {offset})"
        )),
        "{stdout}"
    );
    let warnings = manifest["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["code"] == "zip-trailing-data" && w["entry"] == "in.zip"),
        "{warnings:?}"
    );
    let written = read(&out);
    let parsed = zips::parse(&written);
    assert_eq!(parsed.comment, comment);
    assert_eq!(
        parsed.eocd + 22 + comment.len(),
        written.len(),
        "nothing after the comment"
    );
    zips::seven_zip_accepts(&out);
    // The same zip without the junk: no warning.
    std::fs::write(&input, &clean).unwrap();
    let (stdout, manifest) = transform(&input, &tmp.path().join("clean.zip"), &[]);
    assert!(!stdout.contains("warning"), "{stdout}");
    assert_eq!(manifest["warnings"], serde_json::json!([]));
}

fn each_part_of_a_split_zip_is_named_as_one_and_the_joined_zip_transforms() {
    let tmp = tempfile::tempdir().unwrap();
    let export = package(tmp.path());
    std::fs::write(export.join("big.bin"), fx::filler(200_000, 9)).unwrap();
    let parts = tmp.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    if zips::run_in(
        &export,
        "zip",
        &["-q", "-r", "-s", "64k", "../parts/s.zip", "."],
    )
    .is_none()
    {
        return;
    }
    let out = tmp.path().join("out.zip");
    let first = refused(&parts.join("s.z01"), &out);
    assert!(
        first.contains("s.z01: not a SEP client package: the first part (.z01) of a split zip"),
        "{first}"
    );
    let middle = refused(&parts.join("s.z02"), &out);
    assert!(middle.contains("a middle part of a split zip"), "{middle}");
    let last = refused(&parts.join("s.zip"), &out);
    assert!(
        last.contains("the last part (.zip) of a zip split into 4 parts"),
        "{last}"
    );
    for message in [&first, &middle, &last] {
        assert!(message.contains("`7zz x NAME.zip -oNAME`"), "{message}");
    }
    // Doing what the message says works.
    if zips::run_in(&parts, "7zz", &["x", "-bso0", "s.zip", "-os"]).is_some() {
        let (_, manifest) = transform(&parts.join("s"), &out, &[]);
        assert_eq!(manifest["entries"].as_array().unwrap().len(), 8);
    }
}

/// What 0.1.0 wrote for a folder, with the zip crate's writer: the
/// options and the stored-or-deflated rules of its `package/zip.rs`.
fn zip_crate_folder_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    use zip::CompressionMethod::{Deflated, Stored};
    use zip::write::{PreparedZipFile, SimpleFileOptions};
    let fresh = |size: usize| {
        SimpleFileOptions::DEFAULT
            .compression_method(Deflated)
            .compression_level(Some(6))
            .unix_permissions(0o644)
            .large_file(size as u64 >= u64::from(u32::MAX))
    };
    let stored = |size: usize| {
        fresh(size)
            .compression_method(Stored)
            .compression_level(None)
    };
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        if name.ends_with('/') {
            w.add_directory(name.as_str(), fresh(0).unix_permissions(0o755))
                .unwrap();
        } else if EDITED.contains(&name.as_str()) {
            let p = PreparedZipFile::from_data(name, fresh(bytes.len()), bytes).unwrap();
            w.add_prepared_file(p).unwrap();
        } else if bytes.len() <= 4 << 20 {
            let p = PreparedZipFile::from_data(name, fresh(bytes.len()), bytes).unwrap();
            let p = if p.compressed_size() < bytes.len() as u64 || bytes.is_empty() {
                p
            } else {
                PreparedZipFile::from_data(name, stored(bytes.len()), bytes).unwrap()
            };
            w.add_prepared_file(p).unwrap();
        } else {
            let sample = &bytes[..1 << 20];
            let probe = PreparedZipFile::from_data("sample", fresh(sample.len()), sample).unwrap();
            let options = if probe.compressed_size() < sample.len() as u64 {
                fresh(bytes.len())
            } else {
                stored(bytes.len())
            };
            // Fed as 0.1.0 fed it: the first MiB in one write, then in the
            // 8 KiB pieces of `io::copy` (deflate's output depends on how
            // its input is cut).
            w.start_file(name.as_str(), options).unwrap();
            w.write_all(sample).unwrap();
            for piece in bytes[1 << 20..].chunks(8 << 10) {
                w.write_all(piece).unwrap();
            }
        }
    }
    w.finish().unwrap().into_inner()
}

fn a_folder_gives_the_bytes_the_zip_crate_wrote_for_it() {
    // The writer builds entries of its own now: they must be what 0.1.0's
    // writer (the zip crate) made, byte for byte, for every kind of file it
    // handled: small ones deflated or stored, an empty file and folder, a
    // UTF-8 name, and large files streamed (deflated, and stored).
    let tmp = tempfile::tempdir().unwrap();
    let export = package(tmp.path());
    let extra: Vec<(String, Vec<u8>)> = vec![
        ("Büro/Läsmig.txt".into(), b"lies mich".to_vec()),
        ("empty.txt".into(), Vec::new()),
        ("random.bin".into(), fx::filler(5 << 20, 11)),
        ("text.log".into(), b"line of a log\r\n".repeat(400_000)),
        ("zz-random-small.bin".into(), fx::filler(3000, 5)),
    ];
    fx::write_dir(&export, &extra);
    std::fs::create_dir_all(export.join("Leer")).unwrap();
    let out = tmp.path().join("out.zip");
    transform(&export, &out, &[]);
    let written = read(&out);
    let mut files = support::unzip(&written);
    assert!(
        files.iter().any(|(n, _)| n == "Leer/"),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, bytes) in &mut files {
        if name.ends_with('/') {
            bytes.clear();
        }
    }
    let want = zip_crate_folder_zip(&files);
    assert!(
        want == written,
        "the output differs from the zip crate's ({} and {} bytes)",
        written.len(),
        want.len()
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        a_zip64_input_from_infozip_gives_an_output_that_7zip_finds_sound,
        infozip_entries_keep_times_attributes_and_versions,
        sevenzip_entries_keep_their_ntfs_times,
        a_streamed_zip_keeps_its_data_descriptors,
        cp437_names_are_decoded_checked_and_written_back_as_stored,
        cp437_names_that_differ_only_in_case_are_refused_in_their_decoded_form,
        keep_times_dates_folder_files_with_their_mtimes_and_the_default_is_1980,
        keep_times_carries_a_zip_entry_time_into_a_cabinet_and_back,
        junk_after_a_zip_is_warned_about_and_not_copied_while_a_comment_is_kept,
        each_part_of_a_split_zip_is_named_as_one_and_the_joined_zip_transforms,
        a_folder_gives_the_bytes_the_zip_crate_wrote_for_it,
    ]
}
