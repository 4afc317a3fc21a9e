//! The SQL: opening and tuning the connection, batched telemetry writes, synced durable writes,
//! retention pruning and history queries. Called only from the store's owner thread.
//!
//! Must not: buffer, retry or decide what to do on failure (the worker does), or be used from
//! async code (every call blocks on disk I/O).

use std::collections::HashMap;
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::error::{fault_of, Fault, StoreError};
use super::pack::{pack_signal, pack_usage, Counters, Radio};
use super::schema;
use super::types::*;

/// Default SQLite page size for new files (the minimum). Every commit rewrites whole pages, and a
/// flush touches a few (each telemetry table's last leaf and its parent, page 1); smaller pages
/// mean fewer bytes per flush: measured 0.81 MB/day at 512 B, 0.87 at 1 KiB, 1.6 at 4 KiB (see
/// tests/store_flash.rs). Reads get slower, which we do not care about.
pub(super) const PAGE_SIZE: u32 = 512;
/// Checkpoint after this many WAL pages (512 KiB at 512 B pages: about two days of telemetry at a
/// 30 s poll). A checkpoint copies each changed page once however often it changed, so a long
/// interval saves writes (0.81 MB/day here against 0.85 at 256 KiB); at 1 MiB the day with a
/// checkpoint went over 1 MB. The WAL is read back only at startup.
pub(super) const WAL_AUTOCHECKPOINT: u32 = 1024;
/// Keep the WAL file at up to this size after a checkpoint instead of truncating it: rewriting an
/// existing file's blocks costs the file system less metadata than growing it again.
pub(super) const JOURNAL_SIZE_LIMIT: i64 = 1024 * 1024;

/// A durable record waiting to be written (or being written) in one synced transaction.
#[derive(Debug, Clone)]
pub(super) enum DurableOp {
    Sms {
        id: SmsId,
        sms: SmsRecord,
    },
    Balance(BalanceReading),
    /// Its id is handed out by the worker, like the buffered events' (see `Worker::events`), so
    /// that ids keep the order in which events happened whichever way each reaches the file.
    Event {
        id: i64,
        event: Event,
    },
    Ussd(UssdSession),
    LedgerBegin {
        id: LedgerId,
        entry: NewLedgerEntry,
    },
    LedgerUpdate {
        id: LedgerId,
        t: i64,
        state: String,
        detail: Option<String>,
    },
}

/// A SIM whose first/last seen times or usage state changed since the last flush.
#[derive(Debug, Clone, Default)]
pub(super) struct SimDirty {
    pub first_seen: i64,
    pub last_seen: i64,
    pub state: Option<String>,
}

/// The tables retention applies to: name, the time column age is judged by, and what one row
/// counts for (a telemetry row is a batch of `n` samples).
const PRUNED: [(&str, &str, &str); 6] = [
    ("usage_samples", "t_last", "n"),
    ("signal_samples", "t_last", "n"),
    ("carrier_balance", "t", "1"),
    ("sms", "t", "1"),
    ("ussd_sessions", "t_start", "1"),
    ("events", "t", "1"),
];

/// Samples per packed row at most, so that a long outage's backlog does not become one huge row.
const MAX_BATCH: usize = 512;

fn limits(r: &Retention) -> [Limit; 6] {
    [r.usage, r.signal, r.balance, r.sms, r.ussd, r.events]
}

pub(super) struct Db {
    pub conn: Connection,
    pub path: PathBuf,
    sim_ids: HashMap<String, i64>,
    counts: [u64; 6],
}

/// FNV-1a over the message's identity, so that re-reading a stored message from the modem (at
/// the same or another index) maps to the same row.
pub(super) fn sms_key(s: &SmsRecord) -> String {
    let dir = match s.direction {
        SmsDirection::Received => "in",
        SmsDirection::Sent => "out",
    };
    let when = s.sent_at.unwrap_or(s.t).to_string();
    let parts = [
        dir,
        s.iccid.as_deref().unwrap_or(""),
        &s.peer,
        &when,
        &s.body,
    ];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0x1f)) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn bump(counts: &mut [u64; 6], added: &[usize; 6]) {
    for (c, a) in counts.iter_mut().zip(added) {
        *c = c.saturating_add(u64::try_from(*a).unwrap_or(u64::MAX));
    }
}

/// Usage samples grouped by (SIM, source), in order of first appearance, each group in arrival
/// order. A handful of groups at most, so a linear search is fine.
fn group_usage(usage: &[UsageSample]) -> Vec<(&str, &str, Vec<Counters>)> {
    let mut groups: Vec<(&str, &str, Vec<Counters>)> = Vec::new();
    for u in usage {
        // validate_usage ran when the sample was accepted; saturate rather than fail here.
        let c = Counters {
            t: u.t,
            rx: i64::try_from(u.rx_bytes).unwrap_or(i64::MAX),
            tx: i64::try_from(u.tx_bytes).unwrap_or(i64::MAX),
        };
        match groups
            .iter_mut()
            .find(|(i, s, _)| *i == u.iccid && *s == u.source)
        {
            Some((_, _, v)) => v.push(c),
            None => groups.push((&u.iccid, &u.source, vec![c])),
        }
    }
    groups
}

fn t_bounds(ts: impl Iterator<Item = i64>) -> (i64, i64) {
    ts.fold(None, |acc: Option<(i64, i64)>, t| match acc {
        None => Some((t, t)),
        Some((a, b)) => Some((a.min(t), b.max(t))),
    })
    .unwrap_or((0, 0))
}

fn insert_usage(tx: &Transaction, sim: i64, source: &str, c: &[Counters]) -> rusqlite::Result<()> {
    let (first, last) = t_bounds(c.iter().map(|c| c.t));
    let n = i64::try_from(c.len()).unwrap_or(i64::MAX);
    tx.prepare_cached(
        "INSERT INTO usage_samples (t_first, t_last, sim_id, source, n, packed) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![first, last, sim, source, n, pack_usage(c)])?;
    Ok(())
}

fn insert_signal(tx: &Transaction, s: &[SignalSample]) -> rusqlite::Result<()> {
    let radio: Vec<Radio> = s
        .iter()
        .map(|s| Radio {
            t: s.t,
            rssi: s.rssi_dbm,
            rsrp: s.rsrp_dbm,
            rsrq10: tenths(s.rsrq_db),
            sinr10: tenths(s.sinr_db),
            band: s.band.clone(),
            tech: s.tech.clone(),
        })
        .collect();
    let (first, last) = t_bounds(s.iter().map(|s| s.t));
    let n = i64::try_from(s.len()).unwrap_or(i64::MAX);
    tx.prepare_cached(
        "INSERT INTO signal_samples (t_first, t_last, n, packed) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![first, last, n, pack_signal(&radio)])?;
    Ok(())
}

fn to_i64(what: &'static str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange { what, value: v })
}

/// Tenths of a dB; NaN or absurd values are dropped rather than stored.
fn tenths(v: Option<f32>) -> Option<i32> {
    v.filter(|x| x.is_finite() && x.abs() < 10_000.0)
        .map(|x| (x * 10.0).round() as i32)
}

/// Checks that u64 fields fit SQLite's signed integers before a record is accepted.
pub(super) fn validate_usage(s: &UsageSample) -> Result<(), StoreError> {
    to_i64("rx_bytes", s.rx_bytes)?;
    to_i64("tx_bytes", s.tx_bytes)?;
    Ok(())
}

pub(super) fn validate_balance(b: &BalanceReading) -> Result<(), StoreError> {
    if let Some(v) = b.remaining_bytes {
        to_i64("remaining_bytes", v)?;
    }
    Ok(())
}

impl Db {
    /// Opens (creating if needed), tunes and migrates the database. A file that is not a database
    /// or fails `quick_check` comes back as an SQLite `CORRUPT`/`NOTADB` error for the worker to
    /// move aside.
    pub fn open(cfg: &StoreConfig) -> Result<Db, OpenFail> {
        let conn = Connection::open(&cfg.path).map_err(OpenFail::Sqlite)?;
        conn.busy_timeout(cfg.busy_timeout)
            .map_err(OpenFail::Sqlite)?;
        if cfg.exclusive {
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
                .map_err(OpenFail::Sqlite)?;
        }
        conn.pragma_update(None, "page_size", cfg.page_size)
            .map_err(OpenFail::Sqlite)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(OpenFail::Sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %cfg.path.display(), mode, "sqlite refused WAL mode; commits will write more");
        }
        // NORMAL: in WAL mode a commit is not synced, only checkpoints are; a power cut may lose
        // the last telemetry batch but never corrupts the file. Durable writes raise it to FULL
        // for their own transaction (see `write_durable`).
        let tune =
            "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -256;";
        conn.execute_batch(tune).map_err(OpenFail::Sqlite)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)
            .map_err(OpenFail::Sqlite)?;
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
            .map_err(OpenFail::Sqlite)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(OpenFail::Sqlite)?;
        if check != "ok" {
            return Err(OpenFail::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(check),
            )));
        }
        let mut db = Db {
            conn,
            path: cfg.path.clone(),
            sim_ids: HashMap::new(),
            counts: [0; 6],
        };
        schema::migrate(&mut db.conn, &db.path).map_err(OpenFail::Store)?;
        for (i, (table, _, weight)) in PRUNED.iter().enumerate() {
            let sql = format!("SELECT coalesce(sum({weight}), 0) FROM {table}");
            let n: i64 = db
                .conn
                .query_row(&sql, [], |r| r.get(0))
                .map_err(OpenFail::Sqlite)?;
            if let Some(c) = db.counts.get_mut(i) {
                *c = u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(db)
    }

    fn sim_id(
        tx: &Transaction,
        cache: &HashMap<String, i64>,
        new: &mut HashMap<String, i64>,
        iccid: &str,
        t: i64,
    ) -> rusqlite::Result<i64> {
        if let Some(id) = cache.get(iccid).or_else(|| new.get(iccid)) {
            return Ok(*id);
        }
        tx.execute(
            "INSERT INTO sims (iccid, first_seen, last_seen) VALUES (?1, ?2, ?2) \
             ON CONFLICT(iccid) DO NOTHING",
            params![iccid, t],
        )?;
        let id = tx.query_row("SELECT id FROM sims WHERE iccid = ?1", [iccid], |r| {
            r.get(0)
        })?;
        new.insert(iccid.to_string(), id);
        Ok(id)
    }

    /// Writes one telemetry batch, the events that ride with it and the changed SIM rows in one
    /// unsynced transaction, pruning in the same transaction so the freed pages are reused by
    /// the next batch.
    pub fn write_telemetry(
        &mut self,
        signal: &[SignalSample],
        usage: &[UsageSample],
        events: &[(i64, Event)],
        sims: &HashMap<String, SimDirty>,
        prune: Option<(&Retention, i64, bool)>,
    ) -> rusqlite::Result<()> {
        let mut new_ids = HashMap::new();
        let tx = self.conn.transaction()?;
        for chunk in signal.chunks(MAX_BATCH) {
            insert_signal(&tx, chunk)?;
        }
        for (iccid, source, group) in group_usage(usage) {
            let first_t = group.first().map_or(0, |c| c.t);
            let sim = Self::sim_id(&tx, &self.sim_ids, &mut new_ids, iccid, first_t)?;
            for chunk in group.chunks(MAX_BATCH) {
                insert_usage(&tx, sim, source, chunk)?;
            }
        }
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO sims (iccid, first_seen, last_seen, state) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(iccid) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), \
                 last_seen = max(last_seen, excluded.last_seen), \
                 state = coalesce(excluded.state, state)",
            )?;
            for (iccid, d) in sims {
                st.execute(params![iccid, d.first_seen, d.last_seen, d.state])?;
            }
        }
        {
            // OR IGNORE: an id already in the file was written by an earlier attempt of this
            // batch whose commit reported a failure after all; the row is the same.
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (id, t, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (id, e) in events {
                st.execute(params![id, e.t, e.kind, e.detail])?;
            }
        }
        let mut counts = self.counts;
        bump(
            &mut counts,
            &[usage.len(), signal.len(), 0, 0, 0, events.len()],
        );
        if let Some((r, now, by_age)) = prune {
            Self::prune(&tx, &mut counts, r, now, by_age)?;
        }
        tx.commit()?;
        self.sim_ids.extend(new_ids);
        self.counts = counts;
        Ok(())
    }

    /// Deletes the oldest rows of a table over its row limit (only once it is 5% over, so that
    /// pruning happens in batches rather than rewriting the first page at every flush) and, when
    /// `by_age`, rows older than its age limit. Recounts the tables it pruned.
    fn prune(
        tx: &Transaction,
        counts: &mut [u64; 6],
        r: &Retention,
        now: i64,
        by_age: bool,
    ) -> rusqlite::Result<()> {
        for ((table, tcol, weight), (lim, count)) in
            PRUNED.iter().zip(limits(r).iter().zip(counts.iter_mut()))
        {
            let mut n = 0usize;
            if *count > lim.max_rows.saturating_add(lim.max_rows / 20) {
                let keep = i64::try_from(lim.max_rows).unwrap_or(i64::MAX);
                // The newest rows holding `keep` samples stay; everything older goes.
                n = tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE id <= (SELECT id FROM \
                         (SELECT id, sum({weight}) OVER (ORDER BY id DESC) AS c FROM {table}) \
                         WHERE c > ?1 ORDER BY id DESC LIMIT 1)"
                    ),
                    [keep],
                )?;
            }
            if by_age {
                let cutoff = now.saturating_sub(lim.max_age_secs);
                let m = tx.execute(&format!("DELETE FROM {table} WHERE {tcol} < ?1"), [cutoff])?;
                n = n.saturating_add(m);
            }
            if n > 0 {
                let c: i64 = tx.query_row(
                    &format!("SELECT coalesce(sum({weight}), 0) FROM {table}"),
                    [],
                    |r| r.get(0),
                )?;
                *count = u64::try_from(c).unwrap_or(0);
            }
        }
        Ok(())
    }

    /// Writes durable records in one transaction synced to disk before it returns. Each record
    /// runs in a savepoint so that one rejected by a constraint (a duplicate decision key) does
    /// not hold back the others; any other error aborts the whole transaction and is returned.
    ///
    /// Sync choice: `synchronous = FULL` for this transaction only, which in WAL mode makes the
    /// commit fsync the WAL. The alternative, a checkpoint after each durable write, would also
    /// copy every page changed since the last checkpoint into the main file — more flash writes
    /// for the same guarantee.
    pub fn write_durable(
        &mut self,
        ops: &[DurableOp],
    ) -> rusqlite::Result<Vec<Result<(), rusqlite::Error>>> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let res = self.write_durable_inner(ops);
        let back = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let out = res?;
        back?;
        Ok(out)
    }

    fn write_durable_inner(
        &mut self,
        ops: &[DurableOp],
    ) -> rusqlite::Result<Vec<Result<(), rusqlite::Error>>> {
        let mut tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(ops.len());
        let mut added = [0usize; 6];
        for op in ops {
            let sp = tx.savepoint()?;
            match apply(&sp, op) {
                Ok(()) => {
                    sp.commit()?;
                    let slot = match op {
                        DurableOp::Balance(_) => Some(2),
                        DurableOp::Sms { .. } => Some(3),
                        DurableOp::Ussd(_) => Some(4),
                        DurableOp::Event { .. } => Some(5),
                        _ => None,
                    };
                    if let Some(a) = slot.and_then(|i| added.get_mut(i)) {
                        *a = a.saturating_add(1);
                    }
                    out.push(Ok(()));
                }
                // The file system or the file itself failed: abort, the worker keeps all records.
                Err(e) if matches!(fault_of(&e), Fault::Retry | Fault::Corrupt) => return Err(e),
                // This record alone was refused (duplicate key, unknown ledger id, or a bug):
                // roll back its savepoint and go on so it cannot block the records behind it.
                Err(e) => {
                    drop(sp);
                    out.push(Err(e));
                }
            }
        }
        tx.set_drop_behavior(rusqlite::DropBehavior::Rollback);
        tx.commit()?;
        bump(&mut self.counts, &added);
        Ok(out)
    }

    pub fn max_id(&self, table: &str) -> rusqlite::Result<i64> {
        self.conn.query_row(
            &format!("SELECT coalesce(max(id), 0) FROM {table}"),
            [],
            |r| r.get(0),
        )
    }

    pub fn sms_by_key(&self, key: &str) -> rusqlite::Result<Option<SmsId>> {
        self.conn
            .query_row("SELECT id FROM sms WHERE dedup_key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map(|o| o.map(SmsId))
    }
}

/// Why `Db::open` failed: a raw SQLite error (for the worker to classify) or a store error.
#[derive(Debug)]
pub(super) enum OpenFail {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

fn apply(tx: &Connection, op: &DurableOp) -> rusqlite::Result<()> {
    match op {
        DurableOp::Sms { id, sms } => {
            let dir = match sms.direction {
                SmsDirection::Received => "in",
                SmsDirection::Sent => "out",
            };
            tx.execute(
                "INSERT INTO sms (id, t, iccid, direction, peer, sent_at, body, storage, \
                 modem_index, dedup_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT(dedup_key) DO NOTHING",
                params![
                    id.0,
                    sms.t,
                    sms.iccid,
                    dir,
                    sms.peer,
                    sms.sent_at,
                    sms.body,
                    sms.storage,
                    sms.modem_index,
                    sms_key(sms)
                ],
            )?;
        }
        DurableOp::Balance(b) => {
            let rem = b
                .remaining_bytes
                .map(|v| i64::try_from(v).unwrap_or(i64::MAX));
            tx.execute(
                "INSERT INTO carrier_balance (t, iccid, remaining_bytes, raw_text) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![b.t, b.iccid, rem, b.raw_text],
            )?;
        }
        DurableOp::Event { id, event: e } => {
            tx.execute(
                "INSERT INTO events (id, t, kind, detail) VALUES (?1, ?2, ?3, ?4)",
                params![id, e.t, e.kind, e.detail],
            )?;
        }
        DurableOp::Ussd(u) => {
            tx.execute(
                "INSERT INTO ussd_sessions (t_start, t_end, iccid, request, response, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![u.t_start, u.t_end, u.iccid, u.request, u.response, u.status],
            )?;
        }
        DurableOp::LedgerBegin { id, entry: e } => {
            tx.execute(
                "INSERT INTO topup_ledger (id, decision_key, state, amount_minor, currency, \
                 method, created, updated, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
                params![
                    id.0,
                    e.decision_key,
                    e.state,
                    e.amount_minor,
                    e.currency,
                    e.method,
                    e.t,
                    e.detail
                ],
            )?;
        }
        DurableOp::LedgerUpdate {
            id,
            t,
            state,
            detail,
        } => {
            let n = tx.execute(
                "UPDATE topup_ledger SET state = ?2, updated = max(updated, ?3), \
                 detail = coalesce(?4, detail) WHERE id = ?1",
                params![id.0, state, t, detail],
            )?;
            if n == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
