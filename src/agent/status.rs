//! The status snapshot the daemon publishes (on a `watch` channel) and the HTTP API and CLI
//! read. Owned data only, cheap to clone, serialisable as the API's JSON.

use serde::Serialize;

use crate::modem::driver::Snapshot;

/// What the agent knows right now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub version: &'static str,
    /// Unix seconds the daemon started.
    pub started_at: i64,
    /// `connected`, `connecting` or `down`.
    pub link: String,
    /// Why the modem is down, when it is.
    pub link_error: Option<String>,
    /// The last successful poll (kept while the modem is away, with its time).
    pub last_poll: Option<Snapshot>,
    /// Why the last poll failed, if it did.
    pub poll_error: Option<String>,
    /// Usage figures, when `[usage]` is configured.
    pub usage: Option<serde_json::Value>,
    /// Things that need the owner (SIM PUK, wrong PIN, store on a full disk…).
    pub attention: Vec<String>,
    /// Automatic top-ups, when `[topup]` is configured.
    pub topup: Option<super::topup::TopupStatus>,
}

/// Unix time now, in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
