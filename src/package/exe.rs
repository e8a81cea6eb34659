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
//! This module knows only the PE: it finds the payload, as a
//! [`Format`] and a [`Span`], which the package then opens like any other
//! archive (in place, through a window on the file: never copied out). It
//! names no other format's module.
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

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Signature;
use super::format::{Format, Span};
use crate::error::{Error, Location, Result};

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
    pub payload_kind: Format,
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
    Error::corrupt(Location::file(path), "exe", reason)
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
    let (security_dir_at, signature) = certificate_table(&opt, opt_at, count_at, dirs_at, len)
        .map_err(|reason| corrupt(path, reason))?;
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

/// Data directory 4 of the optional header `opt` (at file offset
/// `opt_at`): the certificate table's directory entry's file offset, and
/// the table itself when the entry is set. Unlike the other directories it
/// holds a file offset, not an RVA (PE/COFF spec, "The Attribute
/// Certificate Table").
fn certificate_table(
    opt: &[u8],
    opt_at: u64,
    count_at: usize,
    dirs_at: usize,
    len: u64,
) -> std::result::Result<(Option<u64>, Option<Signature>), String> {
    if opt.len() < count_at + 4 || u32_at(opt, count_at) <= 4 || opt.len() < dirs_at + 5 * 8 {
        return Ok((None, None));
    }
    let at = dirs_at + 4 * 8;
    let (offset, size) = (u64::from(u32_at(opt, at)), u64::from(u32_at(opt, at + 4)));
    if offset == 0 || size == 0 {
        return Ok((Some(opt_at + at as u64), None));
    }
    if offset + size > len {
        return Err(format!(
            "the certificate table ({size} bytes at offset {offset}) runs past the end of the file ({len} bytes): truncated"
        ));
    }
    Ok((Some(opt_at + at as u64), Some(Signature { offset, size })))
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
    payload: Option<(Format, u64, u64)>,
}

/// Reads the PE headers and finds the payload of the .exe at `path`.
fn examine(path: &Path) -> Result<Examined> {
    // A `--stub` FIFO would block the open below.
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot open", e))?;
    crate::limits::check_regular(path, &meta)?;
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
        Some((at, _)) => find_payload(&mut file, path, at, search_end)?,
    };
    Ok(Examined {
        pe,
        search_end,
        sfx_config,
        payload,
    })
}

/// The payload in `file[from..search_end]`: the first archive whose
/// signature is found there and whose format confirms it (a 7z signature
/// whose start header does not check is passed over, as 7-Zip does: a
/// self-extractor's own code can hold those six bytes). Refuses a payload
/// that runs past `search_end` or is followed by data sepkg would lose.
fn find_payload(
    file: &mut File,
    path: &Path,
    mut from: u64,
    search_end: u64,
) -> Result<Option<(Format, u64, u64)>> {
    let archives: [&[u8]; 3] = [ZIP_MAGIC, CAB_MAGIC, SEVEN_ZIP_MAGIC];
    // The first signature that its format did not confirm, for the message
    // when no payload is found at all.
    let mut unconfirmed = None;
    let (format, at, end) = loop {
        let Some((at, which)) = find(file, path, from, search_end, &archives)? else {
            return match unconfirmed {
                Some((format, at)) => Err(unconfirmed_payload(path, format, at)),
                None => Ok(None),
            };
        };
        let format = [Format::Zip, Format::Cab, Format::SevenZ][which];
        match super::format::locate(format, file, path, at, search_end)? {
            Some((start, end)) => break (format, start, end),
            None => {
                unconfirmed.get_or_insert((format, at));
                from = at + 1;
            }
        }
    };
    if end > search_end {
        return Err(corrupt(
            path,
            format!(
                "the {} payload at offset {at} declares {} bytes but the file has only {} there: truncated",
                format.name(),
                end - at,
                search_end - at
            ),
        ));
    }
    // osslsigncode pads to 8 bytes before the certificate table; more
    // than that, or anything but zeros, is data sepkg would lose.
    let gap = search_end - end;
    let mut tail = vec![0u8; gap.min(8) as usize];
    read_at(file, path, end, &mut tail, "overlay")?;
    if gap >= 8 || tail.iter().any(|b| *b != 0) {
        return Err(corrupt(
            path,
            format!(
                "{gap} unknown bytes follow the {} payload (offset {end}); sepkg would not keep them, so it refuses to rebuild this .exe",
                format.name()
            ),
        ));
    }
    Ok(Some((format, at, end)))
}

/// A payload signature whose archive does not check: the self-extractor
/// could not read it either.
fn unconfirmed_payload(path: &Path, format: Format, at: u64) -> Error {
    Error::corrupt(
        Location::file(path),
        format.name(),
        format!(
            "the {} archive at offset {at} is damaged: its start header does not check (a truncated or altered download?); export or download the package again",
            format.name()
        ),
    )
}

/// Facts about the .exe at `path`, without listing its payload: for
/// `audit` and tests.
pub fn inspect(path: &Path) -> Result<ExeInfo> {
    let layout = examine(path)?;
    info(path, &layout)
}

fn info(path: &Path, layout: &Examined) -> Result<ExeInfo> {
    let Some((format, at, end)) = layout.payload else {
        return Err(no_payload(path));
    };
    Ok(ExeInfo {
        pe_format: layout.pe.format,
        machine: format!("{:#x}", layout.pe.machine),
        image_end: layout.pe.image_end,
        stub_size: at,
        payload_kind: format,
        payload_offset: at,
        payload_size: end - at,
        signature: layout.pe.signature.clone(),
        sfx_config: layout.sfx_config.clone(),
    })
}

/// Finds the payload of the .exe at `path`: its facts, and the archive to
/// open (its format and where it lies).
pub(crate) fn payload(path: &Path) -> Result<(ExeInfo, Format, Span)> {
    let layout = examine(path)?;
    let info = info(path, &layout)?;
    let span = Span {
        path: path.to_path_buf(),
        base: info.payload_offset,
        len: info.payload_size,
    };
    Ok((info.clone(), info.payload_kind, span))
}

fn no_payload(path: &Path) -> Error {
    Error::NotAPackage {
        path: path.to_path_buf(),
        reason: "a Windows program with no zip, cabinet or 7z archive after its PE image; if it is a self-extractor, its format is one sepkg does not know (a payload inside the PE resources, say): run it or open it with 7-Zip, then transform the extracted folder".into(),
    }
}

/// The bytes an .exe output starts with: a prefix of an existing file.
#[derive(Debug, Clone)]
pub struct Stub {
    /// The file the stub is copied from.
    pub source: PathBuf,
    /// How many of its bytes are copied.
    pub len: u64,
    /// The payload format to write after it: the source's own (the one its
    /// self-extractor reads), or zip for a program with no payload.
    pub payload: Format,
    /// False for a program with no payload, whose self-extractor's format
    /// sepkg cannot know.
    pub has_payload: bool,
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
        let (len, payload, has_payload) = match layout.payload {
            Some((format, at, _)) => (at, format, true),
            None => (layout.search_end, Format::Zip, false),
        };
        Ok(Stub {
            source: path.to_path_buf(),
            len,
            payload,
            has_payload,
            signature: layout.pe.signature.clone(),
            security_dir_at: layout.pe.security_dir_at,
            checksum_at: layout.pe.checksum_at,
            checksum_set: layout.pe.checksum != 0,
        })
    }

    /// Writes the stub's bytes into `out`. When the source was signed, the
    /// certificate table is left behind (it lies after the payload) and the
    /// directory entry pointing at it is zeroed as the bytes pass: a
    /// directory entry pointing past the new payload would be a malformed
    /// signature, not none. Nothing written is written again, so `out`
    /// can hash it as it goes.
    pub(crate) fn write_to(&self, out: &mut dyn Write, dest: &Path) -> Result<()> {
        let mut from =
            File::open(&self.source).map_err(|e| Error::io(&self.source, "cannot open", e))?;
        let blank = match (&self.signature, self.security_dir_at) {
            (Some(_), Some(at)) => at..at + 8,
            _ => 0..0,
        };
        let mut buf = vec![0u8; 1 << 16];
        let mut done = 0u64;
        while done < self.len {
            let want = (self.len - done).min(buf.len() as u64) as usize;
            let n = super::read_up_to(&mut from, &mut buf[..want])
                .map_err(|e| Error::io(&self.source, "cannot read", e))?;
            if n == 0 {
                return Err(corrupt(
                    &self.source,
                    "the file became shorter while it was read",
                ));
            }
            for at in blank.start.max(done)..blank.end.min(done + n as u64) {
                buf[(at - done) as usize] = 0;
            }
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(dest, "cannot write", e))?;
            done += n as u64;
        }
        Ok(())
    }

    /// Recomputes the PE checksum of the finished .exe `file` when the stub
    /// had one (a zero checksum is left zero). Returns true when it wrote
    /// into the file.
    pub(crate) fn fix_checksum(&self, file: &mut File) -> io::Result<bool> {
        if !self.checksum_set {
            return Ok(false);
        }
        let sum = pe_checksum(file, self.checksum_at)?;
        file.seek(SeekFrom::Start(self.checksum_at))?;
        file.write_all(&sum.to_le_bytes())?;
        Ok(true)
    }
}

/// The PE checksum of a whole file (the algorithm of `CheckSumMappedFile`):
/// a 16-bit ones'-complement-style sum of the file's words, the CheckSum
/// field counted as zero, plus the file length.
pub(crate) fn pe_checksum(file: &mut File, checksum_at: u64) -> io::Result<u32> {
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
