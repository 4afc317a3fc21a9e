//! The agent's side of automatic top-ups: gathers what the policy needs after every poll (usage,
//! the ledger, the SIM, registration, the clock), asks the pure policy, and when it says "buy"
//! runs the decision as one owned task (`topup::runner`). Also settles attempts a crash left
//! under way, answers the owner's `topup now|plan|resume`, and keeps the `topup` part of status.
//!
//! Must not: run two decisions at once, re-run an attempt found under way at start (it is only
//! verified), or decide anything date-dependent on a clock nobody vouched for.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;

use crate::config::TopupConfig;
use crate::modem::driver::Snapshot;
use crate::sms::ReceivedSms;
use crate::store::{LedgerEntry, StoreHandle};
use crate::topup::clock::{self, ClockStatus};
use crate::topup::ledger::{self, AttemptDetail};
use crate::topup::money::Money;
use crate::topup::policy::{
    self, AttemptState, Decision, ManualRequest, Now, PolicyInput, UsageView,
};
use crate::topup::runner::{self, AttemptEnd};
use crate::usage::UsageReport;

/// Event kinds in the store's history.
pub const EVENT_RESUMED: &str = "topup.resumed";
/// The owner's switch for automatic top-ups: detail `off` (paused by the owner) or `on`. The
/// newest row wins, so a pause and a resume in the same second keep their order.
pub const EVENT_SWITCH: &str = "topup.switch";
pub const EVENT_SIM_BOUND: &str = "topup.sim_bound";

/// The `topup` object of `/api/v1/status`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TopupStatus {
    pub enabled: bool,
    pub dry_run: bool,
    /// A decision is being carried out now.
    pub running: bool,
    /// What the policy said last, in words.
    pub plan: String,
    pub paused: bool,
    pub paused_reason: Option<String>,
    pub clock_trusted: bool,
    pub spent_this_cycle: String,
    pub max_spend_per_cycle: Option<String>,
    pub currency: String,
    pub count_this_cycle: u32,
    pub max_per_cycle: u32,
    /// Every attempt in the ledger by how it ended (all SIMs, all time), for `/metrics`.
    pub attempts_by_state: std::collections::BTreeMap<String, u32>,
    pub last_attempt: Option<AttemptJson>,
}

/// One ledger row as the API and `topup history --json` show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttemptJson {
    pub id: i64,
    pub flow: String,
    pub state: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub price: String,
    pub currency: String,
    pub detail: String,
    pub iccid: String,
    pub step: usize,
    pub transcript: Vec<String>,
}

impl AttemptJson {
    pub fn from_entry(e: &LedgerEntry) -> AttemptJson {
        let d = AttemptDetail::from_entry(e);
        let done = !ledger::in_flight(&e.state);
        AttemptJson {
            id: e.id.0,
            flow: if d.flow.is_empty() {
                e.method.clone()
            } else {
                d.flow.clone()
            },
            state: e.state.clone(),
            started_at: crate::usage::civil::utc_string(e.created),
            finished_at: done.then(|| crate::usage::civil::utc_string(e.updated)),
            price: Money::from_minor(e.amount_minor).to_string(),
            currency: e.currency.clone(),
            detail: if d.note.is_empty() {
                d.reason.clone()
            } else {
                d.note.clone()
            },
            iccid: d.iccid,
            step: d.step,
            transcript: d.transcript,
        }
    }
}

/// A request from the owner, through the API.
pub enum Control {
    /// `topup now [--flow NAME] [--dry-run]`: the answer says what was decided.
    Now {
        flow: Option<String>,
        dry_run: bool,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// `topup plan`: what the policy would do now, and why.
    Plan { reply: oneshot::Sender<String> },
    /// `topup resume`: the owner has looked at the unclear attempts (and turns the switch on).
    Resume {
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// `topup pause`: no automatic top-ups until `resume`.
    Pause {
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// How long the API and MQTT wait for the agent to take a request, and again for its answer.
pub const AGENT_ANSWER: std::time::Duration = std::time::Duration::from_secs(10);

/// Sends `c` to the agent and waits for the answer on `rx`; the error says which wait failed.
pub async fn ask<T>(
    control: &tokio::sync::mpsc::Sender<Control>,
    c: Control,
    rx: tokio::sync::oneshot::Receiver<T>,
) -> Result<T, String> {
    control
        .send_timeout(c, AGENT_ANSWER)
        .await
        .map_err(|_| "the agent is busy; try again".to_string())?;
    match tokio::time::timeout(AGENT_ANSWER, rx).await {
        Ok(Ok(v)) => Ok(v),
        _ => Err("the agent did not answer in time".into()),
    }
}

/// What the poll loop hands over after each poll.
pub struct PollView<'a> {
    pub snap: &'a Snapshot,
    pub usage: Option<&'a UsageReport>,
}

pub struct TopupAgent {
    cfg: TopupConfig,
    store: StoreHandle,
    ledger: Vec<LedgerEntry>,
    resumed_at: i64,
    /// The owner switched automatic top-ups off (`topup pause`, the MQTT switch).
    switched_off: bool,
    bound_sim: Option<String>,
    started: Instant,
    last_attempt: Option<Instant>,
    trigger: Option<String>,
    pub status: TopupStatus,
    clock: ClockStatus,
    nitz: Option<(i64, Instant)>,
    last_logged: String,
}

impl TopupAgent {
    /// `cfg` is `[topup]`; without the table it is the disabled default, so status still says
    /// whether top-ups are on.
    pub fn new(cfg: TopupConfig, store: StoreHandle) -> Self {
        let status = TopupStatus {
            enabled: cfg.enabled,
            dry_run: cfg.dry_run,
            currency: cfg.currency.clone(),
            max_per_cycle: cfg.max_per_cycle,
            max_spend_per_cycle: cfg.max_spend_per_cycle.map(|m| m.to_string()),
            ..TopupStatus::default()
        };
        Self {
            cfg,
            store,
            ledger: Vec::new(),
            resumed_at: i64::MIN,
            switched_off: false,
            bound_sim: None,
            started: Instant::now(),
            last_attempt: None,
            trigger: None,
            status,
            clock: ClockStatus {
                trusted: false,
                reason: "not checked yet".into(),
            },
            nitz: None,
            last_logged: String::new(),
        }
    }

    pub fn config(&self) -> &TopupConfig {
        &self.cfg
    }

    pub fn enabled(&self) -> bool {
        self.cfg.enabled
    }

    /// Reads the ledger and the owner's marks from the store (at start, and after each change).
    pub async fn reload(&mut self) {
        match self.store.ledger_since(0).await {
            Ok(rows) => self.ledger = rows,
            Err(e) => tracing::warn!("top-up ledger not readable: {e}"),
        }
        if let Ok(Some(ev)) = self.store.last_event(EVENT_RESUMED).await {
            self.resumed_at = ev.t;
        }
        if let Ok(Some(ev)) = self.store.last_event(EVENT_SWITCH).await {
            self.switched_off = ev.detail == "off";
        }
        if let Ok(Some(ev)) = self.store.last_event(EVENT_SIM_BOUND).await {
            self.bound_sim = Some(ev.detail);
        }
    }

    /// Attempts a crash left under way: never re-run, only verified.
    pub fn in_flight(&self) -> Vec<LedgerEntry> {
        self.ledger
            .iter()
            .filter(|e| ledger::in_flight(&e.state))
            .cloned()
            .collect()
    }

    /// A carrier warning SMS that says "act now".
    pub fn on_sms(&mut self, sms: &ReceivedSms) {
        if self.cfg.trigger_sms.iter().any(|r| r.is_match(&sms.text)) {
            tracing::warn!(from = %sms.sender, "carrier warning SMS: {:?}", crate::topup::menu::short(&sms.text, 120));
            self.trigger = Some(sms.text.clone());
        }
    }

    /// Re-evaluates whether the wall clock can be trusted. `nitz`: the network time the
    /// modem reported (unix), when it was asked.
    pub fn check_clock(&mut self, now: i64, nitz: Option<i64>) {
        if let Some(t) = nitz {
            self.nitz = Some((t, Instant::now()));
        }
        // The network time read earlier, carried forward by the monotonic clock.
        let nitz_now = self.nitz.and_then(|(t, at)| {
            t.checked_add(i64::try_from(at.elapsed().as_secs()).unwrap_or(i64::MAX))
        });
        let owner = self.cfg.trust_clock;
        self.clock = clock::evaluate(clock::kernel_synced(), nitz_now, now, owner);
        self.status.clock_trusted = self.clock.trusted;
    }

    /// Whether asking the modem for its network time would help.
    pub fn wants_nitz(&self) -> bool {
        self.enabled() && !self.clock.trusted && self.nitz.is_none()
    }

    fn mono_secs(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_secs()
    }

    fn paused(&self) -> Option<String> {
        if self.switched_off {
            return Some(
                "switched off by the owner (`simkeep topup resume` or the switch turns them on)"
                    .into(),
            );
        }
        self.ledger
            .iter()
            .rev()
            .find(|e| {
                matches!(
                    AttemptState::parse(&e.state),
                    Some(AttemptState::Unknown | AttemptState::Unverified) | None
                ) && e.updated > self.resumed_at
            })
            .map(|e| {
                let d = AttemptDetail::from_entry(e);
                format!(
                    "attempt #{} ({}) ended {}: {} — check the account, then `simkeep topup resume`",
                    e.id.0,
                    e.method,
                    e.state,
                    if d.note.is_empty() { "no confirmation" } else { &d.note }
                )
            })
    }

    /// Asks the policy. `manual`: the owner's `topup now`.
    pub fn decide(
        &mut self,
        view: &PollView<'_>,
        now: i64,
        manual: Option<&ManualRequest>,
    ) -> Decision {
        let cfg = &self.cfg;
        let iccid = view.snap.sim.iccid.as_deref();
        if cfg.iccids.is_empty() && self.bound_sim.is_none() && cfg.enabled {
            if let Some(i) = iccid {
                // "empty = the SIM seen when top-ups were enabled": remember it durably.
                self.bound_sim = Some(i.to_string());
                if let Err(e) = self.store.event(now, EVENT_SIM_BOUND, i) {
                    tracing::warn!("top-up SIM binding not recorded: {e}");
                }
                tracing::info!(
                    iccid = i,
                    "automatic top-ups bound to this SIM (set topup.iccids to change)"
                );
            }
        }
        let allowed: Vec<String> = if cfg.iccids.is_empty() {
            self.bound_sim.iter().cloned().collect()
        } else {
            cfg.iccids.clone()
        };
        let usage = view.usage.map(|u| UsageView {
            remaining_bytes: u.remaining_bytes,
            quota_bytes: u.quota_bytes,
            runs_out_at: u.runs_out_at,
            cycle_start: u.cycle_start,
            cycle_end: u.cycle_end,
        });
        let rows: Vec<_> = match iccid {
            Some(i) => ledger::for_sim(&self.ledger, i).map(ledger::view).collect(),
            None => Vec::new(),
        };
        let paused = self.paused();
        let registered = view
            .snap
            .registration
            .state
            .is_some_and(|s| s.is_registered());
        let input = PolicyInput {
            cfg,
            clock: &self.clock,
            iccid,
            allowed_iccids: &allowed,
            registered,
            usage: usage.as_ref(),
            ledger: &rows,
            last_attempt_mono: self.last_attempt.map(|t| self.mono_secs(t)),
            paused: paused.as_deref(),
            trigger: self.trigger.as_deref(),
            manual,
        };
        let d = policy::decide(
            &input,
            Now {
                unix: now,
                mono_secs: self.mono_secs(Instant::now()),
            },
        );
        self.publish(&rows, usage.as_ref(), paused, &d);
        d
    }

    fn publish(
        &mut self,
        rows: &[policy::LedgerView],
        usage: Option<&UsageView>,
        paused: Option<String>,
        d: &Decision,
    ) {
        let cfg = &self.cfg;
        let words = match d {
            Decision::Buy { reason, .. } if cfg.dry_run => {
                format!("buy (dry run: nothing is sent): {reason}")
            }
            Decision::Buy { reason, .. } => format!("buy: {reason}"),
            Decision::Hold { reason } => format!("hold: {reason}"),
        };
        // Log when what the policy says changes, not each time a figure in it moves
        // ("600 MB left" → "550 MB left" is the same hold).
        let shape: String = words
            .chars()
            .filter(|c| !c.is_ascii_digit() && *c != '.')
            .collect();
        if shape != self.last_logged {
            if cfg.enabled {
                tracing::info!("top-up policy: {words}");
            } else {
                tracing::debug!("top-up policy: {words}");
            }
            self.last_logged = shape;
        }
        let in_cycle: Vec<_> = rows
            .iter()
            .filter(|r| usage.is_some_and(|u| r.created >= u.cycle_start))
            .filter(|r| r.state != AttemptState::Failed)
            .collect();
        let spent = in_cycle
            .iter()
            .try_fold(Money::ZERO, |acc, r| acc.checked_add(r.price))
            .unwrap_or(Money::ZERO);
        self.status.plan = words;
        self.status.paused = paused.is_some();
        self.status.paused_reason = paused;
        self.status.spent_this_cycle = spent.to_string();
        self.status.count_this_cycle = u32::try_from(in_cycle.len()).unwrap_or(u32::MAX);
        self.status.currency.clone_from(&cfg.currency);
        self.status.last_attempt = self.ledger.last().map(AttemptJson::from_entry);
        let mut by_state = std::collections::BTreeMap::new();
        for e in &self.ledger {
            let n: &mut u32 = by_state.entry(e.state.clone()).or_default();
            *n = n.saturating_add(1);
        }
        self.status.attempts_by_state = by_state;
    }

    /// A decision is about to run: the trigger is used up and the cooldown starts.
    pub fn started_attempt(&mut self) {
        self.trigger = None;
        self.last_attempt = Some(Instant::now());
        self.status.running = true;
    }

    pub async fn finished(&mut self, ends: &[AttemptEnd]) {
        self.status.running = false;
        for e in ends {
            tracing::debug!(flow = %e.flow, state = e.state.as_str(), "top-up attempt recorded");
        }
        self.reload().await;
        self.status.last_attempt = self.ledger.last().map(AttemptJson::from_entry);
    }

    /// `topup pause` (or the MQTT switch turned off): no automatic top-up until `resume`.
    /// Recorded durably, so a restart stays paused. The policy holds every top-up meanwhile,
    /// the owner's `topup now` too: off means off.
    pub async fn pause(&mut self, now: i64) -> Result<String, String> {
        if self.switched_off {
            return Ok("automatic top-ups were already switched off".into());
        }
        self.store
            .event(now, EVENT_SWITCH, "off")
            .map_err(|e| format!("cannot record the pause: {e}"))?;
        self.store
            .flush()
            .await
            .map_err(|e| format!("cannot record the pause: {e}"))?;
        self.switched_off = true;
        self.status.paused = true;
        self.status.paused_reason = self.paused();
        Ok("automatic top-ups switched off until `simkeep topup resume`".into())
    }

    /// `topup resume`: recorded durably, so a restart does not pause again. Also turns the
    /// owner's switch back on.
    pub async fn resume(&mut self, now: i64) -> Result<String, String> {
        let paused = self.paused();
        if self.switched_off {
            self.store
                .event(now, EVENT_SWITCH, "on")
                .map_err(|e| format!("cannot record the resume: {e}"))?;
            self.switched_off = false;
        }
        self.store
            .event(now, EVENT_RESUMED, "")
            .map_err(|e| format!("cannot record the resume: {e}"))?;
        self.store
            .flush()
            .await
            .map_err(|e| format!("cannot record the resume: {e}"))?;
        self.resumed_at = now;
        self.status.paused = false;
        self.status.paused_reason = None;
        Ok(match paused {
            Some(p) => format!("automatic top-ups resumed (they were paused: {p})"),
            None => "automatic top-ups were not paused".into(),
        })
    }

    /// The key that makes one decision one ledger row per flow, even if replayed.
    pub fn decision_key(&self, iccid: &str, view: &PollView<'_>, now: i64, manual: bool) -> String {
        let cycle = view.usage.map_or(0, |u| u.cycle_start);
        let n = ledger::for_sim(&self.ledger, iccid).count();
        if manual {
            format!("{iccid}/manual/{now}")
        } else {
            format!("{iccid}/{cycle}/{}", n.saturating_add(1))
        }
    }
}

/// Settles an attempt found under way at start: the balance decides between `succeeded` and
/// `unknown`; nothing is sent to the carrier but balance queries. The balance is watched for
/// `window` (the flow's verify time), as the runner would have: a credit often lands seconds
/// after the charge, and the restart may come before it.
pub async fn settle_after_restart(
    store: &StoreHandle,
    entry: &LedgerEntry,
    balance: &runner::BalanceProbe,
    window: Duration,
    receipt: Option<String>,
    now: impl Fn() -> i64,
) -> AttemptState {
    let mut d = AttemptDetail::from_entry(entry);
    if let Some(r) = &receipt {
        d.heard(&format!(
            "receipt found in the inbox after the restart: {r}"
        ));
    }
    let deadline = tokio::time::Instant::now() + window;
    let gap = (window / 6).clamp(Duration::from_secs(1), Duration::from_secs(60));
    // Two readings in a row must show the rise: the first answer after a restart may be the
    // carrier's late answer to the dead process's last request ("You have received 4920MB…"),
    // which a balance parser reads as the balance.
    let mut rose_before = false;
    let (state, note) = loop {
        let (tx, rx) = oneshot::channel();
        let reading = match balance.send(tx).await {
            Ok(()) => rx
                .await
                .unwrap_or_else(|_| Err("the balance query was abandoned".into())),
            Err(_) => Err("the agent is stopping".into()),
        };
        let why = match reading {
            Ok(left) if runner::rose(d.balance_before, left, d.adds_bytes) => {
                if rose_before {
                    break (
                        AttemptState::Succeeded,
                        format!("found under way after a restart; verified: data left is now {left} bytes"),
                    );
                }
                rose_before = true;
                format!("data left is {left} bytes, not yet confirmed by a second reading")
            }
            Ok(left) => {
                rose_before = false;
                format!("data left is {left} bytes, no rise — it may or may not have charged")
            }
            Err(e) => {
                rose_before = false;
                format!("the balance could not be read ({e})")
            }
        };
        let t = tokio::time::Instant::now();
        if t >= deadline {
            break (
                AttemptState::Unknown,
                format!("found under way after a restart at step {}; {why}", d.step),
            );
        }
        tokio::time::sleep(gap.min(deadline - t)).await;
    };
    d.note = match (&receipt, state) {
        (Some(_), AttemptState::Unknown) => {
            format!("{note}; the carrier's receipt is in the inbox, but the balance never showed the data")
        }
        _ => note,
    };
    let _ = store
        .ledger_update_state(entry.id, now(), state.as_str(), Some(d.to_json()))
        .await;
    tracing::warn!(
        "top-up attempt #{} {}: {}",
        entry.id.0,
        state.as_str(),
        d.note
    );
    state
}
