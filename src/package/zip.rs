//! Zip packages: `ZipReader` lists and streams a zip (a whole file, or an
//! .exe's payload read in place); `ZipWriter` writes one, copying the
//! untouched entries of a zip input raw (their compressed bytes and header
//! fields are never inflated and deflated again).

use std::any::Any;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use ::zip::write::{PreparedZipFile, SimpleFileOptions};
use ::zip::{CompressionMethod, ZipArchive};

use super::format::{
    EntryStream, Fault, Finished, Format, Out, Planned, Reader, Source, Span, Taken, Unit, Writer,
};
use super::window::Window;
use super::{Entry, Origin};
use crate::error::{Error, Location, Result};

/// Turns a zip crate error into one naming the archive (and entry).
pub(crate) fn corrupt(at: Location, e: ::zip::result::ZipError) -> Error {
    match e {
        ::zip::result::ZipError::Io(io)
            if at.entry.is_none() && io.kind() != io::ErrorKind::UnexpectedEof =>
        {
            Error::io(&at.path, "cannot read", io)
        }
        other => Error::corrupt_from(at, "zip", other),
    }
}

type Archive = ZipArchive<BufReader<Window<Box<dyn Source>>>>;

/// A zip, read in place. Units are entries: each is compressed on its own.
pub(crate) struct ZipReader {
    span: Span,
    archive: Archive,
    entries: Vec<Entry>,
    units: Vec<Unit>,
}

/// The zip in `source`: the zip crate finds the archive's start itself
/// (whether its offsets count from the file's start, as after `zip -A`, or
/// from the payload's), so the window starts at 0 and stops at the span's end.
fn archive(span: &Span, source: Box<dyn Source>) -> Result<Archive> {
    let window = Window::new(source, 0, Some(span.base + span.len))
        .map_err(|e| Error::io(&span.path, "cannot read", e))?;
    ZipArchive::new(BufReader::with_capacity(1 << 16, window))
        .map_err(|e| corrupt(Location::file(&span.path), e))
}

impl ZipReader {
    /// Lists the zip at `span`. Refuses encrypted entries, symlinks,
    /// compression methods this build cannot read, duplicate names and
    /// headers that disagree with the central directory.
    pub(crate) fn open(span: Span) -> Result<ZipReader> {
        let path = span.path.clone();
        let file = File::open(&path).map_err(|e| Error::io(&path, "cannot open", e))?;
        let mut archive = archive(&span, Box::new(file))?;
        let mut entries = Vec::with_capacity(archive.len());
        let mut units = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let (entry, packed) = list_entry(&mut archive, &path, i)?;
            entries.push(entry);
            units.push(Unit {
                entries: i..i + 1,
                packed,
            });
        }
        // The zip crate keys entries by name, so a second entry with the same
        // name silently replaces the first: it would vanish from the output.
        if archive.has_duplicate_names() {
            return Err(Error::UnsafeEntry {
                at: Location::entry(
                    &path,
                    first_duplicate(&path, archive.central_directory_start()),
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
            .map_err(|e| corrupt(Location::file(&path), e))?;
        Ok(ZipReader {
            span,
            archive,
            entries,
            units,
        })
    }
}

/// Entry `i` of `archive` as an [`Entry`], and its compressed size.
fn list_entry(archive: &mut Archive, path: &Path, i: usize) -> Result<(Entry, u64)> {
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
            reason: "the entry is encrypted: SEPM exports are not; sepkg cannot check or edit it"
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
        return Err(Error::corrupt(
            at(),
            "zip",
            format!(
                "compression method {:?} is not supported (only stored and deflate)",
                f.compression()
            ),
        ));
    }
    let packed = f.compressed_size();
    Ok((
        Entry {
            is_dir: f.is_dir(),
            size: f.size(),
            name,
        },
        packed,
    ))
}

impl Reader for ZipReader {
    fn format(&self) -> Format {
        Format::Zip
    }

    fn span(&self) -> &Span {
        &self.span
    }

    fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn units(&self) -> &[Unit] {
        &self.units
    }

    fn open(&mut self, index: usize) -> Result<EntryStream<'_>> {
        let at = Location::entry(&self.span.path, &self.entries[index].name);
        let file = self
            .archive
            .by_index(index)
            .map_err(|e| corrupt(at.clone(), e))?;
        Ok(EntryStream::new(Box::new(file), at, Fault::Archive("zip")))
    }

    fn reopen(&self, source: Box<dyn Source>) -> Result<Box<dyn Reader>> {
        // Listed and checked once already: the second reader only reads.
        Ok(Box::new(ZipReader {
            span: self.span.clone(),
            archive: archive(&self.span, source)?,
            entries: self.entries.clone(),
            units: self.units.clone(),
        }))
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
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
/// The "made by" system is Unix on every host: left unset, the zip crate
/// takes the host's (MS-DOS on Windows), so sepkg.exe's zips would differ
/// from the Linux build's in every central directory record.
pub(crate) fn fresh_options(size: u64) -> SimpleFileOptions {
    SimpleFileOptions::DEFAULT
        .system(::zip::System::Unix)
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .unix_permissions(0o644)
        .large_file(size >= u64::from(u32::MAX))
}

/// How much of a large file is deflated to decide whether to store it.
const SAMPLE: usize = 1 << 20;

/// Writes a zip into the output from its current position on. The zip's
/// offsets count from the start of the file, so a zip written after an
/// .exe stub has the absolute offsets that `unzip -t` expects (what
/// `zip -A` would fix up).
pub(crate) struct ZipWriter {
    zip: ::zip::ZipWriter<Out>,
    plan: Vec<Planned>,
    /// For rows replacing an entry of a zip input: that entry's options and
    /// method (time, permissions, compression), which the new bytes keep.
    kept: std::collections::HashMap<usize, (SimpleFileOptions, CompressionMethod)>,
    dest: PathBuf,
}

impl ZipWriter {
    pub(crate) fn new(
        out: Out,
        from: &mut dyn Reader,
        plan: &[Planned],
        dest: &Path,
    ) -> Result<ZipWriter> {
        let mut kept = std::collections::HashMap::new();
        if let Some(zip) = from.as_any_mut().downcast_mut::<ZipReader>() {
            for (row, p) in plan.iter().enumerate() {
                if let (Origin::Replaced, Some(i)) = (p.origin, p.source) {
                    let at = Location::entry(&zip.span.path, &zip.entries[i].name);
                    let raw = zip.archive.by_index_raw(i).map_err(|e| corrupt(at, e))?;
                    kept.insert(row, (raw.options(), raw.compression()));
                }
            }
        }
        Ok(ZipWriter {
            zip: ::zip::ZipWriter::new(out),
            plan: plan.to_vec(),
            kept,
            dest: dest.to_path_buf(),
        })
    }

    fn werr(&self, e: ::zip::result::ZipError) -> Error {
        write_error(&self.dest, e)
    }

    /// Row `row` with `bytes`, compressed in memory, so that its header is
    /// written once with its CRC and sizes (no seeking back over hashed
    /// bytes). Runs on any thread.
    fn prepare(&self, row: usize, bytes: &[u8]) -> Result<(PreparedZipFile, &'static str)> {
        let name = &self.plan[row].name;
        let prepared = match (self.kept.get(&row), self.plan[row].origin) {
            (Some((options, method)), _) => {
                PreparedZipFile::from_data(name, *options, bytes).map(|p| (p, method_name(*method)))
            }
            // An edit of a folder's file is deflated like the file would
            // have been, without the stored fallback (kept so that outputs
            // stay byte-identical to earlier versions').
            (None, Origin::Replaced) => {
                PreparedZipFile::from_data(name, fresh_options(bytes.len() as u64), bytes)
                    .map(|p| (p, "deflated"))
            }
            (None, _) => prepare_fresh(name, bytes),
        };
        prepared.map_err(|e| self.werr(e))
    }
}

impl Writer for ZipWriter {
    fn raw_units(
        &self,
        from: &mut dyn Reader,
        plan: &[Planned],
    ) -> Vec<(usize, std::ops::Range<usize>)> {
        if from.as_any_mut().downcast_mut::<ZipReader>().is_none() {
            return Vec::new();
        }
        plan.iter()
            .enumerate()
            .filter_map(|(row, p)| match (p.origin, p.source) {
                (Origin::Copied, Some(i)) => Some((i, row..row + 1)),
                _ => None,
            })
            .collect()
    }

    fn copy_raw(&mut self, from: &mut dyn Reader, unit: usize) -> Result<Vec<Taken>> {
        let Some(zip) = from.as_any_mut().downcast_mut::<ZipReader>() else {
            return Err(Error::Internal(
                "a zip raw copy was asked of a reader that is not a zip".into(),
            ));
        };
        let at = Location::entry(&zip.span.path, &zip.entries[unit].name);
        let raw = zip
            .archive
            .by_index_raw(unit)
            .map_err(|e| corrupt(at.clone(), e))?;
        let method = method_name(raw.compression());
        let dest = &self.dest;
        self.zip.raw_copy_file(raw).map_err(|e| match e {
            ::zip::result::ZipError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
                corrupt(at.clone(), ::zip::result::ZipError::Io(io))
            }
            other => write_error(dest, other),
        })?;
        Ok(vec![Taken {
            method: Some(method),
            digest: None,
        }])
    }

    fn add_file(&mut self, row: usize, content: &mut dyn Read) -> Result<Option<&'static str>> {
        let p = &self.plan[row];
        if p.origin != Origin::Copied {
            // New bytes (an edit, an injected file): small, compressed in memory.
            let mut bytes = Vec::with_capacity(p.size as usize);
            content
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
            let (prepared, method) = self.prepare(row, &bytes)?;
            self.zip
                .add_prepared_file(prepared)
                .map_err(|e| self.werr(e))?;
            return Ok(Some(method));
        }
        // A large file, streamed. The writer patches its header afterwards,
        // so the output is hashed by reading it back.
        let mut sample = vec![0u8; SAMPLE];
        let got = super::read_up_to(content, &mut sample)
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        sample.truncate(got);
        let method = if deflate_saves(&sample) {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let (name, size) = (p.name.clone(), p.size);
        self.zip
            .start_file(name, method_options(size, method))
            .map_err(|e| self.werr(e))?;
        self.zip
            .write_all(&sample)
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        drop(sample);
        io::copy(content, &mut self.zip).map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        Ok(Some(method_name(method)))
    }

    fn add_files(&mut self, files: &[(usize, Vec<u8>)]) -> Result<Vec<Option<&'static str>>> {
        let prepared = prepare_all(self, files)?;
        let mut methods = Vec::with_capacity(prepared.len());
        for (file, method) in prepared {
            self.zip.add_prepared_file(file).map_err(|e| self.werr(e))?;
            methods.push(Some(method));
        }
        Ok(methods)
    }

    fn add_dir(&mut self, row: usize) -> Result<()> {
        let name = self.plan[row].name.clone();
        self.zip
            .add_directory(name, fresh_options(0).unix_permissions(0o755))
            .map_err(|e| self.werr(e))
    }

    fn finish(self: Box<Self>) -> Result<Finished> {
        let dest = self.dest.clone();
        let out = self.zip.finish().map_err(|e| write_error(&dest, e))?;
        Ok(Finished::File(out))
    }
}

/// Compresses `files` on every core; returns them in order.
fn prepare_all(
    writer: &ZipWriter,
    files: &[(usize, Vec<u8>)],
) -> Result<Vec<(PreparedZipFile, &'static str)>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len())
        .max(1);
    let mut results: Vec<Option<Result<(PreparedZipFile, &'static str)>>> =
        (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..files.len())
                        .step_by(workers)
                        .map(|k| (k, writer.prepare(files[k].0, &files[k].1)))
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
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Error::Internal(
                    "a thread compressing zip entries stopped unexpectedly".into(),
                ))
            })
        })
        .collect()
}

fn write_error(dest: &Path, e: ::zip::result::ZipError) -> Error {
    match e {
        ::zip::result::ZipError::Io(io) => Error::io(dest, "cannot write", io),
        other => Error::corrupt_from(Location::file(dest), "zip", other),
    }
}

/// `stored` or `deflated`, for the manifest.
fn method_name(method: CompressionMethod) -> &'static str {
    match method {
        CompressionMethod::Stored => "stored",
        _ => "deflated",
    }
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
