//! The 7z header as it is stored: parsing it (plain or LZMA-encoded) and
//! writing it again.
//!
//! Why by hand when sevenz-rust2 parses headers too: its [`sevenz_rust2::Block`]
//! keeps bind pairs, packed-stream indices and stream counts `pub(crate)`, and
//! its writer takes only folders it encoded itself (or whole source folders,
//! `push_raw_block`), so neither a multi-coder folder record (BCJ2: four
//! packed streams) nor a spliced LZMA2 folder could be written from what it
//! exposes. The format is small (`7zFormat.txt`); this module follows it and
//! 7-Zip's `7zIn.cpp`/`7zOut.cpp`. The archive is still parsed by
//! sevenz-rust2 too, for decoding, and the two parses are compared.
//!
//! Every count read is bounded by the bytes left in the header before
//! anything is allocated, so a header that declares 2^60 files fails fast.

/// Property ids (7zFormat.txt).
pub(crate) mod id {
    pub const END: u64 = 0x00;
    pub const HEADER: u64 = 0x01;
    pub const ARCHIVE_PROPERTIES: u64 = 0x02;
    pub const ADDITIONAL_STREAMS_INFO: u64 = 0x03;
    pub const MAIN_STREAMS_INFO: u64 = 0x04;
    pub const FILES_INFO: u64 = 0x05;
    pub const PACK_INFO: u64 = 0x06;
    pub const UNPACK_INFO: u64 = 0x07;
    pub const SUBSTREAMS_INFO: u64 = 0x08;
    pub const SIZE: u64 = 0x09;
    pub const CRC: u64 = 0x0A;
    pub const FOLDER: u64 = 0x0B;
    pub const CODERS_UNPACK_SIZE: u64 = 0x0C;
    pub const NUM_UNPACK_STREAM: u64 = 0x0D;
    pub const EMPTY_STREAM: u64 = 0x0E;
    pub const EMPTY_FILE: u64 = 0x0F;
    pub const ANTI: u64 = 0x10;
    pub const NAME: u64 = 0x11;
    pub const CTIME: u64 = 0x12;
    pub const ATIME: u64 = 0x13;
    pub const MTIME: u64 = 0x14;
    pub const WIN_ATTRIBUTES: u64 = 0x15;
    pub const ENCODED_HEADER: u64 = 0x17;
    pub const START_POS: u64 = 0x18;
    pub const DUMMY: u64 = 0x19;
}

/// Coder method ids.
pub(crate) mod method {
    pub const COPY: &[u8] = &[0x00];
    pub const DELTA: &[u8] = &[0x03];
    pub const LZMA: &[u8] = &[0x03, 0x01, 0x01];
    pub const LZMA2: &[u8] = &[0x21];
    pub const BCJ_X86: &[u8] = &[0x03, 0x03, 0x01, 0x03];
    pub const BCJ2: &[u8] = &[0x03, 0x03, 0x01, 0x1B];
    pub const PPC: &[u8] = &[0x03, 0x03, 0x02, 0x05];
    pub const IA64: &[u8] = &[0x03, 0x03, 0x04, 0x01];
    pub const ARM: &[u8] = &[0x03, 0x03, 0x05, 0x01];
    pub const ARMT: &[u8] = &[0x03, 0x03, 0x07, 0x01];
    pub const SPARC: &[u8] = &[0x03, 0x03, 0x08, 0x05];
    pub const ARM64: &[u8] = &[0x0A];
    pub const RISCV: &[u8] = &[0x0B];
    pub const PPMD: &[u8] = &[0x03, 0x04, 0x01];
    pub const BZIP2: &[u8] = &[0x04, 0x02, 0x02];
    pub const DEFLATE: &[u8] = &[0x04, 0x01, 0x08];
    pub const AES: &[u8] = &[0x06, 0xF1, 0x07, 0x01];
}

/// The 7z signature.
pub(crate) const SIGNATURE: &[u8; 6] = b"7z\xBC\xAF\x27\x1C";
/// The signature header: signature, version, start-header CRC, and the
/// next header's offset, size and CRC.
pub(crate) const SIGNATURE_HEADER_SIZE: u64 = 32;

/// One coder of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coder {
    /// The method id (`[0x21]` for LZMA2).
    pub id: Vec<u8>,
    /// Input streams (the packed side, as a decoder sees it): 4 for BCJ2.
    pub num_in: u64,
    /// Output streams: 1 for every known coder.
    pub num_out: u64,
    /// The coder's properties (LZMA2: one dictionary byte).
    pub props: Vec<u8>,
}

/// One folder record: a graph of coders over packed streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The coders, in record order.
    pub coders: Vec<Coder>,
    /// `(in_index, out_index)`: coder input `in_index` reads output `out_index`.
    pub bind_pairs: Vec<(u64, u64)>,
    /// The input stream indexes fed by packed streams, in pack order.
    pub packed: Vec<u64>,
    /// The size of every coder output stream.
    pub unpack_sizes: Vec<u64>,
    /// The CRC of the folder's unpacked output, when stored.
    pub crc: Option<u32>,
}

impl Folder {
    /// The output stream that is not bound to another coder: the folder's
    /// content.
    pub fn main_out(&self) -> Option<usize> {
        (0..self.unpack_sizes.len()).find(|&i| !self.bind_pairs.iter().any(|b| b.1 == i as u64))
    }

    /// The folder's unpacked size.
    pub fn unpack_size(&self) -> u64 {
        self.main_out()
            .map(|i| self.unpack_sizes[i])
            .unwrap_or_default()
    }

    /// A one-coder folder (`coder` over one packed stream).
    pub fn single(coder: Coder, unpack: u64, crc: Option<u32>) -> Folder {
        Folder {
            coders: vec![coder],
            bind_pairs: Vec::new(),
            packed: vec![0],
            unpack_sizes: vec![unpack],
            crc,
        }
    }

    /// A chain of one-input coders given content side first (`[BCJ,
    /// LZMA2]`: the filter, then the compressor that writes the packed
    /// stream), recorded as 7-Zip records it: packed side first, each
    /// coder's output bound to the next coder's input, the last coder's
    /// output the folder's content.
    pub fn chain(mut coders: Vec<Coder>, unpack_sizes: Vec<u64>, crc: Option<u32>) -> Folder {
        coders.reverse();
        let n = coders.len() as u64;
        Folder {
            bind_pairs: (0..n.saturating_sub(1)).map(|j| (j + 1, j)).collect(),
            packed: vec![0],
            coders,
            unpack_sizes,
            crc,
        }
    }
}

/// Streams info: packed streams, folders and their substreams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Streams {
    /// Where the packed streams start, after the signature header.
    pub pack_pos: u64,
    /// The packed streams' sizes, in order.
    pub pack_sizes: Vec<u64>,
    /// Their CRCs, when stored (7-Zip does not store them).
    pub pack_crcs: Vec<Option<u32>>,
    /// The folders, in order; folder `i` uses the next
    /// `folders[i].packed.len()` packed streams.
    pub folders: Vec<Folder>,
    /// How many files (substreams) each folder holds.
    pub num_substreams: Vec<u64>,
    /// Every substream's size, folder by folder.
    pub sub_sizes: Vec<u64>,
    /// Every substream's CRC, when known.
    pub sub_crcs: Vec<Option<u32>>,
}

/// One file record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct File {
    /// The name as stored (7-Zip stores `/` or `\` separators as given).
    pub name: String,
    /// True when the file has content in a folder.
    pub has_stream: bool,
    /// For an entry without a stream: true for an empty file, false for a
    /// directory.
    pub empty_file: bool,
    /// An anti-item (a deletion marker of an update archive).
    pub anti: bool,
    /// Creation, access and modification times (Windows FILETIME ticks).
    pub ctime: Option<u64>,
    /// Access time.
    pub atime: Option<u64>,
    /// Modification time.
    pub mtime: Option<u64>,
    /// Windows attributes (high 16 bits: Unix mode when 0x8000 is set).
    pub attrib: Option<u32>,
}

impl File {
    /// A directory (no stream, not an empty file).
    pub fn is_dir(&self) -> bool {
        !self.has_stream && !self.empty_file
    }
}

/// A parsed header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The main streams info.
    pub streams: Streams,
    /// The file records, in archive order.
    pub files: Vec<File>,
}

/// What stands at the "next header" position.
#[derive(Debug)]
pub(crate) enum Next {
    /// A plain header.
    Plain(Header),
    /// An encoded header: the streams info that describes where the
    /// packed header is and how it is coded.
    Encoded(Streams),
}

type R<T> = std::result::Result<T, String>;

/// A cursor over header bytes.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> R<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or("the header ends in the middle of a record")?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.left() {
            return Err("the header ends in the middle of a record".into());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> R<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> R<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// The 7z UINT64: the leading 1 bits of the first byte count the bytes
    /// that follow.
    fn number(&mut self) -> R<u64> {
        let first = self.byte()?;
        let mut mask = 0x80u8;
        let mut value = 0u64;
        for i in 0..8 {
            if first & mask == 0 {
                let high = u64::from(first & mask.wrapping_sub(1));
                return Ok(value | (high << (8 * i)));
            }
            value |= u64::from(self.byte()?) << (8 * i);
            mask >>= 1;
        }
        Ok(value)
    }

    /// A count of items that each take at least `min_bytes` of what is left.
    fn count(&mut self, what: &str, min_bits: usize) -> R<usize> {
        let n = self.number()?;
        let room = (self.left() as u64).saturating_mul(8) / min_bits.max(1) as u64;
        if n > room {
            return Err(format!(
                "the header declares {n} {what}, more than its size can hold"
            ));
        }
        Ok(n as usize)
    }

    fn expect(&mut self, want: u64, what: &str) -> R<()> {
        let got = self.number()?;
        if got != want {
            return Err(format!(
                "unexpected property {got:#x} where {what} (id {want:#x}) belongs"
            ));
        }
        Ok(())
    }

    fn bits(&mut self, n: usize) -> R<Vec<bool>> {
        let bytes = self.bytes(n.div_ceil(8))?;
        Ok((0..n)
            .map(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
            .collect())
    }

    /// "AllAreDefined" byte, then a bit vector when it is 0.
    fn defined(&mut self, n: usize) -> R<Vec<bool>> {
        if self.byte()? != 0 {
            Ok(vec![true; n])
        } else {
            self.bits(n)
        }
    }

    fn digests(&mut self, n: usize) -> R<Vec<Option<u32>>> {
        let defined = self.defined(n)?;
        defined
            .into_iter()
            .map(|d| if d { self.u32().map(Some) } else { Ok(None) })
            .collect()
    }
}

/// Parses what stands at the next-header position.
pub(crate) fn parse_next(buf: &[u8]) -> R<Next> {
    let mut c = Cursor::new(buf);
    match c.number()? {
        id::HEADER => Ok(Next::Plain(parse_header(&mut c)?)),
        id::ENCODED_HEADER => {
            let s = parse_streams(&mut c)?;
            Ok(Next::Encoded(s))
        }
        other => Err(format!(
            "the header starts with property {other:#x}, neither a header nor an encoded header"
        )),
    }
}

fn parse_header(c: &mut Cursor) -> R<Header> {
    let mut h = Header::default();
    let mut t = c.number()?;
    if t == id::ARCHIVE_PROPERTIES {
        loop {
            let p = c.number()?;
            if p == id::END {
                break;
            }
            let size = c.number()?;
            c.bytes(usize::try_from(size).map_err(|_| "property size too large")?)?;
        }
        t = c.number()?;
    }
    if t == id::ADDITIONAL_STREAMS_INFO {
        return Err("the header uses additional streams, which 7-Zip never writes".into());
    }
    if t == id::MAIN_STREAMS_INFO {
        h.streams = parse_streams(c)?;
        t = c.number()?;
    }
    if t == id::FILES_INFO {
        h.files = parse_files(c)?;
        t = c.number()?;
    }
    if t != id::END {
        return Err(format!("unexpected property {t:#x} in the header"));
    }
    let streams = h.files.iter().filter(|f| f.has_stream).count();
    if streams != h.streams.sub_sizes.len() {
        return Err(format!(
            "{streams} files have content but the folders hold {} files",
            h.streams.sub_sizes.len()
        ));
    }
    Ok(h)
}

fn parse_streams(c: &mut Cursor) -> R<Streams> {
    let mut s = Streams::default();
    let mut t = c.number()?;
    if t == id::PACK_INFO {
        s.pack_pos = c.number()?;
        let n = c.count("packed streams", 8)?;
        t = c.number()?;
        s.pack_crcs = vec![None; n];
        if t == id::SIZE {
            s.pack_sizes = (0..n).map(|_| c.number()).collect::<R<_>>()?;
            t = c.number()?;
        } else {
            return Err("the pack info has no sizes".into());
        }
        if t == id::CRC {
            s.pack_crcs = c.digests(n)?;
            t = c.number()?;
        }
        if t != id::END {
            return Err(format!("unexpected property {t:#x} in the pack info"));
        }
        t = c.number()?;
    }
    if t == id::UNPACK_INFO {
        c.expect(id::FOLDER, "the folder list")?;
        let n = c.count("folders", 16)?;
        if c.byte()? != 0 {
            return Err("the folder list is stored outside the header".into());
        }
        s.folders = (0..n).map(|_| parse_folder(c)).collect::<R<_>>()?;
        c.expect(id::CODERS_UNPACK_SIZE, "the unpack sizes")?;
        for f in &mut s.folders {
            for size in f.unpack_sizes.iter_mut() {
                *size = c.number()?;
            }
        }
        t = c.number()?;
        if t == id::CRC {
            let crcs = c.digests(n)?;
            for (f, crc) in s.folders.iter_mut().zip(crcs) {
                f.crc = crc;
            }
            t = c.number()?;
        }
        if t != id::END {
            return Err(format!("unexpected property {t:#x} in the unpack info"));
        }
        t = c.number()?;
    }
    // Without substreams info each folder is one file.
    s.num_substreams = vec![1; s.folders.len()];
    if t == id::SUBSTREAMS_INFO {
        parse_substreams(c, &mut s)?;
        t = c.number()?;
    } else {
        s.sub_sizes = s.folders.iter().map(Folder::unpack_size).collect();
        s.sub_crcs = s.folders.iter().map(|f| f.crc).collect();
    }
    if t != id::END {
        return Err(format!("unexpected property {t:#x} in the streams info"));
    }
    let used: usize = s.folders.iter().map(|f| f.packed.len()).sum();
    if used != s.pack_sizes.len() {
        return Err(format!(
            "the folders use {used} packed streams but {} are declared",
            s.pack_sizes.len()
        ));
    }
    Ok(s)
}

fn parse_folder(c: &mut Cursor) -> R<Folder> {
    let n = c.count("coders", 16)?;
    if n == 0 || n > 64 {
        return Err(format!("a folder declares {n} coders"));
    }
    let mut coders = Vec::with_capacity(n);
    for _ in 0..n {
        let flags = c.byte()?;
        if flags & 0xC0 != 0 {
            return Err(format!(
                "a coder record uses reserved flags {flags:#x} (alternative methods)"
            ));
        }
        let id = c.bytes(usize::from(flags & 0x0F))?.to_vec();
        let (num_in, num_out) = if flags & 0x10 != 0 {
            (c.number()?, c.number()?)
        } else {
            (1, 1)
        };
        if num_in == 0 || num_in > 64 || num_out != 1 {
            return Err(format!(
                "a coder declares {num_in} inputs and {num_out} outputs"
            ));
        }
        let props = if flags & 0x20 != 0 {
            let len = c.count("property bytes", 8)?;
            c.bytes(len)?.to_vec()
        } else {
            Vec::new()
        };
        coders.push(Coder {
            id,
            num_in,
            num_out,
            props,
        });
    }
    let total_out: u64 = coders.iter().map(|c| c.num_out).sum();
    let total_in: u64 = coders.iter().map(|c| c.num_in).sum();
    let mut bind_pairs = Vec::new();
    for _ in 0..total_out.saturating_sub(1) {
        let (i, o) = (c.number()?, c.number()?);
        if i >= total_in || o >= total_out {
            return Err("a bind pair names a stream the folder does not have".into());
        }
        bind_pairs.push((i, o));
    }
    let num_packed = total_in
        .checked_sub(bind_pairs.len() as u64)
        .filter(|&n| n >= 1)
        .ok_or("a folder has no packed stream")?;
    let packed = if num_packed == 1 {
        let free = (0..total_in)
            .find(|i| !bind_pairs.iter().any(|b| b.0 == *i))
            .ok_or("a folder has no unbound input")?;
        vec![free]
    } else {
        (0..num_packed)
            .map(|_| {
                let i = c.number()?;
                if i >= total_in {
                    return Err("a packed stream index names no input".to_string());
                }
                Ok(i)
            })
            .collect::<R<_>>()?
    };
    let folder = Folder {
        coders,
        bind_pairs,
        packed,
        unpack_sizes: vec![0; total_out as usize],
        crc: None,
    };
    if folder.main_out().is_none() {
        return Err("every output of a folder is bound: its coders form a cycle".into());
    }
    Ok(folder)
}

fn parse_substreams(c: &mut Cursor, s: &mut Streams) -> R<()> {
    let mut t = c.number()?;
    if t == id::NUM_UNPACK_STREAM {
        for i in 0..s.folders.len() {
            // Each file takes at least a bit of the header (its
            // empty-stream bit or a name byte): bound the sum.
            let n = c.number()?;
            let total: u64 = s.num_substreams.iter().take(i).sum::<u64>() + n;
            if total > (c.left() as u64 + 1) * 8 + s.folders.len() as u64 {
                return Err(format!(
                    "the header declares {n} files in a folder, more than its size can hold"
                ));
            }
            s.num_substreams[i] = n;
        }
        t = c.number()?;
    }
    let has_sizes = t == id::SIZE;
    for (f, &n) in s.folders.iter().zip(&s.num_substreams) {
        if n == 0 {
            continue;
        }
        let total = f.unpack_size();
        let mut sum = 0u64;
        for _ in 1..n {
            if !has_sizes {
                return Err("a folder of several files has no file sizes".into());
            }
            let size = c.number()?;
            sum = sum
                .checked_add(size)
                .filter(|&v| v <= total)
                .ok_or("the file sizes of a folder add up to more than the folder")?;
            s.sub_sizes.push(size);
        }
        s.sub_sizes.push(total - sum);
    }
    if has_sizes {
        t = c.number()?;
    }
    // CRCs: listed only for files whose CRC the folder record does not
    // give (a one-file folder with a folder CRC).
    let mut known = Vec::with_capacity(s.sub_sizes.len());
    let mut missing = 0usize;
    for (f, &n) in s.folders.iter().zip(&s.num_substreams) {
        if n == 1 && f.crc.is_some() {
            known.push(Some(f.crc));
        } else {
            for _ in 0..n {
                known.push(None);
                missing += 1;
            }
        }
    }
    let mut listed = vec![None; missing];
    loop {
        if t == id::END {
            break;
        }
        if t == id::CRC {
            listed = c.digests(missing)?;
        } else {
            return Err(format!("unexpected property {t:#x} in the substreams info"));
        }
        t = c.number()?;
    }
    let mut listed = listed.into_iter();
    s.sub_crcs = known
        .into_iter()
        .map(|k| k.unwrap_or_else(|| listed.next().flatten()))
        .collect();
    Ok(())
}

fn parse_files(c: &mut Cursor) -> R<Vec<File>> {
    // A file takes at least two bytes: its name's terminator.
    let n = c.count("files", 16)?;
    let mut files = vec![File::default(); n];
    let mut empty_stream = vec![false; n];
    let mut empty_file: Vec<bool> = Vec::new();
    let mut anti: Vec<bool> = Vec::new();
    let mut named = false;
    loop {
        let t = c.number()?;
        if t == id::END {
            break;
        }
        let size = usize::try_from(c.number()?).map_err(|_| "property too large")?;
        let body = c.bytes(size)?;
        let mut p = Cursor::new(body);
        let empties = empty_stream.iter().filter(|&&e| e).count();
        match t {
            id::EMPTY_STREAM => empty_stream = p.bits(n)?,
            id::EMPTY_FILE => empty_file = p.bits(empties)?,
            id::ANTI => anti = p.bits(empties)?,
            id::NAME => {
                if p.byte()? != 0 {
                    return Err("the names are stored outside the header".into());
                }
                let units: Vec<u16> = p
                    .bytes(p.left() & !1)?
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect();
                let mut names = units.split(|&u| u == 0);
                for f in files.iter_mut() {
                    let name = names.next().ok_or("fewer names than files")?;
                    f.name = String::from_utf16(name)
                        .map_err(|_| "a name is not valid UTF-16".to_string())?;
                }
                named = true;
            }
            id::CTIME | id::ATIME | id::MTIME => {
                let defined = p.defined(n)?;
                if p.byte()? != 0 {
                    return Err("file times are stored outside the header".into());
                }
                for (f, d) in files.iter_mut().zip(defined) {
                    let v = if d { Some(p.u64()?) } else { None };
                    match t {
                        id::CTIME => f.ctime = v,
                        id::ATIME => f.atime = v,
                        _ => f.mtime = v,
                    }
                }
            }
            id::WIN_ATTRIBUTES => {
                let defined = p.defined(n)?;
                if p.byte()? != 0 {
                    return Err("attributes are stored outside the header".into());
                }
                for (f, d) in files.iter_mut().zip(defined) {
                    f.attrib = if d { Some(p.u32()?) } else { None };
                }
            }
            // Padding, start positions and unknown properties carry
            // nothing sepkg keeps.
            id::DUMMY | id::START_POS => {}
            _ => {}
        }
    }
    if !named && n > 0 {
        return Err("the file records have no names".into());
    }
    let mut k = 0;
    for (i, f) in files.iter_mut().enumerate() {
        f.has_stream = !empty_stream[i];
        if empty_stream[i] {
            f.empty_file = empty_file.get(k).copied().unwrap_or(false);
            f.anti = anti.get(k).copied().unwrap_or(false);
            k += 1;
        }
    }
    Ok(files)
}

// ---------------------------------------------------------------- writing

/// Appends a 7z UINT64.
pub(crate) fn put_number(out: &mut Vec<u8>, v: u64) {
    let mut n = 0;
    while n < 8 && v >= 1u64 << (7 * (n + 1)) {
        n += 1;
    }
    if n == 8 {
        out.push(0xFF);
        out.extend_from_slice(&v.to_le_bytes());
        return;
    }
    let high = (v >> (8 * n)) as u8;
    let first = (0xFFu16 << (8 - n)) as u8 | high;
    out.push(first);
    out.extend_from_slice(&v.to_le_bytes()[..n]);
}

fn put_bits(out: &mut Vec<u8>, bits: &[bool]) {
    for chunk in bits.chunks(8) {
        let mut b = 0u8;
        for (i, &bit) in chunk.iter().enumerate() {
            if bit {
                b |= 0x80 >> i;
            }
        }
        out.push(b);
    }
}

fn put_defined(out: &mut Vec<u8>, defined: &[bool]) {
    if defined.iter().all(|&d| d) {
        out.push(1);
    } else {
        out.push(0);
        put_bits(out, defined);
    }
}

fn put_digests(out: &mut Vec<u8>, crcs: &[Option<u32>]) {
    let defined: Vec<bool> = crcs.iter().map(Option::is_some).collect();
    put_defined(out, &defined);
    for c in crcs.iter().flatten() {
        out.extend_from_slice(&c.to_le_bytes());
    }
}

fn put_folder(out: &mut Vec<u8>, f: &Folder) {
    put_number(out, f.coders.len() as u64);
    for c in &f.coders {
        let complex = c.num_in != 1 || c.num_out != 1;
        let mut flags = c.id.len() as u8;
        if complex {
            flags |= 0x10;
        }
        if !c.props.is_empty() {
            flags |= 0x20;
        }
        out.push(flags);
        out.extend_from_slice(&c.id);
        if complex {
            put_number(out, c.num_in);
            put_number(out, c.num_out);
        }
        if !c.props.is_empty() {
            put_number(out, c.props.len() as u64);
            out.extend_from_slice(&c.props);
        }
    }
    for &(i, o) in &f.bind_pairs {
        put_number(out, i);
        put_number(out, o);
    }
    if f.packed.len() > 1 {
        for &p in &f.packed {
            put_number(out, p);
        }
    }
}

/// Appends a streams info (without its leading property id).
pub(crate) fn put_streams(out: &mut Vec<u8>, s: &Streams) {
    if !s.pack_sizes.is_empty() {
        put_number(out, id::PACK_INFO);
        put_number(out, s.pack_pos);
        put_number(out, s.pack_sizes.len() as u64);
        put_number(out, id::SIZE);
        for &p in &s.pack_sizes {
            put_number(out, p);
        }
        if s.pack_crcs.iter().any(Option::is_some) {
            put_number(out, id::CRC);
            put_digests(out, &s.pack_crcs);
        }
        put_number(out, id::END);
    }
    if !s.folders.is_empty() {
        put_number(out, id::UNPACK_INFO);
        put_number(out, id::FOLDER);
        put_number(out, s.folders.len() as u64);
        out.push(0);
        for f in &s.folders {
            put_folder(out, f);
        }
        put_number(out, id::CODERS_UNPACK_SIZE);
        for f in &s.folders {
            for &u in &f.unpack_sizes {
                put_number(out, u);
            }
        }
        if s.folders.iter().any(|f| f.crc.is_some()) {
            put_number(out, id::CRC);
            let crcs: Vec<Option<u32>> = s.folders.iter().map(|f| f.crc).collect();
            put_digests(out, &crcs);
        }
        put_number(out, id::END);
    }
    if !s.sub_sizes.is_empty() || s.num_substreams.iter().any(|&n| n != 1) {
        put_number(out, id::SUBSTREAMS_INFO);
        if s.num_substreams.iter().any(|&n| n != 1) {
            put_number(out, id::NUM_UNPACK_STREAM);
            for &n in &s.num_substreams {
                put_number(out, n);
            }
        }
        let mut k = 0usize;
        let mut sizes = Vec::new();
        let mut listed = Vec::new();
        for (f, &n) in s.folders.iter().zip(&s.num_substreams) {
            let n = n as usize;
            for j in 0..n {
                if j + 1 < n {
                    sizes.push(s.sub_sizes[k + j]);
                }
            }
            if !(n == 1 && f.crc.is_some()) {
                listed.extend_from_slice(&s.sub_crcs[k..k + n]);
            }
            k += n;
        }
        if !sizes.is_empty() {
            put_number(out, id::SIZE);
            for v in sizes {
                put_number(out, v);
            }
        }
        if listed.iter().any(Option::is_some) {
            put_number(out, id::CRC);
            put_digests(out, &listed);
        }
        put_number(out, id::END);
    }
    put_number(out, id::END);
}

fn put_times(out: &mut Vec<u8>, prop: u64, times: &[Option<u64>]) {
    if times.iter().all(Option::is_none) {
        return;
    }
    let mut body = Vec::new();
    let defined: Vec<bool> = times.iter().map(Option::is_some).collect();
    put_defined(&mut body, &defined);
    body.push(0);
    for t in times.iter().flatten() {
        body.extend_from_slice(&t.to_le_bytes());
    }
    put_number(out, prop);
    put_number(out, body.len() as u64);
    out.extend_from_slice(&body);
}

/// Serialises a plain header (starting with `kHeader`).
pub(crate) fn write_header(h: &Header) -> Vec<u8> {
    let mut out = Vec::new();
    put_number(&mut out, id::HEADER);
    if !h.streams.folders.is_empty() {
        put_number(&mut out, id::MAIN_STREAMS_INFO);
        put_streams(&mut out, &h.streams);
    }
    if !h.files.is_empty() {
        let files = &h.files;
        put_number(&mut out, id::FILES_INFO);
        put_number(&mut out, files.len() as u64);
        let empty: Vec<bool> = files.iter().map(|f| !f.has_stream).collect();
        if empty.iter().any(|&e| e) {
            let mut body = Vec::new();
            put_bits(&mut body, &empty);
            put_number(&mut out, id::EMPTY_STREAM);
            put_number(&mut out, body.len() as u64);
            out.extend_from_slice(&body);
            let empty_files: Vec<bool> = files
                .iter()
                .filter(|f| !f.has_stream)
                .map(|f| f.empty_file)
                .collect();
            if empty_files.iter().any(|&e| e) {
                let mut body = Vec::new();
                put_bits(&mut body, &empty_files);
                put_number(&mut out, id::EMPTY_FILE);
                put_number(&mut out, body.len() as u64);
                out.extend_from_slice(&body);
            }
        }
        let mut names = vec![0u8];
        for f in files {
            for u in f.name.encode_utf16() {
                names.extend_from_slice(&u.to_le_bytes());
            }
            names.extend_from_slice(&[0, 0]);
        }
        put_number(&mut out, id::NAME);
        put_number(&mut out, names.len() as u64);
        out.extend_from_slice(&names);
        let col = |g: fn(&File) -> Option<u64>| files.iter().map(g).collect::<Vec<_>>();
        put_times(&mut out, id::CTIME, &col(|f| f.ctime));
        put_times(&mut out, id::ATIME, &col(|f| f.atime));
        put_times(&mut out, id::MTIME, &col(|f| f.mtime));
        if files.iter().any(|f| f.attrib.is_some()) {
            let mut body = Vec::new();
            let defined: Vec<bool> = files.iter().map(|f| f.attrib.is_some()).collect();
            put_defined(&mut body, &defined);
            body.push(0);
            for a in files.iter().filter_map(|f| f.attrib) {
                body.extend_from_slice(&a.to_le_bytes());
            }
            put_number(&mut out, id::WIN_ATTRIBUTES);
            put_number(&mut out, body.len() as u64);
            out.extend_from_slice(&body);
        }
        put_number(&mut out, id::END);
    }
    put_number(&mut out, id::END);
    out
}

/// The 32-byte signature header for a next header at `offset` (after the
/// signature header) of `size` bytes with CRC `crc`.
pub(crate) fn signature_header(offset: u64, size: u64, crc: u32) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..6].copy_from_slice(SIGNATURE);
    b[6] = 0;
    b[7] = 4;
    b[12..20].copy_from_slice(&offset.to_le_bytes());
    b[20..28].copy_from_slice(&size.to_le_bytes());
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    let start_crc = crc32fast::hash(&b[12..32]);
    b[8..12].copy_from_slice(&start_crc.to_le_bytes());
    b
}

/// A parsed signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StartHeader {
    pub next_offset: u64,
    pub next_size: u64,
    pub next_crc: u32,
}

/// Parses a signature header, checking its signature, version and CRC.
pub(crate) fn parse_signature_header(b: &[u8; 32]) -> R<StartHeader> {
    if &b[..6] != SIGNATURE {
        return Err("no 7z signature".into());
    }
    if b[6] != 0 {
        return Err(format!(
            "format version {}.{}, newer than any 7-Zip writes",
            b[6], b[7]
        ));
    }
    let stored = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if stored == 0 && b[12..32].iter().all(|&x| x == 0) {
        return Err("the start header is blank: 7-Zip did not finish writing this archive".into());
    }
    if crc32fast::hash(&b[12..32]) != stored {
        return Err("the start header's CRC does not match".into());
    }
    let u64_at = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(a)
    };
    Ok(StartHeader {
        next_offset: u64_at(12),
        next_size: u64_at(20),
        next_crc: u32::from_le_bytes([b[28], b[29], b[30], b[31]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for v in [
            0u64,
            1,
            0x7F,
            0x80,
            0x3FFF,
            0x4000,
            0x1F_FFFF,
            1 << 35,
            (1 << 56) - 1,
            1 << 56,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_number(&mut b, v);
            let mut c = Cursor::new(&b);
            assert_eq!(c.number().unwrap(), v, "{v:#x}");
            assert_eq!(c.left(), 0, "{v:#x} took {} bytes", b.len());
        }
        let mut b = Vec::new();
        put_number(&mut b, 0x80);
        assert_eq!(b, [0x80, 0x80]);
    }

    fn sample() -> Header {
        let lzma2 = Coder {
            id: method::LZMA2.to_vec(),
            num_in: 1,
            num_out: 1,
            props: vec![24],
        };
        let bcj2 = Coder {
            id: method::BCJ2.to_vec(),
            num_in: 4,
            num_out: 1,
            props: vec![],
        };
        let lzma = Coder {
            id: method::LZMA.to_vec(),
            num_in: 1,
            num_out: 1,
            props: vec![0x5D, 0, 0, 1, 0],
        };
        let f0 = Folder::single(lzma2.clone(), 30, None);
        let f1 = Folder {
            coders: vec![bcj2, lzma2, lzma.clone(), lzma],
            bind_pairs: vec![(0, 1), (1, 2), (2, 3)],
            packed: vec![4, 5, 6, 3],
            unpack_sizes: vec![100, 90, 5, 5],
            crc: Some(7),
        };
        let files = vec![
            File {
                name: "a/b.txt".into(),
                has_stream: true,
                mtime: Some(132_000_000_000_000_000),
                attrib: Some(0x20),
                ..File::default()
            },
            File {
                name: "dir".into(),
                attrib: Some(0x10),
                ..File::default()
            },
            File {
                name: "c".into(),
                has_stream: true,
                ..File::default()
            },
            File {
                name: "empty".into(),
                empty_file: true,
                ..File::default()
            },
            File {
                name: "Setup.exe".into(),
                has_stream: true,
                ..File::default()
            },
        ];
        Header {
            streams: Streams {
                pack_pos: 0,
                pack_sizes: vec![20, 50, 3, 3, 4],
                pack_crcs: vec![None; 5],
                folders: vec![f0, f1],
                num_substreams: vec![2, 1],
                sub_sizes: vec![10, 20, 100],
                sub_crcs: vec![Some(1), Some(2), Some(7)],
            },
            files,
        }
    }

    #[test]
    fn headers_round_trip() {
        let h = sample();
        let bytes = write_header(&h);
        match parse_next(&bytes).unwrap() {
            Next::Plain(p) => assert_eq!(p, h),
            Next::Encoded(_) => panic!("plain expected"),
        }
    }

    #[test]
    fn huge_counts_fail_before_allocating() {
        let mut b = Vec::new();
        put_number(&mut b, id::HEADER);
        put_number(&mut b, id::FILES_INFO);
        put_number(&mut b, 1 << 60);
        let e = parse_next(&b).unwrap_err();
        assert!(e.contains("more than its size can hold"), "{e}");
    }

    #[test]
    fn truncated_headers_fail() {
        let bytes = write_header(&sample());
        for n in 0..bytes.len() {
            assert!(parse_next(&bytes[..n]).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn signature_header_round_trips() {
        let b = signature_header(1234, 56, 0xDEAD_BEEF);
        let s = parse_signature_header(&b).unwrap();
        assert_eq!(
            (s.next_offset, s.next_size, s.next_crc),
            (1234, 56, 0xDEAD_BEEF)
        );
        let mut bad = b;
        bad[13] ^= 1;
        assert!(parse_signature_header(&bad).is_err());
    }
}
