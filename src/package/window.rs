//! A window on a file, for archives that do not start at byte 0 (an .exe's
//! payload) or that a writer must see from its own start.

use std::io::{self, Read, Seek, SeekFrom, Write};

/// A window on a file: byte 0 of the window is byte `base` of the file, and
/// reads stop after `len` bytes. Seeks are relative to the window.
///
/// Used to read an archive embedded in an .exe where it lies, and to write a
/// cabinet after an .exe stub (a cabinet's offsets count from its own
/// header, and the `cab` writer seeks back to patch them).
#[derive(Debug)]
pub struct Window<F> {
    inner: F,
    base: u64,
    len: Option<u64>,
    pos: u64,
}

impl<F: Seek> Window<F> {
    /// A window from `base` on, `len` bytes long (`None`: up to the end, for
    /// writing).
    pub fn new(mut inner: F, base: u64, len: Option<u64>) -> io::Result<Self> {
        inner.seek(SeekFrom::Start(base))?;
        Ok(Window {
            inner,
            base,
            len,
            pos: 0,
        })
    }

    /// The file under the window.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Read> Read for Window<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = match self.len {
            Some(len) => (len.saturating_sub(self.pos)).min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F: Write> Write for Window<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<F: Seek> Seek for Window<F> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek outside the window");
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => match self.len {
                Some(len) => len.checked_add_signed(d),
                None => {
                    let end = self.inner.seek(SeekFrom::End(0))?;
                    end.checked_sub(self.base)
                        .and_then(|e| e.checked_add_signed(d))
                }
            },
        }
        .ok_or_else(invalid)?;
        let abs = self.base.checked_add(target).ok_or_else(invalid)?;
        self.inner.seek(SeekFrom::Start(abs))?;
        self.pos = target;
        Ok(target)
    }
}
