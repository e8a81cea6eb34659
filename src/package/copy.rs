//! The one copy loop: from any reader, through any writer, with raw units,
//! streamed entries, hashing, progress, the written-entry rows, and the
//! digests of both the input and the output.
//!
//! The loop asks the writer which input units it copies as they are
//! ([`Writer::raw_units`]); their content is never decoded on this thread.
//! Their entries' digests come from a second thread that opens the input
//! again ([`Reader::reopen`]) and reads those entries (decoding them checks
//! their CRCs); the same thread's reads of the input file give the input's
//! digest too (see [`SharedHasher`]), so the input is read once for both.
//! Every other row is streamed through this thread, which hashes it on the
//! way: small files in batches (a writer may compress a batch on every
//! core), large ones one at a time, never whole in memory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::format::{EntryStream, Finished, Format, Out, Planned, Reader, Sink, Writer};
use super::{Content, Layout, Origin, WrittenEntry};
use crate::digest::{self, Digest, HashingReader, HashingWriter, SequentialHasher};
use crate::error::{Error, Location, Result};

/// Files up to this size are read whole and handed to the writer in
/// batches; larger ones are streamed.
const SMALL: u64 = 4 << 20;
/// How many bytes of small files one batch holds: bounds the memory held.
const BATCH_BYTES: u64 = 16 << 20;

/// The plan rows of `layout`, with their sizes (and with `keep_times`,
/// the input entries' modification times).
pub(crate) fn plan(from: &dyn Reader, layout: &Layout, keep_times: bool) -> Vec<Planned> {
    let modified = |i: usize| if keep_times { from.modified(i) } else { None };
    layout
        .items
        .iter()
        .map(|item| match &item.content {
            Content::Copy(i) => {
                let e = &from.entries()[*i];
                Planned {
                    name: item.name.clone(),
                    size: e.size,
                    is_dir: e.is_dir,
                    source: Some(*i),
                    origin: Origin::Copied,
                    modified: modified(*i),
                }
            }
            Content::Replace(i, bytes) => Planned {
                name: item.name.clone(),
                size: bytes.len() as u64,
                is_dir: false,
                source: Some(*i),
                origin: Origin::Replaced,
                modified: modified(*i),
            },
            Content::Add(bytes) => Planned {
                name: item.name.clone(),
                size: bytes.len() as u64,
                is_dir: item.name.ends_with('/'),
                source: None,
                origin: Origin::Added,
                modified: None,
            },
        })
        .collect()
}

/// A row's result: written by this thread (with its digest), or copied
/// raw by the writer (digest to come from the digest thread).
struct Row {
    method: Option<&'static str>,
    digest: Option<Digest>,
}

/// Copies every row of `layout` from `from` into `writer`. Returns one
/// result per plan row (`None` for folder entries), the finished writer's
/// output, and the input's digest: taken by the digest thread as it reads
/// the input, or by a thread of its own when there is no digest thread;
/// for a folder input, the digest of its [`super::listing`].
pub(crate) fn run(
    from: &mut dyn Reader,
    layout: &Layout,
    plan: &[Planned],
    mut writer: Box<dyn Writer>,
    progress: &dyn crate::Progress,
) -> Result<(Vec<Option<WrittenEntry>>, Finished, Digest)> {
    let raw = writer.raw_units(from, plan);
    if let Some((unit, _)) = raw.iter().find(|(u, _)| *u >= from.units().len()) {
        return Err(Error::Internal(format!(
            "the writer chose unit {unit}, and the input has {}",
            from.units().len()
        )));
    }
    // The raw rows whose digests the second thread takes: copied files.
    let jobs: Vec<(usize, usize)> = raw
        .iter()
        .flat_map(|(_, rows)| rows.clone())
        .filter_map(|r| match &plan[r] {
            p if p.origin == Origin::Copied && !p.is_dir => p.source.map(|s| (r, s)),
            _ => None,
        })
        .collect();
    let second = if jobs.is_empty() {
        None
    } else {
        let source = SharedHasher::open(&from.span().path)?;
        Some((from.reopen(Box::new(source.clone()))?, source))
    };
    let cancel = AtomicBool::new(false);
    // Unless the second reader reads the input through the hashed source,
    // the input is hashed beside the writer by a thread of its own.
    let through_source = second.is_some() && from.reopen_reads_source();
    let whole_file =
        (!through_source && from.format() != Format::Dir).then(|| from.span().path.clone());
    let (rows, hashed, file_digest) = std::thread::scope(|scope| {
        let hasher = second.map(|(reader, source)| {
            let (jobs, cancel) = (&jobs, &cancel);
            let source = through_source.then_some(source);
            scope.spawn(move || hash_rows(reader, source, jobs, cancel))
        });
        let file_hasher = whole_file
            .as_deref()
            .map(|path| scope.spawn(move || digest::of_file(path)));
        let rows = copy_rows(from, layout, plan, &raw, writer.as_mut(), progress);
        if rows.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        let hashed = hasher.map(|h| {
            h.join().unwrap_or_else(|_| {
                Err(Error::Internal(
                    "the thread hashing the input stopped unexpectedly".into(),
                ))
            })
        });
        let file_digest = file_hasher.map(|h| {
            h.join().unwrap_or_else(|_| {
                Err(Error::Internal(
                    "the thread hashing the input stopped unexpectedly".into(),
                ))
            })
        });
        (rows, hashed, file_digest)
    });
    let mut rows = rows?;
    let (digests, mut input) = match hashed.transpose()? {
        Some((d, input)) => (d, input),
        None => (Vec::new(), None),
    };
    if let Some(d) = file_digest.transpose()? {
        input = Some(d);
    }
    add_digests(from, plan, &mut rows, digests)?;
    let finished = writer.finish()?;
    let input = match input {
        Some(d) => d,
        None => folder_digest(from, plan, &rows)?,
    };
    Ok((written_entries(plan, rows)?, finished, input))
}

/// Puts the digest thread's digests into their rows.
fn add_digests(
    from: &dyn Reader,
    plan: &[Planned],
    rows: &mut [Row],
    digests: Vec<(usize, Digest)>,
) -> Result<()> {
    for (row, digest) in digests {
        let planned = &plan[row];
        // A raw copy carries the declared size into the output; the CRC
        // does not cover it, so check it against what was read.
        if planned.size != digest.size {
            let at = planned
                .source
                .map(|s| Location::entry(&from.span().path, &from.entries()[s].name))
                .unwrap_or_else(|| Location::file(&from.span().path));
            return Err(Error::corrupt(
                at,
                from.format().name(),
                format!(
                    "the header declares {} bytes but the entry holds {}",
                    planned.size, digest.size
                ),
            ));
        }
        if let Some(r) = rows.get_mut(row) {
            r.digest = Some(digest);
        }
    }
    Ok(())
}

/// The manifest rows: one per file row (`None` for a folder entry).
fn written_entries(plan: &[Planned], rows: Vec<Row>) -> Result<Vec<Option<WrittenEntry>>> {
    plan.iter()
        .zip(rows)
        .map(|(p, r)| {
            if p.is_dir {
                return Ok(None);
            }
            let digest = r.digest.ok_or_else(|| {
                Error::Internal(format!("no digest was taken of the entry {:?}", p.name))
            })?;
            Ok(Some(WrittenEntry {
                name: p.name.clone(),
                size: digest.size,
                sha256: digest.sha256,
                source: p.origin,
                method: r.method,
            }))
        })
        .collect::<Result<Vec<_>>>()
}

/// A folder input's digest: that of its [`super::listing`], with the
/// digests of the files copied (the same bytes) and hashing the others.
fn folder_digest(from: &dyn Reader, plan: &[Planned], rows: &[Row]) -> Result<Digest> {
    let mut copied = std::collections::HashMap::new();
    for (p, r) in plan.iter().zip(rows) {
        if let (Origin::Copied, Some(i), Some(d)) = (p.origin, p.source, &r.digest) {
            copied.insert(i, d.clone());
        }
    }
    let mut digests = Vec::new();
    for (i, entry) in from.entries().iter().enumerate() {
        if entry.is_dir {
            continue;
        }
        let d = match (copied.remove(&i), from.file(i)) {
            (Some(d), _) => d,
            (None, Some(path)) => digest::of_file(path)?,
            (None, None) => {
                return Err(Error::Internal(format!(
                    "the folder entry {:?} has no file",
                    entry.name
                )));
            }
        };
        digests.push((d, entry.name.as_str()));
    }
    let text = super::listing("", digests.iter().map(|(d, n)| (d.sha256.as_str(), *n)));
    Ok(Digest {
        size: digests.iter().map(|(d, _)| d.size).sum(),
        sha256: digest::of_bytes(text.as_bytes()).sha256,
    })
}

/// The main thread's work: every row in order, raw units through
/// [`Writer::copy_raw`], the rest streamed.
fn copy_rows(
    from: &mut dyn Reader,
    layout: &Layout,
    plan: &[Planned],
    raw: &[(usize, Range<usize>)],
    writer: &mut dyn Writer,
    progress: &dyn crate::Progress,
) -> Result<Vec<Row>> {
    let mut rows: Vec<Row> = Vec::with_capacity(plan.len());
    let mut next_raw = raw.iter().peekable();
    let mut row = 0;
    while row < plan.len() {
        if let Some((unit, range)) = next_raw.next_if(|(_, r)| r.start == row) {
            let new: Vec<(usize, &[u8])> = range
                .clone()
                .filter_map(|r| match &layout.items[r].content {
                    Content::Replace(_, bytes) | Content::Add(bytes) => Some((r, bytes.as_slice())),
                    Content::Copy(_) => None,
                })
                .collect();
            let taken = writer.copy_raw(from, *unit, &new)?;
            if taken.len() != range.len() {
                return Err(Error::Internal(format!(
                    "unit {unit} was copied as {} rows, planned as {}",
                    taken.len(),
                    range.len()
                )));
            }
            for (t, r) in taken.into_iter().zip(range.clone()) {
                progress.advance(plan[r].size);
                // New bytes are hashed here; copied ones by the digest thread.
                let digest = t.digest.or_else(|| {
                    new.iter()
                        .find(|(n, _)| *n == r)
                        .map(|(_, bytes)| digest::of_bytes(bytes))
                });
                rows.push(Row {
                    method: t.method,
                    digest,
                });
            }
            row = range.end;
            continue;
        }
        let stop = next_raw.peek().map_or(plan.len(), |(_, r)| r.start);
        let p = &plan[row];
        if p.is_dir {
            writer.add_dir(row)?;
            rows.push(Row {
                method: None,
                digest: None,
            });
            row += 1;
        } else if p.size <= SMALL {
            let end = batch_end(plan, row, stop);
            rows.extend(write_batch(from, layout, row..end, writer, progress)?);
            row = end;
        } else {
            rows.push(write_streamed(from, layout, plan, row, writer)?);
            progress.advance(plan[row].size);
            row += 1;
        }
    }
    Ok(rows)
}

/// Where a batch of small files that starts at `start` ends (before `stop`).
fn batch_end(plan: &[Planned], start: usize, stop: usize) -> usize {
    let mut bytes = 0;
    let mut end = start;
    while end < stop {
        let p = &plan[end];
        if p.is_dir || p.size > SMALL || (end > start && bytes + p.size > BATCH_BYTES) {
            break;
        }
        bytes += p.size;
        end += 1;
    }
    end
}

/// Reads the small files of `rows` whole, hashes them, and hands them to
/// the writer together.
fn write_batch(
    from: &mut dyn Reader,
    layout: &Layout,
    rows: Range<usize>,
    writer: &mut dyn Writer,
    progress: &dyn crate::Progress,
) -> Result<Vec<Row>> {
    let mut files = Vec::with_capacity(rows.len());
    for row in rows {
        let bytes = match &layout.items[row].content {
            Content::Copy(i) => read_whole(from, *i)?,
            Content::Replace(_, bytes) | Content::Add(bytes) => bytes.clone(),
        };
        files.push((row, bytes));
    }
    let methods = writer.add_files(&files)?;
    Ok(files
        .iter()
        .zip(methods)
        .map(|((_, bytes), method)| {
            progress.advance(bytes.len() as u64);
            Row {
                method,
                digest: Some(digest::of_bytes(bytes)),
            }
        })
        .collect())
}

/// Entry `index` read whole (a small file: at most [`SMALL`] bytes).
fn read_whole(from: &mut dyn Reader, index: usize) -> Result<Vec<u8>> {
    let declared = from.entries()[index].size;
    let mut stream = from.open(index)?;
    let mut bytes = Vec::with_capacity(declared.min(SMALL) as usize);
    if let Err(e) = (&mut stream).take(SMALL + 1).read_to_end(&mut bytes) {
        return Err(stream.error(e));
    }
    if bytes.len() as u64 > SMALL {
        return Err(stream.error(io::Error::other(format!(
            "it holds more than the {declared} bytes its listing declares (did it grow while sepkg read it?)"
        ))));
    }
    Ok(bytes)
}

/// Streams one large row into the writer, hashing it on the way.
fn write_streamed(
    from: &mut dyn Reader,
    layout: &Layout,
    plan: &[Planned],
    row: usize,
    writer: &mut dyn Writer,
) -> Result<Row> {
    match &layout.items[row].content {
        Content::Copy(i) => {
            let at = Location::entry(&from.span().path, &from.entries()[*i].name);
            let format = from.format().name();
            let stream = from.open(*i)?;
            let mut tracked = Tracked {
                inner: HashingReader::new(stream),
                failed: None,
                declared: plan[row].size,
                size_error: Box::new(move |declared, held| {
                    Error::corrupt(
                        at.clone(),
                        format,
                        format!("its listing declares {declared} bytes but it holds {held}"),
                    )
                }),
            };
            let written = writer.add_file(row, &mut tracked);
            if let Some(e) = tracked.failed.take() {
                return Err(e);
            }
            let method = written?;
            // A writer that stopped reading at the declared size: one more
            // byte would be more than declared.
            let mut probe = [0u8; 1];
            if tracked.read(&mut probe).is_err()
                && let Some(e) = tracked.failed.take()
            {
                return Err(e);
            }
            let digest = tracked.inner.finish();
            Ok(Row {
                method,
                digest: Some(digest),
            })
        }
        Content::Replace(_, bytes) | Content::Add(bytes) => {
            let method = writer.add_file(row, &mut bytes.as_slice())?;
            Ok(Row {
                method,
                digest: Some(digest::of_bytes(bytes)),
            })
        }
    }
}

/// An entry stream that keeps the first read error as the error it is
/// (naming the input entry), so that a writer's failure can be told apart
/// from the input's; and that holds the entry to its declared size: ending
/// early, or going on past it, is the input's fault (a lying listing), and
/// is reported so whatever the writer makes of it.
struct Tracked<'a> {
    inner: HashingReader<EntryStream<'a>>,
    failed: Option<Error>,
    declared: u64,
    /// The error for an entry of `declared` bytes that holds another count.
    size_error: Box<dyn Fn(u64, u64) -> Error + 'a>,
}

impl Tracked<'_> {
    fn fail(&mut self, error: Error) -> io::Error {
        let message = error.to_string();
        if self.failed.is_none() {
            self.failed = Some(error);
        }
        io::Error::other(message)
    }
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                let error = self.inner.get_ref().error(e);
                Err(self.fail(error))
            }
            Ok(n) => {
                let held = self.inner.size();
                if (n == 0 && !buf.is_empty() && held < self.declared) || held > self.declared {
                    let error = (self.size_error)(self.declared, held);
                    return Err(self.fail(error));
                }
                Ok(n)
            }
            other => other,
        }
    }
}

/// The digest thread's result: each raw row's content digest, and the
/// input's digest when it read the input through the hashed source.
type RowDigests = (Vec<(usize, Digest)>, Option<Digest>);

/// Hashes the content of each `(row, entry)` of `jobs` through `reader`, in
/// order; then, when `source` is the reader's source, the rest of the
/// input file through it (the input's digest). Stops early
/// when `cancel` is set (the writer failed; the result is not used).
fn hash_rows(
    mut reader: Box<dyn Reader>,
    source: Option<SharedHasher>,
    jobs: &[(usize, usize)],
    cancel: &AtomicBool,
) -> Result<RowDigests> {
    let mut buf = vec![0u8; 1 << 18];
    let mut digests = Vec::with_capacity(jobs.len());
    for &(row, entry) in jobs {
        let stream = reader.open(entry)?;
        let mut hashing = HashingReader::new(stream);
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Internal("hashing cancelled".into()));
            }
            match hashing.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(hashing.get_ref().error(e)),
            }
        }
        digests.push((row, hashing.finish()));
    }
    let path = reader.span().path.clone();
    drop(reader);
    let whole = source
        .map(|s| s.finish().map_err(|e| Error::io(&path, "cannot read", e)))
        .transpose()?;
    Ok((digests, whole))
}

/// The input file under the second reader, hashed in file order as that
/// reader goes through it (see [`SequentialHasher`]). Shared so that the
/// digest can be taken once the reader, which owns its source, is dropped.
#[derive(Clone)]
struct SharedHasher(Arc<Mutex<SequentialHasher<io::BufReader<File>>>>);

impl SharedHasher {
    fn open(path: &Path) -> Result<SharedHasher> {
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        Ok(SharedHasher(Arc::new(Mutex::new(SequentialHasher::new(
            io::BufReader::with_capacity(1 << 20, file),
        )))))
    }

    fn finish(self) -> io::Result<Digest> {
        let inner = Arc::try_unwrap(self.0)
            .map_err(|_| io::Error::other("the input is still being read"))?
            .into_inner()
            .map_err(|_| io::Error::other("a reader of the input failed"))?;
        inner.finish()
    }

    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, SequentialHasher<io::BufReader<File>>>> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("a reader of the input failed"))
    }
}

impl Read for SharedHasher {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock()?.read(buf)
    }
}

impl Seek for SharedHasher {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.lock()?.seek(pos)
    }
}

/// A new output file's writer chain: `file`, buffered and hashed.
pub(crate) fn out(file: File) -> Out {
    HashingWriter::new(Sink::new(file))
}
