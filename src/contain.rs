//! Containing panics of crates that can panic on crafted input.
//!
//! The `cab` crate, the `msi` crate (and `cfb` under it), and the 7z crate
//! to come index and slice on values read from the file. On a crafted file
//! they can panic; for sepkg that is bad input, not a bug, so it must become
//! an error naming the file, never a crash or a backtrace on stderr.
//!
//! [`contain`] runs a call under `catch_unwind` and turns a panic into an
//! error message that names the reader. While it runs, a thread-local flag
//! tells the panic hook (chained once, in front of whatever hook was set) to
//! stay quiet; every other panic, in this thread outside `contain` or in any
//! other thread, still reaches the previous hook, so real bugs stay loud.
//! Calls may nest. A crate is only ever called through here on values it
//! owns, so no broken invariant of ours survives an unwinding (hence the
//! `AssertUnwindSafe`).
//!
//! To contain a new crate: add its reader's name below and wrap every call
//! that parses or decodes its input (and its `Read` impls, with
//! [`ContainedReader`]).

use std::cell::Cell;
use std::io::{self, Read};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// The cabinet reader (`cab` crate); its messages are part of sepkg's
/// error texts.
pub(crate) const CAB: &str = "the cabinet reader failed";
/// The 7z reader (`sevenz-rust2` and `lzma-rust2`).
pub(crate) const SEVENZ: &str = "the 7z reader failed";
/// The minisign signature reader (`minisign` crate), for signatures a
/// web server sends.
pub(crate) const MINISIGN: &str = "the minisign signature reader failed";
/// The MSI reader (`msi` and `cfb` crates).
pub(crate) const MSI: &str = "the MSI reader gave up";

thread_local! {
    /// True while this thread runs a contained call: its panics are errors,
    /// not bugs, so the panic hook stays quiet.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic inside it into `Err("{what} on malformed data
/// ({panic message})")`, e.g. `the cabinet reader failed on malformed data
/// (index out of bounds: the len is 0 but the index is 0)`. `what` is one
/// of this module's reader names ([`CAB`], [`MSI`]). The caller adds the
/// file and entry.
pub(crate) fn contain<T>(what: &'static str, f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = CONTAINED.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(was));
    result.map_err(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        format!("{what} on malformed data ({detail})")
    })
}

/// A reader from a crate that may panic: each `read` is [`contain`]ed, and
/// a panic becomes an `InvalidData` error with the message of [`contain`].
pub(crate) struct ContainedReader<R> {
    what: &'static str,
    inner: R,
}

impl<R> ContainedReader<R> {
    /// Wraps `inner`, a reader of the crate named by `what`.
    pub(crate) fn new(what: &'static str, inner: R) -> Self {
        ContainedReader { what, inner }
    }
}

impl<R: Read> Read for ContainedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match contain(self.what, || self.inner.read(buf)) {
            Ok(result) => result,
            Err(reason) => Err(io::Error::new(io::ErrorKind::InvalidData, reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_the_reader() {
        assert_eq!(contain(CAB, || 7), Ok(7));
        let v: Vec<u8> = Vec::new();
        let index = v.len();
        let e = contain(CAB, || v[index]).unwrap_err();
        assert!(
            e.starts_with("the cabinet reader failed on malformed data (index out of bounds"),
            "{e}"
        );
        let e = contain(MSI, || panic!("bad sector {}", 9)).unwrap_err();
        assert_eq!(e, "the MSI reader gave up on malformed data (bad sector 9)");
        let e = contain(MSI, || std::panic::panic_any(3u8)).unwrap_err();
        assert_eq!(e, "the MSI reader gave up on malformed data (unknown)");
    }

    #[test]
    fn nested_calls_restore_the_flag() {
        let inner = contain(CAB, || contain(MSI, || panic!("inner")));
        assert_eq!(
            inner,
            Ok(Err(
                "the MSI reader gave up on malformed data (inner)".into()
            ))
        );
        assert!(!CONTAINED.with(Cell::get));
        let e = contain(CAB, || {
            let _ = contain(MSI, || 1);
            panic!("outer")
        })
        .unwrap_err();
        assert!(e.ends_with("(outer)"), "{e}");
    }

    #[test]
    fn a_panicking_reader_gives_invalid_data() {
        struct Bad;
        impl Read for Bad {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                panic!("no data blocks")
            }
        }
        let e = ContainedReader::new(CAB, Bad)
            .read(&mut [0u8; 4])
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            e.to_string(),
            "the cabinet reader failed on malformed data (no data blocks)"
        );
    }
}
