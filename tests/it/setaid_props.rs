//! Property tests for the SetAid.ini editor: for generated INI texts, an edit
//! changes only the target value, and editing twice equals editing once.

use crate::support::harness::tests;
use proptest::prelude::*;
use sepkg::setaid::{Edit, IniFile};

/// One generated line, and whether it is the target key (in the target section).
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "; [a-zA-Z0-9 =;\\[\\]]{0,12}".prop_map(|s| s),
        "[A-Za-z_]{1,10}".prop_map(|s| format!("[{s}]")),
        Just("[CUSTOM_SMC_CONFIG]".to_string()),
        Just("[custom_smc_config]".to_string()),
        (
            "[A-Za-z]{1,8}",
            "[ \t]{0,2}",
            "[ \t]{0,2}",
            "[A-Za-z0-9:\\\\ ;.=]{0,12}"
        )
            .prop_map(|(k, a, b, v)| format!("{k}{a}={b}{v}")),
        ("[ \t]{0,2}", "[01]", "[ \t]{0,2}")
            .prop_map(|(a, v, b)| format!("KeepPreviousSetting{a}={a}{v}{b}")),
        Just("keeppreviousSETTING=1".to_string()),
        "[a-zA-Zäöü ]{1,10}".prop_map(|s| s),
    ]
}

fn file() -> impl Strategy<Value = (Vec<String>, bool, bool)> {
    (
        prop::collection::vec(line(), 0..14),
        any::<bool>(),
        any::<bool>(),
    )
}

fn render(lines: &[String], crlf: bool, final_eol: bool) -> Vec<u8> {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut s = lines.join(eol);
    if final_eol && !lines.is_empty() {
        s.push_str(eol);
    }
    s.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    fn edit_changes_only_target_values((lines, crlf, final_eol) in file()) {
        let input = render(&lines, crlf, final_eol);
        let mut ini = IniFile::parse(&input).unwrap();
        let before = ini.lookup("CUSTOM_SMC_CONFIG", "KeepPreviousSetting");
        let changes = ini.apply(&Edit::keep_previous_off()).unwrap();
        let output = ini.to_bytes();
        let after = IniFile::parse(&output).unwrap();

        // The effective value is now 0, and every occurrence in the section is 0.
        let now = after.lookup("CUSTOM_SMC_CONFIG", "KeepPreviousSetting");
        prop_assert!(!now.is_empty());
        prop_assert!(now.iter().all(|o| o.value == "0"));

        if !before.is_empty() {
            // Existing keys: same length, and only bytes that were a `1`
            // value at a target line changed to `0`.
            prop_assert_eq!(input.len(), output.len());
            for (i, (a, b)) in input.iter().zip(&output).enumerate() {
                if a != b {
                    prop_assert_eq!((*a, *b), (b'1', b'0'), "byte {} changed", i);
                }
            }
            prop_assert_eq!(changes.len(), before.iter().filter(|o| o.value != "0").count());
        } else {
            // A key or section was added: the input survives as a prefix
            // around the insertion (every input line is still there, in order).
            let out_text = String::from_utf8(output.clone()).unwrap();
            let mut rest = out_text.as_str();
            for l in &lines {
                let at = rest.find(l.as_str());
                prop_assert!(at.is_some(), "line {:?} lost", l);
                rest = &rest[at.unwrap_or(0) + l.len()..];
            }
            prop_assert_eq!(changes.len(), 1);
        }

        // Every other key keeps its value.
        for o in IniFile::parse(&input).unwrap().occurrences("Other") {
            prop_assert!(after.occurrences("Other").contains(&o));
        }

        // Editing twice equals editing once.
        let mut again = IniFile::parse(&output).unwrap();
        let second = again.apply(&Edit::keep_previous_off()).unwrap();
        prop_assert!(second.is_empty());
        prop_assert_eq!(again.to_bytes(), output);
    }

    fn parsing_and_writing_back_changes_nothing(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(ini) = IniFile::parse(&bytes) {
            prop_assert_eq!(ini.to_bytes(), bytes);
        }
    }

    fn utf16_edit_changes_one_unit_per_set((lines, crlf, final_eol) in file()) {
        let text = String::from_utf8(render(&lines, crlf, final_eol)).unwrap();
        let mut input = vec![0xFF, 0xFE];
        input.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut ini = IniFile::parse(&input).unwrap();
        let changes = ini.apply(&Edit::keep_previous_off()).unwrap();
        let output = ini.to_bytes();
        if changes.iter().all(|c| c.old.is_some()) {
            let diff = input.iter().zip(&output).filter(|(a, b)| a != b).count();
            prop_assert_eq!(diff, changes.len());
        }
        prop_assert_eq!(IniFile::parse(&output).unwrap().get("CUSTOM_SMC_CONFIG", "KeepPreviousSetting").map(|o| o.value), Some("0".to_string()));
    }
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![
        edit_changes_only_target_values,
        parsing_and_writing_back_changes_nothing,
        utf16_edit_changes_one_unit_per_set,
    ]
}
