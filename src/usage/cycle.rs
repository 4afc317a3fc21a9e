//! Billing cycles in the carrier's time zone: monthly on a reset day, daily, and fixed packs of
//! N days from an activation time.
//!
//! Must not: read the clock (the caller passes `now` in unix seconds), or use the router's zone.
//!
//! Boundaries of monthly and daily cycles are local midnight in the carrier's zone. A reset day
//! past the end of a month (31 in April, 29–31 in February) resets on that month's last day,
//! which is what carriers with a "billing day 31" do (issue 5). When midnight does not exist
//! because clocks jump forward at 00:00 (Chile, Cuba, Lebanon), the cycle starts at the jump.

use super::civil::{Date, SECS_PER_DAY};
use super::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// How a SIM's allowance renews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Cycle {
    /// Renews at local midnight starting day `reset_day` (1..=31) of every month.
    Monthly { reset_day: u8 },
    /// Renews at every local midnight.
    Daily,
    /// Consecutive periods of `days` local days starting at `activated` (unix seconds), each
    /// starting at the activation's wall-clock time. A one-off pack is simply the first period;
    /// prepaid plans that renew "every 30 days" are the following ones.
    Fixed { days: u32, activated: i64 },
}

/// The start (inclusive) and end (exclusive) of the cycle containing `now`, in unix seconds.
/// For a fixed pack not yet activated at `now`, the first period (so `now < start`).
pub fn cycle_bounds(cycle: &Cycle, tz: &TimeZone, now: i64) -> (i64, i64) {
    let now = now.clamp(-MAX_ABS_TIME, MAX_ABS_TIME);
    match *cycle {
        Cycle::Monthly { reset_day } => monthly(reset_day, tz, now),
        Cycle::Daily => {
            let today = tz.local_date(now);
            (tz.midnight(today), tz.midnight(today.add_days(1)))
        }
        Cycle::Fixed { days, activated } => {
            fixed(days, activated.clamp(-MAX_ABS_TIME, MAX_ABS_TIME), tz, now)
        }
    }
}

/// Times beyond ±2^50 s (35 million years) are clamped so no arithmetic below can overflow.
const MAX_ABS_TIME: i64 = 1 << 50;

/// The day of `year`/`month` a cycle with `reset_day` starts on.
pub fn reset_date(reset_day: u8, year: i64, month: u32) -> Date {
    let len = super::civil::days_in_month(year, month).max(1);
    let day = u32::from(reset_day).clamp(1, len);
    Date { year, month, day }
}

fn monthly(reset_day: u8, tz: &TimeZone, now: i64) -> (i64, i64) {
    let today = tz.local_date(now);
    let (y, m) = (today.year, today.month);
    let (prev_y, prev_m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let (next_y, next_m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let this = reset_date(reset_day, y, m);
    let (start, end) = if today >= this {
        (this, reset_date(reset_day, next_y, next_m))
    } else {
        (reset_date(reset_day, prev_y, prev_m), this)
    };
    (tz.midnight(start), tz.midnight(end))
}

fn fixed(days: u32, activated: i64, tz: &TimeZone, now: i64) -> (i64, i64) {
    let n = i64::from(days.max(1));
    let (day0, secs0) = split(tz.to_local(activated));
    // Start of period k: the activation's wall-clock time, k × n local days later.
    let boundary = |k: i64| -> i64 {
        if k == 0 {
            activated
        } else {
            let day = day0.saturating_add(k.saturating_mul(n));
            tz.local_to_utc(day.saturating_mul(SECS_PER_DAY).saturating_add(secs0))
        }
    };
    if now < activated {
        return (activated, boundary(1));
    }
    let (today, _) = split(tz.to_local(now));
    let mut k = (today - day0).div_euclid(n).max(0);
    // The estimate can be one period off around the activation's time of day; fix it exactly.
    // Bounded loops: a zone's offset moves a boundary by hours, never by a whole period.
    for _ in 0..3 {
        if k > 0 && boundary(k) > now {
            k -= 1;
        }
    }
    for _ in 0..3 {
        if boundary(k + 1) <= now {
            k += 1;
        }
    }
    (boundary(k), boundary(k + 1))
}

fn split(local: i64) -> (i64, i64) {
    (
        local.div_euclid(SECS_PER_DAY),
        local.rem_euclid(SECS_PER_DAY),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tz(s: &str) -> TimeZone {
        TimeZone::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Unix seconds of a local wall-clock time in `zone`, computed by brute force: the first
    /// minute whose local reading is at or past the wanted one.
    fn brute_local(zone: &TimeZone, date: Date, secs: i64) -> i64 {
        let want = date.to_days() * SECS_PER_DAY + secs;
        let mut t = want - 16 * 3600;
        while zone.to_local(t) < want {
            t += 60;
        }
        // The minute steps keep `want`'s seconds; inside a DST gap the first instant at or past
        // `want` is the jump itself, which can lie up to 59 s earlier.
        while zone.to_local(t - 1) >= want {
            t -= 1;
        }
        t
    }

    fn d(year: i64, month: u32, day: u32) -> Date {
        Date::new(year, month, day).unwrap_or_else(|| panic!("bad date {year}-{month}-{day}"))
    }

    #[test]
    fn reset_day_31_falls_on_the_last_day_of_short_months() {
        assert_eq!(reset_date(31, 2024, 4), d(2024, 4, 30));
        assert_eq!(reset_date(31, 2023, 2), d(2023, 2, 28));
        assert_eq!(reset_date(31, 2024, 2), d(2024, 2, 29));
        assert_eq!(reset_date(30, 2100, 2), d(2100, 2, 28));
        assert_eq!(reset_date(29, 2000, 2), d(2000, 2, 29));
        assert_eq!(reset_date(31, 2024, 5), d(2024, 5, 31));
        assert_eq!(reset_date(0, 2024, 5), d(2024, 5, 1));
    }

    #[test]
    fn monthly_cycle_in_tokyo_starts_at_jst_midnight_not_utc() {
        let tokyo = tz("Asia/Tokyo");
        let plan = Cycle::Monthly { reset_day: 1 };
        // 2024-02-29T15:30:00Z is 2024-03-01 00:30 JST: already the March cycle.
        let (s, e) = cycle_bounds(&plan, &tokyo, 1_709_220_600);
        assert_eq!(s, 1_709_218_800); // 2024-02-29T15:00:00Z = 03-01 00:00 JST
        assert_eq!(e, 1_711_897_200); // 2024-03-31T15:00:00Z = 04-01 00:00 JST
                                      // One second before JST midnight is still February's cycle.
        let (s, e) = cycle_bounds(&plan, &tokyo, 1_709_218_799);
        assert_eq!(e, 1_709_218_800);
        assert_eq!(s, 1_706_713_200); // 2024-01-31T15:00:00Z
    }

    #[test]
    fn monthly_cycle_on_day_31_spans_february_of_a_leap_year() {
        let utc = TimeZone::utc();
        let plan = Cycle::Monthly { reset_day: 31 };
        let mid = |y, m, dd| d(y, m, dd).to_days() * SECS_PER_DAY;
        // 2024-02-15: cycle 2024-01-31 → 2024-02-29.
        assert_eq!(
            cycle_bounds(&plan, &utc, mid(2024, 2, 15)),
            (mid(2024, 1, 31), mid(2024, 2, 29))
        );
        // 2024-03-01: cycle 2024-02-29 → 2024-03-31.
        assert_eq!(
            cycle_bounds(&plan, &utc, mid(2024, 3, 1)),
            (mid(2024, 2, 29), mid(2024, 3, 31))
        );
        // 2023-03-01: cycle 2023-02-28 → 2023-03-31.
        assert_eq!(
            cycle_bounds(&plan, &utc, mid(2023, 3, 1)),
            (mid(2023, 2, 28), mid(2023, 3, 31))
        );
        // 2023-12-31 itself starts a cycle ending 2024-01-31.
        assert_eq!(
            cycle_bounds(&plan, &utc, mid(2023, 12, 31)),
            (mid(2023, 12, 31), mid(2024, 1, 31))
        );
    }

    #[test]
    fn daily_cycle_is_23_hours_on_the_day_clocks_go_forward() {
        let berlin = tz("Europe/Berlin");
        // 2024-03-31 12:00 CEST = 10:00Z.
        let (s, e) = cycle_bounds(&Cycle::Daily, &berlin, 1_711_879_200);
        assert_eq!(s, 1_711_839_600); // 2024-03-30T23:00:00Z
        assert_eq!(e - s, 23 * 3600);
    }

    #[test]
    fn fixed_pack_runs_n_local_days_from_activation_and_repeats() {
        let tokyo = tz("Asia/Tokyo");
        let act = 1_717_200_000; // 2024-06-01T00:00:00Z = 09:00 JST
        let pack = Cycle::Fixed {
            days: 30,
            activated: act,
        };
        assert_eq!(
            cycle_bounds(&pack, &tokyo, act),
            (act, act + 30 * SECS_PER_DAY)
        );
        assert_eq!(
            cycle_bounds(&pack, &tokyo, act + 30 * SECS_PER_DAY - 1),
            (act, act + 30 * SECS_PER_DAY)
        );
        let second = (act + 30 * SECS_PER_DAY, act + 60 * SECS_PER_DAY);
        assert_eq!(cycle_bounds(&pack, &tokyo, act + 30 * SECS_PER_DAY), second);
        // Before activation: the first period, which has not started.
        assert_eq!(
            cycle_bounds(&pack, &tokyo, act - 10),
            (act, act + 30 * SECS_PER_DAY)
        );
    }

    #[test]
    fn fixed_pack_keeps_wall_clock_time_across_dst() {
        let ny = tz("America/New_York");
        let act = 1_709_913_600; // 2024-03-08T16:00:00Z = 11:00 EST
        let (_, end) = cycle_bounds(
            &Cycle::Fixed {
                days: 7,
                activated: act,
            },
            &ny,
            act,
        );
        assert_eq!(end, act + 7 * SECS_PER_DAY - 3600); // 2024-03-15 11:00 EDT
    }

    const ZONES: &[&str] = &[
        "UTC",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Europe/London",
        "Europe/Berlin",
        "America/New_York",
        "America/Los_Angeles",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/Santiago",
        "America/Havana",
        "Asia/Beirut",
        "Pacific/Kiritimati",
        "Etc/GMT+12",
    ];

    proptest! {
        #[test]
        fn monthly_bounds_match_a_day_by_day_walk(
            zi in 0..ZONES.len(), reset_day in 1u8..=31, now in 0i64..4_200_000_000,
        ) {
            let zone = tz(ZONES[zi]);
            let (s, e) = cycle_bounds(&Cycle::Monthly { reset_day }, &zone, now);
            let is_reset = |x: Date| x.day == u32::from(reset_day).min(super::super::civil::days_in_month(x.year, x.month));
            let today = zone.local_date(now);
            let mut start = today;
            while !is_reset(start) { start = start.add_days(-1); }
            let mut end = today.add_days(1);
            while !is_reset(end) { end = end.add_days(1); }
            prop_assert_eq!(s, brute_local(&zone, start, 0));
            prop_assert_eq!(e, brute_local(&zone, end, 0));
            prop_assert!(s <= now && now < e);
        }

        #[test]
        fn daily_bounds_match_brute_force(zi in 0..ZONES.len(), now in 0i64..4_200_000_000) {
            let zone = tz(ZONES[zi]);
            let (s, e) = cycle_bounds(&Cycle::Daily, &zone, now);
            let today = zone.local_date(now);
            prop_assert_eq!(s, brute_local(&zone, today, 0));
            prop_assert_eq!(e, brute_local(&zone, today.add_days(1), 0));
            prop_assert!(s <= now && now < e);
        }

        #[test]
        fn fixed_bounds_match_walking_period_by_period(
            zi in 0..ZONES.len(), days in 1u32..400, act in 0i64..3_000_000_000, ahead in 0i64..200_000_000,
        ) {
            let zone = tz(ZONES[zi]);
            let now = act + ahead;
            let (s, e) = cycle_bounds(&Cycle::Fixed { days, activated: act }, &zone, now);
            let (d0, s0) = split(zone.to_local(act));
            let local = |k: i64| (Date::from_days(d0 + k * i64::from(days)), s0);
            let fast = |k: i64| if k == 0 { act } else { let (dd, ss) = local(k); zone.local_to_utc(dd.to_days() * SECS_PER_DAY + ss) };
            let mut k = 0i64;
            while fast(k + 1) <= now { k += 1; }
            let brute = |k: i64| if k == 0 { act } else { let (dd, ss) = local(k); brute_local(&zone, dd, ss) };
            prop_assert_eq!((s, e), (brute(k), brute(k + 1)));
            prop_assert!(s <= now && now < e);
        }

        #[test]
        fn any_cycle_input_never_panics(
            reset_day in any::<u8>(), days in any::<u32>(), act in any::<i64>(), now in any::<i64>(),
        ) {
            let zone = tz("Europe/Berlin");
            let _ = cycle_bounds(&Cycle::Monthly { reset_day }, &zone, now);
            let _ = cycle_bounds(&Cycle::Daily, &zone, now);
            let _ = cycle_bounds(&Cycle::Fixed { days, activated: act }, &zone, now);
        }
    }
}
