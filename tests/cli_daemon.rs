//! The CLI through the running agent and without one: `info`, `signal`, `at`, `ussd`,
//! `sms send|delete` print the same either way. The agent runs in this test's runtime on the
//! simulator; the CLI is the real binary, first while the agent holds the port (so it must go
//! through the API), then after the agent stopped (so it opens the port or the store itself).

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use simkeep::config::Config;
use simkeep::sim::Personality;
use support::Rig;

struct Setup {
    rig: Rig,
    config: PathBuf,
}

impl Setup {
    fn new(personality: Personality, extra_http: &str) -> Setup {
        let rig = Rig::new(personality);
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = rig.dir.path();
        let text = format!(
            "[modem]\nport = \"{}\"\npoll_interval = \"1s\"\nlock_dir = \"{}\"\n[store]\npath = \"{}\"\n\
             [http]\nlisten = \"{listen}\"\ntoken_file = \"{}\"\n{extra_http}",
            rig.link().display(),
            rig.lock_dir().display(),
            dir.join("simkeep.db").display(),
            dir.join("api-token").display(),
        );
        let config = dir.join("config.toml");
        std::fs::write(&config, text).unwrap();
        Setup { rig, config }
    }

    fn cfg(&self) -> Config {
        Config::load(&self.config).expect("valid test config")
    }

    /// `simkeep -c <config> args…` with stdin closed, off the runtime's thread.
    async fn cli(&self, args: &[&str]) -> Output {
        let mut all = vec!["-c".to_string(), self.config.display().to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_simkeep"))
                .args(&all)
                .stdin(Stdio::null())
                .output()
                .expect("run simkeep")
        })
        .await
        .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// Message references count up at the modem; everything else must match.
fn without_references(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

async fn wait_polled(addr: std::net::SocketAddr) {
    let polled = async {
        loop {
            let o = tokio::net::TcpStream::connect(addr).await;
            if let Ok(mut s) = o {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let _ = s.write_all(b"GET /api/v1/status HTTP/1.1\r\n\r\n").await;
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf).await;
                let t = String::from_utf8_lossy(&buf).to_string();
                let body = t.split_once("\r\n\r\n").map_or("", |(_, b)| b);
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                if v["last_poll"]["sim"]["iccid"].is_string() && v["link"] == "connected" {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), polled)
        .await
        .expect("the agent polls the simulator within 20 s");
}

const SAME: &[&[&str]] = &[
    &["info", "--json"],
    &["info"],
    &["signal", "--json"],
    &["signal"],
    &["at", "AT+CGSN"],
    &["at", "AT+CGSN", "--json"],
    &["ussd", "*100#"],
    &["ussd", "*123#", "--reply", "2", "--json"],
];

#[tokio::test(flavor = "current_thread")]
async fn commands_print_the_same_through_the_agent_and_on_the_port() {
    same_either_way(Personality::Generic).await;
}

/// A 5G NSA modem: the signal has its NR leg, and the tables their NR rows.
#[tokio::test(flavor = "current_thread")]
async fn a_5g_modem_prints_the_same_through_the_agent_and_on_the_port() {
    same_either_way(Personality::QuectelRm520n).await;
}

async fn same_either_way(personality: Personality) {
    let setup = Setup::new(personality, "allow_raw_at = true\n");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;

    let mut live = Vec::new();
    for args in SAME {
        let o = setup.cli(args).await;
        assert!(
            o.status.success(),
            "{args:?} through the agent: {}",
            text(&o.stderr)
        );
        live.push(o);
    }
    // A menu left unanswered: the first answer printed, exit 1, and the session cancelled.
    let live_menu = setup.cli(&["ussd", "*123#"]).await;
    assert_eq!(
        live_menu.status.code(),
        Some(1),
        "{}",
        text(&live_menu.stderr)
    );
    assert!(
        text(&live_menu.stderr).contains("left unanswered"),
        "{}",
        text(&live_menu.stderr)
    );
    let live_sms = setup
        .cli(&["sms", "send", "+818012345678", "hi from the CLI"])
        .await;
    assert!(live_sms.status.success(), "{}", text(&live_sms.stderr));
    assert!(text(&live_sms.stdout).starts_with("sent part 1/1 to +818012345678"));
    setup
        .rig
        .sim
        .set("check_received", "hi from the CLI")
        .expect("the carrier got it");
    // The agent recorded the sent message; deleting it goes through the agent too.
    let list = setup.cli(&["sms", "list", "--json"]).await;
    let rows: Value = serde_json::from_slice(&list.stdout).unwrap();
    let sent = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == "hi from the CLI")
        .expect("the sent message is in the store");
    let id = sent["id"].to_string();
    let del = setup.cli(&["sms", "delete", &id]).await;
    assert!(del.status.success(), "{}", text(&del.stderr));
    assert_eq!(text(&del.stdout), format!("deleted stored message {id}\n"));
    let again = setup.cli(&["sms", "delete", &id]).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains(&format!("no stored message with id {id}")));
    // Refused before the agent is asked: exit 2, nothing sent.
    let bad = setup.cli(&["ussd", "*100#\rAT+CFUN=0"]).await;
    assert_eq!(bad.status.code(), Some(2));
    let bad = setup.cli(&["at", "AT+CSQ;+CFUN=0"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(setup
        .rig
        .sim
        .commands_seen()
        .iter()
        .all(|l| !l.contains("CFUN=0")));

    agent.stop().await;

    for (args, live) in SAME.iter().zip(&live) {
        let o = setup.cli(args).await;
        assert!(
            o.status.success(),
            "{args:?} on the port: {}",
            text(&o.stderr)
        );
        assert_eq!(
            text(&o.stdout),
            text(&live.stdout),
            "{args:?}: the same with and without the agent"
        );
    }
    let menu = setup.cli(&["ussd", "*123#"]).await;
    assert_eq!(menu.status.code(), Some(1));
    assert_eq!(text(&menu.stdout), text(&live_menu.stdout));
    let sms = setup
        .cli(&["sms", "send", "+818012345678", "hi from the CLI"])
        .await;
    assert!(sms.status.success(), "{}", text(&sms.stderr));
    assert_eq!(
        without_references(&text(&sms.stdout)),
        without_references(&text(&live_sms.stdout))
    );
    let json: Value = serde_json::from_slice(&live[0].stdout).unwrap();
    assert!(
        json["sim"]["iccid"].is_string() && json["modem"]["imei"].is_string(),
        "{json}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn raw_at_through_the_agent_says_which_key_turns_it_on() {
    let setup = Setup::new(Personality::Generic, "");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let o = setup.cli(&["at", "AT+CSQ"]).await;
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("http.allow_raw_at = true"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    agent.stop().await;
}

#[test]
fn history_takes_json_and_csv_flags_and_the_old_format_option() {
    for args in [
        &["history", "usage", "--json", "--csv"][..],
        &["history", "usage", "--json", "--format", "csv"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_simkeep"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?} conflict");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["history", "--help"])
        .output()
        .unwrap();
    let h = text(&help.stdout);
    assert!(
        h.contains("--json") && h.contains("--csv") && !h.contains("--format"),
        "{h}"
    );
}

/// More rows than one API answer holds: the CLI pages through the agent and prints what the
/// store gives, the same `used_bytes` across the page boundary included.
#[tokio::test(flavor = "current_thread")]
async fn history_through_the_agent_pages_and_matches_the_store() {
    use simkeep::store::{StoreConfig, StoreHandle, UsageSample};
    let setup = Setup::new(Personality::Generic, "");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let store =
        StoreHandle::start(StoreConfig::new(setup.rig.dir.path().join("simkeep.db"))).unwrap();
    let rows: i64 = 10_050;
    for i in 0..rows {
        store
            .record_usage(UsageSample {
                t: now - 80_000 + i * 7,
                iccid: "8981100022152467221".into(),
                rx_bytes: (i as u64) * 1000,
                tx_bytes: (i as u64) * 10,
                source: "interface".into(),
            })
            .unwrap();
        // The store queues a bounded number of samples between flushes.
        if i % 100 == 99 {
            store.flush().await.unwrap();
        }
    }
    store.shutdown().await.unwrap();

    let agent = support::run_agent(setup.cfg()).await;
    let live_json = setup.cli(&["history", "usage", "--json"]).await;
    assert!(live_json.status.success(), "{}", text(&live_json.stderr));
    let live_csv = setup.cli(&["history", "usage"]).await;
    agent.stop().await;

    let v: Value = serde_json::from_slice(&live_json.stdout).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len() as i64, rows, "every row, not one page");
    assert_eq!(
        all[10_000]["used_bytes"], 1010,
        "counted across the page boundary"
    );
    let json = setup.cli(&["history", "usage", "--json"]).await;
    assert_eq!(text(&json.stdout), text(&live_json.stdout));
    let csv = setup.cli(&["history", "usage", "--format", "csv"]).await;
    assert_eq!(text(&csv.stdout), text(&live_csv.stdout));
}

/// `simkeep topup pause|resume` with no agent running: recorded in the store, where the agent
/// reads the switch at its next start.
#[tokio::test]
async fn the_top_up_switch_without_an_agent_is_recorded_for_its_next_start() {
    use simkeep::agent::topup::{EVENT_RESUMED, EVENT_SWITCH};
    use simkeep::store::{StoreConfig, StoreHandle};

    let setup = Setup::new(Personality::QuectelEc25, "");
    let db = setup.rig.dir.path().join("simkeep.db");
    let last = |kind: &'static str| {
        let db = db.clone();
        async move {
            let store = StoreHandle::start(StoreConfig::new(db)).unwrap();
            let ev = store.last_event(kind).await.unwrap();
            store.shutdown().await.unwrap();
            ev.map(|e| e.detail)
        }
    };

    let out = setup.cli(&["topup", "pause"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("switched off"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(last(EVENT_SWITCH).await.as_deref(), Some("off"));
    assert_eq!(last(EVENT_RESUMED).await, None);

    let out = setup.cli(&["topup", "resume"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("resumed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(last(EVENT_SWITCH).await.as_deref(), Some("on"));
    assert_eq!(last(EVENT_RESUMED).await.as_deref(), Some("cli"));
}
