//! SHA-256 of files, byte slices and streams, in lowercase hex.
//!
//! `sha2` uses the CPU's SHA extensions where present. Since `sha2` 0.11 the
//! hasher is no longer an `io::Write`, so streams go through [`HashingReader`]
//! and [`HashingWriter`].

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
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

/// A writer that hashes the file it writes as it goes, for writers (like
/// `ZipWriter`) that may seek back and patch what they wrote.
///
/// Bytes are hashed only when they are appended at the end, so the hash is
/// that of the finished file as long as nothing already written is written
/// again. A write behind the end is noted, and [`HashingWriter::finish`] then
/// returns no digest: the caller must hash the finished file by reading it.
/// Positions are tracked here, so the position queries a zip writer makes
/// before every entry do not reach (and flush) the buffered writer below.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    /// Where the next write lands.
    pos: u64,
    /// The file's length so far; everything before it has been hashed
    /// unless `rewritten`.
    len: u64,
    rewritten: bool,
}

impl<W: Write + Seek> HashingWriter<W> {
    /// Wraps `inner`, which must be empty and at its start.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            pos: 0,
            len: 0,
            rewritten: false,
        }
    }

    /// The writer, and the digest of everything written unless something
    /// was written twice (then the file must be hashed by reading it).
    pub fn finish(self) -> (W, Option<Digest>) {
        let digest = (!self.rewritten).then(|| Digest {
            size: self.len,
            sha256: hex::encode(self.hasher.finalize()),
        });
        (self.inner, digest)
    }
}

impl<W: Write + Seek> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.pos == self.len && !self.rewritten {
            self.hasher.update(&buf[..n]);
        } else {
            self.rewritten = true;
        }
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write + Seek> Seek for HashingWriter<W> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        match target {
            // A query, or a return to where we are: nothing to do below.
            Some(p) if p == self.pos => Ok(p),
            _ => {
                self.pos = self.inner.seek(to)?;
                if self.pos > self.len {
                    // A gap would be zeros we never hashed.
                    self.rewritten = true;
                }
                Ok(self.pos)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_writer_hashes_appends_and_notices_rewrites() {
        let mut w = HashingWriter::new(io::Cursor::new(Vec::new()));
        w.write_all(b"ab").unwrap();
        assert_eq!(w.stream_position().unwrap(), 2);
        w.seek(SeekFrom::End(0)).unwrap();
        w.write_all(b"c").unwrap();
        let (cursor, digest) = w.finish();
        assert_eq!(digest, Some(of_bytes(b"abc")));
        assert_eq!(cursor.into_inner(), b"abc");

        let mut w = HashingWriter::new(io::Cursor::new(Vec::new()));
        w.write_all(b"abc").unwrap();
        w.seek(SeekFrom::Start(1)).unwrap();
        w.write_all(b"X").unwrap();
        w.seek(SeekFrom::Start(3)).unwrap();
        w.write_all(b"d").unwrap();
        let (cursor, digest) = w.finish();
        assert_eq!(digest, None, "a patched file must be hashed by reading it");
        assert_eq!(cursor.into_inner(), b"aXcd");
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            of_bytes(b"abc").sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
