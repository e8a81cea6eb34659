//! The one file that lists every container format: the [`Format`] enum, the
//! `Reader` and `Writer` traits each format implements, and the two
//! functions that pick an implementation, `open` and `writer`. These
//! two are the only `match` on a format in the crate.
//!
//! # Adding a format
//! A reader (a type implementing `Reader`), a writer (implementing
//! `Writer`), one variant in [`Format`], one arm in `open` and one in
//! `writer` (the compiler finds both), and its tests. Nothing else in the
//! crate names formats: the copy loop (`super::copy`), the .exe wrapper
//! ([`super::exe`]), `transform` and `audit` work through the traits.
//!
//! # Units
//! A **unit** is what a format compresses as one stream: a zip entry, a
//! cabinet folder, a 7z folder (solid block). A writer of the same format
//! can copy a unit as it is, its compressed bytes never decoded and encoded
//! again (`Writer::raw_units`, `Writer::copy_raw`).
//!
//! Improving on DESIGN.md's sketch: the writer is built with the whole
//! output plan and the reader (`writer` gets both), so a writer that must
//! know every file up front (the cabinet's folder table) or wants an input
//! entry's own header fields (zip keeps an edited entry's time, permissions
//! and method) takes them once, and the per-entry calls carry only a row
//! number. Errors reading an entry are attributed by the reader that made
//! the stream ([`EntryStream::error`]), never by a caller guessing the format.

use std::any::Any;
use std::io::{self, Read, Seek};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Entry, Origin, cab, dir, sevenz, zip};
use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, Location, Result};

/// The kind of container a package comes in, as users name it (`--to`,
/// the `kind` of reports): a format, or a single-file .exe around one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A folder export.
    Dir,
    /// A zip archive.
    Zip,
    /// A Microsoft cabinet (.cab).
    Cab,
    /// A 7z archive.
    #[serde(rename = "7z")]
    #[value(name = "7z")]
    SevenZ,
    /// A single-file .exe export: a PE stub followed by a zip, cabinet or
    /// 7z payload (a 7-Zip self-extractor).
    Exe,
}

impl Kind {
    /// The file extension an output of this kind gets ("" for a folder).
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Dir => "",
            Kind::Zip => "zip",
            Kind::Cab => "cab",
            Kind::SevenZ => "7z",
            Kind::Exe => "exe",
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exe => "exe",
            other => other.format().map_or("exe", Format::name),
        }
    }

    /// The format of a package of this kind; `None` for an .exe, whose
    /// payload's format is found in the file.
    pub fn format(self) -> Option<Format> {
        match self {
            Kind::Dir => Some(Format::Dir),
            Kind::Zip => Some(Format::Zip),
            Kind::Cab => Some(Format::Cab),
            Kind::SevenZ => Some(Format::SevenZ),
            Kind::Exe => None,
        }
    }
}

/// An archive format: of a package file, or of an .exe's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A folder on disk.
    Dir,
    /// A zip archive.
    Zip,
    /// A Microsoft cabinet.
    Cab,
    /// A 7z archive.
    #[serde(rename = "7z")]
    SevenZ,
}

impl Format {
    /// The name used in messages ("folder", "zip", "cabinet").
    pub fn name(self) -> &'static str {
        match self {
            Format::Dir => "folder",
            Format::Zip => "zip",
            Format::Cab => "cabinet",
            Format::SevenZ => "7z",
        }
    }

    /// The [`Kind`] a package file of this format is.
    pub fn kind(self) -> Kind {
        match self {
            Format::Dir => Kind::Dir,
            Format::Zip => Kind::Zip,
            Format::Cab => Kind::Cab,
            Format::SevenZ => Kind::SevenZ,
        }
    }

    /// Recognises an archive by its first bytes.
    pub(crate) fn sniff(magic: &[u8]) -> Option<Format> {
        match magic {
            [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Some(Format::Zip),
            [b'M', b'S', b'C', b'F', ..] => Some(Format::Cab),
            [b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C, ..] => Some(Format::SevenZ),
            _ => None,
        }
    }
}

/// Where an archive lies: a whole file (`base` 0), or an .exe's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The file on disk (for a folder package, the folder).
    pub path: PathBuf,
    /// Where the archive starts in the file.
    pub base: u64,
    /// How many bytes it takes.
    pub len: u64,
}

impl Span {
    /// The whole file at `path`.
    pub fn whole(path: &Path) -> Result<Span> {
        let len = std::fs::metadata(path)
            .map_err(|e| Error::io(path, "cannot open", e))?
            .len();
        Ok(Span {
            path: path.to_path_buf(),
            base: 0,
            len,
        })
    }
}

/// A unit: entries compressed as one stream, which a writer of the same
/// format can copy as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The entries it holds, in order.
    pub entries: Range<usize>,
    /// Its compressed size in bytes.
    pub packed: u64,
}

/// A source of bytes for a reader opened a second time (the digest
/// thread's): the input file, possibly hashed as it is read.
pub(crate) trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

/// Facts a format knows about its archive, for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// A cabinet's folders, compression and signature.
    pub cab: Option<cab::CabInfo>,
    /// Bytes after the archive's end that belong to no entry (offset,
    /// count): not read, and not copied to an output.
    pub trailing: Option<(u64, u64)>,
    /// A 7z archive's folders, coders, dictionary and header.
    pub sevenz: Option<sevenz::Facts>,
}

/// Reads one archive: lists its entries and streams their content. It owns
/// its file handles and attributes its own errors (file, entry, format).
pub(crate) trait Reader: Send {
    /// The format read.
    fn format(&self) -> Format;
    /// Where the archive is.
    fn span(&self) -> &Span;
    /// Every entry, in archive order.
    fn entries(&self) -> &[Entry];
    /// The archive's units (empty when the format has none worth copying).
    fn units(&self) -> &[Unit] {
        &[]
    }
    /// A reader over entry `index`'s uncompressed content.
    fn open(&mut self, index: usize) -> Result<EntryStream<'_>>;
    /// Entry `index`'s modification time, when the format records one (a
    /// zip's or cabinet's DOS time, a file's mtime in UTC), for
    /// `--keep-times`.
    fn modified(&self, _index: usize) -> Option<time::PrimitiveDateTime> {
        None
    }
    /// The file on disk that holds entry `index` as it is, when there is
    /// one (a folder package's file): readers that need `Seek` use it in place.
    fn file(&self, _index: usize) -> Option<&Path> {
        None
    }
    /// The same archive read again through `source` (the whole input
    /// file), for a second thread.
    fn reopen(&self, source: Box<dyn Source>) -> Result<Box<dyn Reader>>;
    /// True when a reader made by [`Reader::reopen`] reads the whole
    /// archive through its source (the zip reader does), so that the
    /// source's hash is the input's digest; false when it opens the file
    /// itself (then the input is hashed on a thread of its own).
    fn reopen_reads_source(&self) -> bool {
        false
    }
    /// Facts about the archive, for reports.
    fn facts(&self) -> Facts {
        Facts::default()
    }
    /// For a writer of the same format, which reads the reader's own
    /// structures (a zip writer copies zip entries raw).
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Opens the archive of `format` at `span`.
pub(crate) fn open(format: Format, span: Span) -> Result<Box<dyn Reader>> {
    Ok(match format {
        Format::Dir => Box::new(dir::DirReader::open(span)?),
        Format::Zip => Box::new(zip::ZipReader::open(span)?),
        Format::Cab => Box::new(cab::CabReader::open(span)?),
        Format::SevenZ => Box::new(sevenz::SevenZReader::open(span)?),
    })
}

/// Where the archive of `format` that starts at or after `at` lies in
/// `file` (an .exe's overlay, searched up to `end`): its start and end.
/// `None` when there is no such archive there.
pub(crate) fn locate(
    format: Format,
    file: &mut std::fs::File,
    path: &Path,
    at: u64,
    end: u64,
) -> Result<Option<(u64, u64)>> {
    match format {
        Format::Zip => zip::locate(file, path, at, end).map(|e| Some((at, e))),
        Format::Cab => cab::locate(file, path, at).map(|e| Some((at, e))),
        Format::SevenZ => sevenz::locate(file, path, at, end),
        Format::Dir => Ok(None),
    }
}

/// Who is to blame when reading an entry fails.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// A file on disk (a folder package's): an I/O error on that path.
    File(PathBuf),
    /// The archive: its data is damaged.
    Archive(&'static str),
}

/// An entry's content as a stream, with what a read error means.
pub struct EntryStream<'a> {
    inner: Box<dyn Read + 'a>,
    at: Location,
    fault: Fault,
}

impl<'a> EntryStream<'a> {
    pub(crate) fn new(inner: Box<dyn Read + 'a>, at: Location, fault: Fault) -> Self {
        EntryStream { inner, at, fault }
    }

    /// The error a failed read of this stream is: it names the file and
    /// the entry, and says whose fault it is. A reader that reports its
    /// errors as [`Error`] values carried inside the `io::Error` (the 7z
    /// reader does) gets that error back as it was.
    pub fn error(&self, e: io::Error) -> Error {
        let e = if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(carried)) => return *carried,
                _ => io::Error::other("a read failed"),
            }
        } else {
            e
        };
        match &self.fault {
            Fault::File(path) => Error::io(path, "cannot read", e),
            Fault::Archive(format) => Error::corrupt_from(self.at.clone(), format, e),
        }
    }

    /// Where the entry is.
    pub fn location(&self) -> &Location {
        &self.at
    }
}

impl Read for EntryStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// One entry of the output, as the writer is told of it up front.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// The name in the output, `/`-separated.
    pub name: String,
    /// Its size: the input entry's declared size, or the new bytes' length.
    pub size: u64,
    /// True for a folder entry.
    pub is_dir: bool,
    /// The input entry it comes from (copied or replaced), if any.
    pub source: Option<usize>,
    /// Copied, replaced or added.
    pub origin: Origin,
    /// With `--keep-times`, the input entry's modification time; `None`
    /// gives the fixed 1980-01-01 00:00:00 (see the module docs).
    pub modified: Option<time::PrimitiveDateTime>,
}

/// The output file under a writer: hashed as it is written, buffered, and
/// quiet after its first error (see [`Sink`]).
pub(crate) type Out = HashingWriter<Sink>;

/// Where a writer writes.
pub(crate) enum Target {
    /// A file, positioned where the archive starts (0, or after a stub).
    File(Out),
    /// A folder that exists and is empty.
    Dir(PathBuf),
}

/// What a writer returns when it is done.
pub(crate) enum Finished {
    /// The file, flushed, and what was done with each unit written (7z
    /// folders: copied, spliced, re-encoded; empty for other formats).
    File(Out, Vec<super::UnitReport>),
    /// The folder.
    Dir,
}

/// What a writer did with one output row it wrote itself: its method
/// (`stored`, `deflated`, `mszip`; none in a folder) and, when the writer
/// read the content anyway, its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Taken {
    pub method: Option<&'static str>,
    pub digest: Option<Digest>,
}

/// Writes one archive. Built by [`writer`] with the output plan; the copy
/// loop then calls it row by row, in plan order.
pub(crate) trait Writer {
    /// The input units this writer copies as they are, each with the plan
    /// rows it covers. `from` is the input; the default copies none.
    fn raw_units(&self, _from: &mut dyn Reader, _plan: &[Planned]) -> Vec<(usize, Range<usize>)> {
        Vec::new()
    }
    /// Copies input unit `unit` (one that [`Writer::raw_units`] chose),
    /// with `new`: the new bytes of the rows it covers that replace an
    /// entry (empty for a unit copied as it is); returns what was done with
    /// each of its rows.
    fn copy_raw(
        &mut self,
        _from: &mut dyn Reader,
        unit: usize,
        _new: &[(usize, &[u8])],
    ) -> Result<Vec<Taken>> {
        Err(Error::Internal(format!(
            "this writer copies no unit as it is, and was asked for unit {unit}"
        )))
    }
    /// Writes plan row `row` (a file) with `content`, which holds exactly
    /// the planned size; returns its method.
    fn add_file(&mut self, row: usize, content: &mut dyn Read) -> Result<Option<&'static str>>;
    /// Writes several small files, each whole in memory; the default
    /// writes them one by one. (The zip writer compresses them on every core.)
    fn add_files(&mut self, files: &[(usize, Vec<u8>)]) -> Result<Vec<Option<&'static str>>> {
        files
            .iter()
            .map(|(row, bytes)| self.add_file(*row, &mut bytes.as_slice()))
            .collect()
    }
    /// Writes plan row `row`, a folder entry.
    fn add_dir(&mut self, row: usize) -> Result<()>;
    /// Ends the archive.
    fn finish(self: Box<Self>) -> Result<Finished>;
}

/// A writer of `format` into `target`, for `plan`, reading from `from`.
pub(crate) fn writer(
    format: Format,
    target: Target,
    from: &mut dyn Reader,
    plan: &[Planned],
    dest: &Path,
) -> Result<Box<dyn Writer>> {
    Ok(match (format, target) {
        (Format::Dir, Target::Dir(folder)) => Box::new(dir::DirWriter::new(folder, plan)),
        (Format::Zip, Target::File(out)) => Box::new(zip::ZipWriter::new(out, from, plan, dest)?),
        (Format::Cab, Target::File(out)) => Box::new(cab::CabWriter::new(out, plan, dest)?),
        (Format::SevenZ, Target::File(out)) => {
            Box::new(sevenz::SevenZWriter::new(out, from, plan, dest)?)
        }
        (Format::Dir, Target::File(_))
        | (Format::Zip | Format::Cab | Format::SevenZ, Target::Dir(_)) => {
            return Err(Error::Internal(format!(
                "a {} writer was given the wrong kind of target for {}",
                format.name(),
                dest.display()
            )));
        }
    })
}

/// The output file under the writers. After its first write error it
/// swallows what follows: on an error the zip crate's `Drop` tries to finish
/// the archive, and on a full disk that fails again and prints its own
/// message to stderr, glued to ours. The temporary file is deleted anyway.
pub(crate) struct Sink {
    file: io::BufWriter<std::fs::File>,
    failed: bool,
}

impl Sink {
    pub(crate) fn new(file: std::fs::File) -> Self {
        Sink {
            file: io::BufWriter::with_capacity(1 << 20, file),
            failed: false,
        }
    }

    /// The file, flushed.
    pub(crate) fn into_file(self) -> io::Result<std::fs::File> {
        self.file.into_inner().map_err(|e| e.into_error())
    }

    fn check<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if r.is_err() {
            self.failed = true;
        }
        r
    }
}

impl io::Write for Sink {
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

impl Seek for Sink {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        if self.failed {
            return Ok(0);
        }
        let r = self.file.seek(pos);
        self.check(r)
    }
}
