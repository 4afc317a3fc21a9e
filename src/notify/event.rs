//! The agent's one stream of typed events: what happened, how much it matters, one plain line
//! for a person, and the details as JSON for machines (webhook, exec, the store).
//!
//! Names are stable snake_case: owners write them in `[[notify]] events = [...]` and scripts
//! match on them. An attention event also carries its `code` (`data_low`, `signal_weak`), and a
//! filter naming that code matches it.
//!
//! It must not: do I/O, or put a secret in a text (texts go to third-party services).

use serde::Serialize;
use serde_json::{json, Value};

use crate::sms::ReceivedSms;
use crate::topup::policy::AttemptState;

/// How much an event matters; `[[notify]] min_level` compares these in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Critical,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Info, Level::Warning, Level::Critical];

    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name() == s)
    }

    /// The number the store keeps (the outbox drops the lowest first when full).
    pub fn rank(self) -> u8 {
        match self {
            Level::Info => 0,
            Level::Warning => 1,
            Level::Critical => 2,
        }
    }
}

pub const AGENT_STARTED: &str = "agent_started";
pub const SMS_RECEIVED: &str = "sms_received";
pub const TOPUP_DECIDED: &str = "topup_decided";
pub const TOPUP_SUCCEEDED: &str = "topup_succeeded";
pub const TOPUP_FAILED: &str = "topup_failed";
pub const TOPUP_UNVERIFIED: &str = "topup_unverified";
pub const TOPUP_HELD_BACK: &str = "topup_held_back";
pub const SIM_SWAPPED: &str = "sim_swapped";
pub const MODEM_LOST: &str = "modem_lost";
pub const MODEM_BACK: &str = "modem_back";
pub const ATTENTION_RAISED: &str = "attention_raised";
pub const ATTENTION_CLEARED: &str = "attention_cleared";
/// `simkeep notify test`: never emitted by the agent, never filtered out.
pub const TEST: &str = "test";

/// Every name the agent emits, for config validation and the README.
pub const EVENT_NAMES: &[&str] = &[
    AGENT_STARTED,
    SMS_RECEIVED,
    TOPUP_DECIDED,
    TOPUP_SUCCEEDED,
    TOPUP_FAILED,
    TOPUP_UNVERIFIED,
    TOPUP_HELD_BACK,
    SIM_SWAPPED,
    MODEM_LOST,
    MODEM_BACK,
    ATTENTION_RAISED,
    ATTENTION_CLEARED,
];

/// Longest one-line text kept (an SMS forwarded whole is up to ~1600 characters; a Telegram
/// message may be 4096).
pub const MAX_TEXT_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentEvent {
    /// Stable snake_case name ([`EVENT_NAMES`]).
    #[serde(rename = "event")]
    pub name: &'static str,
    /// The attention code for `attention_raised`/`attention_cleared`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub level: Level,
    /// Unix seconds.
    pub time: i64,
    /// One plain line for a person.
    pub text: String,
    pub fields: Value,
}

impl AgentEvent {
    pub fn new(name: &'static str, level: Level, time: i64, text: impl Into<String>) -> Self {
        AgentEvent {
            name,
            code: None,
            level,
            time,
            text: cap_text(text.into()),
            fields: json!({}),
        }
    }

    fn with(mut self, fields: Value) -> Self {
        self.fields = fields;
        self
    }

    /// True for events that are neither money nor messages — the modem's and the attention
    /// list's state changes — whatever their level. (The agent's start is written at once: it
    /// is once per process, and after a power cut it is the record that one happened.) They are stored with
    /// the telemetry batch and their notifications are delivered from memory, so a flapping
    /// modem does not cost a synced write per change (the facts behind a money alert, the
    /// ledger and the top-up events, are durable on their own). Top-ups, SMS and SIM swaps are
    /// written at once and delivered from the store.
    pub fn rides_with_telemetry(&self) -> bool {
        const STATE_CHANGES: [&str; 4] =
            [MODEM_LOST, MODEM_BACK, ATTENTION_RAISED, ATTENTION_CLEARED];
        STATE_CHANGES.contains(&self.name)
    }

    /// True when a `[[notify]] events` entry names this event (or its attention code).
    pub fn matches(&self, filter: &str) -> bool {
        self.name == filter || self.code.as_deref() == Some(filter)
    }

    /// The JSON a webhook receives and an exec script reads on stdin.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    pub fn agent_started(time: i64, version: &str) -> Self {
        AgentEvent::new(
            AGENT_STARTED,
            Level::Info,
            time,
            format!("simkeep {version} started"),
        )
        .with(json!({ "version": version }))
    }

    pub fn sms_received(sms: &ReceivedSms) -> Self {
        let mut text = format!("SMS from {}: {}", sms.sender, sms.text);
        if !sms.complete {
            text.push_str(" (some parts never arrived)");
        }
        AgentEvent::new(SMS_RECEIVED, Level::Info, sms.received_at, text).with(json!({
            "sender": sms.sender,
            "text": sms.text,
            "sent_at": sms.sent_at,
            "parts": sms.parts,
            "complete": sms.complete,
            "iccid": sms.iccid,
        }))
    }

    /// The policy decided to buy (`flows` in the order they will be tried).
    pub fn topup_decided(time: i64, flows: &[&str], reason: &str, dry_run: bool) -> Self {
        let what = if dry_run {
            "Would top up (dry run)"
        } else {
            "Topping up"
        };
        AgentEvent::new(
            TOPUP_DECIDED,
            Level::Info,
            time,
            format!("{what} with {}: {reason}", flows.join(" or ")),
        )
        .with(json!({ "flows": flows, "reason": reason, "dry_run": dry_run }))
    }

    /// How an attempt ended; `None` for the states that are not an end (planned, running).
    /// `bought` is what the flow adds and costs, e.g. ("1 GB", "500 JPY"), when known.
    pub fn topup_end(
        time: i64,
        flow: &str,
        state: AttemptState,
        note: &str,
        bought: Option<(String, String)>,
    ) -> Option<Self> {
        let (size, price) = bought.unwrap_or_default();
        let (name, level, text) = match state {
            AttemptState::Succeeded if !size.is_empty() => (
                TOPUP_SUCCEEDED,
                Level::Info,
                format!("Topped up {size} for {price} (flow {flow})"),
            ),
            AttemptState::Succeeded => (
                TOPUP_SUCCEEDED,
                Level::Info,
                format!("Topped up (flow {flow})"),
            ),
            AttemptState::Failed => (
                TOPUP_FAILED,
                Level::Warning,
                format!("Top-up failed (flow {flow}): {note}"),
            ),
            AttemptState::Unverified | AttemptState::Unknown => (
                TOPUP_UNVERIFIED,
                Level::Critical,
                format!("Top-up not confirmed (flow {flow}), check the account: {note}"),
            ),
            AttemptState::Planned | AttemptState::Running | AttemptState::Verifying => return None,
        };
        Some(AgentEvent::new(name, level, time, text).with(json!({
            "flow": flow,
            "state": format!("{state:?}").to_ascii_lowercase(),
            "note": note,
            "size": (!size.is_empty()).then_some(size),
            "price": (!price.is_empty()).then_some(price),
        })))
    }

    /// Automatic top-ups stopped themselves (a pause after an unconfirmed attempt, a cap).
    pub fn topup_held_back(time: i64, reason: &str) -> Self {
        AgentEvent::new(
            TOPUP_HELD_BACK,
            Level::Warning,
            time,
            format!("Automatic top-ups held back: {reason}"),
        )
        .with(json!({ "reason": reason }))
    }

    pub fn sim_swapped(time: i64, from: Option<&str>, to: &str) -> Self {
        let text = match from {
            Some(f) => format!("SIM swapped: {f} -> {to}"),
            None => format!("SIM inserted: {to}"),
        };
        AgentEvent::new(SIM_SWAPPED, Level::Warning, time, text)
            .with(json!({ "from": from, "to": to }))
    }

    pub fn modem_lost(time: i64, cause: &str) -> Self {
        AgentEvent::new(
            MODEM_LOST,
            Level::Critical,
            time,
            format!("Modem lost: {cause}"),
        )
        .with(json!({ "cause": cause }))
    }

    pub fn modem_back(time: i64) -> Self {
        AgentEvent::new(MODEM_BACK, Level::Info, time, "Modem answers again")
    }

    /// An attention item raised or cleared (from the attention model). `code` is its stable
    /// name (`data_low`), `message` the line the owner sees.
    pub fn attention(code: &str, level: Level, message: &str, raised: bool, time: i64) -> Self {
        let (name, text, level) = if raised {
            (ATTENTION_RAISED, message.to_string(), level)
        } else {
            (
                ATTENTION_CLEARED,
                format!("Cleared: {message}"),
                Level::Info,
            )
        };
        let mut e = AgentEvent::new(name, level, time, text)
            .with(json!({ "code": code, "message": message }));
        e.code = Some(code.to_string());
        e
    }

    pub fn test(time: i64, channel: &str) -> Self {
        AgentEvent::new(
            TEST,
            Level::Info,
            time,
            format!("Test message from simkeep (channel {channel})"),
        )
    }
}

/// Keeps at most [`MAX_TEXT_CHARS`] characters and no line breaks (a "one-line" text; an SMS
/// body's own line breaks become spaces in the line, they stay in `fields.text`).
fn cap_text(s: String) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_matches_the_name_or_an_attention_code() {
        let e = AgentEvent::attention("data_low", Level::Warning, "200 MB left", true, 5);
        assert!(e.matches("data_low"));
        assert!(e.matches("attention_raised"));
        assert!(!e.matches("signal_weak"));
        let j: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(j["event"], "attention_raised");
        assert_eq!(j["code"], "data_low");
        assert_eq!(j["level"], "warning");
        let c = AgentEvent::attention("data_low", Level::Warning, "200 MB left", false, 6);
        assert_eq!(c.name, ATTENTION_CLEARED);
        assert_eq!(c.level, Level::Info);
    }

    #[test]
    fn a_succeeded_topup_reads_like_a_sentence() {
        let e = AgentEvent::topup_end(
            1,
            "docomo-api",
            AttemptState::Succeeded,
            "",
            Some(("1 GB".into(), "500 JPY".into())),
        )
        .unwrap();
        assert_eq!(e.text, "Topped up 1 GB for 500 JPY (flow docomo-api)");
        assert!(AgentEvent::topup_end(1, "f", AttemptState::Running, "", None).is_none());
        let u = AgentEvent::topup_end(1, "f", AttemptState::Unknown, "no answer", None).unwrap();
        assert_eq!((u.name, u.level), (TOPUP_UNVERIFIED, Level::Critical));
    }

    #[test]
    fn texts_are_one_line_and_capped() {
        let long = "x\n".repeat(3000);
        let e = AgentEvent::new(TEST, Level::Info, 0, long);
        assert!(!e.text.contains('\n'));
        assert_eq!(e.text.chars().count(), MAX_TEXT_CHARS + 1);
    }

    #[test]
    fn levels_order_and_round_trip() {
        assert!(Level::Info < Level::Warning && Level::Warning < Level::Critical);
        for l in Level::ALL {
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::parse("error"), None);
    }
}
