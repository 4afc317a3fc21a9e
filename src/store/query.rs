//! Read-only queries for history, the SMS inbox, balances, events and the ledger, plus the one
//! inbox edit (delete). Called only from the store's owner thread.
//!
//! Must not: write anything but `delete_sms`, or merge in-memory buffers (the worker does).

use rusqlite::{params, OptionalExtension, Row};

use super::db::Db;
use super::pack::{unpack_signal, unpack_usage};
use super::types::*;

const SMS_COLS: &str = "id, t, iccid, direction, peer, sent_at, body, storage, modem_index";

fn sms_row(r: &Row) -> rusqlite::Result<StoredSms> {
    let dir: String = r.get(3)?;
    Ok(StoredSms {
        id: SmsId(r.get(0)?),
        sms: SmsRecord {
            t: r.get(1)?,
            iccid: r.get(2)?,
            direction: if dir == "out" {
                SmsDirection::Sent
            } else {
                SmsDirection::Received
            },
            peer: r.get(4)?,
            sent_at: r.get(5)?,
            body: r.get(6)?,
            storage: r.get(7)?,
            modem_index: r.get(8)?,
        },
    })
}

const LEDGER_COLS: &str =
    "id, decision_key, state, amount_minor, currency, method, created, updated, detail";

fn event_row(r: &Row) -> rusqlite::Result<Event> {
    Ok(Event {
        t: r.get(0)?,
        kind: r.get(1)?,
        detail: r.get(2)?,
    })
}

/// `id, t, kind, detail`.
fn event_row_with_id(r: &Row) -> rusqlite::Result<(i64, Event)> {
    Ok((
        r.get(0)?,
        Event {
            t: r.get(1)?,
            kind: r.get(2)?,
            detail: r.get(3)?,
        },
    ))
}

fn ledger_row(r: &Row) -> rusqlite::Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: LedgerId(r.get(0)?),
        decision_key: r.get(1)?,
        state: r.get(2)?,
        amount_minor: r.get(3)?,
        currency: r.get(4)?,
        method: r.get(5)?,
        created: r.get(6)?,
        updated: r.get(7)?,
        detail: r.get(8)?,
    })
}

impl Db {
    /// Samples at or after `since`, oldest first. A damaged packed row is skipped with a
    /// warning rather than failing the whole history.
    pub fn usage_since(&self, since: i64) -> rusqlite::Result<Vec<UsageSample>> {
        let mut out = self.usage_page(since, usize::MAX)?;
        out.sort_by_key(|u| u.t);
        Ok(out)
    }

    /// Usage samples at or after `since` in file order, enough of them to hold the `need`
    /// earliest: reading stops once `need` samples are in hand and the next packed row starts
    /// after the latest of them. Unsorted; the worker sorts and cuts. Bounded by `need` plus one
    /// packed row, however long the history.
    pub fn usage_page(&self, since: i64, need: usize) -> rusqlite::Result<Vec<UsageSample>> {
        let mut st = self.conn.prepare_cached(
            "SELECT s.iccid, u.source, u.packed, u.t_first FROM usage_samples u \
             JOIN sims s ON s.id = u.sim_id WHERE u.t_last >= ?1 ORDER BY u.id",
        )?;
        let mut rows = st.query([since])?;
        let mut out: Vec<UsageSample> = Vec::new();
        let mut cutoff: Option<i64> = None;
        while let Some(r) = rows.next()? {
            let t_first: i64 = r.get(3)?;
            if cutoff.is_some_and(|c| t_first > c) {
                break;
            }
            let iccid: String = r.get(0)?;
            let source: String = r.get(1)?;
            let packed: Vec<u8> = r.get(2)?;
            match unpack_usage(&packed) {
                Ok(v) => out.extend(v.into_iter().filter(|c| c.t >= since).map(|c| UsageSample {
                    t: c.t,
                    iccid: iccid.clone(),
                    rx_bytes: u64::try_from(c.rx).unwrap_or(0),
                    tx_bytes: u64::try_from(c.tx).unwrap_or(0),
                    source: source.clone(),
                })),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "usage row skipped")
                }
            }
            if cutoff.is_none() && out.len() >= need {
                cutoff = out.iter().map(|u| u.t).max();
            }
        }
        Ok(out)
    }

    /// Signal samples at or after `since`, bounded like [`Db::usage_page`].
    pub fn signal_page(&self, since: i64, need: usize) -> rusqlite::Result<Vec<SignalSample>> {
        let mut st = self.conn.prepare_cached(
            "SELECT packed, t_first FROM signal_samples WHERE t_last >= ?1 ORDER BY id",
        )?;
        let mut rows = st.query([since])?;
        let mut out: Vec<SignalSample> = Vec::new();
        let mut cutoff: Option<i64> = None;
        while let Some(r) = rows.next()? {
            let t_first: i64 = r.get(1)?;
            if cutoff.is_some_and(|c| t_first > c) {
                break;
            }
            let packed: Vec<u8> = r.get(0)?;
            match unpack_signal(&packed) {
                Ok(v) => out.extend(
                    v.into_iter()
                        .filter(|s| s.t >= since)
                        .map(|s| SignalSample {
                            t: s.t,
                            rssi_dbm: s.rssi,
                            rsrp_dbm: s.rsrp,
                            rsrq_db: s.rsrq10.map(|x| x as f32 / 10.0),
                            sinr_db: s.sinr10.map(|x| x as f32 / 10.0),
                            band: s.band,
                            tech: s.tech,
                        }),
                ),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "signal row skipped")
                }
            }
            if cutoff.is_none() && out.len() >= need {
                cutoff = out.iter().map(|s| s.t).max();
            }
        }
        Ok(out)
    }

    /// Samples at or after `since`, oldest first; damaged rows skipped as for usage.
    pub fn signal_since(&self, since: i64) -> rusqlite::Result<Vec<SignalSample>> {
        let mut out = self.signal_page(since, usize::MAX)?;
        out.sort_by_key(|s| s.t);
        Ok(out)
    }

    /// The newest event of `kind` (e.g. the owner's last `topup.resumed`).
    pub fn last_event(&self, kind: &str) -> rusqlite::Result<Option<Event>> {
        self.conn
            .query_row(
                "SELECT t, kind, detail FROM events WHERE kind = ?1 ORDER BY id DESC LIMIT 1",
                [kind],
                event_row,
            )
            .optional()
    }

    /// Newest first.
    pub fn list_sms(
        &self,
        direction: Option<SmsDirection>,
        limit: u32,
    ) -> rusqlite::Result<Vec<StoredSms>> {
        let dir = direction.map(|d| match d {
            SmsDirection::Received => "in",
            SmsDirection::Sent => "out",
        });
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {SMS_COLS} FROM sms WHERE ?1 IS NULL OR direction = ?1 \
             ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(params![dir, limit], sms_row)?;
        rows.collect()
    }

    /// Messages stored at or after `since`, newest first, at most `limit`.
    pub fn sms_since(&self, since: i64, limit: u32) -> rusqlite::Result<Vec<StoredSms>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {SMS_COLS} FROM sms WHERE t >= ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(params![since, limit], sms_row)?;
        rows.collect()
    }

    pub fn get_sms(&self, id: SmsId) -> rusqlite::Result<Option<StoredSms>> {
        self.conn
            .query_row(
                &format!("SELECT {SMS_COLS} FROM sms WHERE id = ?1"),
                [id.0],
                sms_row,
            )
            .optional()
    }

    /// Deletes one message; true if it existed. Not synced: losing a delete to a power cut only
    /// brings the message back.
    pub fn delete_sms(&self, id: SmsId) -> rusqlite::Result<bool> {
        let n = self.conn.execute("DELETE FROM sms WHERE id = ?1", [id.0])?;
        Ok(n > 0)
    }

    pub fn latest_balance(&self, iccid: &str) -> rusqlite::Result<Option<BalanceReading>> {
        self.conn
            .query_row(
                "SELECT t, iccid, remaining_bytes, raw_text FROM carrier_balance \
                 WHERE iccid = ?1 ORDER BY t DESC, id DESC LIMIT 1",
                [iccid],
                |r| {
                    let rem: Option<i64> = r.get(2)?;
                    Ok(BalanceReading {
                        t: r.get(0)?,
                        iccid: r.get(1)?,
                        remaining_bytes: rem.and_then(|v| u64::try_from(v).ok()),
                        raw_text: r.get(3)?,
                    })
                },
            )
            .optional()
    }

    /// Events after row `after_id` and at or after time `since`, oldest first (what the MQTT
    /// task has not published yet).
    pub fn events_after(
        &self,
        after_id: i64,
        since: i64,
        limit: u32,
    ) -> rusqlite::Result<Vec<(i64, Event)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, t, kind, detail FROM events WHERE id > ?1 AND t >= ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = st.query_map(params![after_id, since, limit], event_row_with_id)?;
        rows.collect()
    }

    /// Newest first, with their ids; bookkeeping rows ([`MQTT_CURSOR_EVENT`]) left out.
    pub fn events_since(&self, since: i64, limit: u32) -> rusqlite::Result<Vec<(i64, Event)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, t, kind, detail FROM events WHERE t >= ?1 AND kind != ?3 \
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![since, limit, MQTT_CURSOR_EVENT], event_row_with_id)?;
        rows.collect()
    }

    /// Newest first.
    pub fn ussd_recent(&self, limit: u32) -> rusqlite::Result<Vec<UssdSession>> {
        self.ussd_since(i64::MIN, limit)
    }

    /// Sessions started at or after `since`, newest first, at most `limit`.
    pub fn ussd_since(&self, since: i64, limit: u32) -> rusqlite::Result<Vec<UssdSession>> {
        let mut st = self.conn.prepare_cached(
            "SELECT t_start, t_end, iccid, request, response, status FROM ussd_sessions \
             WHERE t_start >= ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![since, limit], |r| {
            Ok(UssdSession {
                t_start: r.get(0)?,
                t_end: r.get(1)?,
                iccid: r.get(2)?,
                request: r.get(3)?,
                response: r.get(4)?,
                status: r.get(5)?,
            })
        })?;
        rows.collect()
    }

    pub fn ledger_get(&self, id: LedgerId) -> rusqlite::Result<Option<LedgerEntry>> {
        self.conn
            .query_row(
                &format!("SELECT {LEDGER_COLS} FROM topup_ledger WHERE id = ?1"),
                [id.0],
                ledger_row,
            )
            .optional()
    }

    pub fn ledger_by_key(&self, key: &str) -> rusqlite::Result<Option<LedgerEntry>> {
        self.conn
            .query_row(
                &format!("SELECT {LEDGER_COLS} FROM topup_ledger WHERE decision_key = ?1"),
                [key],
                ledger_row,
            )
            .optional()
    }

    /// Entries created at or after `since`, oldest first.
    pub fn ledger_since(&self, since: i64) -> rusqlite::Result<Vec<LedgerEntry>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {LEDGER_COLS} FROM topup_ledger WHERE created >= ?1 ORDER BY id"
        ))?;
        let rows = st.query_map([since], ledger_row)?;
        rows.collect()
    }

    pub fn sims(&self) -> rusqlite::Result<Vec<SimRecord>> {
        let mut st = self.conn.prepare_cached(
            "SELECT iccid, first_seen, last_seen, state FROM sims ORDER BY last_seen DESC",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SimRecord {
                iccid: r.get(0)?,
                first_seen: r.get(1)?,
                last_seen: r.get(2)?,
                state_json: r.get(3)?,
            })
        })?;
        rows.collect()
    }
}
