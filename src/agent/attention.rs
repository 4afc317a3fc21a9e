//! What needs the owner's attention: one pure model turning the agent's latest readings (poll,
//! link, usage, top-ups, store, clock) into a list of conditions, each with a level, a stable
//! code, a plain sentence and the time it was first raised. The status document, `simkeep
//! status`, the page and `/metrics` all read this list; [`AttentionModel::evaluate`] also returns
//! what was raised or cleared, for notifications to subscribe to.
//!
//! Must not: do I/O, read the clock (time comes in), or log. Hysteresis lives here, so a value
//! hovering at a limit raises a condition once and clears it once, not every poll.
//!
//! Readings that are stale (the modem stopped answering) are not evidence: conditions derived
//! from the modem are neither raised nor cleared while stale — `modem_lost` says what happened.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::agent::topup::TopupStatus;
use crate::config::Threshold;
use crate::modem::driver::Snapshot;
use crate::modem::model::{RegState, SimState};
use crate::usage::{format_size, UnitBase, UsageReport};

/// How urgent a condition is. `Critical`: nothing works (or money may be gone) until a person
/// acts. `Warning`: worth knowing, the line still works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// The headline: the worst level in the list, or `Ok`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    #[default]
    Ok,
    Warning,
    Critical,
}

/// Stable codes: the API, metrics labels and notifications key on these, so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    DataLow,
    DataExhausted,
    RunsOutBeforeCycleEnd,
    SignalWeak,
    NoService,
    ModemLost,
    SimMissing,
    SimPin,
    SimPuk,
    Roaming,
    StoreUnhealthy,
    ClockUntrusted,
    TopupPaused,
    TopupUnverified,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::DataLow => "data_low",
            Code::DataExhausted => "data_exhausted",
            Code::RunsOutBeforeCycleEnd => "runs_out_before_cycle_end",
            Code::SignalWeak => "signal_weak",
            Code::NoService => "no_service",
            Code::ModemLost => "modem_lost",
            Code::SimMissing => "sim_missing",
            Code::SimPin => "sim_pin",
            Code::SimPuk => "sim_puk",
            Code::Roaming => "roaming",
            Code::StoreUnhealthy => "store_unhealthy",
            Code::ClockUntrusted => "clock_untrusted",
            Code::TopupPaused => "topup_paused",
            Code::TopupUnverified => "topup_unverified",
        }
    }

    /// Conditions read from the modem's own answers: frozen while those answers are stale.
    fn read_from_modem(self) -> bool {
        matches!(
            self,
            Code::SignalWeak
                | Code::NoService
                | Code::SimMissing
                | Code::SimPin
                | Code::SimPuk
                | Code::Roaming
        )
    }
}

/// One condition that holds now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attention {
    pub code: Code,
    pub level: Level,
    /// A sentence for a person; may name the figures that raised it (they are refreshed while
    /// the condition holds, `since` is not).
    pub message: String,
    /// When it was first raised (unix seconds; RFC 3339 in JSON).
    #[serde(serialize_with = "crate::agent::status::rfc3339")]
    pub since: i64,
}

/// Existing code that listed attention sentences (`for a in &s.attention { esc(a) }`) keeps
/// working: an attention item reads as its sentence.
impl std::ops::Deref for Attention {
    type Target = str;
    fn deref(&self) -> &str {
        &self.message
    }
}

/// A transition, for notifications: raised once when a condition starts, cleared once when it
/// ends (hysteresis included), never repeated while it holds.
#[derive(Debug, Clone, PartialEq)]
pub enum AttentionChange {
    Raised(Attention),
    /// The condition as it was last shown, and when it ended.
    Cleared {
        was: Attention,
        at: i64,
    },
}

/// `[alerts]` in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// Data counts as low below this; `None` = below the top-up threshold when top-ups are on,
    /// else 10 % of the quota.
    pub data_low: Option<Threshold>,
    /// Signal counts as weak below this RSRP (dBm).
    pub rsrp_below: f64,
    /// Roaming is how this SIM works (a travel SIM): do not warn about it.
    pub roaming_expected: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            data_low: None,
            rsrp_below: -110.0,
            roaming_expected: false,
        }
    }
}

/// Signal must rise this far above `rsrp_below` before `signal_weak` clears: RSRP wobbles by
/// a few dB from one poll to the next on a still router.
pub const RSRP_CLEAR_MARGIN_DB: f64 = 3.0;
/// `data_low` clears only once the balance is this share of the threshold above it (a top-up
/// lands far above; a carrier figure rounded either way does not clear it).
const DATA_LOW_CLEAR_PERCENT: u64 = 10;
/// A forecast must move this far past the cycle end to clear `runs_out_before_cycle_end`.
const RUN_OUT_CLEAR_MARGIN_SECS: i64 = 12 * 3600;

/// Everything the model looks at, borrowed from the agent for one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    pub now: i64,
    /// When the agent started (a modem that never answered since counts as lost too).
    pub started_at: i64,
    /// The last successful poll.
    pub snapshot: Option<&'a Snapshot>,
    /// Readings older than this (seconds) are stale; also how long before `modem_lost`.
    pub stale_after: i64,
    /// The last poll failed (its error), or the link is down (its cause).
    pub modem_error: Option<&'a str>,
    /// What the driver said about the SIM this poll (wrong PIN, PUK…), used as the sentence.
    pub sim_messages: &'a [String],
    pub usage: Option<&'a UsageReport>,
    pub unit_base: Option<UnitBase>,
    pub topup: Option<&'a TopupStatus>,
    /// The top-up threshold, when top-ups are on (the default `data_low`).
    pub topup_threshold: Option<Threshold>,
    /// The store's last error (full disk, read-only, corrupt).
    pub store_error: Option<&'a str>,
}

impl Inputs<'_> {
    /// Are the modem's readings too old to act on?
    pub fn stale(&self) -> bool {
        self.modem_error.is_some()
            || self
                .snapshot
                .is_none_or(|s| self.now.saturating_sub(s.taken_at) > self.stale_after)
    }
}

/// The model: the conditions that hold, kept between evaluations for their `since`.
#[derive(Debug, Clone, Default)]
pub struct AttentionModel {
    cfg: AlertsConfig,
    active: BTreeMap<Code, Attention>,
}

/// What one rule found: `Some((level, sentence))` when the condition holds.
type Found = Option<(Level, String)>;

impl AttentionModel {
    pub fn new(cfg: AlertsConfig) -> Self {
        AttentionModel {
            cfg,
            active: BTreeMap::new(),
        }
    }

    /// Re-evaluates every rule; returns what changed since the last call.
    pub fn evaluate(&mut self, i: &Inputs<'_>) -> Vec<AttentionChange> {
        let stale = i.stale();
        let mut found: BTreeMap<Code, (Level, String)> = BTreeMap::new();
        let mut put = |code: Code, f: Found| {
            if let Some(v) = f {
                found.insert(code, v);
            }
        };
        put(Code::ModemLost, modem_lost(i));
        if !stale {
            if let Some(snap) = i.snapshot {
                self.modem_rules(snap, i.sim_messages, &mut put);
            }
        }
        self.usage_rules(i, &mut put);
        self.topup_rules(i, &mut put);
        put(
            Code::StoreUnhealthy,
            i.store_error.map(|e| {
                (
                    Level::Critical,
                    format!(
                        "The database has a problem, so history and readings may not be saved: {}",
                        full_stop(e)
                    ),
                )
            }),
        );
        self.apply(found, stale, i.now)
    }

    /// Turns what the rules found into the new active set and the list of transitions.
    fn apply(
        &mut self,
        mut found: BTreeMap<Code, (Level, String)>,
        stale: bool,
        now: i64,
    ) -> Vec<AttentionChange> {
        let mut changes = Vec::new();
        let codes: Vec<Code> = self.active.keys().copied().collect();
        for code in codes {
            if stale && code.read_from_modem() {
                continue; // no evidence either way: keep it as it was
            }
            match found.remove(&code) {
                Some((level, message)) => {
                    if let Some(a) = self.active.get_mut(&code) {
                        a.level = level;
                        a.message = message;
                    }
                }
                None => {
                    if let Some(was) = self.active.remove(&code) {
                        changes.push(AttentionChange::Cleared { was, at: now });
                    }
                }
            }
        }
        for (code, (level, message)) in found {
            let a = Attention {
                code,
                level,
                message,
                since: now,
            };
            self.active.insert(code, a.clone());
            changes.push(AttentionChange::Raised(a));
        }
        changes
    }

    /// The conditions that hold, critical first, then oldest first.
    pub fn current(&self) -> Vec<Attention> {
        let mut v: Vec<Attention> = self.active.values().cloned().collect();
        v.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(a.since.cmp(&b.since))
                .then(a.code.cmp(&b.code))
        });
        v
    }

    pub fn overall(&self) -> Overall {
        overall(&self.current())
    }

    fn holds(&self, code: Code) -> bool {
        self.active.contains_key(&code)
    }

    fn modem_rules(
        &self,
        snap: &Snapshot,
        sim_messages: &[String],
        put: &mut impl FnMut(Code, Found),
    ) {
        let said = |fallback: &str| {
            sim_messages
                .first()
                .map_or_else(|| fallback.to_string(), |m| sentence(m))
        };
        let sim = match snap.sim.state {
            Some(SimState::NotInserted) => {
                Some((Code::SimMissing, said("No SIM card in the modem.")))
            }
            Some(SimState::Error) => Some((
                Code::SimMissing,
                said("The SIM reports a failure or a lock; check the SIM card."),
            )),
            Some(SimState::PinRequired) => Some((
                Code::SimPin,
                said("The SIM asks for its PIN and simkeep has not unlocked it."),
            )),
            Some(SimState::PukRequired) => Some((
                Code::SimPuk,
                said("The SIM is blocked and asks for its PUK; unblock it in a phone."),
            )),
            _ => None,
        };
        if let Some((code, msg)) = sim {
            put(code, Some((Level::Critical, msg)));
            // Without a working SIM there is no service and no signal reading worth judging.
            return;
        }
        let reg = snap.registration.state;
        let registered = reg.is_some_and(RegState::is_registered);
        if reg.is_some() && !registered && snap.sim.state == Some(SimState::Ready) {
            let why = match reg {
                Some(RegState::Denied) => "the network refused registration",
                Some(RegState::Searching) => "the modem is searching for a network",
                _ => "the modem is not registered on a network",
            };
            put(
                Code::NoService,
                Some((Level::Critical, format!("No service: {why}."))),
            );
        }
        if registered {
            let limit = self.cfg.rsrp_below;
            if let Some(rsrp) = snap.signal.rsrp_dbm {
                let bar = if self.holds(Code::SignalWeak) {
                    limit + RSRP_CLEAR_MARGIN_DB
                } else {
                    limit
                };
                if rsrp < bar {
                    put(
                        Code::SignalWeak,
                        Some((
                            Level::Warning,
                            format!("Weak signal: RSRP {rsrp} dBm is below the alert level of {limit} dBm."),
                        )),
                    );
                }
            }
        }
        if reg == Some(RegState::Roaming) && !self.cfg.roaming_expected {
            let on = snap
                .registration
                .operator
                .as_deref()
                .map(|o| format!(" on {o}"))
                .unwrap_or_default();
            put(
                Code::Roaming,
                Some((
                    Level::Warning,
                    format!("Roaming{on}: data may cost extra. Set [alerts] roaming_expected = true if this SIM always roams."),
                )),
            );
        }
    }

    fn usage_rules(&self, i: &Inputs<'_>, put: &mut impl FnMut(Code, Found)) {
        let Some(u) = i.usage else { return };
        let base = i.unit_base.unwrap_or(UnitBase::Binary);
        let size = |b: u64| format_size(b, base);
        let Some(left) = u.remaining_bytes else {
            return;
        };
        if left == 0 {
            put(
                Code::DataExhausted,
                Some((
                    Level::Critical,
                    "No data left in this cycle: the carrier may block or slow the line.".into(),
                )),
            );
        } else if let Some(limit) = self.data_low_bytes(i, u) {
            let clear_at = limit.saturating_add(limit / 100 * DATA_LOW_CLEAR_PERCENT);
            let bar = if self.holds(Code::DataLow) {
                clear_at
            } else {
                limit
            };
            if left < bar {
                let of = u
                    .quota_bytes
                    .map(|q| format!(" of {}", size(q)))
                    .unwrap_or_default();
                put(
                    Code::DataLow,
                    Some((
                        Level::Warning,
                        format!(
                            "Data low: {}{of} left, below the alert level of {}.",
                            size(left),
                            size(limit)
                        ),
                    )),
                );
            }
        }
        if left > 0 {
            if let Some(out) = u.runs_out_at {
                let end = u.cycle_end;
                let bar = if self.holds(Code::RunsOutBeforeCycleEnd) {
                    end.saturating_add(RUN_OUT_CLEAR_MARGIN_SECS)
                } else {
                    end
                };
                if out < bar {
                    put(
                        Code::RunsOutBeforeCycleEnd,
                        Some((
                            Level::Warning,
                            format!(
                                "At this rate the data runs out on {}, before the cycle ends on {}.",
                                crate::usage::civil::utc_string(out),
                                crate::usage::civil::utc_string(end)
                            ),
                        )),
                    );
                }
            }
        }
    }

    /// The `data_low` limit in bytes: `[alerts] data_low`, else the top-up threshold, else
    /// 10 % of the quota; `None` when a share is asked for and the quota is unknown.
    fn data_low_bytes(&self, i: &Inputs<'_>, u: &UsageReport) -> Option<u64> {
        let t = self
            .cfg
            .data_low
            .or(i.topup_threshold)
            .unwrap_or(Threshold::Percent(1000));
        match t {
            Threshold::Bytes(b) => Some(b),
            Threshold::Percent(bp) => {
                let q = u128::from(u.quota_bytes?);
                u64::try_from(q * u128::from(bp) / 10_000).ok()
            }
        }
    }

    fn topup_rules(&self, i: &Inputs<'_>, put: &mut impl FnMut(Code, Found)) {
        let Some(t) = i.topup else { return };
        if !t.enabled {
            return;
        }
        if !t.clock_trusted {
            put(
                Code::ClockUntrusted,
                Some((
                    Level::Warning,
                    "The router's clock is not trusted (no NTP or network time): automatic top-ups wait until it is.".into(),
                )),
            );
        }
        if t.paused {
            let unverified = t
                .last_attempt
                .as_ref()
                .is_some_and(|a| matches!(a.state.as_str(), "unknown" | "unverified"));
            let reason = t.paused_reason.as_deref().unwrap_or("no reason given");
            let (code, level, text) = if unverified {
                (
                    Code::TopupUnverified,
                    Level::Critical,
                    format!(
                        "A top-up was not confirmed, so top-ups are paused: {}",
                        full_stop(reason)
                    ),
                )
            } else {
                (
                    Code::TopupPaused,
                    Level::Warning,
                    format!("Automatic top-ups are paused: {}", full_stop(reason)),
                )
            };
            put(code, Some((level, text)));
        }
    }
}

fn modem_lost(i: &Inputs<'_>) -> Found {
    // One failed poll is a hiccup (the readings are marked stale at once); the condition is
    // raised once nothing good was heard for `stale_after`.
    let last_good = i.snapshot.map_or(i.started_at, |s| s.taken_at);
    let silent = i.now.saturating_sub(last_good);
    if silent <= i.stale_after {
        return None;
    }
    let cause = i.modem_error?;
    let when = i
        .snapshot
        .map(|s| format!("since {}", crate::usage::civil::utc_string(s.taken_at)))
        .unwrap_or_else(|| "since simkeep started".into());
    Some((
        Level::Critical,
        format!("The modem does not answer ({when}): {}", full_stop(cause)),
    ))
}

/// The worst level in a list.
pub fn overall(list: &[Attention]) -> Overall {
    match list.iter().map(|a| a.level).max() {
        Some(Level::Critical) => Overall::Critical,
        Some(Level::Warning) => Overall::Warning,
        None => Overall::Ok,
    }
}

/// A driver message ("the SIM asks for its PIN…") as a sentence: capital first, full stop.
fn sentence(m: &str) -> String {
    let mut c = m.chars();
    match c.next() {
        Some(f) => full_stop(&f.to_uppercase().chain(c).collect::<String>()),
        None => String::new(),
    }
}

/// Ends a clause that may already end in `.`, `?` or `!` (error messages often do) exactly once.
fn full_stop(m: &str) -> String {
    let m = m.trim_end();
    if m.ends_with(['.', '?', '!']) {
        m.to_string()
    } else {
        format!("{m}.")
    }
}

#[cfg(test)]
#[path = "attention_tests.rs"]
mod tests;
