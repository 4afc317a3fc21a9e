//! `[topup]` and its `[[topup.flow]]` tables: raw serde structs (unknown keys refused) validated
//! into a [`TopupConfig`] that the policy and the flow runner can use without checking again.
//!
//! Every regex, USSD code, reply, phone number, SMS text and template is checked here, when the
//! config loads, because a flow runs unattended and spends money: a mistake must surface in
//! `check-config`, not at the first purchase. Errors are one line that names the key (or the flow
//! by name, the step by number and kind, and its line) and the cause.
//!
//! Must not: talk to the modem or the network, or echo secrets (templates keep `${secret:NAME}`
//! unresolved; values are resolved only when a step runs).

use std::time::Duration;

use regex_lite::Regex;
use serde::Deserialize;

use crate::topup::Money;

#[path = "topup_step.rs"]
mod step;
use crate::usage::units::{parse_size, Decimal, UnitBase};
use step::{action, validate_step, KINDS};
pub use step::{HttpBody, RawStep, Step, TemplateText};

/// A config problem in `[topup]`, as one line: where, then why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {reason}")]
pub struct TopupError {
    /// `topup.threshold = "5 parsecs"`, `topup.flow "vodacom-monthly" step 3 (choose), line 42`.
    pub place: String,
    pub reason: String,
}

/// `[topup]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopup {
    pub enabled: Option<bool>,
    pub dry_run: Option<bool>,
    pub threshold: Option<String>,
    pub horizon: Option<String>,
    pub max_per_cycle: Option<i64>,
    pub max_spend_per_cycle: Option<toml::Value>,
    pub currency: Option<String>,
    pub cooldown: Option<String>,
    pub iccids: Option<Vec<String>>,
    pub trigger_sms: Option<Vec<String>>,
    pub trust_clock: Option<bool>,
    #[serde(default)]
    pub flow: Vec<toml::Spanned<RawFlow>>,
}

/// One `[[topup.flow]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub name: Option<String>,
    pub price: Option<toml::Value>,
    pub adds: Option<String>,
    #[serde(default)]
    pub steps: Vec<toml::Spanned<RawStep>>,
}

/// When the balance counts as low.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    Bytes(u64),
    /// Of the plan's quota, in basis points (10% = 1000).
    Percent(u32),
}

/// `[topup]`, validated.
#[derive(Debug, Clone)]
pub struct TopupConfig {
    pub enabled: bool,
    /// Decide and log, send nothing.
    pub dry_run: bool,
    pub threshold: Threshold,
    /// Also buy when the forecast runs out within this.
    pub horizon: Option<Duration>,
    pub max_per_cycle: u32,
    pub max_spend_per_cycle: Option<Money>,
    pub currency: String,
    /// Minimum time between two attempts (monotonic clock).
    pub cooldown: Duration,
    /// Allowed SIMs, upper case; empty = the SIM seen when top-ups were enabled.
    pub iccids: Vec<String>,
    pub trigger_sms: Vec<Regex>,
    pub trust_clock: bool,
    pub flows: Vec<FlowConfig>,
    /// `[usage] unit_base`, for sizes in messages.
    pub unit_base: UnitBase,
}

impl Default for TopupConfig {
    /// Top-ups off, with the documented defaults.
    fn default() -> Self {
        TopupConfig {
            enabled: false,
            dry_run: false,
            threshold: Threshold::Bytes(0),
            horizon: None,
            max_per_cycle: 1,
            max_spend_per_cycle: None,
            currency: String::new(),
            cooldown: Duration::from_secs(3600),
            iccids: Vec::new(),
            trigger_sms: Vec::new(),
            trust_clock: false,
            flows: Vec::new(),
            unit_base: UnitBase::Binary,
        }
    }
}

impl TopupConfig {
    /// Things that load but probably do not do what the owner meant (for `check-config`), one
    /// line each.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(cap) = self.max_spend_per_cycle {
            for f in self.flows.iter().filter(|f| f.price > cap) {
                out.push(format!(
                    "topup.flow {:?} price = {} is more than topup.max_spend_per_cycle = {cap}, so this flow can never run",
                    f.name, f.price
                ));
            }
        }
        out
    }
}

/// One `[[topup.flow]]`, validated.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    pub name: String,
    pub price: Money,
    /// What a successful purchase adds to the balance (what `verify` waits for).
    pub adds_bytes: u64,
    pub steps: Vec<Step>,
}

const MAX_REGEX_LEN: usize = 1000;
const MAX_NAME_CHARS: usize = 40;

/// Validates `[topup]`. `text` is the whole config file (for line numbers), `unit_base` the
/// `[usage] unit_base`, `known_apis` the names of the `[carrier_api.NAME]` tables.
pub fn topup_config(
    raw: Option<&RawTopup>,
    text: &str,
    unit_base: UnitBase,
    known_apis: &[String],
) -> Result<TopupConfig, TopupError> {
    let mut cfg = TopupConfig {
        unit_base,
        ..TopupConfig::default()
    };
    let Some(raw) = raw else {
        return Ok(cfg);
    };
    settings(raw, &mut cfg)?;
    for (i, f) in raw.flow.iter().enumerate() {
        // The span of an array-of-tables entry starts at its `[[topup.flow]]` header.
        let line = line_of(text, f.span().start);
        let flow = flow_config(f.get_ref(), i, line, text, unit_base, known_apis)?;
        if cfg.flows.iter().any(|g| g.name == flow.name) {
            return Err(TopupError {
                place: format!("topup.flow {:?}{}", flow.name, at_line(line)),
                reason: "two flows have this name; give each flow its own name".into(),
            });
        }
        cfg.flows.push(flow);
    }
    if cfg.enabled && cfg.flows.is_empty() {
        return Err(TopupError {
            place: "topup.enabled = true".into(),
            reason: "no [[topup.flow]] says how to buy data; add one or set enabled = false".into(),
        });
    }
    Ok(cfg)
}

/// The keys of `[topup]` itself (everything but the flows), into `cfg`.
fn settings(raw: &RawTopup, cfg: &mut TopupConfig) -> Result<(), TopupError> {
    let unit_base = cfg.unit_base;
    let at = |key: &str, value: &str, reason: String| TopupError {
        place: format!("topup.{key} = {value:?}"),
        reason,
    };
    cfg.enabled = raw.enabled.unwrap_or(false);
    cfg.dry_run = raw.dry_run.unwrap_or(false);
    cfg.trust_clock = raw.trust_clock.unwrap_or(false);
    match &raw.threshold {
        Some(t) => cfg.threshold = threshold(t, unit_base).map_err(|r| at("threshold", t, r))?,
        None if cfg.enabled => {
            return Err(TopupError {
                place: "topup.threshold".into(),
                reason: "required when topup.enabled = true, e.g. \"500MB\" or \"10%\"".into(),
            })
        }
        None => {}
    }
    if let Some(h) = &raw.horizon {
        let d = duration(h, Duration::from_secs(60)).map_err(|r| at("horizon", h, r))?;
        cfg.horizon = Some(d);
    }
    if let Some(n) = raw.max_per_cycle {
        cfg.max_per_cycle = u32::try_from(n)
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                at(
                    "max_per_cycle",
                    &n.to_string(),
                    "use 1 to 100 (set topup.enabled = false to stop top-ups)".into(),
                )
            })?;
    }
    if let Some(v) = &raw.max_spend_per_cycle {
        let shown = crate::topup::money::toml_shown(v);
        let bad = |reason: String| TopupError {
            place: format!("topup.max_spend_per_cycle = {shown}"),
            reason,
        };
        let m = Money::from_toml(v).map_err(|e| bad(e.to_string()))?;
        if !m.is_positive() {
            return Err(bad(
                "must be more than 0 (leave it out for no spending cap)".into(),
            ));
        }
        cfg.max_spend_per_cycle = Some(m);
    }
    if let Some(c) = &raw.currency {
        let n = c.chars().count();
        if !(1..=8).contains(&n) || c.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
            return Err(at(
                "currency",
                c,
                "use a short code such as \"EUR\" or \"TZS\"".into(),
            ));
        }
        cfg.currency = c.clone();
    }
    if let Some(c) = &raw.cooldown {
        cfg.cooldown = duration(c, Duration::from_secs(60)).map_err(|r| at("cooldown", c, r))?;
    }
    for (i, id) in raw.iccids.iter().flatten().enumerate() {
        cfg.iccids
            .push(iccid(id).map_err(|r| at(&format!("iccids[{i}]"), id, r))?);
    }
    for (i, pat) in raw.trigger_sms.iter().flatten().enumerate() {
        cfg.trigger_sms
            .push(regex(pat).map_err(|r| at(&format!("trigger_sms[{i}]"), pat, r))?);
    }
    Ok(())
}

fn flow_config(
    raw: &RawFlow,
    index: usize,
    line: Option<usize>,
    text: &str,
    unit_base: UnitBase,
    known_apis: &[String],
) -> Result<FlowConfig, TopupError> {
    let name = raw.name.clone().unwrap_or_default();
    let unnamed = || format!("topup.flow[{index}].name{}", at_line(line));
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(TopupError {
            place: unnamed(),
            reason: format!(
                "every flow needs a name of 1 to {MAX_NAME_CHARS} characters, e.g. name = \"monthly\""
            ),
        });
    }
    let place = format!("topup.flow {name:?}");
    let bad = |key: &str, reason: String| TopupError {
        place: format!("{place}{} {key}", at_line(line)),
        reason,
    };
    let price_v = raw.price.as_ref().ok_or_else(|| {
        bad(
            "price",
            "required: what one purchase costs, e.g. 4.99".into(),
        )
    })?;
    let shown = crate::topup::money::toml_shown(price_v);
    let price =
        Money::from_toml(price_v).map_err(|e| bad(&format!("price = {shown}"), e.to_string()))?;
    if !price.is_positive() {
        return Err(bad(
            &format!("price = {shown}"),
            "must be more than 0".into(),
        ));
    }
    // A price above max_spend_per_cycle is not refused here: the issue's own example prices a
    // flow in Tsh (10000) next to a cap in EUR (30), and "these keys must work as written". The
    // policy never picks such a flow and says why; `TopupConfig::warnings` tells check-config.
    let adds_s = raw.adds.as_ref().ok_or_else(|| {
        bad(
            "adds",
            "required: the data one purchase adds, e.g. \"1GB\"".into(),
        )
    })?;
    if let Some(reason) = crate::config::size_needs_unit(adds_s) {
        return Err(bad(&format!("adds = {adds_s:?}"), reason));
    }
    let adds_bytes = parse_size(adds_s, unit_base)
        .map_err(|e| bad(&format!("adds = {adds_s:?}"), e.to_string()))?;
    if adds_bytes == 0 {
        return Err(bad(
            &format!("adds = {adds_s:?}"),
            "must be more than 0".into(),
        ));
    }
    if raw.steps.is_empty() {
        return Err(bad(
            "steps",
            "a flow needs at least one step, e.g. steps = [ { ussd = \"*149*01#\" } ]".into(),
        ));
    }
    let steps = flow_steps(&raw.steps, &place, text, known_apis)?;
    if steps.iter().all(|s| matches!(s, Step::Verify { .. })) {
        return Err(bad(
            "steps",
            "a flow needs a step that buys (ussd, sms or http), not only verify".into(),
        ));
    }
    Ok(FlowConfig {
        name,
        price,
        adds_bytes,
        steps,
    })
}

/// The steps of the flow at `place`, each error naming the step by number, kind and line.
fn flow_steps(
    raw: &[toml::Spanned<RawStep>],
    place: &str,
    text: &str,
    known_apis: &[String],
) -> Result<Vec<Step>, TopupError> {
    let mut steps: Vec<Step> = Vec::with_capacity(raw.len());
    for (i, spanned) in raw.iter().enumerate() {
        let line = line_of(text, spanned.span().start);
        let rs = spanned.get_ref();
        let kind = KINDS
            .iter()
            .copied()
            .find(|k| action(rs, k).is_some())
            .unwrap_or("?");
        let where_ = match line {
            Some(l) => format!("{place} step {} ({kind}), line {l}", i + 1),
            None => format!("{place} step {} ({kind})", i + 1),
        };
        let s = validate_step(rs, known_apis, steps.last()).map_err(|reason| TopupError {
            place: where_.clone(),
            reason,
        })?;
        if let Some(Step::Verify { .. }) = steps.last() {
            return Err(TopupError {
                place: where_,
                reason: "verify must be the last step (it checks the balance after the purchase)"
                    .into(),
            });
        }
        steps.push(s);
    }
    Ok(steps)
}

/// The 1-based line of byte offset `pos` in `text`, if `text` is the file the offset came from.
fn line_of(text: &str, pos: usize) -> Option<usize> {
    text.get(..pos).map(|s| s.matches('\n').count() + 1)
}

/// ` (line 12)`, or nothing when the line is not known.
fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// `"500MB"` → bytes, `"10%"` / `"2.5%"` → basis points.
pub(crate) fn threshold(s: &str, base: UnitBase) -> Result<Threshold, String> {
    if let Some(p) = s.trim().strip_suffix('%') {
        let d = Decimal::parse_plain(p.trim()).ok_or_else(|| {
            "write a size such as \"500MB\" or a share of the quota such as \"10%\"".to_string()
        })?;
        // Basis points = percent × 100; more than 2 decimals of a percent is not exact.
        let bp = if d.scale <= 2 {
            d.mantissa
                .checked_mul(10u128.pow(2 - d.scale))
                .and_then(|v| u32::try_from(v).ok())
        } else {
            None
        };
        return match bp {
            Some(bp) if (1..=10_000).contains(&bp) => Ok(Threshold::Percent(bp)),
            _ => Err(
                "a share of the quota is more than 0% and at most 100%, with at most 2 decimals"
                    .into(),
            ),
        };
    }
    if let Some(reason) = crate::config::size_needs_unit(s) {
        return Err(reason);
    }
    let b = parse_size(s, base).map_err(|e| e.to_string())?;
    if b == 0 {
        return Err("must be more than 0".into());
    }
    Ok(Threshold::Bytes(b))
}

fn duration(s: &str, min: Duration) -> Result<Duration, String> {
    crate::config::duration_in(s, min, Duration::from_secs(30 * 86_400))
}

/// 18 to 22 digits, optionally padded with a trailing F (ICCIDs of odd length are).
fn iccid(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    let digits = up.strip_suffix('F').unwrap_or(&up);
    if (18..=22).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(up)
    } else {
        Err("an ICCID is 18 to 22 digits (as in `simkeep status`), optionally ending in F".into())
    }
}

/// Compiles a pattern; the error is the cause only, on one line.
fn regex(p: &str) -> Result<Regex, String> {
    if p.len() > MAX_REGEX_LEN {
        return Err(format!(
            "a pattern longer than {MAX_REGEX_LEN} bytes is not allowed"
        ));
    }
    Regex::new(p).map_err(|e| regex_cause(&e.to_string()))
}

/// regex-lite errors span several lines (the pattern, a caret, then `error: …`); keep the cause.
fn regex_cause(msg: &str) -> String {
    let cause = msg
        .lines()
        .find_map(|l| l.trim().strip_prefix("error:"))
        .map(str::trim)
        .unwrap_or_else(|| msg.lines().last().unwrap_or(msg).trim());
    format!("not a valid pattern: {cause}")
}

#[cfg(test)]
#[path = "topup_tests.rs"]
mod tests;
