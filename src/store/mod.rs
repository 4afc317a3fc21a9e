//! The SQLite store: history, the SMS inbox, the carrier's balance readings, the top-up ledger and
//! events, in one file that survives power cuts and spares the router's flash.
//!
//! One owner thread holds the connection (rusqlite blocks); the rest of the daemon talks to it
//! through a cloneable async [`StoreHandle`]. Telemetry (`record_signal`, `record_usage`) is
//! buffered in memory and written in one batch per `flush_interval` (default 15 min) and on
//! shutdown; durable records (SMS, balance readings, ledger, events, USSD) are written and synced
//! at once. When the file cannot be written (full, read-only, locked) durable records wait in
//! memory and are retried until they land, and the caller is told which happened ([`Durable`]).
//!
//! Must not: be bypassed — no SQL anywhere else in simkeep; block an async task (every call hops
//! to the owner thread); lose an accepted ledger entry or message; delete a database file.

mod db;
mod error;
mod outbox;
mod pack;
mod query;
mod schema;
mod types;
mod worker;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use tokio::sync::oneshot;

pub use error::StoreError;
pub use outbox::{OutboxAdded, OutboxEvent, OutboxRow};
pub use types::*;
use worker::{StoreCmd, Worker};

/// Commands waiting for the owner thread. At a 30 s poll the daemon sends a few per minute; the
/// bound only matters when the disk stalls, and then telemetry is dropped rather than queued.
const CHANNEL_CAPACITY: usize = 256;

/// Cloneable handle to the store thread. Dropping every handle flushes and stops the thread;
/// prefer [`StoreHandle::shutdown`], which reports whether the final flush landed.
#[derive(Clone)]
pub struct StoreHandle {
    tx: SyncSender<StoreCmd>,
    /// The worker's health as of its last command (see [`StoreHandle::health_now`]).
    published: Arc<std::sync::Mutex<StoreHealth>>,
    /// Telemetry dropped because the command queue was full (the thread counts the rest).
    /// 32 bits: MIPS routers have no 64-bit atomics. Saturates rather than wraps.
    dropped: Arc<AtomicU32>,
}

impl StoreHandle {
    /// Starts the store thread and opens the database. A database that cannot be opened does not
    /// fail this call: the store runs on memory and retries; see [`StoreHandle::health`].
    pub fn start(cfg: StoreConfig) -> Result<StoreHandle, StoreError> {
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let path = cfg.path.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let published = Arc::new(std::sync::Mutex::new(StoreHealth::default()));
        let health = published.clone();
        std::thread::Builder::new()
            .name("simkeep-store".into())
            .spawn(move || {
                let mut w = Worker::new(cfg);
                if let Err(e) = w.ensure_open() {
                    tracing::warn!(error = %e, "store starts without its database");
                }
                if let Ok(mut h) = health.lock() {
                    *h = w.health();
                }
                let _ = ready_tx.send(());
                w.run(rx, health);
            })
            .map_err(|cause| StoreError::Spawn { path, cause })?;
        // Wait for the first open so that callers see a settled health report.
        let _ = ready_rx.recv();
        Ok(StoreHandle {
            tx,
            published,
            dropped: Arc::new(AtomicU32::new(0)),
        })
    }

    fn send(&self, cmd: StoreCmd) -> Result<(), StoreError> {
        self.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Busy {
                capacity: CHANNEL_CAPACITY,
            },
            TrySendError::Disconnected(_) => StoreError::Stopped,
        })
    }

    fn send_telemetry(&self, cmd: StoreCmd) -> Result<(), StoreError> {
        let r = self.send(cmd);
        if r.is_err() {
            let _ = self
                .dropped
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_add(1))
                });
        }
        r
    }

    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(StoreCmd::Call(Box::new(move |w| {
            let _ = tx.send(f(w));
        })))?;
        rx.await.map_err(|_| StoreError::Stopped)
    }

    /// Buffers a signal sample until the next flush.
    pub fn record_signal(&self, s: SignalSample) -> Result<(), StoreError> {
        self.send_telemetry(StoreCmd::Signal(s))
    }

    /// Buffers a usage sample until the next flush (and marks the SIM as seen at `u.t`).
    pub fn record_usage(&self, u: UsageSample) -> Result<(), StoreError> {
        self.send_telemetry(StoreCmd::Usage(u))
    }

    /// Replaces the usage model's state for one SIM; written at the next flush.
    pub fn save_sim_state(
        &self,
        iccid: &str,
        t: i64,
        state_json: String,
    ) -> Result<(), StoreError> {
        self.send(StoreCmd::SimState {
            iccid: iccid.to_string(),
            t,
            state_json,
        })
    }

    /// Records an event durably without waiting for the result (failures are logged and the
    /// event is retried with the other durable records).
    pub fn event(&self, t: i64, kind: &str, detail: &str) -> Result<(), StoreError> {
        self.send(StoreCmd::Event(Event {
            t,
            kind: kind.to_string(),
            detail: detail.to_string(),
        }))
    }

    /// Records an event that is neither money nor a message (a state change of the modem, an
    /// attention item) with the next telemetry batch instead of a synced commit of its own:
    /// a flapping modem must not wear the flash out. Reads see it at once; a power cut before
    /// the next flush loses it.
    pub fn event_batched(&self, t: i64, kind: &str, detail: &str) -> Result<(), StoreError> {
        self.send(StoreCmd::EventBatched(Event {
            t,
            kind: kind.to_string(),
            detail: detail.to_string(),
        }))
    }

    /// As [`StoreHandle::event_batched`] for bookkeeping where only the newest matters (the
    /// MQTT cursor): a newer one replaces the one still waiting for the batch.
    pub fn event_latest(&self, t: i64, kind: &str, detail: &str) -> Result<(), StoreError> {
        self.send(StoreCmd::EventLatest(Event {
            t,
            kind: kind.to_string(),
            detail: detail.to_string(),
        }))
    }

    /// Stores a message durably. The same message read again (same sender, time stamp and text)
    /// returns the existing id instead of a second row.
    pub async fn save_sms(&self, sms: SmsRecord) -> Result<Durable<SmsId>, StoreError> {
        self.call(move |w| w.save_sms(sms)).await?
    }

    pub async fn record_balance(&self, b: BalanceReading) -> Result<Durable<()>, StoreError> {
        self.call(move |w| w.record_balance(b)).await?
    }

    pub async fn record_ussd(&self, u: UssdSession) -> Result<Durable<()>, StoreError> {
        self.call(move |w| w.record_ussd(u)).await?
    }

    /// Records a top-up decision before any money moves. Fails with
    /// [`StoreError::DuplicateDecision`] if the key is already in the ledger (or queued for it).
    /// Do not spend on `Durable::Queued`: a power cut would forget the decision.
    pub async fn ledger_begin(&self, e: NewLedgerEntry) -> Result<Durable<LedgerId>, StoreError> {
        self.call(move |w| w.ledger_begin(e)).await?
    }

    /// Moves a ledger entry to `state` at time `t`; `detail` replaces the detail when given.
    pub async fn ledger_update_state(
        &self,
        id: LedgerId,
        t: i64,
        state: &str,
        detail: Option<String>,
    ) -> Result<Durable<()>, StoreError> {
        let state = state.to_string();
        self.call(move |w| w.ledger_update_state(id, t, state, detail))
            .await?
    }

    pub async fn ledger_get(&self, id: LedgerId) -> Result<Option<LedgerEntry>, StoreError> {
        self.call(move |w| w.query(|db| db.ledger_get(id))).await?
    }

    /// The entry for a decision key, including one still waiting in memory.
    pub async fn ledger_by_key(&self, key: &str) -> Result<Option<LedgerEntry>, StoreError> {
        let key = key.to_string();
        self.call(move |w| w.ledger_by_key(&key)).await?
    }

    /// Ledger entries created at or after `since`, oldest first (on disk only).
    pub async fn ledger_since(&self, since: i64) -> Result<Vec<LedgerEntry>, StoreError> {
        self.call(move |w| w.query(|db| db.ledger_since(since)))
            .await?
    }

    /// Usage samples at or after `since`, oldest first, including those not yet flushed.
    pub async fn usage_since(&self, since: i64) -> Result<Vec<UsageSample>, StoreError> {
        self.call(move |w| w.usage_since(since)).await?
    }

    /// Signal samples at or after `since`, oldest first, including those not yet flushed.
    pub async fn signal_since(&self, since: i64) -> Result<Vec<SignalSample>, StoreError> {
        self.call(move |w| w.signal_since(since)).await?
    }

    /// One page of usage samples with `t >= since`, oldest first, after skipping `skip` of
    /// them (those at exactly `since` already seen), at most `limit`.
    pub async fn usage_page(
        &self,
        since: i64,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<UsageSample>, StoreError> {
        self.call(move |w| w.usage_page(since, skip, limit)).await?
    }

    /// One page of signal samples, as [`StoreHandle::usage_page`].
    pub async fn signal_page(
        &self,
        since: i64,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<SignalSample>, StoreError> {
        self.call(move |w| w.signal_page(since, skip, limit))
            .await?
    }

    /// Bytes used in each period `[bounds[i], bounds[i+1])` (e.g. local days).
    pub async fn usage_daily(&self, bounds: Vec<i64>) -> Result<Vec<u64>, StoreError> {
        self.call(move |w| w.usage_daily(&bounds)).await?
    }

    /// Messages, newest first; `direction: None` lists both.
    pub async fn list_sms(
        &self,
        direction: Option<SmsDirection>,
        limit: u32,
    ) -> Result<Vec<StoredSms>, StoreError> {
        self.call(move |w| w.query(|db| db.list_sms(direction, limit)))
            .await?
    }

    /// Messages stored at or after `since`, newest first, at most `limit` (on disk only).
    pub async fn sms_since(&self, since: i64, limit: u32) -> Result<Vec<StoredSms>, StoreError> {
        self.call(move |w| w.query(|db| db.sms_since(since, limit)))
            .await?
    }

    pub async fn get_sms(&self, id: SmsId) -> Result<Option<StoredSms>, StoreError> {
        self.call(move |w| w.query(|db| db.get_sms(id))).await?
    }

    /// Deletes a stored message; `Ok(false)` if there was none with that id.
    pub async fn delete_sms(&self, id: SmsId) -> Result<bool, StoreError> {
        self.call(move |w| w.query(|db| db.delete_sms(id))).await?
    }

    pub async fn latest_balance(&self, iccid: &str) -> Result<Option<BalanceReading>, StoreError> {
        let iccid = iccid.to_string();
        self.call(move |w| w.query(|db| db.latest_balance(&iccid)))
            .await?
    }

    /// Events at or after `since`, newest first, at most `limit`.
    pub async fn events_since(&self, since: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.call(move |w| w.events_since(since, limit)).await?
    }

    /// Events after row `after_id` at or after `since`, oldest first, at most `limit`, with
    /// their row ids (the MQTT task's cursor).
    pub async fn events_after(
        &self,
        after_id: i64,
        since: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        self.call(move |w| w.events_after(after_id, since, limit))
            .await?
    }

    /// The newest event of `kind`, if any (on disk only).
    pub async fn last_event(&self, kind: &str) -> Result<Option<Event>, StoreError> {
        let kind = kind.to_string();
        self.call(move |w| w.last_event(&kind)).await?
    }

    pub async fn ussd_recent(&self, limit: u32) -> Result<Vec<UssdSession>, StoreError> {
        self.call(move |w| w.query(|db| db.ussd_recent(limit)))
            .await?
    }

    /// USSD sessions started at or after `since`, newest first, at most `limit` (on disk only).
    pub async fn ussd_since(&self, since: i64, limit: u32) -> Result<Vec<UssdSession>, StoreError> {
        self.call(move |w| w.query(|db| db.ussd_since(since, limit)))
            .await?
    }

    /// SIMs seen, most recently seen first (on disk only).
    pub async fn sims(&self) -> Result<Vec<SimRecord>, StoreError> {
        self.call(move |w| w.query(|db| db.sims())).await?
    }

    /// The usage model's state for one SIM, the newest whether flushed or not.
    pub async fn sim_state(&self, iccid: &str) -> Result<Option<String>, StoreError> {
        let iccid = iccid.to_string();
        self.call(move |w| w.sim_state(&iccid)).await?
    }

    /// The health as of the worker's last command, at once: for the poll loop and `/healthz`,
    /// which must not wait behind a command stuck on a file another process holds locked (the
    /// busy timeout) — that would stall polling.
    pub fn health_now(&self) -> StoreHealth {
        let mut h = self.published.lock().map(|h| h.clone()).unwrap_or_default();
        let lost = self.dropped.load(Ordering::Relaxed);
        h.dropped_telemetry = h.dropped_telemetry.saturating_add(u64::from(lost));
        h
    }

    /// Records an event and the deliveries it owes, synced, in one transaction.
    pub async fn outbox_enqueue(&self, e: OutboxEvent) -> Result<OutboxAdded, StoreError> {
        self.call(move |w| {
            let id = w.take_event_id();
            w.query(|db| db.outbox_enqueue(id, &e))
        })
        .await?
    }

    /// Deliveries due at `now`, oldest first.
    pub async fn outbox_due(&self, now: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        self.call(move |w| w.query(|db| db.outbox_due(now, limit)))
            .await?
    }

    /// Every delivery still owed, oldest first, at most `limit`.
    pub async fn outbox_all(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        self.call(move |w| w.query(|db| db.outbox_all(limit)))
            .await?
    }

    /// When the next delivery is due.
    pub async fn outbox_next_at(&self) -> Result<Option<i64>, StoreError> {
        self.call(move |w| w.query(|db| db.outbox_next_at()))
            .await?
    }

    /// Writes deliveries still owed from memory (synced), when the delivery task stops.
    pub async fn outbox_keep(&self, rows: Vec<OutboxRow>) -> Result<(), StoreError> {
        self.call(move |w| w.query(|db| db.outbox_keep(&rows)))
            .await?
    }

    pub async fn outbox_delete(&self, id: i64) -> Result<(), StoreError> {
        self.call(move |w| w.query(|db| db.outbox_delete(id)))
            .await?
    }

    /// A failed delivery: counted on its row; its channel waits until `next_at`.
    pub async fn outbox_defer(
        &self,
        id: i64,
        channel: &str,
        next_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let (channel, error) = (channel.to_string(), error.to_string());
        self.call(move |w| w.query(|db| db.outbox_defer(id, &channel, next_at, &error)))
            .await?
    }

    /// Events of `kind` at or after `since` (on disk only).
    pub async fn count_events(&self, kind: &str, since: i64) -> Result<u64, StoreError> {
        let kind = kind.to_string();
        self.call(move |w| w.count_events(&kind, since)).await?
    }

    pub async fn health(&self) -> Result<StoreHealth, StoreError> {
        let mut h = self.call(|w| w.health()).await?;
        let lost = self.dropped.load(Ordering::Relaxed);
        h.dropped_telemetry = h.dropped_telemetry.saturating_add(u64::from(lost));
        Ok(h)
    }

    /// Writes the buffered telemetry and retries pending durable records now.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(StoreCmd::Flush(tx))?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Flushes, closes the database and stops the thread. An error means some records stayed in
    /// memory and are lost with the process.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(StoreCmd::Shutdown(tx))?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }
}

#[cfg(test)]
mod tests;
