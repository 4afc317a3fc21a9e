//! The HTTP API under abuse, against `simkeep run` as a child process on a 40-day store
//! (115,200 usage + 40,000 signal samples) with a simulated modem: a full-history request,
//! clients that request history and never read, a slowloris crowd that reconnects, an oversized
//! head and body. The owner's status requests must still be answered, and the agent's resident
//! memory must stay under 16 MB. Figures are printed (run with `--nocapture` to see them).

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use simkeep::sim::Personality;
use simkeep::store::{SignalSample, StoreConfig, StoreHandle, UsageSample};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::child::Agent;
use support::Rig;

/// The bound for the router build. A debug test binary idles at ~16 MB on its own, so
/// the test bounds the growth; `SIMKEEP_BIN=target/release/simkeep` checks the absolute figure.
const RSS_LIMIT_KB: u64 = 16 * 1024;
const RSS_GROWTH_LIMIT_KB: u64 = 8 * 1024;
const DAY: i64 = 86_400;

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr")
}

fn write_config(rig: &Rig, listen: SocketAddr) -> std::path::PathBuf {
    let text = format!(
        "[modem]\nport = \"{port}\"\npoll_interval = \"2s\"\nlock_dir = \"{lock}\"\n\
         [store]\npath = \"{db}\"\n[http]\nlisten = \"{listen}\"\n\
         [usage]\nquota = \"10GB\"\nunit_base = 1000\ntimezone = \"UTC\"\n",
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = rig.dir.path().join("simkeep.db").display(),
    );
    let path = rig.dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// 40 days of history: a usage sample every 30 s, a signal sample every 86 s.
async fn fill_store(db: &std::path::Path) {
    let store = StoreHandle::start(StoreConfig::new(db.to_path_buf())).expect("store starts");
    let now = simkeep::agent::status::unix_now();
    let start = now - 40 * DAY;
    let mut used: u64 = 0;
    let mut t = start;
    let mut n = 0u32;
    while t < now {
        used += 40_000;
        store
            .record_usage(UsageSample {
                t,
                iccid: "89811000000000000001".into(),
                rx_bytes: used,
                tx_bytes: used / 10,
                source: "interface".into(),
            })
            .expect("usage sample queued");
        if n % 3 == 0 {
            store
                .record_signal(SignalSample {
                    t,
                    rssi_dbm: Some(-70),
                    rsrp_dbm: Some(-95),
                    rsrq_db: Some(-10.5),
                    sinr_db: Some(12.0),
                    band: Some("3".into()),
                    tech: Some("LTE".into()),
                })
                .expect("signal sample queued");
        }
        n += 1;
        if n % 100 == 0 {
            store.flush().await.expect("flush");
        }
        t += 30;
    }
    store.shutdown().await.expect("store shuts down");
}

/// One request on its own connection: (status code, body) or None on timeout/error.
async fn request(addr: SocketAddr, raw: &str, limit: Duration) -> Option<(u16, Vec<u8>)> {
    let io = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(raw.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let code = std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()?;
        let body_at = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        Some((code, buf.split_off(body_at)))
    };
    tokio::time::timeout(limit, io).await.ok().flatten()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: router\r\n\r\n")
}

async fn wait_polled(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, body)) =
            request(addr, &get("/api/v1/status"), Duration::from_secs(2)).await
        {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if v["last_poll"]["signal"].is_object() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the agent never polled the simulator"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `n` status requests, one after another, each allowed `each`; how many got a 200.
async fn status_requests(addr: SocketAddr, n: usize, each: Duration, gap: Duration) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        if let Some((200, _)) = request(addr, &get("/api/v1/status"), each).await {
            ok += 1;
        }
        tokio::time::sleep(gap).await;
    }
    ok
}

#[tokio::test(flavor = "current_thread")]
async fn status_is_answered_and_memory_stays_bounded_under_abuse_on_a_40_day_store() {
    let rig = Rig::new(Personality::QuectelEc25);
    let t0 = Instant::now();
    fill_store(&rig.dir.path().join("simkeep.db")).await;
    eprintln!(
        "40-day store written in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let addr = free_port();
    let agent = Agent::start(&write_config(&rig, addr), &[]);
    wait_polled(addr).await;
    let rss_idle = agent.rss_kb();

    // 1. The whole history in one request: paged, so `limit` (max 10,000) rows, streamed.
    let t = Instant::now();
    let (code, body) = request(
        addr,
        &get("/api/v1/history/usage?since=0&limit=10000"),
        Duration::from_secs(60),
    )
    .await
    .expect("the full-history request is answered");
    assert_eq!(code, 200);
    let full_bytes = body.len();
    let full_ms = t.elapsed().as_millis();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("one JSON array");
    assert_eq!(rows.len(), 10_000, "at most `limit` rows");
    assert!(
        rows.windows(2)
            .all(|w| w[0]["at"].as_str() <= w[1]["at"].as_str()),
        "oldest first"
    );
    let (_, body) = request(
        addr,
        &get("/api/v1/history/usage?since=0"),
        Duration::from_secs(30),
    )
    .await
    .expect("default page");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON array");
    assert_eq!(rows.len(), 100, "the default limit is 100");
    let (code, body) = request(
        addr,
        &get("/api/v1/history/daily?days=30"),
        Duration::from_secs(30),
    )
    .await
    .expect("daily totals");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let days: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON array");
    assert_eq!(days.len(), 30);
    // 2,880 samples a day, 44,000 bytes each (40,000 rx + 4,000 tx).
    assert_eq!(days[10]["used_bytes"], 2_880u64 * 44_000, "{:?}", days[10]);
    let rss_full = agent.rss_kb();
    eprintln!("full history (10,000 rows, {full_bytes} bytes) in {full_ms} ms; RSS idle {rss_idle} kB, after {rss_full} kB");

    // 2. Eight clients ask for 10,000 rows each and never read; the owner keeps asking.
    let mut hogs = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(get("/api/v1/history/usage?since=0&limit=10000").as_bytes())
            .await
            .expect("send");
        hogs.push(s);
    }
    let answered =
        status_requests(addr, 90, Duration::from_secs(2), Duration::from_millis(50)).await;
    let rss_hogs = agent.rss_kb();
    eprintln!(
        "8 non-reading history clients: {answered}/90 status requests answered; RSS {rss_hogs} kB"
    );
    assert!(
        answered >= 85,
        "status starved by non-reading clients: {answered}/90"
    );
    drop(hogs);

    // 3. Slowloris: 500 connections that send half a head, sit, and reconnect when closed.
    let stop = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicUsize::new(0));
    let mut crowd = Vec::new();
    for _ in 0..500 {
        let stop = stop.clone();
        let reconnects = reconnects.clone();
        crowd.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = s
                    .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
                    .await;
                let mut b = [0u8; 512];
                // Wait until the server closes us (or the test ends), then come back.
                let _ = tokio::time::timeout(Duration::from_secs(30), s.read(&mut b)).await;
                reconnects.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered =
        status_requests(addr, 100, Duration::from_secs(2), Duration::from_millis(50)).await;
    let rss_loris = agent.rss_kb();
    stop.store(true, Ordering::Relaxed);
    for c in crowd {
        c.abort();
    }
    eprintln!(
        "slowloris (500 connections, {} reconnects): {answered}/100 status requests answered; RSS {rss_loris} kB",
        reconnects.load(Ordering::Relaxed)
    );
    assert!(
        answered >= 95,
        "status starved by slowloris: {answered}/100"
    );

    let release = std::env::var_os("SIMKEEP_BIN").is_some();
    for (what, rss) in [
        ("full history", rss_full),
        ("non-readers", rss_hogs),
        ("slowloris", rss_loris),
    ] {
        assert!(rss > 0, "no RSS reading");
        assert!(
            rss.saturating_sub(rss_idle) < RSS_GROWTH_LIMIT_KB,
            "RSS grew from {rss_idle} kB to {rss} kB after {what}"
        );
        if release {
            assert!(rss < RSS_LIMIT_KB, "RSS after {what}: {rss} kB");
        }
    }
    // The agent kept polling on schedule through all of it.
    wait_polled(addr).await;
    agent.stop();
}

#[tokio::test(flavor = "current_thread")]
async fn oversized_heads_and_bodies_get_an_answer_not_a_reset() {
    let rig = Rig::new(Personality::Generic);
    let addr = free_port();
    let agent = Agent::start(&write_config(&rig, addr), &[]);
    wait_polled(addr).await;

    // A 1 MB header: 431, readable by the client (the server drains before it closes).
    let mut raw = String::from("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ");
    raw.push_str(&"a".repeat(1 << 20));
    raw.push_str("\r\n\r\n");
    let (code, body) = request(addr, &raw, Duration::from_secs(10))
        .await
        .expect("an answer to a 1 MB header");
    assert_eq!(code, 431, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
    assert!(v["error"].is_string() && v["detail"].is_string(), "{v}");

    // A body over the cap: 413 before the body is read.
    let big = "x".repeat(100_000);
    let raw = format!(
        "POST /api/v1/ussd HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    let (code, _) = request(addr, &raw, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(code, 413);

    // One verdict on versions everywhere, and JSON errors for bad paging.
    for path in ["/api/v1/history/usage", "/api/v1/status", "/api/v1/sms"] {
        let raw = format!("GET {path} HTTP/9.9\r\nHost: x\r\n\r\n");
        let (code, _) = request(addr, &raw, Duration::from_secs(5))
            .await
            .expect("answer");
        assert_eq!(code, 505, "{path}");
    }
    for q in ["since=yesterday", "limit=0", "limit=10001"] {
        let (code, body) = request(
            addr,
            &get(&format!("/api/v1/history/signal?{q}")),
            Duration::from_secs(5),
        )
        .await
        .expect("answer");
        assert_eq!(code, 400, "{q}");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    }
    // A client that asks for keep-alive gets several answers on one connection.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    for _ in 0..3 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            .await
            .expect("send");
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(
                s.read(&mut b).await.expect("read"),
                1,
                "connection kept open"
            );
            head.push(b[0]);
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let len: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("Content-Length");
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.expect("body");
        assert!(text.contains("Connection: keep-alive"), "{text}");
    }
    agent.stop();
}
