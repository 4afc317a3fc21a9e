//! Automatic top-ups end to end: the agent on a real pty against the simulated carrier, the
//! store a real SQLite file, the API on a real loopback socket. Each test sets the balance low,
//! lets the policy decide, and checks what the carrier charged and what the ledger says.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use simkeep::config::Config;
use simkeep::sim::Personality;
use support::{flows, Rig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A free loopback port for the agent's API.
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// The flows, verified within 20 s.
fn vodacom() -> String {
    flows::with_verify(flows::USSD_FLOW, "20s")
}

fn sms_keyword() -> String {
    flows::with_verify(flows::SMS_FLOW, "20s")
}

fn config(rig: &Rig, listen: &str, topup: &str, flows: &str) -> String {
    format!(
        "[modem]\nport = \"{port}\"\npoll_interval = \"1s\"\nlock_dir = \"{lock}\"\n\
         [store]\npath = \"{db}\"\n[http]\nlisten = \"{listen}\"\n\
         [usage]\nquota = \"10GB\"\nunit_base = 1000\ntimezone = \"UTC\"\n\
         [usage.carrier]\nussd = \"*100#\"\ninterval = \"1m\"\n\
         [topup]\nenabled = true\nthreshold = \"500MB\"\nmax_per_cycle = 3\nmax_spend_per_cycle = 30000\n\
         currency = \"TZS\"\n{trust}{cooldown}{topup}\n{flows}",
        // Defaults the test may override in `topup`.
        trust = if topup.contains("trust_clock") { "" } else { "trust_clock = true\n" },
        cooldown = if topup.contains("cooldown") { "" } else { "cooldown = \"1h\"\n" },
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = rig.dir.path().join("simkeep.db").display(),
    )
}

async fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    s.write_all(format!("{method} {path} HTTP/1.1\r\n{auth}Content-Length: 0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (code, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Waits until the ledger holds an attempt that ended, and returns the ledger.
async fn wait_settled(addr: SocketAddr, n: usize, limit: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (_, v) = request(addr, "GET", "/api/v1/topups", None).await;
        let rows = v.as_array().cloned().unwrap_or_default();
        let done = rows.iter().filter(|r| r["finished_at"].is_string()).count();
        if done >= n {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} settled top-up attempts in time; ledger: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(addr: SocketAddr) -> Value {
    request(addr, "GET", "/api/v1/status", None).await.1
}

fn start(rig: &Rig, topup: &str, flows: &str) -> Config {
    let listen = free_port();
    let path = rig.dir.path().join("config.toml");
    std::fs::write(&path, config(rig, &listen, topup, flows)).unwrap();
    Config::load(&path).expect("test config loads")
}

fn charges(rig: &Rig, n: u32) -> Result<(), String> {
    rig.sim.set("check_charges", &n.to_string())
}

#[tokio::test(flavor = "current_thread")]
async fn low_data_buys_through_a_reordered_ussd_menu_chosen_by_text_and_verifies() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    rig.sim.set("menu_order", "shuffle").unwrap();
    let agent = support::run_agent(start(&rig, "", &vodacom())).await;
    let rows = wait_settled(agent.addr, 1, Duration::from_secs(60)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "succeeded", "{rows:?}");
    assert_eq!(rows[0]["flow"], "vodacom-monthly");
    assert_eq!(rows[0]["price"], "10000");
    charges(&rig, 1).expect("the carrier charged exactly once");
    let s = status(agent.addr).await;
    assert_eq!(s["topup"]["count_this_cycle"], 1, "{s}");
    assert_eq!(s["topup"]["paused"], false, "{s}");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_ussd_flow_that_surely_failed_falls_back_to_the_sms_keyword() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    rig.sim.set("lang", "zh").unwrap();
    // The menu no longer offers what the flow looks for: nothing is sent, nothing charged.
    let broken = vodacom().replace("{ choose = \"Monthly\" }", "{ choose = \"Quarterly\" }");
    let agent = support::run_agent(start(&rig, "", &format!("{broken}\n{}", sms_keyword()))).await;
    let rows = wait_settled(agent.addr, 2, Duration::from_secs(60)).await;
    assert_eq!(rows[0]["state"], "failed", "{rows:?}");
    assert!(
        rows[0]["detail"].as_str().unwrap().contains("Quarterly"),
        "{rows:?}"
    );
    assert_eq!(rows[1]["state"], "succeeded", "{rows:?}");
    assert_eq!(rows[1]["flow"], "sms-keyword");
    let heard = rows[1]["transcript"].to_string();
    assert!(
        heard.contains("成功"),
        "the zh receipt was recognised: {heard}"
    );
    charges(&rig, 1).expect("only the SMS keyword charged");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_reply_lost_after_the_carrier_charged_is_verified_not_retried() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    rig.sim.set("reply", "lost").unwrap();
    let agent = support::run_agent(start(
        &rig,
        "",
        &format!("{}\n{}", vodacom(), sms_keyword()),
    ))
    .await;
    let rows = wait_settled(agent.addr, 1, Duration::from_secs(60)).await;
    assert_eq!(rows.len(), 1, "never retried with the next flow: {rows:?}");
    assert_eq!(rows[0]["state"], "succeeded", "{rows:?}");
    charges(&rig, 1).expect("one charge");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_carrier_that_says_done_and_never_credits_is_charged_once_and_pauses_top_ups() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    rig.sim.set("credit", "never").unwrap();
    let flow = flows::with_verify(flows::USSD_FLOW, "4s");
    let agent = support::run_agent(start(&rig, "", &flow)).await;
    let rows = wait_settled(agent.addr, 1, Duration::from_secs(60)).await;
    assert_eq!(rows[0]["state"], "unverified", "{rows:?}");
    let s = status(agent.addr).await;
    assert_eq!(s["topup"]["paused"], true, "{s}");
    let why = s["topup"]["paused_reason"].as_str().unwrap();
    assert!(
        why.contains("unverified") && why.contains("simkeep topup resume"),
        "{s}"
    );
    charges(&rig, 1).expect("exactly one charge");
    let (_, ledger) = request(agent.addr, "GET", "/api/v1/topups", None).await;
    assert_eq!(ledger.as_array().unwrap().len(), 1, "{ledger}");
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn dry_run_and_a_foreign_sim_buy_nothing_and_say_why() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    let agent = support::run_agent(start(&rig, "dry_run = true", &vodacom())).await;
    let plan = wait_plan(agent.addr, "buy").await;
    assert!(plan.starts_with("buy"), "{plan}");
    // A few more polls with the policy saying "buy": still nothing may go out.
    wait_polls(agent.addr, 3).await;
    charges(&rig, 0).expect("a dry run sends nothing");
    let (_, ledger) = request(agent.addr, "GET", "/api/v1/topups", None).await;
    assert_eq!(
        ledger,
        Value::Array(vec![]),
        "a dry run writes no ledger row"
    );
    agent.stop().await;

    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    let agent = support::run_agent(start(
        &rig,
        "iccids = [\"8944500000000000001\"]",
        &vodacom(),
    ))
    .await;
    let plan = wait_plan(agent.addr, "topup.iccids").await;
    assert!(plan.starts_with("hold"), "{plan}");
    charges(&rig, 0).expect("another SIM's plan is never charged");
    agent.stop().await;
}

/// Waits for `n` more successful polls.
async fn wait_polls(addr: SocketAddr, n: i64) {
    let t0 = status(addr).await["last_poll"]["taken_at"]
        .as_str()
        .and_then(simkeep::usage::civil::parse_utc)
        .unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while status(addr).await["last_poll"]["taken_at"]
        .as_str()
        .and_then(simkeep::usage::civil::parse_utc)
        .unwrap_or(0)
        < t0 + n
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent stopped polling"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the policy's words in status contain `needle`.
async fn wait_plan(addr: SocketAddr, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = status(addr).await;
        let plan = s["topup"]["plan"].as_str().unwrap_or("").to_string();
        if plan.contains(needle) {
            return plan;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "plan never said {needle:?}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn writes_need_the_token_and_resume_lifts_a_pause() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "9000").unwrap();
    let cfg = start(&rig, "", &vodacom());
    let token_file = cfg.http.token_file.clone();
    let agent = support::run_agent(cfg).await;
    let (code, body) = request(agent.addr, "POST", "/api/v1/topup", None).await;
    assert_eq!(code, 401, "{body}");
    let (code, _) = request(agent.addr, "POST", "/api/v1/topup", Some("wrong")).await;
    assert_eq!(code, 401);
    let token = std::fs::read_to_string(&token_file).unwrap();
    let plan = wait_plan(agent.addr, "threshold").await;
    assert!(plan.starts_with("hold"), "plenty left: {plan}");
    let (code, body) = request(
        agent.addr,
        "POST",
        "/api/v1/topup/resume",
        Some(token.trim()),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body["result"].as_str().unwrap().contains("not paused"),
        "{body}"
    );
    charges(&rig, 0).unwrap();
    agent.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn without_a_trusted_clock_nothing_is_bought_and_network_time_can_vouch_for_it() {
    let synced = simkeep::topup::clock::kernel_synced();
    // The modem never heard the network's time: only the kernel could vouch for the clock.
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    rig.sim.set("nitz", "off").unwrap();
    let agent = support::run_agent(start(&rig, "trust_clock = false", &vodacom())).await;
    if synced {
        // This machine's kernel says NTP set the clock: that alone is enough.
        let plan = wait_plan(agent.addr, "buy").await;
        assert!(plan.starts_with("buy"), "{plan}");
    } else {
        let plan = wait_plan(agent.addr, "clock not trusted").await;
        assert!(plan.starts_with("hold"), "{plan}");
        wait_polls(agent.addr, 2).await;
        charges(&rig, 0).expect("nothing bought on an untrusted clock");
    }
    agent.stop().await;

    // The network's time agrees with ours: the clock is trusted and the purchase goes ahead.
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    let agent = support::run_agent(start(&rig, "trust_clock = false", &vodacom())).await;
    let rows = wait_settled(agent.addr, 1, Duration::from_secs(60)).await;
    assert_eq!(rows[0]["state"], "succeeded", "{rows:?}");
    assert_eq!(status(agent.addr).await["topup"]["clock_trusted"], true);
    agent.stop().await;
}

/// The owner's switch (`POST /api/v1/topup/pause`, `simkeep topup pause`, the MQTT switch
/// turned off): nothing is bought while data is low, a restart stays paused, resume buys.
#[tokio::test(flavor = "current_thread")]
async fn pause_holds_every_top_up_across_a_restart_until_resume() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "9000").unwrap();
    let cfg = start(&rig, "", &vodacom());
    let token_file = cfg.http.token_file.clone();
    let agent = support::run_agent(cfg.clone()).await;
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    let (code, body) = request(agent.addr, "POST", "/api/v1/topup/pause", Some(token)).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body["result"].as_str().unwrap().contains("switched off"),
        "{body}"
    );
    let (code, _) = request(agent.addr, "GET", "/api/v1/topup/pause", Some(token)).await;
    assert_eq!(code, 405);
    // Data runs low: the policy holds and says why.
    rig.sim.set("balance_mb", "300").unwrap();
    let plan = wait_plan(agent.addr, "switched off by the owner").await;
    assert!(plan.starts_with("hold"), "{plan}");
    assert_eq!(status(agent.addr).await["topup"]["paused"], true);
    agent.stop().await;

    // A restart (a power cut) does not switch them back on.
    let agent = support::run_agent(cfg).await;
    wait_plan(agent.addr, "switched off by the owner").await;
    wait_polls(agent.addr, 2).await;
    charges(&rig, 0).expect("nothing bought while switched off");
    let (code, body) = request(agent.addr, "POST", "/api/v1/topup/resume", Some(token)).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body["result"].as_str().unwrap().contains("resumed"),
        "{body}"
    );
    let rows = wait_settled(agent.addr, 1, Duration::from_secs(60)).await;
    assert_eq!(rows[0]["state"], "succeeded", "{rows:?}");
    charges(&rig, 1).expect("bought once after resume");
    agent.stop().await;
}
