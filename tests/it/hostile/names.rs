//! Entry names and file types in every container: traversal, absolute
//! paths, drive letters, data streams, NUL, symlinks, duplicates and case
//! collisions, FIFOs; in a zip, a folder, a cabinet and an .exe's payload.

use super::{Case, Invocation, cab_files_case, case, file_case, files_case, plus};
use crate::support::r#gen as fx;

pub fn cases() -> Vec<Case> {
    // A cabinet stores names with `\` and they are shown with `/`.
    let ex = || fx::cab_names(fx::example_files());
    vec![
        // --- Entry names (SPEC §3: traversal, absolute, drive letters).
        files_case(
            "dotdot.zip",
            "unsafe-entry",
            &[
                "dotdot.zip, entry \"../x\": refused",
                "climbs out of the package",
            ],
            || plus(fx::example_files(), "../x", b"escape"),
        ),
        files_case(
            "nested-dotdot.zip",
            "unsafe-entry",
            &[
                "nested-dotdot.zip, entry \"Packages/../../x\": refused",
                "climbs out",
            ],
            || plus(fx::example_files(), "Packages/../../x", b"escape"),
        ),
        files_case(
            "backslash-dotdot.zip",
            "unsafe-entry",
            &[
                "backslash-dotdot.zip, entry \"..\\\\x\": refused",
                "climbs out",
            ],
            || plus(fx::example_files(), "..\\x", b"escape"),
        ),
        files_case(
            "absolute.zip",
            "unsafe-entry",
            &["absolute.zip, entry \"/x\": refused", "absolute path"],
            || plus(fx::example_files(), "/x", b"escape"),
        ),
        files_case(
            "drive.zip",
            "unsafe-entry",
            &["drive.zip, entry \"C:\\\\x\": refused", "drive letter"],
            || plus(fx::example_files(), "C:\\x", b"escape"),
        ),
        files_case(
            "stream.zip",
            "unsafe-entry",
            &[
                "stream.zip, entry \"Packages/readme.txt:hidden\": refused",
                "hidden data stream",
            ],
            || plus(fx::example_files(), "Packages/readme.txt:hidden", b"x"),
        ),
        files_case(
            "nul-name.zip",
            "unsafe-entry",
            &["nul-name.zip, entry \"a\\0b\": refused", "NUL"],
            || plus(fx::example_files(), "a\0b", b"x"),
        ),
        // --- Symlinks, duplicates, case collisions.
        file_case(
            "symlink.zip",
            "unsafe-entry",
            &[
                "symlink.zip, entry \"Packages/link\": refused",
                "symbolic link",
            ],
            || fx::zip_with_symlink(&fx::example_files(), "Packages/link", "/etc/passwd"),
        ),
        file_case(
            "duplicate.zip",
            "unsafe-entry",
            &[
                "duplicate.zip, entry \"serdef.dat\": refused",
                "appears twice",
            ],
            || {
                let mut bytes = fx::zip(&plus(fx::example_files(), "serdef.daX", b"other"));
                fx::zip_rename(&mut bytes, "serdef.daX", "serdef.dat");
                bytes
            },
        ),
        file_case(
            "duplicate-setaid.zip",
            "unsafe-entry",
            &[
                "duplicate-setaid.zip, entry \"setAid.ini\": refused",
                "appears twice",
            ],
            || {
                let mut bytes = fx::zip(&plus(
                    fx::example_files(),
                    "setAid.inX",
                    b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\n",
                ));
                fx::zip_rename(&mut bytes, "setAid.inX", "setAid.ini");
                bytes
            },
        ),
        files_case(
            "case-collision.zip",
            "unsafe-entry",
            &[
                "case-collision.zip, entry \"packages/README.TXT\": refused",
                "differs only in letter case from \"Packages/readme.txt\"",
            ],
            || plus(fx::example_files(), "packages/README.TXT", b"x"),
        ),
        files_case(
            "case-collision-setaid.zip",
            "unsafe-entry",
            &[
                "case-collision-setaid.zip, entry \"SETAID.INI\": refused",
                "differs only in letter case",
            ],
            || plus(fx::example_files(), "SETAID.INI", b"[A]\r\n"),
        ),
        files_case(
            "file-and-folder.zip",
            "unsafe-entry",
            &[
                "file-and-folder.zip, entry \"packages/README.txt/x\": refused",
                "its folder \"packages/README.txt\" is also a file",
            ],
            || plus(fx::example_files(), "packages/README.txt/x", b"x"),
        ),
        files_case(
            "sylink-folder.zip",
            "unsafe-entry",
            &[
                "sylink-folder.zip, entry \"sylink.xml/x\": refused",
                "a folder \"sylink.xml\" stands where the managed sylink.xml must be added",
            ],
            || {
                let files = fx::example_files()
                    .into_iter()
                    .filter(|(n, _)| n != "sylink.xml")
                    .collect();
                plus(files, "sylink.xml/x", b"x")
            },
        )
        .not_audited("audit adds no sylink.xml, so a folder in its place is no conflict"),
        // --- Symlinks and special files in a folder input.
        case(
            "folder with a symlink",
            "unsafe-entry",
            &["linkdir, entry \"Packages/link\": refused", "symbolic link"],
            |dir| {
                let input = dir.join("linkdir");
                fx::write_dir(&input, &fx::example_files());
                std::os::unix::fs::symlink("/etc/passwd", input.join("Packages/link")).unwrap();
                Invocation::new(dir, input)
            },
        ),
        case(
            "folder with a symlinked SetAid.ini",
            "unsafe-entry",
            &["linkdir2, entry \"setAid.ini\": refused", "symbolic link"],
            |dir| {
                let input = dir.join("linkdir2");
                let files: Vec<_> = fx::example_files()
                    .into_iter()
                    .filter(|(n, _)| n != "setAid.ini")
                    .collect();
                fx::write_dir(&input, &files);
                std::fs::write(dir.join("real.ini"), fx::setaid(fx::Enc::Ansi, "\r\n")).unwrap();
                std::os::unix::fs::symlink(dir.join("real.ini"), input.join("setAid.ini")).unwrap();
                Invocation::new(dir, input)
            },
        ),
        case(
            "folder with case-colliding names",
            "unsafe-entry",
            &[
                "casedir, entry \"setAid.ini\": refused",
                "differs only in letter case from \"SETAID.INI\"",
            ],
            |dir| {
                let input = dir.join("casedir");
                let files = plus(fx::example_files(), "SETAID.INI", b"[A]\r\n");
                fx::write_dir(&input, &files);
                Invocation::new(dir, input)
            },
        ),
        case(
            "folder with a ':' in a name",
            "unsafe-entry",
            &[
                "colondir, entry \"Packages/a:b\": refused",
                "hidden data stream",
            ],
            |dir| {
                let input = dir.join("colondir");
                fx::write_dir(&input, &plus(fx::example_files(), "Packages/a:b", b"x"));
                Invocation::new(dir, input)
            },
        ),
        case(
            "folder with a fifo",
            "unsafe-entry",
            &[
                "fifodir, entry \"Packages/pipe\": refused",
                "not a regular file",
            ],
            |dir| {
                let input = dir.join("fifodir");
                fx::write_dir(&input, &fx::example_files());
                let ok = std::process::Command::new("mkfifo")
                    .arg(input.join("Packages/pipe"))
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "mkfifo failed");
                Invocation::new(dir, input)
            },
        ),
        // --- Cabinets.
        cab_files_case(
            "cab-backslash-dotdot.cab",
            "unsafe-entry",
            &[
                "cab-backslash-dotdot.cab, entry \"../x\": refused",
                "climbs out",
            ],
            move || plus(ex(), "..\\x", b"escape"),
        ),
        cab_files_case(
            "cab-dotdot.cab",
            "unsafe-entry",
            &["cab-dotdot.cab, entry \"../x\": refused", "climbs out"],
            move || plus(ex(), "../x", b"escape"),
        ),
        cab_files_case(
            "cab-nested-dotdot.cab",
            "unsafe-entry",
            &[
                "cab-nested-dotdot.cab, entry \"Packages/../../Windows/evil.dll\": refused",
                "climbs out",
            ],
            move || plus(ex(), "Packages\\..\\..\\Windows\\evil.dll", b"MZ"),
        ),
        cab_files_case(
            "cab-drive.cab",
            "unsafe-entry",
            &["cab-drive.cab, entry \"C:/x\": refused", "drive letter"],
            move || plus(ex(), "C:\\x", b"escape"),
        ),
        cab_files_case(
            "cab-absolute.cab",
            "unsafe-entry",
            &["cab-absolute.cab, entry \"/x\": refused", "absolute path"],
            move || plus(ex(), "\\x", b"escape"),
        ),
        cab_files_case(
            "cab-absolute-slash.cab",
            "unsafe-entry",
            &[
                "cab-absolute-slash.cab, entry \"/etc/x\": refused",
                "absolute path",
            ],
            move || plus(ex(), "/etc/x", b"escape"),
        ),
        cab_files_case(
            "cab-duplicate.cab",
            "unsafe-entry",
            &[
                "cab-duplicate.cab, entry \"serdef.dat\": refused",
                "appears twice",
            ],
            move || plus(ex(), "serdef.dat", b"other"),
        ),
        cab_files_case(
            "cab-duplicate-setaid.cab",
            "unsafe-entry",
            &[
                "cab-duplicate-setaid.cab, entry \"setAid.ini\": refused",
                "appears twice",
            ],
            move || {
                plus(
                    ex(),
                    "setAid.ini",
                    b"[CUSTOM_SMC_CONFIG]\r\nKeepPreviousSetting=1\r\n",
                )
            },
        ),
        cab_files_case(
            "cab-case-collision.cab",
            "unsafe-entry",
            &[
                "cab-case-collision.cab, entry \"SETAID.INI\": refused",
                "differs only in letter case",
            ],
            move || plus(ex(), "SETAID.INI", b"[A]\r\n"),
        ),
        cab_files_case(
            "cab-case-collision-folder.cab",
            "unsafe-entry",
            &[
                "cab-case-collision-folder.cab, entry \"PACKAGES/readme.txt\": refused",
                "differs only in letter case from \"Packages/readme.txt\"",
            ],
            move || plus(ex(), "PACKAGES\\readme.txt", b"x"),
        ),
        // --- The payload of a single-file .exe.
        file_case(
            "cab-payload-traversal.exe",
            "unsafe-entry",
            &[
                "cab-payload-traversal.exe, entry \"../x\": refused",
                "climbs out",
            ],
            || {
                let files = plus(fx::cab_names(fx::example_files()), "..\\x", b"escape");
                [fx::pe_stub(), fx::cab(&files)].concat()
            },
        ),
        file_case(
            "zip-payload-traversal.exe",
            "unsafe-entry",
            &[
                "zip-payload-traversal.exe, entry \"../x\": refused",
                "climbs out",
            ],
            || {
                let files = plus(fx::example_files(), "../x", b"escape");
                [fx::pe_stub(), fx::zip(&files)].concat()
            },
        ),
    ]
}
