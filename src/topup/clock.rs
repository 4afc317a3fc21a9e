//! Can the wall clock be trusted for decisions that depend on the date (which billing cycle we
//! are in, and so the per-cycle caps)?
//!
//! A router without a battery-backed clock boots at its firmware's build date (or 1970) and only
//! learns the time once NTP syncs. We trust the clock when the kernel says it is synchronised
//! (`adjtimex` does not return `TIME_ERROR`: busybox ntpd and chrony clear the flag once synced),
//! when it agrees within 5 minutes with the network time (NITZ) the modem got from the carrier,
//! or when the owner says so (`topup.trust_clock = true`).
//!
//! The reply parsers are pure and accept these shapes:
//! - `+CCLK: "26/09/11,14:22:23+32"` — TS 27.007 §8.15: `yy/MM/dd,hh:mm:ss±zz`, local time, `zz`
//!   in quarter hours; the zone may be missing.
//! - `+QLTS: "2026/09/11,14:22:25+32,0"` — Quectel `AT+QLTS=1`: the current UTC date and time,
//!   the zone in quarter hours, and a daylight-saving flag.
//!
//! Must not: read the clock or the modem itself (callers pass readings in), or accept a modem's
//! never-set default (`"80/01/06,00:00:00+00"`, year 2000, 2004, 1970) as real time.

/// How far the wall clock may be from the modem's network time and still be trusted.
pub const NITZ_TOLERANCE_SECS: i64 = 300;

/// Years before this are a modem's or router's never-set default, not network time.
const MIN_YEAR: i64 = 2020;
const MAX_YEAR: i64 = 2099;

/// Whether date-dependent decisions may be taken, and why (or why not), in words for the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockStatus {
    pub trusted: bool,
    pub reason: String,
}

/// True when the kernel reports its clock synchronised (NTP has disciplined it).
///
/// `adjtimex` with `modes = 0` only reads; it returns the clock state, `TIME_ERROR` (5) while
/// `STA_UNSYNC` is set. Containers and sandboxes often report unsynchronised even when the host
/// is synced: that is what `topup.trust_clock` is for.
#[cfg(target_os = "linux")]
pub fn kernel_synced() -> bool {
    // SAFETY: `timex` is plain data for which all-zero is a valid value; with `modes = 0` the
    // call only fills the struct in, and the pointer is valid for the duration of the call.
    let state = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        tx.modes = 0;
        libc::adjtimex(&mut tx)
    };
    state >= 0 && state != libc::TIME_ERROR
}

/// Other systems: no evidence, so not synchronised (the owner can still set `trust_clock`).
#[cfg(not(target_os = "linux"))]
pub fn kernel_synced() -> bool {
    false
}

/// Decides whether the wall clock (`now_unix`) can be trusted.
pub fn evaluate(
    kernel_synced: bool,
    nitz_unix: Option<i64>,
    now_unix: i64,
    trust_clock_cfg: bool,
) -> ClockStatus {
    if trust_clock_cfg {
        return ClockStatus {
            trusted: true,
            reason: "the owner trusts the wall clock (topup.trust_clock = true)".into(),
        };
    }
    if kernel_synced {
        return ClockStatus {
            trusted: true,
            reason: "the kernel clock is synchronised (NTP)".into(),
        };
    }
    match nitz_unix {
        None => ClockStatus {
            trusted: false,
            reason: "kernel clock not synchronised and no network time from the modem".into(),
        },
        Some(nitz) => {
            let diff = now_unix.saturating_sub(nitz).saturating_abs();
            if diff <= NITZ_TOLERANCE_SECS {
                ClockStatus {
                    trusted: true,
                    reason: format!(
                        "the wall clock agrees with the modem's network time (off by {diff}s)"
                    ),
                }
            } else {
                let side = if now_unix > nitz {
                    "ahead of"
                } else {
                    "behind"
                };
                ClockStatus {
                    trusted: false,
                    reason: format!(
                        "kernel clock not synchronised and the wall clock is {} {side} the modem's network time",
                        human_secs(diff)
                    ),
                }
            }
        }
    }
}

/// `+CCLK: "yy/MM/dd,hh:mm:ss±zz"` (local time) → Unix seconds UTC. `None` for anything else,
/// including a never-set default year.
///
/// Some Quectel EC25 firmware keeps UTC in `+CCLK` and appends the zone anyway; read that way
/// the result is off by the zone and [`evaluate`] will not trust it. Prefer [`parse_qlts`] on
/// Quectel modems.
pub fn parse_cclk(line: &str) -> Option<i64> {
    let body = strip_prefix_and_quotes(line, "+CCLK:")?;
    let (local, zone_q) = parse_stamp(body, false)?;
    // Local = UTC + zone, so UTC = local − zone.
    local.checked_sub(i64::from(zone_q.unwrap_or(0)) * 900)
}

/// Quectel `+QLTS: "yyyy/MM/dd,hh:mm:ss±zz,dst"` as answered to `AT+QLTS=1` (current time, UTC)
/// → Unix seconds UTC. The zone and the daylight-saving flag describe the local zone and do not
/// change the instant. `None` for anything else, including a never-set default year.
pub fn parse_qlts(line: &str) -> Option<i64> {
    let body = strip_prefix_and_quotes(line, "+QLTS:")?;
    // `date,time±zz,dst`: drop the DST flag (inside the quotes on most firmware).
    let stamp = match body.rsplit_once(',') {
        Some((stamp, dst)) if dst.len() == 1 && dst.bytes().all(|b| b.is_ascii_digit()) => stamp,
        _ => body,
    };
    let (utc, _zone) = parse_stamp(stamp, true)?;
    Some(utc)
}

/// `+CCLK: "…"` → `…`. Quotes are optional; text after the closing quote (a DST flag that some
/// firmware puts outside the quotes) is dropped.
fn strip_prefix_and_quotes<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = line.trim().strip_prefix(prefix)?.trim_start();
    // A real reply is about 30 characters; anything much longer is not one.
    if rest.len() > 64 {
        return None;
    }
    match rest.strip_prefix('"') {
        Some(inner) => inner.split_once('"').map(|(quoted, _after)| quoted),
        None => Some(rest),
    }
}

/// `yy/MM/dd,hh:mm:ss[±zz]` or `yyyy/MM/dd,hh:mm:ss[±zz]` → (seconds as if UTC, zone in quarter hours).
fn parse_stamp(s: &str, four_digit_year: bool) -> Option<(i64, Option<i32>)> {
    let (date, time) = s.split_once(',')?;
    let mut d = date.split('/');
    let (y, mo, da) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() {
        return None;
    }
    let year = if four_digit_year {
        if y.len() != 4 {
            return None;
        }
        num(y)?
    } else {
        if y.len() != 2 {
            return None;
        }
        // Two-digit years: "80/01/06" is a modem's 1980 default, not 2080.
        let yy = num(y)?;
        if yy >= 70 {
            1900 + yy
        } else {
            2000 + yy
        }
    };
    let (clock, zone) = match time.find(['+', '-']) {
        Some(i) => {
            let (c, z) = time.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let q = num(z.get(1..)?)?;
            if q > 60 {
                return None;
            }
            (c, Some(sign * i32::try_from(q).ok()?))
        }
        None => (time, None),
    };
    let mut t = clock.split(':');
    let (h, mi, se) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some() || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return None;
    }
    let month = u32::try_from(num(mo)?).ok()?;
    let day = u32::try_from(num(da)?).ok()?;
    let date = crate::usage::civil::Date::new(year, month, day)?;
    let secs = date.to_days() * 86_400 + h * 3600 + mi * 60 + se;
    Some((secs, zone))
}

/// 1 to 4 ASCII digits.
fn num(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `3h 2m`, `42m`, `17s`, `2d 3h`: a duration as an owner reads it.
pub fn human_secs(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 2026-09-11 14:22:23 UTC, checked with `date -u -d '2026-09-11 14:22:23' +%s`.
    const T_2026_09_11_142223: i64 = 1_789_136_543;

    #[test]
    fn cclk_is_local_time_with_the_zone_in_quarter_hours() {
        // Reply shape from an EC25 on a UTC+8 network (TS 27.007 §8.15 reading: local time).
        assert_eq!(
            parse_cclk("+CCLK: \"26/09/11,22:22:23+32\""),
            Some(T_2026_09_11_142223)
        );
        // A western zone: UTC−4 is −16 quarter hours.
        assert_eq!(
            parse_cclk("+CCLK: \"26/09/11,10:22:23-16\""),
            Some(T_2026_09_11_142223)
        );
        // Without a zone (modems that do not support it) the time is taken as UTC.
        assert_eq!(
            parse_cclk("+CCLK: \"26/09/11,14:22:23\""),
            Some(T_2026_09_11_142223)
        );
        // Some firmware omits the quotes.
        assert_eq!(
            parse_cclk("+CCLK: 26/09/11,14:22:23+00"),
            Some(T_2026_09_11_142223)
        );
    }

    #[test]
    fn qlts_is_utc_and_the_zone_does_not_move_the_instant() {
        // Real replies: an EC25 measured against UTC 14:22:2x, and variants seen in the field.
        assert_eq!(
            parse_qlts("+QLTS: \"2026/09/11,14:22:23+32,0\""),
            Some(T_2026_09_11_142223)
        );
        assert_eq!(
            parse_qlts("+QLTS: \"2026/09/11,14:22:23+32\",0"),
            Some(T_2026_09_11_142223)
        );
        assert_eq!(
            parse_qlts("+QLTS: \"2026/09/11,14:22:23-16,1\""),
            Some(T_2026_09_11_142223)
        );
        assert_eq!(
            parse_qlts("+QLTS: \"2026/09/11,14:22:23+08\""),
            Some(T_2026_09_11_142223)
        );
    }

    #[test]
    fn never_set_modem_clocks_are_refused() {
        for line in [
            "+CCLK: \"80/01/06,00:00:00+00\"",
            "+CCLK: \"04/01/01,00:00:17+00\"",
            "+CCLK: \"00/01/01,00:00:00+00\"",
            "+CCLK: \"70/01/01,00:00:00+00\"",
            "+CCLK: \"19/12/31,23:59:59+00\"",
        ] {
            assert_eq!(parse_cclk(line), None, "{line}");
        }
        // A Quectel that never heard NITZ (seen in an asterisk-quectel debug log).
        assert_eq!(parse_qlts("+QLTS: \"2000/01/01,00:00:00+00,1\""), None);
        // AT+QLTS before any NITZ answers an empty string.
        assert_eq!(parse_qlts("+QLTS: \"\""), None);
    }

    #[test]
    fn malformed_lines_are_refused() {
        for line in [
            "",
            "+CCLK:",
            "+CCLK: \"26/13/01,00:00:00+00\"",
            "+CCLK: \"26/02/30,00:00:00+00\"",
            "+CCLK: \"26/09/11,24:00:00+00\"",
            "+CCLK: \"26/09/11,14:60:00+00\"",
            "+CCLK: \"26/09/11,14:22:23+99\"",
            "+CCLK: \"2026/09/11,14:22:23+00\"",
            "+CCLK: \"26/09/11 14:22:23\"",
            "+CCLK: \"26/09/11,14:22\"",
            "+CCLK: \"26/09/11,14:22:23+32",
            "+QLTS: \"2026/09/11,14:22:23+32,0\"",
            "OK",
        ] {
            assert_eq!(parse_cclk(line), None, "{line}");
        }
        assert_eq!(parse_qlts("+QLTS: \"26/09/11,14:22:23+32,0\""), None);
        assert_eq!(parse_qlts("+CCLK: \"26/09/11,14:22:23+32\""), None);
    }

    #[test]
    fn the_owner_or_ntp_or_agreeing_nitz_make_the_clock_trusted() {
        let now = T_2026_09_11_142223;
        assert!(evaluate(false, None, 5, true).trusted);
        assert!(evaluate(true, None, now, false).trusted);
        let agree = evaluate(false, Some(now - 300), now, false);
        assert!(agree.trusted, "{agree:?}");
        assert!(agree.reason.contains("300s"), "{agree:?}");
        assert!(evaluate(false, Some(now + 300), now, false).trusted);
    }

    #[test]
    fn untrusted_clocks_say_why() {
        let now = T_2026_09_11_142223;
        let none = evaluate(false, None, now, false);
        assert!(!none.trusted);
        assert_eq!(
            none.reason,
            "kernel clock not synchronised and no network time from the modem"
        );
        // A router booted at its firmware build date, months behind the network.
        let behind = evaluate(false, Some(now), now - 301, false);
        assert!(!behind.trusted);
        assert_eq!(
            behind.reason,
            "kernel clock not synchronised and the wall clock is 5m 1s behind the modem's network time"
        );
        let ahead = evaluate(false, Some(now), now + 3 * 3600 + 120, false);
        assert!(
            ahead
                .reason
                .ends_with("3h 2m ahead of the modem's network time"),
            "{ahead:?}"
        );
        assert!(!evaluate(false, Some(i64::MIN), i64::MAX, false).trusted);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn kernel_sync_agrees_with_the_status_flags() {
        // The answer depends on the machine, so check it against the kernel's own status bits
        // (kernel/time/ntp.c `is_error_status`): STA_UNSYNC or STA_CLOCKERR mean TIME_ERROR;
        // without them and without PPS discipline (STA_PPSFREQ 0x2, STA_PPSTIME 0x4) the clock
        // counts as synchronised.
        // SAFETY: as in `kernel_synced`: a zeroed timex with modes = 0 only reads.
        let status = unsafe {
            let mut tx: libc::timex = std::mem::zeroed();
            libc::adjtimex(&mut tx);
            tx.status
        };
        let synced = kernel_synced();
        if status & (libc::STA_UNSYNC | libc::STA_CLOCKERR) != 0 {
            assert!(!synced, "status {status:#x}");
        } else if status & 0x6 == 0 {
            assert!(synced, "status {status:#x}");
        }
    }

    #[test]
    fn durations_read_like_an_owner_would_say_them() {
        assert_eq!(human_secs(0), "0s");
        assert_eq!(human_secs(42 * 60), "42m");
        assert_eq!(human_secs(301), "5m 1s");
        assert_eq!(human_secs(3600), "1h");
        assert_eq!(human_secs(3 * 3600 + 120), "3h 2m");
        assert_eq!(human_secs(2 * 86_400 + 3 * 3600 + 5), "2d 3h");
        assert_eq!(human_secs(86_400), "1d");
        assert_eq!(human_secs(-5), "0s");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse_cclk(&s);
            let _ = parse_qlts(&s);
            let _ = parse_cclk(&format!("+CCLK: \"{s}\""));
            let _ = parse_qlts(&format!("+QLTS: \"{s}\""));
        }

        #[test]
        fn cclk_and_qlts_agree_on_the_same_instant(days in 0i64..(49 * 365), secs in 0i64..86_400, q in -48i32..=56) {
            let utc = crate::usage::civil::days_from_civil(2020, 1, 2) * 86_400 + days * 86_400 + secs;
            let local = utc + i64::from(q) * 900;
            let stamp = |t: i64, four: bool| {
                let d = crate::usage::civil::Date::from_days(t.div_euclid(86_400));
                let s = t.rem_euclid(86_400);
                let y = if four { format!("{:04}", d.year) } else { format!("{:02}", d.year % 100) };
                format!("{y}/{:02}/{:02},{:02}:{:02}:{:02}{}{:02}", d.month, d.day, s / 3600, s % 3600 / 60, s % 60, if q < 0 { '-' } else { '+' }, q.abs())
            };
            prop_assert_eq!(parse_cclk(&format!("+CCLK: \"{}\"", stamp(local, false))), Some(utc));
            prop_assert_eq!(parse_qlts(&format!("+QLTS: \"{},0\"", stamp(utc, true))), Some(utc));
        }
    }
}
