//! Combines the sources into the figure `simkeep usage` shows, per SIM (keyed by ICCID).
//!
//! Must not: read the clock, the modem or files — the daemon feeds observations in with their
//! time, and persists `UsageState` (serde) through the store.
//!
//! Rules (issue 5): the carrier's reading is authoritative while fresh (`carrier_max_age_secs`);
//! between readings the local counters carry it forward (remaining = carrier remaining − bytes
//! counted since the reading); without a fresh reading, used = bytes counted since the cycle
//! started and remaining = quota − used. Of the local counters the modem's is preferred while
//! it is being read (it counts what the network counts, closer to the carrier's figure), else the
//! interface's. Swapping SIMs switches plan and counts; swapping back resumes the first SIM's
//! cycle where it was.

use super::carrier::CarrierReading;
use super::counters::{IfaceCounters, Traffic, TrafficTracker};
use super::cycle::cycle_bounds;
use super::forecast::{BurnWindow, DEFAULT_CAPACITY, DEFAULT_WINDOW_SECS};
use super::plan::Plan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Carrier,
    Modem,
    Interface,
}

/// Tunables (config keys in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstimatorConfig {
    /// A carrier reading older than this is ignored [`usage.carrier.max_age`, default 12 h:
    /// twice the default `usage.carrier.interval` of 6 h].
    pub carrier_max_age_secs: i64,
    /// Modem counters not read for this long give way to the interface's [default 10 min].
    pub modem_stale_secs: i64,
    /// At most this many SIMs are remembered; the least recently used is forgotten [16].
    pub max_sims: usize,
    pub burn_window_secs: i64,
    pub burn_capacity: usize,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig {
            carrier_max_age_secs: 12 * 3600,
            modem_stale_secs: 600,
            max_sims: 16,
            burn_window_secs: DEFAULT_WINDOW_SECS,
            burn_capacity: DEFAULT_CAPACITY,
        }
    }
}

/// What `simkeep usage --json` and `GET /api/v1/usage` print. Times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    pub iccid: String,
    pub used_bytes: Option<u64>,
    pub quota_bytes: Option<u64>,
    pub remaining_bytes: Option<u64>,
    /// Where `remaining_bytes`/`used_bytes` come from; `None` when nothing was observed yet.
    pub source: Option<Source>,
    /// When that source last spoke.
    pub as_of: Option<i64>,
    pub age_secs: Option<i64>,
    /// The carrier reading of this cycle, even when too old to be used.
    pub carrier_as_of: Option<i64>,
    /// What that carrier reading said was left.
    pub carrier_remaining_bytes: Option<u64>,
    pub cycle_start: i64,
    pub cycle_end: i64,
    pub runs_out_at: Option<i64>,
    pub burn_bytes_per_day: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LocalCount {
    /// Bytes counted in the current cycle.
    bytes: u64,
    /// Bytes counted ever (feeds the burn rate, so it does not restart at the cycle boundary).
    lifetime: u64,
    last_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CarrierMark {
    remaining_bytes: u64,
    at: i64,
    matched_text: String,
    /// The local counts at the moment of the reading, to carry it forward.
    modem_at_reading: u64,
    interface_at_reading: u64,
}

/// One SIM's plan and counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUsage {
    plan: Plan,
    cycle_start: i64,
    cycle_end: i64,
    modem: LocalCount,
    interface: LocalCount,
    carrier: Option<CarrierMark>,
    /// Not persisted: the samples were most of the saved state (~2 KB of the ~2.5 KB written at
    /// every flush, which pushed the store past 1 MB/day of flash writes), and the forecast
    /// refills from live samples within its window after a restart.
    #[serde(skip)]
    burn: BurnWindow,
    #[serde(skip)]
    burn_source: Option<Source>,
    last_active: i64,
}

impl SimUsage {
    fn new(plan: Plan, now: i64, cfg: &EstimatorConfig) -> SimUsage {
        let (cycle_start, cycle_end) = cycle_bounds(&plan.cycle, &plan.tz, now);
        SimUsage {
            plan,
            cycle_start,
            cycle_end,
            modem: LocalCount::default(),
            interface: LocalCount::default(),
            carrier: None,
            burn: BurnWindow::new(cfg.burn_capacity, cfg.burn_window_secs),
            burn_source: None,
            last_active: now,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn count(&self, src: Source) -> LocalCount {
        match src {
            Source::Modem => self.modem,
            Source::Interface | Source::Carrier => self.interface,
        }
    }

    /// Starts a new cycle when `now` is past the stored one (or the plan moved it).
    fn roll(&mut self, now: i64) {
        let bounds = cycle_bounds(&self.plan.cycle, &self.plan.tz, now);
        if bounds == (self.cycle_start, self.cycle_end) {
            return;
        }
        (self.cycle_start, self.cycle_end) = bounds;
        self.modem.bytes = 0;
        self.interface.bytes = 0;
        // A reading from before the reset describes the old allowance.
        if self.carrier.as_ref().is_some_and(|c| c.at < bounds.0) {
            self.carrier = None;
        }
    }

    fn preferred(&self, now: i64, cfg: &EstimatorConfig) -> Option<Source> {
        let modem_fresh = self
            .modem
            .last_at
            .is_some_and(|t| now.saturating_sub(t) <= cfg.modem_stale_secs);
        if modem_fresh {
            Some(Source::Modem)
        } else if self.interface.last_at.is_some() {
            Some(Source::Interface)
        } else {
            self.modem.last_at.map(|_| Source::Modem)
        }
    }

    fn add_local(&mut self, src: Source, delta: u64, now: i64, cfg: &EstimatorConfig) {
        self.roll(now);
        let count = match src {
            Source::Modem => &mut self.modem,
            Source::Interface | Source::Carrier => &mut self.interface,
        };
        count.bytes = count.bytes.saturating_add(delta);
        count.lifetime = count.lifetime.saturating_add(delta);
        count.last_at = Some(now);
        let lifetime = count.lifetime;
        if self.preferred(now, cfg) == Some(src) {
            if self.burn_source != Some(src) {
                self.burn.clear();
                self.burn_source = Some(src);
            }
            self.burn.push(now, lifetime);
        }
    }

    fn report(&self, iccid: &str, now: i64, cfg: &EstimatorConfig) -> UsageReport {
        let (start, end) = cycle_bounds(&self.plan.cycle, &self.plan.tz, now);
        let same_cycle = (start, end) == (self.cycle_start, self.cycle_end);
        let src = self.preferred(now, cfg);
        let local = src.map(|s| {
            let c = self.count(s);
            LocalCount {
                bytes: if same_cycle { c.bytes } else { 0 },
                ..c
            }
        });
        let carrier = self.carrier.as_ref().filter(|c| c.at >= start);
        let fresh = carrier.filter(|c| now.saturating_sub(c.at) <= cfg.carrier_max_age_secs);
        let quota = self.plan.quota_bytes;
        let (used, remaining, source, as_of) = match (fresh, src, local) {
            (Some(c), _, _) => {
                let since = match (src, local) {
                    (Some(Source::Modem), Some(l)) => l.bytes.saturating_sub(c.modem_at_reading),
                    (Some(_), Some(l)) => l.bytes.saturating_sub(c.interface_at_reading),
                    _ => 0,
                };
                let remaining = c.remaining_bytes.saturating_sub(since);
                let carried = since > 0 && local.and_then(|l| l.last_at).is_some_and(|t| t > c.at);
                let (source, as_of) = match (carried, src) {
                    (true, Some(s)) => (s, local.and_then(|l| l.last_at)),
                    _ => (Source::Carrier, Some(c.at)),
                };
                let used = quota
                    .map(|q| q.saturating_sub(remaining))
                    .or(local.map(|l| l.bytes));
                (used, Some(remaining), Some(source), as_of)
            }
            (None, Some(s), Some(l)) => {
                let remaining = quota.map(|q| q.saturating_sub(l.bytes));
                (Some(l.bytes), remaining, Some(s), l.last_at)
            }
            _ => (None, None, None, None),
        };
        UsageReport {
            iccid: iccid.to_owned(),
            used_bytes: used,
            quota_bytes: quota,
            remaining_bytes: remaining,
            source,
            as_of,
            age_secs: as_of.map(|t| now.saturating_sub(t).max(0)),
            carrier_as_of: carrier.map(|c| c.at),
            carrier_remaining_bytes: carrier.map(|c| c.remaining_bytes),
            cycle_start: start,
            cycle_end: end,
            runs_out_at: remaining.and_then(|r| self.burn.runs_out_at(r, now)),
            burn_bytes_per_day: self.burn.bytes_per_day(),
        }
    }
}

/// Everything the estimator remembers; persist it with serde and hand it back after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageState {
    sims: BTreeMap<String, SimUsage>,
    active: Option<String>,
    modem: TrafficTracker,
    interface: TrafficTracker,
}

impl UsageState {
    pub fn sim(&self, iccid: &str) -> Option<&SimUsage> {
        self.sims.get(iccid)
    }
}

/// The usage model: feed it observations, ask it for reports.
#[derive(Debug, Clone)]
pub struct Estimator {
    cfg: EstimatorConfig,
    state: UsageState,
}

/// ICCIDs are at most 20 digits (ITU-T E.118); anything longer is cut so a garbled reply
/// cannot grow the state.
const MAX_ICCID_CHARS: usize = 24;

impl Estimator {
    pub fn new(cfg: EstimatorConfig) -> Estimator {
        Estimator {
            cfg,
            state: UsageState::default(),
        }
    }

    /// Resumes from persisted state.
    pub fn from_state(cfg: EstimatorConfig, state: UsageState) -> Estimator {
        Estimator { cfg, state }
    }

    pub fn state(&self) -> &UsageState {
        &self.state
    }

    pub fn active_sim(&self) -> Option<&str> {
        self.state.active.as_deref()
    }

    /// The SIM with `iccid` is (now) in the modem, counting against `plan`. A SIM seen before
    /// resumes its counts (its cycle restarts only if it ended or the plan moved it).
    pub fn activate_sim(&mut self, iccid: &str, plan: Plan, now: i64) {
        let key: String = iccid.trim().chars().take(MAX_ICCID_CHARS).collect();
        if self.state.active.as_deref() != Some(key.as_str()) {
            // Counts read before the swap belong to the other SIM: start from the next reading.
            self.state.modem.rebaseline();
            self.state.interface.rebaseline();
            if let Some(sim) = self.state.sims.get_mut(&key) {
                sim.burn.clear();
            }
            self.state.active = Some(key.clone());
        }
        if let Some(sim) = self.state.sims.get_mut(&key) {
            sim.plan = plan;
            sim.roll(now);
            sim.last_active = now;
            return;
        }
        while self.state.sims.len() >= self.cfg.max_sims.max(1) {
            let oldest = self
                .state
                .sims
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, s)| s.last_active)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.state.sims.remove(&k),
                None => break,
            };
        }
        self.state
            .sims
            .insert(key, SimUsage::new(plan, now, &self.cfg));
    }

    /// Feeds an interface counter reading; returns the bytes it added to the active SIM.
    pub fn observe_interface(&mut self, reading: &IfaceCounters, now: i64) -> u64 {
        let delta = self
            .state
            .interface
            .observe(reading.traffic, reading.ifindex, now);
        self.credit(Source::Interface, delta, now)
    }

    /// Feeds a modem counter reading (`generation` changes when the modem restarted, e.g. a
    /// boot counter bumped on `RDY`); returns the bytes it added to the active SIM.
    pub fn observe_modem(&mut self, traffic: Traffic, generation: Option<u64>, now: i64) -> u64 {
        let delta = self.state.modem.observe(traffic, generation, now);
        self.credit(Source::Modem, delta, now)
    }

    fn credit(&mut self, src: Source, delta: u64, now: i64) -> u64 {
        let cfg = self.cfg;
        match self.active_mut() {
            Some(sim) => {
                sim.add_local(src, delta, now, &cfg);
                delta
            }
            None => 0,
        }
    }

    /// Records the carrier's figure for the active SIM; false if no SIM is active.
    pub fn record_carrier(&mut self, reading: &CarrierReading, now: i64) -> bool {
        let Some(sim) = self.active_mut() else {
            return false;
        };
        sim.roll(now);
        sim.carrier = Some(CarrierMark {
            remaining_bytes: reading.remaining_bytes,
            at: now,
            matched_text: reading.matched_text.chars().take(200).collect(),
            modem_at_reading: sim.modem.bytes,
            interface_at_reading: sim.interface.bytes,
        });
        true
    }

    /// The figure for the active SIM.
    pub fn report(&self, now: i64) -> Option<UsageReport> {
        let iccid = self.state.active.as_deref()?;
        self.report_for(iccid, now)
    }

    /// The figure for any remembered SIM.
    pub fn report_for(&self, iccid: &str, now: i64) -> Option<UsageReport> {
        let sim = self.state.sims.get(iccid)?;
        Some(sim.report(iccid, now, &self.cfg))
    }

    fn active_mut(&mut self) -> Option<&mut SimUsage> {
        let key = self.state.active.as_deref()?;
        self.state.sims.get_mut(key)
    }
}

#[cfg(test)]
#[path = "estimator_tests.rs"]
mod tests;
