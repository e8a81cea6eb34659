//! LZMA2 at the chunk level: reading chunk headers (for the splice), and a
//! store-aware encoder that writes incompressible data as uncompressed
//! chunks without running it through a match finder.
//!
//! An LZMA2 stream is a sequence of chunks, each with a 1-byte control:
//! `0x00` ends the stream; `0x01`/`0x02` are uncompressed chunks (with or
//! without a dictionary reset) of at most 64 KiB; `0x80..=0xFF` are LZMA
//! chunks whose bits 5-6 say what they reset (`0xE0`: dictionary, state and
//! properties). A chunk that resets the dictionary needs nothing before it,
//! so any prefix of whole chunks may be followed by a fresh stream's chunks
//! (the "splice", research note §4). lzma-rust2 reads and writes whole
//! streams only, so the chunk parser is here (about 40 lines).
//!
//! Why not lzma-rust2's `Lzma2Writer` alone: it runs every byte through the
//! match finder and only then falls back to uncompressed chunks, about
//! 9 MB/s at its fastest level on random data (research note §3), where a
//! 350 MiB MSI made of compressed CAB streams must go at memory speed. Here
//! each 64 KiB piece whose order-0 entropy is above 7.9 bits per byte goes
//! out as an uncompressed chunk; the rest goes through a `Lzma2Writer`
//! (started afresh after uncompressed pieces: its first chunk resets the
//! dictionary, which is legal anywhere). Its settings are fixed (HC4 match
//! finder, preset 1, the dictionary given), and it is never given a chunk
//! size (lzma-rust2 0.25 then writes undecodable streams, note pitfall 4).

use std::io::{self, Read, Seek, SeekFrom, Write};

use lzma_rust2::{Lzma2Options, Lzma2Writer, LzmaOptions};

/// The largest uncompressed chunk, and the piece size of the encoder.
pub(crate) const PIECE: usize = 1 << 16;
/// Above this order-0 entropy (bits per byte) a piece is stored.
const STORE_ENTROPY: f64 = 7.9;

/// One chunk of an LZMA2 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Offset of the chunk's control byte in the packed stream.
    pub packed_at: u64,
    /// Packed length, header included.
    pub packed_len: u64,
    /// Offset of its first byte in the unpacked stream.
    pub unpacked_at: u64,
    /// Unpacked length.
    pub unpacked_len: u64,
    /// The control byte.
    pub control: u8,
}

impl Chunk {
    /// True when the chunk resets the dictionary (needs nothing before it).
    pub fn resets_dictionary(&self) -> bool {
        self.control == 0x01 || self.control >= 0xE0
    }
}

/// Reads the chunk headers of the LZMA2 stream in `r` (positioned at the
/// stream's start, `len` bytes long), seeking over chunk data, until a
/// chunk would reach past unpacked offset `until` or the stream ends.
/// Returns the chunks that end at or before `until`.
pub(crate) fn chunks_until<R: Read + Seek>(
    r: &mut R,
    len: u64,
    until: u64,
) -> io::Result<Vec<Chunk>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("LZMA2 stream: {m}"));
    let start = r.stream_position()?;
    let mut out = Vec::new();
    let (mut packed, mut unpacked) = (0u64, 0u64);
    loop {
        if packed >= len {
            return Err(bad("it ends without an end marker"));
        }
        let mut control = [0u8; 1];
        r.read_exact(&mut control)?;
        let control = control[0];
        let (header, data, size) = match control {
            0x00 => return Ok(out),
            0x01 | 0x02 => {
                let mut b = [0u8; 2];
                r.read_exact(&mut b)?;
                let size = u64::from(u16::from_be_bytes(b)) + 1;
                (3u64, size, size)
            }
            0x80..=0xFF => {
                let mut b = [0u8; 4];
                r.read_exact(&mut b)?;
                let size = (u64::from(control & 0x1F) << 16)
                    + u64::from(u16::from_be_bytes([b[0], b[1]]))
                    + 1;
                let data = u64::from(u16::from_be_bytes([b[2], b[3]])) + 1;
                let header = if control >= 0xC0 { 6 } else { 5 };
                (header, data, size)
            }
            _ => return Err(bad(&format!("invalid chunk control byte {control:#04x}"))),
        };
        let chunk = Chunk {
            packed_at: packed,
            packed_len: header + data,
            unpacked_at: unpacked,
            unpacked_len: size,
            control,
        };
        if packed == 0 && !chunk.resets_dictionary() {
            return Err(bad("the first chunk does not reset the dictionary"));
        }
        if chunk.unpacked_at + chunk.unpacked_len > until {
            return Ok(out);
        }
        packed += chunk.packed_len;
        unpacked += size;
        if packed > len {
            return Err(bad("a chunk reaches past the end of the packed stream"));
        }
        out.push(chunk);
        r.seek(SeekFrom::Start(start + packed))?;
    }
}

/// The dictionary size an LZMA2 property byte declares.
pub(crate) fn dictionary_size(prop: u8) -> Option<u64> {
    match prop {
        40 => Some(u64::from(u32::MAX)),
        p if p < 40 => Some((2 | u64::from(p & 1)) << (p / 2 + 11)),
        _ => None,
    }
}

/// The smallest LZMA2 property byte whose dictionary holds `size` bytes.
pub(crate) fn dictionary_prop(size: u64) -> u8 {
    (0..40u8)
        .find(|&p| dictionary_size(p).is_some_and(|d| d >= size))
        .unwrap_or(40)
}

/// True when `piece` looks incompressible: order-0 entropy above 7.9 bits
/// per byte (random data, or data already compressed).
pub(crate) fn incompressible(piece: &[u8]) -> bool {
    if piece.len() < 4096 {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in piece {
        counts[usize::from(b)] += 1;
    }
    let n = piece.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    entropy > STORE_ENTROPY
}

/// The fixed LZMA settings of every stream sepkg encodes: preset 1 (HC4
/// match finder, fast mode) with dictionary `dict`.
pub(crate) fn lzma_options(dict: u32) -> LzmaOptions {
    let mut o = LzmaOptions::with_preset(1);
    o.dict_size = dict.max(4096);
    o
}

/// The store-aware LZMA2 encoder; see the module docs.
pub(crate) struct Encoder<W: Write> {
    out: W,
    dict: u32,
    piece: Vec<u8>,
    lz: Option<Lzma2Writer<Vec<u8>>>,
    /// No chunk written yet: the next uncompressed chunk resets the dictionary.
    first: bool,
    /// Packed bytes written to `out`.
    pub written: u64,
    /// Bytes stored as uncompressed chunks, and bytes LZMA-encoded.
    pub stored: u64,
    /// Bytes given to the LZMA encoder.
    pub encoded: u64,
}

impl<W: Write> Encoder<W> {
    /// An encoder whose LZMA chunks use dictionary `dict` (at most the
    /// folder's declared dictionary). Its first chunk resets the
    /// dictionary, so its output may also follow copied chunks (a splice).
    pub fn new(out: W, dict: u32) -> Self {
        Encoder {
            out,
            dict,
            piece: Vec::with_capacity(PIECE),
            lz: None,
            first: true,
            written: 0,
            stored: 0,
            encoded: 0,
        }
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Moves what the LZMA writer produced so far to `out`.
    fn drain(&mut self) -> io::Result<()> {
        let Some(lz) = self.lz.as_mut() else {
            return Ok(());
        };
        let mut buf = std::mem::take(lz.inner_mut());
        self.emit(&buf)?;
        buf.clear();
        if let Some(lz) = self.lz.as_mut() {
            *lz.inner_mut() = buf;
        }
        Ok(())
    }

    /// Ends the current LZMA writer's run, dropping its end marker (the
    /// stream goes on).
    fn end_run(&mut self) -> io::Result<()> {
        if let Some(lz) = self.lz.take() {
            let mut rest = lz.finish().map_err(io::Error::other)?;
            // `finish` appends the stream's end marker (0x00) last.
            rest.pop();
            self.emit(&rest)?;
        }
        Ok(())
    }

    fn flush_piece(&mut self) -> io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::take(&mut self.piece);
        if incompressible(&piece) {
            self.end_run()?;
            // 1..=65536 bytes, stored as size - 1.
            let [hi, lo] = ((piece.len() - 1) as u16).to_be_bytes();
            let header = [if self.first { 0x01 } else { 0x02 }, hi, lo];
            self.emit(&header)?;
            self.emit(&piece)?;
            self.stored += piece.len() as u64;
        } else {
            if self.lz.is_none() {
                let opts = Lzma2Options {
                    lzma_options: lzma_options(self.dict),
                    chunk_size: None,
                };
                self.lz = Some(Lzma2Writer::new(Vec::new(), opts));
            }
            if let Some(lz) = self.lz.as_mut() {
                lz.write_all(&piece).map_err(io::Error::other)?;
            }
            self.encoded += piece.len() as u64;
            self.drain()?;
        }
        self.first = false;
        self.piece = piece;
        self.piece.clear();
        Ok(())
    }

    /// Ends the stream (end marker) and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_piece()?;
        self.end_run()?;
        self.emit(&[0x00])?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Encoder<W> {
    /// Takes all of `buf` (filters above it, lzma-rust2's `DeltaWriter`
    /// among them, assume a write is never partial).
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let len = buf.len();
        while !buf.is_empty() {
            let take = (PIECE - self.piece.len()).min(buf.len());
            self.piece.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.piece.len() == PIECE {
                self.flush_piece()?;
            }
        }
        Ok(len)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn decode(stream: &[u8], dict: u32) -> Vec<u8> {
        let mut out = Vec::new();
        lzma_rust2::Lzma2Reader::new(stream, dict, None)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn mixed_data_round_trips_and_stores_the_random_part() {
        let mut data = random(300_000, 5);
        data.extend(b"KeepPreviousSetting=1\r\n".repeat(5000));
        data.extend(random(70_000, 9));
        data.extend(b"tail".repeat(10));
        let mut enc = Encoder::new(Vec::new(), 1 << 20);
        enc.write_all(&data).unwrap();
        let (stored, encoded) = (enc.stored, enc.encoded);
        let stream = enc.finish().unwrap();
        assert_eq!(decode(&stream, 1 << 20), data);
        assert!(stored >= 4 * PIECE as u64, "{stored} stored");
        assert!(encoded >= 100_000, "{encoded} encoded");
        assert!(stream.len() < data.len());
        // Its chunk list reads back and covers everything.
        let chunks =
            chunks_until(&mut io::Cursor::new(&stream), stream.len() as u64, u64::MAX).unwrap();
        let total: u64 = chunks.iter().map(|c| c.unpacked_len).sum();
        assert_eq!(total, data.len() as u64);
        assert!(chunks[0].resets_dictionary());
    }

    #[test]
    fn a_prefix_of_chunks_and_a_fresh_stream_decode_as_one() {
        let mut data = random(200_000, 3);
        data.extend(b"abc".repeat(30_000));
        let mut enc = Encoder::new(Vec::new(), 1 << 16);
        enc.write_all(&data).unwrap();
        let stream = enc.finish().unwrap();
        let chunks =
            chunks_until(&mut io::Cursor::new(&stream), stream.len() as u64, 150_000).unwrap();
        let keep = chunks.last().unwrap();
        let (packed, unpacked) = (
            (keep.packed_at + keep.packed_len) as usize,
            (keep.unpacked_at + keep.unpacked_len) as usize,
        );
        let mut spliced = stream[..packed].to_vec();
        let mut tail = Encoder::new(Vec::new(), 1 << 16);
        let mut new = data[..unpacked].to_vec();
        let edited = b"changed tail ".repeat(1000);
        tail.write_all(&data[unpacked..150_000]).unwrap();
        tail.write_all(&edited).unwrap();
        new.extend_from_slice(&data[unpacked..150_000]);
        new.extend_from_slice(&edited);
        spliced.extend(tail.finish().unwrap());
        assert_eq!(decode(&spliced, 1 << 16), new);
    }

    #[test]
    fn dictionary_props() {
        assert_eq!(dictionary_size(0), Some(4096));
        assert_eq!(dictionary_size(1), Some(6144));
        // 7-Zip's "LZMA2:25": 32 MiB.
        assert_eq!(dictionary_size(26), Some(32 << 20));
        assert_eq!(dictionary_prop(32 << 20), 26);
        assert_eq!(dictionary_prop(5000), 1);
    }

    #[test]
    fn bad_control_bytes_are_errors() {
        let e = chunks_until(&mut io::Cursor::new(&[0x05u8, 0, 0][..]), 3, u64::MAX).unwrap_err();
        assert!(e.to_string().contains("control byte"));
        let e =
            chunks_until(&mut io::Cursor::new(&[0x02u8, 0, 0, 0][..]), 4, u64::MAX).unwrap_err();
        assert!(e.to_string().contains("first chunk"));
    }
}
