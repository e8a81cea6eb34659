//! 7z packages made by `7zz` with the settings real installers use, for
//! the 7z reader and writer tests. Every file and folder is dated
//! 2024-01-01 00:00:00 UTC with fixed permissions, so 7zz's output is the
//! same on every run.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::r#gen as fx;

/// `7zz a` settings that installers and admins use.
pub mod settings {
    /// 7-Zip's default: `-mx5`, one solid LZMA2 folder (exe files with a
    /// real PE header get a BCJ folder of their own), encoded header.
    pub const DEFAULT: &[&str] = &[];
    /// LZMA instead of LZMA2.
    pub const LZMA: &[&str] = &["-m0=LZMA"];
    /// BCJ2 for executables (what `-mx9` picks for exe files), LZMA2 for
    /// the rest.
    pub const BCJ2: &[&str] = &["-mx9", "-mf=BCJ2"];
    /// One folder per file.
    pub const NON_SOLID: &[&str] = &["-ms=off"];
    /// A plain (not LZMA-encoded) header.
    pub const PLAIN_HEADER: &[&str] = &["-mhc=off"];
    /// The fastest level: a 256 KiB dictionary, folders of at most 1 MiB.
    pub const FASTEST: &[&str] = &["-mx1"];
    /// Encrypted content and file names.
    pub const ENCRYPTED_HEADER: &[&str] = &["-psecret", "-mhe=on"];
    /// Encrypted content only.
    pub const ENCRYPTED: &[&str] = &["-psecret"];
}

/// 2024-01-01 00:00:00 UTC.
pub const EPOCH: &str = "@1704067200";

/// True when `7zz` is installed.
pub fn have_7zz() -> bool {
    super::have("7zz")
}

/// A real x86-64 program (the fixture PE stub) followed by code-like bytes
/// (`call rel32` and `jmp rel32` instructions), so that 7-Zip's analysis
/// sees an executable and the branch filters have work to do.
pub fn real_setup_exe() -> Vec<u8> {
    let mut b = fx::pe_stub();
    let noise = fx::filler(64 * 1024, 11);
    for (i, chunk) in noise.chunks(8).enumerate() {
        b.push(if i % 2 == 0 { 0xE8 } else { 0xE9 });
        b.extend_from_slice(&((i as u32 * 37) % 4096).to_le_bytes());
        b.extend_from_slice(&chunk[..3]);
    }
    b
}

/// The files of the example package with a real PE as Setup.exe, an
/// incompressible 3 MiB file, and an empty file. With [`EMPTY_DIR`], the
/// usual input of the tests.
pub fn package_files() -> Vec<(String, Vec<u8>)> {
    let mut files = fx::example_files();
    for (name, bytes) in files.iter_mut() {
        if name == "Setup.exe" {
            *bytes = real_setup_exe();
        }
    }
    files.push(("Packages/blob.cab".into(), fx::filler(3 << 20, 42)));
    files.push(("Packages/empty.txt".into(), Vec::new()));
    files
}

/// An empty folder in [`package_files`]' package.
pub const EMPTY_DIR: &str = "Logs";

/// Writes `files` (and the empty folders `dirs`) under `dir/src` with
/// pinned times and permissions, and returns that folder.
pub fn tree(dir: &Path, files: &[(String, Vec<u8>)], dirs: &[&str]) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    fx::write_dir(&src, files);
    for d in dirs {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    let mut paths = Vec::new();
    collect(&src, &mut paths);
    #[cfg(unix)]
    for p in &paths {
        use std::os::unix::fs::PermissionsExt;
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let status = Command::new("touch")
        .arg("-d")
        .arg(EPOCH)
        .args(&paths)
        .status()
        .unwrap();
    assert!(status.success());
    src
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        }
        out.push(p);
    }
}

/// `7zz a` of `files` and the empty folders `dirs` with `settings`;
/// returns the archive's bytes.
pub fn archive(
    dir: &Path,
    files: &[(String, Vec<u8>)],
    dirs: &[&str],
    settings: &[&str],
) -> Vec<u8> {
    let src = tree(dir, files, dirs);
    let out = dir.join("out.7z");
    let _ = std::fs::remove_file(&out);
    let mut top: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    let o = Command::new("7zz")
        .current_dir(&src)
        .args(["a", "-bd", "-bb0", "-y"])
        .args(settings)
        .arg(&out)
        .arg("--")
        .args(&top)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "7zz a {settings:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_dir_all(&src).unwrap();
    std::fs::remove_file(&out).unwrap();
    bytes
}

/// The usual package ([`package_files`] and [`EMPTY_DIR`]) as a 7z made
/// with `settings`.
pub fn package(dir: &Path, settings: &[&str]) -> Vec<u8> {
    archive(dir, &package_files(), &[EMPTY_DIR], settings)
}

/// A single-file .exe: the fixture PE stub, a 7-Zip installer config block
/// that runs setup.exe, and `archive`.
pub fn sfx(archive: &[u8]) -> Vec<u8> {
    [fx::pe_stub(), fx::sfx_config("setup.exe"), archive.to_vec()].concat()
}

/// The console SFX module of Debian's p7zip-full (a Linux build of
/// 7-Zip's own self-extractor), when installed.
pub fn console_sfx() -> Option<Vec<u8>> {
    std::fs::read("/usr/lib/p7zip/7zCon.sfx").ok()
}

/// `7zz l -slt` of `file`: one map of properties per entry (the archive's
/// own block first).
pub fn list(file: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let o = Command::new("7zz")
        .args(["l", "-slt"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "7zz l {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stdout)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut out = Vec::new();
    let mut cur = std::collections::BTreeMap::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(" = ") {
            cur.insert(k.to_string(), v.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs `7zz t` on `file`; returns whether it passed, and its output.
pub fn test(file: &Path) -> (bool, String) {
    let o = Command::new("7zz")
        .args(["t", "-bd"])
        .arg(file)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// `7zz x` of `file` into `dir`; returns every file (not folder) as
/// (`/`-separated name, bytes), sorted, and the folders.
pub fn extract(file: &Path, dir: &Path) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let o = Command::new("7zz")
        .args(["x", "-bd", "-y"])
        .arg(format!("-o{}", dir.display()))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "7zz x: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    read_tree(dir)
}

/// Every file under `dir` as (`/`-separated name, bytes), sorted, and
/// every folder.
pub fn read_tree(dir: &Path) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let mut paths = Vec::new();
    collect(dir, &mut paths);
    let name = |p: &Path| {
        p.strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| (name(p), std::fs::read(p).unwrap()))
        .collect();
    files.sort();
    let mut dirs: Vec<String> = paths
        .iter()
        .filter(|p| p.is_dir())
        .map(|p| name(p))
        .collect();
    dirs.sort();
    (files, dirs)
}
