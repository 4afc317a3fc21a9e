//! The notification outbox: one row per (event, channel) still to deliver. The event goes to
//! `events` and its rows to `notify_outbox` in one synced transaction, so an event the agent
//! reported is either on disk with every delivery it owes, or not at all.
//!
//! Order: rows are delivered by id within a channel. A channel that fails is deferred as a
//! whole (every row of it gets the later `next_at`), and a row added to a deferred channel
//! inherits that time, so a later event never overtakes an earlier one on the same channel.
//!
//! Must not: grow without bound (past `max_rows` the oldest non-critical rows go, then the
//! oldest of any kind past twice that), or be called from outside the store's owner thread.

use rusqlite::{params, OptionalExtension};

use super::db::Db;
use super::types::Event;

/// The level rank the outbox never drops first (see `notify::event::Level::rank`).
const CRITICAL: u8 = 2;

/// One delivery owed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub event_id: i64,
    pub channel: String,
    pub level: u8,
    /// The event as JSON (what a webhook receives).
    pub payload: String,
    /// Failed attempts so far.
    pub attempts: u32,
    pub next_at: i64,
    pub last_error: Option<String>,
}

/// What `outbox_enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxAdded {
    pub event_id: i64,
    /// Older rows deleted to keep the outbox bounded.
    pub dropped: u64,
}

/// One new event and the channels it goes to.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub event: Event,
    pub level: u8,
    pub payload: String,
    pub channels: Vec<String>,
    /// Unix seconds: the earliest time a row may be tried.
    pub now: i64,
    pub max_rows: u64,
}

const COLS: &str = "id, event_id, channel, level, payload, attempts, next_at, last_error";

fn row(r: &rusqlite::Row) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        event_id: r.get(1)?,
        channel: r.get(2)?,
        level: r.get(3)?,
        payload: r.get(4)?,
        attempts: r.get(5)?,
        next_at: r.get(6)?,
        last_error: r.get(7)?,
    })
}

impl Db {
    /// Records the event (as row `event_id`) and its deliveries in one transaction synced to
    /// disk.
    pub fn outbox_enqueue(&self, event_id: i64, e: &OutboxEvent) -> rusqlite::Result<OutboxAdded> {
        self.synced(|| self.outbox_enqueue_inner(event_id, e))
    }

    /// Runs `work` with `synchronous = FULL` (its commit fsyncs the WAL), then back to NORMAL
    /// for telemetry; see `write_durable`, which does the same around its own transaction.
    fn synced<T>(&self, work: impl FnOnce() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let res = work();
        let back = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let out = res?;
        back?;
        Ok(out)
    }

    fn outbox_enqueue_inner(
        &self,
        event_id: i64,
        e: &OutboxEvent,
    ) -> rusqlite::Result<OutboxAdded> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO events (id, t, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            params![event_id, e.event.t, e.event.kind, e.event.detail],
        )?;
        for ch in &e.channels {
            tx.execute(
                "INSERT INTO notify_outbox (event_id, channel, level, payload, next_at) \
                 VALUES (?1, ?2, ?3, ?4, max(?5, coalesce((SELECT max(next_at) FROM \
                 notify_outbox WHERE channel = ?2), ?5)))",
                params![event_id, ch, e.level, e.payload, e.now],
            )?;
        }
        let mut dropped = 0u64;
        let count = |tx: &rusqlite::Transaction| -> rusqlite::Result<u64> {
            let n: i64 = tx.query_row("SELECT count(*) FROM notify_outbox", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let n = count(&tx)?;
        if n > e.max_rows {
            let over = i64::try_from(n - e.max_rows).unwrap_or(i64::MAX);
            let gone = tx.execute(
                "DELETE FROM notify_outbox WHERE id IN (SELECT id FROM notify_outbox \
                 WHERE level < ?1 ORDER BY id LIMIT ?2)",
                params![CRITICAL, over],
            )?;
            dropped = dropped.saturating_add(gone as u64);
            let n = count(&tx)?;
            let hard = e.max_rows.saturating_mul(2);
            if n > hard {
                let over = i64::try_from(n - hard).unwrap_or(i64::MAX);
                let gone = tx.execute(
                    "DELETE FROM notify_outbox WHERE id IN (SELECT id FROM notify_outbox \
                     ORDER BY id LIMIT ?1)",
                    [over],
                )?;
                dropped = dropped.saturating_add(gone as u64);
            }
        }
        tx.commit()?;
        Ok(OutboxAdded { event_id, dropped })
    }

    /// Keeps deliveries that were owed from memory (events that rode with the telemetry batch,
    /// see `notify::outbox`) when the agent stops, in one synced transaction, behind the rows
    /// already waiting on their channels.
    pub fn outbox_keep(&self, rows: &[OutboxRow]) -> rusqlite::Result<()> {
        self.synced(|| {
            let tx = self.conn.unchecked_transaction()?;
            for r in rows {
                tx.execute(
                    "INSERT INTO notify_outbox (event_id, channel, level, payload, attempts, \
                     next_at, last_error) VALUES (?1, ?2, ?3, ?4, ?5, max(?6, coalesce((SELECT \
                     max(next_at) FROM notify_outbox WHERE channel = ?2), ?6)), ?7)",
                    params![
                        r.event_id,
                        r.channel,
                        r.level,
                        r.payload,
                        r.attempts,
                        r.next_at,
                        r.last_error
                    ],
                )?;
            }
            tx.commit()
        })
    }

    /// Rows due at `now`, oldest first, at most `limit`.
    pub fn outbox_due(&self, now: i64, limit: u32) -> rusqlite::Result<Vec<OutboxRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM notify_outbox WHERE next_at <= ?1 ORDER BY id LIMIT ?2"
        ))?;
        let rows = st.query_map(params![now, limit], row)?;
        rows.collect()
    }

    /// Every row, oldest first, at most `limit` (for status and tests).
    pub fn outbox_all(&self, limit: u32) -> rusqlite::Result<Vec<OutboxRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM notify_outbox ORDER BY id LIMIT ?1"
        ))?;
        let rows = st.query_map([limit], row)?;
        rows.collect()
    }

    /// When the next row is due, if any.
    pub fn outbox_next_at(&self) -> rusqlite::Result<Option<i64>> {
        self.conn
            .query_row("SELECT min(next_at) FROM notify_outbox", [], |r| r.get(0))
            .optional()
            .map(Option::flatten)
    }

    /// A delivery done (or given up): the row goes.
    pub fn outbox_delete(&self, id: i64) -> rusqlite::Result<()> {
        self.conn
            .execute("DELETE FROM notify_outbox WHERE id = ?1", [id])?;
        Ok(())
    }

    /// A delivery failed: count it on the row, and hold the whole channel until `next_at`.
    pub fn outbox_defer(
        &self,
        id: i64,
        channel: &str,
        next_at: i64,
        error: &str,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "UPDATE notify_outbox SET attempts = min(attempts + 1, 1000000), last_error = ?2 \
             WHERE id = ?1",
            params![id, error],
        )?;
        tx.execute(
            "UPDATE notify_outbox SET next_at = max(next_at, ?2) WHERE channel = ?1",
            params![channel, next_at],
        )?;
        tx.commit()
    }

    /// How many events of `kind` were recorded at or after `since` (the SMS channel's daily cap).
    pub fn count_events(&self, kind: &str, since: i64) -> rusqlite::Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM events WHERE kind = ?1 AND t >= ?2",
            params![kind, since],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
