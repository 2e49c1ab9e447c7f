//! A column chunk's page headers read and checked before the Parquet reader decodes it: the
//! reader makes room for a page as large as its header claims (up to 2 GiB), so a damaged or
//! hostile header is refused here, never allowed to size an allocation.
//!
//! Page headers are Thrift compact structs; only fields 2 (uncompressed size) and 3
//! (compressed size) are read, everything else is skipped by its wire type.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// No page of ours comes near this (pages are about 1 MB); a foreign file's larger page is
/// refused with its size named.
pub const MAX_PAGE_BYTES: i64 = 64 * 1024 * 1024;

/// Checks every page header in `start..start + len` of `file` (a column chunk's bytes).
pub fn check_chunk(file: &File, file_len: u64, start: u64, len: u64) -> Result<(), String> {
    let end = start
        .checked_add(len)
        .filter(|e| *e <= file_len)
        .ok_or("a column chunk reaches past the end of the file")?;
    let mut offset = start;
    let mut pages = 0u32;
    while offset < end {
        let (header_len, uncompressed, compressed) = read_header(file, offset, end)?;
        if !(0..=MAX_PAGE_BYTES).contains(&uncompressed)
            || !(0..=MAX_PAGE_BYTES).contains(&compressed)
        {
            return Err(format!(
                "the page at byte {offset} claims {uncompressed} bytes ({compressed} compressed): more than a page can hold"
            ));
        }
        offset = offset + header_len + compressed as u64;
        if offset > end {
            return Err(format!(
                "the page at byte {offset} runs past its column chunk"
            ));
        }
        pages += 1;
        if pages > 1_000_000 {
            return Err("a column chunk of more than a million pages".into());
        }
    }
    Ok(())
}

/// Reads the header at `offset`: its length, and the page's uncompressed and compressed sizes.
fn read_header(file: &File, offset: u64, end: u64) -> Result<(u64, i64, i64), String> {
    // Headers are tens of bytes; one with statistics may be longer: read more, up to 1 MiB.
    for window in [256u64, 16 * 1024, 1024 * 1024] {
        let want = window.min(end - offset) as usize;
        let mut bytes = vec![0u8; want];
        let mut reader = file;
        reader
            .seek(SeekFrom::Start(offset))
            .and_then(|_| reader.read_exact(&mut bytes))
            .map_err(|e| e.to_string())?;
        let mut reader = Compact {
            bytes: &bytes,
            at: 0,
        };
        match reader.page_header() {
            Ok((uncompressed, compressed)) => {
                return Ok((reader.at as u64, uncompressed, compressed));
            }
            Err(Short) if (want as u64) < end - offset => continue,
            Err(Short) => return Err(format!("the page header at byte {offset} is cut short")),
        }
    }
    Err(format!(
        "the page header at byte {offset} is longer than 1 MiB"
    ))
}

/// The header ran past the bytes read (or is malformed: the caller reads more, then gives up).
struct Short;

struct Compact<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, Short> {
        let b = *self.bytes.get(self.at).ok_or(Short)?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Short> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Short)
    }

    fn zigzag(&mut self) -> Result<i64, Short> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip(&mut self, n: u64) -> Result<(), Short> {
        let n = usize::try_from(n).map_err(|_| Short)?;
        if self.bytes.len() - self.at < n {
            return Err(Short);
        }
        self.at += n;
        Ok(())
    }

    /// The page header's sizes (fields 2 and 3), the rest skipped.
    fn page_header(&mut self) -> Result<(i64, i64), Short> {
        let (mut uncompressed, mut compressed) = (None, None);
        let mut field = 0i64;
        loop {
            let header = self.byte()?;
            if header == 0 {
                break;
            }
            let kind = header & 0x0f;
            let delta = i64::from(header >> 4);
            field = if delta == 0 {
                self.zigzag()?
            } else {
                field + delta
            };
            match (field, kind) {
                (2, 5) => uncompressed = Some(self.zigzag()?),
                (3, 5) => compressed = Some(self.zigzag()?),
                _ => self.skip_value(kind, 0)?,
            }
        }
        Ok((uncompressed.ok_or(Short)?, compressed.ok_or(Short)?))
    }

    /// An element of a list, set or map: a boolean there takes a byte of its own.
    fn skip_element(&mut self, kind: u8, depth: u32) -> Result<(), Short> {
        match kind {
            1 | 2 => self.skip(1),
            _ => self.skip_value(kind, depth),
        }
    }

    fn skip_value(&mut self, kind: u8, depth: u32) -> Result<(), Short> {
        if depth > 16 {
            return Err(Short);
        }
        match kind {
            1 | 2 => Ok(()),
            3 => self.skip(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.skip(8),
            8 => {
                let len = self.varint()?;
                self.skip(len)
            }
            9 | 10 => {
                let header = self.byte()?;
                let element = header & 0x0f;
                let size = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                for _ in 0..size {
                    // Each element takes at least a byte: a size beyond the bytes is cut short.
                    if self.at >= self.bytes.len() {
                        return Err(Short);
                    }
                    self.skip_element(element, depth + 1)?;
                }
                Ok(())
            }
            11 => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                for _ in 0..size {
                    if self.at >= self.bytes.len() {
                        return Err(Short);
                    }
                    self.skip_element(types >> 4, depth + 1)?;
                    self.skip_element(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => {
                let mut field = 0i64;
                loop {
                    let header = self.byte()?;
                    if header == 0 {
                        return Ok(());
                    }
                    let delta = i64::from(header >> 4);
                    field = if delta == 0 {
                        self.zigzag()?
                    } else {
                        field + delta
                    };
                    let _ = field;
                    self.skip_value(header & 0x0f, depth + 1)?;
                }
            }
            _ => Err(Short),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (File, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "twinscope-page-check-{}-{}",
            std::process::id(),
            bytes.len()
        ));
        std::fs::write(&path, bytes).unwrap();
        (File::open(&path).unwrap(), path)
    }

    /// A data page header: type 0, uncompressed and compressed sizes, then a nested data
    /// page header struct (num_values 3), then the page's bytes.
    fn page(uncompressed: i64, compressed: i64, body: usize) -> Vec<u8> {
        let zigzag = |v: i64| {
            let mut v = ((v << 1) ^ (v >> 63)) as u64;
            let mut out = Vec::new();
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    out.push(b);
                    return out;
                }
                out.push(b | 0x80);
            }
        };
        let mut bytes = vec![0x15];
        bytes.extend(zigzag(0));
        bytes.push(0x15);
        bytes.extend(zigzag(uncompressed));
        bytes.push(0x15);
        bytes.extend(zigzag(compressed));
        bytes.push(0x5c); // field 8 (delta 5), a struct
        bytes.push(0x15);
        bytes.extend(zigzag(3));
        bytes.push(0x00);
        bytes.push(0x00);
        bytes.extend(std::iter::repeat_n(7u8, body));
        bytes
    }

    #[test]
    fn sane_pages_pass_and_absurd_claims_are_refused_before_any_allocation() {
        let mut chunk = page(100, 40, 40);
        chunk.extend(page(10, 10, 10));
        let (file, path) = file_with(&chunk);
        assert_eq!(
            check_chunk(&file, chunk.len() as u64, 0, chunk.len() as u64),
            Ok(())
        );
        let _ = std::fs::remove_file(path);
        let absurd = page(i32::MAX as i64, 40, 40);
        let (file, path) = file_with(&absurd);
        let error = check_chunk(&file, absurd.len() as u64, 0, absurd.len() as u64).unwrap_err();
        assert!(error.contains("2147483647 bytes"), "{error}");
        let _ = std::fs::remove_file(path);
        let overrun = page(100, 400, 40);
        let (file, path) = file_with(&overrun);
        assert!(check_chunk(&file, overrun.len() as u64, 0, overrun.len() as u64).is_err());
        assert!(
            check_chunk(&file, overrun.len() as u64, 0, overrun.len() as u64 + 1).is_err(),
            "past the file"
        );
        let _ = std::fs::remove_file(path);
    }
}
