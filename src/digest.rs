//! SHA-256 of files, byte slices and streams, in lowercase hex.
//!
//! `sha2` uses the CPU's SHA extensions where present. Since `sha2` 0.11 the
//! hasher is no longer an `io::Write`, so streams go through [`HashingReader`].

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A size and a SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    /// Bytes hashed.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// The digest of a byte slice.
pub fn of_bytes(bytes: &[u8]) -> Digest {
    Digest {
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

/// The digest of a file, streamed.
pub fn of_file(path: &Path) -> Result<Digest> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let mut reader = HashingReader::new(file);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, "cannot read", e)),
        }
    }
    Ok(reader.finish())
}

/// A reader that hashes what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The digest of everything read so far.
    pub fn finish(self) -> Digest {
        Digest {
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            of_bytes(b"abc").sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
