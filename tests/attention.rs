//! What the owner sees, end to end: the simulator on a pty → the agent → `/api/v1/status`,
//! `/metrics`, `simkeep status` and `simkeep usage`. Weak signal and low data raise warnings
//! (signal clears with hysteresis), a hung modem makes the readings stale and is reported lost, and
//! the CLI and the status document print the same figure in the same unit.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use simkeep::config::Config;
use simkeep::sim::{Fault, Personality};
use support::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: u64 = 1024 * 1024;

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let _ = s
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

async fn status(addr: std::net::SocketAddr) -> Value {
    serde_json::from_str(&get(addr, "/api/v1/status").await).unwrap_or(Value::Null)
}

/// Polls the status until `pred` holds (fails after `secs`).
async fn wait_status(
    addr: std::net::SocketAddr,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let s = status(addr).await;
        if pred(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: status never matched; last: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn codes(s: &Value) -> Vec<String> {
    s["attention"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn has(s: &Value, code: &str) -> bool {
    codes(s).iter().any(|c| c == code)
}

fn write_counters(root: &Path, rx: u64, tx: u64) {
    let dir = root.join("wwan0/statistics");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rx_bytes"), format!("{rx}\n")).unwrap();
    std::fs::write(dir.join("tx_bytes"), format!("{tx}\n")).unwrap();
}

/// A config file with a real port (the CLI finds the agent through it), `extra` appended.
fn config_file(rig: &Rig, extra: &str) -> PathBuf {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = probe.local_addr().unwrap().to_string();
    drop(probe);
    let text = format!(
        "[modem]\nport = \"{port}\"\npoll_interval = \"1s\"\nlock_dir = \"{lock}\"\n\
         [store]\npath = \"{db}\"\n[http]\nlisten = \"{listen}\"\n{extra}",
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = rig.dir.path().join("simkeep.db").display(),
    );
    let path = rig.dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn cli(config: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(args)
        .args(["--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn weak_signal_and_low_data_warn_clear_with_hysteresis_and_speak_one_unit() {
    // A vendor profile: the generic AT commands do not report the band.
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("band", "3").unwrap();
    let sys = rig.dir.path().join("sys");
    write_counters(&sys, 0, 0);
    let cfg_path = config_file(
        &rig,
        &format!(
            "[usage]\ninterface = \"wwan0\"\nsysfs_root = \"{}\"\nquota = \"3GiB\"\nunit_base = 1024\ntimezone = \"UTC\"\n",
            sys.display()
        ),
    );
    let agent = support::run_agent(Config::load(&cfg_path).unwrap()).await;
    let addr = agent.addr;
    let s = wait_status(addr, 15, "first poll", |s| {
        s["signal"]["rsrp_dbm"].is_number() && s["usage"].is_object()
    })
    .await;
    assert_eq!(s["overall"], "ok", "{s}");
    assert_eq!(s["stale"], false, "{s}");
    assert!(s["as_of"].as_str().is_some_and(|t| t.ends_with('Z')), "{s}");
    assert!(s["started_at"].is_string(), "{s}");
    assert_eq!(s["signal"]["band"], 3, "band is a number: {s}");
    assert!(s["signal"]["word"].is_string(), "{s}");

    // Weak signal and 200 MiB left of 3 GiB (below the default 10 %).
    rig.sim.set("rsrp", "-118").unwrap();
    write_counters(&sys, 3 * 1024 * MIB - 200 * MIB, 0);
    let s = wait_status(addr, 15, "warnings raised", |s| {
        has(s, "signal_weak") && has(s, "data_low")
    })
    .await;
    assert_eq!(s["overall"], "warning", "{s}");
    let weak = s["attention"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "signal_weak")
        .unwrap()
        .clone();
    assert_eq!(weak["level"], "warning");
    assert!(
        weak["message"].as_str().unwrap().contains("-118 dBm"),
        "{weak}"
    );
    assert_eq!(s["usage"]["remaining"], "200 MiB", "{s}");
    assert_eq!(s["usage"]["remaining_text"], "200 MiB of 3 GiB", "{s}");
    let metrics = get(addr, "/metrics").await;
    for want in [
        "simkeep_attention{code=\"signal_weak\",level=\"warning\"} 1",
        "simkeep_attention{code=\"data_low\",level=\"warning\"} 1",
    ] {
        assert!(metrics.contains(want), "{want} missing:\n{metrics}");
    }

    // The CLI prints the same figure in the same unit as the status document (and the page).
    let p = cfg_path.clone();
    let (usage, screen) =
        tokio::task::spawn_blocking(move || (cli(&p, &["usage"]), cli(&p, &["status"])))
            .await
            .unwrap();
    assert!(usage.contains("remaining    200 MiB\n"), "{usage}");
    assert!(usage.contains("quota        3 GiB\n"), "{usage}");
    assert!(
        !usage.contains(" MB") && !usage.contains(" GB"),
        "one unit base: {usage}"
    );
    assert!(screen.contains("data left  200 MiB of 3 GiB"), "{screen}");
    assert!(
        screen.contains("attention  warning: Weak signal"),
        "{screen}"
    );

    // RSRP back to -108 dBm: above the limit but inside the margin, so nothing flaps.
    rig.sim.set("rsrp", "-108").unwrap();
    let taken = s["as_of"].clone();
    let s = wait_status(addr, 15, "polled at -108", |s| {
        s["signal"]["rsrp_dbm"] == -108.0 && s["as_of"] != taken
    })
    .await;
    assert!(has(&s, "signal_weak"), "held inside the margin: {s}");
    let still = s["attention"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "signal_weak")
        .unwrap()
        .clone();
    assert_eq!(still["since"], weak["since"], "since is kept");

    // Good signal: the warning clears; the data is still low, so that one stays.
    rig.sim.set("rsrp", "-95").unwrap();
    let s = wait_status(addr, 15, "signal_weak cleared", |s| !has(s, "signal_weak")).await;
    assert_eq!(codes(&s), vec!["data_low"], "{s}");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_hung_modem_makes_readings_stale_and_is_reported_lost_then_recovers() {
    let rig = Rig::new(Personality::Generic);
    let cfg_path = config_file(&rig, "");
    let agent = support::run_agent(Config::load(&cfg_path).unwrap()).await;
    let addr = agent.addr;
    let s = wait_status(addr, 15, "first poll", |s| {
        s["signal"]["rsrp_dbm"].is_number() && s["stale"] == false
    })
    .await;
    let as_of = s["as_of"].as_str().unwrap().to_string();
    let metrics = get(addr, "/metrics").await;
    assert!(metrics.contains("simkeep_up 1"), "{metrics}");
    assert!(metrics.contains("simkeep_signal_rsrp_dbm "), "{metrics}");

    rig.sim.fault(Fault::Hang(Duration::from_secs(40)));
    let s = wait_status(addr, 40, "stale", |s| s["stale"] == true).await;
    assert!(s["stale_reason"].is_string(), "{s}");
    let metrics = get(addr, "/metrics").await;
    assert!(metrics.contains("simkeep_up 0"), "{metrics}");
    assert!(
        !metrics.contains("simkeep_signal_rsrp_dbm "),
        "no old signal as if current: {metrics}"
    );
    assert!(
        metrics.contains("simkeep_reading_age_seconds "),
        "{metrics}"
    );
    let s = wait_status(addr, 45, "modem_lost", |s| has(s, "modem_lost")).await;
    assert_eq!(s["overall"], "critical", "{s}");
    assert_eq!(
        s["as_of"],
        as_of.as_str(),
        "the readings keep their time: {s}"
    );
    let lost = &s["attention"][0];
    assert_eq!(lost["code"], "modem_lost", "{s}");
    assert!(
        lost["message"].as_str().unwrap().contains(&as_of),
        "says since when: {s}"
    );
    let p = cfg_path.clone();
    let screen = tokio::task::spawn_blocking(move || cli(&p, &["status"]))
        .await
        .unwrap();
    assert!(
        screen.contains(&format!("(STALE, as of {as_of})")),
        "{screen}"
    );
    assert!(screen.contains("state      critical"), "{screen}");

    // The modem answers again: fresh readings, the condition clears.
    let s = wait_status(addr, 60, "recovered", |s| {
        s["stale"] == false && !has(s, "modem_lost")
    })
    .await;
    assert_ne!(s["as_of"], as_of.as_str());
    agent.stop().await;
}
