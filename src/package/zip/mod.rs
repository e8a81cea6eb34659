//! Zip packages: `ZipReader` lists and streams a zip (a whole file, or an
//! .exe's payload read in place); `ZipWriter` writes one, copying the
//! untouched entries of a zip input raw: their local header, data and data
//! descriptor byte for byte, and their central record with only the local
//! header offset changed (see the `record` module for why this is done by hand).
//!
//! Names: a name whose general purpose bit 11 is set is UTF-8; any other is
//! code page 437 (the `cp437` module), as Windows reads it. Names are checked and
//! reported in that decoded form, and written back with their stored bytes.

mod cp437;
mod record;
mod writer;

use std::any::Any;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use ::zip::{CompressionMethod, ZipArchive};

use super::Entry;
use super::format::{EntryStream, Facts, Fault, Format, Reader, Source, Span, Unit};
use super::window::Window;
use crate::error::{Error, Location, Result};
use record::{End, FLAG_UTF8, Header, Kind};

pub(crate) use writer::ZipWriter;

/// Turns a zip crate error into one naming the archive (and entry).
pub(crate) fn corrupt(at: Location, e: ::zip::result::ZipError) -> Error {
    match e {
        ::zip::result::ZipError::Io(io)
            if at.entry.is_none() && io.kind() != io::ErrorKind::UnexpectedEof =>
        {
            Error::io(&at.path, "cannot read", io)
        }
        other => Error::corrupt(at, "zip", other.to_string()),
    }
}

type Archive = ZipArchive<BufReader<Window<Box<dyn Source>>>>;

/// One entry's records in the input, for a writer that copies them.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The central directory record, every byte as stored.
    central: Header,
    /// Where the local header starts in the file.
    header_start: u64,
    /// The compressed size, CRC and size (with Zip64 values applied).
    packed: u64,
    crc: u32,
    size: u64,
}

/// A zip, read in place. Units are entries: each is compressed on its own.
pub(crate) struct ZipReader {
    span: Span,
    archive: Archive,
    entries: Vec<Entry>,
    units: Vec<Unit>,
    records: Arc<Vec<Record>>,
    /// The end records, when found where the zip crate found them.
    end: Option<End>,
    /// A handle on the file for raw reads, opened on first use.
    raw: Option<File>,
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
    /// Lists the zip at `span`. Refuses one part of a split zip, encrypted
    /// entries, symlinks, compression methods this build cannot read,
    /// duplicate names and headers that disagree with the central directory.
    pub(crate) fn open(span: Span) -> Result<ZipReader> {
        let path = span.path.clone();
        let mut file = File::open(&path).map_err(|e| Error::io(&path, "cannot open", e))?;
        if let Some(parts) = End::split_parts(&mut file, span.base + span.len)
            .map_err(|e| Error::io(&path, "cannot read", e))?
        {
            return Err(split_zip(&path, SplitPart::Last(parts)));
        }
        let mut archive = archive(&span, Box::new(file))?;
        let mut central = Records {
            file: BufReader::new(
                File::open(&path).map_err(|e| Error::io(&path, "cannot open", e))?,
            ),
            pos: None,
        };
        let mut entries = Vec::with_capacity(archive.len());
        let mut units = Vec::with_capacity(archive.len());
        let mut records = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let (entry, record) = list_entry(&mut archive, &mut central, &path, i)?;
            units.push(Unit {
                entries: i..i + 1,
                packed: record.packed,
            });
            entries.push(entry);
            records.push(record);
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
        let end = End::find(
            central.file.get_mut(),
            (span.base, span.base + span.len),
            archive.central_directory_start(),
            archive.offset(),
        )
        .map_err(|e| Error::io(&path, "cannot read", e))?;
        Ok(ZipReader {
            span,
            archive,
            entries,
            units,
            records: Arc::new(records),
            end,
            raw: None,
        })
    }

    /// Entry `index`'s records.
    pub(crate) fn record(&self, index: usize) -> &Record {
        &self.records[index]
    }

    /// The input's end records (for an output in the same form).
    pub(crate) fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    fn location(&self, index: usize) -> Location {
        Location::entry(&self.span.path, &self.entries[index].name)
    }

    /// The file, positioned at `at`, for raw reads.
    fn raw_at(&mut self, at: u64) -> Result<&mut File> {
        let path = &self.span.path;
        if self.raw.is_none() {
            self.raw = Some(File::open(path).map_err(|e| Error::io(path, "cannot open", e))?);
        }
        let Some(file) = self.raw.as_mut() else {
            return Err(Error::Internal("the zip input's file is not open".into()));
        };
        file.seek(SeekFrom::Start(at))
            .map_err(|e| Error::io(path, "cannot read", e))?;
        Ok(file)
    }

    /// Entry `index`'s local header, as stored.
    pub(crate) fn local_header(&mut self, index: usize) -> Result<Header> {
        let at = self.records[index].header_start;
        let file = self.raw_at(at)?;
        let header = Header::read(Kind::Local, file);
        header.map_err(|e| self.damaged(index, e.to_string()))
    }

    /// An error saying entry `index` is damaged.
    fn damaged(&self, index: usize, reason: String) -> Error {
        Error::corrupt(self.location(index), "zip", reason)
    }

    /// The data descriptor after entry `index`'s data (ending at
    /// `data_end`), when its flags say one follows.
    fn descriptor(&mut self, index: usize, data_end: u64) -> Result<Option<record::Descriptor>> {
        let r = &self.records[index];
        if r.central.flags() & record::FLAG_DESCRIPTOR == 0 {
            return Ok(None);
        }
        let (crc, packed, size) = (r.crc, r.packed, r.size);
        let limit = self.span.base + self.span.len;
        let mut after =
            vec![0u8; (limit.saturating_sub(data_end) as usize).min(record::Descriptor::MAX)];
        let path = self.span.path.clone();
        let file = self.raw_at(data_end)?;
        file.read_exact(&mut after)
            .map_err(|e| Error::io(&path, "cannot read", e))?;
        record::Descriptor::find(&after, crc, packed, size)
            .map_err(|reason| self.damaged(index, reason))
    }

    /// Where entry `index`'s stored bytes lie: local header, data and data
    /// descriptor, from the local header's start; and the descriptor's form.
    pub(crate) fn stored_span(
        &mut self,
        index: usize,
    ) -> Result<(u64, u64, Header, Option<record::Descriptor>)> {
        let local = self.local_header(index)?;
        let r = &self.records[index];
        let start = r.header_start;
        let data_end = start + local.bytes().len() as u64 + r.packed;
        let descriptor = self.descriptor(index, data_end)?;
        let len = data_end - start + descriptor.map_or(0, record::Descriptor::len);
        Ok((start, len, local, descriptor))
    }

    /// Copies `len` bytes from `start` into `out`; read errors name the
    /// entry, write errors `dest`.
    pub(crate) fn copy_bytes(
        &mut self,
        index: usize,
        (start, len): (u64, u64),
        out: &mut dyn io::Write,
        dest: &Path,
    ) -> Result<()> {
        let mut buf = vec![0u8; (1 << 20).min(len as usize)];
        let mut left = len;
        let path = self.span.path.clone();
        let file = self.raw_at(start)?;
        while left > 0 {
            let n = (left as usize).min(buf.len());
            if let Err(e) = file.read_exact(&mut buf[..n]) {
                return Err(match e.kind() {
                    io::ErrorKind::UnexpectedEof => {
                        self.damaged(index, "the file ends inside the entry".into())
                    }
                    _ => Error::io(&path, "cannot read", e),
                });
            }
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(dest, "cannot write", e))?;
            left -= n as u64;
        }
        Ok(())
    }
}

/// Which part of a split zip a file is.
pub(crate) enum SplitPart {
    /// The first (`.z01`), which starts with the spanning signature.
    First,
    /// The last (`.zip`), of this many.
    Last(u16),
}

/// The refusal of one part of a split (multi-part) zip, saying what to do.
pub(crate) fn split_zip(path: &Path, part: SplitPart) -> Error {
    let which = match part {
        SplitPart::First => "the first part (.z01) of a split zip".to_string(),
        SplitPart::Last(n) => format!("the last part (.zip) of a zip split into {n} parts"),
    };
    Error::NotAPackage {
        path: path.to_path_buf(),
        reason: format!("{which}; sepkg reads a zip in one file: {SPLIT_ADVICE}"),
    }
}

/// What to do with a split zip. (Not `zip -s 0`: Info-ZIP 3.0 joins some
/// split archives into a zip whose data is damaged.)
pub(crate) const SPLIT_ADVICE: &str = "extract the whole archive with 7-Zip, which reads the parts together (`7zz x NAME.zip -oNAME`, with NAME.z01, NAME.z02, ... beside NAME.zip), then transform the extracted folder";

/// True when `magic` starts a split zip's first part (APPNOTE 8.5.3).
pub(crate) fn is_split_start(magic: &[u8]) -> bool {
    magic.starts_with(b"PK\x07\x08")
}

/// How many parts the split zip whose last part is `path` has, if it is one.
pub(crate) fn split_parts(path: &Path) -> Option<u16> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    End::split_parts(&mut file, len).ok().flatten()
}

/// A stored name as the text Windows shows: UTF-8 when bit 11 says so,
/// code page 437 otherwise.
fn decode_name(raw: &[u8], flags: u16) -> String {
    if flags & FLAG_UTF8 != 0 {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        cp437::decode(raw)
    }
}

/// Reads central records in order through one buffer: the records of a
/// directory follow each other, so a seek is needed only when they do not.
struct Records {
    file: BufReader<File>,
    /// Where `file` is, when known.
    pos: Option<u64>,
}

impl Records {
    fn read_at(&mut self, at: u64) -> io::Result<Header> {
        if self.pos != Some(at) {
            self.file.seek(SeekFrom::Start(at))?;
        }
        self.pos = None;
        let header = Header::read(Kind::Central, &mut self.file)?;
        self.pos = Some(at + header.bytes().len() as u64);
        Ok(header)
    }
}

/// Entry `i` of `archive` as an [`Entry`], with its records (its central
/// record read from `central`).
fn list_entry(
    archive: &mut Archive,
    central: &mut Records,
    path: &Path,
    i: usize,
) -> Result<(Entry, Record)> {
    // The central directory names the entry even when its local header
    // is damaged, so the message can say which one.
    let stored = archive
        .name_for_index(i)
        .and_then(|n| n.ok())
        .map_or_else(|| format!("#{i}"), |n| n.into_owned());
    let f = archive
        .by_index_raw(i)
        .map_err(|e| corrupt(Location::entry(path, stored.clone()), e))?;
    let (at, header_start) = (f.central_header_start(), f.header_start());
    let (packed, crc, size, is_dir) = (f.compressed_size(), f.crc32(), f.size(), f.is_dir());
    let (encrypted, symlink, method) = (f.encrypted(), f.is_symlink(), f.compression());
    drop(f);
    let record = central.read_at(at).map_err(|e| {
        Error::corrupt(
            Location::entry(path, stored.clone()),
            "zip",
            format!("its central directory record cannot be read: {e}"),
        )
    })?;
    let raw = decode_name(record.name(), record.flags());
    // Checked before `\` becomes `/`, so the message shows the name as
    // stored: `..\x` and `C:\x` are what a user sees listing the archive.
    if let Some(reason) = super::unsafe_name(&raw) {
        return Err(Error::UnsafeEntry {
            at: Location::entry(path, raw),
            reason: reason.to_string(),
        });
    }
    let name = raw.replace('\\', "/");
    check_entry(path, &name, encrypted, symlink, method)?;
    let entry = Entry { is_dir, size, name };
    let record = Record {
        central: record,
        header_start,
        packed,
        crc,
        size,
    };
    Ok((entry, record))
}

/// Refuses an entry sepkg cannot copy or read faithfully.
fn check_entry(
    path: &Path,
    name: &str,
    encrypted: bool,
    symlink: bool,
    method: CompressionMethod,
) -> Result<()> {
    let at = || Location::entry(path, name);
    if encrypted {
        return Err(Error::UnsafeEntry {
            at: at(),
            reason: "the entry is encrypted: SEPM exports are not; sepkg cannot check or edit it"
                .into(),
        });
    }
    if symlink {
        return Err(Error::UnsafeEntry {
            at: at(),
            reason: "the entry is a symbolic link".into(),
        });
    }
    if !matches!(
        method,
        CompressionMethod::Stored | CompressionMethod::Deflated
    ) {
        return Err(Error::corrupt(
            at(),
            "zip",
            format!("compression method {method:?} is not supported (only stored and deflate)"),
        ));
    }
    Ok(())
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
        let at = self.location(index);
        let file = self
            .archive
            .by_index(index)
            .map_err(|e| corrupt(at.clone(), e))?;
        Ok(EntryStream::new(Box::new(file), at, Fault::Archive("zip")))
    }

    fn modified(&self, index: usize) -> Option<time::PrimitiveDateTime> {
        crate::package::dos::from_dos(self.records[index].central.dos_time())
    }

    fn reopen_reads_source(&self) -> bool {
        true
    }

    fn reopen(&self, source: Box<dyn Source>) -> Result<Box<dyn Reader>> {
        // Listed and checked once already: the second reader only reads.
        Ok(Box::new(ZipReader {
            span: self.span.clone(),
            archive: archive(&self.span, source)?,
            entries: self.entries.clone(),
            units: self.units.clone(),
            records: Arc::clone(&self.records),
            end: self.end.clone(),
            raw: None,
        }))
    }

    fn facts(&self) -> Facts {
        let limit = self.span.base + self.span.len;
        Facts {
            trailing: self
                .end
                .as_ref()
                .filter(|e| e.end < limit)
                .map(|e| (e.end, limit - e.end)),
            ..Facts::default()
        }
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
        r.seek(SeekFrom::Start(start))?;
        let mut seen = std::collections::HashSet::new();
        while let Ok(header) = Header::read(Kind::Central, &mut r) {
            let name = decode_name(header.name(), header.flags());
            if !seen.insert(name.clone()) {
                return Ok(Some(name));
            }
        }
        Ok(None)
    };
    walk().ok().flatten().unwrap_or_else(|| "(unknown)".into())
}

/// The end of the zip starting at `start` in `file` (an .exe's payload,
/// searched up to `search_end`): after its end-of-central-directory record
/// (found from the back, within the 64 KiB a comment can take) and comment.
pub(crate) fn locate(file: &mut File, path: &Path, start: u64, search_end: u64) -> Result<u64> {
    let truncated = || {
        Error::corrupt(
            Location::file(path),
            "zip",
            format!(
                "the zip payload at offset {start} has no end-of-central-directory record: truncated"
            ),
        )
    };
    let from = search_end.saturating_sub(22 + 0xFFFF + 8).max(start);
    let mut tail = vec![0u8; (search_end - from) as usize];
    io::Seek::seek(file, io::SeekFrom::Start(from))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let n = super::read_up_to(file, &mut tail).map_err(|e| Error::io(path, "cannot read", e))?;
    if n < tail.len() {
        return Err(truncated());
    }
    let le16 = |at: usize| u64::from(u16::from_le_bytes([tail[at], tail[at + 1]]));
    let mut i = tail.len().saturating_sub(22);
    loop {
        if i + 22 <= tail.len() && tail[i..].starts_with(b"PK\x05\x06") {
            let end = from + i as u64 + 22 + le16(i + 20);
            if end <= search_end {
                return Ok(end);
            }
        }
        if i == 0 {
            return Err(truncated());
        }
        i -= 1;
    }
}
