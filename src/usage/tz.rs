//! Time zones as POSIX TZ rules: parsing (`JST-9`, `CET-1CEST,M3.5.0,M10.5.0/3`, `<+07>-7`),
//! IANA names through the built-in table in `tzdata`, UTC ⇄ local conversion.
//!
//! Must not: read /etc/TZ or /usr/share/zoneinfo (`tzfile` does, and hands the rule here), or
//! know about historical rule changes — a POSIX rule describes one rule forever, which is what
//! OpenWrt itself uses.
//!
//! Format: POSIX.1-2017 XBD §8.3 (`TZ`), with the RFC 8536 §3.3.1 extensions that tzdata footers
//! use: rule times from −167 to 167 hours (`M3.4.4/50`, `M3.5.0/-1`) and `<...>` quoted names.

use super::civil::{self, Date, SECS_PER_DAY};
use super::tzdata;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TzError {
    #[error(
        "unknown time zone {spec:?}: use an IANA name such as Asia/Tokyo or a POSIX TZ string \
         such as JST-9 or CET-1CEST,M3.5.0,M10.5.0/3"
    )]
    Unknown { spec: String },
    #[error("bad POSIX TZ string {spec:?}: {reason}; write it as in /etc/TZ, e.g. CET-1CEST,M3.5.0,M10.5.0/3")]
    BadPosix { spec: String, reason: &'static str },
}

/// The day a POSIX rule names in a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleDay {
    /// `Jn`: 1..=365, February 29 is never counted.
    JulianNoLeap(u16),
    /// `n`: 0..=365, February 29 is counted.
    ZeroBased(u16),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (1..=5, 5 = last) of month `m`.
    MonthWeekDay { month: u8, week: u8, weekday: u8 },
}

/// A transition: a day plus a local time in seconds (may be negative or beyond 24 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    day: RuleDay,
    time: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dst {
    /// Seconds east of UTC while daylight saving time is in force.
    offset: i32,
    start: Transition,
    end: Transition,
}

/// A time zone rule. Serialised as the string it was configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone {
    spec: String,
    /// Seconds east of UTC for standard time (POSIX writes the opposite sign: `JST-9` = +9 h).
    std_offset: i32,
    dst: Option<Dst>,
}

impl TimeZone {
    /// UTC.
    pub fn utc() -> TimeZone {
        TimeZone {
            spec: "UTC".to_owned(),
            std_offset: 0,
            dst: None,
        }
    }

    /// Accepts an IANA name from the built-in table (`Asia/Tokyo`, case-insensitive), a POSIX TZ
    /// string (`JST-9`), or either prefixed by `:`.
    pub fn parse(spec: &str) -> Result<TimeZone, TzError> {
        let trimmed = spec.trim();
        let body = trimmed.strip_prefix(':').unwrap_or(trimmed);
        if let Some(rule) = tzdata::lookup(body) {
            let mut tz = parse_posix(rule).map_err(|reason| TzError::BadPosix {
                spec: rule.to_owned(),
                reason,
            })?;
            tz.spec = trimmed.to_owned();
            return Ok(tz);
        }
        let mut tz = parse_posix(body).map_err(|reason| {
            // A name-like string (no digits, or a '/' before any rule) was meant as an IANA name.
            let head = body.split(',').next().unwrap_or(body);
            if head.contains('/') || !body.bytes().any(|b| b.is_ascii_digit()) {
                TzError::Unknown {
                    spec: spec.to_owned(),
                }
            } else {
                TzError::BadPosix {
                    spec: spec.to_owned(),
                    reason,
                }
            }
        })?;
        tz.spec = trimmed.to_owned();
        Ok(tz)
    }

    /// The same rule under the name it was configured with (a zone file's rule shown as
    /// `Asia/Tokyo`, not `JST-9`).
    pub fn named(mut self, spec: &str) -> TimeZone {
        spec.trim().clone_into(&mut self.spec);
        self
    }

    /// The string this zone was configured with.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Seconds east of UTC in force at `utc` (unix seconds).
    pub fn offset_at(&self, utc: i64) -> i32 {
        let Some(dst) = self.dst else {
            return self.std_offset;
        };
        let year = civil::civil_from_days(
            utc.saturating_add(i64::from(self.std_offset))
                .div_euclid(SECS_PER_DAY),
        )
        .0;
        // POSIX: the start time is in standard local time, the end time in daylight local time.
        let start = transition_local(dst.start, year).saturating_sub(i64::from(self.std_offset));
        let end = transition_local(dst.end, year).saturating_sub(i64::from(dst.offset));
        let in_dst = if start < end {
            start <= utc && utc < end
        } else {
            // Southern hemisphere: DST spans the new year.
            !(end <= utc && utc < start)
        };
        if in_dst {
            dst.offset
        } else {
            self.std_offset
        }
    }

    /// Local wall-clock seconds (as if the local time were UTC) for `utc`.
    pub fn to_local(&self, utc: i64) -> i64 {
        utc.saturating_add(i64::from(self.offset_at(utc)))
    }

    /// The UTC instant of local wall-clock seconds `local`. An ambiguous local time (clocks went
    /// back) gives the earlier instant; a local time that does not exist (clocks went forward)
    /// gives the instant the clocks jumped, i.e. the first instant whose local time is later.
    pub fn local_to_utc(&self, local: i64) -> i64 {
        let mut best: Option<i64> = None;
        let offsets = [Some(self.std_offset), self.dst.map(|d| d.offset)];
        for off in offsets.into_iter().flatten() {
            let t = local.saturating_sub(i64::from(off));
            if self.to_local(t) == local {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        }
        if let Some(t) = best {
            return t;
        }
        // In a gap: binary-search the jump between the two candidate instants.
        let dst_off = self.dst.map_or(self.std_offset, |d| d.offset);
        let hi_off = i64::from(self.std_offset.max(dst_off));
        let lo_off = i64::from(self.std_offset.min(dst_off));
        let (mut lo, mut hi) = (local.saturating_sub(hi_off), local.saturating_sub(lo_off));
        // Invariant: to_local(lo) < local <= to_local(hi).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.to_local(mid) >= local {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// The local calendar date at `utc`.
    pub fn local_date(&self, utc: i64) -> Date {
        Date::from_days(self.to_local(utc).div_euclid(SECS_PER_DAY))
    }

    /// The UTC instant of local midnight starting `date` (see `local_to_utc` for DST gaps).
    pub fn midnight(&self, date: Date) -> i64 {
        self.local_to_utc(date.to_days().saturating_mul(SECS_PER_DAY))
    }
}

impl TryFrom<String> for TimeZone {
    type Error = TzError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TimeZone::parse(&s)
    }
}

impl From<TimeZone> for String {
    fn from(tz: TimeZone) -> String {
        tz.spec
    }
}

/// Local seconds (days × 86400 + time) of a transition in `year`.
fn transition_local(t: Transition, year: i64) -> i64 {
    let jan1 = civil::days_from_civil(year, 1, 1);
    let days = match t.day {
        RuleDay::JulianNoLeap(n) => {
            let n = i64::from(n);
            // Day 60 is 1 March in every year: skip 29 February in leap years.
            jan1 + n - 1 + i64::from(civil::is_leap(year) && n >= 60)
        }
        RuleDay::ZeroBased(n) => jan1 + i64::from(n),
        RuleDay::MonthWeekDay {
            month,
            week,
            weekday,
        } => {
            let month = u32::from(month);
            let first = civil::days_from_civil(year, month, 1);
            let first_wd = i64::from(civil::weekday_from_days(first));
            let mut day =
                1 + (i64::from(weekday) - first_wd).rem_euclid(7) + (i64::from(week) - 1) * 7;
            let len = i64::from(civil::days_in_month(year, month));
            while day > len {
                day -= 7; // week 5 means "last"
            }
            first + day - 1
        }
    };
    days * SECS_PER_DAY + i64::from(t.time)
}

/// A cursor over the POSIX string; all parsing errors are a static reason.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

type PResult<T> = Result<T, &'static str>;

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// `std` / `dst` name: 3+ letters, or `<` 3+ of [A-Za-z0-9+-] `>`.
    fn name(&mut self) -> PResult<()> {
        let start = self.pos;
        if self.eat(b'<') {
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'-')
            {
                self.pos += 1;
            }
            let len = self.pos - start - 1;
            if !self.eat(b'>') {
                return Err("a name starting with '<' must end with '>'");
            }
            return if len >= 3 {
                Ok(())
            } else {
                Err("a zone name needs at least 3 characters")
            };
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        if self.pos - start >= 3 {
            Ok(())
        } else {
            Err("a zone name needs at least 3 letters (e.g. JST, or <+07> for a numeric name)")
        }
    }

    fn number(&mut self, max: i64) -> PResult<i64> {
        let start = self.pos;
        let mut v: i64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            self.pos += 1;
        }
        if self.pos == start {
            return Err("expected a number");
        }
        if v > max {
            return Err("number out of range");
        }
        Ok(v)
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, hours up to `max_hours`.
    fn hms(&mut self, max_hours: i64) -> PResult<i64> {
        let neg = if self.eat(b'-') {
            true
        } else {
            self.eat(b'+');
            false
        };
        let mut secs = self.number(max_hours)? * 3600;
        if self.eat(b':') {
            secs += self.number(59)? * 60;
            if self.eat(b':') {
                secs += self.number(59)?;
            }
        }
        Ok(if neg { -secs } else { secs })
    }

    fn transition(&mut self) -> PResult<Transition> {
        let day = if self.eat(b'J') {
            let n = self.number(365)?;
            if n == 0 {
                return Err("Jn days run from 1 to 365");
            }
            RuleDay::JulianNoLeap(u16::try_from(n).map_err(|_| "number out of range")?)
        } else if self.eat(b'M') {
            let m = self.number(12)?;
            if !self.eat(b'.') {
                return Err("expected Mm.w.d");
            }
            let w = self.number(5)?;
            if !self.eat(b'.') {
                return Err("expected Mm.w.d");
            }
            let d = self.number(6)?;
            if m == 0 || w == 0 {
                return Err("Mm.w.d needs month 1-12 and week 1-5");
            }
            let to_u8 = |v: i64| u8::try_from(v).map_err(|_| "number out of range");
            RuleDay::MonthWeekDay {
                month: to_u8(m)?,
                week: to_u8(w)?,
                weekday: to_u8(d)?,
            }
        } else {
            RuleDay::ZeroBased(u16::try_from(self.number(365)?).map_err(|_| "number out of range")?)
        };
        // Default transition time is 02:00 (POSIX).
        let time = if self.eat(b'/') { self.hms(167)? } else { 7200 };
        let time = i32::try_from(time).map_err(|_| "number out of range")?;
        Ok(Transition { day, time })
    }
}

/// Parses a POSIX TZ string; the returned zone's `spec` is the input.
fn parse_posix(s: &str) -> PResult<TimeZone> {
    let mut c = Cursor {
        s: s.as_bytes(),
        pos: 0,
    };
    c.name()?;
    // POSIX offsets are hours *west* of Greenwich: `JST-9` is UTC+9.
    let std_west = c
        .hms(24)
        .map_err(|_| "expected the standard offset after the name, e.g. JST-9")?;
    let std_offset = i32::try_from(-std_west).map_err(|_| "offset out of range")?;
    if c.done() {
        return Ok(TimeZone {
            spec: s.to_owned(),
            std_offset,
            dst: None,
        });
    }
    c.name()?;
    let dst_offset = match c.peek() {
        Some(b',') | None => std_offset.saturating_add(3600),
        _ => i32::try_from(-c.hms(24)?).map_err(|_| "offset out of range")?,
    };
    let (start, end) = if c.eat(b',') {
        let start = c.transition()?;
        if !c.eat(b',') {
            return Err("expected ',end' after the DST start rule");
        }
        (start, c.transition()?)
    } else {
        // No rule given: POSIX leaves it to the implementation; glibc and musl use US rules.
        let us = |week, month| Transition {
            day: RuleDay::MonthWeekDay {
                month,
                week,
                weekday: 0,
            },
            time: 7200,
        };
        (us(2, 3), us(1, 11))
    };
    if !c.done() {
        return Err("unexpected text after the rule");
    }
    Ok(TimeZone {
        spec: s.to_owned(),
        std_offset,
        dst: Some(Dst {
            offset: dst_offset,
            start,
            end,
        }),
    })
}

#[cfg(test)]
#[path = "tz_tests.rs"]
mod tests;
