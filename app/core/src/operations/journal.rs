//! The journal of our commands: each request is written before it is published and each
//! clearing after it is sent, so a twinscope that crashed mid-operation knows, when it starts
//! again, which retained commands on the broker are its own to clear once they are final.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The journal is read up to this size (beyond is a damaged or foreign file).
const MAX_JOURNAL: u64 = 16 * 1024 * 1024;
/// Rewritten (only what is outstanding) when it grew past this.
const COMPACT_AT: u64 = 1024 * 1024;

/// Where the journal is by default (beside the audit log).
pub fn default_journal_path() -> Option<PathBuf> {
    dirs::data_local_dir().map(|dir| dir.join("twinscope").join("operations-journal.jsonl"))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Requested(String),
    Cleared(String),
}

/// Our command topics not yet cleared, kept in a file.
pub struct Journal {
    file: File,
    path: PathBuf,
    outstanding: BTreeSet<String>,
}

impl Journal {
    /// Opens the journal (creating it); the command topics a former run left outstanding.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let mut outstanding = BTreeSet::new();
        let mut size = 0;
        if let Ok(file) = File::open(path) {
            size = file.metadata()?.len();
            for line in BufReader::new(file.take(MAX_JOURNAL)).lines() {
                let Ok(line) = line else { break };
                // A line cut by a crash, or a foreign one, is skipped.
                match serde_json::from_str::<Line>(&line) {
                    Ok(Line::Requested(topic)) => outstanding.insert(topic),
                    Ok(Line::Cleared(topic)) => outstanding.remove(&topic),
                    Err(_) => continue,
                };
            }
        }
        if size > COMPACT_AT {
            let fresh = path.with_extension("jsonl.new");
            let mut out = File::create(&fresh)?;
            for topic in &outstanding {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&Line::Requested(topic.clone())).unwrap_or_default()
                )?;
            }
            out.sync_all()?;
            std::fs::rename(&fresh, path)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal {
            file,
            path: path.to_owned(),
            outstanding,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Our commands not cleared yet.
    pub fn outstanding(&self) -> impl Iterator<Item = &String> {
        self.outstanding.iter()
    }

    /// Before publishing a request: on disk first, so a crash right after still knows it.
    pub fn requested(&mut self, topic: &str) -> std::io::Result<()> {
        self.append(&Line::Requested(topic.to_owned()))?;
        self.file.sync_data()?;
        self.outstanding.insert(topic.to_owned());
        Ok(())
    }

    /// After clearing (or finding it already gone).
    pub fn cleared(&mut self, topic: &str) -> std::io::Result<()> {
        if self.outstanding.remove(topic) {
            self.append(&Line::Cleared(topic.to_owned()))?;
        }
        Ok(())
    }

    fn append(&mut self, line: &Line) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line).unwrap_or_default();
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_knows_what_was_requested_and_not_cleared() {
        let path =
            std::env::temp_dir().join(format!("twinscope-journal-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let mut journal = Journal::open(&path).unwrap();
            journal
                .requested("te/device/p///cmd/restart/twinscope-1")
                .unwrap();
            journal
                .requested("te/device/p///cmd/restart/twinscope-2")
                .unwrap();
            journal
                .cleared("te/device/p///cmd/restart/twinscope-1")
                .unwrap();
        }
        // A line cut short by a crash.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(br#"{"requested":"te/dev"#)
            .unwrap();
        let journal = Journal::open(&path).unwrap();
        assert_eq!(
            journal.outstanding().collect::<Vec<_>>(),
            ["te/device/p///cmd/restart/twinscope-2"]
        );
        let _ = std::fs::remove_file(&path);
    }
}
