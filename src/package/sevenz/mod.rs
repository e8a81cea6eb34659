//! 7z archives: reading them in place (a plain `.7z`, or the payload of a
//! 7-Zip self-extractor), and writing new ones that keep untouched folders
//! byte for byte.
//!
//! This is an engine with a small API; the container layer puts it behind
//! its `Reader` and `Writer` traits.
//!
//! # Reading: [`Archive`]
//! ```text
//! let (offset, len) = sevenz::find_payload(&mut file, pe_end, file_len)?.unwrap();
//! let mut a = Archive::open(path, offset, len)?;   // or (path, 0, file_len)
//! a.entries();   // archive order: name, size, dir/empty flags, CRC, times, attributes, folder
//! a.folders();   // the "units": coders, dictionary, packed streams (offsets, sizes), entries
//! a.facts();     // for audit: folders, coders, dictionary, solid, header encoding
//! a.open_entry(i)?;  // a streaming, CRC-checked reader
//! ```
//! - The archive is parsed twice: by `header.rs` (the raw records the writer
//!   needs: bind pairs, packed-stream indexes, substream CRCs) and by
//!   sevenz-rust2 (whose `BlockDecoder` decodes every coder 7-Zip writes,
//!   BCJ2 included); the two must agree on every file and folder.
//! - Encrypted content or headers (7z AES), anti-items and archives whose
//!   header lies past the end of the file (truncated, or the first part of
//!   a multi-volume set) are refused with what to do.
//! - Entries stream: a folder is decoded by **one** sevenz-rust2 decoder
//!   thread with `thread_count` 1 (its default multi-threaded LZMA2 decoder
//!   holds a whole solid block in memory), which hands 256 KiB buffers to
//!   the reader through a channel of four. Reading a folder's entries in
//!   order decodes the folder once: the stream is kept between calls, as
//!   for cabinets. Going back restarts the folder. Memory: the folder's
//!   dictionary plus about 2 MiB.
//! - Every byte read is CRC-checked by sevenz-rust2 (per file, and the
//!   folder CRC where stored); a reader returns end-of-file only after its
//!   file's check passed (for a folder's last file, after the folder's own
//!   size and CRC checks too).
//! - Why a thread: sevenz-rust2 0.25 streams only through a callback
//!   (`for_each_entries`), and its decoder stack (`add_decoder`,
//!   `build_decode_stack`) is private. The thread turns the callback into
//!   a reader the caller pulls from, as every other container's reader is.
//! - Crate panics are contained (in the decoder thread as well) and become
//!   corrupt-archive errors.
//! - Errors are [`crate::error::Error`] values naming the file, the entry
//!   and the format `7z`; a read error from an entry reader carries one
//!   (see [`into_error`]).
//!
//! # Writing: [`Writer`]
//! A 7z archive is written from the output's current position (after an
//! .exe stub; offsets inside count from the archive's start): 32 bytes are
//! reserved for the signature header and patched by [`Writer::finish`], so
//! the output's digest is taken by reading the file back afterwards.
//!
//! The caller walks the input in archive order ([`Archive::plan`] gives
//! the steps) and for each step calls one of:
//! - [`Writer::copy_folder`]: the folder's packed streams, coder records,
//!   sizes and CRCs unchanged, with its files' records (names, times,
//!   attributes), and the empty entries between them;
//! - [`Writer::rewrite_folder`]: a folder holding replaced files, rewritten
//!   under the rules below;
//! - [`Writer::add_entry`] / [`Writer::add_file`]: entries without a folder
//!   in the input (folders, empty files), entries added (a new sylink.xml),
//!   or entries from another format (`--to 7z`): consecutive `add_file`
//!   calls go into one new solid folder with the method given in
//!   [`WriteOptions`].
//!
//! Driving it (what the container adapter does):
//! ```text
//! let mut w = Writer::new(out_after_stub, dest, WriteOptions::like(&src))?;   // or ::fresh()
//! for step in src.plan() {
//!     match step {
//!         Step::Entry(i) => w.add_entry(src.entries()[i].record.clone())?,
//!         Step::Folder(f) => w.rewrite_folder(&mut src, f, &replacements)?, // copies when none applies
//!     }
//! }
//! w.add_file(record, size, &mut reader, &source_location)?;   // added entries, last
//! let (out, folders) = w.finish()?;   // then hash the output file by reading it back
//! ```
//! Entry digests for the manifest come from reading the entries
//! ([`Archive::open_entry`], on a second [`Archive`] in a digest thread):
//! that pass also checks the CRCs of raw-copied folders, whose packed
//! bytes the writer copies without decoding. The output's digest is taken
//! by reading the file back after [`Writer::finish`] (the signature header
//! at the archive's start is written last; SHA-256 cannot be patched).
//!
//! Why not sevenz-rust2's `ArchiveWriter`: its `push_raw_block` copies
//! whole folders, but it cannot take a folder whose packed stream sepkg
//! produced (a splice, or store-aware LZMA2), `PreparedBlock` holds a whole
//! block in memory, and a solid folder needs every reader at once (research
//! note §1, pitfall 6). The header writer it would replace is small
//! (`header.rs`).
//!
//! [`Writer::finish`] writes the header (LZMA-encoded when
//! [`WriteOptions::encode_header`], which a caller sets when the input's
//! was, and for outputs made from another format, since 7-Zip encodes by
//! default: 7 to 10 times smaller for SEP-sized file lists) and returns a
//! [`FolderReport`] per output folder for the manifest.
//!
//! # Rewriting a folder: the rules
//! - Only coders 7-Zip's installer SFX decodes are written: Copy, LZMA,
//!   LZMA2, BCJ (x86 and the other branch filters), Delta, and only those
//!   the input folder used, or Copy. BCJ2 is never written anew: a BCJ2
//!   folder becomes BCJ x86 + its main-stream coder (LZMA2 or LZMA).
//!   A folder whose coders the SFX lacks (PPMd, BZip2, Deflate) becomes Copy.
//! - Dictionaries are at most the input folder's.
//! - Incompressible data (64 KiB pieces above 7.9 bits per byte) is never
//!   run through a match finder: in an LZMA2 folder it goes out as LZMA2
//!   uncompressed chunks; in an LZMA folder the files that are mostly
//!   incompressible go to Copy folders of their own (a layout change,
//!   reported), which takes one extra decoding pass to classify them.
//! - A folder that is a single LZMA2 coder is **spliced**: its packed
//!   chunks before the first replaced file are copied as they are (after
//!   decoding them: every untouched file's CRC is still checked) and only
//!   the rest is encoded, starting with a chunk that resets the dictionary.
//!   SEP's SetAid.ini and sylink.xml sort after the MSI, so the MSI's
//!   chunks are copied.
//! - File order, names, times and attributes stay; a replaced file keeps
//!   its record (only size and CRC change).
//!
//! # Determinism
//! Fixed encoder settings (`lzma2::lzma_options`: preset 1, HC4), no
//! clock, no threads in encoding (`from_level_mt` with one thread writes
//! undecodable streams), folders and dictionaries chosen from sizes and
//! input records only.

mod container;
mod header;
mod lzma2;
mod read;
mod write;

pub(crate) use container::{SevenZReader, SevenZWriter, locate};
pub use header::{Coder, File as FileRecord, Folder as FolderRecord};
pub use read::{Archive, Entry, Facts, FolderInfo, PackedStream, Step, find_payload, into_error};
pub use write::{Action, FolderReport, NewMethod, Replacement, WriteOptions, Writer};

/// The name of the format in messages.
pub(crate) const FORMAT: &str = "7z";

/// Runs `f`, turning a crate panic into `Err(message)`. A thin wrapper so
/// that switching to the shared `crate::contain` helper is one line.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    crate::contain::contain(crate::contain::SEVENZ, f)
}

#[cfg(test)]
mod tests {
    /// The container layer's `Reader: Send` and its digest thread need
    /// both halves to move between threads.
    #[test]
    fn reader_and_writer_are_send() {
        fn send<T: Send>() {}
        send::<super::Archive>();
        send::<super::Writer<std::fs::File>>();
    }
}
