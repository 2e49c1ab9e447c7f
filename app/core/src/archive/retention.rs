//! Retention: raw data (and its text, alarm and twin tables) kept for one span, rollups for a
//! longer one; old data goes by whole day partitions, never row by row.

use std::path::{Path, PathBuf};

use super::layout::{DAY_US, Table, days_in};

/// How long each kind of data is kept (`None`: forever).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retention {
    /// Raw, text, alarms and twins, in µs.
    pub raw: Option<i64>,
    /// The minute and hour rollups, in µs.
    pub rollups: Option<i64>,
}

impl Retention {
    pub fn is_forever(&self) -> bool {
        self.raw.is_none() && self.rollups.is_none()
    }

    /// `--archive-keep 90d` (raw), rollups kept ten times as long unless said
    /// (`--archive-keep-rollups 5y`).
    pub fn parse(raw: Option<&str>, rollups: Option<&str>) -> Result<Retention, String> {
        let micros = |text: &str| {
            crate::time::parse_duration(text).map(|d| d.as_micros().min(i64::MAX as u128) as i64)
        };
        let raw = raw.map(micros).transpose()?;
        let rollups = match rollups {
            Some(text) => Some(micros(text)?),
            None => raw.map(|r| r.saturating_mul(10)),
        };
        if let (Some(r), Some(u)) = (raw, rollups)
            && u < r
        {
            return Err("rollups are kept at least as long as raw data".into());
        }
        Ok(Retention { raw, rollups })
    }
}

/// Removes the day partitions wholly older than their table's span; returns what went.
pub fn prune(root: &Path, now_us: i64, retention: &Retention) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for table in Table::ALL {
        let keep = if table.is_rollup() {
            retention.rollups
        } else {
            retention.raw
        };
        let Some(keep) = keep else { continue };
        let cutoff = now_us.saturating_sub(keep);
        for day in days_in(root, table) {
            if day.start_us().saturating_add(DAY_US) <= cutoff {
                let dir = root
                    .join(table.folder())
                    .join(format!("date={}", day.date()));
                if std::fs::remove_dir_all(&dir).is_ok() {
                    removed.push(dir);
                }
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::layout::{Hour, partition_dir};

    #[test]
    fn whole_days_past_their_span_go_and_rollups_stay_longer() {
        let root = std::env::temp_dir().join(format!("twinscope-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let now = 100 * DAY_US + 5 * 3_600_000_000;
        for days_ago in [1, 3, 40] {
            let hour = Hour::of(now - days_ago * DAY_US);
            for table in [Table::Raw, Table::Rollup1m] {
                std::fs::create_dir_all(partition_dir(&root, table, hour)).unwrap();
            }
        }
        let keep = Retention::parse(Some("2d"), Some("30d")).unwrap();
        let removed = prune(&root, now, &keep);
        assert_eq!(
            removed.len(),
            3,
            "raw 3 and 40 days ago, rollups 40 days ago: {removed:?}"
        );
        assert_eq!(days_in(&root, Table::Raw).len(), 1);
        assert_eq!(days_in(&root, Table::Rollup1m).len(), 2);
        assert!(Retention::parse(Some("90d"), Some("1d")).is_err());
        assert_eq!(
            Retention::parse(Some("1d"), None).unwrap().rollups,
            Some(10 * DAY_US)
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
