//! Size limits: the small files that are parsed (SetAid.ini, sylink.xml,
//! setup.ini) are read whole only up to 1 MiB, whatever a header declares;
//! large entries are streamed, and a declared size that lies is caught.

use super::{Case, Invocation, cab_files_case, case, file_case, files_case, zip_case};
use crate::support::r#gen as fx;

pub fn cases() -> Vec<Case> {
    vec![
        // --- Bombs: a small entry that inflates past the 1 MiB limit.
        files_case(
            "bomb.zip",
            "too-large",
            &[
                "bomb.zip, entry \"setAid.ini\": 2097152 bytes",
                "larger than the 1048576-byte limit",
            ],
            || fx::example_with("setAid.ini", fx::huge_setaid(2 << 20)),
        ),
        file_case(
            "bomb-lying-size.zip",
            "corrupt",
            &["bomb-lying-size.zip, entry \"setAid.ini\""],
            || {
                // The header says 700 bytes; the data inflates to 2 MiB.
                let mut b = fx::zip(&fx::example_with("setAid.ini", fx::huge_setaid(2 << 20)));
                fx::zip_set_size(&mut b, "setAid.ini", 700);
                b
            },
        ),
        zip_case(
            "huge-declared-setaid.zip",
            "too-large",
            &[
                "huge-declared-setaid.zip, entry \"setAid.ini\": 4294901760 bytes",
                "1048576-byte limit",
            ],
            |b| fx::zip_set_size(b, "setAid.ini", 0xFFFF_0000),
        ),
        zip_case(
            "huge-declared-sylink.zip",
            "too-large",
            &["huge-declared-sylink.zip, entry \"sylink.xml\": 4294901760 bytes"],
            |b| fx::zip_set_size(b, "sylink.xml", 0xFFFF_0000),
        ),
        zip_case(
            "huge-declared-msi.zip",
            "corrupt",
            &["huge-declared-msi.zip, entry \"Sep64.msi\""],
            |b| fx::zip_set_size(b, "Sep64.msi", 0xFFFF_0000),
        ),
        case(
            "folder with a SetAid.ini over the limit",
            "too-large",
            &["bigdir, entry \"setAid.ini\": 2097152 bytes", "limit"],
            |dir| {
                let input = dir.join("bigdir");
                fx::write_dir(
                    &input,
                    &fx::example_with("setAid.ini", fx::huge_setaid(2 << 20)),
                );
                Invocation::new(dir, input)
            },
        ),
        // --- The cabinet bomb: a SetAid.ini that really is 2 MiB (a few KB
        // compressed).
        cab_files_case(
            "cab-huge-setaid.cab",
            "too-large",
            &[
                "cab-huge-setaid.cab, entry \"setAid.ini\": 2097152 bytes",
                "1048576-byte limit",
            ],
            || fx::cab_names(fx::example_with("setAid.ini", fx::huge_setaid(2 << 20))),
        ),
    ]
}
