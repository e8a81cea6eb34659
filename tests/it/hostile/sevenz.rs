//! 7z archives and 7z payloads of a single-file .exe: the place for the
//! 7z reader's hostile cases (the 7z issue adds `Format::SevenZ` in
//! `mod.rs`, so every input case of every subject also runs `to_7z`).
//!
//! A 7z case is made like the others: [`sevenz_case`] for a damaged
//! archive, with the archive's bytes made by a generator beside `fx::zip`
//! and `fx::cab`.

use super::{Case, file_case};
use crate::support::r#gen as fx;

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

pub fn cases() -> Vec<Case> {
    vec![sevenz_case(
        "sfx7z.exe",
        "corrupt",
        &[
            "sfx7z.exe",
            "7z archive at offset",
            "start header does not check",
        ],
        signature_only,
        |_| {},
    )]
}
