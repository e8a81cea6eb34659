//! Packages: detecting the container, listing its entries, finding package
//! roots, reading entries, and writing a new container.
//!
//! An entry is a **handle** (a path on disk, an index in a zip), never its
//! bytes: only the small files that are edited or parsed are read whole, with
//! a size limit. A 400 MB MSI is streamed from input to output.
//!
//! # Entry names
//! Names use `/` separators and are checked when a package is opened, for
//! every container alike: a name that is absolute, has a drive letter, or has
//! a `..` component (with `/` or `\` separators) is refused, and so are
//! symlinks, encrypted entries and two names that differ only in letter case
//! (Windows would write them to one file).
//!
//! # Determinism
//! The same input and options give byte-identical output:
//! - entries are written in the input's order (a folder is listed in byte
//!   order of its `/`-joined relative paths), with added entries last;
//! - zip to zip: untouched entries are raw copies (compressed bytes, header
//!   fields, timestamps and extra fields as in the input); an edited entry
//!   keeps its input entry's timestamp, permissions and compression method;
//! - a folder to zip: every entry gets the DOS epoch 1980-01-01 00:00:00 as
//!   its time, Unix permissions 0644 (0755 for folders), Deflate level 6,
//!   and no extra fields; a file that deflating would not make smaller is
//!   stored instead (for a file over 4 MiB, decided on its first MiB), and
//!   the manifest names each entry's method;
//! - an added entry (a sylink.xml where the root had none) gets the same
//!   fixed time, permissions and compression;
//! - a cabinet output (from any input) is written afresh: MSZIP folders
//!   (flate2 at its best level, as the `cab` crate sets it), files in
//!   layout order, a new folder only when one would pass 1 GiB of data (so
//!   the split depends on sizes alone), every file dated 1980-01-01
//!   00:00:00 with exactly the archive attribute, names with `\`
//!   separators, no reserve areas, cabinet set id 0;
//! - an .exe output is the stub's bytes unchanged, then the payload written
//!   as above (zip or cabinet); when the stub was signed, its certificate
//!   table is dropped, its directory entry zeroed and a non-zero PE
//!   checksum recomputed, all functions of the bytes alone;
//! - nothing from the clock, the host or the absolute input path is written.
//!
//! # Containers
//! - [`dir`]: a folder export; [`zip`]: a zip; [`cab`]: a cabinet (None,
//!   MSZIP and LZX read; MSZIP written);
//! - [`exe`]: a single-file .exe: a PE stub with a zip or cabinet payload in
//!   its overlay, read in place through a [`Window`] on the file. Its facts
//!   (stub size, payload, signature, 7-Zip SFX settings) are in
//!   [`Package::container_info`].

pub mod cab;
pub mod dir;
pub mod exe;
pub mod sevenz;
pub mod zip;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Location, Result};

/// The kind of container a package comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A folder export.
    Dir,
    /// A zip archive.
    Zip,
    /// A Microsoft cabinet (.cab).
    Cab,
    /// A single-file .exe export: a PE stub followed by a zip or cab payload.
    Exe,
}

impl Kind {
    /// The file extension an output of this kind gets ("" for a folder).
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Dir => "",
            Kind::Zip => "zip",
            Kind::Cab => "cab",
            Kind::Exe => "exe",
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dir => "folder",
            Kind::Zip => "zip",
            Kind::Cab => "cabinet",
            Kind::Exe => "exe",
        }
    }
}

/// Detects the kind of container from its bytes, not its name.
pub fn detect(path: &Path) -> Result<Kind> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot open", e))?;
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
    match magic {
        [] => Err(not("the file is empty")),
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Ok(Kind::Zip),
        [b'M', b'S', b'C', b'F', ..] => Ok(Kind::Cab),
        [b'M', b'Z', ..] => Ok(Kind::Exe),
        [b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C, ..] => {
            Err(not("a 7z archive, which SEPM does not export"))
        }
        [0xD0, 0xCF, 0x11, 0xE0, ..] => Err(not(
            "an MSI or other OLE file on its own: give the whole package (folder or archive)",
        )),
        _ => Err(not(&format!(
            "unrecognised content (starts with {})",
            hex::encode(magic)
        ))),
    }
}

/// Reads until `buf` is full or the end of input.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

/// Where an entry's content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Handle {
    /// A file inside a folder input.
    Path(PathBuf),
    /// The index of the entry in a zip's central directory.
    ZipIndex(usize),
    /// The index of the file in a cabinet's file table.
    CabFile(usize),
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
    pub(crate) handle: Handle,
}

/// A package root: a folder holding a SetAid.ini, with its known files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Root {
    /// The folder, `""` for the top or `"x64/"`.
    pub dir: String,
    /// Index of the SetAid.ini entry.
    #[serde(skip)]
    pub setaid: usize,
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

/// The reader under an archive: a window on the input file, so that an
/// archive inside an .exe is read in place, without copying it out.
pub(crate) type ArchiveReader = io::BufReader<Window<File>>;

/// How a package's entries are read.
pub(crate) enum Source {
    Dir,
    Zip(Box<::zip::ZipArchive<ArchiveReader>>),
    Cab(Box<cab::CabSource>),
}

/// A window on a file: byte 0 of the window is byte `base` of the file, and
/// reads stop after `len` bytes. Seeks are relative to the window.
///
/// Used to read an archive embedded in an .exe where it lies, and to write a
/// cabinet after an .exe stub (a cabinet's offsets count from its own
/// header, and the `cab` writer seeks back to patch them).
#[derive(Debug)]
pub struct Window<F> {
    inner: F,
    base: u64,
    len: Option<u64>,
    pos: u64,
}

impl<F: Seek> Window<F> {
    /// A window from `base` on, `len` bytes long (`None`: up to the end, for
    /// writing).
    pub fn new(mut inner: F, base: u64, len: Option<u64>) -> io::Result<Self> {
        inner.seek(SeekFrom::Start(base))?;
        Ok(Window {
            inner,
            base,
            len,
            pos: 0,
        })
    }

    /// The file under the window.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Read> Read for Window<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = match self.len {
            Some(len) => (len.saturating_sub(self.pos)).min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F: Write> Write for Window<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<F: Seek> Seek for Window<F> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek outside the window");
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => match self.len {
                Some(len) => len.checked_add_signed(d),
                None => {
                    let end = self.inner.seek(SeekFrom::End(0))?;
                    end.checked_sub(self.base)
                        .and_then(|e| e.checked_add_signed(d))
                }
            },
        }
        .ok_or_else(invalid)?;
        let abs = self.base.checked_add(target).ok_or_else(invalid)?;
        self.inner.seek(SeekFrom::Start(abs))?;
        self.pos = target;
        Ok(target)
    }
}

/// An opened package: its entries and a way to read them.
pub struct Package {
    path: PathBuf,
    kind: Kind,
    entries: Vec<Entry>,
    pub(crate) source: Source,
    exe: Option<exe::ExeInfo>,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Package {
    /// Detects the container and lists its entries, refusing unsafe names.
    pub fn open(path: &Path) -> Result<Package> {
        let kind = detect(path)?;
        let mut exe = None;
        let (entries, source) = match kind {
            Kind::Dir => (dir::list(path)?, Source::Dir),
            Kind::Zip => zip::open(path)?,
            Kind::Cab => cab::open(path)?,
            Kind::Exe => {
                let (entries, source, info) = exe::open(path)?;
                exe = Some(info);
                (entries, source)
            }
        };
        check_names(path, &entries)?;
        Ok(Package {
            path: path.to_path_buf(),
            kind,
            entries,
            source,
            exe,
        })
    }

    /// Facts about the container itself, for reports: for a single-file
    /// .exe, its stub, payload, Authenticode signature and 7-Zip SFX
    /// settings (see [`exe::ExeInfo`]); for a cabinet (or a cabinet
    /// payload), its folders and signature (see [`cab::CabInfo`]).
    pub fn container_info(&self) -> ContainerInfo {
        ContainerInfo {
            kind: self.kind,
            exe: self.exe.clone(),
            cab: match &self.source {
                Source::Cab(src) => Some(src.info()),
                _ => None,
            },
        }
    }

    /// The input path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The container kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Every entry, in container order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// A location for messages about entry `index`.
    pub fn location(&self, index: usize) -> Location {
        Location::entry(&self.path, &self.entries[index].name)
    }

    /// Every package root, in entry order. An empty list is not an error here.
    pub fn roots(&self) -> Vec<Root> {
        let mut roots = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if e.is_dir {
                continue;
            }
            let (dir, file) = split_name(&e.name);
            if file.eq_ignore_ascii_case("setaid.ini") {
                let in_dir = |want: fn(&str) -> bool| -> Vec<usize> {
                    self.entries
                        .iter()
                        .enumerate()
                        .filter(|(_, o)| {
                            let (d, f) = split_name(&o.name);
                            !o.is_dir && d == dir && want(f)
                        })
                        .map(|(j, _)| j)
                        .collect()
                };
                roots.push(Root {
                    dir: dir.to_string(),
                    setaid: i,
                    sylink: in_dir(|f| f.eq_ignore_ascii_case("sylink.xml"))
                        .first()
                        .copied(),
                    setup_ini: in_dir(|f| f.eq_ignore_ascii_case("setup.ini"))
                        .first()
                        .copied(),
                    msis: in_dir(|f| f.to_ascii_lowercase().ends_with(".msi")),
                });
            }
        }
        roots
    }

    /// Reads a small entry whole, refusing one larger than `limit` bytes
    /// (whatever its header declares).
    pub fn read_small(&mut self, index: usize, limit: u64) -> Result<Vec<u8>> {
        let at = self.location(index);
        let declared = self.entries[index].size;
        if declared > limit {
            return Err(Error::TooLarge {
                at,
                size: declared,
                limit,
            });
        }
        let mut buf = Vec::with_capacity(declared as usize);
        let kind = self.kind;
        let reader = self.open_entry(index)?;
        reader
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| read_error(&at, kind, e))?;
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
        match &self.entries.get(index)?.handle {
            Handle::Path(p) if !self.entries[index].is_dir => Some(p.clone()),
            _ => None,
        }
    }

    /// A reader over entry `index`'s uncompressed content. Read errors from
    /// it should go through `read_error` to name the entry.
    pub fn open_entry(&mut self, index: usize) -> Result<Box<dyn Read + '_>> {
        let at = self.location(index);
        match (&self.entries[index].handle, &mut self.source) {
            (Handle::Path(p), _) => {
                let file = File::open(p).map_err(|e| Error::io(p, "cannot read", e))?;
                Ok(Box::new(io::BufReader::with_capacity(1 << 16, file)))
            }
            (Handle::ZipIndex(i), Source::Zip(archive)) => {
                let file = archive.by_index(*i).map_err(|e| zip::corrupt(at, e))?;
                Ok(Box::new(file))
            }
            (Handle::CabFile(_), _) if self.entries[index].size == 0 => {
                // Nothing to read; and the `cab` crate (LZX folders) panics
                // on a folder with no data blocks, where an empty file can sit.
                Ok(Box::new(io::empty()))
            }
            (Handle::CabFile(i), Source::Cab(cabinet)) => cab::read_file(cabinet, *i, at),
            (_, _) => Err(Error::Corrupt {
                at,
                format: self.kind.name(),
                reason: "internal: entry handle does not match its package".into(),
            }),
        }
    }
}

/// Turns a read error inside an entry into an error naming it.
pub(crate) fn read_error(at: &Location, kind: Kind, e: io::Error) -> Error {
    match kind {
        Kind::Dir => Error::io(
            at.path.join(at.entry.as_deref().unwrap_or("")),
            "cannot read",
            e,
        ),
        Kind::Zip | Kind::Cab | Kind::Exe => Error::Corrupt {
            at: at.clone(),
            format: kind.name(),
            reason: e.to_string(),
        },
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
}

/// Copies an entry's content from `from` into `out` in 64 KiB blocks,
/// telling read errors (the input's fault: they name the entry `at`) from
/// write errors (the output's: they name `dest`).
pub(crate) fn copy_entry(
    from: &mut dyn Read,
    out: &mut dyn Write,
    at: &Location,
    kind: Kind,
    dest: &Path,
) -> Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(at, kind, e)),
        };
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(dest, "cannot write", e))?;
    }
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
    pub source: &'static str,
    /// In a zip: `stored` or `deflated`; in a cabinet: `mszip`. None in a folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
}

impl Content {
    /// `copied`, `replaced` or `added`.
    pub fn source(&self) -> &'static str {
        match self {
            Content::Copy(_) => "copied",
            Content::Replace(..) => "replaced",
            Content::Add(_) => "added",
        }
    }
}

/// Writes `layout` as a container of `kind` at `dest` (a file, or for a
/// folder output, a folder that does not exist yet), reading from `pkg`.
/// Returns each written entry's digest. Folder entries get none.
///
/// An .exe output needs a stub: `stub` (see [`exe::Stub`]), which
/// [`exe::Stub::choose`] takes from `--stub` or from an .exe input.
pub fn write(
    pkg: &mut Package,
    layout: &Layout,
    kind: Kind,
    dest: &Path,
    stub: Option<&exe::Stub>,
    progress: &dyn crate::Progress,
) -> Result<Vec<WrittenEntry>> {
    match kind {
        Kind::Zip => zip::write(pkg, layout, dest, progress),
        Kind::Dir => dir::write(pkg, layout, dest, progress),
        Kind::Cab => cab::write(pkg, layout, dest, progress),
        Kind::Exe => match stub {
            Some(stub) => exe::write(pkg, layout, dest, stub, progress),
            None => Err(Error::Usage(format!(
                "{}: an .exe output needs a stub: give --stub FILE (a single-file .exe export or a PE program to put before the payload)",
                dest.display()
            ))),
        },
    }
}

/// What a writer produced, with the digests it could take on the way.
#[derive(Debug, Clone)]
pub struct Written {
    /// Every file entry written, in order.
    pub entries: Vec<WrittenEntry>,
    /// The output file's digest, when it was hashed while written; `None`
    /// means the caller must hash the output by reading it.
    pub output: Option<crate::digest::Digest>,
    /// The input file's digest, when the writer read all of it anyway.
    pub input: Option<crate::digest::Digest>,
}

/// Like [`write()`], and also returns the digests the writer could take while
/// writing (zip output): the output's, and for a zip input, the input's.
pub fn write_with_digest(
    pkg: &mut Package,
    layout: &Layout,
    kind: Kind,
    dest: &Path,
    stub: Option<&exe::Stub>,
    progress: &dyn crate::Progress,
) -> Result<Written> {
    match kind {
        Kind::Zip => zip::write_hashed(pkg, layout, dest, progress),
        _ => Ok(Written {
            entries: write(pkg, layout, kind, dest, stub, progress)?,
            output: None,
            input: None,
        }),
    }
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

    #[test]
    fn split_name_splits_at_the_last_slash() {
        assert_eq!(split_name("x64/setAid.ini"), ("x64/", "setAid.ini"));
        assert_eq!(split_name("setAid.ini"), ("", "setAid.ini"));
    }
}
