//! Zips read record by record, field by field (an independent parser,
//! written for the tests from APPNOTE 4.3 and 4.5, sharing no code with
//! sepkg), and inputs made by tools nobody here wrote: Info-ZIP `zip`,
//! 7-Zip and Python's `zipfile`.

use std::path::Path;
use std::process::Command;

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64le(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// One named header field and its value, as text.
pub type Field = (String, String);

/// One entry as stored: its central record and local header as named
/// fields, and its data and data descriptor bytes.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The name's bytes, as stored.
    pub name: Vec<u8>,
    pub flags: u16,
    /// DOS (date, time), from the central record.
    pub dos: (u16, u16),
    /// Where its local header is.
    pub offset: u64,
    pub crc: u32,
    /// Its compressed size.
    pub packed: u64,
    pub central: Vec<Field>,
    pub local: Vec<Field>,
    pub data: Vec<u8>,
    pub descriptor: Vec<u8>,
}

impl Stored {
    /// The name, as text where it is UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A whole archive.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub entries: Vec<Stored>,
    /// The Zip64 end record, when there is one.
    pub zip64_end: Option<Vec<u8>>,
    /// Where the end of central directory record starts, and its comment.
    pub eocd: usize,
    pub comment: Vec<u8>,
}

/// Extra fields as named fields: the Zip64 one slot by slot (per the
/// sentinels of `sentinels`, in APPNOTE order: size, compressed size,
/// offset, disk), any other whole, in hex.
fn extras(
    extra: &[u8],
    sentinels: [bool; 4],
    local: bool,
    out: &mut Vec<Field>,
) -> [Option<u64>; 4] {
    let mut zip64 = [None; 4];
    let mut at = 0;
    let mut n = 0;
    while at + 4 <= extra.len() {
        let (id, len) = (u16le(extra, at), usize::from(u16le(extra, at + 2)));
        let data = &extra[at + 4..at + 4 + len];
        if id == 1 {
            let mut k = 0;
            for (slot, name) in ["size", "packed", "offset", "disk"].iter().enumerate() {
                let present = sentinels[slot] || local && slot < 2 && data.len() >= 16;
                if !present {
                    continue;
                }
                let width = if slot == 3 { 4 } else { 8 };
                let v = if width == 8 {
                    u64le(data, k)
                } else {
                    u64::from(u32le(data, k))
                };
                zip64[slot] = Some(v);
                out.push((format!("zip64.{name}"), v.to_string()));
                k += width;
            }
            out.push(("zip64.rest".into(), hex(&data[k..])));
        } else {
            out.push((format!("extra[{n}] {id:#06x}"), hex(data)));
        }
        out.push((format!("extra[{n}] position"), at.to_string()));
        at += 4 + len;
        n += 1;
    }
    out.push(("extra trailing bytes".into(), hex(&extra[at..])));
    zip64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The central record at `at`: its fields, its length, and what it says.
fn central(b: &[u8], at: usize) -> (Vec<Field>, usize, Stored) {
    assert_eq!(&b[at..at + 4], b"PK\x01\x02", "central record at {at}");
    let f16 = |o: usize| u16le(b, at + o);
    let f32 = |o: usize| u32le(b, at + o);
    let (n, m, k) = (
        usize::from(f16(28)),
        usize::from(f16(30)),
        usize::from(f16(32)),
    );
    let name = b[at + 46..at + 46 + n].to_vec();
    let mut fields: Vec<Field> = [
        ("version made by", f16(4).to_string()),
        ("version needed", f16(6).to_string()),
        ("flags", format!("{:#06x}", f16(8))),
        ("method", f16(10).to_string()),
        ("time", format!("{:#06x}", f16(12))),
        ("date", format!("{:#06x}", f16(14))),
        ("crc", format!("{:#010x}", f32(16))),
        ("packed", f32(20).to_string()),
        ("size", f32(24).to_string()),
        ("disk", f16(34).to_string()),
        ("internal attributes", format!("{:#06x}", f16(36))),
        ("external attributes", format!("{:#010x}", f32(38))),
        ("offset", f32(42).to_string()),
        ("name", hex(&name)),
        ("comment", hex(&b[at + 46 + n + m..at + 46 + n + m + k])),
    ]
    .into_iter()
    .map(|(a, v)| (a.to_string(), v))
    .collect();
    let s = [f32(24), f32(20), f32(42)].map(|x| x == u32::MAX);
    let z = extras(
        &b[at + 46 + n..at + 46 + n + m],
        [s[0], s[1], s[2], f16(34) == 0xFFFF],
        false,
        &mut fields,
    );
    let pick = |slot: usize, v: u32| {
        if v == u32::MAX {
            z[slot].unwrap()
        } else {
            u64::from(v)
        }
    };
    let stored = Stored {
        name,
        flags: f16(8),
        dos: (f16(14), f16(12)),
        offset: pick(2, f32(42)),
        crc: f32(16),
        packed: pick(1, f32(20)),
        central: Vec::new(),
        local: Vec::new(),
        data: Vec::new(),
        descriptor: Vec::new(),
    };
    (fields, 46 + n + m + k, stored)
}

/// The local header at `at`: its fields and its length.
fn local(b: &[u8], at: usize) -> (Vec<Field>, usize) {
    assert_eq!(&b[at..at + 4], b"PK\x03\x04", "local header at {at}");
    let f16 = |o: usize| u16le(b, at + o);
    let f32 = |o: usize| u32le(b, at + o);
    let (n, m) = (usize::from(f16(26)), usize::from(f16(28)));
    let mut fields: Vec<Field> = [
        ("version needed", f16(4).to_string()),
        ("flags", format!("{:#06x}", f16(6))),
        ("method", f16(8).to_string()),
        ("time", format!("{:#06x}", f16(10))),
        ("date", format!("{:#06x}", f16(12))),
        ("crc", format!("{:#010x}", f32(14))),
        ("packed", f32(18).to_string()),
        ("size", f32(22).to_string()),
        ("name", hex(&b[at + 30..at + 30 + n])),
    ]
    .into_iter()
    .map(|(a, v)| (a.to_string(), v))
    .collect();
    let s = [f32(22) == u32::MAX, f32(18) == u32::MAX, false, false];
    extras(&b[at + 30 + n..at + 30 + n + m], s, true, &mut fields);
    (fields, 30 + n + m)
}

/// The data descriptor at `at` for an entry with `crc` and `packed`.
fn descriptor(b: &[u8], at: usize, crc: u32, packed: u64) -> Vec<u8> {
    let signed = b[at..].starts_with(b"PK\x07\x08");
    let start = if signed { at + 4 } else { at };
    assert_eq!(u32le(b, start), crc, "data descriptor at {at}: CRC");
    let wide = u32le(b, start + 4) != packed as u32 || u64le(b, start + 4) == packed;
    let len = 4 + if wide { 16 } else { 8 };
    b[at..start + len].to_vec()
}

/// Reads every record of the zip `b`.
pub fn parse(b: &[u8]) -> Parsed {
    let eocd = (0..=b.len() - 22)
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))
        .expect("no end of central directory record");
    let comment = b[eocd + 22..eocd + 22 + usize::from(u16le(b, eocd + 20))].to_vec();
    let (mut count, mut at) = (
        u64::from(u16le(b, eocd + 10)),
        u64::from(u32le(b, eocd + 16)),
    );
    let mut zip64_end = None;
    if eocd >= 20 && b[eocd - 20..].starts_with(b"PK\x06\x07") {
        let z = u64le(b, eocd - 20 + 8) as usize;
        assert_eq!(&b[z..z + 4], b"PK\x06\x06", "Zip64 end record");
        let size = u64le(b, z + 4) as usize;
        zip64_end = Some(b[z..z + 12 + size].to_vec());
        (count, at) = (u64le(b, z + 32), u64le(b, z + 48));
    }
    let mut at = at as usize;
    let mut entries = Vec::new();
    for _ in 0..count {
        let (fields, len, mut e) = central(b, at);
        e.central = fields;
        at += len;
        let (packed, crc) = (e.packed, e.crc);
        let (lfields, llen) = local(b, e.offset as usize);
        e.local = lfields;
        let data = e.offset as usize + llen;
        e.data = b[data..data + packed as usize].to_vec();
        e.descriptor = if e.flags & 8 != 0 {
            descriptor(b, data + packed as usize, crc, packed)
        } else {
            Vec::new()
        };
        entries.push(e);
    }
    Parsed {
        entries,
        zip64_end,
        eocd,
        comment,
    }
}

/// The fields of `a` and `b` that differ, but for those named in `except`
/// (`offset` covers the Zip64 offset slot too).
pub fn differences(a: &Stored, b: &Stored, except: &[&str]) -> Vec<String> {
    let skip = |name: &str| {
        except
            .iter()
            .any(|x| name == *x || name.strip_prefix("zip64.") == Some(x))
    };
    let mut out = Vec::new();
    for (what, fa, fb) in [
        ("central", &a.central, &b.central),
        ("local", &a.local, &b.local),
    ] {
        if fa.len() != fb.len() {
            out.push(format!("{what}: fields {fa:?} became {fb:?}"));
            continue;
        }
        for ((na, va), (nb, vb)) in fa.iter().zip(fb) {
            if na != nb {
                out.push(format!("{what}: field {na} became {nb}"));
            } else if va != vb && !skip(na) {
                out.push(format!("{what} {na}: {va} became {vb}"));
            }
        }
    }
    if !skip("data") && a.data != b.data {
        out.push("the compressed data differs".into());
    }
    if !skip("descriptor") && a.descriptor != b.descriptor {
        out.push(format!(
            "data descriptor {} became {}",
            hex(&a.descriptor),
            hex(&b.descriptor)
        ));
    }
    out
}

/// Runs `program` with `args` in `dir`, asserting success; `None` (and a
/// SKIPPED line) when the program is not installed.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> Option<()> {
    if !crate::support::have(program) {
        eprintln!("SKIPPED: {program} is not installed");
        return None;
    }
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

/// `7zz t` and `7zz l -slt` of `zip`: both succeed, and neither reports a
/// warning, a headers error or an extra field error. Returns the listing.
pub fn seven_zip_accepts(zip: &Path) -> Option<String> {
    let test = crate::support::check_tool("7zz", &["t"], zip)?;
    let list = crate::support::check_tool("7zz", &["l", "-slt"], zip)?;
    for (what, text) in [("7zz t", &test), ("7zz l -slt", &list)] {
        for bad in [
            "Warning",
            "WARNING",
            "Headers Error",
            "_ERROR",
            "ERROR",
            "Unexpected end",
        ] {
            assert!(
                !text.contains(bad),
                "{what} {} reports {bad:?}:\n{text}",
                zip.display()
            );
        }
    }
    assert!(test.contains("Everything is Ok"), "{test}");
    Some(list)
}

/// A zip written by Python's `zipfile` (deflated) holding `files`, whose
/// names' bytes are then set to `raw` (same length; the general purpose
/// bit 11 clear), in both headers: the way a DOS or Windows tool stores a
/// CP437 name.
pub fn python_zip_with_raw_names(
    dir: &Path,
    files: &[(String, Vec<u8>)],
    raw: &[(&str, &[u8])],
) -> Option<Vec<u8>> {
    if !crate::support::have("python3") {
        eprintln!("SKIPPED: python3 is not installed");
        return None;
    }
    let src = dir.join("src");
    crate::support::r#gen::write_dir(&src, files);
    let out = dir.join("python.zip");
    let script = "import sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
        \x20   for name in sys.argv[3:]:\n\
        \x20       z.write(sys.argv[2] + '/' + name, name)\n";
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(&out).arg(&src);
    cmd.args(files.iter().map(|(n, _)| n.as_str()));
    let status = cmd.output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut bytes = std::fs::read(&out).unwrap();
    for (placeholder, raw) in raw {
        assert_eq!(placeholder.len(), raw.len());
        let hits: Vec<usize> = (0..bytes.len() - raw.len())
            .filter(|&i| bytes[i..].starts_with(placeholder.as_bytes()))
            .collect();
        assert_eq!(
            hits.len(),
            2,
            "{placeholder} should be in one local header and one central record"
        );
        for i in hits {
            bytes[i..i + raw.len()].copy_from_slice(raw);
        }
    }
    Some(bytes)
}
