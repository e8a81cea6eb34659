//! Folder packages: listing a folder export, and writing a folder output.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Content, Entry, Handle, Layout, Package, WrittenEntry};
use crate::digest::HashingReader;
use crate::error::{Error, Location, Result};

/// Lists every file (and every empty folder) under `top`, sorted by the
/// byte order of their `/`-joined relative names. Symlinks are refused.
pub(crate) fn list(top: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    walk(top, top, &mut entries)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn walk(top: &Path, dir: &Path, out: &mut Vec<Entry>) -> Result<()> {
    let read = fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot list", e))?;
    let mut any = false;
    for child in read {
        let child = child.map_err(|e| Error::io(dir, "cannot list", e))?;
        let path = child.path();
        let rel = path.strip_prefix(top).unwrap_or(&path);
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
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
            out.push(Entry {
                name,
                size: meta.len(),
                is_dir: false,
                handle: Handle::Path(path),
            });
        } else {
            return Err(Error::UnsafeEntry {
                at: Location::entry(top, name),
                reason: "the entry is not a regular file or folder".into(),
            });
        }
    }
    if !any && dir != top {
        let rel = dir.strip_prefix(top).unwrap_or(dir);
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        out.push(Entry {
            name: format!("{name}/"),
            size: 0,
            is_dir: true,
            handle: Handle::Path(dir.to_path_buf()),
        });
    }
    Ok(())
}

/// Writes `layout` as files under `dest`, a folder that must already exist
/// and be empty (the caller's temporary folder).
pub(crate) fn write(
    pkg: &mut Package,
    layout: &Layout,
    dest: &Path,
    progress: &dyn crate::Progress,
) -> Result<Vec<WrittenEntry>> {
    let mut written = Vec::with_capacity(layout.items.len());
    for item in &layout.items {
        let target: PathBuf = dest.join(item.name.trim_end_matches('/'));
        let is_dir = match &item.content {
            Content::Copy(i) => pkg.entries()[*i].is_dir,
            _ => false,
        } || item.name.ends_with('/');
        if is_dir {
            fs::create_dir_all(&target).map_err(|e| Error::io(&target, "cannot create", e))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, "cannot create", e))?;
        }
        let mut file =
            fs::File::create(&target).map_err(|e| Error::io(&target, "cannot create", e))?;
        let digest = match &item.content {
            Content::Copy(index) => {
                let at = pkg.location(*index);
                let kind = pkg.kind();
                let reader = pkg.open_entry(*index)?;
                let mut hashing = HashingReader::new(reader);
                super::copy_entry(&mut hashing, &mut file, &at, kind, &target)?;
                hashing.finish()
            }
            Content::Replace(_, bytes) | Content::Add(bytes) => {
                file.write_all(bytes)
                    .map_err(|e| Error::io(&target, "cannot write", e))?;
                crate::digest::of_bytes(bytes)
            }
        };
        file.sync_all()
            .map_err(|e| Error::io(&target, "cannot write", e))?;
        progress.advance(digest.size);
        written.push(WrittenEntry {
            name: item.name.clone(),
            size: digest.size,
            sha256: digest.sha256,
            source: item.content.source(),
            method: None,
        });
    }
    Ok(written)
}
