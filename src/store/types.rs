//! Plain records the store accepts and returns, and its configuration. The daemon maps modem and
//! usage types onto these; nothing here knows about SQL or threads.
//!
//! Must not: depend on other simkeep modules (the store is built and tested on its own).

use std::path::PathBuf;
use std::time::Duration;

/// One radio reading. RSRQ/SINR keep one decimal (stored in tenths of a dB).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignalSample {
    pub t: i64,
    pub rssi_dbm: Option<i32>,
    pub rsrp_dbm: Option<i32>,
    pub rsrq_db: Option<f32>,
    pub sinr_db: Option<f32>,
    pub band: Option<String>,
    pub tech: Option<String>,
}

/// Cumulative traffic counters of one SIM at time `t`, and where they came from
/// (`interface`, `modem`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSample {
    pub t: i64,
    pub iccid: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub source: String,
}

/// The carrier's own figure. `remaining_bytes` is `None` when no rule matched; the raw reply is
/// kept either way so it can be re-parsed with better rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceReading {
    pub t: i64,
    pub iccid: String,
    pub remaining_bytes: Option<u64>,
    pub raw_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsDirection {
    Received,
    Sent,
}

/// A message received or sent. `sent_at` is the service-centre time stamp of a received message
/// (TS 23.040 §9.2.3.11 TP-SCTS) as unix seconds; `storage`/`modem_index` say where it sat in the
/// modem (`+CMGL` index, TS 27.005 §3.4.2), informational only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRecord {
    pub t: i64,
    pub iccid: Option<String>,
    pub direction: SmsDirection,
    pub peer: String,
    pub sent_at: Option<i64>,
    pub body: String,
    pub storage: Option<String>,
    pub modem_index: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SmsId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSms {
    pub id: SmsId,
    pub sms: SmsRecord,
}

/// One USSD exchange (TS 22.090): the request sent and the network's final answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdSession {
    pub t_start: i64,
    pub t_end: Option<i64>,
    pub iccid: Option<String>,
    pub request: String,
    pub response: Option<String>,
    pub status: String,
}

/// Event kind holding the id of the last event an MQTT broker acknowledged: bookkeeping, not
/// something that happened, so the events listing leaves it out.
pub const MQTT_CURSOR_EVENT: &str = "mqtt_cursor";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub t: i64,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerId(pub i64);

/// A top-up decision about to be carried out. `amount_minor` is in the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLedgerEntry {
    pub t: i64,
    pub decision_key: String,
    pub state: String,
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: LedgerId,
    pub decision_key: String,
    pub state: String,
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    pub created: i64,
    pub updated: i64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRecord {
    pub iccid: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The usage model's per-SIM state as JSON (opaque to the store).
    pub state_json: Option<String>,
}

/// How a durable write ended: on disk, or held in memory because the database is unwritable
/// (it is retried at every flush until it lands). Callers that spend money (the top-up driver)
/// must not proceed on `Queued`: a power cut would forget it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durable<T> {
    Committed(T),
    Queued {
        value: T,
        pending: usize,
        reason: String,
    },
}

impl<T> Durable<T> {
    pub fn value(&self) -> &T {
        match self {
            Durable::Committed(v) | Durable::Queued { value: v, .. } => v,
        }
    }

    pub fn is_committed(&self) -> bool {
        matches!(self, Durable::Committed(_))
    }
}

/// Row and age limit of one table. The store deletes the oldest rows beyond either. For the
/// telemetry tables `max_rows` counts samples, pruned a whole flush batch at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_rows: u64,
    pub max_age_secs: i64,
}

const DAY: i64 = 86_400;

/// Retention per table. The ledger has no limit: it is never pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub usage: Limit,
    pub signal: Limit,
    pub balance: Limit,
    pub sms: Limit,
    pub ussd: Limit,
    pub events: Limit,
}

impl Default for Retention {
    /// Sized for a 30 s poll on a router with a few MB of flash free: ~40 days of usage samples
    /// (~4 MB), two weeks of signal (~1 MB); the rare carrier records for a year or more.
    fn default() -> Self {
        Retention {
            usage: Limit {
                max_rows: 120_000,
                max_age_secs: 40 * DAY,
            },
            signal: Limit {
                max_rows: 40_000,
                max_age_secs: 14 * DAY,
            },
            balance: Limit {
                max_rows: 5_000,
                max_age_secs: 400 * DAY,
            },
            sms: Limit {
                max_rows: 2_000,
                max_age_secs: 730 * DAY,
            },
            ussd: Limit {
                max_rows: 2_000,
                max_age_secs: 400 * DAY,
            },
            events: Limit {
                max_rows: 5_000,
                max_age_secs: 90 * DAY,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// Telemetry is written at most this often (and on shutdown).
    pub flush_interval: Duration,
    /// How long a write waits for another process's lock before giving up with `Locked`.
    pub busy_timeout: Duration,
    /// Hold the file lock for the daemon's lifetime. Lets SQLite keep the WAL index in heap memory
    /// instead of a mmap'ed `-shm` file next to the database, which would otherwise be rewritten
    /// (on flash) at every commit. Cost: other processes cannot open the file while it runs.
    pub exclusive: bool,
    /// SQLite page size for a new file (512..=65536, a power of two); an existing file keeps
    /// its own. Small pages mean fewer bytes rewritten per commit (see `db::PAGE_SIZE`).
    pub page_size: u32,
    pub retention: Retention,
    /// Telemetry samples held in memory per kind while the database is unwritable; the oldest
    /// are dropped beyond it.
    pub max_buffered: usize,
    /// Durable records held in memory while the database is unwritable; more are refused.
    pub max_pending: usize,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            flush_interval: Duration::from_secs(15 * 60),
            busy_timeout: Duration::from_secs(5),
            exclusive: true,
            page_size: super::db::PAGE_SIZE,
            retention: Retention::default(),
            max_buffered: 20_000,
            max_pending: 10_000,
        }
    }
}

/// What the store is doing, for the status page and `simkeep status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreHealth {
    pub open: bool,
    pub last_error: Option<String>,
    pub pending_durable: usize,
    pub buffered_signal: usize,
    pub buffered_usage: usize,
    pub dropped_telemetry: u64,
    pub flushes: u64,
}
