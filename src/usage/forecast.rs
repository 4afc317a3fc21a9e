//! Burn rate over a sliding window of (time, bytes used) samples, and when the data runs out.
//!
//! Must not: grow without bound (a fixed-capacity ring, thinned to cover the whole window), or
//! read the clock. The rate is the slope between the oldest and newest sample in the window:
//! simple, and robust enough for a figure shown to people and used to time a top-up.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Six hours: long enough to smooth out a video call, short enough to follow a change of habit.
pub const DEFAULT_WINDOW_SECS: i64 = 6 * 3600;
/// One sample per five minutes over the default window.
pub const DEFAULT_CAPACITY: usize = 72;
/// Below this span between the oldest and newest sample there is no rate yet.
pub const MIN_SPAN_SECS: i64 = 10 * 60;
/// Below one byte per minute the SIM is idle, not burning.
const MIN_RATE_BYTES_PER_SEC: f64 = 1.0 / 60.0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BurnWindow {
    samples: VecDeque<(i64, u64)>,
    capacity: usize,
    window_secs: i64,
}

impl Default for BurnWindow {
    fn default() -> Self {
        BurnWindow::new(DEFAULT_CAPACITY, DEFAULT_WINDOW_SECS)
    }
}

impl BurnWindow {
    /// A window keeping at most `capacity` (at least 2) samples spanning `window_secs` (at least
    /// one minute).
    pub fn new(capacity: usize, window_secs: i64) -> BurnWindow {
        let capacity = capacity.clamp(2, 10_000);
        BurnWindow {
            samples: VecDeque::with_capacity(capacity),
            capacity,
            window_secs: window_secs.max(60),
        }
    }

    /// Forgets every sample (new cycle, other counter).
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Adds a sample of cumulative bytes used at `at`. Older-than-newest samples are ignored; a
    /// decrease (the count restarted) clears the window first. Samples closer together than
    /// window/capacity replace the newest one, so the ring always covers the whole window.
    pub fn push(&mut self, at: i64, used_bytes: u64) {
        if let Some(&(last_at, last_used)) = self.samples.back() {
            if at < last_at {
                return;
            }
            if used_bytes < last_used {
                self.samples.clear();
            }
        }
        // Fields may come from a persisted file: re-apply `new`'s bounds instead of trusting them.
        let capacity = self.capacity.clamp(2, 10_000);
        let window_secs = self.window_secs.max(60);
        // The newest sample floats (is replaced) until `spacing` has passed since the one before.
        let spacing = window_secs / i64::try_from(capacity).unwrap_or(i64::MAX);
        let n = self.samples.len();
        let replace_newest = match (n, self.samples.back()) {
            (0, _) | (_, None) => false,
            (1, Some(&(last_at, _))) => at == last_at,
            _ => self
                .samples
                .get(n - 2)
                .is_some_and(|&(kept_at, _)| at.saturating_sub(kept_at) < spacing),
        };
        if replace_newest {
            self.samples.pop_back();
        }
        self.samples.push_back((at, used_bytes));
        let oldest_allowed = at.saturating_sub(window_secs);
        while self.samples.len() > capacity
            || (self.samples.len() > 1
                && self
                    .samples
                    .front()
                    .is_some_and(|&(t, _)| t < oldest_allowed))
        {
            self.samples.pop_front();
        }
    }

    /// Bytes per second over the window, if there are at least two samples `MIN_SPAN_SECS` apart.
    pub fn rate(&self) -> Option<f64> {
        let (&(t0, u0), &(t1, u1)) = (self.samples.front()?, self.samples.back()?);
        let span = t1.saturating_sub(t0);
        if span < MIN_SPAN_SECS {
            return None;
        }
        #[allow(clippy::cast_precision_loss)] // a rate for people: f64's 53 bits are plenty
        let rate = u1.saturating_sub(u0) as f64 / span as f64;
        Some(rate)
    }

    /// Bytes per day, rounded, when burning.
    pub fn bytes_per_day(&self) -> Option<u64> {
        let rate = self.rate().filter(|r| *r >= MIN_RATE_BYTES_PER_SEC)?;
        // `as` saturates for floats; the value is finite and non-negative here.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let per_day = (rate * 86_400.0).round() as u64;
        Some(per_day)
    }

    /// When `remaining` bytes run out at the current rate, from `now`; `None` when idle or when
    /// the window has too little history.
    pub fn runs_out_at(&self, remaining: u64, now: i64) -> Option<i64> {
        let rate = self.rate().filter(|r| *r >= MIN_RATE_BYTES_PER_SEC)?;
        #[allow(clippy::cast_precision_loss)]
        let secs = (remaining as f64 / rate).ceil();
        // Far-future answers are clamped rather than overflowing (`as` saturates for floats).
        #[allow(clippy::cast_possible_truncation)]
        let secs = secs.min(1e15) as i64;
        Some(now.saturating_add(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn steady_use_gives_its_rate_and_run_out_time() {
        let mut w = BurnWindow::default();
        for i in 0..=12 {
            w.push(i * 300, 1_000_000 + i as u64 * 3_000_000); // 10 kB/s
        }
        assert_eq!(w.rate(), Some(10_000.0));
        assert_eq!(w.bytes_per_day(), Some(864_000_000));
        assert_eq!(w.runs_out_at(36_000_000, 3600), Some(3600 + 3600));
        assert_eq!(w.runs_out_at(0, 3600), Some(3600));
    }

    #[test]
    fn too_little_history_or_idle_gives_no_forecast() {
        let mut w = BurnWindow::default();
        assert_eq!(w.runs_out_at(1000, 0), None);
        w.push(0, 100);
        w.push(300, 200);
        assert_eq!(w.rate(), None, "five minutes is under MIN_SPAN_SECS");
        let mut idle = BurnWindow::default();
        idle.push(0, 500);
        idle.push(3600, 500);
        assert_eq!(idle.rate(), Some(0.0));
        assert_eq!(idle.runs_out_at(1000, 3600), None);
    }

    #[test]
    fn the_window_slides_and_stays_bounded() {
        let mut w = BurnWindow::new(10, 3600);
        for i in 0..1000 {
            w.push(i * 30, i as u64 * 1000);
        }
        assert!(w.len() <= 10);
        let oldest = w.samples.front().map(|s| s.0).unwrap_or(0);
        assert!(oldest >= 999 * 30 - 3600 - 360, "oldest {oldest}");
        // Rate stays 1000 B / 30 s.
        let r = w.rate().unwrap_or(0.0);
        assert!((r - 1000.0 / 30.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn a_count_that_goes_down_restarts_the_window() {
        let mut w = BurnWindow::default();
        w.push(0, 5_000_000);
        w.push(3600, 9_000_000);
        w.push(3700, 10);
        assert_eq!(w.len(), 1);
        assert_eq!(w.rate(), None);
    }

    #[test]
    fn out_of_order_samples_are_ignored() {
        let mut w = BurnWindow::default();
        w.push(1000, 10);
        w.push(500, 5);
        assert_eq!(w.samples.back(), Some(&(1000, 10)));
    }

    #[test]
    fn a_corrupt_persisted_window_is_bounded_again() {
        let json = r#"{"samples":[[0,1],[10,2]],"capacity":0,"window_secs":0}"#;
        let mut w: BurnWindow = serde_json::from_str(json).unwrap_or_default();
        for i in 0..100 {
            w.push(20 + i * 60, 3 + i as u64);
        }
        assert!(w.len() <= 2);
    }

    proptest! {
        #[test]
        fn any_samples_never_panic_and_stay_bounded(
            samples in proptest::collection::vec((any::<i64>(), any::<u64>()), 0..200),
            cap in 0usize..50, win in any::<i64>(), remaining in any::<u64>(), now in any::<i64>(),
        ) {
            let mut w = BurnWindow::new(cap, win);
            for (t, u) in samples {
                w.push(t, u);
                prop_assert!(w.len() <= cap.max(2));
            }
            let _ = w.bytes_per_day();
            if let Some(t) = w.runs_out_at(remaining, now) {
                prop_assert!(t >= now);
            }
        }
    }
}
