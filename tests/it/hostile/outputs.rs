//! The output: paths that would overwrite the input or cannot be written,
//! and writes that fail part-way (a full disk, a read-only folder,
//! `ulimit -f`, SIGKILL), which must leave nothing under the output's
//! names.

use std::path::{Path, PathBuf};

use super::{Case, Format, Invocation, Run, assert_no_panic, case, example_zip, plus, succeeds};
use crate::support::r#gen as fx;
use crate::support::harness::{test_with, tests};
use crate::support::{self, sepkg, text};

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "output equal to the input",
            "output-is-input",
            &["same.zip: the output would overwrite the input"],
            |dir| {
                let input = dir.join("same.zip");
                std::fs::write(&input, example_zip()).unwrap();
                Invocation::new(dir, &input).output(&input)
            },
        ),
        case(
            "output equal to the input by another path",
            "output-is-input",
            &["the output would overwrite the input"],
            |dir| {
                let input = dir.join("same.zip");
                std::fs::write(&input, example_zip()).unwrap();
                Invocation::new(dir, input).output(dir.join("out/../same.zip"))
            },
        ),
        case(
            "output inside the input folder",
            "usage",
            &["inside the input folder"],
            |dir| {
                let input = dir.join("pkgdir");
                fx::write_dir(&input, &fx::example_files());
                Invocation::new(dir, &input).output(input.join("out.zip"))
            },
        ),
        case(
            "output folder is a file",
            "io",
            &["notadir: cannot open output folder: not a directory"],
            |dir| {
                let input = dir.join("pkg.zip");
                std::fs::write(&input, example_zip()).unwrap();
                std::fs::write(dir.join("notadir"), b"a file").unwrap();
                Invocation::new(dir, input).output(dir.join("notadir/out.zip"))
            },
        ),
        case(
            "output folder is missing",
            "io",
            &["nowhere: cannot open output folder: No such file"],
            |dir| {
                let input = dir.join("pkg.zip");
                std::fs::write(&input, example_zip()).unwrap();
                Invocation::new(dir, input).output(dir.join("nowhere/out.zip"))
            },
        ),
        case(
            "folder output that exists",
            "usage",
            &["outdir: already exists"],
            |dir| {
                let input = dir.join("pkg.zip");
                std::fs::write(&input, example_zip()).unwrap();
                let invocation = Invocation::new(dir, input).output(dir.join("out/outdir"));
                std::fs::create_dir(dir.join("out/outdir")).unwrap();
                invocation
            },
        )
        .to(&[Format::Dir]),
    ]
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    use Format::{Cab, Dir, Exe, Zip};
    let mut trials = Vec::new();
    // A file output that cannot hold its sidecar: not a folder, whose
    // files are each smaller than the output.
    for (scenario, formats) in [
        (Disk::HalfTheOutput, &[Zip, Cab, Dir, Exe][..]),
        (Disk::TheOutputButNotItsSidecar, &[Zip, Cab, Exe][..]),
    ] {
        for &to in formats {
            let name = format!(
                "hostile::outputs::full_disk::{}::{}",
                scenario.name(),
                Run::To(to).label()
            );
            trials.push(test_with(
                name,
                (scenario, to),
                full_disk_leaves_nothing_and_says_so,
            ));
        }
    }
    for to in Format::ALL {
        let run = Run::To(to).label();
        trials.push(test_with(
            format!("hostile::outputs::output_folder_not_writable::{run}"),
            to,
            output_folder_not_writable,
        ));
        trials.push(test_with(
            format!("hostile::outputs::file_size_limit_is_an_error_not_a_crash::{run}"),
            to,
            file_size_limit_is_an_error_not_a_crash,
        ));
    }
    // Only a zip output is written slowly enough (deflated by a debug
    // build) for the kill to land mid-write.
    trials.extend(tests![
        sigkill_while_writing_leaves_nothing_under_the_output_name
    ]);
    trials
}

/// A package with one large incompressible file, so writing it takes a while
/// and its output is `len` bytes or more.
fn large_folder(dir: &Path, len: usize) -> PathBuf {
    let input = dir.join("large");
    let files = plus(
        fx::example_files(),
        "Packages/payload.bin",
        &fx::filler(len, 17),
    );
    fx::write_dir(&input, &files);
    input
}

/// The names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    support::listing(dir)
}

/// Asserts that nothing stands under the zip output's names in `out_dir`.
fn assert_no_output(out_dir: &Path, what: &str) {
    for name in ["out.zip", "out.zip.sha256", "out.zip.manifest.json"] {
        assert!(
            !out_dir.join(name).exists(),
            "{what}: {name} exists: {:?}",
            names(out_dir)
        );
    }
}

/// A tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` at `dir`; None where mounting is not
    /// allowed (not root, or no CAP_SYS_ADMIN in a container).
    fn mount(dir: &Path, bytes: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// How small a full disk is.
#[derive(Debug, Clone, Copy)]
enum Disk {
    /// Half the output's size.
    HalfTheOutput,
    /// The output's size in whole pages: no room for its sidecar and
    /// manifest.
    TheOutputButNotItsSidecar,
}

impl Disk {
    fn name(self) -> &'static str {
        match self {
            Disk::HalfTheOutput => "half_the_output",
            Disk::TheOutputButNotItsSidecar => "the_output_but_not_its_sidecar",
        }
    }
}

fn full_disk_leaves_nothing_and_says_so((disk_size, to): (Disk, Format)) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("pkg.zip");
    let files = plus(
        fx::example_files(),
        "Packages/payload.bin",
        &fx::filler(300_000, 5),
    );
    std::fs::write(&input, fx::zip(&files)).unwrap();
    // Measure the output, then mount a disk that cannot hold it, or one
    // that holds the output but not its sidecar and manifest.
    let invocation = Invocation::new(tmp.path(), &input);
    succeeds(&invocation, to);
    let size = tree_size(&invocation.output_for(to));
    let pages = size.div_ceil(4096) * 4096;
    let what = format!("{} --to {}", disk_size.name(), to.arg());
    let what = what.as_str();
    let bytes = match disk_size {
        Disk::HalfTheOutput => pages / 2,
        Disk::TheOutputButNotItsSidecar => pages,
    };
    {
        let disk = tmp.path().join("disk");
        let Some(_mount) = Tmpfs::mount(&disk, bytes) else {
            eprintln!("SKIPPED full disk ({what}): cannot mount a tmpfs here (needs root)");
            return;
        };
        let a = Invocation::new(tmp.path(), &input).output(disk.join("out"));
        let out = sepkg().args(a.args(Run::To(to))).output().unwrap();
        let (_, stderr) = text(&out);
        assert_no_panic(what, &stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        // Only our message: nothing from a library's Drop glued before it.
        assert!(stderr.starts_with("error: "), "{what}: {stderr}");
        assert!(
            stderr.contains("No space left on device"),
            "{what}: {stderr}"
        );
        assert!(!stderr.contains("at path"), "{what}: {stderr}");
        assert!(
            stderr.contains(&*disk.to_string_lossy()),
            "{what}: {stderr}"
        );
        assert!(stderr.contains("hint: "), "{what}: {stderr}");
        assert_eq!(names(&disk), Vec::<String>::new(), "{what}: left behind");
        eprintln!("full disk, {what}: {}", stderr.lines().next().unwrap_or(""));
    }
}

/// The bytes of a file, or of every file under a folder.
fn tree_size(path: &Path) -> u64 {
    let meta = std::fs::metadata(path).unwrap();
    if meta.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| tree_size(&e.unwrap().path()))
            .sum()
    } else {
        meta.len()
    }
}

/// Makes a folder read-only even for root (`chattr +i`), undone on drop.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Option<Immutable> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(dir.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

fn output_folder_not_writable(to: Format) {
    // Root ignores permission bits, so a 0555 folder proves nothing here;
    // an immutable folder refuses even root.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("pkg.zip");
    std::fs::write(&input, example_zip()).unwrap();
    let a = Invocation::new(tmp.path(), &input).args(Run::To(to));
    let out_dir = tmp.path().join("out");
    let Some(_guard) = Immutable::set(&out_dir) else {
        eprintln!("SKIPPED read-only output folder: chattr +i is not allowed here");
        return;
    };
    let out = sepkg().args(&a).output().unwrap();
    let (_, stderr) = text(&out);
    assert_no_panic("read-only", &stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // A folder output is staged in a temporary folder beside it.
    let temporary = if to == Format::Dir { "folder" } else { "file" };
    assert!(
        stderr.contains(&format!(
            "{}: cannot create a temporary {temporary} in: Operation not permitted",
            out_dir.display()
        )),
        "{stderr}"
    );
    assert_eq!(names(&out_dir), Vec::<String>::new());
}

fn file_size_limit_is_an_error_not_a_crash(to: Format) {
    // `ulimit -f` sends SIGXFSZ to a process that writes past it, which
    // kills it by default. sepkg catches the signal, so the write fails
    // with EFBIG, the error is reported and the temporary file removed.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("pkg.zip");
    let files = plus(
        fx::example_files(),
        "Packages/payload.bin",
        &fx::filler(400_000, 5),
    );
    std::fs::write(&input, fx::zip(&files)).unwrap();
    let a = Invocation::new(tmp.path(), &input).args(Run::To(to));
    let out = std::process::Command::new("sh")
        .arg("-c")
        // 200 blocks: 100 KB (dash) or 200 KB (bash), below the output's size.
        .arg("ulimit -f 200 && exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin("sepkg"))
        .args(&a)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_no_panic("ulimit", &stderr);
    assert_eq!(out.status.code(), Some(2), "{:?}: {stderr}", out.status);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("cannot write: File too large"), "{stderr}");
    assert_eq!(names(&tmp.path().join("out")), Vec::<String>::new());
}

fn sigkill_while_writing_leaves_nothing_under_the_output_name() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    // Incompressible, and deflated (folder to zip) by a debug build: several
    // seconds of writing, so the kill lands mid-write.
    let input = large_folder(tmp.path(), 48 << 20);
    let a = Invocation::new(tmp.path(), &input).args(Run::To(Format::Zip));
    let out_dir = tmp.path().join("out");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("sepkg"))
        .args(&a)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut last = 0;
    let temp = loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no growing temporary file appeared: {:?}",
            names(&out_dir)
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("sepkg finished ({status}) before it could be killed: make the input larger");
        }
        let part = names(&out_dir)
            .into_iter()
            .find(|n| n.starts_with(".out.zip.") && n.ends_with(".part"));
        if let Some(name) = part {
            let len = std::fs::metadata(out_dir.join(&name)).map_or(0, |m| m.len());
            // Past the first 1 MiB buffer flush and still growing.
            if last > 1 << 20 && len > last {
                break name;
            }
            last = len;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "sepkg was not killed: {status}");
    assert_no_output(&out_dir, "after SIGKILL");
    // What is left is the hidden temporary file: the only trace, and never
    // under a name a web server or a script would pick up.
    let left = names(&out_dir);
    assert!(
        left.iter().all(|n| n.starts_with(".out.zip.")),
        "unexpected leftovers: {left:?}"
    );
    eprintln!(
        "SIGKILL after {:?} while writing {temp} ({last}+ bytes): left {left:?}, nothing under out.zip",
        start.elapsed()
    );
}
