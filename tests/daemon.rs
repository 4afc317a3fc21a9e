//! The agent end to end: simulator on a pty → engine → poller → status → HTTP on loopback.

mod support;

use std::time::Duration;

use simkeep::config::Config;
use simkeep::sim::{Fault, Personality};
use support::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to status port");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).expect("utf-8 response");
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

async fn status(addr: std::net::SocketAddr) -> serde_json::Value {
    let (code, body) = get(addr, "/api/v1/status").await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("status is JSON")
}

/// Polls the status until `pred` holds (or fails after `secs`).
async fn wait_status(
    addr: std::net::SocketAddr,
    secs: u64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let s = status(addr).await;
        if pred(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never matched; last: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config(rig: &Rig) -> Config {
    let text = format!(
        "[modem]\nport = \"{}\"\npoll_interval = \"1s\"\nlock_dir = \"{}\"\n[store]\npath = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
        rig.link().display(),
        rig.lock_dir().display(),
        rig.dir.path().join("simkeep.db").display()
    );
    Config::parse(&text, &rig.dir.path().join("config.toml")).expect("valid test config")
}

#[tokio::test(flavor = "current_thread")]
async fn the_agent_polls_and_serves_status_and_follows_an_unplug() {
    let rig = Rig::new(Personality::Generic);
    let agent = support::run_agent(config(&rig)).await;
    let addr = agent.addr;

    let s = wait_status(addr, 15, |s| s["last_poll"]["signal"].is_object()).await;
    assert_eq!(s["link"], "connected");
    let first_poll =
        simkeep::usage::civil::parse_utc(s["last_poll"]["taken_at"].as_str().unwrap()).unwrap();

    // Metrics and the page are served from the same snapshot.
    let (code, metrics) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("simkeep_up 1"), "{metrics}");
    let (code, page) = get(addr, "/").await;
    assert_eq!(code, 200);
    assert!(page.contains("<title>simkeep · "), "{page}");

    // USB reset: the link goes down, then polling resumes on the new device without a restart.
    rig.sim.fault(Fault::Unplug(Duration::from_secs(2)));
    wait_status(addr, 10, |s| s["link"] == "down").await;
    let s = wait_status(addr, 20, |s| {
        s["link"] == "connected"
            && s["last_poll"]["taken_at"]
                .as_str()
                .and_then(simkeep::usage::civil::parse_utc)
                .unwrap_or(0)
                > first_poll + 2
    })
    .await;
    assert!(s["poll_error"].is_null(), "{s}");

    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_malformed_http_request_gets_400_and_the_server_keeps_serving() {
    let rig = Rig::new(Personality::Generic);
    let agent = support::run_agent(config(&rig)).await;
    let addr = agent.addr;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"\x16\x03\x01garbage that is not http\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    assert!(
        buf.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    // An oversized head is refused, not buffered without bound.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let _ = s.write_all(big.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    assert!(
        buf.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    assert_eq!(status(addr).await["version"], env!("CARGO_PKG_VERSION"));
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_sms_from_the_carrier_is_stored_and_listed_after_the_daemon_stops() {
    let rig = Rig::new(Personality::QuectelEc25);
    let cfg = config(&rig);
    let db = cfg.store.path.clone();
    let agent = support::run_agent(cfg).await;
    let addr = agent.addr;
    wait_status(addr, 15, |s| s["last_poll"]["sim"]["iccid"].is_string()).await;
    rig.sim
        .set("deliver_sms", "1234|Your data pack expires tomorrow")
        .unwrap();
    // The inbox stores the message, then deletes it from the modem.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !rig
        .sim
        .commands_seen()
        .iter()
        .any(|c| c.starts_with("AT+CMGD="))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            rig.sim.commands_seen()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent.stop().await;
    // The first sight of the SIM is in the event history.
    let store =
        simkeep::store::StoreHandle::start(simkeep::store::StoreConfig::new(db.clone())).unwrap();
    let events = store.events_since(0, 10).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "sim.changed" && e.detail.starts_with("none -> 89")),
        "{events:?}"
    );
    store.shutdown().await.unwrap();
    let text = format!("[store]\npath = \"{}\"\n", db.display());
    let cfg_path = rig.dir.path().join("list.toml");
    std::fs::write(&cfg_path, text).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args([
            "sms",
            "list",
            "--json",
            "--config",
            cfg_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Your data pack expires tomorrow"), "{out}");
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_modem_restart_the_vendor_init_runs_again() {
    let rig = Rig::new(Personality::HuaweiE3372);
    let agent = support::run_agent(config(&rig)).await;
    let curc = |rig: &Rig| {
        rig.sim
            .commands_seen()
            .iter()
            .filter(|c| c.starts_with("AT^CURC="))
            .count()
    };
    wait_status(agent.addr, 15, |s| s["last_poll"]["signal"].is_object()).await;
    assert_eq!(curc(&rig), 1, "{:?}", rig.sim.commands_seen());
    // A reboot without losing the port: RDY, echo back on, URC settings forgotten.
    rig.sim.fault(Fault::Reboot);
    assert!(
        support::eventually(Duration::from_secs(10), || curc(&rig) >= 2).await,
        "{:?}",
        rig.sim.commands_seen()
    );
    agent.stop().await;
}
