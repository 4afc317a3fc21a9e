//! What the ledger remembers about one top-up attempt, beyond the store's columns: the SIM, the
//! flow's step reached, the balance before, the carrier's answers. Kept as JSON in the ledger
//! row's `detail` so an attempt can be verified after a crash without a schema change.
//!
//! Must not: hold a secret. Everything written here went through the secrets' redaction first.

use serde::{Deserialize, Serialize};

use super::money::Money;
use super::policy::{AttemptState, LedgerView};
use crate::store::LedgerEntry;

/// At most this many carrier answers are kept per attempt, each cut to `ANSWER_CHARS`.
const MAX_TRANSCRIPT: usize = 24;
const ANSWER_CHARS: usize = 300;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptDetail {
    pub iccid: String,
    pub flow: String,
    /// Bytes the flow promises to add.
    pub adds_bytes: u64,
    /// The step in progress or last reached (1-based; 0 = none yet).
    pub step: usize,
    pub steps: usize,
    /// Data left when the decision was taken: the verification compares against it.
    pub balance_before: Option<u64>,
    /// Why the policy decided to buy.
    pub reason: String,
    /// How the attempt ended, or what it is doing, in the owner's words.
    #[serde(default)]
    pub note: String,
    /// The carrier's answers, in order (USSD texts, SMS, HTTP status and body), redacted.
    #[serde(default)]
    pub transcript: Vec<String>,
    #[serde(default)]
    pub manual: bool,
}

impl AttemptDetail {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The detail of a row; rows written by hand or by an older version give an empty one.
    pub fn from_entry(e: &LedgerEntry) -> AttemptDetail {
        serde_json::from_str(&e.detail).unwrap_or_else(|_| AttemptDetail {
            note: e.detail.clone(),
            ..AttemptDetail::default()
        })
    }

    /// Adds one carrier answer (already redacted), keeping the transcript bounded.
    pub fn heard(&mut self, what: &str) {
        if self.transcript.len() >= MAX_TRANSCRIPT {
            self.transcript.remove(0);
        }
        let mut s: String = what.chars().take(ANSWER_CHARS).collect();
        if what.chars().count() > ANSWER_CHARS {
            s.push('…');
        }
        self.transcript.push(s);
    }
}

/// The policy's view of a ledger row.
pub fn view(e: &LedgerEntry) -> LedgerView {
    let d = AttemptDetail::from_entry(e);
    LedgerView {
        created: e.created,
        // An unreadable state is treated as the worst case: it may have charged.
        state: AttemptState::parse(&e.state).unwrap_or(AttemptState::Unknown),
        price: Money::from_minor(e.amount_minor),
        flow: if d.flow.is_empty() {
            e.method.clone()
        } else {
            d.flow
        },
    }
}

/// The rows that belong to `iccid`.
pub fn for_sim<'a>(
    entries: &'a [LedgerEntry],
    iccid: &'a str,
) -> impl Iterator<Item = &'a LedgerEntry> {
    entries
        .iter()
        .filter(move |e| AttemptDetail::from_entry(e).iccid == iccid)
}

/// True when an entry's state says it was still under way when the agent stopped.
pub fn in_flight(state: &str) -> bool {
    matches!(
        AttemptState::parse(state),
        Some(AttemptState::Planned | AttemptState::Running | AttemptState::Verifying)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LedgerId;

    fn entry(state: &str, detail: &str) -> LedgerEntry {
        LedgerEntry {
            id: LedgerId(1),
            decision_key: "k".into(),
            state: state.into(),
            amount_minor: 1000,
            currency: "EUR".into(),
            method: "api".into(),
            created: 100,
            updated: 100,
            detail: detail.into(),
        }
    }

    #[test]
    fn detail_round_trips_and_old_rows_still_read() {
        let mut d = AttemptDetail {
            iccid: "8981100022152467221".into(),
            flow: "sms-keyword".into(),
            adds_bytes: 1 << 30,
            balance_before: Some(5),
            ..AttemptDetail::default()
        };
        d.heard("您已成功订购1GB流量包");
        let e = entry("running", &d.to_json());
        assert_eq!(AttemptDetail::from_entry(&e), d);
        let old = entry("sent", "{\"ref\":\"A1\"}");
        let v = view(&old);
        assert_eq!(v.flow, "api", "falls back to the method column");
        assert_eq!(
            v.state,
            AttemptState::Unknown,
            "an unknown state counts as charged"
        );
    }

    #[test]
    fn the_transcript_is_bounded() {
        let mut d = AttemptDetail::default();
        for i in 0..100 {
            d.heard(&format!("{i}{}", "x".repeat(1000)));
        }
        assert_eq!(d.transcript.len(), MAX_TRANSCRIPT);
        assert!(d
            .transcript
            .iter()
            .all(|t| t.chars().count() <= ANSWER_CHARS + 1));
        assert!(d.transcript[0].starts_with("76"));
    }

    #[test]
    fn planned_running_and_verifying_are_in_flight() {
        for s in ["planned", "running", "verifying"] {
            assert!(in_flight(s), "{s}");
        }
        for s in ["succeeded", "failed", "unverified", "unknown"] {
            assert!(!in_flight(s), "{s}");
        }
    }
}
