//! The SetAid.ini editor on arbitrary bytes: parsing never panics; an
//! unedited file writes back byte for byte; the edit re-parses, takes
//! effect, and applying it again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sepkg::setaid::{Edit, Encoding, IniFile, KEEP_PREVIOUS, SMC_SECTION};

fuzz_target!(|data: &[u8]| {
    let Ok(mut ini) = IniFile::parse(data) else {
        return;
    };
    assert_eq!(
        ini.to_bytes(),
        data,
        "an unedited file must write back as it was"
    );
    let _ = (
        ini.encoding(),
        ini.line_ending(),
        ini.occurrences(KEEP_PREVIOUS),
    );
    let edit = Edit::keep_previous_off();
    if ini.apply(&edit).is_err() {
        return;
    }
    let once = ini.to_bytes();
    let mut again = IniFile::parse(&once).expect("the edited file must parse again");
    // An 8-bit file stays 8-bit: Windows-1252 may read back as UTF-8 when
    // the edit replaced its only non-ASCII bytes, and that is the same bytes.
    let eight_bit = |e| matches!(e, Encoding::Utf8 | Encoding::Windows1252);
    assert!(
        again.encoding() == ini.encoding()
            || (eight_bit(again.encoding()) && eight_bit(ini.encoding())),
        "the encoding must be kept: {:?} became {:?}",
        ini.encoding(),
        again.encoding()
    );
    let effective = again
        .get(SMC_SECTION, KEEP_PREVIOUS)
        .expect("the edited key must be there");
    assert_eq!(effective.value, "0", "the edit must take effect");
    let changes = again.apply(&edit).expect("a second apply must succeed");
    assert!(
        changes.is_empty(),
        "a second apply must change nothing: {changes:?}"
    );
    assert_eq!(
        again.to_bytes(),
        once,
        "a second apply must not change the bytes"
    );
});
