//! [`ZipWriter`]: writes a zip's structure itself (local headers, central
//! directory, end records) and uses flate2 (through the same zlib-rs
//! backend the zip crate used) to compress new entries.
//!
//! Three kinds of row:
//! - **copied** from a zip input: local header, data and data descriptor
//!   copied as stored; the central record as stored but for the local
//!   header offset (see [`super::record`] for why not the zip crate's
//!   `raw_copy_file`);
//! - **edited** (an input zip entry with new bytes): the input's local
//!   header and central record with the new CRC and sizes, and compressed
//!   with the input entry's method; a data descriptor when the input had
//!   one, in its form;
//! - **fresh** (from a folder or cabinet, or an added sylink.xml): headers
//!   exactly as 0.1.0's writer (the zip crate) wrote them, so those outputs
//!   keep their bytes ([`super::record::Fresh`]).

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::ZipReader;
use super::record::{self, Descriptor, Directory, End, Fresh, Header, SENTINEL, Values};
use crate::error::{Error, Location, Result};
use crate::package::Origin;
use crate::package::format::{Finished, Out, Planned, Reader, Taken, Writer};

/// The deflate level of every entry sepkg compresses (the zip crate's
/// default, which 0.1.0 used).
const LEVEL: u32 = 6;
/// How much of a large file is deflated to decide whether to store it.
const SAMPLE: usize = 1 << 20;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;

/// Writes a zip into the output from its current position on. The zip's
/// offsets count from the start of the file, so a zip written after an
/// .exe stub has the absolute offsets that `unzip -t` expects (what
/// `zip -A` would fix up).
pub(crate) struct ZipWriter {
    out: Out,
    /// Where the next byte lands in the file.
    pos: u64,
    /// The central directory so far.
    central: Vec<u8>,
    entries: u64,
    version_needed: u16,
    plan: Vec<Planned>,
    /// Rows that replace an entry of a zip input: that entry's records.
    edited: HashMap<usize, Edited>,
    /// A zip input's end records, whose form the output keeps.
    end: Option<End>,
    dest: PathBuf,
}

/// The records of the input entry an edited row replaces.
struct Edited {
    local: Header,
    central: Header,
    descriptor: Option<Descriptor>,
}

/// A row compressed in memory.
struct Prepared {
    row: usize,
    method: u16,
    crc: u32,
    size: u64,
    data: Vec<u8>,
}

impl ZipWriter {
    pub(crate) fn new(
        mut out: Out,
        from: &mut dyn Reader,
        plan: &[Planned],
        dest: &Path,
    ) -> Result<ZipWriter> {
        let pos = out
            .stream_position()
            .map_err(|e| Error::io(dest, "cannot write", e))?;
        let mut edited = HashMap::new();
        let mut end = None;
        if let Some(zip) = from.as_any_mut().downcast_mut::<ZipReader>() {
            for (row, p) in plan.iter().enumerate() {
                if let (Origin::Replaced, Some(i)) = (p.origin, p.source) {
                    let (_, _, local, descriptor) = zip.stored_span(i)?;
                    let central = zip.record(i).central.clone();
                    edited.insert(
                        row,
                        Edited {
                            local,
                            central,
                            descriptor,
                        },
                    );
                }
            }
            end = zip.end().cloned();
        }
        Ok(ZipWriter {
            out,
            pos,
            central: Vec::new(),
            entries: 0,
            version_needed: 0,
            plan: plan.to_vec(),
            edited,
            end,
            dest: dest.to_path_buf(),
        })
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn push_central(&mut self, central: &[u8]) {
        self.version_needed = self.version_needed.max(record::le16(central, 6));
        self.central.extend_from_slice(central);
        self.entries += 1;
    }

    /// An error for a row whose headers cannot be written.
    fn limit(&self, row: usize, what: impl std::fmt::Display) -> Error {
        Error::Limit {
            at: Location::entry(&self.dest, &self.plan[row].name),
            what: format!("its zip headers cannot be written: {what}"),
        }
    }

    /// The header fields of a row sepkg writes itself.
    fn fresh(&self, row: usize, method: u16, large: bool) -> Fresh {
        let p = &self.plan[row];
        Fresh {
            name: p.name.as_bytes().to_vec(),
            method,
            dir: p.is_dir,
            when: crate::package::dos::dos_time(p.modified),
            large,
        }
    }

    /// Row `row` with `bytes`, compressed in memory, so that its header is
    /// written once with its CRC and sizes. Runs on any thread.
    fn prepare(&self, row: usize, bytes: &[u8]) -> Result<Prepared> {
        let (method, data) = match (self.edited.get(&row), self.plan[row].origin) {
            (Some(e), _) => {
                let method = e.central.method();
                (method, compress(method, bytes)?)
            }
            // An edit of a folder's file is deflated like the file would
            // have been, without the stored fallback (kept so that outputs
            // stay byte-identical to earlier versions').
            (None, Origin::Replaced) => (DEFLATED, compress(DEFLATED, bytes)?),
            (None, _) => {
                let deflated = compress(DEFLATED, bytes)?;
                if deflated.len() < bytes.len() || bytes.is_empty() {
                    (DEFLATED, deflated)
                } else {
                    (STORED, bytes.to_vec())
                }
            }
        };
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        Ok(Prepared {
            row,
            method,
            crc: crc.sum(),
            size: bytes.len() as u64,
            data,
        })
    }

    /// Writes a row compressed in memory: an edited entry in its input's
    /// headers, or a fresh one.
    fn write_prepared(&mut self, p: Prepared) -> Result<&'static str> {
        let packed = p.data.len() as u64;
        let at = self.pos;
        let (local, central, descriptor) = match self.edited.get(&p.row) {
            Some(e) => {
                let mut local = e.local.clone();
                let mut central = e.central.clone();
                let values = Values {
                    crc: Some(p.crc),
                    size: Some(p.size),
                    packed: Some(packed),
                    offset: None,
                };
                local
                    .set(&local_values(&local, e.descriptor, values))
                    .map_err(|r| self.limit(p.row, r))?;
                let offset = Values {
                    offset: Some(at),
                    ..values
                };
                central.set(&offset).map_err(|r| self.limit(p.row, r))?;
                let descriptor = match e.descriptor {
                    Some(d) => d
                        .write(p.crc, packed, p.size)
                        .map_err(|r| self.limit(p.row, r))?,
                    None => Vec::new(),
                };
                (local.bytes().to_vec(), central.bytes().to_vec(), descriptor)
            }
            None => {
                let large = p.size >= u64::from(SENTINEL) || packed >= u64::from(SENTINEL);
                let fresh = self.fresh(p.row, p.method, large);
                let local = fresh.local(p.crc, packed, p.size);
                (local, fresh.central(p.crc, packed, p.size, at), Vec::new())
            }
        };
        self.emit(&local)?;
        self.emit(&p.data)?;
        self.emit(&descriptor)?;
        self.push_central(&central);
        Ok(method_name(p.method))
    }

    /// Streams a large file of a non-zip input in: local header with
    /// zeros, the data (deflated unless its first MiB does not shrink),
    /// then the header again with the CRC and sizes. (The output is then
    /// hashed by reading it back.)
    fn stream_fresh(&mut self, row: usize, content: &mut dyn Read) -> Result<&'static str> {
        let dest = self.dest.clone();
        let werr = |e| Error::io(&dest, "cannot write", e);
        let mut sample = vec![0u8; SAMPLE];
        let got = super::super::read_up_to(content, &mut sample).map_err(werr)?;
        sample.truncate(got);
        let method = if compress(DEFLATED, &sample)?.len() < sample.len() {
            DEFLATED
        } else {
            STORED
        };
        let fresh = self.fresh(row, method, self.plan[row].size >= u64::from(SENTINEL));
        let at = self.pos;
        self.emit(&fresh.local(0, 0, 0))?;
        let mut sink = Counted {
            out: &mut self.out,
            written: 0,
        };
        let mut input = Checked {
            inner: content,
            crc: flate2::Crc::new(),
            size: sample.len() as u64,
        };
        input.crc.update(&sample);
        // The sample in one write, then the rest as `io::copy` reads it:
        // as 0.1.0 fed the encoder. Deflate's output depends on how its
        // input is cut, and these bytes are pinned.
        if method == DEFLATED {
            let mut encoder = DeflateEncoder::new(&mut sink, Compression::new(LEVEL));
            encoder.write_all(&sample).map_err(werr)?;
            io::copy(&mut input, &mut encoder).map_err(werr)?;
            encoder.finish().map_err(werr)?;
        } else {
            sink.write_all(&sample).map_err(werr)?;
            io::copy(&mut input, &mut sink).map_err(werr)?;
        }
        let (packed, size, crc) = (sink.written, input.size, input.crc.sum());
        if !fresh.large && (packed >= u64::from(SENTINEL) || size >= u64::from(SENTINEL)) {
            return Err(self.limit(row, "it grew past 4 GiB while sepkg read it"));
        }
        let end = at + fresh.local(0, 0, 0).len() as u64 + packed;
        let local = fresh.local(crc, packed, size);
        self.out
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.out.write_all(&local))
            .and_then(|_| self.out.seek(SeekFrom::Start(end)))
            .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
        self.pos = end;
        self.push_central(&fresh.central(crc, packed, size, at));
        Ok(method_name(method))
    }
}

impl Writer for ZipWriter {
    fn raw_units(
        &self,
        from: &mut dyn Reader,
        plan: &[Planned],
    ) -> Vec<(usize, std::ops::Range<usize>)> {
        if from.as_any_mut().downcast_mut::<ZipReader>().is_none() {
            return Vec::new();
        }
        plan.iter()
            .enumerate()
            .filter_map(|(row, p)| match (p.origin, p.source) {
                (Origin::Copied, Some(i)) => Some((i, row..row + 1)),
                _ => None,
            })
            .collect()
    }

    fn copy_raw(
        &mut self,
        from: &mut dyn Reader,
        unit: usize,
        _new: &[(usize, &[u8])],
    ) -> Result<Vec<Taken>> {
        let Some(zip) = from.as_any_mut().downcast_mut::<ZipReader>() else {
            return Err(Error::Internal(
                "a zip raw copy was asked of a reader that is not a zip".into(),
            ));
        };
        let (start, len, _, _) = zip.stored_span(unit)?;
        let mut central = zip.record(unit).central.clone();
        let offset = Values {
            offset: Some(self.pos),
            ..Values::default()
        };
        if let Err(what) = central.set(&offset) {
            return Err(Error::Limit {
                at: Location::entry(&self.dest, &zip.entries[unit].name),
                what: format!("its zip headers cannot be written: {what}"),
            });
        }
        zip.copy_bytes(unit, (start, len), &mut self.out, &self.dest)?;
        self.pos += len;
        self.push_central(central.bytes());
        Ok(vec![Taken {
            method: Some(method_name(central.method())),
            digest: None,
        }])
    }

    fn add_file(&mut self, row: usize, content: &mut dyn Read) -> Result<Option<&'static str>> {
        let p = &self.plan[row];
        if p.origin != Origin::Copied {
            // New bytes (an edit, an injected file): small, compressed in memory.
            let mut bytes = Vec::with_capacity(p.size as usize);
            content
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(&self.dest, "cannot write", e))?;
            let prepared = self.prepare(row, &bytes)?;
            return self.write_prepared(prepared).map(Some);
        }
        self.stream_fresh(row, content).map(Some)
    }

    fn add_files(&mut self, files: &[(usize, Vec<u8>)]) -> Result<Vec<Option<&'static str>>> {
        let prepared = prepare_all(self, files)?;
        let mut methods = Vec::with_capacity(prepared.len());
        for p in prepared {
            methods.push(Some(self.write_prepared(p)?));
        }
        Ok(methods)
    }

    fn add_dir(&mut self, row: usize) -> Result<()> {
        let fresh = self.fresh(row, STORED, false);
        let at = self.pos;
        self.emit(&fresh.local(0, 0, 0))?;
        self.push_central(&fresh.central(0, 0, 0, at));
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Finished> {
        let dir = Directory {
            start: self.pos,
            size: self.central.len() as u64,
            entries: self.entries,
            version_needed: self.version_needed,
        };
        let central = std::mem::take(&mut self.central);
        self.emit(&central)?;
        let end = record::write_end(&dir, self.end.as_ref());
        self.emit(&end)?;
        Ok(Finished::File(self.out, Vec::new()))
    }
}

/// The values an edited entry's local header gets. With a data descriptor,
/// a field the input left 0 (a streaming writer does not know the value
/// yet; Info-ZIP streaming leaves CRC and compressed size out but gives
/// the size) stays 0: the descriptor carries it.
fn local_values(local: &Header, descriptor: Option<Descriptor>, v: Values) -> Values {
    if descriptor.is_none() {
        return v;
    }
    let (packed, size) = local.size_fields();
    let keep = |field: u32, x: Option<u64>| if field == 0 { None } else { x };
    Values {
        crc: if local.crc() == 0 { None } else { v.crc },
        packed: keep(packed, v.packed),
        size: keep(size, v.size),
        offset: None,
    }
}

/// `bytes` compressed with `method` (stored or deflated).
fn compress(method: u16, bytes: &[u8]) -> Result<Vec<u8>> {
    if method == STORED {
        return Ok(bytes.to_vec());
    }
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::new(LEVEL));
    encoder
        .write_all(bytes)
        .and_then(|_| encoder.finish())
        .map_err(|e| Error::Internal(format!("deflating in memory failed: {e}")))
}

/// Compresses `files` on every core; returns them in order.
fn prepare_all(writer: &ZipWriter, files: &[(usize, Vec<u8>)]) -> Result<Vec<Prepared>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len())
        .max(1);
    let mut results: Vec<Option<Result<Prepared>>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..files.len())
                        .step_by(workers)
                        .map(|k| (k, writer.prepare(files[k].0, &files[k].1)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (k, r) in done {
                    results[k] = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Error::Internal(
                    "a thread compressing zip entries stopped unexpectedly".into(),
                ))
            })
        })
        .collect()
}

/// `stored` or `deflated`, for the manifest.
fn method_name(method: u16) -> &'static str {
    match method {
        STORED => "stored",
        _ => "deflated",
    }
}

/// Counts the bytes written through it.
struct Counted<'a> {
    out: &'a mut Out,
    written: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Takes the CRC and size of what is read through it.
struct Checked<R> {
    inner: R,
    crc: flate2::Crc,
    size: u64,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
