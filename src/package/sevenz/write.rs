//! Writing a 7z archive: raw folder copies, rewritten folders (splice or
//! re-encode), and new folders for added files. See the parent module for
//! the rules.

use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lzma_rust2::LzmaWriter;
use lzma_rust2::filter::bcj::BcjWriter;
use lzma_rust2::filter::delta::DeltaWriter;
use serde::Serialize;

use super::header::{
    self, Coder, File as FileRecord, Folder, Header, SIGNATURE_HEADER_SIZE, Streams, method,
};
use super::read::{Archive, FolderInfo, coder_dictionary, folder_method, into_error};
use super::{FORMAT, lzma2};
use crate::error::{Error, Location, Result};

/// The largest dictionary sepkg's encoders use (and never more than the
/// input folder's): it bounds encoder memory (HC4: about 5.5 times the
/// dictionary) under the 64 MB budget.
const MAX_DICT: u32 = 4 << 20;
/// The smallest dictionary sepkg's encoders use.
const MIN_DICT: u32 = 1 << 16;

/// The coder of folders made for added files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum NewMethod {
    /// Store-aware LZMA2 with at most this dictionary.
    Lzma2 {
        /// Dictionary bytes.
        dict: u32,
    },
    /// LZMA with at most this dictionary; files that are mostly
    /// incompressible go to Copy folders of their own.
    Lzma {
        /// Dictionary bytes.
        dict: u32,
    },
    /// Stored.
    Copy,
}

impl NewMethod {
    /// For files added to a 7z input: the input's LZMA2 (or else LZMA)
    /// with the smallest dictionary the input used for it, or else Copy:
    /// never a coder the input did not use.
    pub fn like(src: &Archive) -> NewMethod {
        let dict_of = |id: &[u8]| {
            src.folders()
                .iter()
                .flat_map(|f| f.record.coders.iter())
                .filter(|c| c.id == id)
                .filter_map(coder_dictionary)
                .min()
                .map(|d| d.min(u64::from(MAX_DICT)) as u32)
        };
        if let Some(dict) = dict_of(method::LZMA2) {
            NewMethod::Lzma2 { dict }
        } else if let Some(dict) = dict_of(method::LZMA) {
            NewMethod::Lzma { dict }
        } else {
            NewMethod::Copy
        }
    }
}

/// How a [`Writer`] writes what it encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// LZMA-encode the header (7-Zip's default; `-mhc=off` turns it off).
    pub encode_header: bool,
    /// The coder of new folders ([`Writer::add_file`]).
    pub new_folders: NewMethod,
}

impl WriteOptions {
    /// For a 7z input: its header encoding, and [`NewMethod::like`] it.
    pub fn like(src: &Archive) -> WriteOptions {
        WriteOptions {
            encode_header: src.facts().header_encoded,
            new_folders: NewMethod::like(src),
        }
    }

    /// For an archive made from another format: an encoded header (7-Zip's
    /// default, several times smaller) and store-aware LZMA2 with a 4 MiB
    /// dictionary in one solid folder (what 7-Zip's installer SFX decodes
    /// with the least memory that still compresses a SEP package's text
    /// files well).
    pub fn fresh() -> WriteOptions {
        WriteOptions {
            encode_header: true,
            new_folders: NewMethod::Lzma2 { dict: MAX_DICT },
        }
    }
}

/// What was done to make an output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Packed bytes, coders, sizes and CRCs copied from the input folder.
    Copied,
    /// The input folder's LZMA2 chunks before the first replaced file
    /// copied, the rest encoded.
    Spliced,
    /// The input folder decoded and encoded again, as one folder.
    Reencoded,
    /// Part of an input folder that was split (files mostly incompressible
    /// stored apart, in an LZMA input folder).
    Split,
    /// A new folder for added files.
    Added,
}

/// One output folder, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderReport {
    /// The input folder it comes from, if any.
    pub source: Option<usize>,
    /// What was done.
    pub action: Action,
    /// Its coders, in record order (`"BCJ LZMA2:25"`).
    pub method: String,
    /// The input folder's coders, when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_method: Option<String>,
    /// Files it holds.
    pub files: usize,
    /// Unpacked size.
    pub size: u64,
    /// Packed size.
    pub packed: u64,
    /// For a splice: packed bytes copied from the input as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<u64>,
}

/// New bytes for an entry of the input.
#[derive(Debug, Clone, Copy)]
pub struct Replacement<'a> {
    /// The input entry.
    pub entry: usize,
    /// Its new content.
    pub bytes: &'a [u8],
}

// ------------------------------------------------------------ coder chains

/// A shared output buffer: encoders write into it, and the writer moves
/// its content to the output after each call (so that an encoder can live
/// across calls without borrowing the output).
#[derive(Clone, Default)]
struct Spool(Arc<Mutex<Vec<u8>>>);

impl Spool {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("spool poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One stage of an encoding chain.
trait Stage: Write + Send {
    /// Flushes what the stage holds back and ends the stages below it.
    fn end(self: Box<Self>) -> io::Result<()>;
}

impl Stage for Spool {
    fn end(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

impl Stage for lzma2::Encoder<Spool> {
    fn end(self: Box<Self>) -> io::Result<()> {
        self.finish().map(drop)
    }
}

struct Lzma1(LzmaWriter<Spool>);

impl Write for Lzma1 {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stage for Lzma1 {
    fn end(self: Box<Self>) -> io::Result<()> {
        self.0.finish().map(drop)
    }
}

struct Bcj(BcjWriter<Box<dyn Stage>>);

impl Write for Bcj {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stage for Bcj {
    fn end(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.end()
    }
}

struct Delta(DeltaWriter<Box<dyn Stage>>);

impl Write for Delta {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stage for Delta {
    fn end(self: Box<Self>) -> io::Result<()> {
        self.0.into_inner().end()
    }
}

/// The compressor of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Main {
    /// LZMA2 keeping the property byte `prop`, encoding with `dict`.
    Lzma2 {
        prop: u8,
        dict: u32,
    },
    /// LZMA with `dict`.
    Lzma {
        dict: u32,
    },
    Copy,
}

fn filter_stage(c: &Coder, inner: Box<dyn Stage>) -> io::Result<Box<dyn Stage>> {
    let start = match c.props.as_slice() {
        [a, b, cc, d] => u32::from_le_bytes([*a, *b, *cc, *d]) as usize,
        _ => 0,
    };
    Ok(match c.id.as_slice() {
        method::BCJ_X86 => Box::new(Bcj(BcjWriter::new_x86(inner, start))),
        method::ARM => Box::new(Bcj(BcjWriter::new_arm(inner, start))),
        method::ARMT => Box::new(Bcj(BcjWriter::new_arm_thumb(inner, start))),
        method::ARM64 => Box::new(Bcj(BcjWriter::new_arm64(inner, start))),
        method::PPC => Box::new(Bcj(BcjWriter::new_ppc(inner, start))),
        method::SPARC => Box::new(Bcj(BcjWriter::new_sparc(inner, start))),
        method::IA64 => Box::new(Bcj(BcjWriter::new_ia64(inner, start))),
        method::RISCV => Box::new(Bcj(BcjWriter::new_riscv(inner, start))),
        method::DELTA => {
            let distance = usize::from(c.props.first().copied().unwrap_or(0)) + 1;
            Box::new(Delta(DeltaWriter::new(inner, distance)))
        }
        other => {
            return Err(io::Error::other(format!(
                "internal: {} is not a filter",
                hex::encode(other)
            )));
        }
    })
}

/// Builds `filters` (outermost first) over `main`; returns the chain and
/// the coder records in record order.
fn build(main: Main, filters: &[Coder], spool: Spool) -> io::Result<(Box<dyn Stage>, Vec<Coder>)> {
    let (mut stage, main_coder): (Box<dyn Stage>, Coder) = match main {
        Main::Lzma2 { prop, dict } => (
            Box::new(lzma2::Encoder::new(spool, dict)),
            Coder {
                id: method::LZMA2.to_vec(),
                num_in: 1,
                num_out: 1,
                props: vec![prop],
            },
        ),
        Main::Lzma { dict } => {
            let opts = lzma2::lzma_options(dict);
            let w = LzmaWriter::new_no_header(spool, &opts, false).map_err(io::Error::other)?;
            let mut props = vec![opts.get_props()];
            props.extend_from_slice(&opts.dict_size.to_le_bytes());
            (
                Box::new(Lzma1(w)),
                Coder {
                    id: method::LZMA.to_vec(),
                    num_in: 1,
                    num_out: 1,
                    props,
                },
            )
        }
        Main::Copy => (
            Box::new(spool),
            Coder {
                id: method::COPY.to_vec(),
                num_in: 1,
                num_out: 1,
                props: Vec::new(),
            },
        ),
    };
    for f in filters.iter().rev() {
        stage = filter_stage(f, stage)?;
    }
    let mut coders: Vec<Coder> = filters.to_vec();
    coders.push(main_coder);
    Ok((stage, coders))
}

/// A dictionary for `size` bytes of data: a power of two that holds it,
/// within [`MIN_DICT`]..=[`MAX_DICT`] and never above `cap`.
fn dict_for(size: u64, cap: u64) -> u32 {
    let want = size
        .max(1)
        .next_power_of_two()
        .clamp(u64::from(MIN_DICT), u64::from(MAX_DICT));
    want.min(cap.max(4096)) as u32
}

/// What a touched input folder becomes.
struct Target {
    filters: Vec<Coder>,
    main: Main,
    /// The input folder is one LZMA2 coder: its chunks can be kept.
    splice: bool,
    /// The input's main coder is LZMA: split off incompressible files.
    split: bool,
}

fn target(rec: &Folder, size_hint: u64) -> Target {
    // Walk from the coder that produces the content down input 0.
    let first_in = |c: usize| rec.coders[..c].iter().map(|x| x.num_in).sum::<u64>();
    let mut order = Vec::new();
    let mut c = rec.main_out().unwrap_or(0);
    while order.len() < rec.coders.len() {
        order.push(c);
        match rec.bind_pairs.iter().find(|b| b.0 == first_in(c)) {
            Some(&(_, out)) => c = out as usize,
            None => break,
        }
    }
    let Some((&last, outer)) = order.split_last() else {
        return Target {
            filters: Vec::new(),
            main: Main::Copy,
            splice: false,
            split: false,
        };
    };
    let filters: Vec<Coder> = outer
        .iter()
        .map(|&i| &rec.coders[i])
        .filter_map(|c| match c.id.as_slice() {
            method::BCJ2 => Some(Coder {
                id: method::BCJ_X86.to_vec(),
                num_in: 1,
                num_out: 1,
                props: Vec::new(),
            }),
            method::BCJ_X86
            | method::ARM
            | method::ARMT
            | method::ARM64
            | method::PPC
            | method::SPARC
            | method::IA64
            | method::RISCV
            | method::DELTA => Some(c.clone()),
            _ => None,
        })
        .collect();
    let main_coder = &rec.coders[last];
    let cap = coder_dictionary(main_coder).unwrap_or(u64::from(MAX_DICT));
    let main = match main_coder.id.as_slice() {
        method::LZMA2 => Main::Lzma2 {
            prop: main_coder.props.first().copied().unwrap_or(0),
            dict: dict_for(size_hint, cap),
        },
        method::LZMA => Main::Lzma {
            dict: dict_for(size_hint, cap),
        },
        _ => Main::Copy,
    };
    // Filters are kept over a compressor only; over Copy they gain nothing.
    let filters = if main == Main::Copy {
        Vec::new()
    } else {
        filters
    };
    Target {
        splice: rec.coders.len() == 1 && matches!(main, Main::Lzma2 { .. }),
        split: matches!(main, Main::Lzma { .. }),
        filters,
        main,
    }
}

// ------------------------------------------------------------------ writer

/// A folder being written.
struct Building {
    chain: Option<Box<dyn Stage>>,
    spool: Spool,
    coders: Vec<Coder>,
    files: Vec<(u64, u32)>,
    written: u64,
    size: u64,
    report: FolderReport,
}

/// Writes a 7z archive; see the module docs of [`super`].
pub struct Writer<W: Write + Seek> {
    out: BufWriter<W>,
    dest: PathBuf,
    start: u64,
    packed: u64,
    header: Header,
    reports: Vec<FolderReport>,
    open: Option<Building>,
    opts: WriteOptions,
}

impl<W: Write + Seek> Writer<W> {
    /// Starts an archive at `out`'s current position; `dest` names the
    /// output in errors.
    pub fn new(mut out: W, dest: &Path, opts: WriteOptions) -> Result<Writer<W>> {
        let fail = |e| Error::io(dest, "cannot write", e);
        let start = out.stream_position().map_err(fail)?;
        let mut out = BufWriter::with_capacity(1 << 18, out);
        out.write_all(&[0u8; SIGNATURE_HEADER_SIZE as usize])
            .map_err(fail)?;
        Ok(Writer {
            out,
            dest: dest.to_path_buf(),
            start,
            packed: 0,
            header: Header::default(),
            reports: Vec::new(),
            open: None,
            opts,
        })
    }

    fn wfail(&self, e: io::Error) -> Error {
        Error::io(&self.dest, "cannot write", e)
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        self.packed += bytes.len() as u64;
        if let Some(b) = self.open.as_mut() {
            b.written += bytes.len() as u64;
        }
        Ok(())
    }

    fn start_folder(&mut self, main: Main, filters: &[Coder], report: FolderReport) -> Result<()> {
        self.close()?;
        let spool = Spool::default();
        let (chain, coders) = build(main, filters, spool.clone()).map_err(|e| self.wfail(e))?;
        self.open = Some(Building {
            chain: Some(chain),
            spool,
            coders,
            files: Vec::new(),
            written: 0,
            size: 0,
            report,
        });
        Ok(())
    }

    /// Feeds content into the open folder.
    fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(b) = self.open.as_mut() else {
            return Err(self.wfail(io::Error::other("internal: no open folder")));
        };
        if let Some(chain) = b.chain.as_mut() {
            chain
                .write_all(bytes)
                .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        }
        b.size += bytes.len() as u64;
        let out = b.spool.take();
        if !out.is_empty() {
            self.emit(&out)?;
        }
        Ok(())
    }

    /// Ends the open folder, if any, and records it.
    fn close(&mut self) -> Result<()> {
        let Some(mut b) = self.open.take() else {
            return Ok(());
        };
        if let Some(chain) = b.chain.take() {
            chain.end().map_err(|e| self.wfail(e))?;
        }
        let rest = b.spool.take();
        self.out
            .write_all(&rest)
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        self.packed += rest.len() as u64;
        b.written += rest.len() as u64;
        if b.files.is_empty() {
            // Only empty entries went in: no folder. (The packed bytes of
            // an empty stream, if any, stay unreferenced.)
            return Ok(());
        }
        let s = &mut self.header.streams;
        s.pack_sizes.push(b.written);
        s.pack_crcs.push(None);
        let n = b.coders.len();
        let folder = Folder::chain(b.coders, vec![b.size; n], None);
        b.report.method = folder_method(&folder);
        s.folders.push(folder);
        s.num_substreams.push(b.files.len() as u64);
        for (size, crc) in &b.files {
            s.sub_sizes.push(*size);
            s.sub_crcs.push(Some(*crc));
        }
        b.report.files = b.files.len();
        b.report.size = b.size;
        b.report.packed = b.written;
        self.reports.push(b.report);
        Ok(())
    }

    /// Adds an entry without content: a directory or an empty file.
    pub fn add_entry(&mut self, mut record: FileRecord) -> Result<()> {
        record.has_stream = false;
        self.header.files.push(record);
        Ok(())
    }

    /// Adds a file of `size` bytes read from `content` (errors from it are
    /// attributed to `from`, the source entry) to the open new folder,
    /// starting one with [`WriteOptions::new_folders`] if needed.
    pub fn add_file(
        &mut self,
        mut record: FileRecord,
        size: u64,
        content: &mut dyn Read,
        from: &Location,
    ) -> Result<()> {
        if size == 0 {
            record.empty_file = true;
            return self.add_entry(record);
        }
        let reuse = matches!(&self.open, Some(b) if b.report.action == Action::Added);
        if !reuse {
            let main = match self.opts.new_folders {
                NewMethod::Lzma2 { dict } => Main::Lzma2 {
                    prop: lzma2::dictionary_prop(u64::from(dict)),
                    dict,
                },
                NewMethod::Lzma { dict } => Main::Lzma { dict },
                NewMethod::Copy => Main::Copy,
            };
            self.start_folder(main, &[], report(None, Action::Added))?;
        }
        let crc = self.stream_in(content, Some(size), from)?;
        record.has_stream = true;
        self.header.files.push(record);
        if let Some(b) = self.open.as_mut() {
            b.files.push((size, crc));
        }
        Ok(())
    }

    /// Streams `content` into the open folder; returns its CRC. With
    /// `want`, the content must be exactly that long.
    fn stream_in(
        &mut self,
        content: &mut dyn Read,
        want: Option<u64>,
        from: &Location,
    ) -> Result<u32> {
        let mut buf = vec![0u8; 1 << 16];
        let mut crc = crc32fast::Hasher::new();
        let mut n = 0u64;
        loop {
            let k = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(into_error(e, from)),
            };
            n += k as u64;
            if want.is_some_and(|w| n > w) {
                break;
            }
            crc.update(&buf[..k]);
            self.feed(&buf[..k])?;
        }
        if let Some(w) = want
            && n != w
        {
            return Err(Error::corrupt(
                from.clone(),
                "input",
                format!(
                    "its declared size is {w} bytes but its content {} bytes",
                    if n > w {
                        "has more than".to_string() + &w.to_string()
                    } else {
                        n.to_string()
                    }
                ),
            ));
        }
        Ok(crc.finalize())
    }

    /// Copies input folder `fi` as it is: packed streams, coder record,
    /// sizes and CRCs, with the records of every entry in its range.
    ///
    /// The packed bytes are not decoded here; their CRCs are checked when
    /// the entries are read for their digests.
    pub fn copy_folder(&mut self, src: &Archive, fi: usize) -> Result<()> {
        self.close()?;
        let f = &src.folders()[fi];
        for (k, p) in f.packed.iter().enumerate() {
            let mut r = src.packed(fi, k)?;
            let n = io::copy(&mut r, &mut self.out).map_err(|e| {
                // A read error is the input's, a write error the output's;
                // io::copy does not say which, so look at the input again.
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    Error::corrupt(
                        Location::file(src.path()),
                        FORMAT,
                        "the archive is truncated",
                    )
                } else {
                    Error::io(&self.dest, "cannot write", e)
                }
            })?;
            if n != p.size {
                return Err(Error::corrupt(
                    Location::file(src.path()),
                    FORMAT,
                    "the archive is truncated: a packed stream ends early",
                ));
            }
            self.packed += n;
        }
        let s = &mut self.header.streams;
        s.pack_sizes.extend(f.packed.iter().map(|p| p.size));
        s.pack_crcs.extend(
            f.pack_crcs
                .iter()
                .copied()
                .chain(std::iter::repeat(None))
                .take(f.packed.len()),
        );
        s.folders.push(f.record.clone());
        s.num_substreams.push(f.files.len() as u64);
        for &i in &f.files {
            let e = &src.entries()[i];
            s.sub_sizes.push(e.size);
            s.sub_crcs.push(e.crc);
        }
        for i in f.entries.clone() {
            self.header.files.push(src.entries()[i].record.clone());
        }
        self.reports.push(FolderReport {
            source: Some(fi),
            action: Action::Copied,
            method: f.method(),
            input_method: None,
            files: f.files.len(),
            size: f.unpack_size,
            packed: f.packed_size(),
            kept: None,
        });
        Ok(())
    }

    /// Rewrites input folder `fi` with `replace` giving new bytes for some
    /// of its files (a folder with none is copied). See the module docs
    /// for the rules; the folder reports say what was done.
    pub fn rewrite_folder(
        &mut self,
        src: &mut Archive,
        fi: usize,
        replace: &[Replacement<'_>],
    ) -> Result<()> {
        let f = src.folders()[fi].clone();
        let replaced = |i: usize| replace.iter().find(|r| r.entry == i).map(|r| r.bytes);
        if !f.files.iter().any(|&i| replaced(i).is_some()) {
            return self.copy_folder(src, fi);
        }
        self.close()?;
        let new_size: u64 = f
            .files
            .iter()
            .map(|&i| replaced(i).map_or(src.entries()[i].size, |b| b.len() as u64))
            .sum();
        let t = target(&f.record, new_size);
        let input_method = f.method();
        // Splice: keep the chunks before the first replaced file.
        let kept = if t.splice {
            let first = f
                .files
                .iter()
                .position(|&i| replaced(i).is_some())
                .unwrap_or(0);
            let cut = src.entries()[f.files[first]].offset;
            self.start_splice(src, fi, &f, &t, cut, new_size - cut)?
        } else {
            (0, 0)
        };
        let classes = if t.split {
            self.classify(src, &f.files, &replaced)?
        } else {
            vec![false; f.files.len()]
        };
        let mut k = 0usize;
        let mut current: Option<bool> = None;
        for i in f.entries.clone() {
            let e = src.entries()[i].clone();
            if !e.has_stream {
                self.header.files.push(e.record.clone());
                continue;
            }
            let stored = classes[k];
            k += 1;
            if !t.splice && current != Some(stored) {
                let (main, filters, action) = if stored {
                    (Main::Copy, Vec::new(), Action::Split)
                } else if t.split && classes.iter().any(|&c| c) {
                    (t.main, t.filters.clone(), Action::Split)
                } else {
                    (t.main, t.filters.clone(), Action::Reencoded)
                };
                let mut r = report(Some(fi), action);
                r.input_method = Some(input_method.clone());
                self.start_folder(main, &filters, r)?;
                current = Some(stored);
            }
            let mut record = e.record.clone();
            let at = src.location(i);
            let (size, crc) = if let Some(bytes) = replaced(i) {
                self.feed(bytes)?;
                (bytes.len() as u64, crc32fast::hash(bytes))
            } else {
                let skip = kept.1.saturating_sub(e.offset).min(e.size);
                let crc = self.pass_through(src, i, skip)?;
                (e.size, crc)
            };
            if size == 0 {
                record.has_stream = false;
                record.empty_file = true;
                self.header.files.push(record);
                continue;
            }
            if e.crc.is_some_and(|c| replaced(i).is_none() && c != crc) {
                return Err(Error::corrupt(
                    at,
                    FORMAT,
                    "the content does not match its CRC: the data is damaged",
                ));
            }
            self.header.files.push(record);
            if let Some(b) = self.open.as_mut() {
                b.files.push((size, crc));
            }
        }
        if let Some(b) = self.open.as_mut()
            && b.report.input_method.is_none()
        {
            b.report.input_method = Some(input_method.clone());
        }
        self.close()?;
        self.drop_same_methods(fi);
        Ok(())
    }

    /// In the reports of input folder `fi`'s output folders, says the
    /// input's coders only where they differ from the output's.
    fn drop_same_methods(&mut self, fi: usize) {
        for r in self.reports.iter_mut().filter(|r| r.source == Some(fi)) {
            if r.input_method.as_deref() == Some(r.method.as_str()) {
                r.input_method = None;
            }
        }
    }

    /// Opens the output folder of a splice of input folder `fi`: copies its
    /// LZMA2 chunks that end before unpacked offset `cut`, then starts an
    /// LZMA2 folder whose dictionary fits the `tail` bytes still to come
    /// (never larger than the input's). Returns the packed and unpacked
    /// sizes kept.
    fn start_splice(
        &mut self,
        src: &mut Archive,
        fi: usize,
        f: &FolderInfo,
        t: &Target,
        cut: u64,
        tail: u64,
    ) -> Result<(u64, u64)> {
        let (packed, unpacked) = self.keep_chunks(src, fi, cut)?;
        if let Main::Lzma2 { prop, .. } = t.main {
            let cap = coder_dictionary(&f.record.coders[0]).unwrap_or(u64::from(MAX_DICT));
            let main = Main::Lzma2 {
                prop,
                dict: dict_for(tail, cap),
            };
            let action = if packed > 0 {
                Action::Spliced
            } else {
                Action::Reencoded
            };
            let mut r = report(Some(fi), action);
            r.kept = (packed > 0).then_some(packed);
            self.start_folder(main, &[], r)?;
            // The kept chunks are already in the output.
            if let Some(b) = self.open.as_mut() {
                b.written = packed;
                b.size = unpacked;
            }
        }
        Ok((packed, unpacked))
    }

    /// Streams input entry `i` through (CRC-checked by the reader), feeding
    /// all but its first `skip` bytes to the open folder; returns the CRC
    /// of the whole content.
    fn pass_through(&mut self, src: &mut Archive, i: usize, mut skip: u64) -> Result<u32> {
        let at = src.location(i);
        let mut r = src.open_entry(i)?;
        let mut buf = vec![0u8; 1 << 16];
        let mut crc = crc32fast::Hasher::new();
        loop {
            let k = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(into_error(e, &at)),
            };
            crc.update(&buf[..k]);
            let drop = (skip.min(k as u64)) as usize;
            skip -= drop as u64;
            if drop < k {
                self.feed(&buf[drop..k])?;
            }
        }
        Ok(crc.finalize())
    }

    /// Copies the packed LZMA2 chunks of folder `fi` that end at or before
    /// unpacked offset `cut`; returns (packed, unpacked) bytes kept.
    fn keep_chunks(&mut self, src: &Archive, fi: usize, cut: u64) -> Result<(u64, u64)> {
        let p = src.folders()[fi].packed[0];
        let mut r = src.packed(fi, 0)?;
        let at = src.location(src.folders()[fi].files[0]);
        let chunks = lzma2::chunks_until(&mut r, p.size, cut)
            .map_err(|e| Error::corrupt(at.clone(), FORMAT, e.to_string()))?;
        let Some(last) = chunks.last() else {
            return Ok((0, 0));
        };
        let (packed, unpacked) = (
            last.packed_at + last.packed_len,
            last.unpacked_at + last.unpacked_len,
        );
        r.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(src.path(), "cannot read", e))?;
        let n = io::copy(&mut (&mut r).take(packed), &mut self.out).map_err(|e| self.wfail(e))?;
        if n != packed {
            return Err(Error::corrupt(at, FORMAT, "the archive is truncated"));
        }
        self.packed += n;
        Ok((packed, unpacked))
    }

    /// For an LZMA folder: which files are mostly incompressible (more
    /// than half their bytes in 64 KiB pieces above 7.9 bits per byte).
    /// Costs one decoding pass.
    fn classify<'r>(
        &mut self,
        src: &mut Archive,
        files: &[usize],
        replaced: &dyn Fn(usize) -> Option<&'r [u8]>,
    ) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(files.len());
        for &i in files {
            let (mut stored, size) = (0u64, src.entries()[i].size);
            if let Some(b) = replaced(i) {
                stored = b
                    .chunks(lzma2::PIECE)
                    .filter(|p| lzma2::incompressible(p))
                    .map(|p| p.len() as u64)
                    .sum();
                out.push(stored * 2 > b.len() as u64);
                continue;
            }
            let at = src.location(i);
            let mut r = src.open_entry(i)?;
            let mut piece = vec![0u8; lzma2::PIECE];
            loop {
                let n = crate::package::read_up_to(&mut r, &mut piece)
                    .map_err(|e| into_error(e, &at))?;
                if n == 0 {
                    break;
                }
                if lzma2::incompressible(&piece[..n]) {
                    stored += n as u64;
                }
            }
            out.push(stored * 2 > size);
        }
        Ok(out)
    }

    /// Writes the header and the signature header; returns the output
    /// (positioned after the archive) and a report per output folder.
    pub fn finish(mut self) -> Result<(W, Vec<FolderReport>)> {
        self.close()?;
        let plain = header::write_header(&self.header);
        let next = if self.opts.encode_header {
            let packed = encode_header(&plain).map_err(|e| self.wfail(e))?;
            let coder = Coder {
                id: method::LZMA.to_vec(),
                num_in: 1,
                num_out: 1,
                props: packed.1,
            };
            let streams = Streams {
                pack_pos: self.packed,
                pack_sizes: vec![packed.0.len() as u64],
                pack_crcs: vec![None],
                folders: vec![Folder::single(
                    coder,
                    plain.len() as u64,
                    Some(crc32fast::hash(&plain)),
                )],
                num_substreams: vec![1],
                sub_sizes: Vec::new(),
                sub_crcs: Vec::new(),
            };
            self.emit(&packed.0)?;
            let mut next = Vec::new();
            header::put_number(&mut next, header::id::ENCODED_HEADER);
            header::put_streams(&mut next, &streams);
            next
        } else {
            plain
        };
        let offset = self.packed;
        self.out
            .write_all(&next)
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        let sig = header::signature_header(offset, next.len() as u64, crc32fast::hash(&next));
        let end = self.start + SIGNATURE_HEADER_SIZE + offset + next.len() as u64;
        let fail = |e| Error::io(&self.dest, "cannot write", e);
        self.out.seek(SeekFrom::Start(self.start)).map_err(fail)?;
        self.out.write_all(&sig).map_err(fail)?;
        self.out.seek(SeekFrom::Start(end)).map_err(fail)?;
        let out = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.dest, "cannot write", e.into_error()))?;
        Ok((out, self.reports))
    }
}

fn report(source: Option<usize>, action: Action) -> FolderReport {
    FolderReport {
        source,
        action,
        method: String::new(),
        input_method: None,
        files: 0,
        size: 0,
        packed: 0,
        kept: None,
    }
}

/// LZMA-encodes a header as 7-Zip does (no end marker), with a dictionary
/// that holds it; returns the packed bytes and the coder properties.
fn encode_header(plain: &[u8]) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let dict = (plain.len() as u64)
        .next_power_of_two()
        .clamp(4096, 1 << 20) as u32;
    let opts = lzma2::lzma_options(dict);
    let mut w = LzmaWriter::new_no_header(Vec::new(), &opts, false).map_err(io::Error::other)?;
    w.write_all(plain)?;
    let packed = w.finish().map_err(io::Error::other)?;
    let mut props = vec![opts.get_props()];
    props.extend_from_slice(&opts.dict_size.to_le_bytes());
    Ok((packed, props))
}
