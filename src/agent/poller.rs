//! Turns poll results into the published status: the readings with their age, what needs
//! attention (through [`AttentionModel`]), the counters `/metrics` shows, and log lines that
//! read as sentences and appear only when something changes.
//!
//! Must not: talk to the modem or the store (the agent loop does, and hands the results in).

use std::sync::Arc;

use tokio::sync::watch;

use super::attention::{AttentionChange, AttentionModel, Inputs, Level};
use super::status::{signal_word, tech_name, Counters, Status};
use crate::at;
use crate::config::Config;
use crate::modem::driver::{ModemEvent, Snapshot};
use crate::modem::model::{RegState, SimState};
use crate::usage::{UnitBase, UsageReport};

/// Seconds after which readings are stale: two polls missed, plus slack for a poll that itself
/// waits on AT timeouts.
pub fn stale_after(cfg: &Config) -> i64 {
    let poll = i64::try_from(cfg.modem.poll_interval.as_secs()).unwrap_or(i64::MAX / 4);
    poll.saturating_mul(2).saturating_add(10)
}

/// Owned by the agent loop.
pub struct Poller {
    /// The last successful poll.
    pub last: Option<Snapshot>,
    last_error: Option<String>,
    /// What the driver said about the SIM in the last poll (wrong PIN, PUK…).
    sim_messages: Vec<String>,
    attention: AttentionModel,
    /// The store's last error, refreshed every poll by the loop.
    pub store_error: Option<String>,
    counters: Arc<Counters>,
    started_at: i64,
    /// Readings older than this (seconds) are stale, and the modem counts as lost.
    stale_after: i64,
    unit_base: Option<UnitBase>,
    topup_threshold: Option<crate::config::Threshold>,
}

impl Poller {
    pub fn new(cfg: &Config, counters: Arc<Counters>, started_at: i64) -> Self {
        Poller {
            last: None,
            last_error: None,
            sim_messages: Vec::new(),
            attention: AttentionModel::new(cfg.alerts.clone()),
            store_error: None,
            counters,
            started_at,
            stale_after: stale_after(cfg),
            unit_base: cfg.usage.as_ref().map(|u| u.plan.unit_base),
            topup_threshold: cfg.topup.enabled.then_some(cfg.topup.threshold),
        }
    }

    /// One poll's result: counters, logs, and the raw readings in the status.
    pub fn handle(
        &mut self,
        result: Result<(Snapshot, Vec<ModemEvent>), at::AtError>,
        status: &watch::Sender<Status>,
    ) {
        Counters::bump(&self.counters.polls);
        match result {
            Ok((snap, events)) => {
                if self.last_error.take().is_some() {
                    tracing::info!("modem answers polls again");
                }
                self.log_changes(&snap);
                self.sim_messages.clear();
                for e in events {
                    match e {
                        ModemEvent::SimChanged { from: None, to } => {
                            tracing::info!("SIM found, ICCID {to}")
                        }
                        ModemEvent::SimChanged {
                            from: Some(from),
                            to,
                        } => tracing::warn!("SIM swapped: ICCID {from} replaced by {to}"),
                        ModemEvent::PinSent => tracing::info!("SIM PIN sent"),
                        // Logged once as an attention condition, not every poll.
                        ModemEvent::SimNeedsAttention(msg) => self.sim_messages.push(msg),
                    }
                }
                self.last = Some(snap.clone());
                status.send_modify(|s| {
                    // Fresh now; `publish` re-evaluates the rest after this poll's other work.
                    s.stale = false;
                    s.stale_reason = None;
                    s.age_secs = Some(0);
                    s.as_of = Some(snap.taken_at);
                    s.set_readings(&snap);
                    s.last_poll = Some(snap);
                    s.poll_error = None;
                });
            }
            Err(e) => {
                Counters::bump(&self.counters.poll_failures);
                if matches!(e, at::AtError::Timeout { .. }) {
                    Counters::bump(&self.counters.at_timeouts);
                }
                let msg = e.to_string();
                // Log each distinct failure once, not every poll.
                if self.last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!("poll failed: {msg}");
                    self.last_error = Some(msg.clone());
                }
                status.send_modify(|s| s.poll_error = Some(msg));
            }
        }
    }

    /// Re-evaluates attention and staleness and publishes them; logs what was raised/cleared.
    /// Returns the transitions (for notifications).
    pub fn publish(
        &mut self,
        status: &watch::Sender<Status>,
        usage: Option<&UsageReport>,
        now: i64,
    ) -> Vec<AttentionChange> {
        let (modem_error, topup) = {
            let s = status.borrow();
            let err = match (&s.link_error, &s.poll_error) {
                (Some(l), _) if s.link != "connected" => Some(l.clone()),
                _ if s.link != "connected" => Some(format!("the modem link is {}", s.link)),
                (_, Some(p)) => Some(p.clone()),
                _ => None,
            };
            (err, s.topup.clone())
        };
        let inputs = Inputs {
            now,
            started_at: self.started_at,
            snapshot: self.last.as_ref(),
            stale_after: self.stale_after,
            modem_error: modem_error.as_deref(),
            sim_messages: &self.sim_messages,
            usage,
            unit_base: self.unit_base,
            topup: topup.as_ref(),
            topup_threshold: self.topup_threshold,
            store_error: self.store_error.as_deref(),
        };
        let stale = inputs.stale();
        let age = self.last.as_ref().map(|s| now.saturating_sub(s.taken_at));
        let stale_reason = match (&modem_error, age) {
            _ if !stale => None,
            (Some(e), _) => Some(format!("the modem does not answer: {e}")),
            (None, Some(a)) => Some(format!("the last reading is {a}s old")),
            (None, None) => Some("no reading from the modem yet".into()),
        };
        let changes = self.attention.evaluate(&inputs);
        for c in &changes {
            match c {
                AttentionChange::Raised(a) if a.level == Level::Critical => {
                    tracing::error!("{}", a.message)
                }
                AttentionChange::Raised(a) => tracing::warn!("{}", a.message),
                AttentionChange::Cleared { was, .. } => {
                    tracing::info!("resolved: {}", was.message)
                }
            }
        }
        let list = self.attention.current();
        let overall = self.attention.overall();
        let stale_after = self.stale_after;
        status.send_modify(|s| {
            s.stale_after_secs = stale_after;
            s.attention = list;
            s.overall = overall;
            s.age_secs = age;
            s.stale = stale;
            s.stale_reason = stale_reason;
        });
        changes
    }

    /// Logs what changed since the last poll, as sentences.
    fn log_changes(&self, new: &Snapshot) {
        let old = self.last.as_ref();
        if old.map(|o| &o.modem) != Some(&new.modem) {
            tracing::info!("{}", modem_sentence(new));
        }
        if old.map(|o| (&o.sim.state, &o.sim.iccid)) != Some((&new.sim.state, &new.sim.iccid)) {
            tracing::info!("{}", sim_sentence(new.sim.state, new.sim.iccid.as_deref()));
        }
        let reg = &new.registration;
        if old.map(|o| &o.registration) != Some(reg) {
            tracing::info!("{}", registration_sentence(new));
        }
        // Signal wobbles every poll: log only a change of band, of word, or a quality step of
        // 10 points.
        let s = &new.signal;
        let moved = match old.map(|o| &o.signal) {
            None => true,
            Some(o) => {
                o.band != s.band
                    || o.quality_pct.map(|q| q / 10) != s.quality_pct.map(|q| q / 10)
                    || signal_word(o.rsrp_dbm, o.sinr_db) != signal_word(s.rsrp_dbm, s.sinr_db)
            }
        };
        if moved {
            tracing::info!("{}", signal_sentence(new));
        }
    }
}

/// `modem Quectel EC25 (revision EC25EFAR06A08M4G), profile quectel`
fn modem_sentence(s: &Snapshot) -> String {
    let m = &s.modem;
    let name: Vec<&str> = [m.manufacturer.as_deref(), m.model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let name = if name.is_empty() {
        "an unnamed modem".to_string()
    } else {
        name.join(" ")
    };
    let rev = m
        .revision
        .as_deref()
        .map(|r| format!(" (revision {r})"))
        .unwrap_or_default();
    format!("modem {name}{rev}, profile {}", s.profile)
}

/// `SIM ready, ICCID 8981…`, `SIM busy`, `no SIM in the modem`.
pub fn sim_sentence(state: Option<SimState>, iccid: Option<&str>) -> String {
    let words = match state {
        Some(SimState::Ready) => "SIM ready",
        Some(SimState::PinRequired) => "SIM asks for its PIN",
        Some(SimState::PukRequired) => "SIM blocked, asks for its PUK",
        Some(SimState::NotInserted) => return "no SIM in the modem".into(),
        Some(SimState::Busy) => "SIM busy",
        Some(SimState::Error) => "SIM reports a failure",
        None => "SIM state unknown",
    };
    match iccid {
        Some(i) => format!("{words}, ICCID {i}"),
        None => words.into(),
    }
}

/// `registered on NTT DOCOMO (LTE, home)`, `roaming on Vodafone (LTE)`, `searching for a
/// network`.
pub fn registration_sentence(s: &Snapshot) -> String {
    let reg = &s.registration;
    let op = reg.operator.as_deref().unwrap_or("an unnamed network");
    let tech = reg.tech.map(tech_name);
    let cell = reg
        .cell_id
        .map(|c| format!(", cell {c:X}"))
        .unwrap_or_default();
    match reg.state {
        Some(RegState::Home) => match tech {
            Some(t) => format!("registered on {op} ({t}, home{cell})"),
            None => format!("registered on {op} (home{cell})"),
        },
        Some(RegState::Roaming) => match tech {
            Some(t) => format!("roaming on {op} ({t}{cell})"),
            None => format!("roaming on {op}"),
        },
        Some(RegState::Searching) => "searching for a network".into(),
        Some(RegState::Denied) => "the network refused registration".into(),
        Some(RegState::NotRegistered) => "not registered on a network".into(),
        Some(RegState::Unknown) | None => "registration state unknown".into(),
    }
}

/// `signal good: RSRP -95 dBm, SINR 12 dB, band 3, 70 %`
pub fn signal_sentence(s: &Snapshot) -> String {
    let g = &s.signal;
    let word = signal_word(g.rsrp_dbm, g.sinr_db).map_or("unknown", |w| match w {
        super::status::SignalWord::Excellent => "excellent",
        super::status::SignalWord::Good => "good",
        super::status::SignalWord::Fair => "fair",
        super::status::SignalWord::Poor => "poor",
    });
    let parts: Vec<String> = [
        g.rsrp_dbm.map(|v| format!("RSRP {v} dBm")),
        g.rsrq_db.map(|v| format!("RSRQ {v} dB")),
        g.sinr_db.map(|v| format!("SINR {v} dB")),
        g.rssi_dbm
            .filter(|_| g.rsrp_dbm.is_none())
            .map(|v| format!("RSSI {v} dBm")),
        g.band.map(|b| format!("band {b}")),
        g.nr.as_ref()
            .and_then(|n| n.band)
            .map(|b| format!("NR band n{b}")),
        g.quality_pct.map(|q| format!("{q} %")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        format!("signal {word}")
    } else {
        format!("signal {word}: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::model::Tech;

    #[test]
    fn log_lines_read_as_sentences() {
        assert_eq!(
            sim_sentence(Some(SimState::Ready), Some("8981100022152467221")),
            "SIM ready, ICCID 8981100022152467221"
        );
        assert_eq!(sim_sentence(Some(SimState::Busy), None), "SIM busy");
        assert_eq!(
            sim_sentence(Some(SimState::NotInserted), None),
            "no SIM in the modem"
        );
        let mut s = Snapshot::default();
        s.registration.state = Some(RegState::Home);
        s.registration.tech = Some(Tech::Lte);
        s.registration.operator = Some("NTT DOCOMO".into());
        assert_eq!(
            registration_sentence(&s),
            "registered on NTT DOCOMO (LTE, home)"
        );
        s.registration.state = Some(RegState::Searching);
        assert_eq!(registration_sentence(&s), "searching for a network");
        s.signal.rsrp_dbm = Some(-95.0);
        s.signal.sinr_db = Some(12.0);
        s.signal.band = Some(3);
        assert_eq!(
            signal_sentence(&s),
            "signal fair: RSRP -95 dBm, SINR 12 dB, band 3"
        );
        s.modem.manufacturer = Some("Quectel".into());
        s.modem.model = Some("EC25".into());
        s.profile = "quectel".into();
        assert_eq!(modem_sentence(&s), "modem Quectel EC25, profile quectel");
    }
}
