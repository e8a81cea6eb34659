//! Folder packages: listing a folder export (`DirReader`), and writing a
//! folder output (`DirWriter`).

use std::any::Any;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use time::PrimitiveDateTime;

use super::Entry;
use super::format::{EntryStream, Fault, Finished, Format, Planned, Reader, Source, Span, Writer};
use crate::error::{Error, Location, Result};

/// A folder export: every file (and every empty folder) under it, sorted
/// by the byte order of their `/`-joined relative names. Symlinks and
/// special files are refused.
pub(crate) struct DirReader {
    span: Span,
    entries: Vec<Entry>,
    paths: Vec<PathBuf>,
    /// Each entry's modification time, in UTC.
    times: Vec<Option<PrimitiveDateTime>>,
}

/// What the walk finds for one entry.
type Found = (Entry, PathBuf, Option<PrimitiveDateTime>);

impl DirReader {
    pub(crate) fn open(span: Span) -> Result<DirReader> {
        let mut found: Vec<Found> = Vec::new();
        walk(&span.path, &span.path, &mut found)?;
        found.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let mut reader = DirReader {
            span,
            entries: Vec::with_capacity(found.len()),
            paths: Vec::with_capacity(found.len()),
            times: Vec::with_capacity(found.len()),
        };
        for (entry, path, time) in found {
            reader.entries.push(entry);
            reader.paths.push(path);
            reader.times.push(time);
        }
        Ok(reader)
    }
}

/// A file's modification time in UTC (a zip's DOS time has no zone, and
/// the host's zone would make the output depend on where it was built).
fn utc(meta: &fs::Metadata) -> Option<PrimitiveDateTime> {
    let t = time::OffsetDateTime::from(meta.modified().ok()?);
    Some(PrimitiveDateTime::new(t.date(), t.time()))
}

impl Reader for DirReader {
    fn format(&self) -> Format {
        Format::Dir
    }

    fn span(&self) -> &Span {
        &self.span
    }

    fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn open(&mut self, index: usize) -> Result<EntryStream<'_>> {
        let path = &self.paths[index];
        let at = Location::entry(&self.span.path, &self.entries[index].name);
        let file = fs::File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
        Ok(EntryStream::new(
            Box::new(io::BufReader::with_capacity(1 << 16, file)),
            at,
            Fault::File(path.clone()),
        ))
    }

    fn file(&self, index: usize) -> Option<&Path> {
        (!self.entries[index].is_dir).then(|| self.paths[index].as_path())
    }

    fn modified(&self, index: usize) -> Option<PrimitiveDateTime> {
        self.times[index]
    }

    fn reopen(&self, _source: Box<dyn Source>) -> Result<Box<dyn Reader>> {
        Ok(Box::new(DirReader {
            span: self.span.clone(),
            entries: self.entries.clone(),
            paths: self.paths.clone(),
            times: self.times.clone(),
        }))
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn relative_name(top: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(top).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn walk(top: &Path, dir: &Path, out: &mut Vec<Found>) -> Result<()> {
    let read = fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot list", e))?;
    let mut any = false;
    for child in read {
        let child = child.map_err(|e| Error::io(dir, "cannot list", e))?;
        let path = child.path();
        let name = relative_name(top, &path);
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, "cannot read", e))?;
        any = true;
        if meta.file_type().is_symlink() {
            return Err(Error::UnsafeEntry {
                at: Location::entry(top, name),
                reason: "the entry is a symbolic link".into(),
            });
        }
        if meta.is_dir() {
            walk(top, &path, out)?;
        } else if meta.is_file() {
            let entry = Entry {
                name,
                size: meta.len(),
                is_dir: false,
            };
            out.push((entry, path, utc(&meta)));
        } else {
            return Err(Error::UnsafeEntry {
                at: Location::entry(top, name),
                reason: "the entry is not a regular file or folder".into(),
            });
        }
    }
    if !any && dir != top {
        let entry = Entry {
            name: format!("{}/", relative_name(top, dir)),
            size: 0,
            is_dir: true,
        };
        let time = fs::metadata(dir).ok().as_ref().and_then(utc);
        out.push((entry, dir.to_path_buf(), time));
    }
    Ok(())
}

/// Why Windows cannot create a file or folder named `name` (`/`-separated)
/// as it stands, if it cannot. Windows opens a device instead of a file for
/// a reserved name (`NUL`, `aux.txt`: the bytes written go nowhere), trims a
/// trailing dot or space (`notes.` becomes `notes`), reads `\` as a folder
/// separator and refuses `<>:"|?*` and control characters. A folder output
/// written there would not hold what its manifest and `.sha256` list.
pub fn windows_name_problem(name: &str) -> Option<String> {
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    for part in name.trim_end_matches('/').split('/') {
        if part.contains('\\') {
            return Some(format!(
                "{part:?} holds a `\\`, which Windows reads as a folder separator"
            ));
        }
        if let Some(c) = part
            .chars()
            .find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') || c.is_ascii_control())
        {
            return Some(format!(
                "{part:?} holds {c:?}, which Windows does not allow in a name"
            ));
        }
        if part.ends_with('.') || part.ends_with(' ') {
            return Some(format!(
                "{part:?} ends with a dot or a space, which Windows drops from a name"
            ));
        }
        let stem = part.split('.').next().unwrap_or(part).trim_end();
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
            return Some(format!(
                "{part:?} is a device name on Windows ({}): what is written to it is not kept",
                stem.to_ascii_uppercase()
            ));
        }
    }
    None
}

/// Refuses, before anything is written, a folder output that the host
/// cannot hold as listed: on Windows, entries named as
/// [`windows_name_problem`] describes. Elsewhere every name that passed
/// the checks on opening can be created.
pub fn check_writable(input: &Path, names: &[&str]) -> Result<()> {
    if cfg!(windows) {
        for name in names {
            if let Some(problem) = windows_name_problem(name) {
                return Err(Error::UnsafeEntry {
                    at: Location::entry(input, *name),
                    reason: format!(
                        "{problem}; a folder output on Windows cannot hold it: write a zip or cabinet instead (--to zip)"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Writes the output as files under a folder that exists and is empty (the
/// caller's temporary folder). Each file is synced before the next. With
/// `--keep-times`, each file gets its input entry's modification time.
pub(crate) struct DirWriter {
    root: PathBuf,
    names: Vec<String>,
    times: Vec<Option<PrimitiveDateTime>>,
}

impl DirWriter {
    pub(crate) fn new(root: PathBuf, plan: &[Planned]) -> DirWriter {
        DirWriter {
            root,
            names: plan.iter().map(|p| p.name.clone()).collect(),
            times: plan.iter().map(|p| p.modified).collect(),
        }
    }

    fn path(&self, row: usize) -> PathBuf {
        self.root.join(self.names[row].trim_end_matches('/'))
    }
}

impl Writer for DirWriter {
    fn add_file(&mut self, row: usize, content: &mut dyn Read) -> Result<Option<&'static str>> {
        let target = self.path(row);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, "cannot create", e))?;
        }
        let mut file =
            fs::File::create(&target).map_err(|e| Error::io(&target, "cannot create", e))?;
        io::copy(content, &mut file).map_err(|e| Error::io(&target, "cannot write", e))?;
        if let Some(t) = self.times[row] {
            let when = std::time::SystemTime::from(t.assume_utc());
            file.set_modified(when)
                .map_err(|e| Error::io(&target, "cannot set the time of", e))?;
        }
        file.sync_all()
            .map_err(|e| Error::io(&target, "cannot write", e))?;
        Ok(None)
    }

    fn add_dir(&mut self, row: usize) -> Result<()> {
        let target = self.path(row);
        fs::create_dir_all(&target).map_err(|e| Error::io(&target, "cannot create", e))
    }

    fn finish(self: Box<Self>) -> Result<Finished> {
        Ok(Finished::Dir)
    }
}

#[cfg(test)]
mod tests {
    use super::windows_name_problem;

    #[test]
    fn names_windows_cannot_create() {
        for (bad, says) in [
            ("Packages/aux.txt", "device name on Windows (AUX)"),
            ("NUL", "device name"),
            ("x64/com1", "device name on Windows (COM1)"),
            ("con .txt", "device name on Windows (CON)"),
            ("Packages/notes.", "ends with a dot"),
            ("dir /x", "ends with a dot or a space"),
            ("a\\b.txt", "folder separator"),
            ("what?.txt", "'?'"),
            ("tab\there", "'\\t'"),
        ] {
            let problem = windows_name_problem(bad).unwrap_or_default();
            assert!(problem.contains(says), "{bad:?}: {problem:?}");
        }
        for good in [
            "setAid.ini",
            "x64/Sep64.msi",
            "Packages/",
            "auxiliary.txt",
            "console/readme",
            "COM10",
            "a..b/c",
            ".hidden",
        ] {
            assert_eq!(windows_name_problem(good), None, "{good:?}");
        }
    }
}
