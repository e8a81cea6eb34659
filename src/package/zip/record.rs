//! Zip records as bytes (APPNOTE 6.3.10, section 4.3): local and central
//! headers, their Zip64 extra fields, data descriptors and the end records.
//!
//! Why by hand: the zip crate reads zips well, but its writer has no way to
//! copy an entry's headers as they are. `ZipWriter::raw_copy_file` builds a
//! new entry from the crate's parsed view of the old one, so a copy loses
//! what that view drops: it writes version made by and needed from its own
//! rules (Info-ZIP's 3.0 becomes 2.0, and a Zip64 entry says 2.0 too), keeps
//! only flag bits 0, 3 and 11 (the deflate option bits 1-2 go), zeroes the
//! internal attributes (the text bit goes), drops the extra fields it parses
//! into its own fields (UT 0x5455 and NTFS 0x000a times, the Unicode path)
//! and copies the rest as opaque fields while writing the real sizes in the
//! 32-bit fields: a copied Zip64 entry then has a Zip64 extra field (16
//! bytes, sizes) that its headers no longer announce, which 7-Zip reports
//! as "Headers Error" (`Extra_ERROR Zip64_ERROR`). Here a copied entry's
//! records are the input's bytes, and only the local header offset is
//! changed (in its 32-bit field, or in the Zip64 extra field when the
//! record keeps it there).

use std::io::{self, Read, Seek, SeekFrom};

pub(crate) const LOCAL_SIG: [u8; 4] = *b"PK\x03\x04";
pub(crate) const CENTRAL_SIG: [u8; 4] = *b"PK\x01\x02";
const DESCRIPTOR_SIG: [u8; 4] = *b"PK\x07\x08";
const EOCD_SIG: [u8; 4] = *b"PK\x05\x06";
const ZIP64_EOCD_SIG: [u8; 4] = *b"PK\x06\x06";
const ZIP64_LOCATOR_SIG: [u8; 4] = *b"PK\x06\x07";

/// A 32-bit field that says "see the Zip64 extra field".
pub(crate) const SENTINEL: u32 = 0xFFFF_FFFF;
/// General purpose bit 3: CRC and sizes follow the data.
pub(crate) const FLAG_DESCRIPTOR: u16 = 1 << 3;
/// General purpose bit 11: the name is UTF-8.
pub(crate) const FLAG_UTF8: u16 = 1 << 11;
const ZIP64_ID: u16 = 0x0001;
/// The version a reader needs for Zip64 (APPNOTE 4.4.3.2).
const ZIP64_VERSION: u16 = 45;
/// The fixed part of a local header, of a central record, of the end record.
pub(crate) const LOCAL_LEN: usize = 30;
pub(crate) const CENTRAL_LEN: usize = 46;
const EOCD_LEN: usize = 22;

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A local header or a central directory record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Local,
    Central,
}

impl Kind {
    /// Where the fields common to both kinds start: the central record
    /// has "version made by" before them.
    fn shift(self) -> usize {
        match self {
            Kind::Local => 0,
            Kind::Central => 2,
        }
    }

    fn fixed(self) -> usize {
        match self {
            Kind::Local => LOCAL_LEN,
            Kind::Central => CENTRAL_LEN,
        }
    }
}

/// A value a header keeps in a fixed field or, when that field holds the
/// sentinel, in its Zip64 extra field, in this order (APPNOTE 4.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Size,
    Packed,
    Offset,
    Disk,
}

impl Slot {
    const ALL: [Slot; 4] = [Slot::Size, Slot::Packed, Slot::Offset, Slot::Disk];

    fn width(self) -> usize {
        match self {
            Slot::Disk => 4,
            _ => 8,
        }
    }
}

/// New values for a header's fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Values {
    pub crc: Option<u32>,
    pub size: Option<u64>,
    pub packed: Option<u64>,
    pub offset: Option<u64>,
}

/// A local header or central record, every byte as stored: fixed fields,
/// name, extra fields and (central) comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    kind: Kind,
    bytes: Vec<u8>,
}

impl Header {
    /// Reads one header of `kind` from `r` (signature first).
    pub(crate) fn read(kind: Kind, r: &mut impl Read) -> io::Result<Header> {
        let mut bytes = vec![0u8; kind.fixed()];
        r.read_exact(&mut bytes)?;
        let sig = match kind {
            Kind::Local => LOCAL_SIG,
            Kind::Central => CENTRAL_SIG,
        };
        if bytes[..4] != sig {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no {kind:?} header signature where the directory says one starts"),
            ));
        }
        let header = Header { kind, bytes };
        let var = header.name_len() + header.extra_len() + header.comment_len();
        let mut rest = vec![0u8; var];
        r.read_exact(&mut rest)?;
        let mut bytes = header.bytes;
        bytes.extend_from_slice(&rest);
        Ok(Header { kind, bytes })
    }

    /// Every byte of the header.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn at(&self, common: usize) -> usize {
        common + self.kind.shift()
    }

    pub(crate) fn version_needed(&self) -> u16 {
        le16(&self.bytes, self.at(4))
    }

    pub(crate) fn flags(&self) -> u16 {
        le16(&self.bytes, self.at(6))
    }

    pub(crate) fn method(&self) -> u16 {
        le16(&self.bytes, self.at(8))
    }

    /// The DOS time and date fields.
    pub(crate) fn dos_time(&self) -> (u16, u16) {
        (
            le16(&self.bytes, self.at(12)),
            le16(&self.bytes, self.at(10)),
        )
    }

    pub(crate) fn crc(&self) -> u32 {
        le32(&self.bytes, self.at(14))
    }

    /// The 32-bit compressed and uncompressed size fields.
    pub(crate) fn size_fields(&self) -> (u32, u32) {
        (
            le32(&self.bytes, self.at(18)),
            le32(&self.bytes, self.at(22)),
        )
    }

    fn name_len(&self) -> usize {
        usize::from(le16(&self.bytes, self.at(26)))
    }

    fn extra_len(&self) -> usize {
        usize::from(le16(&self.bytes, self.at(28)))
    }

    fn comment_len(&self) -> usize {
        match self.kind {
            Kind::Local => 0,
            Kind::Central => usize::from(le16(&self.bytes, 32)),
        }
    }

    /// The name as stored.
    pub(crate) fn name(&self) -> &[u8] {
        let start = self.kind.fixed();
        &self.bytes[start..start + self.name_len()]
    }

    fn extra(&self) -> &[u8] {
        let start = self.kind.fixed() + self.name_len();
        &self.bytes[start..start + self.extra_len()]
    }

    /// Where a slot's fixed field is, and its width.
    fn field(&self, slot: Slot) -> Option<(usize, usize)> {
        match (slot, self.kind) {
            (Slot::Size, _) => Some((self.at(22), 4)),
            (Slot::Packed, _) => Some((self.at(18), 4)),
            (Slot::Offset, Kind::Central) => Some((42, 4)),
            (Slot::Disk, Kind::Central) => Some((34, 2)),
            (_, Kind::Local) => None,
        }
    }

    fn is_sentinel(&self, slot: Slot) -> bool {
        match self.field(slot) {
            Some((at, 4)) => le32(&self.bytes, at) == SENTINEL,
            Some((at, _)) => le16(&self.bytes, at) == 0xFFFF,
            None => false,
        }
    }

    /// The slots the Zip64 extra field holds: those whose fixed field is
    /// the sentinel. A local header's field holds both sizes or neither
    /// (APPNOTE 4.5.3), so either sentinel, or a field long enough for
    /// both, means both.
    fn slots(&self, zip64_len: usize) -> Vec<Slot> {
        let mut slots: Vec<Slot> = Slot::ALL
            .into_iter()
            .filter(|s| self.is_sentinel(*s))
            .collect();
        if self.kind == Kind::Local && (!slots.is_empty() || zip64_len >= 16) {
            slots = vec![Slot::Size, Slot::Packed];
        }
        slots
    }

    /// Writes `v` into the header. A value goes where the input kept it:
    /// in the fixed field, or in the Zip64 extra field when the fixed
    /// field holds the sentinel. Only a value that no longer fits 32 bits
    /// moves into the Zip64 field (which is added if need be, and the
    /// version needed raised to 4.5).
    pub(crate) fn set(&mut self, v: &Values) -> Result<(), String> {
        if let Some(crc) = v.crc {
            let at = self.at(14);
            put32(&mut self.bytes, at, crc);
        }
        let wanted: Vec<(Slot, u64)> = [
            (Slot::Size, v.size),
            (Slot::Packed, v.packed),
            (Slot::Offset, v.offset),
        ]
        .into_iter()
        .filter_map(|(s, x)| x.map(|x| (s, x)))
        .filter(|(s, _)| self.field(*s).is_some())
        .collect();
        let simple = wanted
            .iter()
            .all(|(s, x)| !self.is_sentinel(*s) && *x < u64::from(SENTINEL));
        if !simple || self.kind == Kind::Local && self.has_zip64() {
            return self.set_zip64(&wanted);
        }
        for (slot, x) in wanted {
            if let Some((at, _)) = self.field(slot) {
                put32(&mut self.bytes, at, x as u32);
            }
        }
        Ok(())
    }

    fn has_zip64(&self) -> bool {
        extras(self.extra()).is_ok_and(|list| list.iter().any(|(id, _)| *id == ZIP64_ID))
    }

    fn set_zip64(&mut self, wanted: &[(Slot, u64)]) -> Result<(), String> {
        let mut list = extras(self.extra())?;
        let index = list.iter().position(|(id, _)| *id == ZIP64_ID);
        let old = index.map(|i| list[i].1.clone()).unwrap_or_default();
        let mut slots = self.slots(old.len());
        let mut values = Vec::with_capacity(slots.len());
        let mut used = 0;
        for s in &slots {
            let end = used + s.width();
            let Some(bytes) = old.get(used..end) else {
                return Err("its Zip64 extra field is shorter than its headers say".into());
            };
            values.push(if s.width() == 8 {
                le64(bytes, 0)
            } else {
                u64::from(le32(bytes, 0))
            });
            used = end;
        }
        let rest = old[used..].to_vec();
        let mut promoted = false;
        for &(slot, x) in wanted {
            if let Some(k) = slots.iter().position(|s| *s == slot) {
                values[k] = x;
                if !self.is_sentinel(slot) {
                    self.put_fixed(slot, x, &mut promoted);
                }
            } else if x >= u64::from(SENTINEL) {
                let k = slots.iter().filter(|s| order(**s) < order(slot)).count();
                slots.insert(k, slot);
                values.insert(k, x);
                self.put_fixed(slot, x, &mut promoted);
            } else {
                self.put_fixed(slot, x, &mut promoted);
            }
        }
        if self.kind == Kind::Local && slots.len() == 1 {
            let (missing, at) = if slots[0] == Slot::Size {
                (Slot::Packed, 1)
            } else {
                (Slot::Size, 0)
            };
            let current = self.field(missing).map_or(0, |(a, _)| le32(&self.bytes, a));
            slots.insert(at, missing);
            values.insert(at, u64::from(current));
            self.put_fixed(missing, u64::from(SENTINEL), &mut promoted);
        }
        let mut data = Vec::with_capacity(values.len() * 8 + rest.len());
        for (s, x) in slots.iter().zip(&values) {
            match s.width() {
                8 => data.extend_from_slice(&x.to_le_bytes()),
                _ => data.extend_from_slice(&(*x as u32).to_le_bytes()),
            }
        }
        data.extend_from_slice(&rest);
        match index {
            Some(i) => list[i].1 = data,
            None if !slots.is_empty() => list.insert(0, (ZIP64_ID, data)),
            None => {}
        }
        if promoted {
            let at = self.at(4);
            let needed = self.version_needed().max(ZIP64_VERSION);
            put16(&mut self.bytes, at, needed);
        }
        self.replace_extra(&list)
    }

    /// Writes `x` in a slot's fixed field, or the sentinel when it does
    /// not fit (noting that in `promoted`).
    fn put_fixed(&mut self, slot: Slot, x: u64, promoted: &mut bool) {
        let Some((at, width)) = self.field(slot) else {
            return;
        };
        let limit = if width == 4 {
            u64::from(SENTINEL)
        } else {
            0xFFFF
        };
        if x < limit {
            match width {
                4 => put32(&mut self.bytes, at, x as u32),
                _ => put16(&mut self.bytes, at, x as u16),
            }
        } else {
            *promoted = true;
            match width {
                4 => put32(&mut self.bytes, at, SENTINEL),
                _ => put16(&mut self.bytes, at, 0xFFFF),
            }
        }
    }

    fn replace_extra(&mut self, list: &[(u16, Vec<u8>)]) -> Result<(), String> {
        let mut extra = Vec::new();
        for (id, data) in list {
            let len = u16::try_from(data.len()).map_err(|_| "an extra field over 64 KiB")?;
            extra.extend_from_slice(&id.to_le_bytes());
            extra.extend_from_slice(&len.to_le_bytes());
            extra.extend_from_slice(data);
        }
        let len = u16::try_from(extra.len()).map_err(|_| "extra fields over 64 KiB")?;
        let start = self.kind.fixed() + self.name_len();
        let end = start + self.extra_len();
        self.bytes.splice(start..end, extra);
        let at = self.at(28);
        put16(&mut self.bytes, at, len);
        Ok(())
    }
}

fn order(s: Slot) -> usize {
    Slot::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// The extra fields as (id, data), in order.
fn extras(mut bytes: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let mut list = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err("its extra fields end in the middle of a field header".into());
        }
        let (id, len) = (le16(bytes, 0), usize::from(le16(bytes, 2)));
        let Some(data) = bytes.get(4..4 + len) else {
            return Err(format!(
                "its extra field {id:#06x} runs past the end of the extra fields"
            ));
        };
        list.push((id, data.to_vec()));
        bytes = &bytes[4 + len..];
    }
    Ok(list)
}

/// The form of a data descriptor: with or without its signature, with
/// 32-bit or (Zip64) 64-bit sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Descriptor {
    signed: bool,
    wide: bool,
}

impl Descriptor {
    /// The most bytes a descriptor takes.
    pub(crate) const MAX: usize = 24;

    pub(crate) fn len(self) -> u64 {
        (if self.signed { 4 } else { 0 }) + 4 + if self.wide { 16 } else { 8 }
    }

    /// The descriptor at the start of `after` (the bytes after an entry's
    /// data) that holds `crc`, `packed` and `size`; `Ok(None)` when
    /// another record starts there instead (a writer that set bit 3
    /// without writing one).
    pub(crate) fn find(
        after: &[u8],
        crc: u32,
        packed: u64,
        size: u64,
    ) -> Result<Option<Descriptor>, String> {
        for signed in [true, false] {
            if signed && !after.starts_with(&DESCRIPTOR_SIG) {
                continue;
            }
            for wide in [false, true] {
                let d = Descriptor { signed, wide };
                if after.len() < d.len() as usize {
                    continue;
                }
                if d.values(after) == (crc, packed, size) {
                    return Ok(Some(d));
                }
            }
        }
        if [LOCAL_SIG, CENTRAL_SIG, EOCD_SIG, ZIP64_EOCD_SIG]
            .iter()
            .any(|s| after.starts_with(s))
        {
            return Ok(None);
        }
        Err("general purpose bit 3 says a data descriptor follows the data, and none there holds the CRC and sizes of the central directory".into())
    }

    fn values(self, b: &[u8]) -> (u32, u64, u64) {
        let at = if self.signed { 4 } else { 0 };
        if self.wide {
            (le32(b, at), le64(b, at + 4), le64(b, at + 12))
        } else {
            (
                le32(b, at),
                u64::from(le32(b, at + 4)),
                u64::from(le32(b, at + 8)),
            )
        }
    }

    /// The descriptor for `crc`, `packed` and `size`, in this form.
    pub(crate) fn write(self, crc: u32, packed: u64, size: u64) -> Result<Vec<u8>, String> {
        let mut b = Vec::with_capacity(Self::MAX);
        if self.signed {
            b.extend_from_slice(&DESCRIPTOR_SIG);
        }
        b.extend_from_slice(&crc.to_le_bytes());
        if self.wide {
            b.extend_from_slice(&packed.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
        } else {
            let narrow = |x: u64| u32::try_from(x).map_err(|_| "a size over 4 GiB".to_string());
            b.extend_from_slice(&narrow(packed)?.to_le_bytes());
            b.extend_from_slice(&narrow(size)?.to_le_bytes());
        }
        Ok(b)
    }
}

/// The end records of an input zip, kept so that the output's have the
/// same form: which fields held sentinels, whether there was a Zip64 end
/// record (and its versions and extensible data), and the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct End {
    /// The end of central directory record, with its comment.
    eocd: Vec<u8>,
    /// The Zip64 end of central directory record, as stored.
    zip64: Option<Vec<u8>>,
    /// Where the archive ends: after the end record's comment.
    pub(crate) end: u64,
    /// The first disk's number, and the disk with the central directory
    /// (both 0 unless this is one part of a split zip).
    pub(crate) disks: (u16, u16),
}

/// Where an end of central directory record may start in `tail`: every
/// signature from the back whose comment fits before the tail's end.
fn eocd_candidates(tail: &[u8]) -> impl Iterator<Item = usize> + '_ {
    (0..tail.len().saturating_sub(EOCD_LEN - 1))
        .rev()
        .filter(move |&i| {
            tail[i..].starts_with(&EOCD_SIG)
                && i + EOCD_LEN + usize::from(le16(tail, i + 20)) <= tail.len()
        })
}

/// Reads the last `64 KiB + 22` bytes before `end` (not before `start`).
fn read_tail(r: &mut (impl Read + Seek), start: u64, end: u64) -> io::Result<(u64, Vec<u8>)> {
    let from = end.saturating_sub((EOCD_LEN + 0xFFFF) as u64).max(start);
    let mut tail = vec![0u8; (end - from) as usize];
    r.seek(SeekFrom::Start(from))?;
    r.read_exact(&mut tail)?;
    Ok((from, tail))
}

impl End {
    /// The end records of the zip in `r` between `start` and `end`
    /// whose central directory starts at `cd_start` (as the zip crate
    /// found it; offsets in the records count from `base`). `None` when
    /// no record fits (the crate found it some other way).
    pub(crate) fn find(
        r: &mut (impl Read + Seek),
        (start, end): (u64, u64),
        cd_start: u64,
        base: u64,
    ) -> io::Result<Option<End>> {
        let (from, tail) = read_tail(r, start, end)?;
        for i in eocd_candidates(&tail) {
            let comment = usize::from(le16(&tail, i + 20));
            let eocd = tail[i..i + EOCD_LEN + comment].to_vec();
            let disks = (le16(&eocd, 4), le16(&eocd, 6));
            let at = from + i as u64;
            let zip64 = match i.checked_sub(20) {
                Some(l) if tail[l..].starts_with(&ZIP64_LOCATOR_SIG) => {
                    let record = base.saturating_add(le64(&tail, l + 8));
                    match read_zip64(r, record, at) {
                        Ok(z) => Some(z),
                        // Not the record the zip crate used: look further back.
                        Err(_) => continue,
                    }
                }
                _ => None,
            };
            let offset = match &zip64 {
                Some(z) => le64(z, 48),
                None => u64::from(le32(&eocd, 16)),
            };
            if base.saturating_add(offset) == cd_start || disks != (0, 0) {
                return Ok(Some(End {
                    end: at + eocd.len() as u64,
                    eocd,
                    zip64,
                    disks,
                }));
            }
        }
        Ok(None)
    }

    /// How many parts a split zip has, when the bytes before `end` are
    /// the last one (its end record names a disk other than the first).
    pub(crate) fn split_parts(r: &mut (impl Read + Seek), end: u64) -> io::Result<Option<u16>> {
        let (_, tail) = read_tail(r, 0, end)?;
        Ok(eocd_candidates(&tail)
            .find(|&i| i + EOCD_LEN + usize::from(le16(&tail, i + 20)) == tail.len())
            .map(|i| le16(&tail, i + 4).max(le16(&tail, i + 6)))
            .filter(|&disk| disk != 0)
            .map(|disk| disk.saturating_add(1)))
    }

    /// The archive comment.
    pub(crate) fn comment(&self) -> &[u8] {
        &self.eocd[EOCD_LEN..]
    }
}

/// The Zip64 end record at `at`, which must end before `limit`.
fn read_zip64(r: &mut (impl Read + Seek), at: u64, limit: u64) -> io::Result<Vec<u8>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "a damaged Zip64 end record");
    let mut head = vec![0u8; 56];
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(&mut head)?;
    if head[..4] != ZIP64_EOCD_SIG {
        return Err(bad());
    }
    let size = le64(&head, 4);
    if size < 44 || at.saturating_add(12).saturating_add(size) > limit {
        return Err(bad());
    }
    let mut rest = vec![0u8; (size - 44) as usize];
    r.read_exact(&mut rest)?;
    head.extend_from_slice(&rest);
    Ok(head)
}

/// What the end records say about the central directory written.
pub(crate) struct Directory {
    pub start: u64,
    pub size: u64,
    pub entries: u64,
    /// The highest version needed of its records.
    pub version_needed: u16,
}

/// The end records for `dir`: in the form of `kept` (an input zip's), or
/// as 0.1.0's writer (the zip crate's) wrote them: a Zip64 end record only
/// when a count or offset does not fit, and then the size field holding
/// the sentinel.
pub(crate) fn write_end(dir: &Directory, kept: Option<&End>) -> Vec<u8> {
    let kept_eocd = kept.map(|k| k.eocd.as_slice());
    let was = |at: usize, width: usize| {
        kept_eocd.is_some_and(|e| match width {
            2 => le16(e, at) == 0xFFFF,
            _ => le32(e, at) == SENTINEL,
        })
    };
    let zip64 = kept.is_some_and(|k| k.zip64.is_some())
        || dir.entries >= 0xFFFF
        || dir.size >= u64::from(SENTINEL)
        || dir.start >= u64::from(SENTINEL);
    let mut out = Vec::new();
    if zip64 {
        let record = dir.start + dir.size;
        out.extend_from_slice(&zip64_record(dir, kept.and_then(|k| k.zip64.as_deref())));
        out.extend_from_slice(&ZIP64_LOCATOR_SIG);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&record.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    let field16 = |x: u64, at: usize| -> u16 {
        if x >= 0xFFFF || zip64 && was(at, 2) {
            0xFFFF
        } else {
            x as u16
        }
    };
    let field32 = |x: u64, at: usize, fresh_sentinel: bool| -> u32 {
        let sentinel = match kept_eocd {
            Some(_) => was(at, 4),
            None => fresh_sentinel,
        };
        if x >= u64::from(SENTINEL) || zip64 && sentinel {
            SENTINEL
        } else {
            x as u32
        }
    };
    out.extend_from_slice(&EOCD_SIG);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&field16(dir.entries, 8).to_le_bytes());
    out.extend_from_slice(&field16(dir.entries, 10).to_le_bytes());
    out.extend_from_slice(&field32(dir.size, 12, true).to_le_bytes());
    out.extend_from_slice(&field32(dir.start, 16, false).to_le_bytes());
    let comment = kept.map_or(&[][..], End::comment);
    out.extend_from_slice(&(comment.len() as u16).to_le_bytes());
    out.extend_from_slice(comment);
    out
}

/// A Zip64 end record for `dir`, keeping `kept`'s versions and
/// extensible data.
fn zip64_record(dir: &Directory, kept: Option<&[u8]>) -> Vec<u8> {
    let needed = dir.version_needed.max(10);
    let (made_by, needed, extensible) = match kept {
        Some(k) => (le16(k, 12), le16(k, 14), &k[56..]),
        None => (needed, needed, &[][..]),
    };
    let mut out = Vec::with_capacity(56 + extensible.len());
    out.extend_from_slice(&ZIP64_EOCD_SIG);
    out.extend_from_slice(&(44 + extensible.len() as u64).to_le_bytes());
    out.extend_from_slice(&made_by.to_le_bytes());
    out.extend_from_slice(&needed.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&dir.entries.to_le_bytes());
    out.extend_from_slice(&dir.entries.to_le_bytes());
    out.extend_from_slice(&dir.size.to_le_bytes());
    out.extend_from_slice(&dir.start.to_le_bytes());
    out.extend_from_slice(extensible);
    out
}

/// The header fields of an entry sepkg writes itself (from a folder or a
/// cabinet, or a sylink.xml it adds): exactly what 0.1.0's writer (the
/// zip crate with `SimpleFileOptions::DEFAULT`, Unix permissions 0644 or
/// 0755) wrote, so that those outputs keep their bytes.
#[derive(Debug, Clone)]
pub(crate) struct Fresh {
    pub name: Vec<u8>,
    /// 0 stored, 8 deflated.
    pub method: u16,
    pub dir: bool,
    /// DOS (date, time).
    pub when: (u16, u16),
    /// Sizes of 4 GiB or more: Zip64 fields in both headers.
    pub large: bool,
}

impl Fresh {
    fn version_needed(&self) -> u16 {
        match (self.large, self.method, self.dir) {
            (true, _, _) => ZIP64_VERSION,
            (_, 8, _) | (_, _, true) => 20,
            _ => 10,
        }
    }

    fn flags(&self) -> u16 {
        if self.name.is_ascii() { 0 } else { FLAG_UTF8 }
    }

    fn common(&self, crc: u32, packed: u64, size: u64, extra: usize) -> Vec<u8> {
        let mut b = Vec::with_capacity(CENTRAL_LEN + self.name.len() + 28);
        b.extend_from_slice(&self.version_needed().to_le_bytes());
        b.extend_from_slice(&self.flags().to_le_bytes());
        b.extend_from_slice(&self.method.to_le_bytes());
        b.extend_from_slice(&self.when.1.to_le_bytes());
        b.extend_from_slice(&self.when.0.to_le_bytes());
        b.extend_from_slice(&crc.to_le_bytes());
        let (p, s) = if self.large {
            (SENTINEL, SENTINEL)
        } else {
            (packed as u32, size as u32)
        };
        b.extend_from_slice(&p.to_le_bytes());
        b.extend_from_slice(&s.to_le_bytes());
        b.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        b.extend_from_slice(&(extra as u16).to_le_bytes());
        b
    }

    /// The local header. (A file streamed in gets it twice: first with
    /// zeros, then, once its CRC and sizes are known, over the first; both
    /// have the same length.)
    pub(crate) fn local(&self, crc: u32, packed: u64, size: u64) -> Vec<u8> {
        let extra = if self.large { 20 } else { 0 };
        let mut b = LOCAL_SIG.to_vec();
        b.extend_from_slice(&self.common(crc, packed, size, extra));
        b.extend_from_slice(&self.name);
        if self.large {
            b.extend_from_slice(&ZIP64_ID.to_le_bytes());
            b.extend_from_slice(&16u16.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
            b.extend_from_slice(&packed.to_le_bytes());
        }
        b
    }

    /// The central record, for an entry whose local header is at `offset`.
    pub(crate) fn central(&self, crc: u32, packed: u64, size: u64, offset: u64) -> Vec<u8> {
        let big_offset = offset >= u64::from(SENTINEL);
        let mut zip64 = Vec::new();
        if self.large {
            zip64.extend_from_slice(&size.to_le_bytes());
            zip64.extend_from_slice(&packed.to_le_bytes());
        }
        if big_offset {
            zip64.extend_from_slice(&offset.to_le_bytes());
        }
        let extra = if zip64.is_empty() { 0 } else { 4 + zip64.len() };
        let mut b = CENTRAL_SIG.to_vec();
        b.extend_from_slice(&(0x0300 | self.version_needed()).to_le_bytes());
        b.extend_from_slice(&self.common(crc, packed, size, extra));
        b.extend_from_slice(&[0u8; 6]); // comment length, disk, internal attributes
        let mode: u32 = if self.dir { 0o040755 } else { 0o100644 };
        b.extend_from_slice(&(mode << 16).to_le_bytes());
        let field = if big_offset { SENTINEL } else { offset as u32 };
        b.extend_from_slice(&field.to_le_bytes());
        b.extend_from_slice(&self.name);
        if !zip64.is_empty() {
            b.extend_from_slice(&ZIP64_ID.to_le_bytes());
            b.extend_from_slice(&(zip64.len() as u16).to_le_bytes());
            b.extend_from_slice(&zip64);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A central record for `name` with `extra`, 32-bit sizes and offset
    /// as given.
    fn central(sizes: (u32, u32), offset: u32, extra: &[u8]) -> Header {
        let mut b = CENTRAL_SIG.to_vec();
        b.extend_from_slice(&0x031Eu16.to_le_bytes());
        b.extend_from_slice(&20u16.to_le_bytes());
        b.extend_from_slice(&[0u8; 12]); // flags, method, time, date, crc
        b.extend_from_slice(&sizes.0.to_le_bytes());
        b.extend_from_slice(&sizes.1.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        b.extend_from_slice(&[0u8; 6]); // comment, disk, internal
        b.extend_from_slice(&0x81A4_0000u32.to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        b.push(b'a');
        b.extend_from_slice(extra);
        Header::read(Kind::Central, &mut b.as_slice()).unwrap()
    }

    fn zip64(values: &[u64]) -> Vec<u8> {
        let mut b = ZIP64_ID.to_le_bytes().to_vec();
        b.extend_from_slice(&((values.len() * 8) as u16).to_le_bytes());
        for v in values {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    const UT: &[u8] = b"UT\x05\x00\x03\x00\x00\x00\x00";

    fn offset(v: u64) -> Values {
        Values {
            offset: Some(v),
            ..Values::default()
        }
    }

    #[test]
    fn a_small_offset_changes_four_bytes() {
        let mut h = central((5, 5), 100, UT);
        let before = h.bytes().to_vec();
        h.set(&offset(0x0102_0304)).unwrap();
        assert_eq!(&h.bytes()[42..46], &0x0102_0304u32.to_le_bytes());
        let changed: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != h.bytes()[i])
            .collect();
        assert_eq!(changed, vec![42, 43, 44, 45]);
    }

    #[test]
    fn an_offset_past_4_gib_moves_into_a_new_zip64_field() {
        let mut h = central((5, 5), 100, UT);
        h.set(&offset(5 << 32)).unwrap();
        assert_eq!(le32(h.bytes(), 42), SENTINEL);
        assert_eq!(h.version_needed(), 45);
        let mut want = zip64(&[5 << 32]);
        want.extend_from_slice(UT);
        assert_eq!(h.extra(), want.as_slice());
    }

    #[test]
    fn an_offset_goes_after_the_sizes_a_zip64_field_already_holds() {
        // Info-ZIP's -fz: the size in the Zip64 field, the packed size not.
        let mut extra = UT.to_vec();
        extra.extend(zip64(&[93]));
        let mut h = central((90, SENTINEL), 100, &extra);
        h.set(&offset(6 << 32)).unwrap();
        let mut want = UT.to_vec();
        want.extend(zip64(&[93, 6 << 32]));
        assert_eq!(h.extra(), want.as_slice());
        // And an offset the field holds is changed where it is, as is the
        // sentinel form of an offset that now fits.
        h.set(&offset(12)).unwrap();
        let mut want = UT.to_vec();
        want.extend(zip64(&[93, 12]));
        assert_eq!(h.extra(), want.as_slice());
        assert_eq!(le32(h.bytes(), 42), SENTINEL);
    }

    #[test]
    fn a_local_zip64_field_keeps_both_sizes() {
        let mut b = LOCAL_SIG.to_vec();
        b.extend_from_slice(&45u16.to_le_bytes());
        b.extend_from_slice(&[0u8; 8]);
        b.extend_from_slice(&[0u8; 4]);
        b.extend_from_slice(&SENTINEL.to_le_bytes());
        b.extend_from_slice(&SENTINEL.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&20u16.to_le_bytes());
        b.push(b'a');
        b.extend(zip64(&[10, 8]));
        let mut h = Header::read(Kind::Local, &mut b.as_slice()).unwrap();
        let v = Values {
            crc: Some(0xAABBCCDD),
            size: Some(300),
            packed: Some(200),
            offset: None,
        };
        h.set(&v).unwrap();
        assert_eq!(h.size_fields(), (SENTINEL, SENTINEL));
        assert_eq!(h.crc(), 0xAABBCCDD);
        assert_eq!(h.extra(), zip64(&[300, 200]).as_slice());
    }

    #[test]
    fn a_descriptor_is_found_in_the_form_that_holds_the_values() {
        let signed = Descriptor {
            signed: true,
            wide: false,
        };
        let wide = Descriptor {
            signed: false,
            wide: true,
        };
        for d in [signed, wide] {
            let mut after = d.write(7, 100, 300).unwrap();
            after.extend_from_slice(b"PK\x03\x04...............");
            assert_eq!(Descriptor::find(&after, 7, 100, 300), Ok(Some(d)));
        }
        assert_eq!(Descriptor::find(b"PK\x01\x02 and more", 7, 1, 1), Ok(None));
        assert!(Descriptor::find(b"garbage garbage garbage!", 7, 1, 1).is_err());
    }

    #[test]
    fn end_records_are_zip64_only_when_needed_or_kept() {
        let dir = |start| Directory {
            start,
            size: 100,
            entries: 3,
            version_needed: 20,
        };
        let plain = write_end(&dir(1000), None);
        assert_eq!(plain.len(), 22);
        assert_eq!(le32(&plain, 16), 1000);
        let big = write_end(&dir(5 << 32), None);
        assert_eq!(big.len(), 56 + 20 + 22);
        assert_eq!(&big[..4], &ZIP64_EOCD_SIG);
        // As the zip crate wrote it: the size field holds the sentinel.
        assert_eq!(le32(&big, 76 + 12), SENTINEL);
        assert_eq!(le32(&big, 76 + 16), SENTINEL);
        assert_eq!(le16(&big, 76 + 10), 3);
    }

    #[test]
    fn dos_times_round_trip_in_two_second_steps() {
        use crate::package::dos::{dos_time, from_dos};
        let t = time::macros::datetime!(2021-03-04 05:06:07);
        let (date, clock) = dos_time(Some(t));
        assert_eq!(
            from_dos((date, clock)),
            Some(time::macros::datetime!(2021-03-04 05:06:08))
        );
        assert_eq!(dos_time(None), (0x21, 0));
        assert_eq!(
            dos_time(Some(time::macros::datetime!(1970-01-01 0:00))),
            (0x21, 0)
        );
    }
}
