//! Zip damage: encryption, compression methods, flipped bits at known
//! places, truncation at every structure; and inputs that are no package
//! at all (empty, text, a lone MSI, no package root, missing).

use super::{Case, Invocation, bytes_case, case, example_zip, file_case, files_case, zip_case};
use crate::support::r#gen as fx;

pub fn cases() -> Vec<Case> {
    let mut cases = vec![
        // --- Encryption and compression methods.
        zip_case(
            "encrypted.zip",
            "unsafe-entry",
            &["encrypted.zip, entry \"serdef.dat\": refused", "encrypted"],
            |b| fx::zip_set_flags(b, "serdef.dat", 1),
        ),
        zip_case(
            "encrypted-setaid.zip",
            "unsafe-entry",
            &[
                "encrypted-setaid.zip, entry \"setAid.ini\": refused",
                "encrypted",
            ],
            |b| fx::zip_set_flags(b, "setAid.ini", 1),
        ),
        zip_case(
            "lzma.zip",
            "corrupt",
            &["lzma.zip, entry \"Sep64.msi\"", "compression method"],
            |b| fx::zip_set_method(b, "Sep64.msi", 14),
        ),
        // --- Bit flips at known places.
        zip_case(
            "flip-central-signature.zip",
            "corrupt",
            &["flip-central-signature.zip: corrupt or unsupported zip"],
            |b| {
                let h = fx::zip_entry(b, "serdef.dat");
                b[h.central] ^= 0x01;
            },
        ),
        zip_case(
            "flip-local-signature.zip",
            "corrupt",
            &["flip-local-signature.zip, entry \"serdef.dat\""],
            |b| {
                let h = fx::zip_entry(b, "serdef.dat");
                b[h.local + 1] ^= 0x01;
            },
        ),
        zip_case(
            "flip-local-offset.zip",
            "corrupt",
            &["flip-local-offset.zip, entry \"Sep64.msi\""],
            |b| {
                let h = fx::zip_entry(b, "Sep64.msi");
                b[h.central + 42] ^= 0x10;
            },
        ),
        zip_case(
            "flip-crc.zip",
            "corrupt",
            &["flip-crc.zip, entry \"serdef.dat\"", "checksum"],
            |b| {
                let h = fx::zip_entry(b, "serdef.dat");
                b[h.central + 16] ^= 0x01;
                b[h.local + 14] ^= 0x01;
            },
        )
        .not_audited("audit does not read serdef.dat"),
        zip_case(
            "flip-deflated-msi.zip",
            "corrupt",
            &["flip-deflated-msi.zip, entry \"Sep64.msi\""],
            |b| {
                let h = fx::zip_entry(b, "Sep64.msi");
                b[h.data + h.data_len / 2] ^= 0x20;
            },
        )
        .not_audited("an unreadable MSI is the audit finding msi-unreadable"),
        zip_case(
            "flip-deflated-setaid.zip",
            "corrupt",
            &["flip-deflated-setaid.zip, entry \"setAid.ini\""],
            |b| {
                let h = fx::zip_entry(b, "setAid.ini");
                b[h.data + h.data_len / 2] ^= 0x20;
            },
        )
        .not_audited("an unreadable SetAid.ini is the audit finding setaid-unreadable"),
        zip_case(
            "flip-deflated-sylink.zip",
            "corrupt",
            &["flip-deflated-sylink.zip, entry \"sylink.xml\""],
            |b| {
                let h = fx::zip_entry(b, "sylink.xml");
                b[h.data + h.data_len / 2] ^= 0x20;
            },
        )
        .not_audited("an unreadable sylink.xml is an audit finding"),
        zip_case(
            "flip-compressed-size.zip",
            "corrupt",
            &["flip-compressed-size.zip, entry \"serdef.dat\""],
            |b| {
                let h = fx::zip_entry(b, "serdef.dat");
                b[h.central + 20] ^= 0x04;
                b[h.local + 18] ^= 0x04;
            },
        )
        .not_audited("audit does not read serdef.dat"),
        zip_case(
            "flip-entry-count.zip",
            "corrupt",
            &["flip-entry-count.zip: corrupt or unsupported zip"],
            |b| {
                let e = fx::zip_eocd(b);
                b[e + 10] ^= 0x01;
                b[e + 8] ^= 0x01;
            },
        ),
        // --- Not a package at all.
        file_case(
            "empty.zip",
            "not-a-package",
            &["empty.zip: not a SEP client package: the file is empty"],
            Vec::new,
        ),
        file_case(
            "text.zip",
            "not-a-package",
            &["text.zip: not a SEP client package: unrecognised content"],
            || b"hello, this is not a zip".to_vec(),
        ),
        file_case(
            "magic-only.zip",
            "corrupt",
            &["magic-only.zip: corrupt or unsupported zip"],
            || b"PK\x03\x04".to_vec(),
        ),
        file_case(
            "lone.msi",
            "not-a-package",
            &["lone.msi: not a SEP client package", "MSI"],
            || fx::msi(&fx::MsiSpec::example(fx::VERSION)),
        ),
        file_case(
            "empty-archive.zip",
            "no-package-root",
            &["empty-archive.zip: no package root found"],
            || fx::zip(&[]),
        ),
        files_case(
            "no-root.zip",
            "no-package-root",
            &["no-root.zip: no package root found"],
            || {
                fx::example_files()
                    .into_iter()
                    .filter(|(n, _)| n != "setAid.ini")
                    .collect()
            },
        )
        .not_audited("no SetAid.ini is the audit finding setaid-missing"),
        case(
            "folder without a root",
            "no-package-root",
            &["norootdir: no package root found"],
            |dir| {
                let input = dir.join("norootdir");
                fx::write_dir(
                    &input,
                    &[("readme.txt".into(), b"no package here".to_vec())],
                );
                Invocation::new(dir, input)
            },
        ),
        case(
            "missing input",
            "io",
            &["missing.zip: cannot open"],
            |dir| Invocation::new(dir, dir.join("missing.zip")),
        ),
    ];

    // Truncated zips: cut at offsets inside every structure.
    let whole = example_zip();
    let eocd = fx::zip_eocd(&whole);
    let first_central = fx::zip_headers(&whole)[0].central;
    let len = whole.len();
    for cut in [
        1,
        3,
        4,
        10,
        29,
        30,
        100,
        len / 4,
        len / 2,
        3 * len / 4,
        first_central,
        first_central + 10,
        eocd,
        eocd + 10,
        len - 1,
    ] {
        let name = format!("cut-{cut}.zip");
        let expect = format!("{name}: ");
        let code = if cut < 4 { "not-a-package" } else { "corrupt" };
        cases.push(bytes_case(name, code, &[&expect], whole[..cut].to_vec()));
    }
    cases
}
