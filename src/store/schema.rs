//! The store's schema as forward-only migrations, versioned with `PRAGMA user_version`.
//!
//! `MIGRATIONS[n]` takes a database from version `n` to `n + 1`; version 0 is an empty file. A step
//! is never edited once released — the test `released_migrations_are_never_edited` pins each
//! step's text — so "the schema of version n" is exactly `MIGRATIONS[..n]`, which is how the tests
//! build every historical version and migrate it.
//!
//! Must not: run anything but DDL and data moves, or go backwards (a newer file is refused).

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;

/// Version 1: the SIMs seen and the two telemetry tables.
///
/// A telemetry row holds one flush's batch of samples, packed (see `pack.rs`): every page a
/// commit touches is rewritten whole, so rows per sample cost ~3x the flash writes. `n` is the
/// number of samples in the row (retention counts samples); `t_first`/`t_last` bound their times
/// so history queries and age pruning need not unpack. The SIM is a small integer, not its
/// 20-digit ICCID. No index on time: rows arrive in time order, so rowid order is time order, and
/// an index is one more page rewritten per flush.
const V1: &str = "
CREATE TABLE sims (
    id INTEGER PRIMARY KEY,
    iccid TEXT NOT NULL UNIQUE,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    state TEXT
);
CREATE TABLE usage_samples (
    id INTEGER PRIMARY KEY,
    t_first INTEGER NOT NULL,
    t_last INTEGER NOT NULL,
    sim_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    n INTEGER NOT NULL,
    packed BLOB NOT NULL
);
CREATE TABLE signal_samples (
    id INTEGER PRIMARY KEY,
    t_first INTEGER NOT NULL,
    t_last INTEGER NOT NULL,
    n INTEGER NOT NULL,
    packed BLOB NOT NULL
);
";

/// Version 2: what the carrier tells us (balance readings, SMS, USSD) and the event log.
///
/// `sms.dedup_key` is derived from the message content (see `db::sms_key`), not the modem index,
/// because the modem reuses indexes after a delete while re-reading a stored message must not
/// duplicate it.
const V2: &str = "
CREATE TABLE carrier_balance (
    id INTEGER PRIMARY KEY,
    t INTEGER NOT NULL,
    iccid TEXT NOT NULL,
    remaining_bytes INTEGER,
    raw_text TEXT NOT NULL
);
CREATE TABLE sms (
    id INTEGER PRIMARY KEY,
    t INTEGER NOT NULL,
    iccid TEXT,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    peer TEXT NOT NULL,
    sent_at INTEGER,
    body TEXT NOT NULL,
    storage TEXT,
    modem_index INTEGER,
    dedup_key TEXT NOT NULL UNIQUE
);
CREATE TABLE ussd_sessions (
    id INTEGER PRIMARY KEY,
    t_start INTEGER NOT NULL,
    t_end INTEGER,
    iccid TEXT,
    request TEXT NOT NULL,
    response TEXT,
    status TEXT NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    t INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// Version 3: the top-up ledger. One row per top-up decision; `decision_key` is UNIQUE so that a
/// decision replayed after a crash cannot be recorded (and paid) twice. Never pruned.
const V3: &str = "
CREATE TABLE topup_ledger (
    id INTEGER PRIMARY KEY,
    decision_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    method TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
";

/// Version 4: the notification outbox, one row per (event, channel) still to deliver (see
/// `outbox.rs`). The payload is the event's JSON, kept whole so that pruning `events` by age
/// never loses a delivery. The index serves the per-channel deferral and the ordered scan.
const V4: &str = "
CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    level INTEGER NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX notify_outbox_channel ON notify_outbox (channel, next_at);
";

/// Forward-only steps; append, never edit.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

/// The version a fully migrated database has.
pub(super) fn latest() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

pub(super) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Applies the missing steps, each in its own transaction together with its `user_version` bump
/// (the version lives in the file header, page 1, so it commits or rolls back with the step).
/// Returns the version the file had before.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<i64, StoreError> {
    migrate_to(conn, path, MIGRATIONS.len())
}

/// Migrates up to `target` steps; tests use this to build a historical version.
pub(super) fn migrate_to(
    conn: &mut Connection,
    path: &Path,
    target: usize,
) -> Result<i64, StoreError> {
    let found = version(conn).map_err(|cause| StoreError::Sql {
        path: path.to_path_buf(),
        cause,
    })?;
    if found > latest() || found < 0 {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            known: latest(),
        });
    }
    let start = usize::try_from(found).unwrap_or(0);
    for (i, step) in MIGRATIONS.iter().enumerate().take(target).skip(start) {
        let to_version = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
        let err = |cause| StoreError::Migration {
            path: path.to_path_buf(),
            to_version,
            cause,
        };
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(step).map_err(err)?;
        tx.pragma_update(None, "user_version", to_version)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }

    /// FNV-1a, to pin each released step without a hashing dependency.
    fn fnv(s: &str) -> u64 {
        s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn released_migrations_are_never_edited() {
        // If this fails you edited a released step: add a new step instead.
        let pinned: &[u64] = &[
            0x4ad6_52f4_a262_76b1,
            0x90fb_5709_d2b3_04a4,
            0x697d_a735_dc41_83ad,
            0x50fc_8d65_8d26_30b4,
        ];
        let got: Vec<u64> = MIGRATIONS.iter().map(|s| fnv(s)).collect();
        assert_eq!(got.len(), pinned.len(), "a step was added: pin it here");
        for (i, (g, p)) in got.iter().zip(pinned).enumerate() {
            assert_eq!(g, p, "migration step {i} changed: got {g:#x}");
        }
    }

    #[test]
    fn every_earlier_version_migrates_to_the_same_schema_as_a_fresh_file() {
        let dir = tempfile::tempdir().unwrap();
        let fresh_path = dir.path().join("fresh.db");
        let mut fresh = Connection::open(&fresh_path).unwrap();
        migrate(&mut fresh, &fresh_path).unwrap();
        let want = schema_of(&fresh);
        for from in 0..=MIGRATIONS.len() {
            let p = dir.path().join(format!("v{from}.db"));
            let mut c = Connection::open(&p).unwrap();
            migrate_to(&mut c, &p, from).unwrap();
            assert_eq!(version(&c).unwrap(), i64::try_from(from).unwrap());
            drop(c);
            let mut c = Connection::open(&p).unwrap();
            let before = migrate(&mut c, &p).unwrap();
            assert_eq!(before, i64::try_from(from).unwrap());
            assert_eq!(version(&c).unwrap(), latest());
            assert_eq!(schema_of(&c), want, "from version {from}");
        }
    }

    #[test]
    fn rows_written_by_version_one_survive_the_later_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v1.db");
        let mut c = Connection::open(&p).unwrap();
        migrate_to(&mut c, &p, 1).unwrap();
        c.execute_batch(
            "INSERT INTO sims (iccid, first_seen, last_seen, state) \
                 VALUES ('8981100022152967705', 10, 20, '{\"used\":1}');
             INSERT INTO usage_samples (t_first, t_last, sim_id, source, n, packed) \
                 VALUES (15, 15, 1, 'interface', 1, x'1ed00fa01f');
             INSERT INTO signal_samples (t_first, t_last, n, packed) \
                 VALUES (15, 15, 1, x'0f1e8d01c301d101880202');",
        )
        .unwrap();
        migrate(&mut c, &p).unwrap();
        let n: i64 = c
            .query_row(
                "SELECT (SELECT count(*) FROM sims) + (SELECT count(*) FROM usage_samples) \
                 + (SELECT count(*) FROM signal_samples)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 3);
        let state: String = c
            .query_row("SELECT state FROM sims", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, "{\"used\":1}");
    }

    #[test]
    fn a_file_from_a_newer_simkeep_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new.db");
        let mut c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", latest() + 1).unwrap();
        let e = migrate(&mut c, &p).unwrap_err();
        assert!(matches!(e, StoreError::SchemaTooNew { found, .. } if found == latest() + 1));
        assert_eq!(version(&c).unwrap(), latest() + 1);
    }

    #[test]
    fn a_failing_step_leaves_the_file_at_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clash.db");
        let mut c = Connection::open(&p).unwrap();
        migrate_to(&mut c, &p, 2).unwrap();
        // A stray table with the name step 3 creates makes step 3 fail.
        c.execute_batch("CREATE TABLE topup_ledger (x)").unwrap();
        let e = migrate(&mut c, &p).unwrap_err();
        assert!(
            matches!(e, StoreError::Migration { to_version: 3, .. }),
            "{e}"
        );
        assert_eq!(version(&c).unwrap(), 2);
    }
}
