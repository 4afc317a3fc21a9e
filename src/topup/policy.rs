//! The top-up decision as a pure function: given the config, the SIM, the network, the usage
//! reading, this SIM's ledger of attempts and the time, answer "buy with these flows, in this
//! order" or "hold", each with a reason the owner can read in `simkeep topup plan`.
//!
//! Guards, in the order they are checked (the first that holds wins, so the reason names the
//! most basic obstacle): disabled, no flows, no SIM, SIM not allowed, not registered, an attempt
//! still pending, paused after an unclear outcome, clock not trusted, no usage reading, the
//! reading belongs to another cycle, no need (balance above threshold, forecast beyond the
//! horizon, no carrier warning, not asked by the owner), `max_per_cycle`, cooldown,
//! `max_spend_per_cycle`.
//!
//! Accounting rule: every attempt counts against the per-cycle caps unless it is `Failed`
//! (`Failed` means provably not charged); `Unknown` and `Unverified` count, because they may
//! have charged. Attempts dated after `now` (the clock went back) count too.
//!
//! Must not: do I/O, read a clock (time comes in as [`Now`]), or use floating point.

use crate::config::{Threshold, TopupConfig};
use crate::topup::clock::{human_secs, ClockStatus};
use crate::topup::Money;
use crate::usage::format_size;

/// The time of the decision: wall clock (for cycles) and monotonic (for the cooldown, which a
/// wall-clock jump must not skip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub unix: i64,
    pub mono_secs: u64,
}

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub cfg: &'a TopupConfig,
    pub clock: &'a ClockStatus,
    /// The SIM in the modem now.
    pub iccid: Option<&'a str>,
    /// `cfg.iccids`, or [the SIM seen when top-ups were enabled].
    pub allowed_iccids: &'a [String],
    /// Registered, home or roaming.
    pub registered: bool,
    pub usage: Option<&'a UsageView>,
    /// This SIM's attempts, any age.
    pub ledger: &'a [LedgerView],
    /// Monotonic seconds of the last attempt started by this process.
    pub last_attempt_mono: Option<u64>,
    /// Why automatic top-ups are paused (an unknown or unverified outcome); `None` = not paused.
    pub paused: Option<&'a str>,
    /// A carrier warning SMS that matched `trigger_sms`.
    pub trigger: Option<&'a str>,
    /// `simkeep topup now [--flow NAME]`: bypasses the threshold only.
    pub manual: Option<&'a ManualRequest>,
}

/// What the usage module knows about the balance and the cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageView {
    pub remaining_bytes: Option<u64>,
    pub quota_bytes: Option<u64>,
    /// When the forecast says the data runs out (Unix seconds).
    pub runs_out_at: Option<i64>,
    /// The billing cycle `[cycle_start, cycle_end)` (Unix seconds).
    pub cycle_start: i64,
    pub cycle_end: i64,
}

/// One past attempt from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerView {
    /// When it was decided (Unix seconds).
    pub created: i64,
    pub state: AttemptState,
    pub price: Money,
    pub flow: String,
}

/// Where an attempt stands. `Planned`, `Running` and `Verifying` are pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptState {
    Planned,
    Running,
    Verifying,
    Succeeded,
    /// Provably not charged (the carrier refused, or the request never left).
    Failed,
    /// The carrier said yes but the balance never rose.
    Unverified,
    /// The outcome is unclear (no answer, a crash mid-step): it may have charged.
    Unknown,
}

impl AttemptState {
    pub const ALL: [AttemptState; 7] = [
        AttemptState::Planned,
        AttemptState::Running,
        AttemptState::Verifying,
        AttemptState::Succeeded,
        AttemptState::Failed,
        AttemptState::Unverified,
        AttemptState::Unknown,
    ];

    /// The name stored in the ledger and shown in `topup history`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Planned => "planned",
            AttemptState::Running => "running",
            AttemptState::Verifying => "verifying",
            AttemptState::Succeeded => "succeeded",
            AttemptState::Failed => "failed",
            AttemptState::Unverified => "unverified",
            AttemptState::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<AttemptState> {
        AttemptState::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Still under way: nothing more may be bought until it settles.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            AttemptState::Planned | AttemptState::Running | AttemptState::Verifying
        )
    }

    /// May have cost money, so it counts against the per-cycle caps.
    pub fn counts_against_budget(self) -> bool {
        self != AttemptState::Failed
    }
}

/// `simkeep topup now [--flow NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManualRequest {
    pub flow: Option<String>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Try these flows (indices into `cfg.flows`) in order, the next only if the previous surely
    /// failed; each fits the remaining budget on its own.
    Buy {
        flows: Vec<usize>,
        reason: String,
    },
    Hold {
        reason: String,
    },
}

impl Decision {
    pub fn reason(&self) -> &str {
        match self {
            Decision::Buy { reason, .. } | Decision::Hold { reason } => reason,
        }
    }
}

/// Decides whether to buy now.
pub fn decide(input: &PolicyInput, now: Now) -> Decision {
    match decide_inner(input, now) {
        Ok((flows, reason)) => Decision::Buy { flows, reason },
        Err(reason) => Decision::Hold { reason },
    }
}

fn decide_inner(input: &PolicyInput, now: Now) -> Result<(Vec<usize>, String), String> {
    let usage = eligible(input, now)?;
    let need = need(input, usage, now)?;
    within_caps(input, usage, &need, now)
}

/// The guards that do not depend on the balance: returns the usage reading to decide on.
fn eligible<'a>(input: &PolicyInput<'a>, now: Now) -> Result<&'a UsageView, String> {
    let cfg = input.cfg;
    if !cfg.enabled {
        return Err("top-ups are off (topup.enabled = false)".into());
    }
    if cfg.flows.is_empty() {
        return Err("no [[topup.flow]] is configured".into());
    }
    let iccid = input
        .iccid
        .ok_or("no SIM in the modem, or its ICCID could not be read")?;
    sim_allowed(iccid, input.allowed_iccids, !cfg.iccids.is_empty())?;
    if !input.registered {
        return Err("the modem is not registered on a network".into());
    }
    if let Some(p) = input.ledger.iter().find(|a| a.state.is_pending()) {
        return Err(format!(
            "a top-up with flow {:?} is still {}; nothing more is bought until it settles",
            p.flow,
            p.state.as_str()
        ));
    }
    if let Some(why) = input.paused {
        return Err(format!(
            "automatic top-ups are paused: {why}; check the account, then run `simkeep topup resume`"
        ));
    }
    if !input.clock.trusted {
        return Err(format!("clock not trusted: {}", input.clock.reason));
    }
    let usage = input.usage.ok_or("no usage reading yet")?;
    if now.unix < usage.cycle_start || now.unix >= usage.cycle_end {
        return Err(
            "the usage reading is for another billing cycle; waiting for a fresh one".into(),
        );
    }
    Ok(usage)
}

/// The per-cycle caps, the cooldown and the budget, for a top-up wanted because of `need`.
fn within_caps(
    input: &PolicyInput,
    usage: &UsageView,
    need: &str,
    now: Now,
) -> Result<(Vec<usize>, String), String> {
    let cfg = input.cfg;
    // This cycle's attempts that may have cost money. Later-dated ones count too: the clock may
    // have gone back, and counting them can only make us buy less.
    let counted: Vec<&LedgerView> = input
        .ledger
        .iter()
        .filter(|a| a.created >= usage.cycle_start && a.state.counts_against_budget())
        .collect();
    let count = u32::try_from(counted.len()).unwrap_or(u32::MAX);
    if count >= cfg.max_per_cycle {
        return Err(format!(
            "{need} but max_per_cycle reached ({count}/{})",
            cfg.max_per_cycle
        ));
    }
    if let Some(left) = cooldown_left(input, now) {
        return Err(format!(
            "cooldown: {} left of {}",
            human_secs(left),
            human_secs(secs_i64(cfg.cooldown.as_secs()))
        ));
    }
    // A sum that overflows is treated as over any cap.
    let spent = counted
        .iter()
        .try_fold(Money::ZERO, |acc, a| acc.checked_add(a.price));
    let candidates: Vec<usize> = match input.manual.and_then(|m| m.flow.as_deref()) {
        Some(name) => match cfg.flows.iter().position(|f| f.name == name) {
            Some(i) => vec![i],
            None => {
                let names: Vec<&str> = cfg.flows.iter().map(|f| f.name.as_str()).collect();
                return Err(format!(
                    "no flow is named {name:?} (flows: {})",
                    names.join(", ")
                ));
            }
        },
        None => (0..cfg.flows.len()).collect(),
    };
    let flows = fitting(cfg, candidates, spent, need)?;
    let cur = |m: Money| money_text(m, &cfg.currency);
    let names: Vec<&str> = flows.iter().map(|&i| cfg.flows[i].name.as_str()).collect();
    let mut reason = format!(
        "{need}: buying with {} (top-up {}/{} this cycle",
        names.join(", then "),
        count.saturating_add(1),
        cfg.max_per_cycle
    );
    if let (Some(cap), Some(s)) = (cfg.max_spend_per_cycle, spent) {
        reason.push_str(&format!(", spent {s} of {}", cur(cap)));
    }
    reason.push(')');
    if cfg.dry_run {
        reason.push_str(" — dry run: nothing will be sent");
    }
    Ok((flows, reason))
}

/// The `candidates` whose price fits what is left of `max_spend_per_cycle` (`spent` is `None`
/// when the ledger's sum overflowed: nothing fits).
fn fitting(
    cfg: &TopupConfig,
    candidates: Vec<usize>,
    spent: Option<Money>,
    need: &str,
) -> Result<Vec<usize>, String> {
    let cur = |m: Money| money_text(m, &cfg.currency);
    let Some(cap) = cfg.max_spend_per_cycle else {
        return Ok(candidates);
    };
    let fits: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| {
            spent
                .and_then(|s| s.checked_add(cfg.flows[i].price))
                .is_some_and(|total| total <= cap)
        })
        .collect();
    if !fits.is_empty() {
        return Ok(fits);
    }
    let cheapest = candidates
        .iter()
        .map(|&i| cfg.flows[i].price)
        .min()
        .unwrap_or(Money::ZERO);
    let spent_s = spent.map_or_else(|| "more than the cap".into(), |s| s.to_string());
    Err(format!(
        "{need} but max_spend_per_cycle would be exceeded: spent {spent_s} of {} this cycle, and the cheapest flow costs {}",
        cur(cap),
        cur(cheapest)
    ))
}

/// Why a top-up is wanted now, or the hold reason if it is not.
fn need(input: &PolicyInput, usage: &UsageView, now: Now) -> Result<String, String> {
    let cfg = input.cfg;
    if input.manual.is_some() {
        return Ok("requested by the owner (topup now)".into());
    }
    if let Some(sms) = input.trigger {
        let cut: String = sms.chars().take(60).collect();
        let more = if cut.len() < sms.len() { "…" } else { "" };
        return Ok(format!("the carrier warned by SMS ({cut:?}{more})"));
    }
    let size = |b: u64| format_size(b, cfg.unit_base);
    let remaining = usage
        .remaining_bytes
        .ok_or("the data left is not known yet (no balance reading)")?;
    let (limit, limit_text) = match cfg.threshold {
        Threshold::Bytes(b) => (b, size(b)),
        Threshold::Percent(bp) => {
            let quota = usage.quota_bytes.ok_or_else(|| {
                format!(
                    "the threshold is {} of the quota, but the quota is not known (set usage.quota)",
                    percent_text(bp)
                )
            })?;
            let limit = u128::from(quota) * u128::from(bp) / 10_000;
            let limit = u64::try_from(limit).unwrap_or(u64::MAX);
            (
                limit,
                format!("{} ({} of {})", size(limit), percent_text(bp), size(quota)),
            )
        }
    };
    if remaining < limit {
        return Ok(format!(
            "below threshold ({} left, threshold {limit_text})",
            size(remaining)
        ));
    }
    if let (Some(h), Some(out)) = (cfg.horizon, usage.runs_out_at) {
        let within = out.saturating_sub(now.unix);
        if within <= secs_i64(h.as_secs()) {
            return Ok(format!(
                "the forecast runs out in {}, within the horizon of {}",
                human_secs(within),
                human_secs(secs_i64(h.as_secs()))
            ));
        }
    }
    Err(format!("{} left, threshold {limit_text}", size(remaining)))
}

/// `Err(reason)` unless `iccid` is allowed. ICCIDs compare without case and without the F pad.
fn sim_allowed(iccid: &str, allowed: &[String], from_config: bool) -> Result<(), String> {
    let norm = |s: &str| {
        let up = s.trim().to_ascii_uppercase();
        up.strip_suffix('F').map(str::to_string).unwrap_or(up)
    };
    let me = norm(iccid);
    if allowed.iter().any(|a| norm(a) == me) {
        return Ok(());
    }
    // The ICCID comes from the modem: show it escaped unless it is plain.
    let iccid = if iccid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        iccid.to_string()
    } else {
        format!("{iccid:?}")
    };
    Err(match (allowed, from_config) {
        ([], _) => format!(
            "SIM {iccid} is not allowed: no SIM is known yet; list it in topup.iccids"
        ),
        (_, true) => format!("SIM {iccid} is not in topup.iccids"),
        ([first, ..], false) => format!(
            "SIM {iccid} is not the SIM top-ups were enabled for ({first}); list it in topup.iccids to allow it"
        ),
    })
}

/// Seconds of cooldown left, by the monotonic clock of this process and, across restarts, by
/// the ledger's wall-clock dates (the clock is trusted by the time this runs).
fn cooldown_left(input: &PolicyInput, now: Now) -> Option<i64> {
    let cd = secs_i64(input.cfg.cooldown.as_secs());
    let mono = input.last_attempt_mono.map(|t| {
        // A monotonic reading from before `t` cannot happen; treat it as "just now".
        let since = now.mono_secs.saturating_sub(t);
        cd.saturating_sub(secs_i64(since))
    });
    let wall = input.ledger.iter().map(|a| a.created).max().map(|t| {
        // An attempt dated in the future: the clock went back; wait the whole cooldown.
        let since = now.unix.saturating_sub(t).max(0);
        if now.unix < t {
            cd
        } else {
            cd.saturating_sub(since)
        }
    });
    let left = mono.into_iter().chain(wall).max()?;
    (left > 0).then_some(left)
}

fn secs_i64(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

fn money_text(m: Money, currency: &str) -> String {
    if currency.is_empty() {
        m.to_string()
    } else {
        format!("{m} {currency}")
    }
}

/// 1000 basis points → `10%`, 250 → `2.5%`, 1 → `0.01%`.
fn percent_text(bp: u32) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    match frac {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}
