//! A twin's alarm periods from the archive's alarm table, for drawing on a trend: when each
//! alarm was raised and when it cleared (or that it is still active at the end of the span).

use std::collections::HashMap;
use std::path::Path;

use super::layout::{HOUR_US, Hour, Table, parquet_files, partition_dir};
use super::read::TableFile;

/// Alarm periods are read for spans up to this long (a month of hourly parts); beyond it a
/// trend shows none and says so.
pub const MAX_SPAN_US: i64 = 31 * 24 * HOUR_US;

/// One period of an alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmPeriod {
    pub alarm_type: String,
    pub severity: Option<String>,
    pub raised: i64,
    /// `None`: still active at the end of what the archive holds.
    pub cleared: Option<i64>,
}

/// The periods of `twin`'s alarms overlapping `from..=to`, with warnings for files skipped;
/// `None` when the span is longer than [`MAX_SPAN_US`].
pub fn alarm_periods(
    root: &Path,
    twin: &str,
    from: i64,
    to: i64,
) -> Option<(Vec<AlarmPeriod>, Vec<String>)> {
    if to.saturating_sub(from) > MAX_SPAN_US {
        return None;
    }
    let mut transitions: Vec<(i64, String, bool, Option<String>)> = Vec::new();
    let mut warnings = Vec::new();
    // A day before the span too: an alarm raised then may still be active in it.
    let mut hour = Hour::of(from.saturating_sub(24 * HOUR_US));
    while hour.start_us() <= to {
        for part in parquet_files(&partition_dir(root, Table::Alarms, hour)) {
            let read = TableFile::open(&part, Table::Alarms).and_then(|file| {
                file.scan(|batch| {
                    for r in 0..batch.rows {
                        if batch.texts[1][r].data() != twin.as_bytes() {
                            continue;
                        }
                        let (Some(alarm), Some(state)) = (batch.text(2, r), batch.text(3, r))
                        else {
                            continue;
                        };
                        transitions.push((
                            batch.ints[0][r],
                            alarm.to_owned(),
                            state == "raised",
                            batch.text(4, r).map(str::to_owned),
                        ));
                    }
                })
            });
            if let Err(error) = read {
                warnings.push(format!("skipped {error}"));
            }
        }
        hour = Hour(hour.0 + 1);
    }
    transitions.sort_by(|a, b| a.0.cmp(&b.0));
    let mut open: HashMap<String, AlarmPeriod> = HashMap::new();
    let mut periods = Vec::new();
    for (time, alarm, raised, severity) in transitions {
        if raised {
            open.entry(alarm.clone()).or_insert(AlarmPeriod {
                alarm_type: alarm,
                severity,
                raised: time,
                cleared: None,
            });
        } else if let Some(mut period) = open.remove(&alarm) {
            period.cleared = Some(time);
            periods.push(period);
        }
    }
    periods.extend(open.into_values());
    periods.retain(|p| p.raised <= to && p.cleared.is_none_or(|c| c >= from));
    periods.sort_by_key(|p| p.raised);
    Some((periods, warnings))
}
