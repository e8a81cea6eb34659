//! Writes the bundled fixtures into `fixtures/` (or the folder given).
//!
//! `cargo run --example gen_fixtures` regenerates them; the test
//! `fixtures_match_the_generator` fails when they drift.

#[path = "../tests/it/support/gen.rs"]
mod generator;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures").to_string());
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in generator::bundled() {
        let path = std::path::Path::new(&dir).join(&name);
        std::fs::write(&path, &bytes)?;
        println!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}
