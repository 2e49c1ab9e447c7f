//! The stored seek index's blobs: each checkpoint's changes and each keyframe, read from the
//! recording (or the index cache) when a seek needs them, each checked against its CRC.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

/// Where a blob lies in the stored index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob {
    pub offset: u64,
    pub len: u32,
}

/// The file a stored index is read from, and where its data starts.
#[derive(Debug)]
pub struct Store {
    file: Mutex<File>,
    base: u64,
    len: u64,
}

impl Store {
    pub(super) fn new(file: File, base: u64, len: u64) -> Store {
        Store {
            file: Mutex::new(file),
            base,
            len,
        }
    }

    pub(super) fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(format!(
                "a stored block at {offset} of {len} bytes lies past the index"
            ));
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut bytes = vec![0u8; len as usize];
        file.seek(SeekFrom::Start(self.base + offset))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| format!("reading the stored index: {e}"))?;
        Ok(bytes)
    }

    /// A blob's bytes, its CRC checked.
    pub(super) fn blob(&self, blob: &Blob) -> Result<Vec<u8>, String> {
        if blob.len < 4 {
            return Err("a stored block too short for its CRC".into());
        }
        let mut bytes = self.read(blob.offset, u64::from(blob.len))?;
        let crc = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes"));
        bytes.truncate(bytes.len() - 4);
        if crc32fast::hash(&bytes) != crc {
            return Err(format!("the stored block at {} fails its CRC", blob.offset));
        }
        Ok(bytes)
    }
}

/// Reads fields off a byte slice; running short is an error, never a panic.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("the stored index is cut short".into());
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// A count of items of at least `size` bytes each: no more than the bytes left can hold.
    pub(super) fn bounded(&self, count: usize, size: usize) -> Result<usize, String> {
        if count.saturating_mul(size) > self.bytes.len() {
            return Err("the stored index counts more than it holds".into());
        }
        Ok(count)
    }

    pub(super) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    pub(super) fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    pub(super) fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(super) fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub(super) fn string(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
}
