//! Cabinet (.cab) packages: listing and reading them (None, MSZIP and LZX
//! folders), and writing new ones (MSZIP) with the `cab` crate.
//!
//! Reading: the folder and file tables are read here, and None and MSZIP
//! folders are decoded here too, one pass per folder (see `read_file`):
//! the `cab` crate 0.6 restarts a folder for every file it opens. The crate
//! still parses every cabinet (a cabinet it refuses is refused) and reads
//! LZX folders.
//!
//! The `cab` crate can panic on crafted input, for example on a folder with
//! no data blocks (fixed upstream after the last release). Every call into
//! its reader runs under `contain`, which turns a panic into a
//! corrupt-cabinet error and keeps the panic message off stderr.
//!
//! Names are stored with `\` separators; entries get `/` names like every
//! other container, and `check_names` (in the parent module) refuses
//! traversal.

use std::any::Any;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use ::cab::{Cabinet, CabinetBuilder, CompressionType};

use super::format::{
    EntryStream, Facts, Fault, Finished, Format, Out, Planned, Reader, Source, Span, Writer,
};
use super::window::Window;
use super::{Entry, Signature};
use crate::error::{Error, Location, Result};

/// The format limit on one file in a cabinet (the `cab` crate's, too).
const MAX_FILE_SIZE: u64 = 0x7fff_8000;
/// A folder counts its 32 KiB data blocks in a `u16`; a new folder starts
/// before one could overflow that (deterministically: by input sizes).
const MAX_FOLDER_DATA: u64 = 1 << 30;
/// Header flags: this cabinet is part of a multi-cabinet set.
const FLAG_PREV_CABINET: u16 = 0x1;
const FLAG_NEXT_CABINET: u16 = 0x2;

/// Runs `f`, turning a panic of the `cab` crate into an error message.
fn contain<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    crate::contain::contain(crate::contain::CAB, f)
}

fn corrupt(at: Location, reason: impl Into<String>) -> Error {
    Error::corrupt(at, "cabinet", reason)
}

/// Lists the cabinet that lies at `base`, `len` bytes long, in the file at
/// `path` (a whole .cab, or the payload of an .exe). Refuses multi-cabinet
/// sets and Quantum folders, which cannot be read.
fn open_at(span: Span) -> Result<CabReader> {
    let (path, base, len) = (span.path.as_path(), span.base, span.len);
    let at = || Location::file(path);
    let mut reader = window(path, base, len)?;
    let mut header = [0u8; 36];
    let n = super::read_up_to(&mut reader, &mut header)
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if n < header.len() {
        return Err(corrupt(
            at(),
            "the file ends inside the cabinet header (truncated)",
        ));
    }
    let flags = u16::from_le_bytes([header[30], header[31]]);
    if flags & (FLAG_PREV_CABINET | FLAG_NEXT_CABINET) != 0 {
        return Err(corrupt(
            at(),
            "the cabinet is one part of a multi-cabinet set, which sepkg cannot read; extract the set with cabextract and transform the folder",
        ));
    }
    let declared = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if u64::from(declared) > len {
        return Err(corrupt(
            at(),
            format!("the header declares {declared} bytes but only {len} are there (truncated)"),
        ));
    }
    reader
        .seek(io::SeekFrom::Start(0))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let tables = Tables::read(&mut reader).map_err(|e| {
        let reason = if e.kind() == io::ErrorKind::UnexpectedEof {
            "the folder or file table runs past the end of the cabinet (truncated, or a wrong offset in the header)".to_string()
        } else {
            e.to_string()
        };
        corrupt(at(), reason)
    })?;
    tables.check_layout(path, base, u64::from(declared))?;
    reader
        .seek(io::SeekFrom::Start(0))
        .map_err(|e| Error::io(path, "cannot read", e))?;

    // The crate parses the cabinet too: it reads LZX folders, and a
    // cabinet it refuses is refused here as well.
    let cabinet = contain(|| Cabinet::new(reader))
        .map_err(|reason| corrupt(at(), reason))?
        .map_err(|e| Error::corrupt_from(at(), "cabinet", e))?;
    for folder in cabinet.folder_entries() {
        if let CompressionType::Quantum(..) = folder.compression_type() {
            return Err(corrupt(
                at(),
                "a folder uses Quantum compression, which sepkg cannot read; extract the cabinet with cabextract and transform the folder",
            ));
        }
    }
    let entries = tables
        .files
        .iter()
        .map(|f| Entry {
            name: f.name.replace('\\', "/"),
            size: u64::from(f.size),
            is_dir: false,
        })
        .collect();
    Ok(CabReader {
        cabinet,
        tables,
        entries,
        declared: u64::from(declared),
        stream: None,
        span,
    })
}

fn window(path: &Path, base: u64, len: u64) -> Result<ArchiveReader> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let window =
        Window::new(file, base, Some(len)).map_err(|e| Error::io(path, "cannot read", e))?;
    Ok(BufReader::with_capacity(1 << 16, window))
}

type ArchiveReader = BufReader<Window<File>>;

/// An open cabinet: the `cab` crate's reader, the tables as read here,
/// and the folder stream last used.
pub(crate) struct CabReader {
    cabinet: Cabinet<ArchiveReader>,
    tables: Tables,
    entries: Vec<Entry>,
    span: Span,
    /// The header's cbCabinet: the data blocks lie within it. (A signature
    /// may follow it, within `len`.)
    declared: u64,
    stream: Option<FolderStream>,
}

/// Facts about a cabinet, for reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CabInfo {
    /// The number of folders (compression units).
    pub folders: usize,
    /// Each folder's compression: `none`, `mszip`, `quantum` or `lzx`.
    pub compression: Vec<&'static str>,
    /// The size of the header's reserve area (where signing tools put
    /// the Authenticode signature's location).
    pub header_reserve_size: usize,
    /// The Authenticode signature, when the reserve area points at one
    /// after the cabinet's data (as `signtool` and `osslsigncode` write it).
    pub signature: Option<Signature>,
}

impl CabReader {
    /// Lists the cabinet at `span` (a whole .cab, or the payload of an
    /// .exe). Refuses multi-cabinet sets and Quantum folders, which cannot
    /// be read.
    pub(crate) fn open(span: Span) -> Result<CabReader> {
        open_at(span)
    }

    /// What [`CabInfo`] says about this cabinet.
    pub(crate) fn info(&self) -> CabInfo {
        let r = &self.tables.header_reserve;
        // MS-CAB signing layout: a 20-byte reserve whose bytes 4..8 and
        // 8..12 are the signature's offset and size within the cabinet file.
        let signature = (r.len() == 20)
            .then(|| {
                let offset = u64::from(u32::from_le_bytes([r[4], r[5], r[6], r[7]]));
                let size = u64::from(u32::from_le_bytes([r[8], r[9], r[10], r[11]]));
                (offset > 0 && size > 0 && offset + size <= self.span.len)
                    .then_some(Signature { offset, size })
            })
            .flatten();
        CabInfo {
            folders: self.tables.folders.len(),
            compression: self
                .tables
                .folders
                .iter()
                .map(|f| match f.method {
                    0 => "none",
                    1 => "mszip",
                    2 => "quantum",
                    _ => "lzx",
                })
                .collect(),
            header_reserve_size: r.len(),
            signature,
        }
    }
}

/// The cabinet's folder and file tables. Read here because the `cab` crate
/// keeps a file's folder and offset private, and those are what streaming
/// a folder once (instead of once per file) needs.
struct Tables {
    folders: Vec<FolderInfo>,
    files: Vec<FileInfo>,
    data_reserve: usize,
    header_reserve: Vec<u8>,
}

struct FolderInfo {
    data_at: u64,
    blocks: u16,
    /// The low 4 bits of typeCompress: 0 none, 1 MSZIP, 2 Quantum, 3 LZX.
    method: u16,
}

struct FileInfo {
    name: String,
    size: u32,
    offset: u32,
    folder: usize,
    /// Its date and time, when they are a valid DOS date and time.
    modified: Option<time::PrimitiveDateTime>,
}

fn invalid(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

impl Tables {
    /// Reads the header, CFFOLDER and CFFILE tables (MS-CAB 2.1 to 2.3).
    fn read(r: &mut ArchiveReader) -> io::Result<Tables> {
        let mut header = [0u8; 36];
        r.read_exact(&mut header)?;
        let u16_at = |i: usize| u16::from_le_bytes([header[i], header[i + 1]]);
        let files_at = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
        let (n_folders, n_files, flags) = (u16_at(26), u16_at(28), u16_at(30));
        let (mut folder_reserve, mut data_reserve) = (0usize, 0usize);
        let mut header_reserve = Vec::new();
        if flags & 0x4 != 0 {
            let size = read_u16(r)?;
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            folder_reserve = usize::from(b[0]);
            data_reserve = usize::from(b[1]);
            header_reserve = vec![0u8; usize::from(size)];
            r.read_exact(&mut header_reserve)?;
        }
        let folders_end =
            36 + if flags & 0x4 != 0 {
                4 + header_reserve.len() as u64
            } else {
                0
            } + u64::from(n_folders) * (8 + folder_reserve as u64);
        if folders_end > u64::from(files_at) {
            return Err(invalid(format!(
                "the header declares {n_folders} folders, whose table runs into the file table at offset {files_at}"
            )));
        }
        let mut folders = Vec::with_capacity(usize::from(n_folders));
        for _ in 0..n_folders {
            let data_at = u64::from(read_u32(r)?);
            let blocks = read_u16(r)?;
            let method = read_u16(r)? & 0xF;
            r.seek_relative(folder_reserve as i64)?;
            folders.push(FolderInfo {
                data_at,
                blocks,
                method,
            });
        }
        r.seek(io::SeekFrom::Start(u64::from(files_at)))?;
        let mut files = Vec::with_capacity(usize::from(n_files));
        for _ in 0..n_files {
            let size = read_u32(r)?;
            let offset = read_u32(r)?;
            let folder = usize::from(read_u16(r)?);
            // date, time, attributes
            let mut rest = [0u8; 6];
            r.read_exact(&mut rest)?;
            let modified = super::dos::from_dos((
                u16::from_le_bytes([rest[0], rest[1]]),
                u16::from_le_bytes([rest[2], rest[3]]),
            ));
            let mut name = Vec::new();
            loop {
                let mut b = [0u8; 1];
                r.read_exact(&mut b)?;
                if b[0] == 0 {
                    break;
                }
                if name.len() == 256 {
                    return Err(invalid("a file name is longer than 256 bytes"));
                }
                name.push(b[0]);
            }
            if folder >= folders.len() {
                return Err(invalid(format!(
                    "a file refers to folder {folder}, and the cabinet has {} (continued folders of a cabinet set are not supported)",
                    folders.len()
                )));
            }
            files.push(FileInfo {
                // As the `cab` crate does, so that its name lookups match.
                name: String::from_utf8_lossy(&name).into_owned(),
                size,
                offset,
                folder,
                modified,
            });
        }
        Ok(Tables {
            folders,
            files,
            data_reserve,
            header_reserve,
        })
    }
}

impl Tables {
    /// Refuses a file table that does not tile its folders: each file's
    /// offset and size are the only record of where it is (a cabinet has
    /// no per-file checksum), so a damaged one would silently give a file
    /// part of its neighbour, or cut it short. MS-CAB writers lay a
    /// folder's files end to end from offset 0, and the folder's data
    /// blocks (their declared uncompressed sizes, read here from the block
    /// headers within cbCabinet) hold exactly those bytes.
    fn check_layout(&self, path: &Path, base: u64, declared: u64) -> Result<()> {
        let at = || Location::file(path);
        let mut order: Vec<usize> = (0..self.files.len()).collect();
        order.sort_by_key(|&i| {
            let f = &self.files[i];
            (f.folder, f.offset, f.size)
        });
        let name = |i: usize| self.files[i].name.replace('\\', "/");
        let mut ends = vec![0u64; self.folders.len()];
        let mut last: Vec<Option<usize>> = vec![None; self.folders.len()];
        for i in order {
            let f = &self.files[i];
            let start = u64::from(f.offset);
            let end = ends[f.folder];
            if start != end {
                let reason = match last[f.folder] {
                    Some(p) if start < end => format!(
                        "its bytes ({start}..{} of folder {}) overlap those of \"{}\"",
                        start + u64::from(f.size),
                        f.folder,
                        name(p)
                    ),
                    _ => format!(
                        "it starts at offset {start} of folder {}, and bytes {end}..{start} belong to no file",
                        f.folder
                    ),
                };
                return Err(corrupt(
                    Location::entry(path, name(i)),
                    format!("{reason}: an offset or size in the file table is wrong (damaged)"),
                ));
            }
            ends[f.folder] = start + u64::from(f.size);
            last[f.folder] = Some(i);
        }
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let mut r = Window::new(file, base, Some(declared))
            .map_err(|e| Error::io(path, "cannot read", e))?;
        for (n, folder) in self.folders.iter().enumerate() {
            let past = || {
                corrupt(
                    at(),
                    format!(
                        "a data block of folder {n} runs past the end of the cabinet its header declares (truncated, or a wrong offset or size in a header)"
                    ),
                )
            };
            r.seek(io::SeekFrom::Start(folder.data_at))
                .map_err(|_| past())?;
            let mut total = 0u64;
            for _ in 0..folder.blocks {
                let mut h = [0u8; 8];
                r.read_exact(&mut h).map_err(|_| past())?;
                let packed = u16::from_le_bytes([h[4], h[5]]);
                total += u64::from(u16::from_le_bytes([h[6], h[7]]));
                r.seek(io::SeekFrom::Current(
                    (self.data_reserve + usize::from(packed)) as i64,
                ))
                .map_err(|_| past())?;
            }
            // The last block's data must be there too.
            if folder.blocks > 0 && r.stream_position().map_err(|_| past())? > declared {
                return Err(past());
            }
            if total != ends[n] {
                return Err(corrupt(
                    at(),
                    format!(
                        "folder {n} holds {total} bytes, and its files take {}: an offset or size in the file table or a data block header is wrong (damaged)",
                        ends[n]
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A reader over file `index` of the cabinet.
///
/// None and MSZIP folders are decoded here by a [`FolderStream`] that is
/// kept between calls: reading a folder's files in order decodes it once.
/// (The `cab` crate restarts a folder for every file it opens, which costs
/// the folder's size again for each file: minutes for a large MSI followed
/// by many small files.) LZX folders go through the crate, panics contained.
fn read_file(src: &mut CabReader, index: usize, at: Location) -> Result<Box<dyn Read + '_>> {
    if src.entries[index].size == 0 {
        // Nothing to read; and the `cab` crate (LZX folders) panics on a
        // folder with no data blocks, where an empty file can sit.
        return Ok(Box::new(io::empty()));
    }
    let file = &src.tables.files[index];
    let (size, offset, folder) = (u64::from(file.size), u64::from(file.offset), file.folder);
    if src.tables.folders[folder].method > 1 {
        let name = file.name.clone();
        let reader = contain(|| src.cabinet.read_file(&name))
            .map_err(|reason| corrupt(at.clone(), reason))?
            .map_err(|e| Error::corrupt_from(at, "cabinet", e))?;
        return Ok(Box::new(crate::contain::ContainedReader::new(
            crate::contain::CAB,
            reader,
        )));
    }
    let reuse = matches!(&src.stream, Some(s) if s.folder == folder && s.position <= offset);
    if !reuse {
        let info = &src.tables.folders[folder];
        // Only the declared cabinet: data past it is not the cabinet's
        // (in an .exe the payload window already ends there).
        let mut reader = window(&src.span.path, src.span.base, src.declared)?;
        reader
            .seek(io::SeekFrom::Start(info.data_at))
            .map_err(|e| Error::corrupt_from(at.clone(), "cabinet", e))?;
        src.stream = Some(FolderStream {
            reader,
            folder,
            mszip: info.method == 1,
            blocks_left: info.blocks,
            data_reserve: src.tables.data_reserve,
            block: Vec::new(),
            block_pos: 0,
            position: 0,
            dictionary: Vec::with_capacity(DICTIONARY),
            inflate: flate2::Decompress::new(false),
        });
    }
    let Some(stream) = src.stream.as_mut() else {
        return Err(Error::Internal(format!("{at}: no cabinet folder stream")));
    };
    stream
        .skip_to(offset)
        .map_err(|e| Error::corrupt_from(at.clone(), "cabinet", e))?;
    Ok(Box::new(Exact {
        inner: stream,
        remaining: size,
    }))
}

/// MSZIP's history window: each block may refer to the previous 32 KiB.
const DICTIONARY: usize = 0x8000;

/// The uncompressed bytes of one cabinet folder, decoded block by block.
struct FolderStream {
    reader: ArchiveReader,
    folder: usize,
    mszip: bool,
    blocks_left: u16,
    data_reserve: usize,
    block: Vec<u8>,
    block_pos: usize,
    /// The folder offset of the next byte `read` returns.
    position: u64,
    dictionary: Vec<u8>,
    inflate: flate2::Decompress,
}

impl FolderStream {
    /// Reads and decodes the next CFDATA block (MS-CAB 2.4).
    fn next_block(&mut self) -> io::Result<()> {
        let ends = |e: io::Error| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                invalid(
                    "a data block runs past the end of the cabinet its header declares (truncated, or a wrong offset or size in a header)",
                )
            } else {
                e
            }
        };
        let checksum = read_u32(&mut self.reader).map_err(ends)?;
        let packed = usize::from(read_u16(&mut self.reader).map_err(ends)?);
        let unpacked = usize::from(read_u16(&mut self.reader).map_err(ends)?);
        let mut data = vec![0u8; self.data_reserve + packed];
        self.reader.read_exact(&mut data).map_err(ends)?;
        if checksum != 0 {
            let actual = block_checksum(&data) ^ (packed as u32 | ((unpacked as u32) << 16));
            if actual != checksum {
                return Err(invalid(format!(
                    "checksum error in a data block (expected {checksum:08x}, actual {actual:08x})"
                )));
            }
        }
        let data = &data[self.data_reserve..];
        self.block = if self.mszip {
            self.inflate_block(data, unpacked)?
        } else if packed == unpacked {
            data.to_vec()
        } else {
            return Err(invalid("an uncompressed data block's two sizes differ"));
        };
        self.block_pos = 0;
        self.blocks_left -= 1;
        Ok(())
    }

    /// One MSZIP block: `CK` and a deflate stream whose history is the
    /// previous blocks' last 32 KiB. The history is primed by feeding it as
    /// a stored deflate block, as the `cab` crate does.
    fn inflate_block(&mut self, data: &[u8], size: usize) -> io::Result<Vec<u8>> {
        let Some(deflated) = data.strip_prefix(b"CK") else {
            return Err(invalid("MSZIP block without its CK signature"));
        };
        let failed =
            |e: flate2::DecompressError| invalid(format!("MSZIP block does not inflate: {e}"));
        self.inflate.reset(false);
        if !self.dictionary.is_empty() {
            let n = self.dictionary.len() as u16;
            let mut stored = Vec::with_capacity(5 + self.dictionary.len());
            stored.push(0);
            stored.extend_from_slice(&n.to_le_bytes());
            stored.extend_from_slice(&(!n).to_le_bytes());
            stored.extend_from_slice(&self.dictionary);
            let mut sink = Vec::with_capacity(self.dictionary.len());
            self.inflate
                .decompress_vec(&stored, &mut sink, flate2::FlushDecompress::Sync)
                .map_err(failed)?;
        }
        let mut out = Vec::with_capacity(size);
        self.inflate
            .decompress_vec(deflated, &mut out, flate2::FlushDecompress::Finish)
            .map_err(failed)?;
        if out.len() != size {
            return Err(invalid(format!(
                "MSZIP block inflates to {} bytes, not the {size} its header declares",
                out.len()
            )));
        }
        let keep = (self.dictionary.len() + out.len()).saturating_sub(DICTIONARY);
        self.dictionary.drain(..keep.min(self.dictionary.len()));
        let from = out.len().saturating_sub(DICTIONARY);
        self.dictionary.extend_from_slice(&out[from..]);
        Ok(out)
    }

    /// Reads and drops bytes up to folder offset `offset`.
    fn skip_to(&mut self, offset: u64) -> io::Result<()> {
        let mut scratch = vec![0u8; 1 << 16];
        while self.position < offset {
            let want = (offset - self.position).min(scratch.len() as u64) as usize;
            if self.read(&mut scratch[..want])? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the folder's data ends before this file starts (truncated)",
                ));
            }
        }
        Ok(())
    }
}

impl Read for FolderStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.block_pos == self.block.len() {
            if self.blocks_left == 0 || buf.is_empty() {
                return Ok(0);
            }
            self.next_block()?;
        }
        let n = buf.len().min(self.block.len() - self.block_pos);
        buf[..n].copy_from_slice(&self.block[self.block_pos..self.block_pos + n]);
        self.block_pos += n;
        self.position += n as u64;
        Ok(n)
    }
}

/// The CFDATA checksum (MS-CAB 2.4, `CSUMCompute`): the XOR of the data's
/// little-endian 32-bit words, the 1 to 3 bytes left over taken in reverse.
fn block_checksum(data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(4);
    let mut sum = 0u32;
    for w in &mut words {
        sum ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    let mut tail = 0u32;
    for &b in words.remainder() {
        tail = (tail << 8) | u32::from(b);
    }
    sum ^ tail
}

/// Exactly `remaining` bytes of `inner`: ending early is an error (the
/// cabinet is truncated), not a short file.
struct Exact<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = self.remaining.min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the cabinet's data ends inside this file (truncated)",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl Reader for CabReader {
    fn format(&self) -> Format {
        Format::Cab
    }

    fn span(&self) -> &Span {
        &self.span
    }

    fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn open(&mut self, index: usize) -> Result<EntryStream<'_>> {
        let at = Location::entry(&self.span.path, &self.entries[index].name);
        let reader = read_file(self, index, at.clone())?;
        Ok(EntryStream::new(reader, at, Fault::Archive("cabinet")))
    }

    fn modified(&self, index: usize) -> Option<time::PrimitiveDateTime> {
        self.tables.files[index].modified
    }

    fn reopen(&self, _source: Box<dyn Source>) -> Result<Box<dyn Reader>> {
        // A cabinet's folders are read through handles of their own, opened
        // by path; the source is not needed.
        Ok(Box::new(open_at(self.span.clone())?))
    }

    fn facts(&self) -> Facts {
        Facts {
            cab: Some(self.info()),
            ..Facts::default()
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Writes a cabinet into the output from its current position on (after
/// an .exe stub, say). A cabinet's offsets count from its header, so it is
/// written through a [`Window`] starting there.
///
/// Determinism: MSZIP folders, files in plan order, a new folder only
/// when one would pass [`MAX_FOLDER_DATA`]; every file gets the time
/// 1980-01-01 00:00:00 (with `--keep-times`, its input entry's time) and
/// exactly the archive attribute.
pub(crate) struct CabWriter {
    writer: ::cab::CabinetWriter<Window<Out>>,
    names: Vec<String>,
    dest: PathBuf,
}

impl CabWriter {
    pub(crate) fn new(mut out: Out, plan: &[Planned], dest: &Path) -> Result<CabWriter> {
        let werr = |e: io::Error| Error::io(dest, "cannot write", e);
        let files: Vec<&Planned> = plan.iter().filter(|p| !p.is_dir).collect();
        let too_big = |what: String| Error::Limit {
            at: Location::file(dest),
            what: format!("{what}; a cabinet cannot hold it: write a zip instead (--to zip)"),
        };
        if files.len() > 0xffff {
            return Err(too_big(format!("{} files", files.len())));
        }
        // A file's declared size is not checked against the limit here: an
        // archive entry can lie about its size, and that is damage, which
        // the copy loop reports naming the input's entry. The bytes
        // actually copied are checked in `add_file`.
        let midnight = time::macros::datetime!(1980-01-01 00:00:00);
        let mut builder = CabinetBuilder::new();
        let mut folder_data = 0u64;
        let mut folder = builder.add_folder(CompressionType::MsZip);
        for (n, p) in files.iter().enumerate() {
            if n > 0 && folder_data + p.size > MAX_FOLDER_DATA {
                folder = builder.add_folder(CompressionType::MsZip);
                folder_data = 0;
            }
            folder_data += p.size;
            let f = folder.add_file(p.name.replace('/', "\\"));
            f.set_datetime(p.modified.unwrap_or(midnight));
            f.set_is_archive(true);
            f.set_is_read_only(false);
            f.set_is_hidden(false);
            f.set_is_system(false);
            f.set_is_exec(false);
        }
        let start = out.stream_position().map_err(werr)?;
        let window = Window::new(out, start, None).map_err(werr)?;
        Ok(CabWriter {
            writer: builder.build(window).map_err(werr)?,
            names: plan.iter().map(|p| p.name.clone()).collect(),
            dest: dest.to_path_buf(),
        })
    }
}

impl Writer for CabWriter {
    fn add_file(&mut self, row: usize, content: &mut dyn Read) -> Result<Option<&'static str>> {
        let werr = |e: io::Error| Error::io(&self.dest, "cannot write", e);
        let Some(mut out) = self.writer.next_file().map_err(werr)? else {
            return Err(Error::Internal(format!(
                "the cabinet writer ran out of files before {:?}",
                self.names[row]
            )));
        };
        let copied = io::copy(&mut content.take(MAX_FILE_SIZE + 1), &mut out).map_err(werr)?;
        if copied > MAX_FILE_SIZE {
            return Err(Error::Limit {
                at: Location::file(&self.dest),
                what: format!(
                    "{} is over {MAX_FILE_SIZE} bytes; a cabinet cannot hold it: write a zip instead (--to zip)",
                    self.names[row]
                ),
            });
        }
        Ok(Some("mszip"))
    }

    fn add_dir(&mut self, _row: usize) -> Result<()> {
        // A cabinet has no folder entries: an empty folder is not kept.
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Finished> {
        let window = self
            .writer
            .finish()
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        Ok(Finished::File(window.into_inner(), Vec::new()))
    }
}

/// The end of the cabinet starting at `at` in `file` (an .exe's payload):
/// its header's cbCabinet.
pub(crate) fn locate(file: &mut File, path: &Path, at: u64) -> Result<u64> {
    let mut header = [0u8; 12];
    file.seek(io::SeekFrom::Start(at))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let n = super::read_up_to(file, &mut header).map_err(|e| Error::io(path, "cannot read", e))?;
    if n < header.len() {
        return Err(corrupt(
            Location::file(path),
            format!("the file ends inside the cabinet header at offset {at} (truncated)"),
        ));
    }
    Ok(at
        + u64::from(u32::from_le_bytes([
            header[8], header[9], header[10], header[11],
        ])))
}
