//! How many bytes the store writes per day at default settings: a 30 s poll (2880 signal and
//! usage samples a day), a 15-minute flush (96 a day) and a few durable records (balance
//! readings, SMS, a top-up with its ledger updates, events). Time is simulated, not waited for.
//!
//! Run: `cargo test --release --test store_flash -- --ignored --nocapture`
//! (or `scripts/flash_writes.sh`). Set `SIMKEEP_FLASH_DIR` to measure on another disk.
//!
//! `write_bytes` in /proc/self/io counts page-cache pages this process dirtied, i.e. what the
//! block layer will write (it stays 0 on tmpfs, so this refuses to measure there). A page already
//! dirty is not counted twice; on the router the kernel writes dirty pages back within ~30 s, long
//! before the next flush, so the test forces that writeback (fdatasync of the files) after every
//! simulated flush — without it, successive flushes into the same 4 KiB page would count once.
//! `wchar` counts bytes handed to write(2), whatever the file system.

use std::path::{Path, PathBuf};
use std::time::Duration;

use simkeep::store::*;

#[derive(Debug, Clone, Copy, Default)]
struct Io {
    wchar: u64,
    write_bytes: u64,
}

fn io_now() -> Io {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Io {
        wchar: field("wchar:"),
        write_bytes: field("write_bytes:"),
    }
}

fn on_tmpfs(dir: &Path) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && i64::from(st.f_type as u32) == TMPFS_MAGIC
}

/// Stands in for the kernel's periodic writeback between two flushes 15 minutes apart.
fn writeback(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(f) = std::fs::File::open(PathBuf::from(p)) {
            let _ = f.sync_data();
        }
    }
}

fn file_sizes(db: &Path) -> (u64, u64) {
    let len = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    (len(db.to_path_buf()), len(PathBuf::from(wal)))
}

const ICCID: &str = "8981100022152967705";

/// The daemon's usage model, saved with the SIM after every poll exactly as `accounting` does
/// (the store keeps only the newest per SIM until the flush).
fn estimator() -> simkeep::usage::Estimator {
    use simkeep::usage::{Estimator, EstimatorConfig, Plan, RawPlan};
    let raw = RawPlan {
        quota: Some("20GB".into()),
        timezone: Some("Asia/Tokyo".into()),
        ..RawPlan::default()
    };
    let mut est = Estimator::new(EstimatorConfig::default());
    est.activate_sim(ICCID, Plan::from_raw(&raw, "usage").unwrap(), 1_795_000_000);
    est
}

/// One simulated day of a 30 s poll, starting at `day_start`.
async fn one_day(store: &StoreHandle, path: &Path, day_start: i64, day: u32) {
    let mut rx: u64 = u64::from(day) * 2_000_000_000;
    let mut est = estimator();
    for i in 0..2880i64 {
        let t = day_start + i * 30;
        rx += 700_000 + (i as u64 % 17) * 1000;
        let counters = simkeep::usage::IfaceCounters {
            traffic: simkeep::usage::Traffic {
                rx_bytes: rx,
                tx_bytes: rx / 8,
            },
            ifindex: Some(7),
        };
        est.observe_interface(&counters, t);
        let state = serde_json::to_string(est.state()).unwrap();
        store.save_sim_state(ICCID, t, state).unwrap();
        store
            .record_signal(SignalSample {
                t,
                rssi_dbm: Some(-65 - (i % 9) as i32),
                rsrp_dbm: Some(-95 - (i % 11) as i32),
                rsrq_db: Some(-10.5 + (i % 5) as f32 * 0.5),
                sinr_db: Some(12.0 + (i % 7) as f32 * 0.3),
                band: Some("B3".into()),
                tech: Some("LTE".into()),
            })
            .unwrap();
        store
            .record_usage(UsageSample {
                t,
                iccid: ICCID.into(),
                rx_bytes: rx,
                tx_bytes: rx / 8,
                source: "interface".into(),
            })
            .unwrap();
        if i % 720 == 0 {
            // Every 6 h: the carrier's balance and the USSD session it came from.
            let raw = format!("Remaining data: {}.5 MB", 20_000 - i);
            let r = store
                .record_balance(BalanceReading {
                    t,
                    iccid: ICCID.into(),
                    remaining_bytes: Some(20_000_000_000 - rx),
                    raw_text: raw.clone(),
                })
                .await
                .unwrap();
            assert!(r.is_committed());
            store
                .record_ussd(UssdSession {
                    t_start: t - 5,
                    t_end: Some(t),
                    iccid: Some(ICCID.into()),
                    request: "*100#".into(),
                    response: Some(raw),
                    status: "done".into(),
                })
                .await
                .unwrap();
        }
        if i == 1000 || i == 2000 {
            let sms = SmsRecord {
                t,
                iccid: Some(ICCID.into()),
                direction: SmsDirection::Received,
                peer: "+8190123456789".into(),
                sent_at: Some(t - 3),
                body: format!("残りデータ量：{}MB day {day}", 500 - i / 10),
                storage: Some("SM".into()),
                modem_index: Some(1),
            };
            assert!(store.save_sms(sms).await.unwrap().is_committed());
            store
                .event(t, "sms.received", "from +8190123456789")
                .unwrap();
        }
        if i == 1500 {
            let id = store
                .ledger_begin(NewLedgerEntry {
                    t,
                    decision_key: format!("day{day}/low-balance"),
                    state: "decided".into(),
                    amount_minor: 50_000,
                    currency: "JPY".into(),
                    method: "ussd".into(),
                    detail: "{\"threshold\":\"1GB\"}".into(),
                })
                .await
                .unwrap();
            let id = *id.value();
            for (k, state) in ["sent", "confirmed"].into_iter().enumerate() {
                store
                    .ledger_update_state(id, t + 10 * k as i64, state, None)
                    .await
                    .unwrap();
            }
            store.event(t, "topup.confirmed", "50000 JPY").unwrap();
        }
        if i % 30 == 29 {
            store.flush().await.unwrap();
            writeback(path);
        }
    }
}

/// Returns `write_bytes` per simulated day.
async fn measure(label: &str, dir: &Path, exclusive: bool, page_size: u32) -> Vec<u64> {
    let path = dir.join(format!("{label}.db"));
    let mut cfg = StoreConfig::new(&path);
    cfg.exclusive = exclusive;
    cfg.page_size = page_size;
    // The test drives flushes itself; keep the timer out of the way.
    cfg.flush_interval = Duration::from_secs(24 * 3600);
    let store = StoreHandle::start(cfg).unwrap();
    store.flush().await.unwrap();
    writeback(&path);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = 7u32;
    let start = now - i64::from(days) * 86_400;
    let mut per_day = Vec::new();
    for day in 0..days {
        let before = io_now();
        one_day(&store, &path, start + i64::from(day) * 86_400, day).await;
        let after = io_now();
        let (db, wal) = file_sizes(&path);
        per_day.push(after.write_bytes - before.write_bytes);
        println!(
            "{label:<28} day {}: write_bytes {:>9} B  wchar {:>9} B  (db file {} B, wal {} B)",
            day + 1,
            after.write_bytes - before.write_bytes,
            after.wchar - before.wchar,
            db,
            wal
        );
    }
    let h = store.health().await.unwrap();
    assert_eq!(h.pending_durable, 0);
    assert_eq!(
        store.usage_since(start).await.unwrap().len(),
        2880 * days as usize
    );
    store.shutdown().await.unwrap();
    per_day
}

#[test]
#[ignore = "measurement: run with --ignored --nocapture"]
fn a_day_of_thirty_second_polls_writes_under_a_megabyte() {
    let base = std::env::var_os("SIMKEEP_FLASH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let dir = tempfile::tempdir_in(&base).unwrap();
    if on_tmpfs(dir.path()) {
        println!(
            "SKIPPED: {} is tmpfs, where write_bytes stays 0 — set SIMKEEP_FLASH_DIR to a disk",
            base.display()
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("measuring in {}", dir.path().display());
    rt.block_on(async {
        let default = measure("default", dir.path(), true, 512).await;
        let n = default.len().max(1) as u64;
        let avg = default.iter().sum::<u64>() / n;
        let max = default.iter().copied().max().unwrap_or(0);
        println!("default: {avg} B/day on average, {max} B on the worst day");
        assert!(avg < 1_000_000, "{avg} bytes written per day on average");
        measure("1 KiB pages", dir.path(), true, 1024).await;
        measure("shared-lock (-shm file)", dir.path(), false, 512).await;
        measure("4 KiB pages", dir.path(), true, 4096).await;
    });
}
