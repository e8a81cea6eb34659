//! Zip packages: listing, reading, and writing with raw copies of untouched
//! entries (their compressed bytes are never inflated and deflated again).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ::zip::write::{PreparedZipFile, SimpleFileOptions};
use ::zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{Content, Entry, Handle, Layout, Package, Source, Written, WrittenEntry};
use crate::digest::{Digest, HashingReader, HashingWriter, SequentialHasher};
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

/// Folder files up to this size are read whole and compressed in memory on
/// every core; larger ones are streamed, so no whole large entry is ever held.
const SMALL: u64 = 4 << 20;
/// How many bytes of small files are compressed together before being
/// written in order: bounds the memory the parallel compression holds.
const BATCH_BYTES: u64 = 16 << 20;
/// How much of a large file is deflated to decide whether to store it.
const SAMPLE: usize = 1 << 20;

/// Writes `layout` as a zip at `dest`.
pub(crate) fn write(
    pkg: &mut Package,
    layout: &Layout,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<Vec<WrittenEntry>> {
    write_hashed(pkg, layout, dest, progress).map(|w| w.entries)
}

/// Writes `layout` as a zip at `dest`. Besides the entries, returns the
/// digest of the file written, hashed as it was written (`None` when the
/// writer had to patch bytes it had already written, after a streamed large
/// folder file: then the caller hashes the file by reading it).
///
/// Raw-copied entries' content digests are computed on another thread that
/// reads (and inflates, checking each CRC) the input a second time while
/// this one copies, so on two cores the hashing runs beside the copy. That
/// thread's reads also give the input file's digest (when it has entries to
/// hash), so the input is not read a third time.
pub(crate) fn write_hashed(
    pkg: &mut Package,
    layout: &Layout,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<Written> {
    let file = File::create(dest).map_err(|e| Error::io(dest, "cannot create", e))?;
    let (written, file) = write_to(pkg, layout, file, dest, progress)?;
    file.sync_all()
        .map_err(|e| Error::io(dest, "cannot write", e))?;
    Ok(written)
}

/// Writes `layout` as a zip into `file` from its current position on. The
/// zip's offsets count from the start of `file`, so a zip written after an
/// .exe stub has the absolute offsets that `unzip -t` expects (what
/// `zip -A` would fix up). The output digest is taken only when the zip
/// starts the file (else the bytes before it were not hashed). Returns the
/// file, flushed.
pub(crate) fn write_to(
    pkg: &mut Package,
    layout: &Layout,
    mut file: File,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<(Written, File)> {
    let start = file
        .stream_position()
        .map_err(|e| Error::io(dest, "cannot write", e))?;
    let mut out = ZipWriter::new(HashingWriter::starting_at(
        Sink {
            file: BufWriter::with_capacity(1 << 20, file),
            failed: false,
        },
        start,
    ));

    // Which manifest rows the other thread fills in: raw copies of files.
    let mut deferred = Vec::new();
    let mut row = 0;
    for item in &layout.items {
        if let Content::Copy(index) = item.content {
            let entry = &pkg.entries()[index];
            if entry.is_dir {
                continue;
            }
            if let Handle::ZipIndex(z) = entry.handle {
                deferred.push((row, z, pkg.location(index)));
            }
        }
        row += 1;
    }

    let input = pkg.path().to_path_buf();
    // In an .exe the zip ends where its payload ends; the zip crate finds
    // the archive's start itself, as when the package was opened.
    let window = pkg
        .container_info()
        .exe
        .map(|e| e.payload_offset + e.payload_size);
    let cancel = AtomicBool::new(false);
    let (written, digests) = std::thread::scope(|scope| {
        let hasher = (!deferred.is_empty())
            .then(|| scope.spawn(|| hash_entries(&input, window, &deferred, &cancel)));
        let written = write_items(pkg, layout, &mut out, dest, progress);
        if written.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        let digests = match hasher {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(Error::Corrupt {
                    at: Location::file(&input),
                    format: "zip",
                    reason: "the thread hashing its entries stopped unexpectedly".into(),
                })
            }),
            None => Ok((Vec::new(), None)),
        };
        (written, digests)
    });
    let mut written = written?;
    let (digests, input_digest) = digests?;
    for (row, digest) in digests {
        if let Some(w) = written.get_mut(row) {
            // The raw copy carried the declared size into the output; the
            // CRC does not cover it, so check it against what was read.
            if w.size != digest.size {
                return Err(Error::Corrupt {
                    at: Location::entry(pkg.path(), &w.name),
                    format: "zip",
                    reason: format!(
                        "the header declares {} bytes but the entry holds {}",
                        w.size, digest.size
                    ),
                });
            }
            w.size = digest.size;
            w.sha256 = digest.sha256;
        }
    }

    let werr = |e| write_error(dest, e);
    let hashing = out.finish().map_err(werr)?;
    let (mut inner, digest) = hashing.finish();
    inner
        .flush()
        .map_err(|e| Error::io(dest, "cannot write", e))?;
    let file = inner
        .file
        .into_inner()
        .map_err(|e| Error::io(dest, "cannot write", e.into_error()))?;
    Ok((
        Written {
            entries: written,
            output: digest,
            input: input_digest,
        },
        file,
    ))
}

fn write_error(dest: &Path, e: ::zip::result::ZipError) -> Error {
    match e {
        ::zip::result::ZipError::Io(io) => Error::io(dest, "cannot write", io),
        other => Error::Corrupt {
            at: Location::file(dest),
            format: "zip",
            reason: other.to_string(),
        },
    }
}

/// `stored` or `deflated`, for the manifest.
fn method_name(method: CompressionMethod) -> &'static str {
    match method {
        CompressionMethod::Stored => "stored",
        _ => "deflated",
    }
}

/// Writes every item, in order. Raw copies get an empty digest, filled in
/// by [`hash_entries`].
fn write_items<W: Write + io::Seek>(
    pkg: &mut Package,
    layout: &Layout,
    out: &mut ZipWriter<W>,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<Vec<WrittenEntry>> {
    let werr = |e| write_error(dest, e);
    let mut written = Vec::with_capacity(layout.items.len());
    let items = &layout.items;
    let mut n = 0;
    while n < items.len() {
        let item = &items[n];
        n += 1;
        let (digest, method) = match &item.content {
            Content::Copy(index) => {
                let entry = pkg.entries()[*index].clone();
                let at = pkg.location(*index);
                match (&entry.handle, &mut pkg.source) {
                    (Handle::ZipIndex(i), Source::Zip(archive)) => {
                        let raw = archive
                            .by_index_raw(*i)
                            .map_err(|e| corrupt(at.clone(), e))?;
                        let method = method_name(raw.compression());
                        out.raw_copy_file(raw).map_err(|e| match e {
                            ::zip::result::ZipError::Io(io)
                                if io.kind() == io::ErrorKind::UnexpectedEof =>
                            {
                                corrupt(at.clone(), ::zip::result::ZipError::Io(io))
                            }
                            other => werr(other),
                        })?;
                        if entry.is_dir {
                            continue;
                        }
                        // The content digest comes from the hashing thread.
                        let pending = Digest {
                            size: entry.size,
                            sha256: String::new(),
                        };
                        (pending, method)
                    }
                    _ if entry.is_dir => {
                        out.add_directory(&item.name, fresh_options(0).unix_permissions(0o755))
                            .map_err(werr)?;
                        continue;
                    }
                    (Handle::Path(_), _) if entry.size <= SMALL => {
                        // This file and the small files after it, compressed
                        // on every core, then written in order.
                        let mut batch = vec![(item, *index)];
                        let mut bytes = entry.size;
                        while let Some(next) = items.get(n) {
                            let Content::Copy(j) = next.content else {
                                break;
                            };
                            let e = &pkg.entries()[j];
                            if e.is_dir
                                || e.size > SMALL
                                || bytes + e.size > BATCH_BYTES
                                || !matches!(e.handle, Handle::Path(_))
                            {
                                break;
                            }
                            bytes += e.size;
                            batch.push((next, j));
                            n += 1;
                        }
                        for (item, prepared) in prepare_files(pkg, &batch)? {
                            let size = prepared.digest.size;
                            out.add_prepared_file(prepared.file).map_err(werr)?;
                            progress.advance(size);
                            written.push(WrittenEntry {
                                name: item.name.clone(),
                                size,
                                sha256: prepared.digest.sha256,
                                source: item.content.source(),
                                method: Some(prepared.method),
                            });
                        }
                        continue;
                    }
                    _ => {
                        // A large file, streamed. The writer patches its
                        // header afterwards, so the output is hashed by
                        // reading it back.
                        let kind = pkg.kind();
                        let mut reader = HashingReader::new(pkg.open_entry(*index)?);
                        let mut sample = vec![0u8; SAMPLE];
                        let got = super::read_up_to(&mut reader, &mut sample)
                            .map_err(|e| super::read_error(&at, kind, e))?;
                        sample.truncate(got);
                        let method = if deflate_saves(&sample) {
                            CompressionMethod::Deflated
                        } else {
                            CompressionMethod::Stored
                        };
                        out.start_file(&item.name, method_options(entry.size, method))
                            .map_err(werr)?;
                        out.write_all(&sample)
                            .map_err(|e| Error::io(dest, "cannot write", e))?;
                        drop(sample);
                        super::copy_entry(&mut reader, out, &at, super::Kind::Dir, dest)?;
                        (reader.finish(), method_name(method))
                    }
                }
            }
            Content::Replace(index, bytes) => {
                let at = pkg.location(*index);
                let (options, method) = match (&pkg.entries[*index].handle, &mut pkg.source) {
                    (Handle::ZipIndex(i), Source::Zip(archive)) => {
                        let raw = archive.by_index_raw(*i).map_err(|e| corrupt(at, e))?;
                        (raw.options(), raw.compression())
                    }
                    _ => (
                        fresh_options(bytes.len() as u64),
                        CompressionMethod::Deflated,
                    ),
                };
                // Compressed in memory first, so the header is written once
                // with its CRC and sizes (no seeking back over hashed bytes).
                let prepared =
                    PreparedZipFile::from_data(&item.name, options, bytes).map_err(werr)?;
                out.add_prepared_file(prepared).map_err(werr)?;
                (crate::digest::of_bytes(bytes), method_name(method))
            }
            Content::Add(bytes) => {
                let (prepared, method) = prepare_fresh(&item.name, bytes).map_err(werr)?;
                out.add_prepared_file(prepared).map_err(werr)?;
                (crate::digest::of_bytes(bytes), method)
            }
        };
        progress.advance(digest.size);
        written.push(WrittenEntry {
            name: item.name.clone(),
            size: digest.size,
            sha256: digest.sha256,
            source: item.content.source(),
            method: Some(method),
        });
    }
    Ok(written)
}

/// Options for a fresh entry with `method`.
fn method_options(size: u64, method: CompressionMethod) -> SimpleFileOptions {
    match method {
        CompressionMethod::Stored => fresh_options(size)
            .compression_method(CompressionMethod::Stored)
            .compression_level(None),
        _ => fresh_options(size),
    }
}

/// True when deflating `sample` makes it smaller.
fn deflate_saves(sample: &[u8]) -> bool {
    match PreparedZipFile::from_data("sample", fresh_options(sample.len() as u64), sample) {
        Ok(p) => p.compressed_size() < sample.len() as u64,
        Err(_) => true,
    }
}

/// A fresh entry compressed in memory: deflated, or stored when deflating
/// does not make it smaller (incompressible data only grows).
fn prepare_fresh(
    name: &str,
    bytes: &[u8],
) -> ::zip::result::ZipResult<(PreparedZipFile, &'static str)> {
    let size = bytes.len() as u64;
    let deflated = PreparedZipFile::from_data(name, fresh_options(size), bytes)?;
    if deflated.compressed_size() < size || size == 0 {
        Ok((deflated, "deflated"))
    } else {
        let stored = PreparedZipFile::from_data(
            name,
            method_options(size, CompressionMethod::Stored),
            bytes,
        )?;
        Ok((stored, "stored"))
    }
}

/// A small folder file read, hashed and compressed.
struct Prepared {
    file: PreparedZipFile,
    digest: Digest,
    method: &'static str,
}

/// Reads and compresses the folder files of `batch` on every core; returns
/// them in order.
fn prepare_files<'a>(
    pkg: &Package,
    batch: &[(&'a super::Item, usize)],
) -> Result<Vec<(&'a super::Item, Prepared)>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(batch.len());
    // The threads get paths and sizes, not the package (whose readers are
    // not shared between threads).
    let jobs = batch
        .iter()
        .map(|(item, index)| {
            let entry = &pkg.entries()[*index];
            match &entry.handle {
                Handle::Path(path) => Ok((*item, path.clone(), entry.size)),
                _ => Err(Error::Corrupt {
                    at: pkg.location(*index),
                    format: "folder",
                    reason: "entry handle does not match its package".into(),
                }),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let prepare_one =
        |(item, path, size): &(&super::Item, std::path::PathBuf, u64)| -> Result<Prepared> {
            let mut bytes = Vec::with_capacity(*size as usize);
            File::open(path)
                .and_then(|f| f.take(SMALL + 1).read_to_end(&mut bytes))
                .map_err(|e| Error::io(path, "cannot read", e))?;
            if bytes.len() as u64 > SMALL {
                return Err(Error::io(
                    path,
                    "cannot read",
                    io::Error::other("the file grew while sepkg read it"),
                ));
            }
            let (file, method) =
                prepare_fresh(&item.name, &bytes).map_err(|e| write_error(path, e))?;
            Ok(Prepared {
                file,
                digest: crate::digest::of_bytes(&bytes),
                method,
            })
        };
    let mut results: Vec<Option<Result<Prepared>>> = (0..batch.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let prepare_one = &prepare_one;
                let jobs = &jobs;
                scope.spawn(move || {
                    (w..batch.len())
                        .step_by(workers)
                        .map(|k| (k, prepare_one(&jobs[k])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (k, r) in done {
                    results[k] = Some(r);
                }
            }
        }
    });
    batch
        .iter()
        .zip(results)
        .map(|((item, index), r)| {
            let prepared = r.unwrap_or_else(|| {
                Err(Error::Corrupt {
                    at: pkg.location(*index),
                    format: "folder",
                    reason: "the thread compressing it stopped unexpectedly".into(),
                })
            })?;
            Ok((*item, prepared))
        })
        .collect()
}

/// Content digests by manifest row, and the digest of the whole input.
type EntryDigests = (Vec<(usize, Digest)>, Option<Digest>);

/// The content digest of each `(row, zip index, location)` entry of the zip
/// at `path`, read through its own handle, and the digest of the whole file.
/// Stops early when `cancel` is set (the writer failed; the result is not
/// used).
fn hash_entries(
    path: &Path,
    window: Option<u64>,
    entries: &[(usize, usize, Location)],
    cancel: &AtomicBool,
) -> Result<EntryDigests> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let file =
        super::Window::new(file, 0, window).map_err(|e| Error::io(path, "cannot read", e))?;
    let reader = BufReader::with_capacity(1 << 20, SequentialHasher::new(file));
    let mut archive = ZipArchive::new(reader).map_err(|e| corrupt(Location::file(path), e))?;
    let mut buf = vec![0u8; 1 << 18];
    let mut digests = Vec::with_capacity(entries.len());
    for (row, index, at) in entries {
        // Inflating the input entry checks its CRC and gives the content
        // digest; the output holds the same bytes.
        let reader = archive
            .by_index(*index)
            .map_err(|e| corrupt(at.clone(), e))?;
        let mut hashing = HashingReader::new(reader);
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok((Vec::new(), None));
            }
            match hashing.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(corrupt(at.clone(), ::zip::result::ZipError::Io(e))),
            }
        }
        digests.push((*row, hashing.finish()));
    }
    let whole = archive
        .into_inner()
        .into_inner()
        .finish()
        .map_err(|e| Error::io(path, "cannot read", e))?;
    // Within an .exe the window is the payload, not the input file.
    Ok((digests, window.is_none().then_some(whole)))
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
