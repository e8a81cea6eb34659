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
    of_file_with(path, &crate::NoProgress)
}

/// The digest of a file, streamed, advancing `progress` by each chunk read.
/// The caller starts and finishes `progress`, so one bar can cover several
/// files (a web root) or one file with the caller's own label.
pub fn of_file_with(path: &Path, progress: &dyn crate::Progress) -> Result<Digest> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let mut reader = HashingReader::new(file);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => progress.advance(n as u64),
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

    /// How many bytes have been read.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The reader underneath.
    pub fn get_ref(&self) -> &R {
        &self.inner
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

    /// Wraps `inner`, which is at `start` with nothing after it (a payload
    /// written after an .exe stub). Positions stay the file's, so offsets
    /// written through it are absolute; the digest would miss the bytes
    /// before `start`, so [`HashingWriter::finish`] gives none unless
    /// `start` is 0.
    pub fn starting_at(inner: W, start: u64) -> Self {
        HashingWriter {
            pos: start,
            len: start,
            rewritten: start > 0,
            ..HashingWriter::new(inner)
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

/// A reader that hashes the whole file under it while something else reads
/// it in (mostly) ascending order, such as a zip reader going through the
/// entries: the file is read once for both.
///
/// Bytes are hashed in file order, each once: a read at the hashed end is
/// hashed; a read a little past it (at most `CATCH_UP`, e.g. skipping a small
/// entry) first hashes the gap; a read far ahead (the central directory at
/// open) or behind is passed through. [`SequentialHasher::finish`] hashes
/// whatever is left, so the digest is the file's whatever the order of reads.
pub struct SequentialHasher<R> {
    inner: R,
    hasher: Sha256,
    /// Where the next read lands.
    pos: u64,
    /// Everything before this has been hashed.
    hashed: u64,
}

/// The longest gap a read may skip that is hashed on the spot.
const CATCH_UP: u64 = 1 << 20;

impl<R: Read + Seek> SequentialHasher<R> {
    /// Wraps `inner`, which must be at its start.
    pub fn new(inner: R) -> Self {
        SequentialHasher {
            inner,
            hasher: Sha256::new(),
            pos: 0,
            hashed: 0,
        }
    }

    /// Hashes `[hashed, to)` by reading it; leaves the reader at `to`.
    fn catch_up(&mut self, to: u64) -> io::Result<()> {
        if self.pos != self.hashed {
            self.inner.seek(SeekFrom::Start(self.hashed))?;
            self.pos = self.hashed;
        }
        let mut buf = vec![0u8; 1 << 16];
        while self.hashed < to {
            let want = usize::try_from(to - self.hashed).map_or(buf.len(), |n| n.min(buf.len()));
            let n = match self.inner.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.hasher.update(&buf[..n]);
            self.hashed += n as u64;
            self.pos = self.hashed;
        }
        Ok(())
    }

    /// The digest of the whole file (reading what was not read yet).
    pub fn finish(mut self) -> io::Result<Digest> {
        self.catch_up(u64::MAX)?;
        Ok(Digest {
            size: self.hashed,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

impl<R: Read + Seek> Read for SequentialHasher<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos > self.hashed && self.pos - self.hashed <= CATCH_UP {
            let resume = self.pos;
            self.catch_up(resume)?;
        }
        let n = self.inner.read(buf)?;
        let end = self.pos + n as u64;
        if self.pos <= self.hashed && end > self.hashed {
            // usize: the part of `buf` past the hashed end, within `n`.
            let from = (self.hashed - self.pos) as usize;
            self.hasher.update(&buf[from..n]);
            self.hashed = end;
        }
        self.pos = end;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for SequentialHasher<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
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
    fn sequential_hasher_gives_the_file_digest_whatever_the_reads() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let want = of_bytes(&data);
        // (position, length) reads: the end first, then ascending with a
        // small gap, a large jump, a read behind, and an overlapping one.
        let plans: [&[(u64, usize)]; 4] = [
            &[],
            &[
                (2_999_000, 1000),
                (0, 10),
                (10, 5000),
                (6000, 100),
                (2_000_000, 10),
                (50, 20),
                (5000, 3000),
            ],
            &[(0, 3_000_000)],
            &[(100, 10), (1_500_000, 10)],
        ];
        for plan in plans {
            let mut r = SequentialHasher::new(io::Cursor::new(data.clone()));
            for &(pos, len) in plan {
                r.seek(SeekFrom::Start(pos)).unwrap();
                let mut buf = vec![0u8; len];
                r.read_exact(&mut buf).unwrap();
                assert_eq!(buf, data[pos as usize..pos as usize + len]);
            }
            assert_eq!(r.finish().unwrap(), want, "{plan:?}");
        }
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            of_bytes(b"abc").sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
