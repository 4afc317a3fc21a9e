//! Proleptic Gregorian calendar arithmetic on plain integers: days since 1970-01-01 ⇄ (year,
//! month, day), weekdays, month lengths.
//!
//! Must not: know about time zones (see `tz`), allocate, or panic. Inputs outside ±1,000,000 years
//! are clamped by callers; every function here is total for any `i64` day count in that range.
//!
//! The day-count conversion follows the "era of 400 years" method described by Howard Hinnant,
//! "chrono-Compatible Low-Level Date Algorithms" (howardhinnant.github.io/date_algorithms.html):
//! shifting the year to start on 1 March puts the leap day last, so month lengths need no table.

/// Seconds in a civil day (POSIX time ignores leap seconds).
pub const SECS_PER_DAY: i64 = 86_400;

/// Years beyond this are clamped; no SIM plan lives that long.
pub const MAX_YEAR: i64 = 1_000_000_000;

/// A calendar date. `month` is 1..=12, `day` is 1..=31 (valid for the month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// A date if `month`/`day` are valid for `year`, otherwise `None`.
    pub fn new(year: i64, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn to_days(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        let (year, month, day) = civil_from_days(days);
        Date { year, month, day }
    }

    /// This date moved by `n` days (either direction).
    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.to_days().saturating_add(n))
    }

    /// 0 = Sunday … 6 = Saturday (the POSIX TZ `Mm.w.d` convention).
    pub fn weekday(self) -> u32 {
        weekday_from_days(self.to_days())
    }
}

pub fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Length of `month` (1..=12) in `year`; 0 for an invalid month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date. `month` outside 1..=12 is clamped (callers validate).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Clamping keeps the products below far from i64 overflow (overflow checks are on).
    let year = year.clamp(-MAX_YEAR, MAX_YEAR);
    let month = i64::from(month.clamp(1, 12));
    let day = i64::from(day);
    // Years start on 1 March: January and February belong to the previous year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = (month + 9) % 12; // March = 0 … February = 11
    let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Unix seconds as ISO 8601 UTC, `2026-11-27T09:00:00Z`, for people and CSV files.
pub fn utc_string(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The inverse of [`utc_string`]: `2026-11-27T09:00:00Z` → unix seconds. Only that exact shape
/// (what this program writes); anything else is `None`.
pub fn parse_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || [b[4], b[7], b[10], b[13], b[16], b[19]] != *b"--T::Z" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mo = u32::try_from(mo).ok()?;
    let d = u32::try_from(d).ok()?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // The ranges above are exact, so these conversions cannot fail; fall back to 1 defensively.
    let month = u32::try_from(month).unwrap_or(1);
    let day = u32::try_from(day).unwrap_or(1);
    (year, month, day)
}

/// Weekday of a day count, 0 = Sunday. 1970-01-01 was a Thursday (4).
pub fn weekday_from_days(days: i64) -> u32 {
    u32::try_from((days + 4).rem_euclid(7)).unwrap_or(0)
}

/// Splits unix seconds into (days since epoch, seconds into the day).
pub fn split_secs(secs: i64) -> (i64, i64) {
    (secs.div_euclid(SECS_PER_DAY), secs.rem_euclid(SECS_PER_DAY))
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_strings_parse_back_and_bad_ones_do_not() {
        assert_eq!(parse_utc("2026-12-01T10:00:00Z"), Some(1_796_119_200));
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-12-01 10:00:00Z",
            "2026-12-01T10:00:00",
            "+026-12-01T10:00:00Z",
            "2026-12-01T24:00:00Z",
            "",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn utc_string_round_trips(t in 0i64..253_402_300_799) {
            prop_assert_eq!(parse_utc(&utc_string(t)), Some(t));
        }
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates_convert_both_ways() {
        // Reference values: `date -u -d @<secs>` on GNU coreutils.
        let cases = [
            (1970, 1, 1, 0),
            (2000, 2, 29, 11_016),
            (2000, 3, 1, 11_017),
            (1969, 12, 31, -1),
            (2024, 2, 29, 19_782),
            (2100, 3, 1, 47_541),
            (1900, 3, 1, -25_508),
        ];
        for (y, m, d, days) in cases {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(days), (y, m, d), "{days}");
        }
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap(2000) && is_leap(2024) && is_leap(1600));
        assert!(!is_leap(1900) && !is_leap(2100) && !is_leap(2023));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2023, 13), 0);
    }

    #[test]
    fn weekdays_match_known_calendar_days() {
        assert_eq!(Date::new(1970, 1, 1).map(Date::weekday), Some(4)); // Thursday
        assert_eq!(Date::new(2024, 3, 31).map(Date::weekday), Some(0)); // Sunday (EU DST start)
        assert_eq!(Date::new(2026, 11, 27).map(Date::weekday), Some(5)); // Friday
    }

    #[test]
    fn invalid_dates_are_refused() {
        assert_eq!(Date::new(2023, 2, 29), None);
        assert_eq!(Date::new(2023, 4, 31), None);
        assert_eq!(Date::new(2023, 0, 1), None);
        assert!(Date::new(2024, 2, 29).is_some());
    }

    proptest! {
        #[test]
        fn day_counts_round_trip(days in -200_000_000i64..200_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!(Date::new(y, m, d).is_some());
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn consecutive_days_are_consecutive_dates(days in -1_000_000i64..1_000_000) {
            let a = Date::from_days(days);
            let b = Date::from_days(days + 1);
            let next = if a.day < days_in_month(a.year, a.month) {
                Date { day: a.day + 1, ..a }
            } else if a.month < 12 {
                Date { month: a.month + 1, day: 1, ..a }
            } else {
                Date { year: a.year + 1, month: 1, day: 1 }
            };
            prop_assert_eq!(b, next);
            prop_assert_eq!((a.weekday() + 1) % 7, b.weekday());
        }
    }
}
