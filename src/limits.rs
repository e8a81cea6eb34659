//! Reading the files the user names: every file read whole goes through a
//! size limit, and a package input must be a regular file or a folder.
//!
//! The limit is enforced on the bytes read, never on the size the file
//! system reports: `/dev/zero`, a FIFO (`--sylink <(command)`, `/dev/stdin`,
//! which is how secrets get passed) and a file that grows while it is read
//! all report a size that says nothing. So a whole-file read takes at most
//! `limit + 1` bytes and refuses the file when it got them.
//!
//! A package input is different: it is opened, seeked and read several
//! times, and opening a FIFO waits for a writer that may never come. So a
//! FIFO, socket or device given as a package is refused by name before it
//! is opened.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Location, Result};

/// Reads `path` whole, refusing it (naming it and the limit) once more than
/// `limit` bytes have been read, whatever kind of file it is. A folder is
/// refused too.
pub fn read_whole(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if meta.is_dir() {
        return Err(Error::io(
            path,
            "cannot read",
            std::io::Error::from(std::io::ErrorKind::IsADirectory),
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if bytes.len() as u64 > limit {
        // A regular file's length is its size; anything else has none
        // known beyond what was read.
        let size = if meta.is_file() {
            meta.len().max(bytes.len() as u64)
        } else {
            bytes.len() as u64
        };
        return Err(Error::TooLarge {
            at: Location::file(path),
            size,
            limit,
        });
    }
    Ok(bytes)
}

/// What kind of special file `meta` describes, when it is neither a
/// regular file nor a folder: "a FIFO (named pipe)", "a socket", "a
/// character device", "a block device".
pub fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    if meta.is_file() || meta.is_dir() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
    }
    Some("a special file")
}

/// Refuses a package input (or a `--stub`) that is a FIFO, socket or
/// device, at once and by name: sepkg opens such an input several times
/// and seeks in it, and opening a FIFO blocks until something writes to it.
pub fn check_regular(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    match special_kind(meta) {
        None => Ok(()),
        Some(kind) => Err(Error::NotAPackage {
            path: path.to_path_buf(),
            reason: format!(
                "it is {kind}, not a regular file or folder; sepkg reads a package from a file it can seek in: save the package to a file first"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xml");
        std::fs::write(&path, vec![b'x'; 11]).unwrap();
        let e = read_whole(&path, 10).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("big.xml: 11 bytes is larger than the 10-byte limit for this file"),
            "{e}"
        );
        assert_eq!(read_whole(&path, 11).unwrap().len(), 11);
        assert!(read_whole(dir.path(), 11).is_err());
    }
}
