//! Tests of the SQL layer alone, on real files.

use super::*;
use proptest::prelude::*;
use std::path::Path;

fn open(dir: &Path) -> Db {
    let cfg = StoreConfig::new(dir.join("t.db"));
    match Db::open(&cfg) {
        Ok(db) => db,
        Err(e) => panic!("open failed: {e:?}"),
    }
}

/// An event whose id is its time (tests write at most one per second).
fn event(t: i64) -> DurableOp {
    DurableOp::Event {
        id: t,
        event: Event {
            t,
            kind: "k".into(),
            detail: String::new(),
        },
    }
}

#[test]
fn a_new_file_gets_small_pages_and_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ps: u32 = db
        .conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    let jm: String = db
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!((ps, jm.as_str()), (PAGE_SIZE, "wal"));
    let sync: i64 = db
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "telemetry runs at synchronous=NORMAL");
}

#[test]
fn one_refused_record_does_not_hold_back_the_others_in_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    let begin = |id, key: &str| DurableOp::LedgerBegin {
        id: LedgerId(id),
        entry: NewLedgerEntry {
            t: 1,
            decision_key: key.into(),
            state: "decided".into(),
            amount_minor: 1,
            currency: "EUR".into(),
            method: "sms".into(),
            detail: String::new(),
        },
    };
    let ops = [begin(1, "a"), begin(2, "a"), event(3), begin(3, "b")];
    let out = db.write_durable(&ops).unwrap();
    let ok: Vec<bool> = out.iter().map(|r| r.is_ok()).collect();
    assert_eq!(ok, [true, false, true, true]);
    assert_eq!(db.max_id("topup_ledger").unwrap(), 3);
    let sync: i64 = db
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        sync, 1,
        "synchronous goes back to NORMAL after a durable write"
    );
}

#[test]
fn an_update_of_a_missing_ledger_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    let op = DurableOp::LedgerUpdate {
        id: LedgerId(5),
        t: 1,
        state: "x".into(),
        detail: None,
    };
    let out = db.write_durable(&[op]).unwrap();
    assert!(matches!(
        out.first(),
        Some(Err(rusqlite::Error::QueryReturnedNoRows))
    ));
}

#[test]
fn row_pruning_waits_until_a_table_is_five_percent_over_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    let mut r = Retention::default();
    r.events.max_rows = 100;
    let ops: Vec<_> = (0..105).map(event).collect();
    db.write_durable(&ops).unwrap();
    let none = HashMap::new();
    db.write_telemetry(&[], &[], &[], &none, Some((&r, 0, false)))
        .unwrap();
    let n: i64 = db
        .conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 105, "at the slack: kept");
    db.write_durable(&[event(200)]).unwrap();
    db.write_telemetry(&[], &[], &[], &none, Some((&r, 0, false)))
        .unwrap();
    let (n, min): (i64, i64) = db
        .conn
        .query_row("SELECT count(*), min(t) FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, min), (100, 6));
}

#[test]
fn signal_decibels_keep_one_decimal() {
    assert_eq!(tenths(Some(-10.5)), Some(-105));
    assert_eq!(tenths(Some(13.24)), Some(132));
    assert_eq!(tenths(Some(f32::NAN)), None);
    assert_eq!(tenths(Some(f32::INFINITY)), None);
    assert_eq!(tenths(None), None);
}

#[test]
fn the_sms_key_ignores_where_the_modem_stored_the_message() {
    let a = SmsRecord {
        t: 1,
        iccid: None,
        direction: SmsDirection::Received,
        peer: "+447700900123".into(),
        sent_at: Some(1_700_000_000),
        body: "You have 1.5GB left".into(),
        storage: Some("SM".into()),
        modem_index: Some(0),
    };
    let mut b = a.clone();
    b.storage = Some("ME".into());
    b.modem_index = Some(9);
    b.t = 2;
    assert_eq!(sms_key(&a), sms_key(&b));
    b.body.push('.');
    assert_ne!(sms_key(&a), sms_key(&b));
    let mut c = a.clone();
    c.direction = SmsDirection::Sent;
    assert_ne!(sms_key(&a), sms_key(&c));
}

proptest! {
    // Each case creates a database file (with fsyncs): keep the count modest.
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn any_signal_sample_round_trips_within_a_tenth_of_a_db(
        rssi in proptest::option::of(any::<i32>()),
        rsrq in proptest::option::of(-50.0f32..50.0),
        band in proptest::option::of(".{0,8}"),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        let s = SignalSample { t: 1, rssi_dbm: rssi, rsrq_db: rsrq, band, ..Default::default() };
        db.write_telemetry(std::slice::from_ref(&s), &[], &[], &HashMap::new(), None).unwrap();
        let got = db.signal_since(0).unwrap();
        let g = got.first().unwrap();
        prop_assert_eq!(g.rssi_dbm, s.rssi_dbm);
        prop_assert_eq!(&g.band, &s.band);
        match (g.rsrq_db, s.rsrq_db) {
            (Some(a), Some(b)) => prop_assert!((a - b).abs() <= 0.051),
            (a, b) => prop_assert_eq!(a, b),
        }
    }
}
