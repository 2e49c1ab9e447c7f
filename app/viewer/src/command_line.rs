//! Values given on the command line, checked where they are parsed: each either becomes a
//! value the viewer can use (finite, in range) or a message saying what was expected.

use std::sync::Arc;

use twinscope_core::time_zone::TimeZone;

/// `+01:00`, `-05:30`, `Z` → seconds east of UTC.
pub fn parse_utc_offset(text: &str) -> Result<i64, String> {
    if text == "Z" || text == "UTC" {
        return Ok(0);
    }
    let sign = match text.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(format!("{text:?} is not an offset like +01:00")),
    };
    let (h, m) = text[1..].split_once(':').unwrap_or((&text[1..], "0"));
    // Digits only: `parse` would take a second sign (`+-3`).
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return Err(format!("{text:?} is not an offset like +01:00"));
    }
    match (h.parse::<i64>(), m.parse::<i64>()) {
        (Ok(h), Ok(m)) if h <= 14 && m < 60 => Ok(sign * (h * 3600 + m * 60)),
        _ => Err(format!("{text:?} is not an offset like +01:00")),
    }
}

/// DVR minutes: 0 (off) to a day.
pub fn parse_dvr_minutes(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|m| (0.0..=1440.0).contains(m))
        .ok_or_else(|| format!("{text:?} is not a number of minutes from 0 to 1440"))
}

/// Messages per twin per second: more than none, at most 1,000 (a finite period).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|r| *r > 0.0 && *r <= 1000.0)
        .ok_or_else(|| format!("{text:?} is not a rate from above 0 to 1000 messages per second"))
}

/// A snap turn between 5° and 180°.
pub fn parse_snap_turn(text: &str) -> Result<f32, String> {
    text.trim_end_matches('°')
        .parse::<f32>()
        .ok()
        .filter(|d| (5.0..=180.0).contains(d))
        .ok_or_else(|| format!("{text:?} is not an angle from 5 to 180 degrees"))
}

pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once('x')
        .ok_or_else(|| format!("{text:?} is not WIDTHxHEIGHT"))?;
    let parse = |s: &str| s.parse::<u32>().ok().filter(|v| (64..=16384).contains(v));
    Ok((parse(w).ok_or("bad width")?, parse(h).ok_or("bad height")?))
}

/// A time zone by name (`Europe/Berlin`), from the system's tz database.
pub fn parse_time_zone(text: &str) -> Result<Arc<TimeZone>, String> {
    TimeZone::named(text).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_values_are_checked_and_never_panic() {
        assert_eq!(parse_utc_offset("+01:00"), Ok(3600));
        assert_eq!(parse_utc_offset("-05:30"), Ok(-(5 * 3600 + 30 * 60)));
        assert_eq!(parse_utc_offset("Z"), Ok(0));
        for bad in [
            "+-3",
            "+5:-3",
            "+15:00",
            "+1:60",
            "+",
            "01:00",
            "+1:",
            "+١:00",
            "+01:00:00",
        ] {
            assert!(parse_utc_offset(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_dvr_minutes("5"), Ok(5.0));
        for bad in ["inf", "NaN", "-1", "1441", "1e9"] {
            assert!(parse_dvr_minutes(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_rate("2"), Ok(2.0));
        for bad in ["inf", "0", "-2", "NaN", "1e6"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_size("1280x720"), Ok((1280, 720)));
        assert!(
            parse_size("0x720").is_err()
                && parse_size("99999x1").is_err()
                && parse_size("x").is_err()
        );
        assert!(parse_snap_turn("45°").is_ok() && parse_snap_turn("inf").is_err());
        for bad in ["", "../../etc/passwd", "Mars/Olympus_Mons"] {
            assert!(parse_time_zone(bad).is_err(), "{bad:?} accepted");
        }
        // Random text in every parser: an answer, never a panic.
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let alphabet: Vec<char> = "+-:x.0123456789eEinfNaZU° \u{0}é١".chars().collect();
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let text: String = (0..seed % 9)
                .map(|i| alphabet[((seed >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            let _ = (
                parse_utc_offset(&text),
                parse_dvr_minutes(&text),
                parse_rate(&text),
                parse_size(&text),
                parse_snap_turn(&text),
                twinscope_core::time::parse_duration(&text),
                parse_time_zone(&text),
            );
        }
    }
}
