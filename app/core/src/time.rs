//! Timestamps as microseconds since the Unix epoch, with the small amount of RFC 3339 that
//! thin-edge payloads and our reports need (no calendar crate for two functions).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time, microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Timestamp(micros)
    }

    /// From (possibly fractional) seconds since the epoch, as thin-edge's numeric `time` is.
    /// Returns `None` for NaN, infinities and values outside ±10,000 years.
    pub fn from_unix_seconds(seconds: f64) -> Option<Self> {
        if !seconds.is_finite() || seconds.abs() > 3.2e11 {
            return None;
        }
        Some(Timestamp((seconds * 1e6).round() as i64))
    }

    pub fn as_unix_seconds(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Seconds elapsed from `earlier` to `self` (negative if `earlier` is later).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1e6
    }

    /// Parses RFC 3339 (`2024-05-01T12:00:00Z`, `...T12:00:00.123+02:00`).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let s = text.get(range)?;
            if !s.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut rest = &text[19..];
        let mut micros = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            let mut scale = 100_000i64;
            for c in frac[..digits].bytes().take(6) {
                micros += (c - b'0') as i64 * scale;
                scale /= 10;
            }
            rest = &frac[digits..];
        }
        let offset_seconds = match rest {
            "Z" | "z" => 0,
            _ if rest.len() == 6
                && matches!(rest.as_bytes()[0], b'+' | b'-')
                && rest.as_bytes()[3] == b':' =>
            {
                let h: i64 = rest[1..3].parse().ok().filter(|h| *h <= 23)?;
                let m: i64 = rest[4..6].parse().ok().filter(|m| *m <= 59)?;
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                sign * (h * 3600 + m * 60)
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
        Some(Timestamp(seconds * 1_000_000 + micros))
    }
}

/// Days in a month of the proleptic Gregorian calendar.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with millisecond precision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(1_000_000);
        let millis = self.0.rem_euclid(1_000_000) / 1000;
        let days = seconds.div_euclid(86_400);
        let secs_of_day = seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        )
    }
}

/// A fixed offset from UTC in seconds: how the plant's clocks show a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UtcOffset(pub i64);

impl UtcOffset {
    /// `2026-11-21 14:54:23.683+01:00`.
    pub fn format(self, time: Timestamp) -> String {
        let local = Timestamp(time.0 + self.0 * 1_000_000).to_string();
        let sign = if self.0 < 0 { '-' } else { '+' };
        let minutes = self.0.abs() / 60;
        format!(
            "{} {}{sign}{:02}:{:02}",
            &local[..10],
            &local[11..23],
            minutes / 60,
            minutes % 60
        )
    }

    /// The time of day, `digits` long (`14:54:23` is 8, `14:54:23.683` is 12); nothing for
    /// the zero timestamp, which means "never".
    pub fn time_of_day(self, time: Timestamp, digits: usize) -> String {
        if time.0 == 0 {
            return String::new();
        }
        let local = Timestamp(time.0 + self.0 * 1_000_000).to_string();
        local
            .get(11..11 + digits.min(12))
            .unwrap_or(&local)
            .to_owned()
    }
}

/// Parses a duration as people type it: `5s`, `500ms`, `2m`, `1h`, `90d`, `2w`, `1y` (365
/// days) or plain seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else if let Some(n) = text.strip_suffix('d') {
        (n, 86_400.0)
    } else if let Some(n) = text.strip_suffix('w') {
        (n, 7.0 * 86_400.0)
    } else if let Some(n) = text.strip_suffix('y') {
        (n, 365.0 * 86_400.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 5s, 500ms, 2m or 90d"))?;
    if !value.is_finite() || !(0.0..=1e9).contains(&value) {
        return Err(format!("{text:?} is not a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(value * scale))
}

/// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets() {
        let utc = Timestamp::parse_rfc3339("2020-10-15T05:30:47Z").unwrap();
        assert_eq!(utc.0, 1_602_739_847_000_000);
        let offset = Timestamp::parse_rfc3339("2020-10-15T07:30:47+02:00").unwrap();
        assert_eq!(offset, utc);
        let frac = Timestamp::parse_rfc3339("2020-10-15T05:30:47.25Z").unwrap();
        assert_eq!(frac.0 - utc.0, 250_000);
    }

    #[test]
    fn rejects_garbage() {
        let impossible = [
            "2024-02-31T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T00:00:00+99:99",
            "2024-01-01T00:00:00+10:60",
        ];
        assert!(
            Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_some(),
            "a leap day"
        );
        assert!(
            Timestamp::parse_rfc3339("2000-02-29T00:00:00-23:59").is_some(),
            "2000 was a leap year"
        );
        for bad in [
            "",
            "yesterday",
            "2020-13-01T00:00:00Z",
            "2020-10-15T05:30:47",
            "2020-10-15T05:30:47.Z",
            "1900-02-29T00:00:00Z",
        ]
        .into_iter()
        .chain(impossible)
        {
            assert!(Timestamp::parse_rfc3339(bad).is_none(), "{bad}");
        }
        assert!(Timestamp::from_unix_seconds(f64::NAN).is_none());
        assert!(Timestamp::from_unix_seconds(f64::INFINITY).is_none());
    }

    #[test]
    fn durations_as_people_type_them() {
        use std::time::Duration;
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("NaN").is_err());
    }

    #[test]
    fn plant_clocks_shift_by_their_offset() {
        let time = Timestamp(1_700_000_000_123_000);
        assert_eq!(
            UtcOffset(3600).format(time),
            "2023-11-14 23:13:20.123+01:00"
        );
        assert_eq!(
            UtcOffset(-5 * 3600 - 1800).format(time),
            "2023-11-14 16:43:20.123-05:30"
        );
        assert_eq!(UtcOffset(3600).time_of_day(time, 8), "23:13:20");
        assert_eq!(UtcOffset(0).time_of_day(Timestamp(0), 8), "");
    }

    #[test]
    fn display_round_trips() {
        let t = Timestamp::parse_rfc3339("2026-11-21T12:44:14.123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-21T12:44:14.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
    }
}
