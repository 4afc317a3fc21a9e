//! The store's owner thread: the only holder of the SQLite connection. Buffers telemetry in memory
//! and writes it in one batch per `flush_interval`; writes durable records at once; keeps every
//! durable record it could not write in a pending queue and retries it until it lands; moves a
//! corrupt file aside and starts a fresh one.
//!
//! Must not: block on anything but SQLite, drop an accepted durable record, or delete a database
//! file (corrupt files are renamed, never removed).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::ErrorCode;
use tokio::sync::oneshot;

use super::db::{sms_key, validate_balance, validate_usage, Db, DurableOp, OpenFail, SimDirty};
use super::error::{classify, fault_of, Fault, StoreError};
use super::types::*;

/// Retry an unwritable database this often, even when the flush interval is longer: pending
/// durable records are money and messages.
const RETRY_EVERY: Duration = Duration::from_secs(30);
/// Events held for the next telemetry batch at most (the oldest go first, counted as dropped).
const MAX_BATCHED_EVENTS: usize = 256;
/// After a failed open, further opens wait this long (except at a flush).
const REOPEN_PAUSE: Duration = Duration::from_secs(2);
/// A SIM's `last_seen` is written with this resolution (seconds).
const SIM_SEEN_RESOLUTION: i64 = 3600;
/// Age-based pruning scans whole tables, so it runs a few times a day, not every flush.
const AGE_PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);

pub(super) type Job = Box<dyn FnOnce(&mut Worker) + Send>;
pub(super) type Reply = oneshot::Sender<Result<(), StoreError>>;

pub(super) enum StoreCmd {
    Signal(SignalSample),
    Usage(UsageSample),
    SimState {
        iccid: String,
        t: i64,
        state_json: String,
    },
    Event(Event),
    /// An event that is not money or a message: written with the next telemetry batch.
    EventBatched(Event),
    /// As `EventBatched`, but a newer one of the same kind still in memory replaces the older
    /// (bookkeeping such as the MQTT cursor, where only the latest matters).
    EventLatest(Event),
    Call(Job),
    Flush(Reply),
    Shutdown(Reply),
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(super) struct Worker {
    cfg: StoreConfig,
    db: Option<Db>,
    signal: VecDeque<SignalSample>,
    usage: VecDeque<UsageSample>,
    /// Events that ride with the telemetry batch, with the ids they will have in the file.
    /// State changes of a flapping modem (lost/back, attention raised/cleared) each cost a
    /// synced commit of several pages when written at once; batched they cost a few rows.
    events: VecDeque<(i64, Event)>,
    sims: HashMap<String, SimDirty>,
    /// `last_seen` as last written per SIM, so that a SIM's row is rewritten at most hourly for
    /// its last-seen time alone (each rewrite is one more page per flush).
    sims_written: HashMap<String, i64>,
    pending: VecDeque<DurableOp>,
    /// Next ids to hand out; `None` until the file told us its highest id (see `take_id`).
    next_sms: Option<i64>,
    next_ledger: Option<i64>,
    next_event: Option<i64>,
    last_error: Option<String>,
    dropped: u64,
    flushes: u64,
    next_flush: Instant,
    last_age_prune: Option<Instant>,
    open_failed_at: Option<Instant>,
}

impl Worker {
    pub fn new(cfg: StoreConfig) -> Worker {
        let next_flush = Instant::now() + cfg.flush_interval;
        Worker {
            cfg,
            db: None,
            signal: VecDeque::new(),
            usage: VecDeque::new(),
            events: VecDeque::new(),
            sims: HashMap::new(),
            sims_written: HashMap::new(),
            pending: VecDeque::new(),
            next_sms: None,
            next_ledger: None,
            next_event: None,
            last_error: None,
            dropped: 0,
            flushes: 0,
            next_flush,
            last_age_prune: None,
            open_failed_at: None,
        }
    }

    /// Runs until `Shutdown` or until every handle is dropped; flushes before returning. After
    /// each command the health is published to `health`, where the daemon reads it without
    /// queueing behind a command that waits on a locked file.
    pub fn run(
        mut self,
        rx: Receiver<StoreCmd>,
        health: std::sync::Arc<std::sync::Mutex<StoreHealth>>,
    ) {
        loop {
            if let Ok(mut h) = health.lock() {
                *h = self.health();
            }
            let wait = self.next_flush.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(StoreCmd::Shutdown(reply)) => {
                    let r = self.flush();
                    self.db = None; // closes the file: SQLite checkpoints the WAL on last close
                    let _ = reply.send(r);
                    return;
                }
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.flush();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.flush();
                    return;
                }
            }
        }
    }

    fn handle(&mut self, cmd: StoreCmd) {
        match cmd {
            StoreCmd::Signal(s) => self.push_signal(s),
            StoreCmd::Usage(u) => self.push_usage(u),
            StoreCmd::SimState {
                iccid,
                t,
                state_json,
            } => {
                let d = self.touch_sim(&iccid, t);
                d.state = Some(state_json);
            }
            StoreCmd::Event(e) => {
                let id = take_id(&mut self.next_event);
                if let Err(err) = self.accept(DurableOp::Event { id, event: e }) {
                    let err = err.into_store(&self.cfg.path);
                    tracing::warn!(error = %err, "event not stored");
                }
            }
            StoreCmd::EventBatched(e) => {
                self.batch_event(e, false);
            }
            StoreCmd::EventLatest(e) => {
                self.batch_event(e, true);
            }
            StoreCmd::Call(job) => job(self),
            StoreCmd::Flush(reply) => {
                let _ = reply.send(self.flush());
            }
            StoreCmd::Shutdown(_) => {} // handled in run
        }
    }

    fn path(&self) -> PathBuf {
        self.cfg.path.clone()
    }

    fn busy_ms(&self) -> u64 {
        u64::try_from(self.cfg.busy_timeout.as_millis()).unwrap_or(u64::MAX)
    }

    fn note(&mut self, e: &StoreError) {
        if matches!(e, StoreError::Unavailable { .. }) {
            return; // wraps last_error itself
        }
        tracing::warn!(error = %e, "store");
        self.last_error = Some(e.to_string());
        let soon = Instant::now() + RETRY_EVERY.min(self.cfg.flush_interval);
        self.next_flush = self.next_flush.min(soon);
    }

    /// Turns an SQLite failure into the caller's error; a corrupt file is moved aside and the
    /// connection reopened on a fresh one.
    fn fail(&mut self, e: rusqlite::Error) -> StoreError {
        let code = e.sqlite_error_code();
        let err = if fault_of(&e) == Fault::Corrupt {
            self.db = None;
            self.recover_corrupt(e.to_string())
        } else {
            // SQLite silently opens a write-protected file read-only, and such a connection
            // stays read-only: drop it so the next attempt reopens (and sees a remount rw).
            if matches!(
                code,
                Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::SystemIoFailure)
            ) {
                self.db = None;
            }
            classify(&self.cfg.path, e, self.pending.len(), self.busy_ms())
        };
        self.note(&err);
        err
    }

    // ----- opening and corruption ---------------------------------------------------------

    /// Opens the database unless it is open, or an attempt failed moments ago (one caller's
    /// request can reach here twice, and each attempt may wait `busy_timeout` on a lock).
    pub fn ensure_open(&mut self) -> Result<(), StoreError> {
        if self.db.is_some() {
            return Ok(());
        }
        if let Some(at) = self.open_failed_at {
            if at.elapsed() < REOPEN_PAUSE {
                return Err(StoreError::Unavailable {
                    path: self.path(),
                    cause: self.last_error.clone().unwrap_or_default(),
                });
            }
        }
        let r = self.open_now();
        self.open_failed_at = r.is_err().then(Instant::now);
        if let Err(e) = &r {
            self.note(e);
        }
        r
    }

    fn open_now(&mut self) -> Result<(), StoreError> {
        match Db::open(&self.cfg) {
            Ok(db) => self.adopt(db),
            Err(OpenFail::Store(e)) => Err(e),
            Err(OpenFail::Sqlite(e)) if fault_of(&e) == Fault::Corrupt => {
                let err = self.recover_corrupt(e.to_string());
                self.note(&err);
                match self.db {
                    Some(_) => Ok(()),
                    None => Err(err),
                }
            }
            Err(OpenFail::Sqlite(e)) => Err(classify(
                &self.cfg.path,
                e,
                self.pending.len(),
                self.busy_ms(),
            )),
        }
    }

    fn adopt(&mut self, db: Db) -> Result<(), StoreError> {
        let ids = db
            .max_id("sms")
            .and_then(|s| Ok((s, db.max_id("topup_ledger")?, db.max_id("events")?)));
        let (sms, ledger, events) = ids.map_err(|cause| StoreError::Sql {
            path: db.path.clone(),
            cause,
        })?;
        self.next_sms = Some(next_after(self.next_sms, sms));
        self.next_ledger = Some(next_after(self.next_ledger, ledger));
        self.next_event = Some(next_after(self.next_event, events));
        self.db = Some(db);
        Ok(())
    }

    /// Moves the damaged file (and its WAL) to `<path>.corrupt-<unix time>`, opens a fresh one
    /// and records an event there. Returns the error to report either way.
    fn recover_corrupt(&mut self, cause: String) -> StoreError {
        let path = self.path();
        let moved_to = match move_aside(&path, unix_now()) {
            Ok(to) => to,
            Err(move_error) => {
                return StoreError::CorruptStuck {
                    path,
                    cause,
                    move_error,
                }
            }
        };
        let err = StoreError::Corrupt {
            path,
            moved_to,
            cause,
        };
        tracing::error!(error = %err, "store");
        if let Ok(db) = Db::open(&self.cfg) {
            if self.adopt(db).is_ok() {
                let ev = Event {
                    t: unix_now(),
                    kind: "store.corrupt".into(),
                    detail: err.to_string(),
                };
                let id = take_id(&mut self.next_event);
                self.pending.push_front(DurableOp::Event { id, event: ev });
            }
        }
        err
    }

    // ----- telemetry ----------------------------------------------------------------------

    fn push_signal(&mut self, s: SignalSample) {
        if self.signal.len() >= self.cfg.max_buffered {
            self.signal.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.signal.push_back(s);
    }

    fn push_usage(&mut self, u: UsageSample) {
        if let Err(e) = validate_usage(&u) {
            tracing::warn!(error = %e, "usage sample dropped");
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        let stale = self
            .sims_written
            .get(&u.iccid)
            .is_none_or(|w| u.t.saturating_sub(*w) >= SIM_SEEN_RESOLUTION);
        if stale {
            self.touch_sim(&u.iccid, u.t);
        }
        if self.usage.len() >= self.cfg.max_buffered {
            self.usage.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.usage.push_back(u);
    }

    /// Holds an event for the next batch, with the id it will have in the file. With `latest`,
    /// an older one of the same kind still held is replaced (and its id reused).
    fn batch_event(&mut self, e: Event, latest: bool) {
        if latest {
            if let Some(slot) = self.events.iter_mut().rev().find(|(_, o)| o.kind == e.kind) {
                slot.1 = e;
                return;
            }
        }
        if self.events.len() >= MAX_BATCHED_EVENTS {
            self.events.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        let id = take_id(&mut self.next_event);
        self.events.push_back((id, e));
    }

    /// The id the next event written at once will have (the outbox writes its own).
    pub(super) fn take_event_id(&mut self) -> i64 {
        take_id(&mut self.next_event)
    }

    fn touch_sim(&mut self, iccid: &str, t: i64) -> &mut SimDirty {
        let d = self
            .sims
            .entry(iccid.to_string())
            .or_insert_with(|| SimDirty {
                first_seen: t,
                last_seen: t,
                state: None,
            });
        d.first_seen = d.first_seen.min(t);
        d.last_seen = d.last_seen.max(t);
        d
    }

    /// Writes pending durable records, then the telemetry batch (pruning when due). Keeps
    /// everything in memory on failure. Does not touch the file when there is nothing to write.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let now = Instant::now();
        self.open_failed_at = None; // a flush always retries the file
        self.next_flush = now + self.cfg.flush_interval;
        let durable = if self.pending.is_empty() {
            Ok(())
        } else {
            self.drain().map(|_| ())
        };
        let by_age = self
            .last_age_prune
            .is_none_or(|t| now.duration_since(t) >= AGE_PRUNE_EVERY);
        if self.signal.is_empty()
            && self.usage.is_empty()
            && self.events.is_empty()
            && self.sims.is_empty()
            && !by_age
        {
            return durable;
        }
        if let Err(e) = self.ensure_open() {
            self.note(&e);
            return Err(e);
        }
        let retention = self.cfg.retention;
        let res = match self.db.as_mut() {
            Some(db) => db.write_telemetry(
                self.signal.make_contiguous(),
                self.usage.make_contiguous(),
                self.events.make_contiguous(),
                &self.sims,
                Some((&retention, unix_now(), by_age)),
            ),
            None => Ok(()),
        };
        match res {
            Ok(()) => {
                self.signal.clear();
                self.usage.clear();
                self.events.clear();
                for (iccid, d) in self.sims.drain() {
                    self.sims_written.insert(iccid, d.last_seen);
                }
                self.flushes = self.flushes.saturating_add(1);
                if by_age {
                    self.last_age_prune = Some(now);
                }
                if durable.is_ok() {
                    self.last_error = None;
                }
                durable
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    // ----- durable records ----------------------------------------------------------------

    /// Writes the whole pending queue in one synced transaction. On success the queue is empty
    /// and the per-record outcomes (in queue order) are returned.
    fn drain(&mut self) -> Result<Vec<Result<(), rusqlite::Error>>, StoreError> {
        match self.drain_once() {
            // The file was corrupt and a fresh one is open now: write there at once.
            Err(StoreError::Corrupt { .. }) if self.db.is_some() => self.drain_once(),
            r => r,
        }
    }

    fn drain_once(&mut self) -> Result<Vec<Result<(), rusqlite::Error>>, StoreError> {
        if let Err(e) = self.ensure_open() {
            self.note(&e);
            return Err(e);
        }
        let res = match self.db.as_mut() {
            Some(db) => db.write_durable(self.pending.make_contiguous()),
            None => Ok(Vec::new()),
        };
        match res {
            Ok(outcomes) => {
                for (op, r) in self.pending.iter().zip(&outcomes) {
                    if let Err(e) = r {
                        tracing::error!(record = ?op, error = %e, "durable record refused by the database");
                    }
                }
                self.pending.clear();
                Ok(outcomes)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Queues one durable record and tries to write the queue. Tells the caller whether its
    /// record is on disk or only in memory, or the database's own error for this record.
    fn accept(&mut self, op: DurableOp) -> Result<Durable<()>, RecordError> {
        if self.pending.len() >= self.cfg.max_pending {
            return Err(RecordError::Store(StoreError::QueueFull {
                path: self.path(),
                pending: self.pending.len(),
            }));
        }
        self.pending.push_back(op);
        match self.drain() {
            Ok(mut outcomes) => match outcomes.pop() {
                Some(Err(e)) => Err(RecordError::Refused(e)),
                _ => Ok(Durable::Committed(())),
            },
            Err(e) => Ok(Durable::Queued {
                value: (),
                pending: self.pending.len(),
                reason: e.to_string(),
            }),
        }
    }

    pub fn record_balance(&mut self, b: BalanceReading) -> Result<Durable<()>, StoreError> {
        validate_balance(&b)?;
        self.accept(DurableOp::Balance(b))
            .map_err(|e| e.into_store(&self.cfg.path))
    }

    pub fn record_ussd(&mut self, u: UssdSession) -> Result<Durable<()>, StoreError> {
        self.accept(DurableOp::Ussd(u))
            .map_err(|e| e.into_store(&self.cfg.path))
    }

    pub fn save_sms(&mut self, sms: SmsRecord) -> Result<Durable<SmsId>, StoreError> {
        let key = sms_key(&sms);
        let queued = self.pending.iter().find_map(|op| match op {
            DurableOp::Sms { id, sms } if sms_key(sms) == key => Some(*id),
            _ => None,
        });
        if let Some(id) = queued {
            return Ok(self.queued_as(id));
        }
        if self.ensure_open().is_ok() {
            if let Some(Ok(Some(id))) = self.db.as_ref().map(|db| db.sms_by_key(&key)) {
                return Ok(Durable::Committed(id));
            }
        }
        let id = SmsId(take_id(&mut self.next_sms));
        let r = self.accept(DurableOp::Sms { id, sms });
        Ok(with_value(r.map_err(|e| e.into_store(&self.cfg.path))?, id))
    }

    fn queued_as<T>(&self, value: T) -> Durable<T> {
        Durable::Queued {
            value,
            pending: self.pending.len(),
            reason: self
                .last_error
                .clone()
                .unwrap_or_else(|| "waiting for the database".into()),
        }
    }

    pub fn ledger_begin(&mut self, e: NewLedgerEntry) -> Result<Durable<LedgerId>, StoreError> {
        let dup = || StoreError::DuplicateDecision {
            key: e.decision_key.clone(),
        };
        let in_queue = self.pending.iter().any(|op| {
            matches!(op, DurableOp::LedgerBegin { entry, .. } if entry.decision_key == e.decision_key)
        });
        if in_queue {
            return Err(dup());
        }
        if self.ensure_open().is_ok() {
            if let Some(Ok(Some(_))) = self.db.as_ref().map(|db| db.ledger_by_key(&e.decision_key))
            {
                return Err(dup());
            }
        }
        let id = LedgerId(take_id(&mut self.next_ledger));
        let key = e.decision_key.clone();
        match self.accept(DurableOp::LedgerBegin { id, entry: e }) {
            Ok(d) => Ok(with_value(d, id)),
            Err(RecordError::Refused(c)) if fault_of(&c) == Fault::Constraint => {
                Err(StoreError::DuplicateDecision { key })
            }
            Err(r) => Err(r.into_store(&self.cfg.path)),
        }
    }

    pub fn ledger_update_state(
        &mut self,
        id: LedgerId,
        t: i64,
        state: String,
        detail: Option<String>,
    ) -> Result<Durable<()>, StoreError> {
        let queued = self
            .pending
            .iter()
            .any(|op| matches!(op, DurableOp::LedgerBegin { id: q, .. } if *q == id));
        if !queued && self.ensure_open().is_ok() {
            if let Some(Ok(None)) = self.db.as_ref().map(|db| db.ledger_get(id)) {
                return Err(StoreError::LedgerNotFound { id: id.0 });
            }
        }
        let op = DurableOp::LedgerUpdate {
            id,
            t,
            state,
            detail,
        };
        match self.accept(op) {
            Ok(d) => Ok(d),
            Err(RecordError::Refused(rusqlite::Error::QueryReturnedNoRows)) => {
                Err(StoreError::LedgerNotFound { id: id.0 })
            }
            Err(r) => Err(r.into_store(&self.cfg.path)),
        }
    }

    // ----- queries ------------------------------------------------------------------------

    /// Runs a query on the open database, reporting an unwritable or closed one clearly.
    pub fn query<T>(
        &mut self,
        f: impl FnOnce(&Db) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.ensure_open()?;
        let res = match self.db.as_ref() {
            Some(db) => f(db),
            None => {
                return Err(StoreError::Unavailable {
                    path: self.path(),
                    cause: self.last_error.clone().unwrap_or_default(),
                })
            }
        };
        res.map_err(|e| self.fail(e))
    }

    /// History from the file plus the samples still waiting in memory, oldest first.
    pub fn usage_since(&mut self, since: i64) -> Result<Vec<UsageSample>, StoreError> {
        let mut v = self.query(|db| db.usage_since(since))?;
        v.extend(self.usage.iter().filter(|u| u.t >= since).cloned());
        v.sort_by_key(|u| u.t);
        Ok(v)
    }

    pub fn signal_since(&mut self, since: i64) -> Result<Vec<SignalSample>, StoreError> {
        let mut v = self.query(|db| db.signal_since(since))?;
        v.extend(self.signal.iter().filter(|s| s.t >= since).cloned());
        v.sort_by_key(|s| s.t);
        Ok(v)
    }

    /// One page of usage history: samples with `t >= since`, oldest first, the first `skip`
    /// dropped (those already sent with time `since`), at most `limit`, memory buffer included.
    pub fn usage_page(
        &mut self,
        since: i64,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<UsageSample>, StoreError> {
        let need = skip.saturating_add(limit);
        let mut v = self.query(|db| db.usage_page(since, need))?;
        v.extend(
            self.usage
                .iter()
                .filter(|u| u.t >= since)
                .take(need)
                .cloned(),
        );
        v.sort_by_key(|u| u.t);
        v.truncate(need);
        Ok(v.split_off(skip.min(v.len())))
    }

    /// One page of signal history, as [`Worker::usage_page`].
    pub fn signal_page(
        &mut self,
        since: i64,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<SignalSample>, StoreError> {
        let need = skip.saturating_add(limit);
        let mut v = self.query(|db| db.signal_page(since, need))?;
        v.extend(
            self.signal
                .iter()
                .filter(|s| s.t >= since)
                .take(need)
                .cloned(),
        );
        v.sort_by_key(|s| s.t);
        v.truncate(need);
        Ok(v.split_off(skip.min(v.len())))
    }

    /// Bytes used in each period `[bounds[i], bounds[i+1])` (local days: their lengths vary
    /// with DST), summed over SIMs and sources from the differences between consecutive counter
    /// samples; a counter that went down (modem restart) counts from zero. Pages through the
    /// history, so memory stays bounded however long it is.
    pub fn usage_daily(&mut self, bounds: &[i64]) -> Result<Vec<u64>, StoreError> {
        const PAGE: usize = 2000;
        let (Some(&since), Some(&until)) = (bounds.first(), bounds.last()) else {
            return Ok(Vec::new());
        };
        let mut totals = vec![0u64; bounds.len().saturating_sub(1)];
        let mut last: std::collections::HashMap<(String, String), (i64, u64)> =
            std::collections::HashMap::new();
        // Start a day early so the first sample of the window has a predecessor.
        let mut cursor = since.saturating_sub(86_400);
        let mut skip = 0usize;
        loop {
            let page = self.usage_page(cursor, skip, PAGE)?;
            let n = page.len();
            for u in &page {
                let total = u.rx_bytes.saturating_add(u.tx_bytes);
                let key = (u.iccid.clone(), u.source.clone());
                if let Some((_, prev)) = last.get(&key) {
                    let used = if total >= *prev { total - prev } else { total };
                    if (since..until).contains(&u.t) {
                        // bounds[idx] <= t < bounds[idx + 1]
                        let idx = bounds.partition_point(|b| *b <= u.t).saturating_sub(1);
                        if let Some(slot) = totals.get_mut(idx) {
                            *slot = slot.saturating_add(used);
                        }
                    }
                }
                last.insert(key, (u.t, total));
            }
            let Some(t_last) = page.last().map(|u| u.t) else {
                break;
            };
            let same = page.iter().rev().take_while(|u| u.t == t_last).count();
            skip = if t_last == cursor {
                skip.saturating_add(same)
            } else {
                same
            };
            cursor = t_last;
            if n < PAGE || cursor >= until {
                break;
            }
        }
        Ok(totals)
    }

    /// The ledger entry for a decision, including one still waiting in memory.
    pub fn ledger_by_key(&mut self, key: &str) -> Result<Option<LedgerEntry>, StoreError> {
        let mut found = self.query(|db| db.ledger_by_key(key)).ok().flatten();
        for op in &self.pending {
            match op {
                DurableOp::LedgerBegin { id, entry } if entry.decision_key == key => {
                    found = Some(LedgerEntry {
                        id: *id,
                        decision_key: entry.decision_key.clone(),
                        state: entry.state.clone(),
                        amount_minor: entry.amount_minor,
                        currency: entry.currency.clone(),
                        method: entry.method.clone(),
                        created: entry.t,
                        updated: entry.t,
                        detail: entry.detail.clone(),
                    })
                }
                DurableOp::LedgerUpdate {
                    id,
                    t,
                    state,
                    detail,
                } => {
                    if let Some(f) = found.as_mut().filter(|f| f.id == *id) {
                        f.state = state.clone();
                        f.updated = f.updated.max(*t);
                        if let Some(d) = detail {
                            f.detail = d.clone();
                        }
                    }
                }
                _ => {}
            }
        }
        match found {
            Some(f) => Ok(Some(f)),
            None => self.query(|db| db.ledger_by_key(key)),
        }
    }

    /// Events in the file and in memory, newest first, at most `limit`.
    pub fn events_since(&mut self, since: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let mut v: Vec<(i64, Event)> = self.query(|db| db.events_since(since, limit))?;
        v.extend(
            self.events
                .iter()
                .filter(|(_, e)| e.t >= since && e.kind != MQTT_CURSOR_EVENT)
                .cloned(),
        );
        v.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        v.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(v.into_iter().map(|(_, e)| e).collect())
    }

    /// Events after id `after_id` at or after `since`, oldest first, at most `limit`, memory
    /// included (their ids are the ones they will have in the file).
    pub fn events_after(
        &mut self,
        after_id: i64,
        since: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let mut v = self.query(|db| db.events_after(after_id, since, limit))?;
        v.extend(
            self.events
                .iter()
                .filter(|(id, e)| *id > after_id && e.t >= since)
                .cloned(),
        );
        v.sort_by_key(|(id, _)| *id);
        v.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(v)
    }

    /// The newest event of `kind`, memory first.
    pub fn last_event(&mut self, kind: &str) -> Result<Option<Event>, StoreError> {
        if let Some((_, e)) = self.events.iter().rev().find(|(_, e)| e.kind == kind) {
            return Ok(Some(e.clone()));
        }
        self.query(|db| db.last_event(kind))
    }

    /// Events of `kind` at or after `since`, memory included.
    pub fn count_events(&mut self, kind: &str, since: i64) -> Result<u64, StoreError> {
        let in_file = self.query(|db| db.count_events(kind, since))?;
        let held = self
            .events
            .iter()
            .filter(|(_, e)| e.kind == kind && e.t >= since)
            .count();
        Ok(in_file.saturating_add(u64::try_from(held).unwrap_or(u64::MAX)))
    }

    /// The per-SIM state: the newest in memory, else the one in the file.
    pub fn sim_state(&mut self, iccid: &str) -> Result<Option<String>, StoreError> {
        if let Some(s) = self.sims.get(iccid).and_then(|d| d.state.clone()) {
            return Ok(Some(s));
        }
        let sims = self.query(|db| db.sims())?;
        Ok(sims
            .into_iter()
            .find(|s| s.iccid == iccid)
            .and_then(|s| s.state_json))
    }

    pub fn health(&self) -> StoreHealth {
        StoreHealth {
            open: self.db.is_some(),
            last_error: self.last_error.clone(),
            pending_durable: self.pending.len(),
            buffered_signal: self.signal.len(),
            buffered_usage: self.usage.len(),
            dropped_telemetry: self.dropped,
            flushes: self.flushes,
        }
    }
}

/// A durable record's outcome when it did not land: the store failed, or the database refused
/// this record (with the SQLite error, for the caller to map).
pub(super) enum RecordError {
    Store(StoreError),
    Refused(rusqlite::Error),
}

impl RecordError {
    fn into_store(self, path: &Path) -> StoreError {
        match self {
            RecordError::Store(e) => e,
            RecordError::Refused(cause) => StoreError::Sql {
                path: path.to_path_buf(),
                cause,
            },
        }
    }
}

impl From<StoreError> for RecordError {
    fn from(e: StoreError) -> Self {
        RecordError::Store(e)
    }
}

fn with_value<T>(d: Durable<()>, value: T) -> Durable<T> {
    match d {
        Durable::Committed(()) => Durable::Committed(value),
        Durable::Queued {
            pending, reason, ..
        } => Durable::Queued {
            value,
            pending,
            reason,
        },
    }
}

/// The next id to hand out: past both what we handed out and what the file holds.
fn next_after(ours: Option<i64>, max_in_file: i64) -> i64 {
    let from_file = max_in_file.saturating_add(1);
    ours.map_or(from_file, |n| n.max(from_file))
}

/// Hands out an id. While the file has never been readable, ids come from the clock in
/// milliseconds, which is above any id an earlier run handed out one by one from its file.
fn take_id(next: &mut Option<i64>) -> i64 {
    let id = next.unwrap_or_else(|| unix_now().saturating_mul(1000).max(1));
    *next = Some(id.saturating_add(1));
    id
}

/// Renames `path` (and its `-wal`/`-shm`) to `<path>.corrupt-<now>[-wal|-shm]`. The WAL goes
/// with it because SQLite would otherwise replay a stale WAL into the fresh file.
pub(super) fn move_aside(path: &Path, now: i64) -> std::io::Result<PathBuf> {
    let mut base = path.as_os_str().to_owned();
    base.push(format!(".corrupt-{now}"));
    let mut to = PathBuf::from(&base);
    let mut n = 1u32;
    while to.exists() {
        let mut b = base.clone();
        b.push(format!(".{n}"));
        to = PathBuf::from(b);
        n = n.saturating_add(1);
    }
    std::fs::rename(path, &to)?;
    for suffix in ["-wal", "-shm"] {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let from = PathBuf::from(from);
        if from.exists() {
            let mut dest = to.as_os_str().to_owned();
            dest.push(suffix);
            if let Err(e) = std::fs::rename(&from, PathBuf::from(dest)) {
                tracing::warn!(path = %from.display(), error = %e, "could not move aside");
            }
        }
    }
    Ok(to)
}
