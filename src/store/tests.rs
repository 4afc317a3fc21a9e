//! Store tests through the public handle, on real files in temp dirs.

use super::*;
use std::path::Path;
use std::time::Duration;

fn cfg(dir: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(dir.join("simkeep.db"));
    c.busy_timeout = Duration::from_millis(100);
    c
}

fn usage(t: i64, iccid: &str, rx: u64) -> UsageSample {
    UsageSample {
        t,
        iccid: iccid.into(),
        rx_bytes: rx,
        tx_bytes: rx / 10,
        source: "interface".into(),
    }
}

fn signal(t: i64) -> SignalSample {
    SignalSample {
        t,
        rssi_dbm: Some(-71),
        rsrp_dbm: Some(-98),
        rsrq_db: Some(-10.5),
        sinr_db: Some(13.2),
        band: Some("B3".into()),
        tech: Some("LTE".into()),
    }
}

/// A time stamp from yesterday, fixed for the whole test run: retention prunes by age against
/// the real clock, so test records must be recent.
fn t0() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| worker::unix_now() - 86_400)
}

/// A received message as a Quectel EC25 lists it with `AT+CMGL="ALL"` in text mode.
fn sms(index: u32) -> SmsRecord {
    SmsRecord {
        t: t0() + 100,
        iccid: Some("8981100022152967705".into()),
        direction: SmsDirection::Received,
        peer: "+8190123456789".into(),
        sent_at: Some(t0()),
        body: "残りデータ量：500MB".into(),
        storage: Some("SM".into()),
        modem_index: Some(index),
    }
}

fn decision(key: &str, t: i64) -> NewLedgerEntry {
    NewLedgerEntry {
        t,
        decision_key: key.into(),
        state: "decided".into(),
        amount_minor: 50_000,
        currency: "JPY".into(),
        method: "ussd".into(),
        detail: "{}".into(),
    }
}

fn wal_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("simkeep.db-wal")).map_or(0, |m| m.len())
}

#[tokio::test]
async fn telemetry_stays_in_memory_until_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    store.flush().await.unwrap();
    let before = wal_len(dir.path());
    for i in 0..30 {
        store.record_signal(signal(1_700_000_000 + i * 30)).unwrap();
        store
            .record_usage(usage(1_700_000_000 + i * 30, "8981100022152967705", 1000))
            .unwrap();
    }
    let h = store.health().await.unwrap();
    assert_eq!((h.buffered_signal, h.buffered_usage), (30, 30));
    assert_eq!(
        wal_len(dir.path()),
        before,
        "samples reached the file before the flush"
    );
    // Queries already see them.
    assert_eq!(store.usage_since(0).await.unwrap().len(), 30);
    store.flush().await.unwrap();
    assert!(wal_len(dir.path()) > before);
    let h = store.health().await.unwrap();
    assert_eq!((h.buffered_signal, h.buffered_usage), (0, 0));
    let sig = store.signal_since(0).await.unwrap();
    assert_eq!(sig.len(), 30);
    assert_eq!(sig.first(), Some(&signal(1_700_000_000)));
}

#[tokio::test]
async fn shutdown_writes_the_buffer_and_a_restart_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let now = worker::unix_now();
    store
        .record_usage(usage(now, "8981100022152967705", 5))
        .unwrap();
    store
        .save_sim_state("8981100022152967705", now, "{\"cycle\":1}".into())
        .unwrap();
    store.shutdown().await.unwrap();
    assert!(matches!(store.flush().await, Err(StoreError::Stopped)));
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    assert_eq!(
        store.usage_since(0).await.unwrap(),
        vec![usage(now, "8981100022152967705", 5)]
    );
    assert_eq!(
        store
            .sim_state("8981100022152967705")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"cycle\":1}")
    );
    let sims = store.sims().await.unwrap();
    assert_eq!(sims.len(), 1);
}

#[tokio::test]
async fn the_same_stored_message_read_twice_is_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let a = store.save_sms(sms(3)).await.unwrap();
    assert!(a.is_committed());
    // The modem moved it to another index; still the same message.
    let b = store.save_sms(sms(7)).await.unwrap();
    assert_eq!(a, b);
    let mut other = sms(3);
    other.body = "Remaining data: 1,234.5 MB".into();
    let c = store.save_sms(other).await.unwrap();
    assert_ne!(c.value(), a.value());
    let list = store
        .list_sms(Some(SmsDirection::Received), 10)
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let got = store.get_sms(*a.value()).await.unwrap().unwrap();
    assert_eq!(got.sms, sms(3));
    assert!(store.delete_sms(*a.value()).await.unwrap());
    assert!(!store.delete_sms(*a.value()).await.unwrap());
    assert_eq!(store.list_sms(None, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_top_up_decision_cannot_be_recorded_twice_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let id = store
        .ledger_begin(decision("2026-11-27/low", 10))
        .await
        .unwrap();
    assert_eq!(id, Durable::Committed(LedgerId(1)));
    let again = store.ledger_begin(decision("2026-11-27/low", 11)).await;
    assert!(
        matches!(again, Err(StoreError::DuplicateDecision { ref key }) if key == "2026-11-27/low")
    );
    store
        .ledger_update_state(LedgerId(1), 20, "sent", Some("{\"ref\":\"A1\"}".into()))
        .await
        .unwrap();
    store.shutdown().await.unwrap();

    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    assert!(store
        .ledger_begin(decision("2026-11-27/low", 30))
        .await
        .is_err());
    let e = store
        .ledger_by_key("2026-11-27/low")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.state.as_str(), e.created, e.updated), ("sent", 10, 20));
    assert_eq!(e.detail, "{\"ref\":\"A1\"}");
    let next = store
        .ledger_begin(decision("2026-12-27/low", 40))
        .await
        .unwrap();
    assert_eq!(next, Durable::Committed(LedgerId(2)));
    assert_eq!(store.ledger_since(0).await.unwrap().len(), 2);
}

#[tokio::test]
async fn updating_a_ledger_entry_that_was_never_begun_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let r = store
        .ledger_update_state(LedgerId(99), 1, "sent", None)
        .await;
    assert!(
        matches!(r, Err(StoreError::LedgerNotFound { id: 99 })),
        "{r:?}"
    );
}

#[tokio::test]
async fn balance_readings_ussd_and_events_are_written_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let before = wal_len(dir.path());
    let reading = BalanceReading {
        t: 50,
        iccid: "8981100022152967705".into(),
        remaining_bytes: Some(1_342_177_280),
        raw_text: "剩余流量1.25GB".into(),
    };
    assert!(store
        .record_balance(reading.clone())
        .await
        .unwrap()
        .is_committed());
    assert!(wal_len(dir.path()) > before);
    assert_eq!(
        store.latest_balance("8981100022152967705").await.unwrap(),
        Some(reading)
    );
    let session = UssdSession {
        t_start: 49,
        t_end: Some(50),
        iccid: None,
        request: "*100#".into(),
        response: Some("Remaining data: 1,234.5 MB".into()),
        status: "done".into(),
    };
    store.record_ussd(session.clone()).await.unwrap();
    assert_eq!(store.ussd_recent(5).await.unwrap(), vec![session]);
    store.event(51, "topup.sent", "ok").unwrap();
    let ev = store.events_since(0, 10).await.unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev.first().map(|e| e.kind.as_str()), Some("topup.sent"));
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_moved_aside_and_a_fresh_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("simkeep.db");
    std::fs::write(
        &path,
        b"this is not an sqlite file, it is a text file of 64 bytes....\n",
    )
    .unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let h = store.health().await.unwrap();
    assert!(h.open, "{h:?}");
    assert!(
        h.last_error.as_deref().unwrap_or("").contains("moved to"),
        "{h:?}"
    );
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("simkeep.db.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let kept = std::fs::read(dir.path().join(aside.first().unwrap())).unwrap();
    assert!(kept.starts_with(b"this is not an sqlite file"));
    // The fresh file works and says what happened.
    assert!(store.save_sms(sms(1)).await.unwrap().is_committed());
    let ev = store.events_since(0, 10).await.unwrap();
    assert!(ev.iter().any(|e| e.kind == "store.corrupt"), "{ev:?}");
}

#[tokio::test]
async fn a_locked_database_queues_durable_records_and_writes_them_when_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("simkeep.db");
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    store.shutdown().await.unwrap();

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let r = store.ledger_begin(decision("k1", 5)).await.unwrap();
    match &r {
        Durable::Queued {
            reason, pending, ..
        } => {
            assert!(reason.contains("is locked by another process"), "{reason}");
            assert_eq!(*pending, 1);
        }
        Durable::Committed(_) => panic!("committed through a held lock"),
    }
    // A queued decision is still a decision: no second one for the same key.
    assert!(store.ledger_begin(decision("k1", 6)).await.is_err());
    let q = store.save_sms(sms(2)).await.unwrap();
    assert!(!q.is_committed());
    assert_eq!(store.health().await.unwrap().pending_durable, 2);

    other.execute_batch("COMMIT").unwrap();
    drop(other);
    store.flush().await.unwrap();
    assert_eq!(store.health().await.unwrap().pending_durable, 0);
    let e = store.ledger_by_key("k1").await.unwrap().unwrap();
    assert_eq!(e.id, *r.value());
    assert_eq!(
        store.get_sms(*q.value()).await.unwrap().map(|s| s.sms),
        Some(sms(2))
    );
}

#[tokio::test]
async fn retention_prunes_old_and_excess_rows_but_never_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path());
    c.retention.usage.max_rows = 20;
    c.retention.events.max_age_secs = 3600;
    let store = StoreHandle::start(c).unwrap();
    let now = worker::unix_now();
    store.ledger_begin(decision("ancient", 1)).await.unwrap();
    store.event(1, "old", "x").unwrap();
    store.event(now, "new", "y").unwrap();
    // Ten flushes of ten samples: rows are batches, and whole batches are pruned.
    for i in 0..100 {
        store
            .record_usage(usage(now - 1000 + i, "8981100022152967705", 1))
            .unwrap();
        if i % 10 == 9 {
            store.flush().await.unwrap();
        }
    }
    let left = store.usage_since(0).await.unwrap();
    assert_eq!(left.len(), 20);
    assert_eq!(left.first().map(|u| u.t), Some(now - 1000 + 80));
    let ev = store.events_since(0, 10).await.unwrap();
    assert_eq!(
        ev.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["new"]
    );
    assert!(store.ledger_by_key("ancient").await.unwrap().is_some());
}

#[tokio::test]
async fn a_usage_counter_beyond_i64_is_refused_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    store
        .record_usage(usage(1, "8981100022152967705", u64::MAX))
        .unwrap();
    store.flush().await.unwrap();
    assert!(store.usage_since(0).await.unwrap().is_empty());
    assert_eq!(store.health().await.unwrap().dropped_telemetry, 1);
    let b = BalanceReading {
        t: 1,
        iccid: "x".into(),
        remaining_bytes: Some(u64::MAX),
        raw_text: String::new(),
    };
    assert!(matches!(
        store.record_balance(b).await,
        Err(StoreError::OutOfRange { .. })
    ));
}

#[tokio::test]
async fn an_old_schema_file_is_migrated_on_start_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("simkeep.db");
    let mut c = rusqlite::Connection::open(&path).unwrap();
    schema::migrate_to(&mut c, &path, 2).unwrap();
    c.execute_batch(
        "INSERT INTO events (t, kind, detail) VALUES (7, 'boot', 'v2');
         INSERT INTO sms (id, t, direction, peer, body, dedup_key) VALUES (4, 1, 'in', '+1', 'hi', 'k');",
    )
    .unwrap();
    drop(c);
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    assert!(store.health().await.unwrap().open);
    assert_eq!(store.events_since(0, 5).await.unwrap().len(), 1);
    // Ids continue after the file's highest.
    let id = store.save_sms(sms(1)).await.unwrap();
    assert_eq!(*id.value(), SmsId(5));
    assert!(store
        .ledger_begin(decision("k", 1))
        .await
        .unwrap()
        .is_committed());
}

/// Issue 13 §8: a flapping modem's state changes each cost a synced commit of their own. They
/// now ride with the telemetry batch; reads and the MQTT cursor see them at once, with the ids
/// they get in the file, in the order they happened among the events written at once.
#[tokio::test]
async fn state_changes_ride_with_the_batch_in_order_with_their_ids_and_cost_no_write_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let t = t0();
    store.event(t, "sim.changed", "none -> 8981").unwrap();
    store.flush().await.unwrap();
    let before = wal_len(dir.path());
    store
        .event_batched(t + 1, "modem_lost", "port closed")
        .unwrap();
    store.event_latest(t + 2, MQTT_CURSOR_EVENT, "1").unwrap();
    store.event_batched(t + 3, "modem_back", "").unwrap();
    store.event_latest(t + 4, MQTT_CURSOR_EVENT, "3").unwrap();
    store
        .event_batched(t + 5, "attention_raised", "signal_weak")
        .unwrap();
    let kinds = |v: &[(i64, Event)]| v.iter().map(|(_, e)| e.kind.clone()).collect::<Vec<_>>();
    // A call answered by the worker: it has handled every send above by now (they only queue).
    let seen = store.events_after(0, 0, 100).await.unwrap();
    assert_eq!(
        wal_len(dir.path()),
        before,
        "a batched event reached the file before the batch"
    );
    assert_eq!(
        kinds(&seen),
        [
            "sim.changed",
            "modem_lost",
            MQTT_CURSOR_EVENT,
            "modem_back",
            "attention_raised"
        ],
        "one cursor (the newest replaced the older) and the order of events"
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "ids ascend: {seen:?}"
    );
    let cursor = store.last_event(MQTT_CURSOR_EVENT).await.unwrap();
    assert_eq!(cursor.map(|e| e.detail).as_deref(), Some("3"));
    assert_eq!(store.count_events("modem_lost", t).await.unwrap(), 1);
    // The listing for people leaves the cursor out, newest first.
    let listed: Vec<String> = store
        .events_since(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        listed,
        [
            "attention_raised",
            "modem_back",
            "modem_lost",
            "sim.changed"
        ]
    );
    // A durable event after them gets a later id, and the batch lands with the same ids.
    store.event(t + 6, "topup.resumed", "").unwrap();
    let before_shutdown = store.events_after(0, 0, 100).await.unwrap();
    store.shutdown().await.unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let after = store.events_after(0, 0, 100).await.unwrap();
    assert_eq!(after, before_shutdown);
    assert_eq!(
        after.last().map(|(_, e)| e.kind.as_str()),
        Some("topup.resumed")
    );
}

#[tokio::test]
async fn batched_events_are_bounded_and_the_drops_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(cfg(dir.path())).unwrap();
    let t = t0();
    for i in 0..300 {
        store.event_batched(t + i, "modem_lost", "").unwrap();
        if i % 100 == 99 {
            store.health().await.unwrap(); // the command channel holds 256
        }
    }
    let held = store.events_after(0, 0, 1000).await.unwrap();
    assert_eq!(held.len(), 256);
    assert_eq!(
        held.first().map(|(_, e)| e.t),
        Some(t + 44),
        "the oldest went first"
    );
    assert_eq!(store.health().await.unwrap().dropped_telemetry, 44);
}
