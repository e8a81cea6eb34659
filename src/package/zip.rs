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
    let window =
        super::Window::new(file, 0, None).map_err(|e| Error::io(path, "cannot read", e))?;
    open_reader(path, BufReader::with_capacity(1 << 16, window))
}

/// Lists the zip that `reader` holds (a whole file, or the part of an .exe
/// up to its payload's end: the zip crate finds the archive's start itself).
pub(crate) fn open_reader(
    path: &Path,
    reader: super::ArchiveReader,
) -> Result<(Vec<Entry>, Source)> {
    let mut archive = ZipArchive::new(reader).map_err(|e| corrupt(Location::file(path), e))?;
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .map_err(|e| corrupt(Location::entry(path, format!("#{i}")), e))?;
        let name = String::from_utf8_lossy(f.name_raw()).replace('\\', "/");
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
    Ok((entries, Source::Zip(Box::new(archive))))
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
    let (written, file) = write_to(pkg, layout, file, dest, progress)?;
    file.sync_all()
        .map_err(|e| Error::io(dest, "cannot write", e))?;
    Ok(written)
}

/// Writes `layout` as a zip into `file` from its current position on. The
/// zip's offsets count from the start of `file`, so a zip written after an
/// .exe stub has the absolute offsets that `unzip -t` expects (what
/// `zip -A` would fix up). Returns the file, flushed.
pub(crate) fn write_to(
    pkg: &mut Package,
    layout: &Layout,
    file: File,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<(Vec<WrittenEntry>, File)> {
    let mut out = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
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
                                .map_err(|e| corrupt(at, ::zip::result::ZipError::Io(e)))?;
                            Some(hashing.finish())
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
        .into_inner()
        .map_err(|e| Error::io(dest, "cannot write", e.into_error()))?;
    Ok((written, file))
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
