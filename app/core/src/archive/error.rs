//! What can go wrong with an archive, always naming the file.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a readable Parquet file: {reason}", path.display())]
    Parquet { path: PathBuf, reason: String },
    #[error("{}: not a twinscope archive file of this table: {reason}", path.display())]
    Foreign { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Damaged { path: PathBuf, reason: String },
}

impl ArchiveError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ArchiveError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub fn parquet(path: &Path, error: parquet::errors::ParquetError) -> Self {
        ArchiveError::Parquet {
            path: path.to_owned(),
            reason: error.to_string(),
        }
    }

    pub fn foreign(path: &Path, reason: impl Into<String>) -> Self {
        ArchiveError::Foreign {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn damaged(path: &Path, reason: impl Into<String>) -> Self {
        ArchiveError::Damaged {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}
