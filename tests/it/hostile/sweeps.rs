//! Every single-byte flip, one at a time, of a zip, a cabinet and an
//! .exe's headers: refused with an error naming the input and the right
//! code (no misattributed `io`), leaving nothing behind, or harmless (the
//! output holds exactly the entries the undamaged input gives). No silent
//! misedit.
//!
//! Thousands of transforms per sweep: they call the library in this
//! process (a process per flip would take minutes); the code checked is
//! the one `--json` prints (`Error::code`). The call is in [`transform`]
//! alone.

use std::path::Path;

use super::{example_cab, example_zip, sylink, zip_exe};
use crate::support;
use crate::support::r#gen as fx;
use crate::support::harness::tests;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        every_single_byte_flip_is_refused_or_harmless,
        every_single_byte_flip_of_a_cabinet_is_refused_or_harmless,
        every_single_byte_flip_of_an_exe_header_is_refused_or_harmless,
        every_single_byte_flip_of_a_7z_signature_and_header_is_refused_or_harmless,
    ]
}

/// Transforms `input` into `output` (in `to`, or the input's format),
/// through the library; the error's JSON code and message.
fn transform(
    input: &Path,
    sylink: &sepkg::transform::ManagedSylink,
    to: Option<sepkg::Kind>,
    output: &Path,
) -> Result<(), (&'static str, String)> {
    let job = sepkg::transform::Job {
        input: input.to_path_buf(),
        destination: sepkg::transform::Destination::Named(output.to_path_buf()),
        to,
        stub: None,
        edits: Vec::new(),
        sign: None,
        keep_times: false,
        no_clobber: false,
    };
    sepkg::transform::run(&job, sylink, &sepkg::NoProgress)
        .map(drop)
        .map_err(|e| (e.code(), e.to_string()))
}

/// Flips each byte at `positions` of `clean` (XOR 0x55), one at a time, and
/// transforms the result: it must fail with an error naming the input,
/// whose code is one of `codes`, and leave nothing behind, or write exactly
/// the entries (names and contents) the undamaged input gives. Prints and
/// returns (refused, harmless).
fn sweep(
    what: &str,
    clean: &[u8],
    input_name: &str,
    output_name: &str,
    to: Option<sepkg::Kind>,
    positions: &[usize],
    codes: &[&str],
) -> (usize, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let sylink = sepkg::transform::ManagedSylink::load(&sylink(tmp.path())).unwrap();
    let input = tmp.path().join(input_name);
    let output = tmp.path().join(output_name);
    let run = |bytes: &[u8]| {
        std::fs::write(&input, bytes).unwrap();
        for suffix in ["", ".sha256", ".manifest.json"] {
            let _ = std::fs::remove_file(tmp.path().join(format!("{output_name}{suffix}")));
        }
        transform(&input, &sylink, to, &output)
    };
    run(clean).unwrap();
    let want = support::unzip(&std::fs::read(&output).unwrap());
    let (mut refused, mut harmless) = (0, 0);
    let mut seen = std::collections::BTreeMap::new();
    for &pos in positions {
        let mut bytes = clean.to_vec();
        bytes[pos] ^= 0x55;
        match run(&bytes) {
            Err((code, message)) => {
                assert!(message.contains(input_name), "{what} byte {pos}: {message}");
                assert!(
                    codes.contains(&code),
                    "{what} byte {pos}: code {code:?}, expected one of {codes:?}: {message}"
                );
                assert_eq!(
                    support::listing(tmp.path()),
                    [input_name, "managed.xml"],
                    "{what} byte {pos}: left behind"
                );
                *seen.entry(code).or_insert(0) += 1;
                refused += 1;
            }
            Ok(()) => {
                let got = support::unzip(&std::fs::read(&output).unwrap());
                assert!(
                    got == want,
                    "{what} byte {pos}: a damaged input gave different entries"
                );
                harmless += 1;
            }
        }
    }
    eprintln!(
        "{what} byte flips: {} positions, {refused} refused {seen:?}, {harmless} harmless (same entries)",
        positions.len()
    );
    (refused, harmless)
}

fn every_single_byte_flip_is_refused_or_harmless() {
    // No silent misedit: whatever byte of a zip is damaged, the transform
    // either fails with an error naming the input, or writes exactly the
    // entries the undamaged input gives. Every header byte, and every 16th
    // byte of entry data (all of it takes minutes; the CRC covers data
    // bytes alike).
    let clean = example_zip();
    let mut positions: Vec<usize> = (0..clean.len()).step_by(16).collect();
    for h in &fx::zip_headers(&clean) {
        positions.extend(h.local..h.data);
        positions.extend(h.central..h.central + 46 + h.name.len());
    }
    positions.extend(fx::zip_eocd(&clean)..clean.len());
    positions.sort_unstable();
    positions.dedup();
    sweep(
        "zip", &clean, "flip.zip", "out.zip", None, &positions, FLIP_CODES,
    );
}

fn every_single_byte_flip_of_a_cabinet_is_refused_or_harmless() {
    // The cabinet twin of the zip sweep: every byte of the header, folder
    // and file records (but the names: a cabinet stores each once with no
    // checksum, so a flipped name is just another name), every data-block
    // header and MSZIP signature, and every 16th byte of data.
    let clean = example_cab();
    let records = fx::cab_records(&clean);
    let mut positions: Vec<usize> = (0..clean.len()).step_by(16).collect();
    positions.extend(0..records.files[0].0);
    for (at, _) in &records.files {
        positions.extend(*at..*at + 16);
    }
    for (at, _) in &records.blocks {
        positions.extend(*at..*at + 10);
    }
    let names: Vec<std::ops::Range<usize>> = records
        .files
        .iter()
        .map(|(at, name)| *at + 16..*at + 16 + name.len() + 1)
        .collect();
    positions.retain(|p| !names.iter().any(|r| r.contains(p)));
    positions.sort_unstable();
    positions.dedup();
    sweep(
        "cabinet",
        &clean,
        "flip.cab",
        "out.zip",
        Some(sepkg::Kind::Zip),
        &positions,
        FLIP_CODES,
    );
}

fn every_single_byte_flip_of_an_exe_header_is_refused_or_harmless() {
    // The PE headers, the SFX config block and the payload's first
    // headers of a zip .exe (the stub is copied as it is, so its own bytes
    // may differ in the output; the entries may not).
    let clean = zip_exe();
    let payload = fx::pe_stub().len() + fx::sfx_config("setup.exe").len();
    let mut positions: Vec<usize> = (0..0x200).collect();
    positions.extend(0x400..payload + 64);
    sweep(
        "exe", &clean, "flip.exe", "out.exe", None, &positions, FLIP_CODES,
    );
}

fn every_single_byte_flip_of_a_7z_signature_and_header_is_refused_or_harmless() {
    // The 7z twin: every byte of the signature header (the start header's
    // CRC covers the rest of it) and of a plain header (`-mhc=off`, covered
    // by the next-header CRC), transformed to a zip so the entries compare.
    if !crate::support::sevenz::have_7zz() {
        eprintln!("SKIPPED: 7zz is not installed; the 7z sweep needs it to make its archive");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clean = crate::support::sevenz::archive(
        dir.path(),
        &fx::example_files(),
        &["Logs"],
        crate::support::sevenz::settings::PLAIN_HEADER,
    );
    let offset = u64::from_le_bytes(clean[12..20].try_into().unwrap()) as usize;
    let mut positions: Vec<usize> = (0..32).collect();
    positions.extend(32 + offset..clean.len());
    let (refused, _) = sweep(
        "7z",
        &clean,
        "flip.7z",
        "out.zip",
        Some(sepkg::Kind::Zip),
        &positions,
        FLIP_CODES,
    );
    // Only the signature's minor version is not checked (7-Zip does not
    // check it either); every other flip is refused.
    assert!(
        refused >= positions.len() - 1,
        "{refused} of {}",
        positions.len()
    );
}

/// What a flipped byte may make of an input: damaged (`corrupt`),
/// unrecognised (`not-a-package`, a flipped signature) or, in a name, a
/// name that is refused (`unsafe-entry`). Never `io` (the input is there
/// and readable: the cab -> zip misattribution), `usage`, or a code about
/// contents the flip did not reach.
const FLIP_CODES: &[&str] = &["corrupt", "not-a-package", "unsafe-entry"];
