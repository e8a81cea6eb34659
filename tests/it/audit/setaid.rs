//! SetAid.ini (missing, unreadable, duplicate keys; KeepPreviousSetting
//! missing, invalid or in another section) and setup.ini, and
//! `--fail-on warning`.

use super::*;
use crate::support::harness::tests;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    tests![fail_on_warning_fails_on_a_warning]
}

pub(super) fn scenarios() -> Vec<Scenario> {
    let managed_kps0 = r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1", "KeepPreviousSetting=0");
    vec![
        scenario(
            "setaid-missing",
            "error",
            "but no SetAid.ini",
            {
                let mut f = managed();
                remove(&mut f, "setAid.ini");
                f
            },
            &[],
        ),
        scenario(
            "setaid-unreadable",
            "error",
            "setAid.ini: binary data",
            {
                let mut f = managed();
                set(
                    &mut f,
                    "setAid.ini",
                    b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=0\x01\r\n".to_vec(),
                );
                f
            },
            &[],
        ),
        scenario(
            "setaid-duplicate-key",
            "warning",
            "[FEATURE_SELECTION] Core appears 2 times (lines 9, 18)",
            with_setaid(&format!("{managed_kps0}Core=0\n")),
            &[],
        ),
        scenario(
            "keep-previous-missing",
            "warning",
            "[CUSTOM_SMC_CONFIG] has no KeepPreviousSetting",
            with_setaid(&r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1\n", "")),
            &[],
        ),
        scenario(
            "keep-previous-other-section",
            "warning",
            "KeepPreviousSetting=1 stands in [Startup] at line 20",
            with_setaid(&format!(
                "{managed_kps0}\n[Startup]\nKeepPreviousSetting=1\n"
            )),
            &[],
        ),
        scenario(
            "keep-previous-invalid",
            "warning",
            "KeepPreviousSetting is \"yes\" at line 4",
            with_setaid(
                &r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1", "KeepPreviousSetting=yes"),
            ),
            &[],
        ),
        scenario(
            "keep-previous-unclean",
            "warning",
            "KeepPreviousSetting is \"1 ;keep the old settings\" at line 4, not a clean 0 or 1: the installer's integer read takes the leading 1",
            with_setaid(&r#gen::SETAID_TEXT.replace(
                "KeepPreviousSetting=1",
                "KeepPreviousSetting=1 ;keep the old settings",
            )),
            &[],
        ),
        scenario(
            "setup-ini-missing",
            "warning",
            "has no setup.ini",
            {
                let mut f = managed();
                remove(&mut f, "setup.ini");
                f
            },
            &[],
        ),
        scenario(
            "setup-ini-unreadable",
            "warning",
            "setup.ini: it has no ProductVersion",
            {
                let mut f = managed();
                set(
                    &mut f,
                    "setup.ini",
                    b"[Startup]\r\nCmdLine=/qn\r\n".to_vec(),
                );
                f
            },
            &[],
        ),
    ]
}

fn fail_on_warning_fails_on_a_warning() {
    let files = with_setaid(&r#gen::SETAID_TEXT.replace("KeepPreviousSetting=1\n", ""));
    let (_tmp, dir) = folder(&files);
    let (code, _) = audit_json(&[path_arg(&dir)]);
    assert_eq!(code, 0);
    let (code, doc) = audit_json(&[path_arg(&dir), "--fail-on", "warning"]);
    assert_eq!(code, 1);
    assert_eq!(doc["fail_on"], "warning");
}
