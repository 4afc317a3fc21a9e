//! The HTTP API's write endpoints over real loopback sockets, with the real agent and the modem
//! simulator on a pty: `POST /api/v1/ussd`, `/sms`, `/at`, `/balance/refresh`, `/reload`, and
//! `DELETE /api/v1/sms/{id}`. The token rules (none or a wrong one → 401), raw AT off by default
//! (403) and working when turned on, AT injection refused with 400 before anything reaches the
//! modem (checked against the simulator's own record of the lines it received), and the
//! status codes for a wrong method, bad JSON, an unknown id and an agent with no modem.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use simkeep::config::Config;
use simkeep::sim::Personality;
use support::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Setup {
    rig: Rig,
    config: PathBuf,
}

impl Setup {
    /// A config on disk with a free port; `extra` is appended (more `[http]` keys, `[usage]`).
    fn new(port: Option<&str>, extra: &str) -> Setup {
        let rig = Rig::new(Personality::Generic);
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = rig.dir.path();
        let text = format!(
            "[modem]\nport = \"{}\"\npoll_interval = \"1s\"\nlock_dir = \"{}\"\n[store]\npath = \"{}\"\n\
             [http]\nlisten = \"{listen}\"\ntoken_file = \"{}\"\n{extra}",
            port.map_or_else(|| rig.link().display().to_string(), str::to_string),
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

    fn token(&self) -> String {
        std::fs::read_to_string(self.rig.dir.path().join("api-token"))
            .expect("the agent created its token")
            .trim()
            .to_string()
    }

    /// The lines the simulated modem received that contain `needle`.
    fn seen(&self, needle: &str) -> Vec<String> {
        self.rig
            .sim
            .commands_seen()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect()
    }
}

/// One request on its own connection: (status, body as JSON or Null, the raw answer).
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, Value, String) {
    // 0 when nothing answers (an agent restarting on reload).
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, Value::Null, String::new());
    };
    let auth = auth.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    s.write_all(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("send the request");
    let mut buf = Vec::new();
    if s.read_to_end(&mut buf).await.is_err() {
        return (0, Value::Null, String::new());
    }
    let text = String::from_utf8(buf).expect("utf-8 response");
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (
        code,
        serde_json::from_str(body).unwrap_or(Value::Null),
        text,
    )
}

/// Waits until the agent has polled the modem once (so it has a SIM and a link).
async fn wait_polled(addr: SocketAddr) {
    let polled = async {
        loop {
            let (_, v, _) = call(addr, "GET", "/api/v1/status", None, "").await;
            if v["last_poll"]["sim"]["iccid"].is_string() && v["link"] == "connected" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), polled)
        .await
        .expect("the agent polls the simulator within 20 s");
}

const WRITES: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/ussd", r#"{"code":"*100#"}"#),
    ("POST", "/api/v1/sms", r#"{"to":"1234","text":"BAL"}"#),
    ("DELETE", "/api/v1/sms/1", ""),
    ("POST", "/api/v1/balance/refresh", ""),
    ("POST", "/api/v1/reload", ""),
    ("POST", "/api/v1/at", r#"{"command":"AT+CSQ"}"#),
];

#[tokio::test(flavor = "current_thread")]
async fn every_write_refuses_a_missing_or_wrong_token_alike_and_sends_nothing() {
    let setup = Setup::new(None, "allow_raw_at = true\n");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let token = setup.token();
    let wrong = format!("{}x", &token[..token.len() - 1]);
    let mut refusals = Vec::new();
    for (method, path, body) in WRITES {
        for auth in [None, Some(wrong.as_str()), Some("")] {
            let (code, v, raw) = call(agent.addr, method, path, auth, body).await;
            assert_eq!(code, 401, "{method} {path} with {auth:?}: {raw}");
            assert!(raw.contains("WWW-Authenticate: Bearer\r\n"), "{raw}");
            assert!(!raw.contains(&token[..8]), "{raw}");
            refusals.push(v);
        }
    }
    assert!(
        refusals.windows(2).all(|w| w[0] == w[1]),
        "one refusal for all: {refusals:?}"
    );
    assert!(setup.seen("CUSD=1").is_empty(), "no USSD went out");
    assert!(setup.seen("CMGS").is_empty(), "no SMS went out");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn raw_at_is_forbidden_unless_the_owner_turns_it_on() {
    let setup = Setup::new(None, "");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let t = setup.token();
    let (code, v, raw) = call(
        agent.addr,
        "POST",
        "/api/v1/at",
        Some(&t),
        r#"{"command":"AT+CFUN=0"}"#,
    )
    .await;
    assert_eq!(code, 403, "{raw}");
    assert!(
        v["detail"].as_str().unwrap().contains("http.allow_raw_at"),
        "{raw}"
    );
    assert!(setup.seen("CFUN=0").is_empty());
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn raw_at_when_on_answers_the_modem_lines_and_refuses_injection() {
    let setup = Setup::new(None, "allow_raw_at = true\n");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let t = setup.token();
    let a = agent.addr;
    let (code, v, raw) = call(
        a,
        "POST",
        "/api/v1/at",
        Some(&t),
        r#"{"command":"AT+CSQ","timeout":5}"#,
    )
    .await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(v["command"], "AT+CSQ");
    assert!(
        v["lines"][0].as_str().unwrap().starts_with("+CSQ: "),
        "{raw}"
    );

    for bad in [
        json!({"command": "AT+CSQ;+CFUN=0"}),
        json!({"command": "AT+CSQ\r\nAT+CFUN=0"}),
        json!({"command": "AT+CMGS=1\u{1a}AT+CFUN=0"}),
        json!({"command": "AT+CSQ", "timeout": 0}),
        json!({"command": "AT+CSQ", "timeout": 100000}),
        json!({"command": "AT+CSQ", "extra": 1}),
        json!({"cmd": "AT+CSQ"}),
    ] {
        let (code, v, raw) = call(a, "POST", "/api/v1/at", Some(&t), &bad.to_string()).await;
        assert_eq!(code, 400, "{bad}: {raw}");
        assert!(v["detail"].is_string(), "{raw}");
    }
    assert!(
        setup.seen("CFUN=0").is_empty(),
        "{:?}",
        setup.rig.sim.commands_seen()
    );

    // The modem's own refusal is a 502 that says which command.
    let (code, v, raw) = call(
        a,
        "POST",
        "/api/v1/at",
        Some(&t),
        r#"{"command":"AT+NOSUCH"}"#,
    )
    .await;
    assert_eq!(code, 502, "{raw}");
    assert_eq!(v["error"], "modem refused");
    assert!(v["detail"].as_str().unwrap().contains("AT+NOSUCH"), "{raw}");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn ussd_answers_menus_reports_an_unanswered_one_and_records_every_session() {
    let setup = Setup::new(None, "");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let t = setup.token();
    let a = agent.addr;

    let (code, v, raw) = call(a, "POST", "/api/v1/ussd", Some(&t), r#"{"code":"*100#"}"#).await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(v["state"], "done");
    assert!(
        v["answers"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Balance: "),
        "{raw}"
    );

    // The *123# menu: 2 = balance. Two answers: the menu, then the balance.
    let (code, v, raw) = call(
        a,
        "POST",
        "/api/v1/ussd",
        Some(&t),
        r#"{"code":"*123#","replies":["2","9"]}"#,
    )
    .await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(v["state"], "done", "{raw}");
    assert_eq!(v["answers"].as_array().unwrap().len(), 2, "{raw}");
    assert_eq!(v["answers"][0]["status"], "menu");
    assert_eq!(v["answers"][1]["sent"], "2");
    assert_eq!(v["unused_replies"], 1);

    // A menu with no choice given: reported as unanswered, and cancelled on the network.
    let before = setup.seen("AT+CUSD=2").len();
    let (code, v, raw) = call(a, "POST", "/api/v1/ussd", Some(&t), r#"{"code":"*123#"}"#).await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(v["state"], "unanswered", "{raw}");
    assert_eq!(v["answers"][0]["status"], "menu");
    assert_eq!(
        setup.seen("AT+CUSD=2").len(),
        before + 1,
        "the open menu was cancelled"
    );

    // A code the network does not know: the network's refusal, as a 502.
    let (code, v, raw) = call(a, "POST", "/api/v1/ussd", Some(&t), r#"{"code":"*999#"}"#).await;
    assert_eq!(code, 502, "{raw}");
    assert!(v["detail"].as_str().unwrap().contains("*999#"), "{raw}");

    let (code, v, raw) = call(a, "GET", "/api/v1/ussd?limit=10", Some(&t), "").await;
    assert_eq!(code, 200, "{raw}");
    let states: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["status"].as_str())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "unanswered").count(),
        1,
        "{raw}"
    );
    assert!(states.iter().any(|s| s.starts_with("failed: ")), "{raw}");
    assert!(
        states.iter().filter(|s| **s == "done").count() >= 2,
        "{raw}"
    );
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn ussd_and_sms_injection_is_refused_with_400_and_nothing_reaches_the_modem() {
    let setup = Setup::new(None, "");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let t = setup.token();
    let a = agent.addr;
    for bad in [
        json!({"code": "*100#\r"}),
        json!({"code": "*100#\rAT+CFUN=0"}),
        json!({"code": "*100#\u{1a}"}),
        json!({"code": "*100#;+CFUN=0"}),
        json!({"code": "*123#", "replies": ["1\r\nAT+CFUN=0"]}),
        json!({"code": "*123#", "replies": ["1", "1", "1", "1", "1", "1", "1", "1", "1"]}),
        json!({"code": ""}),
        json!({"replies": ["1"]}),
    ] {
        let (code, v, raw) = call(a, "POST", "/api/v1/ussd", Some(&t), &bad.to_string()).await;
        assert_eq!(code, 400, "{bad}: {raw}");
        assert_eq!(
            v["error"].as_str().map(|e| e.starts_with("bad request")),
            Some(true),
            "{raw}"
        );
    }
    for bad in [
        json!({"to": "+8190\r1234", "text": "hi"}),
        json!({"to": "1234;+CFUN=0", "text": "hi"}),
        json!({"to": "1234", "text": "hi\u{1a}AT+CFUN=0"}),
        json!({"to": "1234"}),
    ] {
        let (code, _, raw) = call(a, "POST", "/api/v1/sms", Some(&t), &bad.to_string()).await;
        assert_eq!(code, 400, "{bad}: {raw}");
    }
    let (code, _, raw) = call(a, "POST", "/api/v1/ussd", Some(&t), "{not json").await;
    assert_eq!(code, 400, "{raw}");
    assert!(
        setup.seen("CUSD=1").is_empty(),
        "{:?}",
        setup.rig.sim.commands_seen()
    );
    assert!(setup.seen("CMGS").is_empty());
    assert!(setup.seen("CFUN=0").is_empty());
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_sms_sent_reaches_the_carrier_is_stored_and_can_be_deleted() {
    let setup = Setup::new(None, "");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let t = setup.token();
    let a = agent.addr;
    let (code, v, raw) = call(
        a,
        "POST",
        "/api/v1/sms",
        Some(&t),
        r#"{"to":"+818012345678","text":"hello from the API"}"#,
    )
    .await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(v["references"].as_array().unwrap().len(), 1, "{raw}");
    setup
        .rig
        .sim
        .set("check_received", "hello from the API")
        .expect("the carrier got the message");
    let id = v["id"].as_i64().expect("stored");
    // The owner's SMS counts in /metrics.
    let (_, _, metrics) = call(a, "GET", "/metrics", None, "").await;
    assert!(
        metrics.lines().any(|l| l == "simkeep_sms_sent_total 1"),
        "{metrics}"
    );
    let (code, m, raw) = call(a, "GET", &format!("/api/v1/sms/{id}"), Some(&t), "").await;
    assert_eq!(code, 200, "{raw}");
    assert_eq!(m["text"], "hello from the API");
    assert_eq!(m["peer"], "+818012345678");

    let (code, v, raw) = call(a, "DELETE", &format!("/api/v1/sms/{id}"), Some(&t), "").await;
    assert_eq!((code, &v["deleted"]), (200, &json!(id)), "{raw}");
    assert_eq!(
        call(a, "GET", &format!("/api/v1/sms/{id}"), Some(&t), "")
            .await
            .0,
        404
    );
    let (code, v, raw) = call(a, "DELETE", &format!("/api/v1/sms/{id}"), Some(&t), "").await;
    assert_eq!(code, 404, "{raw}");
    assert!(v["detail"].as_str().unwrap().contains(&id.to_string()));
    assert_eq!(
        call(a, "DELETE", "/api/v1/sms/abc", Some(&t), "").await.0,
        404
    );
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn wrong_methods_get_405_with_allow() {
    let setup = Setup::new(None, "allow_raw_at = true\n");
    let agent = support::run_agent(setup.cfg()).await;
    let t = setup.token();
    for (method, path, allow) in [
        ("PUT", "/api/v1/ussd", "Allow: GET, HEAD, POST\r\n"),
        ("DELETE", "/api/v1/sms", "Allow: GET, HEAD, POST\r\n"),
        ("POST", "/api/v1/sms/1", "Allow: GET, HEAD, DELETE\r\n"),
        ("GET", "/api/v1/at", "Allow: POST\r\n"),
        ("GET", "/api/v1/reload", "Allow: POST\r\n"),
        ("DELETE", "/api/v1/balance/refresh", "Allow: POST\r\n"),
    ] {
        let (code, v, raw) = call(agent.addr, method, path, Some(&t), "").await;
        assert_eq!(code, 405, "{method} {path}: {raw}");
        assert!(raw.contains(allow), "{raw}");
        assert!(v["error"].is_string());
    }
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn with_no_modem_modem_writes_are_503_and_reload_needs_simkeep_run() {
    let setup = Setup::new(
        Some("/dev/simkeep-test-no-such-modem"),
        "allow_raw_at = true\n",
    );
    let agent = support::run_agent(setup.cfg()).await;
    let t = setup.token();
    for (path, body) in [
        ("/api/v1/ussd", r#"{"code":"*100#"}"#),
        ("/api/v1/sms", r#"{"to":"1234","text":"BAL"}"#),
        ("/api/v1/at", r#"{"command":"AT+CSQ"}"#),
        ("/api/v1/balance/refresh", ""),
        ("/api/v1/reload", ""),
    ] {
        let (code, v, raw) = call(agent.addr, "POST", path, Some(&t), body).await;
        assert_eq!(code, 503, "{path}: {raw}");
        assert!(v["detail"].is_string(), "{raw}");
    }
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn balance_refresh_asks_the_carrier_now() {
    let setup = Setup::new(None, "");
    let sys = setup.rig.dir.path().join("sys");
    let stats = sys.join("wwan0/statistics");
    std::fs::create_dir_all(&stats).unwrap();
    std::fs::write(stats.join("rx_bytes"), "0\n").unwrap();
    std::fs::write(stats.join("tx_bytes"), "0\n").unwrap();
    let mut text = std::fs::read_to_string(&setup.config).unwrap();
    text.push_str(&format!(
        "[usage]\ninterface = \"wwan0\"\nsysfs_root = \"{}\"\nquota = \"1GB\"\nunit_base = 1000\n\
         [usage.carrier]\nussd = \"*100#\"\ninterval = \"1h\"\n",
        sys.display()
    ));
    std::fs::write(&setup.config, text).unwrap();
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let t = setup.token();
    setup.rig.sim.set("balance_mb", "750").unwrap();
    let (code, v, raw) = call(agent.addr, "POST", "/api/v1/balance/refresh", Some(&t), "").await;
    assert_eq!(code, 200, "{raw}");
    // The scheduled query may have been in flight with the old balance; a second ask is fresh.
    let left = if v["remaining_bytes"] == 750_000_000 {
        v
    } else {
        call(agent.addr, "POST", "/api/v1/balance/refresh", Some(&t), "")
            .await
            .1
    };
    assert_eq!(left["remaining_bytes"], 750_000_000, "{left}");
    assert!(left["as_of"].as_str().unwrap().ends_with('Z'));
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn reload_applies_a_good_config_and_refuses_a_bad_one_without_stopping() {
    let setup = Setup::new(None, "");
    let mut child = support::child::Agent::start(&setup.config, &[]);
    let addr = setup.cfg().http.listen.unwrap();
    wait_polled(addr).await;
    let t = setup.token();
    let good = std::fs::read_to_string(&setup.config).unwrap();

    std::fs::write(
        &setup.config,
        good.replace("poll_interval = \"1s\"", "poll_interval = \"soon\""),
    )
    .unwrap();
    let (code, v, raw) = call(addr, "POST", "/api/v1/reload", Some(&t), "").await;
    assert_eq!(code, 400, "{raw}");
    assert!(
        v["detail"].as_str().unwrap().contains("poll_interval"),
        "{raw}"
    );
    let (code, _, _) = call(addr, "GET", "/api/v1/status", None, "").await;
    assert_eq!(code, 200, "still running on the old config");

    std::fs::write(
        &setup.config,
        good.replace("[http]\n", "[http]\nallow_raw_at = true\n"),
    )
    .unwrap();
    let (code, v, raw) = call(addr, "POST", "/api/v1/reload", Some(&t), "").await;
    assert_eq!(code, 200, "{raw}");
    assert!(v["result"].is_string());
    // The restarted agent has the new setting: raw AT answers instead of 403.
    let answered = async {
        loop {
            let (code, _, _) =
                call(addr, "POST", "/api/v1/at", Some(&t), r#"{"command":"AT"}"#).await;
            if code == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), answered)
        .await
        .expect("the reloaded agent allows raw AT");
    child.kill();
}

#[tokio::test(flavor = "current_thread")]
async fn a_second_dialogue_is_refused_while_one_is_open_and_shutdown_does_not_wait_for_it() {
    let setup = Setup::new(None, "");
    let agent = support::run_agent(setup.cfg()).await;
    wait_polled(agent.addr).await;
    let t = setup.token();
    let a = agent.addr;
    // The network never answers: the first dialogue waits for its +CUSD.
    setup.rig.sim.set("ussd", "silent").unwrap();
    let t1 = t.clone();
    let first = tokio::spawn(async move {
        call(a, "POST", "/api/v1/ussd", Some(&t1), r#"{"code":"*100#"}"#).await
    });
    let sent =
        support::eventually(Duration::from_secs(10), || !setup.seen("CUSD=1").is_empty()).await;
    assert!(sent, "the first dialogue reached the modem");
    let (code, v, raw) = call(a, "POST", "/api/v1/ussd", Some(&t), r#"{"code":"*123#"}"#).await;
    assert_eq!(code, 409, "{raw}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("talking to the carrier"),
        "{raw}"
    );
    assert_eq!(
        setup.seen("CUSD=1").len(),
        1,
        "the second code was not sent"
    );
    // Other writes still run beside it (the engine serialises single commands).
    let (code, _, raw) = call(
        a,
        "POST",
        "/api/v1/sms",
        Some(&t),
        r#"{"to":"1234","text":"BAL"}"#,
    )
    .await;
    assert_eq!(code, 200, "{raw}");

    let began = std::time::Instant::now();
    agent.stop().await;
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        began.elapsed()
    );
    let (code, _, _) = first.await.unwrap();
    assert_ne!(
        code, 200,
        "the cut-off dialogue is not reported as answered"
    );
}
