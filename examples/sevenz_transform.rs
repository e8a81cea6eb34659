//! A measurement aid for the 7z engine (until the container layer drives
//! it): rewrites a 7z single-file package or `.7z` with SetAid.ini's
//! KeepPreviousSetting set to 0 and sylink.xml replaced, keeping the stub,
//! then hashes the output by reading it back, as `transform` will.
//!
//! `cargo run --release --example sevenz_transform IN OUT NEW_SYLINK`

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use sepkg::package::sevenz::{Archive, Replacement, Step, WriteOptions, Writer, find_payload};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (input, output, sylink) = (
        Path::new(&args[1]),
        Path::new(&args[2]),
        Path::new(&args[3]),
    );
    let t = Instant::now();
    let len = std::fs::metadata(input)?.len();
    let mut f = File::open(input)?;
    let (base, alen) = find_payload(&mut f, 0, len)?.ok_or("no 7z archive")?;
    let mut a = Archive::open(input, base, alen)?;
    let find = |a: &Archive, name: &str| {
        a.entries()
            .iter()
            .position(|e| e.name.eq_ignore_ascii_case(name))
    };
    let setaid_i = find(&a, "setAid.ini").ok_or("no setAid.ini")?;
    let mut setaid = Vec::new();
    a.open_entry(setaid_i)?.read_to_end(&mut setaid)?;
    let text =
        String::from_utf8_lossy(&setaid).replace("KeepPreviousSetting=1", "KeepPreviousSetting=0");
    let setaid = text.into_bytes();
    let sylink_bytes = std::fs::read(sylink)?;
    let mut reps = vec![Replacement {
        entry: setaid_i,
        bytes: &setaid,
    }];
    if let Some(i) = find(&a, "sylink.xml") {
        reps.push(Replacement {
            entry: i,
            bytes: &sylink_bytes,
        });
    }
    let mut out = File::create(output)?;
    let mut stub = vec![0u8; base as usize];
    f.seek_read_exact(&mut stub)?;
    out.write_all(&stub)?;
    let mut w = Writer::new(out, output, WriteOptions::like(&a))?;
    for step in a.plan() {
        match step {
            Step::Entry(i) => w.add_entry(a.entries()[i].record.clone())?,
            Step::Folder(fi) => w.rewrite_folder(&mut a, fi, &reps)?,
        }
    }
    let (out, reports) = w.finish()?;
    out.sync_data().ok();
    drop(out);
    let written = t.elapsed();
    let digest = sepkg::digest::of_file(output)?.sha256;
    eprintln!(
        "written {:.2}s, hashed {:.2}s total; {digest}",
        written.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    for r in reports {
        eprintln!("{r:?}");
    }
    Ok(())
}

trait SeekReadExact {
    fn seek_read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()>;
}

impl SeekReadExact for File {
    fn seek_read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        self.seek(SeekFrom::Start(0))?;
        self.read_exact(buf)
    }
}
