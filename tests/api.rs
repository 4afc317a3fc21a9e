//! The HTTP API's read endpoints over real loopback sockets, with the real agent and the modem
//! simulator on a pty: `/api/v1/signal`, `/api/v1/sms` and `/api/v1/sms/{id}`, `/api/v1/ussd`,
//! `/api/v1/events`, `/healthz`; the token rules (no token or a wrong one → 401 that gives no
//! hint of the token); 400s for a bad `since` or `limit`. And the CLI through the running agent:
//! `simkeep status`, and `simkeep sms list|read` giving the same output as from the store.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use simkeep::config::Config;
use simkeep::sim::Personality;
use simkeep::store::{SmsDirection, SmsRecord, StoreConfig, StoreHandle, UssdSession};
use support::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A message longer than one SMS (three parts on the air), stored whole by the inbox.
const LONG: &str =
    "Your data pack: 3 GB for 30 days. This message is deliberately longer than one \
SMS part so that it travels as a concatenated message (TS 23.040 §9.2.3.24.1) of three parts, and \
it must show as one text in every listing.\nSecond line: thanks for staying with us.";

/// A long message the simulator delivers in parts while the agent runs.
const ARRIVING: &str = "Top-up confirmed: 5 GB added to your plan, valid until the end of this \
month. Your balance is now 7.2 GB. Reply STOP to end these messages or call 123 for help with \
your account; this text is longer than 160 characters so it arrives in more than one part.";

struct Setup {
    rig: Rig,
    config: PathBuf,
}

impl Setup {
    /// A config file on disk (the CLI reads it) with a free port, and a store holding two
    /// messages, one USSD session and one event (written before the agent takes the store).
    async fn new(port: Option<&str>) -> Setup {
        let rig = Rig::new(Personality::Generic);
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = rig.dir.path();
        let text = format!(
            "[modem]\nport = \"{}\"\npoll_interval = \"1s\"\nlock_dir = \"{}\"\n[store]\npath = \"{}\"\n\
             [http]\nlisten = \"{listen}\"\ntoken_file = \"{}\"\n",
            port.map_or_else(|| rig.link().display().to_string(), str::to_string),
            rig.lock_dir().display(),
            dir.join("simkeep.db").display(),
            dir.join("api-token").display(),
        );
        let config = dir.join("config.toml");
        std::fs::write(&config, text).unwrap();
        let store = StoreHandle::start(StoreConfig::new(dir.join("simkeep.db"))).unwrap();
        for (t, peer, body) in [
            (1_796_119_200, "+818012345678", "hello"),
            (1_796_122_800, "Carrier", LONG),
        ] {
            let sms = SmsRecord {
                t,
                iccid: Some("8981100022152467221".into()),
                direction: SmsDirection::Received,
                peer: peer.into(),
                sent_at: Some(t - 5),
                body: body.into(),
                storage: Some("ME".into()),
                modem_index: Some(1),
            };
            assert!(store.save_sms(sms).await.unwrap().is_committed());
        }
        let ussd = UssdSession {
            t_start: 1_796_119_300,
            t_end: Some(1_796_119_302),
            iccid: None,
            request: "*100#".into(),
            response: Some("Balance 1.2 GB".into()),
            status: "done".into(),
        };
        store.record_ussd(ussd).await.unwrap();
        store
            .event(1_796_119_400, "sim_swap", "new SIM 8981…")
            .unwrap();
        store.shutdown().await.unwrap();
        Setup { rig, config }
    }

    fn cfg(&self) -> Config {
        Config::load(&self.config).expect("valid test config")
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.rig.dir.path().join("api-token"))
            .expect("the agent created its token")
            .trim()
            .to_string()
    }

    /// `simkeep -c <config> args…`, run off the runtime's thread (the agent shares it).
    async fn cli(&self, args: &[&str]) -> Output {
        let mut all = vec!["-c".to_string(), self.config.display().to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_simkeep"))
                .args(&all)
                .output()
                .expect("run simkeep")
        })
        .await
        .unwrap()
    }
}

/// One request on its own connection: (status, body as JSON or Null).
async fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, Value, String) {
    request(addr, "GET", path, auth).await
}

async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, Value, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = auth.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).expect("utf-8 response");
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (
        code,
        serde_json::from_str(body).unwrap_or(Value::Null),
        text,
    )
}

/// Waits until the agent has polled once (its status carries a signal reading).
async fn wait_polled(addr: SocketAddr) {
    let polled = async {
        loop {
            let (_, v, _) = get(addr, "/api/v1/status", None).await;
            if v["last_poll"]["signal"].is_object() && v["link"] == "connected" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), polled)
        .await
        .expect("the agent polls the simulator within 20 s");
}

fn is_rfc3339_utc(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.starts_with("20")
    })
}

#[tokio::test(flavor = "current_thread")]
async fn token_protected_reads_refuse_a_missing_or_wrong_token_without_a_hint() {
    let setup = Setup::new(None).await;
    let agent = support::run_agent(setup.cfg()).await;
    let token = setup.token();
    let wrong = format!("{}x", &token[..token.len() - 1]);
    for path in [
        "/api/v1/sms",
        "/api/v1/sms/1",
        "/api/v1/ussd",
        "/api/v1/events",
    ] {
        for auth in [None, Some(wrong.as_str()), Some("")] {
            let (code, v, raw) = get(agent.addr, path, auth).await;
            assert_eq!(code, 401, "{path} with {auth:?}: {raw}");
            assert!(v["error"].is_string() && v["detail"].is_string(), "{raw}");
            assert!(!raw.contains(&token) && !raw.contains(&token[..8]), "{raw}");
            assert!(raw.contains("WWW-Authenticate: Bearer\r\n"), "{raw}");
        }
        let (code, _, raw) = get(agent.addr, path, Some(&token)).await;
        assert_eq!(code, 200, "{path} with the token: {raw}");
    }
    // The same refusal for both, so a caller learns nothing from it.
    let (_, none, _) = get(agent.addr, "/api/v1/sms", None).await;
    let (_, bad, _) = get(agent.addr, "/api/v1/sms", Some(&wrong)).await;
    assert_eq!(none, bad);
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn lists_page_with_limit_and_since_and_refuse_anything_else() {
    let setup = Setup::new(None).await;
    let agent = support::run_agent(setup.cfg()).await;
    let token = setup.token();
    let t = Some(token.as_str());
    let a = agent.addr;

    let (code, all, raw) = get(a, "/api/v1/sms", t).await;
    assert_eq!(code, 200, "{raw}");
    let all = all.as_array().unwrap().clone();
    assert_eq!(all.len(), 2, "{raw}");
    assert_eq!(all[0]["text"], LONG, "newest first, stored whole");
    assert!(is_rfc3339_utc(&all[0]["stored_at"]) && is_rfc3339_utc(&all[0]["sent_at"]));
    assert_eq!(all[1]["stored_at"], "2026-12-01T10:00:00Z");

    let (_, one, _) = get(a, "/api/v1/sms?limit=1", t).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    for since in [
        "2026-12-01T10:30:00Z",
        "2026-12-01T19:30:00%2B09:00",
        "1796121000",
    ] {
        let (code, v, raw) = get(a, &format!("/api/v1/sms?since={since}"), t).await;
        assert_eq!(code, 200, "{raw}");
        assert_eq!(v.as_array().unwrap().len(), 1, "since={since}: {raw}");
        assert_eq!(v[0]["peer"], "Carrier");
    }

    let (code, v, _) = get(a, &format!("/api/v1/sms/{}", all[1]["id"]), t).await;
    assert_eq!((code, &v), (200, &all[1]));
    let (code, v, raw) = get(a, "/api/v1/sms/999", t).await;
    assert_eq!(code, 404, "{raw}");
    assert!(v["detail"].as_str().unwrap().contains("999"));
    assert_eq!(get(a, "/api/v1/sms/abc", t).await.0, 404);

    let (code, v, raw) = get(a, "/api/v1/ussd?limit=10", t).await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(v[0]["request"], "*100#");
    assert_eq!(v[0]["started_at"], "2026-12-01T10:01:40Z");
    let (code, v, raw) = get(a, "/api/v1/events?since=2026-12-01T10:00:00Z", t).await;
    assert_eq!(code, 200, "{raw}");
    let kinds: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"sim_swap"), "{raw}");
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|e| is_rfc3339_utc(&e["at"])),
        "{raw}"
    );

    for path in ["/api/v1/sms", "/api/v1/ussd", "/api/v1/events"] {
        for q in ["since=yesterday", "since=2026-12-01", "since=", "since=-1"] {
            let (code, v, raw) = get(a, &format!("{path}?{q}"), t).await;
            assert_eq!(code, 400, "{path}?{q}: {raw}");
            assert_eq!(v["error"], "bad since");
            let d = v["detail"].as_str().unwrap();
            assert!(d.contains("ISO 8601") && d.contains("Unix seconds"), "{d}");
        }
        for q in ["limit=0", "limit=10001", "limit=many", "limit=-3"] {
            let (code, v, raw) = get(a, &format!("{path}?{q}"), t).await;
            assert_eq!(code, 400, "{path}?{q}: {raw}");
            assert_eq!(v["error"], "bad limit");
            assert!(v["detail"].as_str().unwrap().contains("10000"));
        }
        assert_eq!(get(a, &format!("{path}?limit=10000"), t).await.0, 200);
    }
    let (code, _, raw) = request(a, "DELETE", "/api/v1/events", t).await;
    assert_eq!(code, 405, "{raw}");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn signal_and_healthz_answer_once_the_modem_is_polled() {
    let setup = Setup::new(None).await;
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let (code, v, raw) = get(agent.addr, "/api/v1/signal", None).await;
    assert_eq!(code, 200, "{raw}");
    assert!(is_rfc3339_utc(&v["as_of"]), "{raw}");
    assert!(v["signal"]["rsrp_dbm"].is_number(), "{raw}");
    let (code, v, raw) = get(agent.addr, "/healthz", None).await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(v["status"], "ok");
    let (code, _, raw) = request(agent.addr, "GET", "/healthz HTTP/9.9\r\nX:", None).await;
    assert_eq!(
        code, 505,
        "one verdict on the version for every path: {raw}"
    );
    let (code, _, raw) = request(agent.addr, "HEAD", "/healthz", None).await;
    assert!(code == 200 && raw.ends_with("\r\n\r\n"), "{raw}");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn healthz_is_503_with_the_reason_when_the_modem_is_away() {
    let setup = Setup::new(Some("/dev/simkeep-test-no-such-modem")).await;
    let agent = support::run_agent(setup.cfg()).await;
    let (code, v, raw) = get(agent.addr, "/healthz", None).await;
    assert_eq!(code, 503, "{raw}");
    assert_eq!(v["error"], "unhealthy");
    assert!(v["detail"].as_str().unwrap().contains("modem"), "{raw}");
    let (code, v, raw) = get(agent.addr, "/api/v1/signal", None).await;
    assert_eq!(code, 503, "{raw}");
    assert!(v["error"].is_string() && v["detail"].is_string(), "{raw}");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_cli_reads_sms_and_status_through_the_running_agent_and_the_same_from_the_store() {
    let setup = Setup::new(None).await;
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;

    // A long message arrives in three parts, last part first; the agent's inbox stores it whole.
    setup.rig.sim.set("reply_order", "reverse").unwrap();
    setup
        .rig
        .sim
        .set("deliver_sms", &format!("Carrier|{ARRIVING}"))
        .unwrap();
    let token = setup.token();
    let arrived = async {
        loop {
            let (_, v, _) = get(agent.addr, "/api/v1/sms", Some(&token)).await;
            if v.as_array().is_some_and(|a| a.len() == 3) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let v = tokio::time::timeout(Duration::from_secs(20), arrived)
        .await
        .expect("the long message is stored within 20 s");
    assert_eq!(v[0]["text"], ARRIVING, "stored whole, parts in order");

    let live_list = setup.cli(&["sms", "list", "--json"]).await;
    assert!(
        live_list.status.success(),
        "sms list while the agent runs: {}",
        String::from_utf8_lossy(&live_list.stderr)
    );
    let rows: Value = serde_json::from_slice(&live_list.stdout).unwrap();
    assert_eq!(rows[0]["text"], ARRIVING, "the long message in one piece");
    assert_eq!(rows[1]["text"], LONG);
    let id = rows[2]["id"].to_string();
    let live_read = setup.cli(&["sms", "read", &id, "--json"]).await;
    assert!(live_read.status.success());
    let live_text = setup.cli(&["sms", "list"]).await;
    assert!(String::from_utf8_lossy(&live_text.stdout).contains("#1 from +818012345678"));
    let missing = setup.cli(&["sms", "read", "999"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no stored message with id 999"));

    let status = setup.cli(&["status"]).await;
    let screen = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for want in [
        "link       connected",
        "SIM",
        "operator",
        "signal",
        "data left",
        "attention",
    ] {
        assert!(screen.contains(want), "{want:?} missing:\n{screen}");
    }
    let status_json = setup.cli(&["status", "--json"]).await;
    let doc: Value = serde_json::from_slice(&status_json.stdout).unwrap();
    assert_eq!(doc["link"], "connected");

    agent.stop().await;

    // No agent: the same output from the store, and `status` says the agent is not running.
    for (args, live) in [
        (vec!["sms", "list", "--json"], &live_list),
        (vec!["sms", "read", id.as_str(), "--json"], &live_read),
        (vec!["sms", "list"], &live_text),
    ] {
        let o = setup.cli(&args).await;
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.stdout, live.stdout,
            "{args:?}: the same with and without the agent"
        );
    }
    let down = setup.cli(&["status"]).await;
    assert_eq!(down.status.code(), Some(1));
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(err.contains("agent is not running"), "{err}");
    assert!(down.stdout.is_empty());
}
