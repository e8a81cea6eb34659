//! Single-file .exe packages: a PE program (the stub) followed by an
//! archive (the payload) in the file's overlay, the bytes after the PE image.
//!
//! The SEPM's single-file export format is not documented (SPEC §1), so
//! nothing is assumed: the PE headers give the end of the image and the
//! Authenticode certificate table; the overlay is searched for a zip
//! (`PK\x03\x04`), cabinet (`MSCF`) or 7z signature. A 7-Zip SFX
//! configuration block (`;!@Install@!UTF-8!` ... `;!@InstallEnd@!`) between
//! stub and payload is recognised, kept, and its settings reported.
//!
//! The payload is read in place through a [`Window`] on the file (never
//! copied out), by the same zip and cabinet code as a plain archive.
//! Rebuilding keeps every byte before the payload (config block included)
//! and writes the new payload after it. An outer Authenticode signature
//! cannot survive that: the certificate table is dropped, its directory
//! entry zeroed, and the PE checksum recomputed when it was set, and the
//! transform reports the lost signature.
//!
//! The PE headers are parsed here (about a hundred lines) rather than with
//! `object` or `goblin`: only five fields are needed, the parse must reject
//! truncation with our own errors, and a general-purpose parser would add a
//! large dependency for that.
//!
//! A 7z payload is refused: no 7z reader is a dependency of this build, so
//! neither a transform nor `--to zip` can read it.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Entry, Layout, Package, Source, Window, WrittenEntry};
use crate::error::{Error, Location, Result};

/// The archive format of an .exe's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadKind {
    /// A zip archive.
    Zip,
    /// A Microsoft cabinet.
    Cab,
    /// A 7z archive (recognised, not readable by this build).
    #[serde(rename = "7z")]
    SevenZip,
}

impl PayloadKind {
    fn name(self) -> &'static str {
        match self {
            PayloadKind::Zip => "zip",
            PayloadKind::Cab => "cabinet",
            PayloadKind::SevenZip => "7z",
        }
    }
}

/// Where an Authenticode signature (the PE certificate table) is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// File offset of the certificate table.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// One `Key="value"` line of a 7-Zip SFX configuration block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SfxSetting {
    /// The key, e.g. `RunProgram`.
    pub key: String,
    /// The value without its quotes, e.g. `setup.exe`.
    pub value: String,
}

/// A 7-Zip SFX configuration block found between the stub and the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SfxConfig {
    /// File offset of `;!@Install@!UTF-8!`.
    pub offset: u64,
    /// Size in bytes, up to and including `;!@InstallEnd@!`.
    pub size: u64,
    /// Its settings, in file order.
    pub settings: Vec<SfxSetting>,
}

/// Facts about a single-file .exe package, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExeInfo {
    /// `PE32` or `PE32+`.
    pub pe_format: &'static str,
    /// The COFF machine type, e.g. `0x8664` (x64) or `0x14c` (x86).
    pub machine: String,
    /// Where the PE image ends and the overlay begins.
    pub image_end: u64,
    /// Bytes before the payload (the image and anything in the overlay
    /// before the archive, an SFX config block included): kept as they are.
    pub stub_size: u64,
    /// The payload's archive format.
    pub payload_kind: PayloadKind,
    /// File offset of the payload.
    pub payload_offset: u64,
    /// Payload size in bytes.
    pub payload_size: u64,
    /// The Authenticode certificate table, when the .exe is signed.
    pub signature: Option<Signature>,
    /// The 7-Zip SFX configuration block, when there is one.
    pub sfx_config: Option<SfxConfig>,
}

/// What the PE headers say.
#[derive(Debug, Clone)]
struct Pe {
    format: &'static str,
    machine: u16,
    image_end: u64,
    /// File offset of the optional header's CheckSum field.
    checksum_at: u64,
    checksum: u32,
    /// File offset of data directory 4 (the certificate table), if present.
    security_dir_at: Option<u64>,
    signature: Option<Signature>,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        at: Location::file(path),
        format: "exe",
        reason: reason.into(),
    }
}

fn read_at(file: &mut File, path: &Path, offset: u64, buf: &mut [u8], what: &str) -> Result<()> {
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let n = super::read_up_to(file, buf).map_err(|e| Error::io(path, "cannot read", e))?;
    if n < buf.len() {
        return Err(corrupt(
            path,
            format!("the file ends inside the {what} at offset {offset} (truncated)"),
        ));
    }
    Ok(())
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Parses the PE headers of `file` (`len` bytes long).
fn parse_pe(file: &mut File, path: &Path, len: u64) -> Result<Pe> {
    // DOS header: "MZ", and at 0x3C the file offset of the PE header.
    let mut dos = [0u8; 64];
    read_at(file, path, 0, &mut dos, "DOS header")?;
    if &dos[..2] != b"MZ" {
        return Err(corrupt(path, "no MZ signature: not a Windows program"));
    }
    let pe_at = u64::from(u32_at(&dos, 0x3C));
    // PE signature and the 20-byte COFF file header.
    let mut coff = [0u8; 24];
    read_at(file, path, pe_at, &mut coff, "PE header")?;
    if &coff[..4] != b"PE\0\0" {
        return Err(corrupt(
            path,
            format!(
                "no PE signature at offset {pe_at}: an MS-DOS program or a damaged file, not a single-file export"
            ),
        ));
    }
    let machine = u16_at(&coff, 4);
    let sections = u16_at(&coff, 6);
    let optional_size = u64::from(u16_at(&coff, 20));
    if sections == 0 || sections > 96 {
        return Err(corrupt(
            path,
            format!("the PE header declares {sections} sections"),
        ));
    }
    // Optional header: its magic says PE32 or PE32+, which moves the data
    // directories; SizeOfHeaders and CheckSum sit at the same place in both.
    let opt_at = pe_at + 24;
    let mut opt = vec![0u8; optional_size as usize];
    read_at(file, path, opt_at, &mut opt, "PE optional header")?;
    if opt.len() < 68 {
        return Err(corrupt(path, "the PE optional header is too short"));
    }
    let (format, count_at, dirs_at) = match u16_at(&opt, 0) {
        0x10b => ("PE32", 92usize, 96usize),
        0x20b => ("PE32+", 108, 112),
        other => {
            return Err(corrupt(
                path,
                format!("unknown PE optional header magic {other:#x}"),
            ));
        }
    };
    let size_of_headers = u64::from(u32_at(&opt, 60));
    let checksum = u32_at(&opt, 64);
    // Data directory 4 is the certificate table. Unlike the others it holds
    // a file offset, not an RVA (PE/COFF spec, "The Attribute Certificate Table").
    let mut security_dir_at = None;
    let mut signature = None;
    if opt.len() >= count_at + 4 && u32_at(&opt, count_at) > 4 && opt.len() >= dirs_at + 5 * 8 {
        let at = dirs_at + 4 * 8;
        security_dir_at = Some(opt_at + at as u64);
        let (offset, size) = (u64::from(u32_at(&opt, at)), u64::from(u32_at(&opt, at + 4)));
        if offset != 0 && size != 0 {
            if offset + size > len {
                return Err(corrupt(
                    path,
                    format!(
                        "the certificate table ({size} bytes at offset {offset}) runs past the end of the file ({len} bytes): truncated"
                    ),
                ));
            }
            signature = Some(Signature { offset, size });
        }
    }
    // Section table: the image ends where the last section's raw data ends.
    let mut table = vec![0u8; usize::from(sections) * 40];
    read_at(
        file,
        path,
        opt_at + optional_size,
        &mut table,
        "PE section table",
    )?;
    let mut image_end = size_of_headers;
    for s in table.chunks_exact(40) {
        let raw_size = u64::from(u32_at(s, 16));
        let raw_at = u64::from(u32_at(s, 20));
        if raw_size > 0 {
            image_end = image_end.max(raw_at + raw_size);
        }
    }
    if image_end > len {
        return Err(corrupt(
            path,
            format!(
                "the PE sections end at offset {image_end}, past the end of the file ({len} bytes): truncated"
            ),
        ));
    }
    if let Some(sig) = &signature
        && sig.offset < image_end
    {
        return Err(corrupt(path, "the certificate table overlaps the PE image"));
    }
    Ok(Pe {
        format,
        machine,
        image_end,
        checksum_at: opt_at + 64,
        checksum,
        security_dir_at,
        signature,
    })
}

const CONFIG_START: &[u8] = b";!@Install@!UTF-8!";
const CONFIG_END: &[u8] = b";!@InstallEnd@!";
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const CAB_MAGIC: &[u8] = b"MSCF\0\0\0\0";
const SEVEN_ZIP_MAGIC: &[u8] = b"7z\xBC\xAF\x27\x1C";
/// A config block is a few lines of text; a missing end marker must not
/// make us read the whole overlay as one.
const MAX_CONFIG: u64 = 1 << 20;

/// Finds the first of `patterns` in `file[from..to]`, streaming.
fn find(
    file: &mut File,
    path: &Path,
    from: u64,
    to: u64,
    patterns: &[&[u8]],
) -> Result<Option<(u64, usize)>> {
    let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(1);
    file.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let mut reader = BufReader::new(file.take(to.saturating_sub(from)));
    let mut buf: Vec<u8> = Vec::with_capacity((1 << 16) + longest);
    let mut base = from;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = super::read_up_to(&mut reader, &mut chunk)
            .map_err(|e| Error::io(path, "cannot read", e))?;
        buf.extend_from_slice(&chunk[..n]);
        let mut best: Option<(usize, usize)> = None;
        for (which, p) in patterns.iter().enumerate() {
            if let Some(i) = buf.windows(p.len()).position(|w| w == *p)
                && best.is_none_or(|(b, _)| i < b)
            {
                best = Some((i, which));
            }
        }
        if let Some((i, which)) = best {
            return Ok(Some((base + i as u64, which)));
        }
        if n < chunk.len() {
            return Ok(None);
        }
        // Keep a tail so that a signature split across reads is still seen.
        let keep = longest - 1;
        let drop = buf.len().saturating_sub(keep);
        buf.drain(..drop);
        base += drop as u64;
    }
}

/// Parses the `Key="value"` lines of a 7-Zip SFX config block.
fn parse_config(text: &str) -> Vec<SfxSetting> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            if key.is_empty() || key.starts_with(';') {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some(SfxSetting {
                key: key.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

/// What an .exe holds: its PE facts and, when found, its payload (kind,
/// start and end offsets).
struct Examined {
    pe: Pe,
    /// Where a payload search stops: the certificate table, or the end.
    search_end: u64,
    sfx_config: Option<SfxConfig>,
    payload: Option<(PayloadKind, u64, u64)>,
}

/// Reads the PE headers and finds the payload of the .exe at `path`.
fn examine(path: &Path) -> Result<Examined> {
    let mut file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(path, "cannot read", e))?
        .len();
    let pe = parse_pe(&mut file, path, len)?;
    let search_end = match &pe.signature {
        Some(sig) => sig.offset,
        None => len,
    };
    let mut from = pe.image_end;
    let mut sfx_config = None;
    let archives: [&[u8]; 3] = [ZIP_MAGIC, CAB_MAGIC, SEVEN_ZIP_MAGIC];
    let all: [&[u8]; 4] = [ZIP_MAGIC, CAB_MAGIC, SEVEN_ZIP_MAGIC, CONFIG_START];
    let mut found = find(&mut file, path, from, search_end, &all)?;
    if let Some((at, 3)) = found {
        let end = find(
            &mut file,
            path,
            at,
            search_end.min(at + MAX_CONFIG),
            &[CONFIG_END],
        )?
        .ok_or_else(|| {
            corrupt(
                path,
                format!(
                    "a 7-Zip SFX config block starts at offset {at} but has no ;!@InstallEnd@! line"
                ),
            )
        })?
        .0 + CONFIG_END.len() as u64;
        let mut text = vec![0u8; (end - at) as usize];
        read_at(&mut file, path, at, &mut text, "SFX config block")?;
        let body = text
            .get(CONFIG_START.len()..text.len().saturating_sub(CONFIG_END.len()))
            .unwrap_or_default();
        sfx_config = Some(SfxConfig {
            offset: at,
            size: end - at,
            settings: parse_config(&String::from_utf8_lossy(body)),
        });
        from = end;
        found = find(&mut file, path, from, search_end, &archives)?;
    }
    let payload = match found {
        None => None,
        Some((at, which)) => {
            let kind = [PayloadKind::Zip, PayloadKind::Cab, PayloadKind::SevenZip][which];
            let end = match kind {
                PayloadKind::Cab => {
                    let mut h = [0u8; 12];
                    read_at(&mut file, path, at, &mut h, "cabinet header")?;
                    at + u64::from(u32_at(&h, 8))
                }
                PayloadKind::Zip => zip_end(&mut file, path, at, search_end)?,
                PayloadKind::SevenZip => search_end,
            };
            if end > search_end {
                return Err(corrupt(
                    path,
                    format!(
                        "the {} payload at offset {at} declares {} bytes but the file has only {} there: truncated",
                        kind.name(),
                        end - at,
                        search_end - at
                    ),
                ));
            }
            // osslsigncode pads to 8 bytes before the certificate table; more
            // than that, or anything but zeros, is data sepkg would lose.
            let gap = search_end - end;
            let mut tail = vec![0u8; gap.min(8) as usize];
            read_at(&mut file, path, end, &mut tail, "overlay")?;
            if gap >= 8 || tail.iter().any(|b| *b != 0) {
                return Err(corrupt(
                    path,
                    format!(
                        "{gap} unknown bytes follow the {} payload (offset {end}); sepkg would not keep them, so it refuses to rebuild this .exe",
                        kind.name()
                    ),
                ));
            }
            Some((kind, at, end))
        }
    };
    Ok(Examined {
        pe,
        search_end,
        sfx_config,
        payload,
    })
}

/// The end of the zip starting at `start`: after its end-of-central-
/// directory record (found from the back, within the 64 KiB a comment can
/// take) and comment.
fn zip_end(file: &mut File, path: &Path, start: u64, search_end: u64) -> Result<u64> {
    let from = search_end.saturating_sub(22 + 0xFFFF + 8).max(start);
    let mut tail = vec![0u8; (search_end - from) as usize];
    read_at(file, path, from, &mut tail, "zip payload")?;
    let mut i = tail.len().saturating_sub(22);
    loop {
        if i + 22 <= tail.len() && tail[i..].starts_with(b"PK\x05\x06") {
            let comment = u64::from(u16_at(&tail, i + 20));
            let end = from + i as u64 + 22 + comment;
            if end <= search_end {
                return Ok(end);
            }
        }
        if i == 0 {
            break;
        }
        i -= 1;
    }
    Err(Error::Corrupt {
        at: Location::file(path),
        format: "zip",
        reason: format!(
            "the zip payload at offset {start} has no end-of-central-directory record: truncated"
        ),
    })
}

/// Facts about the .exe at `path`, without listing its payload: works for
/// a 7z payload too, which [`Package::open`] refuses. For `audit`.
pub fn inspect(path: &Path) -> Result<ExeInfo> {
    let layout = examine(path)?;
    info(path, &layout)
}

fn info(path: &Path, layout: &Examined) -> Result<ExeInfo> {
    let Some((kind, at, end)) = layout.payload else {
        return Err(no_payload(path));
    };
    Ok(ExeInfo {
        pe_format: layout.pe.format,
        machine: format!("{:#x}", layout.pe.machine),
        image_end: layout.pe.image_end,
        stub_size: at,
        payload_kind: kind,
        payload_offset: at,
        payload_size: end - at,
        signature: layout.pe.signature.clone(),
        sfx_config: layout.sfx_config.clone(),
    })
}

fn no_payload(path: &Path) -> Error {
    Error::NotAPackage {
        path: path.to_path_buf(),
        reason: "a Windows program with no zip, cabinet or 7z archive after its PE image; if it is a self-extractor, its format is one sepkg does not know (a payload inside the PE resources, say): run it or open it with 7-Zip, then transform the extracted folder".into(),
    }
}

/// Opens the .exe at `path`: finds its payload and lists the payload's
/// entries, read in place.
pub(crate) fn open(path: &Path) -> Result<(Vec<Entry>, Source, ExeInfo)> {
    let layout = examine(path)?;
    let info = info(path, &layout)?;
    let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let io_err = |e| Error::io(path, "cannot read", e);
    let (entries, source) = match info.payload_kind {
        // The zip crate finds the archive's start itself, whether its
        // offsets count from the file's start (`zip -A`) or the payload's,
        // so its window starts at 0 and stops at the payload's end.
        PayloadKind::Zip => {
            let window = Window::new(file, 0, Some(info.payload_offset + info.payload_size))
                .map_err(io_err)?;
            super::zip::open_reader(path, BufReader::with_capacity(1 << 16, window))?
        }
        // A cabinet's offsets count from its header.
        PayloadKind::Cab => {
            drop(file);
            super::cab::open_at(path, info.payload_offset, info.payload_size)?
        }
        PayloadKind::SevenZip => {
            return Err(Error::Corrupt {
                at: Location::file(path),
                format: "exe",
                reason: format!(
                    "the payload is a 7z archive (offset {}, {} bytes), which this build of sepkg cannot read, so it can neither transform it nor convert it with --to zip; extract it with `7zz x`, then transform the extracted folder",
                    info.payload_offset, info.payload_size
                ),
            });
        }
    };
    Ok((entries, source, info))
}

/// The bytes an .exe output starts with: a prefix of an existing file.
#[derive(Debug, Clone)]
pub struct Stub {
    /// The file the stub is copied from.
    pub source: PathBuf,
    /// How many of its bytes are copied.
    pub len: u64,
    /// The payload format to write after it (the source's own, else zip).
    pub payload: PayloadKind,
    /// The source's Authenticode signature, which the output loses.
    pub signature: Option<Signature>,
    security_dir_at: Option<u64>,
    checksum_at: u64,
    checksum_set: bool,
}

impl Stub {
    /// The stub of the .exe at `path`: everything before its payload, or,
    /// for a program with no payload, everything before its certificate
    /// table.
    pub fn from_exe(path: &Path) -> Result<Stub> {
        let layout = examine(path)?;
        let (len, payload) = match layout.payload {
            Some((PayloadKind::SevenZip, at, _)) => {
                return Err(Error::Usage(format!(
                    "{}: its payload (offset {at}) is a 7z archive; sepkg writes zip or cabinet payloads, which this stub's self-extractor would not read: give a stub made for zip or cabinet payloads",
                    path.display()
                )));
            }
            Some((kind, at, _)) => (at, kind),
            None => (layout.search_end, PayloadKind::Zip),
        };
        Ok(Stub {
            source: path.to_path_buf(),
            len,
            payload,
            signature: layout.pe.signature.clone(),
            security_dir_at: layout.pe.security_dir_at,
            checksum_at: layout.pe.checksum_at,
            checksum_set: layout.pe.checksum != 0,
        })
    }

    /// The stub for an .exe output: `--stub` when given, else the input's
    /// own when it is an .exe; `None` when there is neither.
    pub fn choose(given: Option<&Path>, pkg: &Package) -> Result<Option<Stub>> {
        match given {
            Some(path) => Stub::from_exe(path).map(Some),
            None if pkg.kind() == super::Kind::Exe => Stub::from_exe(pkg.path()).map(Some),
            None => Ok(None),
        }
    }
}

/// Writes `layout` as an .exe at `dest`: the stub's bytes, then the payload.
pub(crate) fn write(
    pkg: &mut Package,
    layout: &Layout,
    dest: &Path,
    stub: &Stub,
    progress: &dyn crate::Progress,
) -> Result<Vec<WrittenEntry>> {
    let werr = |e| Error::io(dest, "cannot write", e);
    // Read access too: the PE checksum is computed over the written file.
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dest)
        .map_err(|e| Error::io(dest, "cannot create", e))?;
    let mut from =
        File::open(&stub.source).map_err(|e| Error::io(&stub.source, "cannot open", e))?;
    let copied = io::copy(&mut (&mut from).take(stub.len), &mut out).map_err(werr)?;
    if copied != stub.len {
        return Err(corrupt(
            &stub.source,
            "the file became shorter while it was read",
        ));
    }
    if stub.signature.is_some() {
        // The certificate table is not copied; a directory entry pointing
        // past the new payload would be a malformed signature, not none.
        if let Some(at) = stub.security_dir_at {
            out.seek(SeekFrom::Start(at)).map_err(werr)?;
            out.write_all(&[0u8; 8]).map_err(werr)?;
            out.seek(SeekFrom::Start(stub.len)).map_err(werr)?;
        }
    }
    let (written, mut out) = match stub.payload {
        PayloadKind::Cab => super::cab::write_to(pkg, layout, out, dest, progress)?,
        _ => {
            let (written, out) = super::zip::write_to(pkg, layout, out, dest, progress)?;
            (written.entries, out)
        }
    };
    if stub.checksum_set {
        let sum = pe_checksum(&mut out, stub.checksum_at).map_err(werr)?;
        out.seek(SeekFrom::Start(stub.checksum_at)).map_err(werr)?;
        out.write_all(&sum.to_le_bytes()).map_err(werr)?;
    }
    out.sync_all().map_err(werr)?;
    Ok(written)
}

/// The PE checksum of a whole file (the algorithm of `CheckSumMappedFile`):
/// a 16-bit ones'-complement-style sum of the file's words, the CheckSum
/// field counted as zero, plus the file length.
fn pe_checksum(file: &mut File, checksum_at: u64) -> io::Result<u32> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(1 << 20, &mut *file);
    let mut sum: u32 = 0;
    let mut offset: u64 = 0;
    // Even-sized reads, filled to the end but for the last: words never
    // straddle two reads.
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = super::read_up_to(&mut reader, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &mut buf[..n];
        for i in 0..4u64 {
            let at = checksum_at + i;
            if at >= offset && at < offset + n as u64 {
                chunk[(at - offset) as usize] = 0;
            }
        }
        let mut words = chunk.chunks_exact(2);
        for w in &mut words {
            sum += u32::from(u16::from_le_bytes([w[0], w[1]]));
            sum = (sum & 0xffff) + (sum >> 16);
        }
        if let [last] = words.remainder() {
            sum += u32::from(*last);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        offset += n as u64;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    Ok(sum.wrapping_add(offset as u32))
}
