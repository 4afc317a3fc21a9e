//! The status snapshot the daemon publishes (on a `watch` channel) and the HTTP API and CLI
//! read. Owned data only, cheap to clone, serialisable as the API's JSON
//! (shape: /work/briefs/status-shape.md at the time of issue 11).
//!
//! Every time is an RFC 3339 UTC string in JSON (unix seconds inside); byte counts stay numbers
//! and carry display strings in the plan's unit base beside them, so the page, `simkeep status`
//! and `simkeep usage` print the same figure in the same unit.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::attention::{Attention, Overall};
use crate::modem::driver::Snapshot;
use crate::modem::model::{RegState, SimState, Tech};
use crate::usage::civil::utc_string;
use crate::usage::{format_size, UnitBase, UsageReport};

/// What the agent knows right now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub version: &'static str,
    /// When the daemon started.
    #[serde(serialize_with = "rfc3339")]
    pub started_at: i64,
    /// The worst level in `attention`.
    pub overall: Overall,
    /// What needs the owner, critical first (see `agent::attention`).
    pub attention: Vec<Attention>,
    /// When the readings below were taken (the last successful poll).
    #[serde(serialize_with = "rfc3339_opt")]
    pub as_of: Option<i64>,
    /// Seconds between `as_of` and the time this document was published.
    pub age_secs: Option<i64>,
    /// The readings are old: the modem stopped answering, or polls fail.
    pub stale: bool,
    pub stale_reason: Option<String>,
    /// Readings older than this many seconds are stale, even if nothing was published since
    /// (a poll blocked on a hung modem publishes nothing until it times out): readers with a
    /// clock (`/metrics`, the page) compare `as_of` against it themselves.
    pub stale_after_secs: i64,
    /// `connected`, `connecting` or `down`.
    pub link: String,
    /// Why the modem is down, when it is.
    pub link_error: Option<String>,
    /// Why the last poll failed, if it did.
    pub poll_error: Option<String>,
    pub sim: Option<SimView>,
    pub network: Option<NetworkView>,
    pub signal: Option<SignalView>,
    /// Usage figures (a [`UsageView`] as JSON), when `[usage]` is configured; `/api/v1/usage`
    /// serves this same document.
    pub usage: Option<serde_json::Value>,
    /// Automatic top-ups, when `[topup]` is configured.
    pub topup: Option<super::topup::TopupStatus>,
    /// The last successful poll (kept while the modem is away; see `stale`).
    #[serde(serialize_with = "snapshot_json")]
    pub last_poll: Option<Snapshot>,
    /// Running totals for `/metrics`; shared with the agent, which bumps them.
    #[serde(skip)]
    pub counters: Arc<Counters>,
}

/// `sim`: the SIM in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimView {
    /// When this was read (the poll's time).
    #[serde(serialize_with = "rfc3339")]
    pub as_of: i64,
    pub state: Option<SimState>,
    pub iccid: Option<String>,
    /// `SIM ready · ICCID 8981…`
    pub text: String,
}

/// `network`: who the modem is registered with, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkView {
    #[serde(serialize_with = "rfc3339")]
    pub as_of: i64,
    pub operator: Option<String>,
    /// `2G`, `3G`, `LTE`, `5G NSA`, `5G SA`.
    pub tech: Option<&'static str>,
    pub registration: Option<RegState>,
    /// `LTE · home network`
    pub text: String,
}

/// `signal`: the figures, plus a plain word and bars.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalView {
    #[serde(serialize_with = "rfc3339")]
    pub as_of: i64,
    pub rsrp_dbm: Option<f64>,
    pub rsrq_db: Option<f64>,
    pub sinr_db: Option<f64>,
    pub rssi_dbm: Option<f64>,
    pub quality_pct: Option<u8>,
    pub band: Option<u32>,
    pub nr: Option<crate::modem::model::NrSignal>,
    pub word: Option<SignalWord>,
    /// 0 (no service) to 4 (excellent).
    pub bars: u8,
}

/// RSRP/SINR in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalWord {
    Poor,
    Fair,
    Good,
    Excellent,
}

/// The word for RSRP and SINR, the worse of the two (either may be missing). Bands as the
/// router vendors document them for LTE, e.g. Teltonika's "Mobile signal strength
/// recommendations" (wiki.teltonika-networks.com): RSRP ≥ −80 dBm excellent, −80…−90 good,
/// −90…−100 fair, < −100 poor; SINR ≥ 20 dB excellent, 13…20 good, 0…13 fair, < 0 poor.
pub fn signal_word(rsrp_dbm: Option<f64>, sinr_db: Option<f64>) -> Option<SignalWord> {
    let by_rsrp = rsrp_dbm.map(|r| match r {
        r if r >= -80.0 => SignalWord::Excellent,
        r if r >= -90.0 => SignalWord::Good,
        r if r >= -100.0 => SignalWord::Fair,
        _ => SignalWord::Poor,
    });
    let by_sinr = sinr_db.map(|s| match s {
        s if s >= 20.0 => SignalWord::Excellent,
        s if s >= 13.0 => SignalWord::Good,
        s if s >= 0.0 => SignalWord::Fair,
        _ => SignalWord::Poor,
    });
    match (by_rsrp, by_sinr) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `usage`: the estimator's report with times as RFC 3339 and sizes as display strings in the
/// plan's unit base. `simkeep usage` prints these same strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageView {
    pub iccid: String,
    pub used_bytes: Option<u64>,
    pub quota_bytes: Option<u64>,
    pub remaining_bytes: Option<u64>,
    /// 1000 or 1024.
    pub unit_base: UnitBase,
    pub used: Option<String>,
    pub quota: Option<String>,
    pub remaining: Option<String>,
    /// `2.49 GiB of 3 GiB` (just the remaining figure without a quota).
    pub remaining_text: Option<String>,
    pub remaining_pct: Option<u8>,
    pub source: Option<crate::usage::Source>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub as_of: Option<i64>,
    pub age_secs: Option<i64>,
    /// The figure is older than the carrier reading's useful life (or there is none).
    pub stale: bool,
    #[serde(serialize_with = "rfc3339")]
    pub cycle_start: i64,
    #[serde(serialize_with = "rfc3339")]
    pub cycle_end: i64,
    /// Whole days left in the cycle, rounded up (the last afternoon is "1 day left").
    pub days_left: i64,
    #[serde(serialize_with = "rfc3339_opt")]
    pub runs_out_at: Option<i64>,
    pub burn_bytes_per_day: Option<u64>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub carrier_as_of: Option<i64>,
    pub carrier_remaining_bytes: Option<u64>,
    pub carrier_remaining: Option<String>,
}

/// Usage older than this is shown as stale (a carrier figure carried forward a day is still
/// the best there is, but the owner should see its age).
const USAGE_STALE_SECS: i64 = 24 * 3600;

impl UsageView {
    pub fn new(r: &UsageReport, base: UnitBase, now: i64) -> UsageView {
        let size = |b: Option<u64>| b.map(|b| format_size(b, base));
        let remaining = size(r.remaining_bytes);
        let quota = size(r.quota_bytes);
        let remaining_text = match (&remaining, &quota) {
            (Some(left), Some(q)) => Some(format!("{left} of {q}")),
            (Some(left), None) => Some(format!("{left} left")),
            _ => None,
        };
        let remaining_pct = match (r.remaining_bytes, r.quota_bytes) {
            (Some(left), Some(q)) if q > 0 => {
                let pct = u128::from(left.min(q)) * 100 / u128::from(q);
                u8::try_from(pct).ok()
            }
            _ => None,
        };
        let left_secs = r.cycle_end.saturating_sub(now).max(0);
        UsageView {
            iccid: r.iccid.clone(),
            used_bytes: r.used_bytes,
            quota_bytes: r.quota_bytes,
            remaining_bytes: r.remaining_bytes,
            unit_base: base,
            used: size(r.used_bytes),
            quota,
            remaining,
            remaining_text,
            remaining_pct,
            source: r.source,
            as_of: r.as_of,
            age_secs: r.age_secs,
            stale: r.age_secs.is_none_or(|a| a > USAGE_STALE_SECS),
            cycle_start: r.cycle_start,
            cycle_end: r.cycle_end,
            days_left: left_secs.saturating_add(86_399) / 86_400,
            runs_out_at: r.runs_out_at,
            burn_bytes_per_day: r.burn_bytes_per_day,
            carrier_as_of: r.carrier_as_of,
            carrier_remaining_bytes: r.carrier_remaining_bytes,
            carrier_remaining: size(r.carrier_remaining_bytes),
        }
    }

    pub fn json(r: &UsageReport, base: UnitBase, now: i64) -> Option<serde_json::Value> {
        serde_json::to_value(Self::new(r, base, now)).ok()
    }
}

impl Status {
    /// Fills the worded views (`sim`, `network`, `signal`) from the last poll.
    pub fn set_readings(&mut self, snap: &Snapshot) {
        let sim = &snap.sim;
        let state_words = match sim.state {
            Some(SimState::Ready) => "SIM ready",
            Some(SimState::PinRequired) => "SIM needs its PIN",
            Some(SimState::PukRequired) => "SIM blocked (needs its PUK)",
            Some(SimState::NotInserted) => "no SIM",
            Some(SimState::Busy) => "SIM busy",
            Some(SimState::Error) => "SIM failure",
            None => "SIM state unknown",
        };
        let text = match &sim.iccid {
            Some(i) => format!("{state_words} · ICCID {i}"),
            None => state_words.to_string(),
        };
        self.sim = Some(SimView {
            as_of: snap.taken_at,
            state: sim.state,
            iccid: sim.iccid.clone(),
            text,
        });
        let reg = &snap.registration;
        let tech = reg.tech.map(tech_name);
        self.network = Some(NetworkView {
            as_of: snap.taken_at,
            operator: reg.operator.clone(),
            tech,
            registration: reg.state,
            text: network_text(tech, reg.state, reg.operator.as_deref()),
        });
        let s = &snap.signal;
        let registered = reg.state.is_some_and(RegState::is_registered);
        let word = signal_word(s.rsrp_dbm, s.sinr_db);
        self.signal = Some(SignalView {
            as_of: snap.taken_at,
            rsrp_dbm: s.rsrp_dbm,
            rsrq_db: s.rsrq_db,
            sinr_db: s.sinr_db,
            rssi_dbm: s.rssi_dbm,
            quality_pct: s.quality_pct,
            band: s.band,
            nr: s.nr.clone(),
            word,
            bars: match (registered, word) {
                (false, _) => 0,
                (true, Some(SignalWord::Excellent)) => 4,
                (true, Some(SignalWord::Good)) => 3,
                (true, Some(SignalWord::Fair)) => 2,
                (true, _) => 1,
            },
        });
    }
}

/// The technology as people say it.
pub fn tech_name(t: Tech) -> &'static str {
    match t {
        Tech::Gsm => "2G",
        Tech::Umts => "3G",
        Tech::Lte => "LTE",
        Tech::Nr5gNsa => "5G NSA",
        Tech::Nr5gSa => "5G SA",
    }
}

/// `LTE · home network`, `LTE · roaming on Vodafone`, `searching for a network`.
pub fn network_text(tech: Option<&str>, reg: Option<RegState>, operator: Option<&str>) -> String {
    let state = match reg {
        Some(RegState::Home) => "home network".to_string(),
        Some(RegState::Roaming) => match operator {
            Some(o) => format!("roaming on {o}"),
            None => "roaming".into(),
        },
        Some(RegState::Searching) => "searching for a network".into(),
        Some(RegState::Denied) => "registration refused".into(),
        Some(RegState::NotRegistered) => "not registered".into(),
        Some(RegState::Unknown) | None => "registration unknown".into(),
    };
    match (tech, reg.is_some_and(RegState::is_registered)) {
        (Some(t), true) => format!("{t} · {state}"),
        _ => state,
    }
}

/// Totals since the daemon started, for `/metrics`. Saturating: release builds have overflow
/// checks on, and a counter must never be what stops the daemon. 32-bit because 32-bit MIPS
/// routers have no 64-bit atomics; at one poll a second that is 136 years.
#[derive(Debug, Default)]
pub struct Counters {
    pub polls: AtomicU32,
    pub poll_failures: AtomicU32,
    pub reconnects: AtomicU32,
    pub at_timeouts: AtomicU32,
    pub sms_received: AtomicU32,
    pub sms_sent: AtomicU32,
    pub ussd_sessions: AtomicU32,
    /// Notifications dropped: the agent's queue to the delivery task was full, or the outbox
    /// (or the deliveries held in memory) overflowed.
    pub notifications_dropped: AtomicU32,
}

impl Counters {
    /// Adds one, stopping at `u32::MAX`.
    pub fn bump(c: &AtomicU32) {
        Self::add(c, 1);
    }

    /// Adds `n`, stopping at `u32::MAX`.
    pub fn add(c: &AtomicU32, n: u64) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_add(n))
        });
    }

    pub fn get(c: &AtomicU32) -> u64 {
        u64::from(c.load(Ordering::Relaxed))
    }
}

/// Unix seconds as RFC 3339 UTC in JSON.
pub fn rfc3339<S: Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&utc_string(*t))
}

pub fn rfc3339_opt<S: Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&utc_string(*t)),
        None => s.serialize_none(),
    }
}

/// The snapshot as before, with `taken_at` as RFC 3339.
fn snapshot_json<S: Serializer>(p: &Option<Snapshot>, s: S) -> Result<S::Ok, S::Error> {
    let Some(p) = p else {
        return s.serialize_none();
    };
    let mut v = serde_json::to_value(p).map_err(serde::ser::Error::custom)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("taken_at".into(), utc_string(p.taken_at).into());
    }
    v.serialize(s)
}

/// Unix time now, in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_words_follow_the_rsrp_and_sinr_bands_and_take_the_worse() {
        assert_eq!(
            signal_word(Some(-75.0), Some(25.0)),
            Some(SignalWord::Excellent)
        );
        assert_eq!(signal_word(Some(-85.0), None), Some(SignalWord::Good));
        assert_eq!(signal_word(Some(-95.0), Some(25.0)), Some(SignalWord::Fair));
        assert_eq!(signal_word(Some(-75.0), Some(-2.0)), Some(SignalWord::Poor));
        assert_eq!(signal_word(Some(-115.0), None), Some(SignalWord::Poor));
        assert_eq!(signal_word(None, Some(15.0)), Some(SignalWord::Good));
        assert_eq!(signal_word(None, None), None);
    }

    #[test]
    fn network_lines_read_as_words() {
        assert_eq!(
            network_text(Some("LTE"), Some(RegState::Home), Some("NTT DOCOMO")),
            "LTE · home network"
        );
        assert_eq!(
            network_text(Some("5G NSA"), Some(RegState::Roaming), Some("Vodafone")),
            "5G NSA · roaming on Vodafone"
        );
        assert_eq!(
            network_text(Some("LTE"), Some(RegState::Searching), None),
            "searching for a network"
        );
    }

    fn report(remaining: u64) -> UsageReport {
        UsageReport {
            iccid: "8981100022152467221".into(),
            used_bytes: Some(3 * 1024 * 1024 * 1024 - remaining),
            quota_bytes: Some(3 * 1024 * 1024 * 1024),
            remaining_bytes: Some(remaining),
            source: None,
            as_of: Some(1_796_119_200),
            age_secs: Some(60),
            carrier_as_of: None,
            carrier_remaining_bytes: None,
            cycle_start: 1_795_600_800,
            cycle_end: 1_798_192_800,
            runs_out_at: None,
            burn_bytes_per_day: None,
        }
    }

    #[test]
    fn usage_strings_use_the_plans_unit_base_only() {
        let r = report(524 * 1024 * 1024);
        let v = UsageView::new(&r, UnitBase::Binary, 1_796_119_200);
        assert_eq!(v.remaining_text.as_deref(), Some("524 MiB of 3 GiB"));
        assert_eq!(v.remaining_pct, Some(17));
        let v = UsageView::new(&r, UnitBase::Decimal, 1_796_119_200);
        assert_eq!(v.remaining_text.as_deref(), Some("549.45 MB of 3.22 GB"));
        let json = serde_json::to_string(&v).unwrap();
        assert!(
            !json.contains("iB"),
            "binary units in a decimal plan: {json}"
        );
        assert!(json.contains("\"cycle_end\":\"2026-12-25T"), "{json}");
    }

    #[test]
    fn days_left_round_up_and_stop_at_zero() {
        let r = report(1);
        assert_eq!(
            UsageView::new(&r, UnitBase::Binary, r.cycle_end - 1).days_left,
            1
        );
        assert_eq!(
            UsageView::new(&r, UnitBase::Binary, r.cycle_end - 86_400).days_left,
            1
        );
        assert_eq!(
            UsageView::new(&r, UnitBase::Binary, r.cycle_end - 86_401).days_left,
            2
        );
        assert_eq!(
            UsageView::new(&r, UnitBase::Binary, r.cycle_end + 5).days_left,
            0
        );
    }

    #[test]
    fn counters_saturate_instead_of_overflowing() {
        let c = Counters::default();
        c.polls.store(u32::MAX - 1, Ordering::Relaxed);
        Counters::bump(&c.polls);
        Counters::bump(&c.polls);
        assert_eq!(Counters::get(&c.polls), u64::from(u32::MAX));
    }
}
