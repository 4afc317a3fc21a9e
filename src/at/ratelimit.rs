//! A bound on log lines whose cause is modem input (unknown URCs, line noise, URCs dropped
//! because a subscriber lagged, restarts seen). A URC flood wrote 1.76 MB / 14,297 log lines in
//! 30 s (issue 13 §8) — to logd on a router's RAM, or to flash. Per call site: the first
//! [`BURST`] lines of a minute are logged, the rest counted; the next line logged after that
//! (in a later minute) says how many were suppressed.
//!
//! [`Limiter`] is pure (the clock is passed in) and bounded (at most [`MAX_KEYS`] call sites; more
//! share one slot). [`allow`] is the process-wide instance call sites use.
//!
//! Must not: block on anything but a short uncontended mutex, allocate per line, or drop the
//! fact that lines were suppressed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines logged per call site per window before suppression starts.
pub const BURST: u32 = 5;
/// The window over which [`BURST`] applies.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Call sites tracked; more share the last slot (call sites are a fixed set, so this is a guard).
pub const MAX_KEYS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: &'static str,
    window_start: Instant,
    logged: u32,
    suppressed: u64,
}

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` lines of this call site were dropped since the last one logged.
    Log { suppressed: u64 },
    /// Drop it (counted).
    Drop,
}

/// Per-call-site rate limiter; see the module comment.
#[derive(Debug, Default)]
pub struct Limiter {
    slots: Vec<Slot>,
}

impl Limiter {
    pub const fn new() -> Limiter {
        Limiter { slots: Vec::new() }
    }

    /// Whether the line from call site `key` at `now` is logged.
    pub fn check(&mut self, key: &'static str, now: Instant) -> Verdict {
        let i = match self.slots.iter().position(|s| s.key == key) {
            Some(i) => i,
            None if self.slots.len() < MAX_KEYS => {
                self.slots.push(Slot {
                    key,
                    window_start: now,
                    logged: 0,
                    suppressed: 0,
                });
                self.slots.len() - 1
            }
            // Full: the last slot is shared by every call site beyond it.
            None => MAX_KEYS - 1,
        };
        let Some(slot) = self.slots.get_mut(i) else {
            return Verdict::Log { suppressed: 0 };
        };
        if now.saturating_duration_since(slot.window_start) >= WINDOW {
            slot.window_start = now;
            slot.logged = 0;
        }
        if slot.logged < BURST {
            slot.logged = slot.logged.saturating_add(1);
            let suppressed = std::mem::take(&mut slot.suppressed);
            Verdict::Log { suppressed }
        } else {
            slot.suppressed = slot.suppressed.saturating_add(1);
            Verdict::Drop
        }
    }
}

static GLOBAL: Mutex<Limiter> = Mutex::new(Limiter::new());

/// The process-wide limiter: `Some(suppressed)` when the line from `key` is to be logged.
/// Use [`note`] to mention the suppressed lines in it.
pub fn allow(key: &'static str) -> Option<u64> {
    // A poisoned lock only means another thread panicked mid-check; the counts are still usable.
    let mut l = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    match l.check(key, Instant::now()) {
        Verdict::Log { suppressed } => Some(suppressed),
        Verdict::Drop => None,
    }
}

/// `" (K similar lines suppressed since the last one logged)"`, or nothing when none were.
/// The count rides on the next line logged rather than on a timer: the call sites have no tick,
/// and a flood that stopped has nothing urgent left to say.
pub fn note(suppressed: u64) -> String {
    if suppressed == 0 {
        String::new()
    } else {
        format!(" ({suppressed} similar lines suppressed since the last one logged)")
    }
}

/// `tracing::$level!` behind the process-wide limiter, keyed by call site (`key`), with the
/// count of suppressed lines appended to the message. A line whose level is off is not counted:
/// it takes no lock and spends none of its call site's budget.
#[macro_export]
macro_rules! limited {
    ($level:ident, $key:expr, $($arg:tt)+) => {
        if tracing::enabled!($crate::limited!(@level $level)) {
            if let Some(suppressed) = $crate::at::ratelimit::allow($key) {
                tracing::$level!("{}{}", format_args!($($arg)+), $crate::at::ratelimit::note(suppressed));
            }
        }
    };
    (@level trace) => { tracing::Level::TRACE };
    (@level debug) => { tracing::Level::DEBUG };
    (@level info) => { tracing::Level::INFO };
    (@level warn) => { tracing::Level::WARN };
    (@level error) => { tracing::Level::ERROR };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_whose_level_is_off_spends_none_of_the_budget() {
        let quiet = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .finish();
        tracing::subscriber::with_default(quiet, || {
            for i in 0..100 {
                crate::limited!(debug, "ratelimit-test-off", "debug line {i}");
            }
            // Nothing was counted: the first line logged says nothing was suppressed.
            assert_eq!(allow("ratelimit-test-off"), Some(0));
            for i in 0..100 {
                crate::limited!(warn, "ratelimit-test-on", "warn line {i}");
            }
            assert_eq!(allow("ratelimit-test-on"), None);
        });
    }

    #[test]
    fn the_first_burst_of_a_minute_is_logged_then_counted_then_summarised() {
        let mut l = Limiter::new();
        let t0 = Instant::now();
        for i in 0..BURST {
            assert_eq!(
                l.check("a", t0 + Duration::from_millis(u64::from(i))),
                Verdict::Log { suppressed: 0 }
            );
        }
        for _ in 0..1000 {
            assert_eq!(l.check("a", t0 + Duration::from_secs(1)), Verdict::Drop);
        }
        // Another call site has its own budget.
        assert_eq!(
            l.check("b", t0 + Duration::from_secs(1)),
            Verdict::Log { suppressed: 0 }
        );
        // Still the same window: dropped.
        assert_eq!(l.check("a", t0 + Duration::from_secs(59)), Verdict::Drop);
        // The next window: logged, with the count of what was dropped.
        assert_eq!(l.check("a", t0 + WINDOW), Verdict::Log { suppressed: 1001 });
        assert_eq!(
            l.check("a", t0 + WINDOW + Duration::from_secs(1)),
            Verdict::Log { suppressed: 0 }
        );
    }

    #[test]
    fn a_flood_of_100k_lines_logs_a_handful_per_minute() {
        let mut l = Limiter::new();
        let t0 = Instant::now();
        let mut logged = 0u32;
        let mut dropped = 0u64;
        for i in 0..100_000u64 {
            // 1,000 lines a second for 100 s.
            match l.check("flood", t0 + Duration::from_millis(i)) {
                Verdict::Log { suppressed } => {
                    logged += 1;
                    dropped += suppressed;
                }
                Verdict::Drop => {}
            }
        }
        // Windows at 0, 60 s: BURST each.
        assert_eq!(logged, 2 * BURST);
        // The second window's first line reports the first window's drops.
        assert_eq!(dropped, 60_000 - u64::from(BURST));
    }

    #[test]
    fn call_sites_beyond_the_bound_share_one_slot() {
        let mut l = Limiter::new();
        let t0 = Instant::now();
        // Distinct &'static str keys, more than MAX_KEYS of them.
        let names: Vec<&'static str> = (0..MAX_KEYS + 10)
            .map(|i| &*Box::leak(format!("site{i}").into_boxed_str()))
            .collect();
        for n in &names {
            l.check(n, t0);
        }
        assert_eq!(l.slots.len(), MAX_KEYS);
        // The shared slot has taken 11 lines already (1 for its own key + 10 overflow).
        let last = names[MAX_KEYS + 5];
        assert_eq!(l.check(last, t0), Verdict::Drop);
    }

    #[test]
    fn the_note_names_the_count_only_when_lines_were_suppressed() {
        assert_eq!(note(0), "");
        assert!(note(42).contains("42 similar lines suppressed"));
    }

    #[test]
    fn a_clock_that_goes_backwards_does_not_panic_or_reset() {
        let mut l = Limiter::new();
        let t0 = Instant::now() + Duration::from_secs(100);
        for _ in 0..BURST {
            l.check("x", t0);
        }
        assert_eq!(l.check("x", t0 - Duration::from_secs(50)), Verdict::Drop);
    }
}
