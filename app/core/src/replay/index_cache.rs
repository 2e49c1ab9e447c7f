//! The seek indexes of recordings twinscope did not write (another tool's, a repaired one, an
//! older twinscope's), kept in the user's cache folder after the first, full read, so the
//! second opening reads only a table. An entry is keyed by the file's size, its modification
//! time and the hash of its chunk table (its summary's chunk indexes, or what a scan found);
//! the entry itself says which chunks and schemas it indexes, so a stale or damaged one is
//! detected and rebuilt, never trusted.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::SeekIndex;
use super::stored::{self, Fingerprint};
use crate::mcap::McapFile;

/// A file changed more recently than this is neither cached nor looked up.
pub const SETTLING: std::time::Duration = std::time::Duration::from_secs(2);

/// The cache keeps its newest entries up to this many bytes.
const MAX_BYTES: u64 = 4 << 30;

/// Where an index being built by reading a file keeps its checkpoints until it is done: a
/// file of its own in the temporary folder (the index reads it through its open handle once
/// the name is gone, and the cache copies it from there).
pub fn spill_path() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "twinscope-seek-index-{}-{n}.spill",
        std::process::id()
    ))
}

/// A folder of stored seek indexes.
#[derive(Debug, Clone)]
pub struct IndexCache {
    pub dir: PathBuf,
}

impl IndexCache {
    /// `TWINSCOPE_INDEX_CACHE` (`off`: none), else `seek-index` in the user's cache folder.
    pub fn default_place() -> Option<IndexCache> {
        let dir = match std::env::var_os("TWINSCOPE_INDEX_CACHE") {
            Some(off) if off == "off" => return None,
            Some(dir) => PathBuf::from(dir),
            None => dirs::cache_dir()?.join("twinscope").join("seek-index"),
        };
        Some(IndexCache { dir })
    }

    /// The entry's path for `path` as it is now; none for a file changed in the last
    /// [`SETTLING`] (one still being written, or changed twice within the file system's
    /// time resolution, must not be mistaken for another version of itself).
    fn entry(&self, path: &Path, file: &McapFile, fingerprint: Fingerprint) -> Option<PathBuf> {
        let meta = std::fs::metadata(path).ok()?;
        let modified_at = meta.modified().ok()?;
        if std::time::SystemTime::now()
            .duration_since(modified_at)
            .map_or(true, |age| age < SETTLING)
        {
            return None;
        }
        let modified = modified_at.duration_since(UNIX_EPOCH).ok()?.as_nanos() as u64;
        let key = [
            file.len(),
            modified,
            fingerprint.chunks,
            fingerprint.schemas,
        ]
        .iter()
        .fold(stored::FNV_START, |key, v| {
            stored::fnv(&v.to_le_bytes(), key)
        });
        Some(self.dir.join(format!("{key:016x}.tsidx")))
    }

    /// The cached index of `path`, if there is one for the file as it is now; an entry that
    /// does not check out is an error (and is removed).
    pub fn open(
        &self,
        path: &Path,
        file: &McapFile,
        fingerprint: Fingerprint,
    ) -> Result<Option<SeekIndex>, String> {
        let Some(entry) = self.entry(path, file, fingerprint) else {
            return Ok(None);
        };
        let Ok(meta) = std::fs::metadata(&entry) else {
            return Ok(None);
        };
        match stored::open(
            &entry,
            0,
            meta.len(),
            Some(fingerprint.chunks),
            fingerprint.schemas,
            file.len(),
        ) {
            Ok((index, _)) => Ok(Some(index)),
            Err(reason) => {
                let _ = std::fs::remove_file(&entry);
                Err(reason)
            }
        }
    }

    /// Keeps `index` for `path` (written whole under a temporary name, then renamed).
    pub fn keep(
        &self,
        path: &Path,
        file: &McapFile,
        index: &SeekIndex,
        fingerprint: Fingerprint,
    ) -> std::io::Result<()> {
        let (Some(entry), Some(bytes)) = (
            self.entry(path, file, fingerprint),
            stored::encode(index, fingerprint, &file.chunks),
        ) else {
            return Ok(());
        };
        std::fs::create_dir_all(&self.dir)?;
        let writing = entry.with_extension(format!("writing-{}", std::process::id()));
        std::fs::write(&writing, &bytes)?;
        std::fs::rename(&writing, &entry)?;
        self.trim();
        Ok(())
    }

    /// Drops the oldest entries past [`MAX_BYTES`].
    fn trim(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        files.sort();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        for (_, len, path) in files {
            if total <= MAX_BYTES {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}
