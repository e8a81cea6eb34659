//! Opening a 7z archive in place and streaming its entries.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use serde::Serialize;
use sevenz_rust2::{BlockDecoder, Password};

use super::header::{
    self, Folder, Header, Next, SIGNATURE, SIGNATURE_HEADER_SIZE, Streams, method,
};
use super::{FORMAT, contain, lzma2};
use crate::error::{Error, Location, Result};
use crate::package::Window;

/// Headers larger than this (plain or decoded) are refused: a SEP package's
/// is a few KB, and 7-Zip's for a million files is tens of MB.
const MAX_HEADER: u64 = 64 << 20;
/// Decoded bytes per message from the decoder thread.
const BLOCK: usize = 256 << 10;

/// One entry of a 7z archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored, `/`-separated when 7-Zip wrote it.
    pub name: String,
    /// The uncompressed size.
    pub size: u64,
    /// A directory.
    pub is_dir: bool,
    /// The entry has content in a folder (false: a directory or an empty file).
    pub has_stream: bool,
    /// An empty file (no stream, not a directory).
    pub empty_file: bool,
    /// The CRC-32 of the content, when stored.
    pub crc: Option<u32>,
    /// The folder holding the content, and the file's index in it.
    pub folder: Option<(usize, usize)>,
    /// Where the content starts in the folder's unpacked stream.
    pub offset: u64,
    /// The record as stored: times, attributes.
    pub record: header::File,
}

/// A packed stream, for raw copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PackedStream {
    /// Offset from the archive's start (its signature).
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
}

/// One folder (solid block): the unit a raw copy works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    /// The record as stored: coders, bind pairs, packed-stream indexes.
    pub record: Folder,
    /// Its packed streams.
    pub packed: Vec<PackedStream>,
    /// Their CRCs, when stored.
    pub(crate) pack_crcs: Vec<Option<u32>>,
    /// The unpacked size.
    pub unpack_size: u64,
    /// The entries from its first file to its last (empty entries between
    /// them included).
    pub entries: Range<usize>,
    /// The entries whose content it holds, in order.
    pub files: Vec<usize>,
    /// The largest LZMA or LZMA2 dictionary among its coders.
    pub dictionary: Option<u64>,
}

impl FolderInfo {
    /// The coders as `7zz l` lists them (`"BCJ LZMA2:25"`: the filter
    /// first, the compressor that reads the packed stream last).
    pub fn method(&self) -> String {
        folder_method(&self.record)
    }

    /// Total packed size.
    pub fn packed_size(&self) -> u64 {
        self.packed.iter().map(|p| p.size).sum()
    }
}

/// A folder's coders as `7zz l` lists them: content side first, the
/// reverse of record order.
pub(crate) fn folder_method(f: &Folder) -> String {
    let names: Vec<String> = f.coders.iter().rev().map(coder_name).collect();
    names.join(" ")
}

/// A coder's name, with its dictionary for LZMA and LZMA2.
pub(crate) fn coder_name(c: &header::Coder) -> String {
    let base = match c.id.as_slice() {
        method::COPY => "Copy",
        method::LZMA => "LZMA",
        method::LZMA2 => "LZMA2",
        method::BCJ_X86 => "BCJ",
        method::BCJ2 => "BCJ2",
        method::PPC => "PPC",
        method::IA64 => "IA64",
        method::ARM => "ARM",
        method::ARMT => "ARMT",
        method::ARM64 => "ARM64",
        method::SPARC => "SPARC",
        method::RISCV => "RISCV",
        method::DELTA => "Delta",
        method::PPMD => "PPMD",
        method::BZIP2 => "BZip2",
        method::DEFLATE => "Deflate",
        method::AES => "7zAES",
        other => return format!("method {}", hex::encode(other)),
    };
    // As 7-Zip prints them: "LZMA2:25" for 2^25 bytes, "LZMA2:384k".
    match coder_dictionary(c) {
        Some(d) if d.is_power_of_two() => format!("{base}:{}", d.trailing_zeros()),
        Some(d) if d % (1 << 20) == 0 => format!("{base}:{}m", d >> 20),
        Some(d) if d % (1 << 10) == 0 => format!("{base}:{}k", d >> 10),
        Some(d) => format!("{base}:{d}b"),
        None => base.to_string(),
    }
}

/// The dictionary an LZMA or LZMA2 coder declares.
pub(crate) fn coder_dictionary(c: &header::Coder) -> Option<u64> {
    match c.id.as_slice() {
        method::LZMA2 => c.props.first().and_then(|&p| lzma2::dictionary_size(p)),
        method::LZMA if c.props.len() >= 5 => Some(u64::from(u32::from_le_bytes([
            c.props[1], c.props[2], c.props[3], c.props[4],
        ]))),
        _ => None,
    }
}

/// Facts about the archive, for `audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// Number of folders (solid blocks).
    pub folders: usize,
    /// Number of entries.
    pub entries: usize,
    /// Each folder's coders (`"BCJ LZMA2:25"`), files and packed size.
    pub units: Vec<FactsFolder>,
    /// The largest dictionary of any folder: what a self-extractor allocates.
    pub dictionary: Option<u64>,
    /// True when a folder holds more than one file.
    pub solid: bool,
    /// True when the header itself is compressed.
    pub header_encoded: bool,
    /// The header's coders when encoded (`"LZMA:16"`).
    pub header_method: Option<String>,
}

/// One folder in [`Facts`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactsFolder {
    /// Coders as `7zz l` lists them.
    pub method: String,
    /// Files it holds.
    pub files: usize,
    /// Unpacked size.
    pub size: u64,
    /// Packed size.
    pub packed: u64,
}

/// One step of walking an archive in order: what a writer is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An entry outside every folder (a directory or empty file before,
    /// between or after folders).
    Entry(usize),
    /// A folder, with every entry in its range.
    Folder(usize),
}

/// An opened 7z archive.
pub struct Archive {
    path: PathBuf,
    base: u64,
    len: u64,
    entries: Vec<Entry>,
    folders: Vec<FolderInfo>,
    header_method: Option<String>,
    decoding: Arc<sevenz_rust2::Archive>,
    stream: Option<FolderStream>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("path", &self.path)
            .field("base", &self.base)
            .field("entries", &self.entries.len())
            .field("folders", &self.folders.len())
            .finish()
    }
}

fn corrupt_file(path: &Path, reason: impl Into<String>) -> Error {
    Error::corrupt(Location::file(path), FORMAT, reason.into())
}

/// Turns an error from an entry reader back into the [`Error`] it carries,
/// or, for a plain I/O error, a corrupt-archive error at `at`.
pub fn into_error(e: io::Error, at: &Location) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>())
        && let Some(inner) = e.into_inner()
        && let Ok(err) = inner.downcast::<Error>()
    {
        return *err;
    }
    Error::corrupt(at.clone(), FORMAT, "cannot read the archive".to_string())
}

fn carry(err: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err)
}

/// Finds a 7z archive in `file[from..to]` the way 7-Zip does: the first
/// signature whose start-header CRC checks. Returns its offset and its
/// length as the start header declares it (clipped to `to`; a shorter
/// file is reported as truncated by [`Archive::open`]).
pub fn find_payload(file: &mut File, from: u64, to: u64) -> io::Result<Option<(u64, u64)>> {
    let mut at = from;
    let mut buf = vec![0u8; 1 << 16];
    let mut carry_over = 0usize;
    while at + (carry_over as u64) < to {
        file.seek(SeekFrom::Start(at + carry_over as u64))?;
        let want = ((to - at - carry_over as u64) as usize).min(buf.len() - carry_over);
        let n = crate::package::read_up_to(file, &mut buf[carry_over..carry_over + want])?;
        if n == 0 {
            break;
        }
        let filled = carry_over + n;
        let mut i = 0;
        while i + SIGNATURE.len() <= filled {
            if &buf[i..i + SIGNATURE.len()] == SIGNATURE
                && (at + i as u64) + SIGNATURE_HEADER_SIZE <= to
            {
                let mut sh = [0u8; 32];
                file.seek(SeekFrom::Start(at + i as u64))?;
                file.read_exact(&mut sh)?;
                if let Ok(s) = header::parse_signature_header(&sh) {
                    let start = at + i as u64;
                    let declared = SIGNATURE_HEADER_SIZE
                        .saturating_add(s.next_offset)
                        .saturating_add(s.next_size);
                    return Ok(Some((start, declared.min(to - start))));
                }
            }
            i += 1;
        }
        let keep = SIGNATURE.len() - 1;
        let drop = filled.saturating_sub(keep);
        buf.copy_within(drop..filled, 0);
        at += drop as u64;
        carry_over = filled - drop;
        if n < want {
            break;
        }
    }
    Ok(None)
}

impl Archive {
    /// Opens the 7z archive at `base` in `path`, `len` bytes long (a plain
    /// `.7z`: base 0 and the file's length), and lists its entries.
    pub fn open(path: &Path, base: u64, len: u64) -> Result<Archive> {
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let mut win =
            Window::new(file, base, Some(len)).map_err(|e| Error::io(path, "cannot read", e))?;
        let (header, header_method) = read_header(path, &mut win, len)?;
        let (entries, folders) = layout(path, &header)?;
        refuse_unsafe(path, &entries, &folders)?;
        let decoding = contain(|| {
            win.seek(SeekFrom::Start(0))?;
            let mut buffered = BufReader::with_capacity(1 << 16, &mut win);
            sevenz_rust2::Archive::read(&mut buffered, &Password::empty())
                .map_err(|e| io::Error::other(describe(&e)))
        })
        .map_err(|m| corrupt_file(path, m))?
        .map_err(|e| corrupt_file(path, e.to_string()))?;
        agree(path, &entries, &folders, &decoding)?;
        Ok(Archive {
            path: path.to_path_buf(),
            base,
            len,
            entries,
            folders,
            header_method,
            decoding: Arc::new(decoding),
            stream: None,
        })
    }

    /// The archive file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the archive starts in the file, and its length.
    pub fn span(&self) -> (u64, u64) {
        (self.base, self.len)
    }

    /// Every entry, in archive order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every folder, in archive order.
    pub fn folders(&self) -> &[FolderInfo] {
        &self.folders
    }

    /// The archive in order: each entry outside a folder, and each folder
    /// (covering the entries in its range).
    pub fn plan(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut i = 0;
        let mut next_folder = 0;
        while i < self.entries.len() {
            match self.folders.get(next_folder) {
                Some(f) if f.entries.start == i => {
                    steps.push(Step::Folder(next_folder));
                    i = f.entries.end;
                    next_folder += 1;
                }
                _ => {
                    steps.push(Step::Entry(i));
                    i += 1;
                }
            }
        }
        steps
    }

    /// Facts for reports.
    pub fn facts(&self) -> Facts {
        Facts {
            folders: self.folders.len(),
            entries: self.entries.len(),
            units: self
                .folders
                .iter()
                .map(|f| FactsFolder {
                    method: f.method(),
                    files: f.files.len(),
                    size: f.unpack_size,
                    packed: f.packed_size(),
                })
                .collect(),
            dictionary: self.folders.iter().filter_map(|f| f.dictionary).max(),
            solid: self.folders.iter().any(|f| f.files.len() > 1),
            header_encoded: self.header_method.is_some(),
            header_method: self.header_method.clone(),
        }
    }

    /// A location naming entry `i`.
    pub fn location(&self, i: usize) -> Location {
        Location::entry(&self.path, &self.entries[i].name)
    }

    /// A reader over packed stream `k` of folder `folder`, as stored.
    pub fn packed(&self, folder: usize, k: usize) -> Result<Window<File>> {
        let p = self.folders[folder].packed[k];
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, "cannot open", e))?;
        Window::new(file, self.base + p.offset, Some(p.size))
            .map_err(|e| Error::io(&self.path, "cannot read", e))
    }

    /// A streaming reader over entry `i`'s content, CRC-checked. Reading a
    /// folder's entries in order decodes the folder once. Read errors carry
    /// an [`Error`] naming the entry ([`into_error`]).
    pub fn open_entry(&mut self, i: usize) -> Result<EntryReader<'_>> {
        let Some((folder, k)) = self.entries[i].folder else {
            return Ok(EntryReader {
                stream: None,
                at: self.location(i),
                last: false,
                done: true,
            });
        };
        let reuse =
            matches!(&self.stream, Some(s) if s.folder == folder && s.pending <= k && !s.failed);
        if !reuse {
            self.stream = None;
            self.stream = Some(FolderStream::spawn(
                self.path.clone(),
                self.base,
                self.len,
                Arc::clone(&self.decoding),
                folder,
            ));
        }
        let at = self.location(i);
        let files = self.folders[folder].files.clone();
        let names: Vec<String> = files
            .iter()
            .map(|&e| self.entries[e].name.clone())
            .collect();
        let path = self.path.clone();
        let Some(stream) = self.stream.as_mut() else {
            return Err(Error::corrupt(at, FORMAT, "internal: no folder stream"));
        };
        // What is left of a partly read file is not this one's.
        stream.buf.clear();
        stream.pos = 0;
        // Skip (decoding and checking) the files before this one.
        while stream.pending <= k {
            match stream.recv() {
                Msg::Begin(j) => {
                    if j != stream.pending {
                        stream.failed = true;
                        return Err(Error::corrupt(at, FORMAT, "internal: decoder out of order"));
                    }
                    stream.pending = j + 1;
                }
                Msg::Data(_) | Msg::End => {}
                Msg::Done => {
                    stream.failed = true;
                    return Err(Error::corrupt(
                        at,
                        FORMAT,
                        "the folder ends before this file",
                    ));
                }
                Msg::Fail(reason) => {
                    stream.failed = true;
                    let at = match names.get(stream.pending.saturating_sub(1)) {
                        Some(n) => Location::entry(&path, n),
                        None => at,
                    };
                    return Err(Error::corrupt(at, FORMAT, reason));
                }
            }
        }
        Ok(EntryReader {
            last: k + 1 == files.len(),
            stream: Some(stream),
            at,
            done: false,
        })
    }
}

/// Reads the signature header and the (decoded) header.
fn read_header(path: &Path, win: &mut Window<File>, len: u64) -> Result<(Header, Option<String>)> {
    let bad = |m: String| corrupt_file(path, m);
    let io_bad = |e: io::Error| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            corrupt_file(path, "the archive is truncated")
        } else {
            Error::io(path, "cannot read", e)
        }
    };
    let mut sh = [0u8; 32];
    win.seek(SeekFrom::Start(0)).map_err(io_bad)?;
    win.read_exact(&mut sh).map_err(io_bad)?;
    let start = header::parse_signature_header(&sh).map_err(bad)?;
    let end = SIGNATURE_HEADER_SIZE
        .checked_add(start.next_offset)
        .and_then(|v| v.checked_add(start.next_size));
    match end {
        Some(end) if end <= len => {}
        _ => {
            return Err(bad(format!(
                "its header lies past the end of the file ({} bytes from the archive's start, {} bytes present): the archive is truncated, or the first part of a multi-volume archive (NAME.7z.001, ...): join the parts into one file (`cat NAME.7z.0* > NAME.7z`) and give that",
                end.unwrap_or(u64::MAX),
                len
            )));
        }
    }
    if start.next_size == 0 {
        return Ok((Header::default(), None));
    }
    if start.next_size > MAX_HEADER {
        return Err(bad(format!(
            "its header is {} bytes, more than the {MAX_HEADER}-byte limit",
            start.next_size
        )));
    }
    let mut buf = vec![0u8; start.next_size as usize];
    win.seek(SeekFrom::Start(SIGNATURE_HEADER_SIZE + start.next_offset))
        .map_err(io_bad)?;
    win.read_exact(&mut buf).map_err(io_bad)?;
    if crc32fast::hash(&buf) != start.next_crc {
        return Err(bad("its header does not match the header CRC".into()));
    }
    let mut method_name = None;
    for _ in 0..4 {
        match header::parse_next(&buf).map_err(|m| bad(format!("bad header: {m}")))? {
            Next::Plain(h) => return Ok((h, method_name)),
            Next::Encoded(s) => {
                let (bytes, name) = decode_header(path, win, &s, start.next_offset)?;
                method_name = Some(name);
                buf = bytes;
            }
        }
    }
    Err(bad("the header is encoded more than four times over".into()))
}

/// Decodes an encoded header (LZMA, LZMA2 or Copy, as 7-Zip writes it).
fn decode_header(
    path: &Path,
    win: &mut Window<File>,
    s: &Streams,
    limit: u64,
) -> Result<(Vec<u8>, String)> {
    let bad = |m: &str| corrupt_file(path, format!("bad encoded header: {m}"));
    let [folder] = s.folders.as_slice() else {
        return Err(bad("it is not one folder"));
    };
    if folder.coders.iter().any(|c| c.id == method::AES) {
        return Err(Error::UnsafeEntry {
            at: Location::file(path),
            reason: "the archive's header is encrypted (7z AES, `-mhe=on`): sepkg does not decrypt packages; export the package again without a password".into(),
        });
    }
    let [coder] = folder.coders.as_slice() else {
        return Err(bad("it has more than one coder"));
    };
    let (Some(&size), Some(&offset)) = (s.pack_sizes.first(), Some(&s.pack_pos)) else {
        return Err(bad("it has no packed stream"));
    };
    let unpack = folder.unpack_size();
    if unpack > MAX_HEADER {
        return Err(bad("it decodes to more than the header size limit"));
    }
    match offset.checked_add(size) {
        Some(end) if end <= limit => {}
        _ => return Err(bad("its packed stream lies outside the archive")),
    }
    win.seek(SeekFrom::Start(SIGNATURE_HEADER_SIZE + offset))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let packed = (&mut *win).take(size);
    let mut out = Vec::with_capacity(unpack as usize);
    let decoded = contain(|| -> io::Result<()> {
        match coder.id.as_slice() {
            method::COPY => {
                packed.take(unpack).read_to_end(&mut out)?;
            }
            method::LZMA if coder.props.len() >= 5 => {
                let dict = u32::from_le_bytes([
                    coder.props[1],
                    coder.props[2],
                    coder.props[3],
                    coder.props[4],
                ]);
                lzma_rust2::LzmaReader::new_with_props(packed, unpack, coder.props[0], dict, None)
                    .map_err(io::Error::other)?
                    .read_to_end(&mut out)?;
            }
            method::LZMA2 if !coder.props.is_empty() => {
                let dict = lzma2::dictionary_size(coder.props[0])
                    .ok_or_else(|| io::Error::other("bad LZMA2 dictionary"))?;
                lzma_rust2::Lzma2Reader::new(packed, dict.min(u64::from(u32::MAX)) as u32, None)
                    .take(unpack)
                    .read_to_end(&mut out)?;
            }
            _ => return Err(io::Error::other("its coder is not LZMA, LZMA2 or Copy")),
        }
        Ok(())
    });
    match decoded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(bad(&e.to_string())),
        Err(m) => return Err(bad(&m)),
    }
    if out.len() as u64 != unpack {
        return Err(bad("it decodes to fewer bytes than declared"));
    }
    if let Some(crc) = folder.crc
        && crc32fast::hash(&out) != crc
    {
        return Err(bad("it does not match its CRC"));
    }
    Ok((out, coder_name(coder)))
}

/// Maps files to folders and checks that every packed stream lies inside
/// the archive.
fn layout(path: &Path, h: &Header) -> Result<(Vec<Entry>, Vec<FolderInfo>)> {
    let bad = |m: String| corrupt_file(path, m);
    let s = &h.streams;
    let mut offsets = Vec::with_capacity(s.pack_sizes.len());
    let mut at = SIGNATURE_HEADER_SIZE
        .checked_add(s.pack_pos)
        .ok_or_else(|| bad("packed streams lie outside the archive".into()))?;
    for &size in &s.pack_sizes {
        offsets.push(at);
        at = at
            .checked_add(size)
            .ok_or_else(|| bad("packed streams lie outside the archive".into()))?;
    }
    let mut folders = Vec::with_capacity(s.folders.len());
    let mut pack = 0usize;
    let mut sub = 0usize;
    // Substream index -> (folder, index in folder, offset).
    let mut subs = Vec::with_capacity(s.sub_sizes.len());
    for (fi, f) in s.folders.iter().enumerate() {
        let n = f.packed.len();
        let packed: Vec<PackedStream> = (pack..pack + n)
            .map(|k| PackedStream {
                offset: offsets[k],
                size: s.pack_sizes[k],
            })
            .collect();
        let pack_crcs = s
            .pack_crcs
            .get(pack..pack + n)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        pack += n;
        let count = s.num_substreams[fi] as usize;
        let mut off = 0u64;
        for k in 0..count {
            subs.push((fi, k, off, s.sub_sizes[sub + k], s.sub_crcs[sub + k]));
            off += s.sub_sizes[sub + k];
        }
        sub += count;
        folders.push(FolderInfo {
            dictionary: f.coders.iter().filter_map(coder_dictionary).max(),
            record: f.clone(),
            packed,
            pack_crcs,
            unpack_size: f.unpack_size(),
            entries: 0..0,
            files: Vec::with_capacity(count),
        });
    }
    let mut entries = Vec::with_capacity(h.files.len());
    let mut next = subs.into_iter();
    for (i, file) in h.files.iter().enumerate() {
        let mut e = Entry {
            name: file.name.clone(),
            size: 0,
            is_dir: file.is_dir(),
            has_stream: file.has_stream,
            empty_file: !file.has_stream && file.empty_file,
            crc: None,
            folder: None,
            offset: 0,
            record: file.clone(),
        };
        if file.has_stream {
            let Some((fi, k, off, size, crc)) = next.next() else {
                return Err(bad("more files have content than the folders hold".into()));
            };
            e.size = size;
            e.crc = crc;
            e.folder = Some((fi, k));
            e.offset = off;
            let f = &mut folders[fi];
            if f.files.is_empty() {
                f.entries.start = i;
            }
            f.entries.end = i + 1;
            f.files.push(i);
        }
        entries.push(e);
    }
    for (fi, f) in folders.iter().enumerate() {
        if f.files.is_empty() {
            return Err(bad(format!("folder {fi} holds no file")));
        }
    }
    Ok((entries, folders))
}

/// Refuses encryption, unsafe or duplicate names and anti-items, naming
/// the first entry concerned.
fn refuse_unsafe(path: &Path, entries: &[Entry], folders: &[FolderInfo]) -> Result<()> {
    for f in folders {
        if f.record.coders.iter().any(|c| c.id == method::AES) {
            let name = &entries[f.files[0]].name;
            return Err(Error::UnsafeEntry {
                at: Location::entry(path, name),
                reason: "the entry is encrypted (7z AES): sepkg does not decrypt packages; export the package again without a password".into(),
            });
        }
    }
    // The container layer checks names for every format too; the engine
    // refuses what no caller may unpack, so that it is safe on its own.
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let reason = match crate::package::unsafe_name(&e.name) {
            Some(r) => Some(r.to_string()),
            None if !seen.insert(e.name.trim_end_matches('/').to_lowercase()) => Some(
                "the name appears twice in the archive (letter case ignored, as on Windows)".into(),
            ),
            None => None,
        };
        if let Some(reason) = reason {
            return Err(Error::UnsafeEntry {
                at: Location::entry(path, &e.name),
                reason,
            });
        }
    }
    if let Some(e) = entries.iter().find(|e| e.record.anti) {
        return Err(Error::UnsafeEntry {
            at: Location::entry(path, &e.name),
            reason: "an anti-item (a deletion marker of a 7-Zip update archive), not a file: make the package with `7zz a` into a new archive".into(),
        });
    }
    Ok(())
}

/// Checks that sevenz-rust2's parse agrees with ours.
fn agree(
    path: &Path,
    entries: &[Entry],
    folders: &[FolderInfo],
    a: &sevenz_rust2::Archive,
) -> Result<()> {
    let same = a.files.len() == entries.len()
        && a.blocks.len() == folders.len()
        && a.files.iter().zip(entries).all(|(f, e)| {
            f.name == e.name && f.has_stream == e.has_stream && (!e.has_stream || f.size == e.size)
        })
        && a.blocks.iter().zip(folders).all(|(b, f)| {
            b.get_unpack_size() == f.unpack_size && b.coders.len() == f.record.coders.len()
        });
    if same {
        Ok(())
    } else {
        Err(corrupt_file(
            path,
            "its header is ambiguous: two readers disagree on its files or folders",
        ))
    }
}

/// A sevenz-rust2 error as a sentence.
fn describe(e: &sevenz_rust2::Error) -> String {
    use sevenz_rust2::Error as E;
    match e {
        E::ChecksumVerificationFailed => {
            "the content does not match its CRC: the data is damaged".into()
        }
        E::NextHeaderCrcMismatch => "its header does not match the header CRC".into(),
        E::Io(err, ctx) if ctx.is_empty() => io_reason(err),
        E::Io(err, ctx) => format!("{ctx}: {}", io_reason(err)),
        E::Other(m) => m.to_string(),
        E::UnsupportedCompressionMethod(m) => format!("unsupported compression method {m}"),
        E::PasswordRequired => "encrypted".into(),
        other => format!("{other}"),
    }
}

fn io_reason(e: &io::Error) -> String {
    if let Some(inner) = e.get_ref()
        && let Some(sz) = inner.downcast_ref::<sevenz_rust2::Error>()
    {
        return describe(sz);
    }
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return "the data ends early: the archive is truncated or damaged".into();
    }
    if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::Other) {
        // The decoders' own words ("dist overflow", "corrupted input")
        // mean the packed data does not decode.
        return format!("the compressed data does not decode ({e}): the archive is damaged");
    }
    e.to_string()
}

// ------------------------------------------------------- the decoder thread

enum Msg {
    /// Substream `k` of the folder starts.
    Begin(usize),
    Data(Vec<u8>),
    /// The current substream ended and its CRC checked.
    End,
    /// The folder ended and its checks passed.
    Done,
    Fail(String),
}

/// A folder being decoded by a sevenz-rust2 decoder on its own thread.
struct FolderStream {
    folder: usize,
    rx: Option<Receiver<Msg>>,
    /// The substream whose `Begin` has not been received yet.
    pending: usize,
    buf: Vec<u8>,
    pos: usize,
    failed: bool,
    worker: Option<JoinHandle<()>>,
}

impl FolderStream {
    fn spawn(
        path: PathBuf,
        base: u64,
        len: u64,
        archive: Arc<sevenz_rust2::Archive>,
        folder: usize,
    ) -> FolderStream {
        let (tx, rx) = sync_channel(4);
        let worker = std::thread::Builder::new()
            .name("7z-decoder".into())
            .spawn(move || decode(path, base, len, archive, folder, tx))
            .ok();
        FolderStream {
            folder,
            rx: Some(rx),
            pending: 0,
            buf: Vec::new(),
            pos: 0,
            failed: worker.is_none(),
            worker,
        }
    }

    fn recv(&mut self) -> Msg {
        match self.rx.as_ref().map(Receiver::recv) {
            Some(Ok(m)) => m,
            _ => Msg::Fail("the decoder stopped".into()),
        }
    }
}

impl Drop for FolderStream {
    fn drop(&mut self) {
        // The decoder's next send fails, and it ends.
        self.rx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn decode(
    path: PathBuf,
    base: u64,
    len: u64,
    archive: Arc<sevenz_rust2::Archive>,
    folder: usize,
    tx: SyncSender<Msg>,
) {
    let stop = || sevenz_rust2::Error::from(io::Error::other("stopped"));
    let outcome = contain(|| -> std::result::Result<(), String> {
        let file = File::open(&path).map_err(|e| e.to_string())?;
        let win = Window::new(file, base, Some(len)).map_err(|e| e.to_string())?;
        let mut src = BufReader::with_capacity(1 << 16, win);
        let password = Password::empty();
        let decoder = BlockDecoder::new(1, folder, &archive, &password, &mut src);
        let mut k = 0usize;
        let result = decoder.for_each_entries(&mut |entry, r| {
            if !entry.has_stream {
                return Ok(true);
            }
            tx.send(Msg::Begin(k)).map_err(|_| stop())?;
            k += 1;
            loop {
                let mut buf = vec![0u8; BLOCK];
                let n = crate::package::read_up_to(&mut &mut *r, &mut buf)?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                tx.send(Msg::Data(buf)).map_err(|_| stop())?;
            }
            tx.send(Msg::End).map_err(|_| stop())?;
            Ok(true)
        });
        result.map(drop).map_err(|e| describe(&e))
    });
    let last = match outcome {
        Ok(Ok(())) => Msg::Done,
        Ok(Err(m)) | Err(m) => Msg::Fail(m),
    };
    let _ = tx.send(last);
}

/// A reader over one entry; see [`Archive::open_entry`].
pub struct EntryReader<'a> {
    stream: Option<&'a mut FolderStream>,
    at: Location,
    /// The folder's last file: end-of-file waits for the folder's checks.
    last: bool,
    done: bool,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let Some(s) = self.stream.as_deref_mut() else {
            return Ok(0);
        };
        loop {
            if s.pos < s.buf.len() {
                let n = (s.buf.len() - s.pos).min(out.len());
                out[..n].copy_from_slice(&s.buf[s.pos..s.pos + n]);
                s.pos += n;
                return Ok(n);
            }
            let fail = |s: &mut FolderStream, reason: String, at: &Location| {
                s.failed = true;
                carry(Error::corrupt(at.clone(), FORMAT, reason))
            };
            match s.recv() {
                Msg::Data(v) => {
                    s.buf = v;
                    s.pos = 0;
                }
                Msg::End => {
                    if self.last {
                        match s.recv() {
                            Msg::Done => {}
                            Msg::Fail(m) => return Err(fail(s, m, &self.at)),
                            _ => {
                                return Err(fail(
                                    s,
                                    "internal: decoder out of order".into(),
                                    &self.at,
                                ));
                            }
                        }
                    }
                    self.done = true;
                    return Ok(0);
                }
                Msg::Fail(m) => return Err(fail(s, m, &self.at)),
                Msg::Begin(_) | Msg::Done => {
                    return Err(fail(s, "internal: decoder out of order".into(), &self.at));
                }
            }
        }
    }
}
