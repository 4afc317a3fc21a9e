//! Tests for `tz`. Expected offsets were computed with Python 3 `zoneinfo` over the IANA tz
//! database 2025b (`datetime.astimezone(ZoneInfo(zone)).utcoffset()`), i.e. the real zone files,
//! not our own rules.

use super::*;
use proptest::prelude::*;

fn tz(spec: &str) -> TimeZone {
    match TimeZone::parse(spec) {
        Ok(tz) => tz,
        Err(e) => panic!("{spec}: {e}"),
    }
}

#[test]
fn posix_strings_parse_with_east_positive_offsets() {
    assert_eq!(tz("JST-9").offset_at(0), 9 * 3600);
    assert_eq!(tz("<+07>-7").offset_at(0), 7 * 3600);
    assert_eq!(tz("<+0545>-5:45").offset_at(0), 5 * 3600 + 45 * 60);
    assert_eq!(tz("<-0930>9:30").offset_at(0), -(9 * 3600 + 30 * 60));
    assert_eq!(tz("UTC0").offset_at(0), 0);
    assert_eq!(tz(":JST-9").offset_at(0), 9 * 3600);
    assert_eq!(tz("JST-9").spec(), "JST-9");
    assert_eq!(tz("Asia/Tokyo").spec(), "Asia/Tokyo");
}

#[test]
fn offsets_switch_at_the_real_transition_instants() {
    let cases: &[(&str, i64, i32)] = &[
        ("Europe/Berlin", 1_711_846_799, 3600),
        ("Europe/Berlin", 1_711_846_800, 7200),
        ("Europe/Berlin", 1_729_990_799, 7200),
        ("Europe/Berlin", 1_729_990_800, 3600),
        ("CET-1CEST,M3.5.0,M10.5.0/3", 1_711_846_800, 7200),
        ("America/New_York", 1_710_053_999, -18000),
        ("America/New_York", 1_710_054_000, -14400),
        ("America/New_York", 1_730_613_599, -14400),
        ("America/New_York", 1_730_613_600, -18000),
        ("Australia/Sydney", 1_712_419_199, 39600),
        ("Australia/Sydney", 1_712_419_200, 36000),
        ("Australia/Sydney", 1_728_143_999, 36000),
        ("AEST-10AEDT,M10.1.0,M4.1.0/3", 1_728_144_000, 39600),
        ("Europe/Dublin", 1_705_320_000, 0),
        ("Europe/Dublin", 1_721_044_800, 3600),
        ("America/Santiago", 1_725_767_999, -14400),
        ("America/Santiago", 1_725_768_000, -10800),
        ("America/Santiago", 1_743_908_399, -10800),
        ("America/Santiago", 1_743_908_400, -14400),
        ("Pacific/Chatham", 1_735_689_600, 49500),
        ("Australia/Lord_Howe", 1_735_689_600, 39600),
        ("Australia/Lord_Howe", 1_751_328_000, 37800),
        ("America/Nuuk", 1_743_296_399, -7200),
        ("America/Nuuk", 1_743_296_400, -3600),
        ("America/Havana", 1_710_046_799, -18000),
        ("America/Havana", 1_710_046_800, -14400),
        ("Asia/Jerusalem", 1_743_119_999, 7200),
        ("Asia/Jerusalem", 1_743_120_000, 10800),
    ];
    for &(zone, t, want) in cases {
        assert_eq!(tz(zone).offset_at(t), want, "{zone} at {t}");
    }
}

#[test]
fn dst_without_rules_uses_us_rules_and_one_hour() {
    let z = tz("EST5EDT");
    assert_eq!(z.offset_at(1_710_053_999), -18000);
    assert_eq!(z.offset_at(1_710_054_000), -14400);
}

#[test]
fn julian_rule_forms_skip_or_count_february_29() {
    // J60 is 1 March in every year; 59 (zero-based) is 29 February in a leap year.
    let j = tz("AAA0BBB,J60/0,J300/0");
    let z = tz("AAA0BBB,59/0,300/0");
    let mar1_2024 = Date {
        year: 2024,
        month: 3,
        day: 1,
    }
    .to_days()
        * SECS_PER_DAY;
    assert_eq!(j.offset_at(mar1_2024 - 1), 0);
    assert_eq!(j.offset_at(mar1_2024), 3600);
    assert_eq!(z.offset_at(mar1_2024 - SECS_PER_DAY - 1), 0);
    assert_eq!(z.offset_at(mar1_2024 - SECS_PER_DAY), 3600);
}

#[test]
fn bad_zone_strings_name_the_input() {
    for bad in [
        "",
        "Asia/Nowhere",
        "JST",
        "JS-9",
        "CET-1CEST,M3.5.0",
        "CET-1CEST,M13.1.0,M10.5.0",
        "AAA0BBB,J0,J5",
        "JST-9JDT,M3.2.0,M11.1.0x",
        "<+07-7",
        "CET-1CEST,M3.5.0/200,M10.5.0",
        "JST-99",
    ] {
        match TimeZone::parse(bad) {
            Ok(z) => panic!("{bad:?} parsed as {z:?}"),
            Err(e) => assert!(e.to_string().contains(&format!("{bad:?}")), "{e}"),
        }
    }
}

#[test]
fn local_midnight_in_a_spring_gap_is_the_jump_instant() {
    // Santiago skips 2024-09-08 00:00-01:00 local; midnight maps to 04:00Z (01:00 local).
    let z = tz("America/Santiago");
    let d = Date {
        year: 2024,
        month: 9,
        day: 8,
    };
    assert_eq!(z.midnight(d), 1_725_768_000);
    // Havana skips 00:00-01:00 on 2024-03-10.
    let h = tz("America/Havana");
    assert_eq!(
        h.midnight(Date {
            year: 2024,
            month: 3,
            day: 10
        }),
        1_710_046_800
    );
    // Berlin 02:30 on 2024-03-31 does not exist: the jump is at 01:00Z.
    let b = tz("Europe/Berlin");
    let local = Date {
        year: 2024,
        month: 3,
        day: 31,
    }
    .to_days()
        * SECS_PER_DAY
        + 9000;
    assert_eq!(b.local_to_utc(local), 1_711_846_800);
}

#[test]
fn ambiguous_local_time_takes_the_earlier_instant() {
    // Berlin 02:30 on 2024-10-27 happens twice: 00:30Z (CEST) and 01:30Z (CET).
    let b = tz("Europe/Berlin");
    let local = Date {
        year: 2024,
        month: 10,
        day: 27,
    }
    .to_days()
        * SECS_PER_DAY
        + 9000;
    assert_eq!(b.local_to_utc(local), 1_729_989_000);
}

#[test]
fn zones_round_trip_through_serde_as_their_spec() {
    let z = tz("Asia/Tokyo");
    let json = serde_json::to_string(&z).unwrap_or_default();
    assert_eq!(json, "\"Asia/Tokyo\"");
    let back: Result<TimeZone, _> = serde_json::from_str(&json);
    assert_eq!(back.ok(), Some(z));
    assert!(serde_json::from_str::<TimeZone>("\"Mars/Olympus\"").is_err());
}

const ZONES: &[&str] = &[
    "UTC",
    "Asia/Tokyo",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Europe/Dublin",
    "America/Santiago",
    "Australia/Lord_Howe",
    "America/Nuuk",
    "Pacific/Chatham",
    "America/Havana",
    "Asia/Jerusalem",
    "Africa/Cairo",
];

proptest! {
    #[test]
    fn arbitrary_tz_strings_never_panic(s in "\\PC{0,40}") {
        let _ = TimeZone::parse(&s);
    }

    #[test]
    fn arbitrary_posix_like_strings_never_panic(s in "[A-Z<>+0-9-]{3,6}[0-9:+-]{1,6}([A-Z]{3}[0-9:-]{0,4})?(,[JM]?[0-9.]{1,8}(/[0-9:-]{1,8})?){0,3}") {
        if let Ok(z) = TimeZone::parse(&s) {
            let _ = z.local_to_utc(z.to_local(1_700_000_000));
        }
    }

    #[test]
    fn local_to_utc_inverts_to_local(zi in 0..ZONES.len(), t in -2_000_000_000i64..4_000_000_000) {
        let z = tz(ZONES[zi]);
        let local = z.to_local(t);
        let back = z.local_to_utc(local);
        prop_assert_eq!(z.to_local(back), local);
        prop_assert!(back <= t, "earlier instant chosen for ambiguous times");
    }

    #[test]
    fn midnight_is_the_first_instant_of_the_local_day(zi in 0..ZONES.len(), t in 0i64..4_000_000_000) {
        let z = tz(ZONES[zi]);
        let date = z.local_date(t);
        let m = z.midnight(date);
        prop_assert!(m <= t);
        prop_assert_eq!(z.local_date(m), date);
        // One second earlier is the previous local day.
        prop_assert!(z.local_date(m - 1) < date);
    }
}
