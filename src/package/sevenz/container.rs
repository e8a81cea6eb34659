//! The 7z format behind the container traits: [`SevenZReader`] lists and
//! streams a 7z archive (a `.7z`, or the payload of a 7-Zip
//! self-extractor) through the engine's [`Archive`]; [`SevenZWriter`]
//! writes one through the engine's [`Writer`].
//!
//! Units are folders (solid blocks). From a 7z input, a folder whose rows
//! are the input folder's entries in order is the writer's: copied as it is
//! when none of them changed, rewritten by the engine's rules when some
//! were replaced (spliced when it is an LZMA2 folder). Every other row (an
//! entry outside folders, an added sylink.xml, every entry of another
//! format) goes into the new solid folder the engine opens for added files.
//! The copy loop takes the digests of the copied entries on its second
//! thread, which decodes them and so checks their CRCs (a raw copy does not
//! decode).

use std::any::Any;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Archive, FileRecord, Replacement, WriteOptions, Writer, find_payload};
use crate::error::{Error, Location, Result};
use crate::package::Entry;
use crate::package::format::{
    EntryStream, Facts, Fault, Finished, Format, Out, Planned, Reader, Source, Span, Taken, Unit,
    Writer as ContainerWriter,
};

/// Where the 7z archive that starts at or after `at` lies in `file` (an
/// .exe's overlay, searched up to `end`): the first signature whose start
/// header checks, as 7-Zip finds it.
pub(crate) fn locate(
    file: &mut std::fs::File,
    path: &Path,
    at: u64,
    end: u64,
) -> Result<Option<(u64, u64)>> {
    let found = find_payload(file, at, end).map_err(|e| Error::io(path, "cannot read", e))?;
    Ok(found.map(|(start, len)| (start, start + len)))
}

/// A 7z archive, read in place.
pub(crate) struct SevenZReader {
    span: Span,
    archive: Archive,
    entries: Vec<Entry>,
    units: Vec<Unit>,
}

impl SevenZReader {
    /// Lists the 7z archive at `span`. Encrypted archives, anti-items,
    /// multi-volume parts and unsafe names are refused by the engine.
    pub(crate) fn open(span: Span) -> Result<SevenZReader> {
        let archive = Archive::open(&span.path, span.base, span.len)?;
        let entries = archive
            .entries()
            .iter()
            .map(|e| {
                // As in a zip: `\` is a separator too (7-Zip stores names
                // as given), and a folder's name ends with `/`.
                let name = e.name.replace('\\', "/");
                let name = if e.is_dir {
                    format!("{}/", name.trim_end_matches('/'))
                } else {
                    name
                };
                Entry {
                    name,
                    size: e.size,
                    is_dir: e.is_dir,
                }
            })
            .collect();
        let units = archive
            .folders()
            .iter()
            .map(|f| Unit {
                entries: f.entries.clone(),
                packed: f.packed_size(),
            })
            .collect();
        Ok(SevenZReader {
            span,
            archive,
            entries,
            units,
        })
    }
}

impl Reader for SevenZReader {
    fn format(&self) -> Format {
        Format::SevenZ
    }

    fn span(&self) -> &Span {
        &self.span
    }

    fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn units(&self) -> &[Unit] {
        &self.units
    }

    fn open(&mut self, index: usize) -> Result<EntryStream<'_>> {
        let at = Location::entry(&self.span.path, &self.entries[index].name);
        let reader = self.archive.open_entry(index)?;
        Ok(EntryStream::new(
            Box::new(reader),
            at,
            Fault::Archive(super::FORMAT),
        ))
    }

    fn modified(&self, index: usize) -> Option<time::PrimitiveDateTime> {
        self.archive.entries()[index]
            .record
            .mtime
            .and_then(from_filetime)
    }

    fn reopen(&self, _source: Box<dyn Source>) -> Result<Box<dyn Reader>> {
        // The engine's decoder thread opens the file itself; the input is
        // hashed on a thread of its own (see `reopen_reads_source`).
        Ok(Box::new(SevenZReader::open(self.span.clone())?))
    }

    fn facts(&self) -> Facts {
        Facts {
            sevenz: Some(self.archive.facts()),
            ..Facts::default()
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Windows FILETIME ticks (100 ns since 1601-01-01) between 1601 and 1970.
const UNIX_EPOCH_TICKS: i128 = 116_444_736_000_000_000;

fn from_filetime(ticks: u64) -> Option<time::PrimitiveDateTime> {
    let nanos = (i128::from(ticks) - UNIX_EPOCH_TICKS) * 100;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    Some(time::PrimitiveDateTime::new(t.date(), t.time()))
}

fn to_filetime(t: time::PrimitiveDateTime) -> Option<u64> {
    let nanos = t.assume_utc().unix_timestamp_nanos();
    u64::try_from(nanos / 100 + UNIX_EPOCH_TICKS).ok()
}

/// Writes a 7z archive from the output's current position (after an .exe
/// stub: the archive's offsets count from its own start).
pub(crate) struct SevenZWriter {
    engine: Writer<Out>,
    plan: Vec<Planned>,
    /// The 7z input's file records (times, attributes, names as stored),
    /// by input entry; `None` for an input of another format.
    records: Option<Vec<FileRecord>>,
    dest: PathBuf,
}

impl SevenZWriter {
    pub(crate) fn new(
        out: Out,
        from: &mut dyn Reader,
        plan: &[Planned],
        dest: &Path,
    ) -> Result<SevenZWriter> {
        let (opts, records) = match from.as_any_mut().downcast_mut::<SevenZReader>() {
            Some(r) => (
                WriteOptions::like(&r.archive),
                Some(
                    r.archive
                        .entries()
                        .iter()
                        .map(|e| e.record.clone())
                        .collect(),
                ),
            ),
            None => (WriteOptions::fresh(), None),
        };
        Ok(SevenZWriter {
            engine: Writer::new(out, dest, opts)?,
            plan: plan.to_vec(),
            records,
            dest: dest.to_path_buf(),
        })
    }

    /// The record for plan row `row`: the 7z input entry's own, or a new
    /// one (no times unless `--keep-times` gave one; no attributes).
    fn record(&self, row: usize) -> FileRecord {
        let p = &self.plan[row];
        if let (Some(records), Some(i)) = (&self.records, p.source) {
            return records[i].clone();
        }
        FileRecord {
            name: p.name.trim_end_matches('/').to_string(),
            has_stream: false,
            empty_file: !p.is_dir,
            anti: false,
            ctime: None,
            atime: None,
            mtime: p.modified.and_then(to_filetime),
            attrib: p.is_dir.then_some(0x10),
        }
    }
}

/// The plan rows that hold a 7z input folder's entries, in order, starting
/// at the row of its first entry.
fn folder_rows(plan: &[Planned], entries: &Range<usize>) -> Option<Range<usize>> {
    let start = plan.iter().position(|p| p.source == Some(entries.start))?;
    let rows = start..start + entries.len();
    let in_order = plan
        .get(rows.clone())?
        .iter()
        .zip(entries.clone())
        .all(|(p, e)| {
            p.source == Some(e)
                && matches!(
                    p.origin,
                    crate::package::Origin::Copied | crate::package::Origin::Replaced
                )
        });
    in_order.then_some(rows)
}

impl ContainerWriter for SevenZWriter {
    fn raw_units(&self, from: &mut dyn Reader, plan: &[Planned]) -> Vec<(usize, Range<usize>)> {
        let Some(src) = from.as_any_mut().downcast_mut::<SevenZReader>() else {
            return Vec::new();
        };
        src.archive
            .folders()
            .iter()
            .enumerate()
            .filter_map(|(f, folder)| folder_rows(plan, &folder.entries).map(|rows| (f, rows)))
            .collect()
    }

    fn copy_raw(
        &mut self,
        from: &mut dyn Reader,
        unit: usize,
        new: &[(usize, &[u8])],
    ) -> Result<Vec<Taken>> {
        let Some(src) = from.as_any_mut().downcast_mut::<SevenZReader>() else {
            return Err(Error::Internal(
                "a 7z folder copy was asked of a reader that is not a 7z archive".into(),
            ));
        };
        let replacements: Vec<Replacement<'_>> = new
            .iter()
            .filter_map(|(row, bytes)| {
                self.plan[*row]
                    .source
                    .map(|entry| Replacement { entry, bytes })
            })
            .collect();
        if replacements.is_empty() {
            self.engine.copy_folder(&src.archive, unit)?;
        } else {
            self.engine
                .rewrite_folder(&mut src.archive, unit, &replacements)?;
        }
        let rows = src.archive.folders()[unit].entries.len();
        Ok(vec![
            Taken {
                method: None,
                digest: None,
            };
            rows
        ])
    }

    fn add_file(&mut self, row: usize, content: &mut dyn Read) -> Result<Option<&'static str>> {
        let record = self.record(row);
        let at = Location::entry(&self.dest, &self.plan[row].name);
        let size = self.plan[row].size;
        self.engine.add_file(record, size, content, &at)?;
        Ok(None)
    }

    fn add_dir(&mut self, row: usize) -> Result<()> {
        let record = self.record(row);
        self.engine.add_entry(record)
    }

    fn finish(self: Box<Self>) -> Result<Finished> {
        let (out, reports) = self.engine.finish()?;
        Ok(Finished::File(out, reports))
    }
}
