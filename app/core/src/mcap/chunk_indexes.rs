//! The summary's chunk indexes, set aside on disk while a recording is written.
//!
//! A chunk index names where each channel's message index lies, so with thousands of
//! channels it takes hundreds of kilobytes per chunk. Held in memory until the summary was
//! written, a recording of 20,000 signals grew its writer by about 1 GB an hour. They are
//! written to a file beside the recording as each chunk closes, and copied into the summary
//! at the end; the file goes when the writer does.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::format::op;

pub(super) struct ChunkIndexes {
    path: PathBuf,
    /// Made with the first chunk: a recording that closes none leaves no file.
    file: Option<BufWriter<File>>,
    count: u64,
}

impl ChunkIndexes {
    pub(super) fn beside(recording: &Path) -> Self {
        ChunkIndexes {
            path: Self::path_beside(recording),
            file: None,
            count: 0,
        }
    }

    /// Where a recording's chunk indexes wait (left there only by a writer that was killed).
    pub(super) fn path_beside(recording: &Path) -> PathBuf {
        let mut name = OsString::from(recording.as_os_str());
        name.push(".chunk-indexes");
        PathBuf::from(name)
    }

    /// Sets one chunk index record (its body) aside.
    pub(super) fn push(&mut self, body: &[u8]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&self.path)?;
                self.file.insert(BufWriter::with_capacity(1 << 16, file))
            }
        };
        file.write_all(&[op::CHUNK_INDEX])?;
        file.write_all(&(body.len() as u64).to_le_bytes())?;
        file.write_all(body)?;
        self.count += 1;
        Ok(())
    }

    pub(super) fn len(&self) -> u64 {
        self.count
    }

    /// Copies every record set aside, in order, to `out` and into `crc`; returns the bytes.
    pub(super) fn copy_into(
        &mut self,
        out: &mut impl Write,
        mut crc: Option<&mut crc32fast::Hasher>,
    ) -> std::io::Result<u64> {
        let Some(file) = &mut self.file else {
            return Ok(0);
        };
        file.flush()?;
        let file = file.get_mut();
        file.seek(SeekFrom::Start(0))?;
        let mut block = vec![0u8; 1 << 20];
        let mut copied = 0;
        loop {
            let read = file.read(&mut block)?;
            if read == 0 {
                return Ok(copied);
            }
            if let Some(crc) = crc.as_deref_mut() {
                crc.update(&block[..read]);
            }
            out.write_all(&block[..read])?;
            copied += read as u64;
        }
    }
}

impl Drop for ChunkIndexes {
    fn drop(&mut self) {
        // Closed first: some systems remove no file that is open.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
