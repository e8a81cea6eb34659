//! Single-file .exe inputs: damaged PE headers, section and certificate
//! tables, SFX config blocks, payloads cut or flipped, bytes after the
//! payload.

use super::{Case, example_cab, example_zip, file_case, put16, put32, zip_exe};
use crate::support::r#gen as fx;

pub fn cases() -> Vec<Case> {
    vec![
        file_case(
            "mz-only.exe",
            "corrupt",
            &["mz-only.exe: corrupt", "DOS header", "truncated"],
            || b"MZ".to_vec(),
        ),
        file_case(
            "cut-dos-header.exe",
            "corrupt",
            &["cut-dos-header.exe", "DOS header", "truncated"],
            || fx::pe_stub()[..0x30].to_vec(),
        ),
        file_case(
            "cut-pe-header.exe",
            "corrupt",
            &["cut-pe-header.exe", "PE header", "truncated"],
            || fx::pe_stub()[..0x50].to_vec(),
        ),
        file_case(
            "cut-optional-header.exe",
            "corrupt",
            &["cut-optional-header.exe", "optional header", "truncated"],
            || fx::pe_stub()[..0x100].to_vec(),
        ),
        file_case(
            "lfanew-past-end.exe",
            "corrupt",
            &["lfanew-past-end.exe", "PE header", "truncated"],
            || {
                let mut b = zip_exe();
                put32(&mut b, 0x3C, 0x7FFF_0000);
                b
            },
        ),
        file_case(
            "no-pe-signature.exe",
            "corrupt",
            &["no-pe-signature.exe", "no PE signature"],
            || {
                let mut b = zip_exe();
                b[0x41] = b'X';
                b
            },
        ),
        file_case(
            "cut-section-table.exe",
            "corrupt",
            &["cut-section-table.exe", "section table", "truncated"],
            || fx::pe_stub()[..fx::PE_SECTIONS_AT + 20].to_vec(),
        ),
        file_case(
            "section-table-past-end.exe",
            "corrupt",
            &["section-table-past-end.exe", "section table", "truncated"],
            || {
                // 90 sections: the table runs past the 1024-byte program.
                let mut b = fx::pe_stub();
                put16(&mut b, 0x46, 90);
                b
            },
        ),
        file_case(
            "section-data-past-end.exe",
            "corrupt",
            &["section-data-past-end.exe", "past the end of the file"],
            || {
                let mut b = zip_exe();
                put32(&mut b, fx::PE_SECTIONS_AT + 20, 0x7000_0000);
                b
            },
        ),
        file_case(
            "no-sections.exe",
            "corrupt",
            &["no-sections.exe", "0 sections"],
            || {
                let mut b = zip_exe();
                put16(&mut b, 0x46, 0);
                b
            },
        ),
        file_case(
            "no-overlay.exe",
            "not-a-package",
            &[
                "no-overlay.exe: not a SEP client package",
                "no zip, cabinet or 7z",
            ],
            fx::pe_stub,
        ),
        file_case(
            "garbage-overlay.exe",
            "not-a-package",
            &[
                "garbage-overlay.exe: not a SEP client package",
                "no zip, cabinet or 7z",
            ],
            || [fx::pe_stub(), fx::filler(8192, 21)].concat(),
        ),
        file_case(
            "cut-zip-payload.exe",
            "corrupt",
            &["cut-zip-payload.exe", "zip"],
            || {
                let b = zip_exe();
                b[..b.len() - 30].to_vec()
            },
        ),
        file_case(
            "half-zip-payload.exe",
            "corrupt",
            &["half-zip-payload.exe", "zip"],
            || {
                let b = zip_exe();
                b[..1024 + (b.len() - 1024) / 2].to_vec()
            },
        ),
        file_case(
            "cut-cab-payload.exe",
            "corrupt",
            &["cut-cab-payload.exe", "cabinet payload", "truncated"],
            || {
                let cab = example_cab();
                [fx::pe_stub(), cab[..cab.len() / 2].to_vec()].concat()
            },
        ),
        file_case(
            "flip-cab-payload.exe",
            "corrupt",
            &["flip-cab-payload.exe", "checksum"],
            || {
                let mut cab = example_cab();
                let (at, len) = fx::cab_records(&cab).blocks[0];
                cab[at + 8 + len / 2] ^= 0x20;
                [fx::pe_stub(), cab].concat()
            },
        )
        .not_audited("a damaged data block is a finding on the files audit parses"),
        file_case(
            "open-sfx-config.exe",
            "corrupt",
            &["open-sfx-config.exe", ";!@InstallEnd@!"],
            || {
                [
                    fx::pe_stub(),
                    b";!@Install@!UTF-8!\r\nRunProgram=\"setup.exe\"\r\n".to_vec(),
                    example_zip(),
                ]
                .concat()
            },
        ),
        file_case(
            "trailing-bytes.exe",
            "corrupt",
            &["trailing-bytes.exe", "unknown bytes follow the zip payload"],
            || [zip_exe(), vec![1u8; 40]].concat(),
        ),
        file_case(
            "trailing-bytes-cab.exe",
            "corrupt",
            &[
                "trailing-bytes-cab.exe",
                "unknown bytes follow the cabinet payload",
            ],
            || [fx::pe_stub(), example_cab(), b"trailing data".to_vec()].concat(),
        ),
        file_case(
            "cert-table-past-end.exe",
            "corrupt",
            &[
                "cert-table-past-end.exe",
                "certificate table",
                "past the end",
            ],
            || {
                let mut b = zip_exe();
                let len = b.len() as u32;
                put32(&mut b, fx::PE_SECURITY_DIR_AT, len - 16);
                put32(&mut b, fx::PE_SECURITY_DIR_AT + 4, 4096);
                b
            },
        ),
        file_case(
            "cert-table-in-image.exe",
            "corrupt",
            &["cert-table-in-image.exe", "certificate table overlaps"],
            || {
                let mut b = zip_exe();
                put32(&mut b, fx::PE_SECURITY_DIR_AT, 0x200);
                put32(&mut b, fx::PE_SECURITY_DIR_AT + 4, 64);
                b
            },
        ),
        file_case(
            "pe32-trailing-bytes.exe",
            "corrupt",
            &["pe32-trailing-bytes.exe", "unknown bytes"],
            || {
                [
                    fx::pe32_stub(),
                    example_zip(),
                    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
                ]
                .concat()
            },
        ),
    ]
}
