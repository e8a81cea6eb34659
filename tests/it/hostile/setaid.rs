//! SetAid.ini (and setup.ini) contents: encodings that cannot be read
//! back the same, binary data, control characters; a setup.ini that cannot
//! be read is a warning, not a refusal.

use super::{Case, Format, Invocation, Run, case, files_case, setaid_text, succeeds, utf16le};
use crate::support::r#gen as fx;
use crate::support::harness::tests;
use crate::support::{self, sepkg, text};

pub fn cases() -> Vec<Case> {
    vec![
        // --- SetAid.ini contents.
        files_case(
            "setaid-utf16-nobom.zip",
            "bad-ini",
            &[
                "setaid-utf16-nobom.zip, entry \"setAid.ini\"",
                "UTF-16 without a byte-order mark",
            ],
            || fx::example_with("setAid.ini", utf16le(&setaid_text(), false)),
        ),
        files_case(
            "setaid-surrogate.zip",
            "bad-ini",
            &[
                "setaid-surrogate.zip, entry \"setAid.ini\"",
                "unpaired surrogate",
            ],
            || {
                let mut b = utf16le(&setaid_text(), true);
                b.extend_from_slice(&0xD800u16.to_le_bytes());
                b.extend(utf16le("\r\n", false));
                fx::example_with("setAid.ini", b)
            },
        ),
        files_case(
            "setaid-odd-utf16.zip",
            "bad-ini",
            &[
                "setaid-odd-utf16.zip, entry \"setAid.ini\"",
                "odd number of bytes",
            ],
            || {
                let mut b = utf16le(&setaid_text(), true);
                b.push(b'x');
                fx::example_with("setAid.ini", b)
            },
        ),
        files_case(
            "setaid-binary.zip",
            "bad-ini",
            &["setaid-binary.zip, entry \"setAid.ini\"", "binary data"],
            || fx::example_with("setAid.ini", fx::filler(3000, 11)),
        ),
        files_case(
            "setaid-control.zip",
            "bad-ini",
            &[
                "setaid-control.zip, entry \"setAid.ini\"",
                "control character 0x1B",
            ],
            || {
                fx::example_with(
                    "setAid.ini",
                    b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=\x1b[31m1\r\n".to_vec(),
                )
            },
        ),
        files_case(
            "setaid-bad-utf8-bom.zip",
            "bad-ini",
            &[
                "setaid-bad-utf8-bom.zip, entry \"setAid.ini\"",
                "invalid UTF-8",
            ],
            || {
                fx::example_with(
                    "setAid.ini",
                    b"\xEF\xBB\xBF[CUSTOM_SMC_CONFIG]\r\nName=\xC3\x28\r\n".to_vec(),
                )
            },
        ),
        case(
            "folder with a binary SetAid.ini",
            "bad-ini",
            &["bindir, entry \"setAid.ini\"", "binary data"],
            |dir| {
                let input = dir.join("bindir");
                fx::write_dir(&input, &fx::example_with("setAid.ini", fx::filler(512, 5)));
                Invocation::new(dir, input)
            },
        ),
    ]
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials = fuzz_regressions::trials();
    trials.extend(tests![garbage_setup_ini_is_a_warning_not_a_failure]);
    trials
}

fn garbage_setup_ini_is_a_warning_not_a_failure() {
    // setup.ini is only read for the product version; refusing a package
    // over it would block a transform that is otherwise sound.
    for (what, bytes) in [
        ("binary", fx::filler(700, 4)),
        (
            "utf16 without bom",
            utf16le("[Startup]\r\nProductVersion=1\r\n", false),
        ),
        ("over the limit", fx::huge_setaid(2 << 20)),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("pkg.zip");
        let files = fx::example_with("setup.ini", bytes.clone());
        std::fs::write(&input, fx::zip(&files)).unwrap();
        let doc = succeeds(&Invocation::new(tmp.path(), &input), Format::Zip);
        let manifest = &doc["transformed"][0]["manifest"];
        assert_eq!(
            manifest["product_version"],
            serde_json::Value::Null,
            "{what}"
        );
        let warning = &manifest["warnings"][0];
        assert_eq!(
            warning["code"], "setup-ini-unreadable",
            "{what}: {manifest}"
        );
        assert_eq!(warning["entry"], "setup.ini", "{what}");
        assert!(
            warning["message"]
                .as_str()
                .unwrap()
                .contains("copied unchanged"),
            "{what}: {warning}"
        );
        let out = std::fs::read(tmp.path().join("out/out.zip")).unwrap();
        let entries = support::unzip(&out);
        let setup = &entries.iter().find(|(n, _)| n == "setup.ini").unwrap().1;
        assert!(
            *setup == bytes,
            "{what}: setup.ini was not copied unchanged"
        );
        // The human report shows the warning too.
        let again = Invocation::new(tmp.path(), &input).output(tmp.path().join("out/again.zip"));
        let human = sepkg()
            .args(again.args(Run::To(Format::Zip)))
            .output()
            .unwrap();
        assert!(
            text(&human)
                .0
                .contains("warning: setup.ini: cannot be read"),
            "{what}: {}",
            text(&human).0
        );
    }
}

/// Inputs the fuzz targets (fuzz/) found, kept as regression tests.
mod fuzz_regressions {
    use crate::support::harness::tests;
    use sepkg::setaid::{Edit, Encoding, IniFile, KEEP_PREVIOUS, SMC_SECTION};

    pub fn trials() -> Vec<libtest_mimic::Trial> {
        tests![windows_1252_file_whose_only_high_byte_is_the_edited_value]
    }

    fn windows_1252_file_whose_only_high_byte_is_the_edited_value() {
        // fuzz target `setaid`, after 34 runs: the file is Windows-1252 only
        // because of the value byte 0xB4, which the edit replaces; the result
        // reads back as UTF-8. The bytes are right (ASCII is the same in
        // both): the target's check was too strict, not the editor.
        let input = b"[SETUP]\r\nKeepPreviousSetting=2\r\n[custom_smc_config]\r\nKeepPreviousSetting = \"1\" \r\nkeepprevioussetting=\xb4";
        let mut ini = IniFile::parse(input).unwrap();
        assert_eq!(ini.encoding(), Encoding::Windows1252);
        let changes = ini.apply(&Edit::keep_previous_off()).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[1].old.as_deref(), Some("\u{b4}"));
        let out = ini.to_bytes();
        assert_eq!(
            out,
            b"[SETUP]\r\nKeepPreviousSetting=2\r\n[custom_smc_config]\r\nKeepPreviousSetting = \"0\" \r\nkeepprevioussetting=0"
        );
        let again = IniFile::parse(&out).unwrap();
        assert_eq!(again.encoding(), Encoding::Utf8);
        assert_eq!(again.get(SMC_SECTION, KEEP_PREVIOUS).unwrap().value, "0");
    }
}
