//! Writes the inputs of the Windows smoke suite (`.ci/windows/smoke.sh`)
//! into the folder given: a PE stub for `--to exe`, a folder export, and
//! hostile packages. The bundled example and sylink.xml come from
//! `fixtures/`.
//!
//! `cargo run --example windows_smoke_inputs -- DIR`

#[path = "../tests/it/support/gen.rs"]
mod generator;

use std::path::Path;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: windows_smoke_inputs DIR");
        std::process::exit(2);
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let with = |name: &str, bytes: &[u8]| {
        let mut files = generator::example_files();
        files.push((name.to_string(), bytes.to_vec()));
        generator::zip(&files)
    };
    let files = [
        // The program put before the payload by `--to exe --stub`.
        ("stub.exe", generator::pe_stub()),
        // Entry names that would escape the output folder on Windows.
        ("drive.zip", with("C:\\x", b"escape")),
        (
            "backslash-dotdot.zip",
            with("Packages\\..\\..\\x", b"escape"),
        ),
        // Names Windows reads as devices or trims: a folder output cannot
        // hold them.
        ("reserved.zip", with("Packages/aux.txt", b"device")),
        ("trailing-dot.zip", with("Packages/notes.", b"trimmed")),
        // Two roots, names with `/` separators inside the archive.
        (
            "two-roots.zip",
            generator::zip(
                &[
                    generator::under("x86/", generator::example_files()),
                    generator::under("x64/", generator::example_files()),
                ]
                .concat(),
            ),
        ),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes)?;
    }
    // A folder export, with a nested folder.
    generator::write_dir(&dir.join("export"), &generator::example_files());
    println!(
        "wrote {} inputs and export/ into {}",
        files.len(),
        dir.display()
    );
    Ok(())
}
