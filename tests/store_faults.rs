//! The store on a file system that fills up or turns read-only: the agent keeps running, durable
//! records wait in memory, and once the file system is usable again they land and the ledger is
//! intact. Uses a 256 KiB tmpfs mounted for the test (needs root / CAP_SYS_ADMIN); where mount is
//! not permitted the tests print SKIPPED and pass.

mod support;

use std::path::Path;
use std::time::Duration;

use simkeep::store::*;
use support::tmpfs::SmallFs;

/// A tmpfs of `size`, or `None` (and SKIPPED printed) where mounting is not permitted.
fn mounted(size: &str) -> Option<SmallFs> {
    let fs = SmallFs::mount(size);
    if fs.is_none() {
        println!("SKIPPED: cannot mount a tmpfs (not root, or no CAP_SYS_ADMIN)");
    }
    fs
}

fn cfg(dir: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(dir.join("simkeep.db"));
    c.busy_timeout = Duration::from_millis(100);
    c.flush_interval = Duration::from_secs(3600);
    c
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn decision(key: &str) -> NewLedgerEntry {
    NewLedgerEntry {
        t: now(),
        decision_key: key.into(),
        state: "decided".into(),
        amount_minor: 1_000,
        currency: "EUR".into(),
        method: "sms".into(),
        detail: "{}".into(),
    }
}

fn inbox_message(body: &str) -> SmsRecord {
    SmsRecord {
        t: now(),
        iccid: Some("89440000000000000012".into()),
        direction: SmsDirection::Received,
        peer: "+447700900123".into(),
        sent_at: Some(now() - 2),
        body: body.into(),
        storage: Some("SM".into()),
        modem_index: Some(0),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn on_a_full_file_system_the_store_keeps_running_and_the_ledger_survives() {
    let Some(fs) = mounted("256k") else {
        return;
    };
    rt().block_on(async {
        let store = StoreHandle::start(cfg(fs.path())).unwrap();
        let first = store.ledger_begin(decision("before-full")).await.unwrap();
        assert!(first.is_committed());
        let filler = fs.fill();

        // Enough telemetry to need new pages, then durable records that cannot land.
        for i in 0..200 {
            let t = now() - 200 + i;
            store
                .record_usage(UsageSample {
                    t,
                    iccid: "89440000000000000012".into(),
                    rx_bytes: 1_000_000 * i as u64,
                    tx_bytes: 1000 * i as u64,
                    source: "interface".into(),
                })
                .unwrap();
        }
        let err = store.flush().await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("full file system (SQLITE_FULL)"), "{msg}");
        assert!(msg.contains(&fs.path().display().to_string()), "{msg}");

        // A small commit may still fit in blocks the WAL file already owns, so write decisions
        // until one cannot land; every one of them must survive.
        let mut keys = Vec::new();
        let mut queued = None;
        for i in 0..200 {
            let key = format!("while-full-{i}");
            let d = store.ledger_begin(decision(&key)).await.unwrap();
            keys.push((key.clone(), *d.value()));
            if let Durable::Queued { reason, .. } = &d {
                assert!(reason.contains("free space or move store.path"), "{reason}");
                queued = Some(key);
                break;
            }
        }
        let queued = queued.expect("no ledger write was refused on a full file system");
        let sms = store
            .save_sms(inbox_message("Your balance is 2.1GB"))
            .await
            .unwrap();
        assert!(!sms.is_committed());
        // Still answering, and the queued decision still blocks a duplicate.
        let h = store.health().await.unwrap();
        assert_eq!(h.pending_durable, 2, "{h:?}");
        assert_eq!(h.buffered_usage, 200);
        assert!(store.ledger_begin(decision(&queued)).await.is_err());
        assert!(store.ledger_by_key(&queued).await.unwrap().is_some());

        std::fs::remove_file(filler).unwrap();
        store.flush().await.unwrap();
        let h = store.health().await.unwrap();
        assert_eq!((h.pending_durable, h.buffered_usage), (0, 0), "{h:?}");
        store.shutdown().await.unwrap();

        // What landed is on disk, not only in the old process's memory.
        let store = StoreHandle::start(cfg(fs.path())).unwrap();
        assert!(store.ledger_by_key("before-full").await.unwrap().is_some());
        for (key, id) in &keys {
            let e = store.ledger_by_key(key).await.unwrap();
            assert_eq!(e.map(|e| e.id), Some(*id), "{key} lost");
        }
        let got = store.get_sms(*sms.value()).await.unwrap().unwrap();
        assert_eq!(got.sms.body, "Your balance is 2.1GB");
        assert_eq!(store.usage_since(0).await.unwrap().len(), 200);
        store.shutdown().await.unwrap();
    });
}

#[test]
fn on_a_read_only_file_system_records_wait_and_land_once_it_is_writable() {
    let Some(fs) = mounted("1m") else {
        return;
    };
    rt().block_on(async {
        let store = StoreHandle::start(cfg(fs.path())).unwrap();
        store.ledger_begin(decision("before")).await.unwrap();
        store.shutdown().await.unwrap();

        fs.remount("ro");
        let store = StoreHandle::start(cfg(fs.path())).unwrap();
        let h = store.health().await.unwrap();
        let queued = store.ledger_begin(decision("while-ro")).await.unwrap();
        let Durable::Queued { reason, .. } = &queued else {
            panic!("committed on a read-only file system: {queued:?} {h:?}");
        };
        assert!(
            reason.contains("read-only") || reason.contains("cannot open"),
            "{reason}"
        );
        assert!(reason.contains("simkeep.db"), "{reason}");

        fs.remount("rw");
        store.flush().await.unwrap();
        assert_eq!(store.health().await.unwrap().pending_durable, 0);
        store.shutdown().await.unwrap();

        let store = StoreHandle::start(cfg(fs.path())).unwrap();
        let all = store.ledger_since(0).await.unwrap();
        let keys: Vec<&str> = all.iter().map(|e| e.decision_key.as_str()).collect();
        assert_eq!(keys, ["before", "while-ro"]);
        store.shutdown().await.unwrap();
    });
}
