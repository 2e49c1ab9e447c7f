//! What a start finds after a crash, put right: journals no live process holds are sealed
//! into parts (parts they already produced are kept, not written twice), files left half
//! written are deleted, and rollups older than their raw data are rebuilt.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::error::ArchiveError;
use super::journal::{is_abandoned, replay};
use super::layout::{JOURNAL_DIR, Table, WRITING_SUFFIX};
use super::rollup::refresh;
use super::seal::seal;

/// A `.writing` file this old belongs to no running seal.
const ABANDONED_WRITE: Duration = Duration::from_secs(600);

/// Repairs the archive at `root`; returns what it had to say (journals replayed, damage).
pub fn repair(root: &Path) -> Result<Vec<String>, ArchiveError> {
    let mut said = Vec::new();
    let journals = root.join(JOURNAL_DIR);
    if let Ok(entries) = std::fs::read_dir(&journals) {
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_none_or(|x| x != "journal") || !is_abandoned(&path) {
                continue;
            }
            match replay(&path) {
                Ok(replayed) => {
                    let rows = replayed.buffer.rows;
                    let sealed = seal(root, replayed.buffer)?;
                    said.push(format!(
                        "recovered {rows} rows from {} into {} parts{}",
                        path.display(),
                        sealed.files.len(),
                        if replayed.damaged_tail {
                            " (its torn last block dropped)"
                        } else {
                            ""
                        }
                    ));
                }
                Err(error) => said.push(format!("skipped a journal: {error}")),
            }
            let _ = std::fs::remove_file(&path);
        }
    }
    for table in Table::ALL {
        remove_abandoned_writes(&root.join(table.folder()), 0, &mut said);
    }
    said.extend(refresh(root, None)?);
    Ok(said)
}

fn remove_abandoned_writes(dir: &Path, depth: usize, said: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() && depth < 3 {
            remove_abandoned_writes(&path, depth + 1, said);
        } else if path.to_string_lossy().ends_with(WRITING_SUFFIX) {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age >= ABANDONED_WRITE);
            if old && std::fs::remove_file(&path).is_ok() {
                said.push(format!("removed {}, left half written", path.display()));
            }
        }
    }
}
