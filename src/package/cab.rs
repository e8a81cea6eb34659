//! Cabinet (.cab) packages: listing and reading them with the `cab` crate
//! (None, MSZIP and LZX folders), and writing new ones (MSZIP).
//!
//! The `cab` crate (0.6) can panic on crafted input, for example on a folder
//! with no data blocks (fixed upstream after the last release). Every call
//! into its reader runs under `contain`, which turns a panic into a
//! corrupt-cabinet error and keeps the panic message off stderr.
//!
//! Names are stored with `\` separators; entries get `/` names like every
//! other container, and `check_names` (in the parent module) refuses traversal.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Once;

use ::cab::{Cabinet, CabinetBuilder, CompressionType};

use super::{ArchiveReader, Content, Entry, Handle, Layout, Package, Source, Window, WrittenEntry};
use crate::digest::HashingReader;
use crate::error::{Error, Location, Result};

/// The format limit on one file in a cabinet (the `cab` crate's, too).
const MAX_FILE_SIZE: u64 = 0x7fff_8000;
/// A folder counts its 32 KiB data blocks in a `u16`; a new folder starts
/// before one could overflow that (deterministically: by input sizes).
const MAX_FOLDER_DATA: u64 = 1 << 30;
/// Header flags: this cabinet is part of a multi-cabinet set.
const FLAG_PREV_CABINET: u16 = 0x1;
const FLAG_NEXT_CABINET: u16 = 0x2;

thread_local! {
    /// True while this thread runs a contained call: its panics are errors,
    /// not bugs, so the panic hook stays quiet.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err(message)`. The panic hook is
/// chained once so that contained panics print nothing; other panics still
/// reach the previous hook.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = CONTAINED.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(was));
    result.map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        format!("the cabinet reader failed on malformed data ({what})")
    })
}

fn corrupt(at: Location, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        at,
        format: "cabinet",
        reason: reason.into(),
    }
}

/// Lists a cabinet file's entries.
pub(crate) fn open(path: &Path) -> Result<(Vec<Entry>, Source)> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(path, "cannot read", e))?
        .len();
    let window = Window::new(file, 0, Some(len)).map_err(|e| Error::io(path, "cannot read", e))?;
    open_reader(path, BufReader::with_capacity(1 << 16, window))
}

/// Lists the cabinet that `reader` holds (its byte 0 is the `MSCF` header).
/// Refuses multi-cabinet sets and Quantum folders, which cannot be read.
pub(crate) fn open_reader(path: &Path, mut reader: ArchiveReader) -> Result<(Vec<Entry>, Source)> {
    let at = || Location::file(path);
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
    reader
        .seek(io::SeekFrom::Start(0))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let stream_len = reader
        .seek(io::SeekFrom::End(0))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if u64::from(declared) > stream_len {
        return Err(corrupt(
            at(),
            format!(
                "the header declares {declared} bytes but only {stream_len} are there (truncated)"
            ),
        ));
    }
    reader
        .seek(io::SeekFrom::Start(0))
        .map_err(|e| Error::io(path, "cannot read", e))?;

    let cabinet = contain(|| Cabinet::new(reader))
        .map_err(|reason| corrupt(at(), reason))?
        .map_err(|e| corrupt(at(), e.to_string()))?;
    let mut entries = Vec::new();
    for folder in cabinet.folder_entries() {
        if let CompressionType::Quantum(..) = folder.compression_type() {
            return Err(corrupt(
                at(),
                "a folder uses Quantum compression, which sepkg cannot read; extract the cabinet with cabextract and transform the folder",
            ));
        }
        for file in folder.file_entries() {
            entries.push(Entry {
                name: file.name().replace('\\', "/"),
                size: u64::from(file.uncompressed_size()),
                is_dir: false,
                handle: Handle::CabFile(file.name().to_string()),
            });
        }
    }
    Ok((entries, Source::Cab(Box::new(cabinet))))
}

/// A reader over one file of `cabinet`, with the crate's panics contained.
pub(crate) fn read_file<'a>(
    cabinet: &'a mut Cabinet<ArchiveReader>,
    name: &str,
    at: Location,
) -> Result<Box<dyn Read + 'a>> {
    let reader = contain(|| cabinet.read_file(name))
        .map_err(|reason| corrupt(at.clone(), reason))?
        .map_err(|e| corrupt(at, e.to_string()))?;
    Ok(Box::new(Contained(reader)))
}

/// A reader whose panics become `InvalidData` errors.
struct Contained<R>(R);

impl<R: Read> Read for Contained<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match contain(|| self.0.read(buf)) {
            Ok(result) => result,
            Err(reason) => Err(io::Error::new(io::ErrorKind::InvalidData, reason)),
        }
    }
}

/// Writes `layout` as a cabinet at `dest`.
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

/// Writes `layout` as a cabinet into `file` from its current position on
/// (after an .exe stub, say). A cabinet's offsets count from its header, so
/// it is written through a [`Window`] starting there.
///
/// Determinism: MSZIP folders, files in layout order, a new folder only
/// when one would pass [`MAX_FOLDER_DATA`]; every file gets the time
/// 1980-01-01 00:00:00 and exactly the archive attribute.
pub(crate) fn write_to(
    pkg: &mut Package,
    layout: &Layout,
    mut file: File,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<(Vec<WrittenEntry>, File)> {
    let werr = |e: io::Error| Error::io(dest, "cannot write", e);
    let items: Vec<(&super::Item, u64)> = layout
        .items
        .iter()
        .filter(|item| match &item.content {
            Content::Copy(i) => !pkg.entries()[*i].is_dir,
            _ => !item.name.ends_with('/'),
        })
        .map(|item| {
            let size = match &item.content {
                Content::Copy(i) => pkg.entries()[*i].size,
                Content::Replace(_, b) | Content::Add(b) => b.len() as u64,
            };
            (item, size)
        })
        .collect();
    let too_big = |what: String| {
        Error::Usage(format!(
            "{}: {what}; a cabinet cannot hold it: write a zip instead (--to zip)",
            dest.display()
        ))
    };
    if items.len() > 0xffff {
        return Err(too_big(format!("{} files", items.len())));
    }
    if let Some((item, size)) = items.iter().find(|(_, s)| *s > MAX_FILE_SIZE) {
        return Err(too_big(format!("{} is {size} bytes", item.name)));
    }

    let midnight = time::macros::datetime!(1980-01-01 00:00:00);
    let mut builder = CabinetBuilder::new();
    let mut folder_data = 0u64;
    let mut folder = builder.add_folder(CompressionType::MsZip);
    for (n, (item, size)) in items.iter().enumerate() {
        if n > 0 && folder_data + size > MAX_FOLDER_DATA {
            folder = builder.add_folder(CompressionType::MsZip);
            folder_data = 0;
        }
        folder_data += size;
        let f = folder.add_file(item.name.replace('/', "\\"));
        f.set_datetime(midnight);
        f.set_is_archive(true);
        f.set_is_read_only(false);
        f.set_is_hidden(false);
        f.set_is_system(false);
        f.set_is_exec(false);
    }

    let start = file.stream_position().map_err(werr)?;
    let window = Window::new(file, start, None).map_err(werr)?;
    let mut writer = builder
        .build(io::BufWriter::with_capacity(1 << 20, window))
        .map_err(werr)?;
    let mut written = Vec::with_capacity(items.len());
    for (item, _) in &items {
        let mut out = match writer.next_file().map_err(werr)? {
            Some(out) => out,
            None => {
                return Err(Error::Usage(
                    "internal: the cabinet writer ran out of files".into(),
                ));
            }
        };
        let digest = match &item.content {
            Content::Copy(index) => {
                let at = pkg.location(*index);
                let kind = pkg.kind();
                let reader = pkg.open_entry(*index)?;
                let mut hashing = HashingReader::new(reader);
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = match hashing.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(super::read_error(&at, kind, e)),
                    };
                    out.write_all(&buf[..n]).map_err(werr)?;
                }
                let d = hashing.finish();
                if d.size > MAX_FILE_SIZE {
                    return Err(too_big(format!("{} is {} bytes", item.name, d.size)));
                }
                d
            }
            Content::Replace(_, bytes) | Content::Add(bytes) => {
                out.write_all(bytes).map_err(werr)?;
                crate::digest::of_bytes(bytes)
            }
        };
        progress.advance(digest.size);
        written.push(WrittenEntry {
            name: item.name.clone(),
            size: digest.size,
            sha256: digest.sha256,
            source: item.content.source(),
        });
    }
    let buffered = writer.finish().map_err(werr)?;
    let window = buffered.into_inner().map_err(|e| werr(e.into_error()))?;
    Ok((written, window.into_inner()))
}
