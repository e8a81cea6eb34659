//! Packages: detecting the container, listing its entries, finding package
//! roots, reading entries, and writing a new container.
//!
//! An entry is a **handle** (its index; the format's reader owns the file
//! handles behind it), never its bytes: only the small files that are
//! edited or parsed are read whole, with a size limit. A 400 MB MSI is
//! streamed from input to output.
//!
//! # Shape
//! - [`format`](mod@format): the one file that lists the formats ([`Format`], [`Kind`]),
//!   the reader and writer traits, and the two functions that pick an
//!   implementation. Adding a format means a reader, a writer, one line
//!   in that list (and the two arms the compiler then asks for), and its
//!   tests.
//! - [`dir`], [`zip`], [`cab`]: one reader and one writer per format.
//! - `copy`: the one copy loop (raw units, streamed entries, hashing,
//!   progress, the manifest rows, the input's and the output's digests).
//! - [`exe`]: a single-file .exe is a PE stub around a payload: `exe`
//!   finds the payload as a `(Format, Span)` and writes and fixes the stub;
//!   the payload is read and written like any archive.
//! - [`window`]: reading and writing an archive where it lies in a file.
//!
//! # Entry names
//! Names use `/` separators and are checked when a package is opened, for
//! every container alike: a name that is absolute, has a drive letter, or has
//! a `..` component (with `/` or `\` separators) is refused, and so are
//! symlinks, encrypted entries and two names that differ only in letter case
//! (Windows would write them to one file). A zip name stored without the
//! UTF-8 flag is code page 437, as Windows reads it; names are checked and
//! reported in that decoded form, and a zip output writes them back with
//! their stored bytes (see [`zip`]).
//!
//! # Determinism
//! The same input and options give byte-identical output:
//! - entries are written in the input's order (a folder is listed in byte
//!   order of its `/`-joined relative paths), with added entries last;
//! - zip to zip: an untouched entry is copied as stored (local header,
//!   compressed data and data descriptor byte for byte; its central record
//!   as stored but for the local header offset); an edited entry keeps
//!   every header field of its input entry but CRC and sizes (time,
//!   attributes, extra fields, method, Zip64 form, data descriptor form);
//!   the end records keep the input's form (Zip64 or not, which fields hold
//!   sentinels, the archive comment); bytes after the input's end are not
//!   copied (transform warns);
//! - a folder (or a cabinet) to zip: every entry gets the DOS epoch
//!   1980-01-01 00:00:00 as its time, Unix permissions 0644 (0755 for
//!   folders), made by Unix whatever the host (sepkg.exe writes the same
//!   bytes), Deflate level 6, and no extra fields; a file
//!   that deflating would not make smaller is stored instead (for a file
//!   over 4 MiB, decided on its first MiB), and the manifest names each
//!   entry's method; names that are not ASCII get the UTF-8 flag;
//! - an added entry (a sylink.xml where the root had none) gets the same
//!   fixed time, permissions and compression;
//! - `--keep-times` ([`OutputSpec::keep_times`]) is the one option that
//!   brings a time into the output: entries written afresh (above, and every
//!   cabinet file) then take their input entry's modification time (a
//!   folder file's mtime as UTC, a zip entry's or a cabinet file's DOS date),
//!   rounded up to even seconds; the output still depends on the input
//!   alone, but now on its times too, so a copy of a folder that lost its
//!   mtimes gives other bytes;
//! - a cabinet output (from any input) is written afresh: MSZIP folders
//!   (flate2 at its best level, as the `cab` crate sets it), files in
//!   layout order, a new folder only when one would pass 1 GiB of data (so
//!   the split depends on sizes alone), every file dated 1980-01-01
//!   00:00:00 (unless `--keep-times`) with exactly the archive attribute, names with `\`
//!   separators, no reserve areas, cabinet set id 0;
//! - an .exe output is the stub's bytes unchanged, then the payload written
//!   as above (zip or cabinet); when the stub was signed, its certificate
//!   table is dropped, its directory entry zeroed and a non-zero PE
//!   checksum recomputed, all functions of the bytes alone;
//! - nothing from the clock, the host or the absolute input path is written.

pub mod cab;
mod copy;
pub mod dir;
mod dos;
pub mod exe;
pub mod format;
pub mod sevenz;
pub mod window;
pub mod zip;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use format::{EntryStream, Facts, Format, Kind, Span, Unit};
pub use window::Window;

use crate::digest::{self, Digest};
use crate::error::{Error, Location, Result};
use format::{Finished, Reader, Target};

/// Detects the kind of container from its bytes, not its name.
pub fn detect(path: &Path) -> Result<Kind> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot open", e))?;
    crate::limits::check_regular(path, &meta)?;
    if meta.is_dir() {
        return Ok(Kind::Dir);
    }
    let mut magic = [0u8; 8];
    let mut file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let n = read_up_to(&mut file, &mut magic).map_err(|e| Error::io(path, "cannot read", e))?;
    let magic = &magic[..n];
    let not = |reason: &str| Error::NotAPackage {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    match (Format::sniff(magic).map(Format::kind), magic) {
        (Some(kind), _) => Ok(kind),
        (None, []) => Err(not("the file is empty")),
        (None, [b'M', b'Z', ..]) => Ok(Kind::Exe),
        (None, [0xD0, 0xCF, 0x11, 0xE0, ..]) => Err(not(
            "an MSI or other OLE file on its own: give the whole package (folder or archive)",
        )),
        (None, m) if zip::is_split_start(m) => Err(zip::split_zip(path, zip::SplitPart::First)),
        (None, _) => match zip::split_parts(path) {
            Some(parts) => Err(zip::split_zip(path, zip::SplitPart::Last(parts))),
            None => Err(not(&unrecognised(path, magic))),
        },
    }
}

/// Why a file is not a package, from its first bytes (and, for the middle
/// parts of a split zip, which hold no record to recognise, its name).
fn unrecognised(path: &Path, magic: &[u8]) -> String {
    let text = format!("unrecognised content (starts with {})", hex::encode(magic));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref().and_then(|e| e.strip_prefix('z')) {
        Some(n) if n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()) => format!(
            "{text}; its name ends like a middle part of a split zip (NAME.z01, NAME.z02, ... and NAME.zip), which holds no record to recognise: {}",
            zip::SPLIT_ADVICE
        ),
        _ => text,
    }
}

/// Reads until `buf` is full or the end of input.
pub(crate) fn read_up_to(r: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// One entry of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name, `/`-separated, relative to the package's top.
    pub name: String,
    /// The uncompressed size (as declared by the container).
    pub size: u64,
    /// True for a folder entry.
    pub is_dir: bool,
}

/// Where an Authenticode signature is in a file (an .exe's certificate
/// table, or a cabinet's signature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// File offset of the signature.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// A package root: a folder holding a SetAid.ini, with its known files.
/// (See [`Package::roots`] for folders without one.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Root {
    /// The folder, `""` for the top or `"x64/"`.
    pub dir: String,
    /// Index of the SetAid.ini entry (`None` only for a root found by its
    /// setup.ini or MSI, in a package that has no SetAid.ini at all).
    #[serde(skip)]
    pub setaid: Option<usize>,
    /// Index of the sylink.xml entry, if any.
    #[serde(skip)]
    pub sylink: Option<usize>,
    /// Index of the setup.ini entry, if any.
    #[serde(skip)]
    pub setup_ini: Option<usize>,
    /// Indexes of the `.msi` entries in the root folder.
    #[serde(skip)]
    pub msis: Vec<usize>,
}

/// The package roots among `entries`, in entry order: every folder that
/// holds a SetAid.ini. When none does, every folder that holds a setup.ini
/// or an MSI, with no SetAid.ini (so that `audit` reports the missing file
/// rather than "no package here"; `transform` refuses such a package).
pub fn roots(entries: &[Entry]) -> Vec<Root> {
    fn is(name: &'static str) -> impl Fn(&str) -> bool {
        move |f| f.eq_ignore_ascii_case(name)
    }
    let is_msi = |f: &str| f.to_ascii_lowercase().ends_with(".msi");
    let mut dirs: Vec<&str> = entries
        .iter()
        .filter(|e| !e.is_dir && is("setaid.ini")(split_name(&e.name).1))
        .map(|e| split_name(&e.name).0)
        .collect();
    if dirs.is_empty() {
        for e in entries.iter().filter(|e| !e.is_dir) {
            let (dir, file) = split_name(&e.name);
            if (is("setup.ini")(file) || is_msi(file)) && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs.sort_unstable();
    }
    let in_dir = |dir: &str, want: &dyn Fn(&str) -> bool| -> Vec<usize> {
        entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                let (d, f) = split_name(&e.name);
                !e.is_dir && d == dir && want(f)
            })
            .map(|(j, _)| j)
            .collect()
    };
    dirs.into_iter()
        .map(|dir| Root {
            dir: dir.to_string(),
            setaid: in_dir(dir, &is("setaid.ini")).first().copied(),
            sylink: in_dir(dir, &is("sylink.xml")).first().copied(),
            setup_ini: in_dir(dir, &is("setup.ini")).first().copied(),
            msis: in_dir(dir, &is_msi),
        })
        .collect()
}

/// An opened package: its entries and the reader of its container.
pub struct Package {
    path: PathBuf,
    reader: Box<dyn Reader>,
    exe: Option<exe::ExeInfo>,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("path", &self.path)
            .field("kind", &self.kind())
            .field("entries", &self.entries().len())
            .finish()
    }
}

impl Package {
    /// Detects the container and lists its entries, refusing unsafe names.
    pub fn open(path: &Path) -> Result<Package> {
        let kind = detect(path)?;
        let (reader, exe) = match kind.format() {
            Some(Format::Dir) => {
                let span = Span {
                    path: path.to_path_buf(),
                    base: 0,
                    len: 0,
                };
                (format::open(Format::Dir, span)?, None)
            }
            Some(format) => (format::open(format, Span::whole(path)?)?, None),
            None => {
                let (info, format, span) = exe::payload(path)?;
                (format::open(format, span)?, Some(info))
            }
        };
        check_names(path, reader.entries())?;
        Ok(Package {
            path: path.to_path_buf(),
            reader,
            exe,
        })
    }

    /// Facts about the container itself, for reports: for a single-file
    /// .exe, its stub, payload, Authenticode signature and 7-Zip SFX
    /// settings (see [`exe::ExeInfo`]); for a cabinet (or a cabinet
    /// payload), its folders and signature (see [`cab::CabInfo`]).
    pub fn container_info(&self) -> ContainerInfo {
        let facts = self.reader.facts();
        ContainerInfo {
            kind: self.kind(),
            exe: self.exe.clone(),
            cab: facts.cab,
            sevenz: facts.sevenz,
        }
    }

    /// Bytes after the end of the archive that no entry holds (offset,
    /// count), such as junk appended to a zip: they are not copied.
    pub fn trailing_data(&self) -> Option<(u64, u64)> {
        self.reader.facts().trailing
    }

    /// The input path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The container kind.
    pub fn kind(&self) -> Kind {
        match self.exe {
            Some(_) => Kind::Exe,
            None => self.reader.format().kind(),
        }
    }

    /// The format of the archive (for an .exe, of its payload).
    pub fn format(&self) -> Format {
        self.reader.format()
    }

    /// Every entry, in container order.
    pub fn entries(&self) -> &[Entry] {
        self.reader.entries()
    }

    /// A location for messages about entry `index`.
    pub fn location(&self, index: usize) -> Location {
        Location::entry(&self.path, &self.entries()[index].name)
    }

    /// Every package root (see [`roots`]). An empty list is not an error here.
    pub fn roots(&self) -> Vec<Root> {
        roots(self.entries())
    }

    /// Reads a small entry whole, refusing one larger than `limit` bytes
    /// (whatever its header declares).
    pub fn read_small(&mut self, index: usize, limit: u64) -> Result<Vec<u8>> {
        let at = self.location(index);
        let declared = self.entries()[index].size;
        if declared > limit {
            return Err(Error::TooLarge {
                at,
                size: declared,
                limit,
            });
        }
        let mut buf = Vec::with_capacity(declared as usize);
        let mut stream = self.reader.open(index)?;
        if let Err(e) = (&mut stream).take(limit + 1).read_to_end(&mut buf) {
            return Err(stream.error(e));
        }
        if buf.len() as u64 > limit {
            return Err(Error::TooLarge {
                at,
                size: buf.len() as u64,
                limit,
            });
        }
        Ok(buf)
    }

    /// The file on disk that holds entry `index` as it is, when there is one
    /// (a folder package's file). Readers that need `Seek`, such as the MSI
    /// reader, open it in place instead of unpacking a copy.
    pub fn entry_file(&self, index: usize) -> Option<PathBuf> {
        self.reader.file(index).map(Path::to_path_buf)
    }

    /// A reader over entry `index`'s uncompressed content; its read errors
    /// become errors naming the entry through [`EntryStream::error`].
    pub fn open_entry(&mut self, index: usize) -> Result<EntryStream<'_>> {
        self.reader.open(index)
    }
}

/// Facts about a package's container, for reports (`audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// The container kind.
    pub kind: Kind,
    /// For a single-file .exe: its stub, payload, signature and SFX settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<exe::ExeInfo>,
    /// For a cabinet, or an .exe whose payload is one: folders,
    /// compression, and an Authenticode signature of the cabinet itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cab: Option<cab::CabInfo>,
    /// For a 7z archive, or an .exe whose payload is one: its folders
    /// (solid blocks) with their coders and sizes, the largest dictionary
    /// (what a self-extractor allocates), and how the header is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sevenz: Option<sevenz::Facts>,
}

/// Splits `"a/b/c.ini"` into `("a/b/", "c.ini")`.
pub fn split_name(name: &str) -> (&str, &str) {
    match name.rfind('/') {
        Some(i) => (&name[..=i], &name[i + 1..]),
        None => ("", name),
    }
}

/// Why an entry name is unsafe to unpack on Windows or Unix, if it is.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    let normal = name.replace('\\', "/");
    let bytes = normal.as_bytes();
    if normal.is_empty() {
        return Some("the entry has an empty name");
    }
    if normal.starts_with('/') {
        return Some("the name is an absolute path");
    }
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return Some("the name starts with a drive letter");
    }
    if normal.split('/').any(|c| c == "..") {
        return Some("the name climbs out of the package with `..`");
    }
    if normal.contains('\0') {
        return Some("the name holds a NUL character");
    }
    // After the drive-letter check: elsewhere a `:` names an NTFS alternate
    // data stream (`setAid.ini:x` would unpack into a hidden stream).
    if normal.contains(':') {
        return Some(
            "the name holds a `:`, which Windows reads as a drive or a hidden data stream",
        );
    }
    None
}

/// Windows' limit on a path (MAX_PATH, the terminating NUL included).
const MAX_PATH: usize = 260;

/// Why Windows cannot create entry `name` where clients unpack it, if it
/// cannot: a reserved or malformed name (see
/// [`dir::windows_name_problem`]), or one longer than MAX_PATH even
/// before the folder it is unpacked into (`%TEMP%\7zS....tmp\`) is
/// counted. The one test behind audit's `windows-invalid-name` finding and
/// transform's warning of the same code.
pub fn windows_name(name: &str) -> Option<String> {
    dir::windows_name_problem(name).or_else(|| {
        let length = name.trim_end_matches('/').encode_utf16().count();
        (length > MAX_PATH).then(|| {
            format!("the name is {length} characters long, over Windows' {MAX_PATH}-character path limit (MAX_PATH) before the folder it is unpacked into is even counted")
        })
    })
}

/// Refuses unsafe names, names that collide when letter case is ignored,
/// and a file whose name is also a folder of another entry.
fn check_names(path: &Path, entries: &[Entry]) -> Result<()> {
    let mut seen = std::collections::HashMap::new();
    for e in entries {
        if let Some(reason) = unsafe_name(&e.name) {
            return Err(Error::UnsafeEntry {
                at: Location::entry(path, &e.name),
                reason: reason.to_string(),
            });
        }
        let key = e.name.trim_end_matches('/').to_lowercase();
        if let Some(first) = seen.insert(key, e.name.clone()) {
            let reason = if first == e.name {
                "the name appears twice in the archive".to_string()
            } else {
                format!(
                    "the name differs only in letter case from {first:?}: on Windows both are one file"
                )
            };
            return Err(Error::UnsafeEntry {
                at: Location::entry(path, &e.name),
                reason,
            });
        }
    }
    // "a" and "a/b" in one archive: no file system, Windows' least of all,
    // can unpack both, so the package could not be installed.
    let files: std::collections::HashSet<String> = entries
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| e.name.to_lowercase())
        .collect();
    for e in entries {
        // Slicing at `/` (ASCII) is always on a character boundary.
        for (i, _) in e.name.match_indices('/') {
            if i + 1 < e.name.len() && files.contains(&e.name[..i].to_lowercase()) {
                return Err(Error::UnsafeEntry {
                    at: Location::entry(path, &e.name),
                    reason: format!(
                        "its folder {:?} is also a file in the archive: both cannot be unpacked",
                        &e.name[..i]
                    ),
                });
            }
        }
    }
    Ok(())
}

/// What the output holds, entry by entry: the plan a writer carries out.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The output's entries, in order.
    pub items: Vec<Item>,
}

/// One entry of the output.
#[derive(Debug, Clone)]
pub struct Item {
    /// The name in the output, `/`-separated.
    pub name: String,
    /// Where its content comes from.
    pub content: Content,
}

/// Where an output entry's content comes from.
#[derive(Debug, Clone)]
pub enum Content {
    /// Input entry `index`, unchanged.
    Copy(usize),
    /// New bytes replacing input entry `index` (keeping its metadata).
    Replace(usize, Vec<u8>),
    /// New bytes with no input entry.
    Add(Vec<u8>),
}

/// Where a written entry's content came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// An input entry, unchanged.
    Copied,
    /// New bytes in place of an input entry.
    Replaced,
    /// New bytes with no input entry.
    Added,
}

/// What one written entry is, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenEntry {
    /// The name in the output.
    pub name: String,
    /// The uncompressed size.
    pub size: u64,
    /// SHA-256 of the uncompressed content, lowercase hex.
    pub sha256: String,
    /// `copied`, `replaced` or `added`.
    pub source: Origin,
    /// In a zip: `stored` or `deflated`; in a cabinet: `mszip`. None in a folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
}

/// What to write: a format, and for an .exe, the stub before the payload.
/// Resolved once, from `--to`, `--stub` and the input, by [`OutputSpec::resolve`].
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// The archive format written (for an .exe, of its payload).
    pub format: Format,
    /// The stub of an .exe output.
    pub stub: Option<exe::Stub>,
    /// Who signs an .exe output (`--sign`): None leaves it unsigned.
    pub sign: Option<std::sync::Arc<crate::authenticode::Signer>>,
    /// `--keep-times`: entries sepkg writes afresh take their input
    /// entry's modification time instead of 1980-01-01 (see the module
    /// docs on determinism).
    pub keep_times: bool,
}

impl OutputSpec {
    /// The output for `to` (default: the input's kind, a folder becoming a
    /// zip) and `stub` (`--stub`), for the input `pkg`.
    pub fn resolve(to: Option<Kind>, stub: Option<&Path>, pkg: &Package) -> Result<OutputSpec> {
        let kind = to.unwrap_or(match pkg.kind() {
            Kind::Dir => Kind::Zip,
            k => k,
        });
        if let Some(format) = kind.format() {
            if stub.is_some() {
                return Err(Error::Usage(format!(
                    "--stub applies only to an .exe output, and this one is a {}: add --to exe or drop --stub",
                    kind.name()
                )));
            }
            return Ok(OutputSpec {
                format,
                stub: None,
                sign: None,
                keep_times: false,
            });
        }
        let stub = match (stub, pkg.kind()) {
            (Some(path), _) => exe::Stub::from_exe(path)?,
            (None, Kind::Exe) => exe::Stub::from_exe(pkg.path())?,
            (None, other) => {
                return Err(Error::Usage(format!(
                    "{}: --to exe needs a stub for a {} input: give --stub FILE (a single-file .exe export, or the program to run the payload)",
                    pkg.path().display(),
                    other.name()
                )));
            }
        };
        Ok(OutputSpec {
            format: stub.payload,
            stub: Some(stub),
            sign: None,
            keep_times: false,
        })
    }

    /// The kind of the output.
    pub fn kind(&self) -> Kind {
        match self.stub {
            Some(_) => Kind::Exe,
            None => self.format.kind(),
        }
    }
}

/// What was written: every file entry, and the digests of the input and of
/// the output (for a folder, of its `sha256sum` listing: see [`listing`]).
#[derive(Debug, Clone)]
pub struct Written {
    /// Every file entry written, in order.
    pub entries: Vec<WrittenEntry>,
    /// The input's digest.
    pub input: Digest,
    /// The output's digest.
    pub output: Digest,
    /// The Authenticode signature applied to an .exe output (`--sign`).
    pub signed: Option<crate::authenticode::Signed>,
    /// What was done with each unit of the output (7z folders); empty for
    /// other formats.
    pub units: Vec<UnitReport>,
}

/// A folder's `sha256sum` listing: a line per file, named `prefix` + its
/// name. The digest of a folder is the digest of this text.
pub fn listing<'a>(prefix: &str, files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    files
        .into_iter()
        .map(|(sha256, name)| crate::manifest::sidecar_line(sha256, &format!("{prefix}{name}")))
        .collect()
}

/// What was done with one unit of the output (a 7z folder: copied,
/// spliced, re-encoded, with its coders and sizes), for the manifest.
pub type UnitReport = sevenz::FolderReport;

/// Writes `layout`, read from `pkg`, as `spec` at `dest`: a new file, or for
/// a folder output, an empty folder (`name` is the output's final name,
/// which a folder's listing uses). Returns the written entries and both
/// digests. The file is synced before this returns.
pub fn write(
    pkg: &mut Package,
    layout: &Layout,
    spec: &OutputSpec,
    dest: &Path,
    name: &str,
    progress: &dyn crate::Progress,
) -> Result<Written> {
    let plan = copy::plan(pkg.reader.as_ref(), layout, spec.keep_times);
    progress.start(plan.iter().map(|p| p.size).sum(), name);
    if spec.format == Format::Dir {
        write_folder(pkg, layout, &plan, dest, name, progress)
    } else {
        write_file(pkg, layout, &plan, spec, dest, progress)
    }
}

/// [`write`] for a folder output.
fn write_folder(
    pkg: &mut Package,
    layout: &Layout,
    plan: &[format::Planned],
    dest: &Path,
    name: &str,
    progress: &dyn crate::Progress,
) -> Result<Written> {
    let target = Target::Dir(dest.to_path_buf());
    let writer = format::writer(Format::Dir, target, pkg.reader.as_mut(), plan, dest)?;
    let (entries, _, input) = copy::run(pkg.reader.as_mut(), layout, plan, writer, progress)?;
    let entries: Vec<WrittenEntry> = entries.into_iter().flatten().collect();
    let text = listing(
        &format!("{name}/"),
        entries.iter().map(|e| (e.sha256.as_str(), e.name.as_str())),
    );
    let output = Digest {
        size: entries.iter().map(|e| e.size).sum(),
        sha256: digest::of_bytes(text.as_bytes()).sha256,
    };
    Ok(Written {
        entries,
        input,
        output,
        signed: None,
        units: Vec::new(),
    })
}

/// [`write`] for a file output: an archive, or an .exe (stub, payload,
/// then the PE checksum or a new signature).
fn write_file(
    pkg: &mut Package,
    layout: &Layout,
    plan: &[format::Planned],
    spec: &OutputSpec,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<Written> {
    // Read access too: the PE checksum is computed over the written file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dest)
        .map_err(|e| Error::io(dest, "cannot create", e))?;
    let mut out = copy::out(file);
    if let Some(stub) = &spec.stub {
        stub.write_to(&mut out, dest)?;
    }
    let target = Target::File(out);
    let writer = format::writer(spec.format, target, pkg.reader.as_mut(), plan, dest)?;
    let (entries, finished, input) =
        copy::run(pkg.reader.as_mut(), layout, plan, writer, progress)?;
    let Finished::File(out, units) = finished else {
        return Err(Error::Internal(format!(
            "the {} writer for {} ended without its file",
            spec.format.name(),
            dest.display()
        )));
    };
    let werr = |e| Error::io(dest, "cannot write", e);
    let (sink, hashed) = out.finish();
    let mut file = sink.into_file().map_err(werr)?;
    // Signing appends the certificate table and sets the checksum itself.
    let signed = match &spec.sign {
        Some(signer) => Some(signer.sign_file(&mut file, dest)?),
        None => None,
    };
    let patched = match &spec.stub {
        _ if signed.is_some() => true,
        Some(stub) => stub.fix_checksum(&mut file).map_err(werr)?,
        None => false,
    };
    file.sync_all().map_err(werr)?;
    let output = match hashed {
        Some(d) if !patched => d,
        _ => digest::of_file(dest)?,
    };
    Ok(Written {
        entries: entries.into_iter().flatten().collect(),
        input,
        output,
        signed,
        units,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_named() {
        for bad in [
            "../x",
            "a/../../x",
            "..\\x",
            "/etc/passwd",
            "C:\\x",
            "c:/x",
            "setAid.ini:stream",
            "",
        ] {
            assert!(unsafe_name(bad).is_some(), "{bad:?} should be refused");
        }
        for good in ["setAid.ini", "x64/Sep64.msi", "a..b/c", "dir/"] {
            assert!(unsafe_name(good).is_none(), "{good:?} should pass");
        }
    }

    fn files(names: &[&str]) -> Vec<Entry> {
        names
            .iter()
            .map(|n| Entry {
                name: n.to_string(),
                size: 1,
                is_dir: n.ends_with('/'),
            })
            .collect()
    }

    #[test]
    fn roots_are_folders_holding_a_setaid_ini() {
        let entries = files(&[
            "x64/Sep64.msi",
            "x64/SETAID.INI",
            "x64/sylink.xml",
            "x86/setAid.ini",
            "x86/Sep.msi",
            "x86/setup.ini",
            "docs/setup.ini",
        ]);
        let found = roots(&entries);
        let dirs: Vec<&str> = found.iter().map(|r| r.dir.as_str()).collect();
        assert_eq!(dirs, ["x64/", "x86/"], "docs/ holds no SetAid.ini");
        assert_eq!(found[0].setaid, Some(1));
        assert_eq!(found[0].sylink, Some(2));
        assert_eq!(found[0].msis, [0]);
        assert_eq!(found[1].setup_ini, Some(5));
        assert_eq!(found[1].sylink, None);
    }

    #[test]
    fn without_any_setaid_ini_roots_are_found_by_setup_ini_or_msi() {
        let entries = files(&["b/Sep.msi", "a/setup.ini", "a/sylink.xml", "c/readme.txt"]);
        let found = roots(&entries);
        let dirs: Vec<&str> = found.iter().map(|r| r.dir.as_str()).collect();
        assert_eq!(dirs, ["a/", "b/"]);
        assert!(found.iter().all(|r| r.setaid.is_none()));
        assert_eq!(found[0].sylink, Some(2));
        assert_eq!(found[1].msis, [0]);
    }

    #[test]
    fn split_name_splits_at_the_last_slash() {
        assert_eq!(split_name("x64/setAid.ini"), ("x64/", "setAid.ini"));
        assert_eq!(split_name("setAid.ini"), ("", "setAid.ini"));
    }
}
