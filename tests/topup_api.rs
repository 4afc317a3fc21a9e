//! Top-ups through a carrier's HTTPS API: the real `simkeep run` as a child process, the modem
//! simulator on a pty, and a 1NCE-like carrier API as a real TLS server on loopback (a CA made at
//! test time, OAuth2 client credentials, quota in MB, `201` and a credit that lands later). The
//! balance comes from the API's own quota, so only the API can confirm the purchase.
//!
//! Also the secrets rule: no secret value, and no access token the carrier issued, appears in
//! the agent's log (at debug level), its status, metrics, ledger, or the database file.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use simkeep::sim::Personality;
use support::child::Agent;
use support::tls_api::{Endpoint, Fault, TlsApi, TlsApiOptions};
use support::{flows, Rig};

/// The simulated SIM's ICCID (the simulator's default).
const ICCID: &str = "8981100022152467221";

const API_FLOW: &str = r#"
[[topup.flow]]
name = "api"
price = 10
adds = "500MB"
steps = [
  { http = "POST", api = "main", url = "/v1/sims/${sim.iccid}/topup?payment_method=creditcard",
    expect_status = 201, timeout = "20s" },
  { verify = "20s" },
]
"#;

/// The SMS keyword purchase, priced within this test's EUR budget; its verification reads the
/// API's quota, which it never moves.
fn sms_flow() -> String {
    flows::with_verify(flows::SMS_FLOW, "6s").replace("price = 500", "price = 5")
}

struct Setup {
    rig: Rig,
    api: TlsApi,
    config: PathBuf,
    listen: SocketAddr,
    secret: String,
}

fn setup(flows: &str, volume_mb: u64) -> Setup {
    let rig = Rig::new(Personality::QuectelEc25);
    let opts = TlsApiOptions {
        sims: vec![(ICCID.into(), volume_mb * 1_000_000)],
        adds_mb: 500,
        ..TlsApiOptions::default()
    };
    let secret = opts.client_secret.clone();
    let client_id = opts.client_id.clone();
    let api = TlsApi::start(opts);
    let secrets = rig.dir.path().join("secrets.toml");
    std::fs::write(
        &secrets,
        format!("client_id = \"{client_id}\"\nclient_secret = \"{secret}\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = format!(
        r#"[modem]
port = "{port}"
poll_interval = "1s"
lock_dir = "{lock}"
[store]
path = "{db}"
[http]
listen = "{listen}"
[secrets]
path = "{secrets}"
[carrier_api.main]
base_url = "{base}"
auth = "oauth2"
token_url = "/oauth/token"
client_id = "${{secret:client_id}}"
client_secret = "${{secret:client_secret}}"
ca_file = "{ca}"
timeout = "10s"
[usage]
quota = "1GB"
unit_base = 1000
timezone = "UTC"
[usage.carrier]
api = "main"
url = "/v1/sims/${{sim.iccid}}/quota/data"
remaining = "volume"
unit = "MB"
interval = "15m"
[topup]
enabled = true
threshold = "300MB"
max_per_cycle = 2
max_spend_per_cycle = 30
currency = "EUR"
cooldown = "1h"
trust_clock = true
{flows}
"#,
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = rig.dir.path().join("simkeep.db").display(),
        secrets = secrets.display(),
        base = api.url,
        ca = api.ca_pem_path.display(),
    );
    let config = rig.dir.path().join("config.toml");
    std::fs::write(&config, text).unwrap();
    Setup {
        rig,
        api,
        config,
        listen,
        secret,
    }
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    Some(buf.split_once("\r\n\r\n")?.1.to_string())
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    get(addr, path)
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or(Value::Null)
}

/// Waits until `n` ledger rows have ended.
fn wait_settled(s: &Setup, agent: &Agent, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = get_json(s.listen, "/api/v1/topups")
            .as_array()
            .cloned()
            .unwrap_or_default();
        if rows.iter().filter(|r| r["finished_at"].is_string()).count() >= n {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "no {n} settled attempts; ledger {rows:?}\nlog:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every access token the carrier issued, from the server's own request log.
fn issued_tokens(api: &TlsApi) -> Vec<String> {
    api.requests()
        .iter()
        .filter_map(|r| r.headers.get("authorization"))
        .filter_map(|a| a.strip_prefix("Bearer "))
        .map(str::to_string)
        .collect()
}

#[test]
fn an_api_purchase_over_https_with_oauth2_is_verified_by_the_apis_own_quota_and_leaks_no_secret() {
    let s = setup(API_FLOW, 100);
    let agent = Agent::start(&s.config, &["-v".to_string()]);
    let rows = wait_settled(&s, &agent, 1);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "succeeded", "{rows:?}\n{}", agent.log());
    assert_eq!(rows[0]["flow"], "api");
    assert_eq!(s.api.charges(), 1, "one order at the carrier");
    assert!(s.api.token_requests() >= 1, "an OAuth2 token was fetched");
    let status = get(s.listen, "/api/v1/status").unwrap_or_default();
    let metrics = get(s.listen, "/metrics").unwrap_or_default();
    let ledger = get(s.listen, "/api/v1/topups").unwrap_or_default();
    let log = agent.stop();
    let db = std::fs::read(s.rig.dir.path().join("simkeep.db")).unwrap_or_default();
    let db = String::from_utf8_lossy(&db).to_string();
    let mut secrets = issued_tokens(&s.api);
    assert!(!secrets.is_empty(), "the carrier saw bearer tokens");
    secrets.push(s.secret.clone());
    for secret in &secrets {
        for (what, text) in [
            ("log", &log),
            ("status", &status),
            ("metrics", &metrics),
            ("ledger", &ledger),
            ("database", &db),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret appears in the {what}"
            );
        }
    }
    assert!(log.contains("top-up attempt #1 succeeded"), "{log}");
    // Still no second charge after the agent stopped.
    assert_eq!(s.api.charges(), 1);
}

#[test]
fn a_declined_api_order_falls_back_to_the_next_flow() {
    let s = setup(&format!("{API_FLOW}\n{}", sms_flow()), 100);
    s.api.set_fault(Endpoint::Topup, Fault::Declined);
    let agent = Agent::start(&s.config, &["-v".to_string()]);
    let rows = wait_settled(&s, &agent, 2);
    assert_eq!(rows[0]["flow"], "api");
    assert_eq!(rows[0]["state"], "failed", "{rows:?}");
    assert!(
        rows[0]["detail"].as_str().unwrap().contains("422"),
        "{rows:?}"
    );
    assert_eq!(s.api.charges(), 0, "a declined order charges nothing");
    assert_eq!(rows[1]["flow"], "sms-keyword", "{rows:?}");
    s.rig
        .sim
        .set("check_charges", "1")
        .expect("the SMS keyword was bought once");
    // The API's quota, the balance source, never rose: the SMS purchase stays unconfirmed.
    assert_eq!(rows[1]["state"], "unverified", "{rows:?}");
    drop(agent);
}

#[test]
fn a_non_private_secrets_file_stops_the_agent_with_a_clear_error() {
    let s = setup(API_FLOW, 100);
    let secrets = s.rig.dir.path().join("secrets.toml");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["run", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a config error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secrets.toml") && err.contains("600"), "{err}");
    assert!(!err.contains(&s.secret), "{err}");
    let check = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["check-config", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&secrets, "client_id = \"x\"\n").unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["check-config", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{err}");
    assert!(
        err.contains("client_secret"),
        "names the missing secret: {err}"
    );
}

#[test]
fn an_order_charged_whose_answer_was_lost_is_verified_and_never_sent_again() {
    let s = setup(&format!("{API_FLOW}\n{}", sms_flow()), 100);
    s.api.set_fault(Endpoint::Topup, Fault::ChargedNoReply);
    let agent = Agent::start(&s.config, &["-v".to_string()]);
    let rows = wait_settled(&s, &agent, 1);
    assert_eq!(
        rows.len(),
        1,
        "no fallback after an unclear outcome: {rows:?}"
    );
    assert_eq!(rows[0]["state"], "succeeded", "{rows:?}\n{}", agent.log());
    assert_eq!(s.api.charges(), 1);
    s.rig
        .sim
        .set("check_charges", "0")
        .expect("the SMS flow never ran");
    assert_eq!(
        s.api.count("POST", "/v1/sims"),
        1,
        "the order was sent once"
    );
}
