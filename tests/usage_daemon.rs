//! Usage accounting through the running agent: kernel counters from a sysfs tree in a temp dir,
//! the carrier's balance over USSD from the simulated carrier, figures served on HTTP, read by
//! `simkeep usage`, and kept in the store across a restart.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use simkeep::config::Config;
use simkeep::sim::Personality;
use support::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn write_counters(root: &Path, rx: u64, tx: u64) {
    let dir = root.join("wwan0/statistics");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rx_bytes"), format!("{rx}\n")).unwrap();
    std::fs::write(dir.join("tx_bytes"), format!("{tx}\n")).unwrap();
}

fn config_text(rig: &Rig, listen: &str) -> String {
    format!(
        "[modem]\nport = \"{port}\"\npoll_interval = \"1s\"\nlock_dir = \"{lock}\"\n\
         [store]\npath = \"{db}\"\n[http]\nlisten = \"{listen}\"\n\
         [usage]\ninterface = \"wwan0\"\nsysfs_root = \"{sys}\"\nquota = \"1GB\"\nunit_base = 1000\ntimezone = \"Asia/Tokyo\"\n\
         [usage.carrier]\nussd = \"*100#\"\ninterval = \"1h\"\n",
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = rig.dir.path().join("simkeep.db").display(),
        sys = rig.dir.path().join("sys").display(),
    )
}

async fn get_json(addr: std::net::SocketAddr, path: &str) -> Option<Value> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8(buf).ok()?;
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

async fn wait_usage(addr: std::net::SocketAddr, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = get_json(addr, "/api/v1/usage").await {
            if pred(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "usage never matched; last: {v}"
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no usage figure served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn usage_cli(config: &Path) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["usage", "--json", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("usage JSON")
}

#[tokio::test(flavor = "current_thread")]
async fn carrier_balance_is_authoritative_and_local_counters_carry_it_forward() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "500").unwrap();
    let sys = rig.dir.path().join("sys");
    write_counters(&sys, 1_000, 2_000);
    // A real port for the CLI to find the daemon on: bind :0, then hand the port to the config.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = probe.local_addr().unwrap().to_string();
    drop(probe);
    let cfg_path = rig.dir.path().join("config.toml");
    std::fs::write(&cfg_path, config_text(&rig, &listen)).unwrap();
    let cfg = Config::load(&cfg_path).unwrap();
    let agent = support::run_agent(cfg).await;
    let addr = agent.addr;

    // "Balance: 500 MB, valid until 2026-12-31." with unit_base 1000.
    let v = wait_usage(addr, |v| v["source"] == "carrier").await;
    assert_eq!(v["remaining_bytes"], 500_000_000u64, "{v}");
    assert_eq!(v["quota_bytes"], 1_000_000_000u64);
    let t = |k: &str| v[k].as_str().and_then(simkeep::usage::civil::parse_utc);
    assert!(t("cycle_start").unwrap() < t("cycle_end").unwrap(), "{v}");

    // 100 MB through the interface since the reading: the carrier figure is carried forward.
    write_counters(&sys, 1_000 + 60_000_000, 2_000 + 40_000_000);
    // The figure now rests on the interface counter since the carrier's reading, and says so —
    // unless both fell in the same second, where the carrier's reading is still the newest word.
    let v = wait_usage(addr, |v| v["remaining_bytes"] == 400_000_000u64).await;
    assert!(v["carrier_as_of"].is_string(), "{v}");
    assert!(
        v["source"] == "interface"
            || (v["source"] == "carrier" && v["as_of"] == v["carrier_as_of"]),
        "{v}"
    );

    // The CLI asks the running daemon.
    let cli = tokio::task::spawn_blocking({
        let p = cfg_path.clone();
        move || usage_cli(&p)
    })
    .await
    .unwrap();
    assert_eq!(cli["remaining_bytes"], 400_000_000u64, "{cli}");

    agent.stop().await;

    // With no daemon running, the CLI reads what the store kept at shutdown.
    let offline = tokio::task::spawn_blocking(move || usage_cli(&cfg_path))
        .await
        .unwrap();
    assert_eq!(offline["remaining_bytes"], 400_000_000u64, "{offline}");
}
