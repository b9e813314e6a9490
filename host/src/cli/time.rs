//! Times on the command line: every time flag takes an RFC 3339 time (or a date, at
//! midnight UTC), a duration ago (`90s`, `15m`, `1h`, `7d`, `2w`, `1h30m`), `now`, or
//! epoch milliseconds; times print as RFC 3339 in UTC.

/// Milliseconds per unit of a relative duration.
const UNITS: &[(&str, i64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

/// What a time flag accepts, for `--help` and error messages.
pub const ACCEPTED: &str = "an RFC 3339 time (2026-11-29T08:00:00Z, 2026-11-29T09:00:00+01:00), \
     a date (2026-11-29, midnight UTC), a duration ago (1h, 7d, 1h30m), now, \
     or epoch milliseconds";

/// clap's parser for time flags: epoch milliseconds, read against the clock now.
pub fn parse_arg(text: &str) -> Result<i64, String> {
    parse(text, crate::now_ms())
}

/// `text` as epoch milliseconds; relative durations count back from `now_ms`.
pub fn parse(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a time: expected {ACCEPTED}");
    if text.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    if let Some(ago) = duration_ms(text) {
        return now_ms.checked_sub(ago).ok_or_else(bad);
    }
    rfc3339(text).map_err(|why| format!("{}: {why}", bad()))
}

/// An instant given by a caller (the admin API's `validFrom`): an RFC 3339 time or date,
/// or epoch milliseconds; nothing relative.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("`{text}` is too large for epoch milliseconds"));
    }
    rfc3339(text)
        .map_err(|why| format!("`{text}` is not an RFC 3339 time or epoch milliseconds: {why}"))
}

/// `1h30m` → 5,400,000; `None` unless the whole text is number–unit pairs.
fn duration_ms(text: &str) -> Option<i64> {
    let mut rest = text;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, after) = rest.split_at(digits);
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(letters);
        let &(_, per) = UNITS.iter().find(|(name, _)| *name == unit)?;
        let number: i64 = number.parse().ok()?;
        total = total.checked_add(number.checked_mul(per)?)?;
        rest = after;
    }
    Some(total)
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS[.fraction]](Z|±HH:MM)` as epoch ms.
fn rfc3339(text: &str) -> Result<i64, &'static str> {
    let bytes = text.as_bytes();
    let date = text.get(..10).ok_or("too short")?;
    let days = civil_days(date)?;
    if bytes.len() == 10 {
        return Ok(days * 86_400_000);
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return Err("expected T between date and time");
    }
    let rest = text.get(11..).ok_or("bad time")?;
    let offset_at = rest
        .find(['Z', 'z', '+', '-'])
        .ok_or("add Z or an offset such as +01:00 (times without one are ambiguous)")?;
    let (clock, zone) = rest.split_at(offset_at);
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let mut parts = hms.split(':');
    let hour = field(parts.next(), 0, 23)?;
    let minute = field(parts.next(), 0, 59)?;
    // 60: a leap second, which epoch time folds into the next one.
    let second = match parts.next() {
        Some(second) => field(Some(second), 0, 60)?,
        None => 0,
    };
    if parts.next().is_some() {
        return Err("bad time of day");
    }
    let millis = match fraction {
        None => 0,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{digits:0<3}");
            padded
                .get(..3)
                .and_then(|ms| ms.parse::<i64>().ok())
                .ok_or("bad fraction of a second")?
        }
        Some(_) => return Err("bad fraction of a second"),
    };
    let offset_minutes = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = zone
                .get(1..)
                .and_then(|hm| hm.split_once(':'))
                .ok_or("the offset must look like +01:00")?;
            sign * (field(Some(hours), 0, 23)? * 60 + field(Some(minutes), 0, 59)?)
        }
    };
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Ok(seconds * 1_000 + millis)
}

/// A two-digit field within `min..=max`.
fn field(text: Option<&str>, min: i64, max: i64) -> Result<i64, &'static str> {
    let text = text.ok_or("bad time of day")?;
    if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("hours, minutes and seconds take two digits");
    }
    let value: i64 = text.parse().map_err(|_| "bad number")?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err("a field is out of range")
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01 (proleptic Gregorian calendar).
fn civil_days(date: &str) -> Result<i64, &'static str> {
    let bytes = date.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return Err("the date must look like 2026-11-29");
    }
    let number = |range: std::ops::Range<usize>| -> Result<i64, &'static str> {
        let part = date.get(range).ok_or("bad date")?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the date must look like 2026-11-29");
        }
        part.parse().map_err(|_| "bad date")
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err("the month is out of range"),
    };
    if !(1..=month_days).contains(&day) {
        return Err("the day is out of range for its month");
    }
    // Days before the month in a year that starts in March (so February is last).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Ok(era * 146_097 + day_of_era - 719_468)
}

/// `ms` (epoch milliseconds) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // The inverse of `civil_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn times_are_utc_iso() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_622_700_718_964), "2021-06-03T06:11:58.964Z");
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(parse("1622700718964", NOW), Ok(1_622_700_718_964));
        assert_eq!(
            parse("2021-06-03T06:11:58.964Z", NOW),
            Ok(1_622_700_718_964)
        );
        assert_eq!(
            parse("2021-06-03t08:11:58.964+02:00", NOW),
            Ok(1_622_700_718_964)
        );
        assert_eq!(
            parse("2021-06-03 01:11:58.9641-05:00", NOW),
            Ok(1_622_700_718_964)
        );
        assert_eq!(parse("2021-06-03T06:11Z", NOW), Ok(1_622_700_660_000));
        assert_eq!(parse("2026-11-29", NOW), Ok(1_795_910_400_000));
        assert_eq!(parse("1970-01-01", NOW), Ok(0));
        assert_eq!(parse("1969-12-31", NOW), Ok(-86_400_000));
        assert_eq!(parse("2000-02-29", NOW), Ok(951_782_400_000));
        assert_eq!(parse("now", NOW), Ok(NOW));
        assert_eq!(parse("1h", NOW), Ok(NOW - 3_600_000));
        assert_eq!(parse("7d", NOW), Ok(NOW - 7 * 86_400_000));
        assert_eq!(parse("1h30m", NOW), Ok(NOW - 5_400_000));
        assert_eq!(parse("2w", NOW), Ok(NOW - 14 * 86_400_000));
        assert_eq!(parse("250ms", NOW), Ok(NOW - 250));
    }

    #[test]
    fn round_trips_through_format() {
        for ms in [0, 951_782_400_000, 1_622_700_718_964, 4_102_444_799_999, -1] {
            assert_eq!(parse(&format_time(ms), NOW), Ok(ms), "{ms}");
        }
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        for text in [
            "",
            "yesterday",
            "1y",
            "h",
            "2026-13-01",
            "2026-02-29",
            "2026-11-29T10:00",
            "2026-11-29T25:00Z",
            "2026-11-29T10:00:00.Z",
            "2026-11-29T10:00+1",
            "99999999999999999999",
        ] {
            let err = parse(text, NOW).err().unwrap_or_default();
            assert!(err.contains("expected an RFC 3339 time"), "{text}: {err}");
        }
        let err = parse("2026-11-29T10:00", NOW).err().unwrap_or_default();
        assert!(err.contains("add Z or an offset"), "{err}");
    }
}
