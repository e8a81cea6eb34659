//! Package opening on arbitrary bytes, written to a file as a user's input
//! would be: detect, open, find roots, read every small file of each root
//! under its limit. Nothing may panic, and every error must format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sepkg::Package;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("input");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let mut pkg = match Package::open(&path) {
        Ok(pkg) => pkg,
        Err(e) => {
            let _ = (e.to_string(), e.code(), e.hint());
            return;
        }
    };
    for root in pkg.roots() {
        let small = [Some(root.setaid), root.sylink, root.setup_ini];
        for index in small.into_iter().flatten() {
            match pkg.read_small(index, 1 << 20) {
                Ok(bytes) => {
                    let _ = sepkg::setaid::IniFile::parse(&bytes);
                    let _ = sepkg::sylink::inspect(&bytes);
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
});
