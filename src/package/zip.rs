//! Zip packages: listing, reading, and writing with raw copies of untouched
//! entries (their compressed bytes are never inflated and deflated again).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use ::zip::write::SimpleFileOptions;
use ::zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{Content, Entry, Handle, Layout, Package, Source, WrittenEntry};
use crate::digest::HashingReader;
use crate::error::{Error, Location, Result};

/// Turns a zip crate error into one naming the archive (and entry).
pub(crate) fn corrupt(at: Location, e: ::zip::result::ZipError) -> Error {
    match e {
        ::zip::result::ZipError::Io(io)
            if at.entry.is_none() && io.kind() != io::ErrorKind::UnexpectedEof =>
        {
            Error::io(&at.path, "cannot read", io)
        }
        other => Error::Corrupt {
            at,
            format: "zip",
            reason: other.to_string(),
        },
    }
}

/// Lists a zip's entries. Refuses encrypted entries, symlinks and
/// compression methods this build cannot read.
pub(crate) fn open(path: &Path) -> Result<(Vec<Entry>, Source)> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let mut archive = ZipArchive::new(BufReader::with_capacity(1 << 16, file))
        .map_err(|e| corrupt(Location::file(path), e))?;
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        // The central directory names the entry even when its local header
        // is damaged, so the message can say which one.
        let stored = archive
            .name_for_index(i)
            .and_then(|n| n.ok())
            .map_or_else(|| format!("#{i}"), |n| n.into_owned());
        let f = archive
            .by_index_raw(i)
            .map_err(|e| corrupt(Location::entry(path, stored.clone()), e))?;
        let raw = String::from_utf8_lossy(f.name_raw()).into_owned();
        // Checked before `\` becomes `/`, so the message shows the name as
        // stored: `..\x` and `C:\x` are what a user sees listing the archive.
        if let Some(reason) = super::unsafe_name(&raw) {
            return Err(Error::UnsafeEntry {
                at: Location::entry(path, raw),
                reason: reason.to_string(),
            });
        }
        let name = raw.replace('\\', "/");
        let at = || Location::entry(path, name.clone());
        if f.encrypted() {
            return Err(Error::UnsafeEntry {
                at: at(),
                reason:
                    "the entry is encrypted: SEPM exports are not; sepkg cannot check or edit it"
                        .into(),
            });
        }
        if f.is_symlink() {
            return Err(Error::UnsafeEntry {
                at: at(),
                reason: "the entry is a symbolic link".into(),
            });
        }
        if !matches!(
            f.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(Error::Corrupt {
                at: at(),
                format: "zip",
                reason: format!(
                    "compression method {:?} is not supported (only stored and deflate)",
                    f.compression()
                ),
            });
        }
        entries.push(Entry {
            is_dir: f.is_dir(),
            size: f.size(),
            name,
            handle: Handle::ZipIndex(i),
        });
    }
    // The zip crate keys entries by name, so a second entry with the same
    // name silently replaces the first: it would vanish from the output.
    if archive.has_duplicate_names() {
        return Err(Error::UnsafeEntry {
            at: Location::entry(
                path,
                first_duplicate(path, archive.central_directory_start()),
            ),
            reason: "the name appears twice in the archive".into(),
        });
    }
    // Local headers that disagree with the central directory, entries that
    // overlap, or a local header the directory does not list (a damaged
    // entry count) mean the archive is not what it claims: refuse rather
    // than write the central directory's view of it.
    archive
        .validate_header_consistency()
        .map_err(|e| corrupt(Location::file(path), e))?;
    Ok((entries, Source::Zip(Box::new(archive))))
}

/// The first name that appears twice in the central directory starting at
/// `start`, read record by record (the zip crate's index has lost it).
fn first_duplicate(path: &Path, start: u64) -> String {
    let walk = || -> io::Result<Option<String>> {
        let mut r = BufReader::new(File::open(path)?);
        io::Seek::seek(&mut r, io::SeekFrom::Start(start))?;
        let mut seen = std::collections::HashSet::new();
        let mut fixed = [0u8; 46];
        while r.read_exact(&mut fixed).is_ok() && fixed[..4] == *b"PK\x01\x02" {
            let le16 = |at: usize| usize::from(u16::from_le_bytes([fixed[at], fixed[at + 1]]));
            let mut name = vec![0u8; le16(28)];
            r.read_exact(&mut name)?;
            io::Seek::seek_relative(&mut r, (le16(30) + le16(32)) as i64)?;
            let name = String::from_utf8_lossy(&name).into_owned();
            if !seen.insert(name.clone()) {
                return Ok(Some(name));
            }
        }
        Ok(None)
    };
    walk().ok().flatten().unwrap_or_else(|| "(unknown)".into())
}

/// Options for an entry sepkg writes itself (see the module docs on
/// determinism): `DEFAULT`, not `default()`, which would stamp the clock.
pub(crate) fn fresh_options(size: u64) -> SimpleFileOptions {
    SimpleFileOptions::DEFAULT
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .unix_permissions(0o644)
        .large_file(size >= u64::from(u32::MAX))
}

/// Writes `layout` as a zip at `dest`.
pub(crate) fn write(
    pkg: &mut Package,
    layout: &Layout,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<Vec<WrittenEntry>> {
    let file = File::create(dest).map_err(|e| Error::io(dest, "cannot create", e))?;
    let mut out = ZipWriter::new(Sink {
        file: BufWriter::with_capacity(1 << 20, file),
        failed: false,
    });
    let werr = |e: ::zip::result::ZipError| match e {
        ::zip::result::ZipError::Io(io) => Error::io(dest, "cannot write", io),
        other => Error::Corrupt {
            at: Location::file(dest),
            format: "zip",
            reason: other.to_string(),
        },
    };
    let mut written = Vec::with_capacity(layout.items.len());
    for item in &layout.items {
        let digest = match &item.content {
            Content::Copy(index) => {
                let entry = pkg.entries()[*index].clone();
                let at = pkg.location(*index);
                match (&entry.handle, &mut pkg.source) {
                    (Handle::ZipIndex(i), Source::Zip(archive)) => {
                        let raw = archive
                            .by_index_raw(*i)
                            .map_err(|e| corrupt(at.clone(), e))?;
                        out.raw_copy_file(raw).map_err(|e| match e {
                            ::zip::result::ZipError::Io(io)
                                if io.kind() == io::ErrorKind::UnexpectedEof =>
                            {
                                corrupt(at.clone(), ::zip::result::ZipError::Io(io))
                            }
                            other => werr(other),
                        })?;
                        if entry.is_dir {
                            None
                        } else {
                            // Inflating the input entry checks its CRC and gives the
                            // content digest; the output holds the same bytes.
                            let reader =
                                archive.by_index(*i).map_err(|e| corrupt(at.clone(), e))?;
                            let mut hashing = HashingReader::new(reader);
                            io::copy(&mut hashing, &mut io::sink())
                                .map_err(|e| corrupt(at.clone(), ::zip::result::ZipError::Io(e)))?;
                            let digest = hashing.finish();
                            // The raw copy carries the declared size into the
                            // output; the CRC does not cover it, so check it.
                            if digest.size != entry.size {
                                return Err(Error::Corrupt {
                                    at,
                                    format: "zip",
                                    reason: format!(
                                        "the header declares {} bytes but the entry holds {}",
                                        entry.size, digest.size
                                    ),
                                });
                            }
                            Some(digest)
                        }
                    }
                    _ if entry.is_dir => {
                        out.add_directory(&item.name, fresh_options(0).unix_permissions(0o755))
                            .map_err(werr)?;
                        None
                    }
                    _ => {
                        out.start_file(&item.name, fresh_options(entry.size))
                            .map_err(werr)?;
                        let reader = pkg.open_entry(*index)?;
                        let mut hashing = HashingReader::new(reader);
                        copy_into(&mut hashing, &mut out, &at, dest)?;
                        Some(hashing.finish())
                    }
                }
            }
            Content::Replace(index, bytes) => {
                let at = pkg.location(*index);
                let options = match (&pkg.entries[*index].handle, &mut pkg.source) {
                    (Handle::ZipIndex(i), Source::Zip(archive)) => archive
                        .by_index_raw(*i)
                        .map_err(|e| corrupt(at, e))?
                        .options(),
                    _ => fresh_options(bytes.len() as u64),
                };
                out.start_file(&item.name, options).map_err(werr)?;
                out.write_all(bytes)
                    .map_err(|e| Error::io(dest, "cannot write", e))?;
                Some(crate::digest::of_bytes(bytes))
            }
            Content::Add(bytes) => {
                out.start_file(&item.name, fresh_options(bytes.len() as u64))
                    .map_err(werr)?;
                out.write_all(bytes)
                    .map_err(|e| Error::io(dest, "cannot write", e))?;
                Some(crate::digest::of_bytes(bytes))
            }
        };
        if let Some(d) = digest {
            progress.advance(d.size);
            written.push(WrittenEntry {
                name: item.name.clone(),
                size: d.size,
                sha256: d.sha256,
                source: item.content.source(),
            });
        }
    }
    let mut inner = out.finish().map_err(werr)?;
    inner
        .flush()
        .map_err(|e| Error::io(dest, "cannot write", e))?;
    let file = inner
        .file
        .into_inner()
        .map_err(|e| Error::io(dest, "cannot write", e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::io(dest, "cannot write", e))?;
    Ok(written)
}

/// The output file under the zip writer. After its first write error it
/// swallows what follows: on an error the zip crate's `Drop` tries to finish
/// the archive, and on a full disk that fails again and prints its own
/// message to stderr, glued to ours. The temporary file is deleted anyway.
struct Sink {
    file: BufWriter<File>,
    failed: bool,
}

impl Sink {
    fn check<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if r.is_err() {
            self.failed = true;
        }
        r
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(buf.len());
        }
        let r = self.file.write(buf);
        self.check(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        let r = self.file.flush();
        self.check(r)
    }
}

impl io::Seek for Sink {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        if self.failed {
            return Ok(0);
        }
        let r = self.file.seek(pos);
        self.check(r)
    }
}

/// Copies a reader into the zip writer, telling read errors (the input's
/// fault) from write errors (the output's).
fn copy_into<R: Read, W: Write + io::Seek>(
    from: &mut R,
    out: &mut ZipWriter<W>,
    at: &Location,
    dest: &Path,
) -> Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(super::read_error(at, super::Kind::Dir, e)),
        };
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(dest, "cannot write", e))?;
    }
}
