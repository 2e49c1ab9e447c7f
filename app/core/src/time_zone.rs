//! The plant's clock: a named time zone (`Europe/Berlin`) read from the system's tz database,
//! with daylight saving, so a replay across the night the clocks change shows the local
//! times the operators saw. Exports stay in UTC.
//!
//! No maintained time-zone crate can be had in this build (the offline registry has neither
//! `jiff` nor `chrono-tz`), so this reads the database's compiled TZif files (RFC 8536)
//! itself: the table of transitions, and for instants after it the POSIX rule in the file's
//! footer (`CET-1CEST,M3.5.0,M10.5.0/3`), which "slim" files rely on for every year after
//! the rules last changed. Bad files are errors, never panics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::time::Timestamp;

/// A zone: its transitions and the rule after them.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeZone {
    pub name: String,
    /// Seconds since the epoch at which the offset changes, and the offset (east of UTC, in
    /// seconds) from then on.
    transitions: Vec<(i64, i32)>,
    /// The offset before the first transition.
    initial: i32,
    /// For instants after the last transition.
    rule: Option<PosixRule>,
}

impl TimeZone {
    /// The zone called `name` in the system's database (`$TZDIR`, else `/usr/share/zoneinfo`).
    pub fn named(name: &str) -> Result<Self, String> {
        if name.is_empty()
            || name.starts_with('/')
            || name.split('/').any(|part| part == ".." || part.is_empty())
        {
            return Err(format!(
                "{name:?} is not a time zone name like Europe/Berlin"
            ));
        }
        let folder = std::env::var_os("TZDIR")
            .map_or_else(|| PathBuf::from("/usr/share/zoneinfo"), PathBuf::from);
        Self::from_file(name, &folder.join(name)).map_err(|e| format!("time zone {name:?}: {e}"))
    }

    /// This machine's zone: `$TZ` if it names one, else `/etc/localtime`; UTC if neither can
    /// be read.
    pub fn local() -> Self {
        if let Ok(name) = std::env::var("TZ")
            && let Ok(zone) = Self::named(name.trim_start_matches(':'))
        {
            return zone;
        }
        let name = std::fs::read_link("/etc/localtime")
            .ok()
            .and_then(|target| {
                let text = target.to_string_lossy().into_owned();
                text.split_once("zoneinfo/")
                    .map(|(_, name)| name.to_owned())
            });
        Self::from_file(
            name.as_deref().unwrap_or("localtime"),
            Path::new("/etc/localtime"),
        )
        .unwrap_or_else(|_| Self::utc())
    }

    pub fn utc() -> Self {
        TimeZone {
            name: "UTC".into(),
            transitions: Vec::new(),
            initial: 0,
            rule: None,
        }
    }

    pub fn from_file(name: &str, path: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_tzif(name, &bytes)
    }

    /// Reads a TZif file: the 64-bit data block of version 2 and later (the 32-bit one of
    /// version 1), and the footer rule.
    pub fn from_tzif(name: &str, bytes: &[u8]) -> Result<Self, String> {
        let (header, rest) = Header::read(bytes)?;
        let (transitions, initial, footer) = if header.version >= 2 {
            let v1_len = header.block_len(4)?;
            let rest = rest.get(v1_len..).ok_or("the file is cut short")?;
            let (header, rest) = Header::read(rest)?;
            let (transitions, initial) = header.block(rest, 8)?;
            let footer = rest
                .get(header.block_len(8)?..)
                .ok_or("the file is cut short")?;
            (transitions, initial, footer)
        } else {
            let (transitions, initial) = header.block(rest, 4)?;
            (transitions, initial, &[][..])
        };
        let rule = match footer {
            [b'\n', text @ .., b'\n'] if !text.is_empty() => {
                // A rule this reader does not know (`J` dates) leaves the table's last offset
                // in force after it, rather than refusing the zone.
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|text| PosixRule::parse(text).ok())
            }
            _ => None,
        };
        Ok(TimeZone {
            name: name.to_owned(),
            transitions,
            initial,
            rule,
        })
    }

    /// The offset from UTC in force at `time`, in seconds east.
    pub fn offset_at(&self, time: Timestamp) -> i64 {
        let seconds = time.0.div_euclid(1_000_000);
        let after = self.transitions.partition_point(|(at, _)| *at <= seconds);
        match (after, &self.rule) {
            (n, Some(rule)) if n == self.transitions.len() => rule.offset_at(seconds),
            (0, _) => i64::from(self.initial),
            (n, _) => i64::from(self.transitions[n - 1].1),
        }
    }
}

/// The counts that start a TZif header.
struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Result<(Header, &[u8]), String> {
        if bytes.len() < 44 || &bytes[..4] != b"TZif" {
            return Err("not a TZif file".into());
        }
        let version = match bytes[4] {
            0 => 1,
            b'2' => 2,
            b'3' => 3,
            b'4' => 4,
            other => return Err(format!("TZif version {other} is not known")),
        };
        let count = |i: usize| {
            u32::from_be_bytes(bytes[20 + 4 * i..24 + 4 * i].try_into().expect("4 bytes")) as usize
        };
        let header = Header {
            version,
            isutcnt: count(0),
            isstdcnt: count(1),
            leapcnt: count(2),
            timecnt: count(3),
            typecnt: count(4),
            charcnt: count(5),
        };
        if header.typecnt == 0 {
            return Err("the file has no local time types".into());
        }
        Ok((header, &bytes[44..]))
    }

    /// The data block's length with `time_size`-byte times (checked: counts come from the file).
    fn block_len(&self, time_size: usize) -> Result<usize, String> {
        let parts = [
            self.timecnt.checked_mul(time_size + 1),
            self.typecnt.checked_mul(6),
            Some(self.charcnt),
            self.leapcnt.checked_mul(time_size + 4),
            Some(self.isstdcnt),
            Some(self.isutcnt),
        ];
        parts
            .into_iter()
            .try_fold(0usize, |sum, part| sum.checked_add(part?))
            .ok_or_else(|| "the file's counts overflow".to_owned())
    }

    /// Transitions (time, offset) and the offset before them.
    fn block(&self, data: &[u8], time_size: usize) -> Result<(Vec<(i64, i32)>, i32), String> {
        if data.len() < self.block_len(time_size)? {
            return Err("the file is cut short".into());
        }
        let types_at = self.timecnt * (time_size + 1);
        let offset_of_type = |t: usize| -> Result<i32, String> {
            let at = types_at + 6 * t;
            data.get(at..at + 4)
                .map(|b| i32::from_be_bytes(b.try_into().expect("4 bytes")))
                .ok_or_else(|| format!("local time type {t} does not exist"))
        };
        let mut transitions = Vec::with_capacity(self.timecnt);
        for i in 0..self.timecnt {
            let raw = &data[i * time_size..(i + 1) * time_size];
            let at = if time_size == 8 {
                i64::from_be_bytes(raw.try_into().expect("8 bytes"))
            } else {
                i64::from(i32::from_be_bytes(raw.try_into().expect("4 bytes")))
            };
            let kind = usize::from(data[self.timecnt * time_size + i]);
            if kind >= self.typecnt {
                return Err(format!(
                    "transition {i} names local time type {kind} of {}",
                    self.typecnt
                ));
            }
            if transitions
                .last()
                .is_some_and(|(previous, _)| *previous >= at)
            {
                return Err("the transitions are not in order".into());
            }
            transitions.push((at, offset_of_type(kind)?));
        }
        // Before the first transition: the first type that is not daylight saving (RFC 8536 3.2).
        let initial = (0..self.typecnt)
            .find(|t| data[types_at + 6 * t + 4] == 0)
            .map_or(Ok(0), offset_of_type)?;
        Ok((transitions, initial))
    }
}

/// A POSIX TZ rule: a standard offset and, optionally, daylight saving between two dates.
#[derive(Debug, Clone, PartialEq)]
struct PosixRule {
    standard: i32,
    saving: Option<Saving>,
}

#[derive(Debug, Clone, PartialEq)]
struct Saving {
    offset: i32,
    start: DateRule,
    end: DateRule,
}

/// `Mm.w.d/time`: day `d` (0 Sunday) of week `w` (5: the last) of month `m`, at a local time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DateRule {
    month: u32,
    week: u32,
    weekday: u32,
    seconds: i32,
}

impl PosixRule {
    fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("the rule {text:?} is not a POSIX TZ rule this reader knows");
        let mut rest = text;
        skip_name(&mut rest).ok_or_else(bad)?;
        // POSIX offsets are west of UTC: "CET-1" is one hour east.
        let standard = -signed_time(&mut rest).ok_or_else(bad)?;
        if rest.is_empty() {
            return Ok(PosixRule {
                standard,
                saving: None,
            });
        }
        skip_name(&mut rest).ok_or_else(bad)?;
        let offset = if rest.starts_with(',') {
            standard + 3600
        } else {
            -signed_time(&mut rest).ok_or_else(bad)?
        };
        let mut dates = rest.strip_prefix(',').ok_or_else(bad)?.split(',');
        let (Some(start), Some(end), None) = (dates.next(), dates.next(), dates.next()) else {
            return Err(bad());
        };
        let (start, end) = (
            DateRule::parse(start).ok_or_else(bad)?,
            DateRule::parse(end).ok_or_else(bad)?,
        );
        Ok(PosixRule {
            standard,
            saving: Some(Saving { offset, start, end }),
        })
    }

    fn offset_at(&self, seconds: i64) -> i64 {
        let Some(saving) = &self.saving else {
            return i64::from(self.standard);
        };
        let year =
            crate::time::civil_from_days((seconds + i64::from(self.standard)).div_euclid(86_400)).0;
        // The start is given in standard time, the end in daylight time.
        let start = saving.start.instant(year) - i64::from(self.standard);
        let end = saving.end.instant(year) - i64::from(saving.offset);
        let in_saving = if start < end {
            start <= seconds && seconds < end
        } else {
            seconds < end || seconds >= start
        };
        i64::from(if in_saving {
            saving.offset
        } else {
            self.standard
        })
    }
}

impl DateRule {
    fn parse(text: &str) -> Option<Self> {
        let (date, time) = match text.split_once('/') {
            Some((date, time)) => {
                let mut rest = time;
                let seconds = signed_time(&mut rest)?;
                rest.is_empty().then_some((date, seconds))?
            }
            None => (text, 7200),
        };
        let mut parts = date.strip_prefix('M')?.split('.');
        let mut number = || parts.next()?.parse::<u32>().ok();
        let (month, week, weekday) = (number()?, number()?, number()?);
        ((1..=12).contains(&month) && (1..=5).contains(&week) && weekday <= 6).then_some(DateRule {
            month,
            week,
            weekday,
            seconds: time,
        })
    }

    /// Local seconds since the epoch of this date and time in `year`.
    fn instant(&self, year: i64) -> i64 {
        let first = crate::time::days_from_civil(year, i64::from(self.month), 1);
        let first_weekday = (first + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
        let mut day = 1 + (self.weekday + 7 - first_weekday) % 7 + (self.week - 1) * 7;
        while i64::from(day) > crate::time::days_in_month(year, i64::from(self.month)) {
            day -= 7;
        }
        (first + i64::from(day - 1)) * 86_400 + i64::from(self.seconds)
    }
}

/// A zone abbreviation: letters, or anything in `<…>` (`<+0330>`).
fn skip_name(rest: &mut &str) -> Option<()> {
    let length = if let Some(quoted) = rest.strip_prefix('<') {
        quoted.find('>')? + 2
    } else {
        rest.find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len())
    };
    (length >= 3).then(|| *rest = &rest[length..])
}

/// `[+-]h[:mm[:ss]]`, hours up to 167, in seconds.
fn signed_time(rest: &mut &str) -> Option<i32> {
    let sign = match rest.as_bytes().first()? {
        b'-' => -1,
        b'+' => 1,
        _ => 1,
    };
    let unsigned = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    let end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(unsigned.len());
    let mut fields = unsigned[..end].split(':');
    let hours: i32 = fields.next()?.parse().ok().filter(|h| *h <= 167)?;
    let minutes: i32 = fields
        .next()
        .map_or(Some(0), |m| m.parse().ok().filter(|m| *m < 60))?;
    let seconds: i32 = fields
        .next()
        .map_or(Some(0), |s| s.parse().ok().filter(|s| *s < 60))?;
    if fields.next().is_some() {
        return None;
    }
    *rest = &unsigned[end..];
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

/// How the panels show times: in a named zone (daylight saving included) or at a fixed
/// offset (`--utc-offset`).
#[derive(Debug, Clone, PartialEq)]
pub enum PlantClock {
    Zone(Arc<TimeZone>),
    Fixed(i64),
}

impl Default for PlantClock {
    fn default() -> Self {
        PlantClock::Fixed(0)
    }
}

impl PlantClock {
    /// Seconds east of UTC at `time`.
    pub fn offset_at(&self, time: Timestamp) -> i64 {
        match self {
            PlantClock::Zone(zone) => zone.offset_at(time),
            PlantClock::Fixed(offset) => *offset,
        }
    }

    /// `2026-11-21 14:54:23.683+01:00`, with the offset in force at that instant.
    pub fn format(&self, time: Timestamp) -> String {
        crate::time::UtcOffset(self.offset_at(time)).format(time)
    }

    /// The time of day, `digits` long (see [`UtcOffset::time_of_day`](crate::time::UtcOffset::time_of_day)).
    pub fn time_of_day(&self, time: Timestamp, digits: usize) -> String {
        crate::time::UtcOffset(self.offset_at(time)).time_of_day(time, digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    /// A TZif file (version 2) with no transitions: only the footer rule decides.
    fn footer_only(rule: &str) -> Vec<u8> {
        let header = |out: &mut Vec<u8>| {
            out.extend(b"TZif2");
            out.extend([0u8; 15]);
            for count in [0u32, 0, 0, 0, 1, 4] {
                out.extend(count.to_be_bytes());
            }
        };
        let mut out = Vec::new();
        for _ in 0..2 {
            header(&mut out);
            out.extend(3600i32.to_be_bytes());
            out.extend([0, 0]);
            out.extend(b"CET\0");
        }
        out.extend(format!("\n{rule}\n").as_bytes());
        out
    }

    #[test]
    fn daylight_saving_starts_and_ends_at_the_rule_s_instants() {
        let berlin =
            TimeZone::from_tzif("Europe/Berlin", &footer_only("CET-1CEST,M3.5.0,M10.5.0/3"))
                .unwrap();
        assert_eq!(berlin.offset_at(at("2026-03-29T00:59:59Z")), 3600);
        assert_eq!(
            berlin.offset_at(at("2026-03-29T01:00:00Z")),
            7200,
            "02:00 CET becomes 03:00 CEST"
        );
        assert_eq!(berlin.offset_at(at("2026-10-25T00:59:59Z")), 7200);
        assert_eq!(
            berlin.offset_at(at("2026-10-25T01:00:00Z")),
            3600,
            "03:00 CEST becomes 02:00 CET"
        );
        assert_eq!(berlin.offset_at(at("2040-07-01T12:00:00Z")), 7200);
        let new_york =
            TimeZone::from_tzif("America/New_York", &footer_only("EST5EDT,M3.2.0,M11.1.0"))
                .unwrap();
        assert_eq!(new_york.offset_at(at("2026-03-08T06:59:59Z")), -5 * 3600);
        assert_eq!(new_york.offset_at(at("2026-03-08T07:00:00Z")), -4 * 3600);
        assert_eq!(new_york.offset_at(at("2026-11-01T05:59:59Z")), -4 * 3600);
        assert_eq!(new_york.offset_at(at("2026-11-01T06:00:00Z")), -5 * 3600);
        // Southern hemisphere: saving across the new year.
        let sydney = TimeZone::from_tzif(
            "Australia/Sydney",
            &footer_only("AEST-10AEDT,M10.1.0,M4.1.0/3"),
        )
        .unwrap();
        assert_eq!(sydney.offset_at(at("2026-01-15T00:00:00Z")), 11 * 3600);
        assert_eq!(sydney.offset_at(at("2026-06-15T00:00:00Z")), 10 * 3600);
        let india = TimeZone::from_tzif("Asia/Kolkata", &footer_only("IST-5:30")).unwrap();
        assert_eq!(india.offset_at(at("2026-06-15T00:00:00Z")), 5 * 3600 + 1800);
        let quoted = TimeZone::from_tzif("Asia/Tehran", &footer_only("<+0330>-3:30")).unwrap();
        assert_eq!(
            quoted.offset_at(at("2026-06-15T00:00:00Z")),
            3 * 3600 + 1800
        );
    }

    #[test]
    fn the_system_database_agrees() {
        let Ok(berlin) = TimeZone::named("Europe/Berlin") else {
            eprintln!("SKIPPED: no Europe/Berlin in the tz database (apt-get install tzdata)");
            return;
        };
        assert_eq!(berlin.offset_at(at("2026-03-29T00:59:59Z")), 3600);
        assert_eq!(berlin.offset_at(at("2026-03-29T01:00:00Z")), 7200);
        assert_eq!(berlin.offset_at(at("1990-07-01T00:00:00Z")), 7200);
        assert_eq!(
            berlin.offset_at(at("2050-01-01T00:00:00Z")),
            3600,
            "after the table: the footer rule"
        );
        let clock = PlantClock::Zone(Arc::new(berlin));
        assert_eq!(
            clock.format(at("2026-03-29T00:30:00Z")),
            "2026-03-29 01:30:00.000+01:00"
        );
        assert_eq!(
            clock.format(at("2026-03-29T01:30:00Z")),
            "2026-03-29 03:30:00.000+02:00"
        );
        for bad in [
            "",
            "../etc/passwd",
            "/etc/localtime",
            "Europe//Berlin",
            "No/Such_Zone",
        ] {
            assert!(TimeZone::named(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn damaged_files_are_errors_never_panics() {
        let good = footer_only("CET-1CEST,M3.5.0,M10.5.0/3");
        let system =
            std::fs::read("/usr/share/zoneinfo/Europe/Berlin").unwrap_or_else(|_| good.clone());
        let mut mutator = crate::mutate::Mutator::new(12);
        for case in 0..crate::mutate::cases(20_000) {
            let bytes = mutator.mutate(if case % 2 == 0 { &good } else { &system });
            if let Ok(zone) = TimeZone::from_tzif("damaged", &bytes) {
                for time in [i64::MIN / 2, -1, 0, 1_800_000_000_000_000, i64::MAX / 2] {
                    let _ = zone.offset_at(Timestamp(time));
                }
            }
        }
    }
}
