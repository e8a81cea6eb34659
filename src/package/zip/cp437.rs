//! Code page 437, for zip entry names stored without the UTF-8 flag.
//!
//! APPNOTE (appendix D) says a name whose general purpose bit 11 is clear
//! is in IBM code page 437, and that is how Windows' own zip folders,
//! 7-Zip on Windows and Info-ZIP's unzip read it: `L\x84smig.txt` is
//! `Läsmig.txt` on the client that unpacks the package. `encoding_rs`
//! implements the WHATWG encodings only, which leave out DOS code pages,
//! and the zip crate's own table is private, so the 128 characters above
//! ASCII are listed here. (The lower half is ASCII, as every zip tool
//! reads it: the CP437 glyphs for control bytes are never used in names.)

/// Bytes 0x80 to 0xFF.
const HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', //
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

/// `bytes` read as code page 437. Every byte sequence decodes, one
/// character per byte.
pub(crate) fn decode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0..=0x7F => char::from(b),
            _ => HIGH[usize::from(b - 0x80)],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umlauts_are_the_dos_ones() {
        assert_eq!(decode(b"L\x84smig.txt"), "Läsmig.txt");
        assert_eq!(decode(b"L\x94smig.txt"), "Lösmig.txt");
        assert_eq!(decode(b"plain/name.ini"), "plain/name.ini");
    }

    #[test]
    fn the_table_is_one_to_one() {
        let mut seen = std::collections::HashSet::new();
        for c in HIGH {
            assert!(!c.is_ascii(), "{c:?}");
            assert!(seen.insert(c), "{c:?} appears twice");
        }
    }
}
