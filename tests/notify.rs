//! Notifications against real servers on loopback: a small HTTP server in this test plays the
//! Telegram Bot API (including a `429` with `parameters.retry_after`), an ntfy server and a
//! webhook receiver, and an exec channel runs a shell script writing its stdin to a file. The
//! real `simkeep run` runs as a child process against the simulator kept in this process.
//!
//! What must hold: each event arrives once on each channel that wants it, in order, even after
//! the receivers were down for a while and the agent restarted in between; the log never holds a
//! secret; `simkeep notify test` says what each channel answered.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use simkeep::sim::Personality;
use support::child::Agent;
use support::Rig;

const TG_TOKEN: &str = "123456:AAH-secret_bot_TOKEN_value";
const HOOK_BEARER: &str = "hook-bearer-s3cr3t-value";
const NTFY_TOKEN: &str = "tk_ntfysecretvalue0123";

/// One request the server saw and what it answered.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Plays Telegram (`/tg/bot<token>/sendMessage`), ntfy (`/ntfy/<topic>`) and a webhook (`/hook`).
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Every endpoint answers 503 while set.
    down: Arc<AtomicBool>,
    /// Telegram answers this many 429s (retry_after 1) before the next success.
    tg_429: Arc<AtomicU32>,
    /// Telegram answers 401 (a revoked token) while set.
    tg_unauthorized: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> (Receiver, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let r = Receiver::default();
        let me = r.clone();
        std::thread::spawn(move || {
            for s in l.incoming().map_while(Result::ok) {
                let me = me.clone();
                std::thread::spawn(move || me.handle(s));
            }
        });
        (r, addr)
    }

    fn handle(&self, mut s: TcpStream) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        if r.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((n, v)) = h.trim_end().split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let (status, reply) = self.answer(&path);
        self.seen.lock().unwrap().push(Seen {
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            status,
            at: Instant::now(),
        });
        let _ = write!(
            s,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        );
    }

    fn answer(&self, path: &str) -> (u16, String) {
        if self.down.load(Ordering::SeqCst) {
            return (503, "{\"error\":\"down\"}".into());
        }
        if path.starts_with("/tg/") {
            if self.tg_unauthorized.load(Ordering::SeqCst) {
                return (
                    401,
                    r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.into(),
                );
            }
            let left = self.tg_429.load(Ordering::SeqCst);
            if left > 0 {
                self.tg_429.store(left - 1, Ordering::SeqCst);
                return (
                    429,
                    r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#.into(),
                );
            }
            return (200, r#"{"ok":true,"result":{"message_id":1}}"#.into());
        }
        (200, "{\"id\":\"x\"}".into())
    }

    fn seen(&self, prefix: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// What each successful delivery on `prefix` said, in arrival order.
    fn delivered(&self, prefix: &str) -> Vec<String> {
        self.seen(prefix)
            .into_iter()
            .filter(Seen::ok)
            .map(|s| s.body)
            .collect()
    }
}

fn wait(limit: Duration, what: &str, mut f: impl FnMut() -> bool, log: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Setup {
    rig: Rig,
    cfg: PathBuf,
    exec_out: PathBuf,
}

fn setup(addr: SocketAddr) -> Setup {
    let rig = Rig::new(Personality::QuectelEc25);
    let dir = rig.dir.path().to_path_buf();
    let secrets = dir.join("secrets.toml");
    std::fs::write(
        &secrets,
        format!("tg = \"{TG_TOKEN}\"\nhook = \"{HOOK_BEARER}\"\nntfy = \"{NTFY_TOKEN}\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let exec_out = dir.join("exec.jsonl");
    let listen = TcpListener::bind("127.0.0.1:0")
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

[[notify]]
kind = "telegram"
url = "http://{addr}/tg"
token = "${{secret:tg}}"
chat_id = -1001234567890

[[notify]]
name = "phone"
kind = "ntfy"
server = "http://{addr}/ntfy"
topic = "flat-router"
token = "${{secret:ntfy}}"
events = ["sms_received"]

[[notify]]
kind = "webhook"
url = "http://{addr}/hook"
headers = {{ Authorization = "Bearer ${{secret:hook}}" }}

[[notify]]
kind = "exec"
command = ["/bin/sh", "-c", "cat >> '{exec}'"]
timeout = "5s"

[[notify]]
name = "pager"
kind = "webhook"
url = "http://{addr}/pager"
min_level = "critical"
"#,
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = dir.join("simkeep.db").display(),
        secrets = secrets.display(),
        exec = exec_out.display(),
    );
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, text).unwrap();
    Setup { rig, cfg, exec_out }
}

/// The event names (and SMS texts) of JSON deliveries, in order.
fn names(bodies: &[String]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| {
            let v: Value = serde_json::from_str(b).unwrap_or(Value::Null);
            match v["event"].as_str() {
                Some("sms_received") => {
                    format!("sms:{}", v["fields"]["text"].as_str().unwrap_or("?"))
                }
                Some(n) => n.to_string(),
                None => format!("not json: {b}"),
            }
        })
        .collect()
}

/// Telegram and ntfy carry the one-line text.
fn texts(r: &Receiver, prefix: &str) -> Vec<String> {
    r.seen(prefix)
        .into_iter()
        .filter(Seen::ok)
        .map(|s| {
            if prefix == "/tg" {
                let v: Value = serde_json::from_str(&s.body).unwrap();
                v["text"].as_str().unwrap().to_string()
            } else {
                s.body
            }
        })
        .collect()
}

fn exec_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn events_arrive_once_each_in_order_after_the_receivers_were_down_and_the_agent_restarted() {
    let (recv, addr) = Receiver::start();
    // Telegram's first answer is a 429 with retry_after 1.
    recv.tg_429.store(1, Ordering::SeqCst);
    let s = setup(addr);
    let agent = Agent::start(&s.cfg, &["-v".to_string()]);
    let log1 = || agent.log();
    wait(
        Duration::from_secs(20),
        "agent_started on the webhook",
        || names(&recv.delivered("/hook")) == ["agent_started"],
        log1,
    );
    wait(
        Duration::from_secs(20),
        "agent_started on telegram after its 429",
        || recv.delivered("/tg/").len() == 1,
        log1,
    );
    // Telegram: the 429, then the retry no sooner than retry_after said.
    let tg = recv.seen("/tg/");
    assert_eq!(tg[0].status, 429);
    assert!(
        tg[1].at.duration_since(tg[0].at) >= Duration::from_millis(900),
        "{tg:?}"
    );
    assert!(
        tg[1]
            .path
            .starts_with(&format!("/tg/bot{TG_TOKEN}/sendMessage")),
        "{}",
        tg[1].path
    );
    let sent: Value = serde_json::from_str(&tg[1].body).unwrap();
    assert_eq!(sent["chat_id"], -1001234567890i64);
    assert!(
        sent["text"].as_str().unwrap().starts_with("simkeep "),
        "{sent}"
    );
    // The webhook's own header and the JSON event.
    let hook = &recv.seen("/hook")[0];
    assert_eq!(
        hook.header("authorization"),
        Some(format!("Bearer {HOOK_BEARER}").as_str())
    );
    assert_eq!(hook.header("content-type"), Some("application/json"));

    // The receivers go down; two messages arrive meanwhile.
    recv.down.store(true, Ordering::SeqCst);
    s.rig
        .sim
        .set("deliver_sms", "1234|first: your pack expires tomorrow")
        .unwrap();
    wait(
        Duration::from_secs(20),
        "a refused attempt to deliver the first SMS",
        || {
            recv.seen("/hook")
                .iter()
                .any(|x| x.status == 503 && x.body.contains("first:"))
        },
        log1,
    );
    s.rig
        .sim
        .set("deliver_sms", "5678|second: PIN 4711")
        .unwrap();
    wait(
        Duration::from_secs(20),
        "the second SMS on the exec channel",
        || {
            exec_lines(&s.exec_out)
                .iter()
                .any(|l| l.contains("second:"))
        },
        log1,
    );
    // Restart while still down: what is owed is in the store, not in the process.
    let log_a = agent.stop();
    let agent = Agent::start(&s.cfg, &["-v".to_string()]);
    let log2 = || agent.log();
    wait(
        Duration::from_secs(20),
        "a refused attempt after the restart",
        || {
            recv.seen("/hook")
                .iter()
                .filter(|x| x.status == 503)
                .count()
                >= 3
        },
        log2,
    );
    recv.down.store(false, Ordering::SeqCst);
    let want = [
        "agent_started",
        "sms:first: your pack expires tomorrow",
        "sms:second: PIN 4711",
        "agent_started",
    ];
    wait(
        Duration::from_secs(40),
        "everything on the webhook",
        || recv.delivered("/hook").len() >= 4,
        log2,
    );
    wait(
        Duration::from_secs(40),
        "everything on telegram",
        || recv.delivered("/tg/").len() >= 4,
        log2,
    );
    wait(
        Duration::from_secs(40),
        "both SMS on ntfy",
        || recv.delivered("/ntfy/").len() >= 2,
        log2,
    );
    // A moment for any duplicate to show up.
    std::thread::sleep(Duration::from_millis(1500));
    let log_b = agent.stop();
    assert_eq!(
        names(&recv.delivered("/hook")),
        want,
        "log:\n{log_a}\n{log_b}"
    );
    assert_eq!(names(&exec_lines(&s.exec_out)), want);
    let tg = texts(&recv, "/tg");
    assert_eq!(tg.len(), 4, "{tg:?}");
    assert!(tg[1].starts_with("SMS from 1234: first:"), "{tg:?}");
    assert!(tg[2].starts_with("SMS from 5678: second:"), "{tg:?}");
    // ntfy wants SMS only: the text as body, the level as priority/tags, its bearer token.
    assert_eq!(
        texts(&recv, "/ntfy"),
        [
            "SMS from 1234: first: your pack expires tomorrow",
            "SMS from 5678: second: PIN 4711"
        ]
    );
    let n = &recv.seen("/ntfy/")[0];
    assert_eq!(n.path, "/ntfy/flat-router");
    assert_eq!(n.header("title"), Some("simkeep: sms_received"));
    assert_eq!(n.header("priority"), Some("default"));
    assert_eq!(n.header("tags"), Some("information_source"));
    assert_eq!(
        n.header("authorization"),
        Some(format!("Bearer {NTFY_TOKEN}").as_str())
    );
    // min_level = "critical": nothing of this happened to be critical.
    assert!(recv.seen("/pager").is_empty());
    // Secrets never in the log, though errors and retries were logged.
    let log = format!("{log_a}\n{log_b}");
    assert!(log.contains("notification not delivered"), "{log}");
    for secret in [TG_TOKEN, HOOK_BEARER, NTFY_TOKEN, "AAH-secret_bot"] {
        assert!(
            !log.contains(secret),
            "secret {secret:?} in the log:\n{log}"
        );
    }
    // Every event is in the store's event history too.
    let conn = rusqlite::Connection::open(s.rig.dir.path().join("simkeep.db")).unwrap();
    let kinds: Vec<String> = conn
        .prepare("SELECT kind FROM events WHERE kind NOT LIKE '%.%' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        kinds,
        [
            "agent_started",
            "sms_received",
            "sms_received",
            "agent_started"
        ]
    );
    let left: i64 = conn
        .query_row("SELECT count(*) FROM notify_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

fn notify_test(cfg: &Path, name: Option<&str>) -> (bool, String) {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"));
    c.args(["notify", "test", "--config"]).arg(cfg);
    if let Some(n) = name {
        c.arg(n);
    }
    let o = c.output().unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), out)
}

#[test]
fn notify_test_says_what_each_channel_answered_without_the_token() {
    let (recv, addr) = Receiver::start();
    let s = setup(addr);
    recv.tg_unauthorized.store(true, Ordering::SeqCst);
    let (ok, out) = notify_test(&s.cfg, None);
    assert!(!ok, "{out}");
    assert!(
        out.contains("telegram-1 (telegram): FAILED, telegram answered 401: Unauthorized"),
        "{out}"
    );
    assert!(out.contains("webhook-1 (webhook): ok, 200"), "{out}");
    assert!(out.contains("phone (ntfy): ok, 200"), "{out}");
    assert!(out.contains("exec-1 (exec): ok, exit 0"), "{out}");
    assert!(out.contains("1 of 5 channel(s) failed"), "{out}");
    assert!(!out.contains(TG_TOKEN), "{out}");
    let hook = recv.delivered("/hook");
    let v: Value = serde_json::from_str(&hook[0]).unwrap();
    assert_eq!(v["event"], "test");
    // check-config knows which secrets the channels use; a missing one is named, with its user.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["check-config", "--config"])
        .arg(&s.cfg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(s.rig.dir.path().join("secrets.toml"), "tg = \"x\"\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["check-config", "--config"])
        .arg(&s.cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("hook (used by notify \"webhook-1\")"),
        "{err}"
    );
    std::fs::write(
        s.rig.dir.path().join("secrets.toml"),
        format!("tg = \"{TG_TOKEN}\"\nhook = \"{HOOK_BEARER}\"\nntfy = \"{NTFY_TOKEN}\"\n"),
    )
    .unwrap();
    // One channel by name.
    let (ok, out) = notify_test(&s.cfg, Some("phone"));
    assert!(ok, "{out}");
    assert_eq!(recv.delivered("/ntfy/").len(), 2);
    let (ok, out) = notify_test(&s.cfg, Some("nope"));
    assert!(
        !ok && out.contains("no [[notify]] channel named \"nope\""),
        "{out}"
    );
    // A receiver that is not there at all: the error names the address, not the token.
    let gone = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = std::fs::read_to_string(&s.cfg)
        .unwrap()
        .replace(&addr.to_string(), &gone.to_string());
    std::fs::write(&s.cfg, text).unwrap();
    let (ok, out) = notify_test(&s.cfg, Some("telegram-1"));
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("http://{gone}")) && !out.contains(TG_TOKEN),
        "{out}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_outbox_stays_bounded_keeps_critical_rows_and_defers_a_channel_whole() {
    use simkeep::store::{Event, OutboxEvent, StoreConfig, StoreHandle};
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::start(StoreConfig::new(dir.path().join("s.db"))).unwrap();
    let add = |i: i64, level: u8, ch: &[&str]| OutboxEvent {
        event: Event {
            t: i,
            kind: "test".into(),
            detail: format!("e{i}"),
        },
        level,
        payload: format!("{{\"n\":{i}}}"),
        channels: ch.iter().map(|c| c.to_string()).collect(),
        now: 100,
        max_rows: 10,
    };
    // 3 critical among 15 info rows: past 10 rows the oldest info rows go first.
    let mut dropped = 0;
    for i in 0..15 {
        let level = if i < 3 { 2 } else { 0 };
        dropped += store
            .outbox_enqueue(add(i, level, &["a"]))
            .await
            .unwrap()
            .dropped;
    }
    assert_eq!(dropped, 5);
    let rows = store.outbox_all(100).await.unwrap();
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter().filter(|r| r.level == 2).count() == 3,
        "{rows:?}"
    );
    // A failure defers every row of its channel, and a new row joins the wait.
    let first = rows[0].id;
    store
        .outbox_defer(first, "a", 500, "receiver down")
        .await
        .unwrap();
    assert!(store.outbox_due(499, 100).await.unwrap().is_empty());
    store.outbox_enqueue(add(99, 0, &["a", "b"])).await.unwrap();
    let due = store.outbox_due(120, 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].channel, "b");
    let all = store.outbox_all(100).await.unwrap();
    let head = all.iter().find(|r| r.id == first).unwrap();
    assert_eq!(
        (head.attempts, head.last_error.as_deref()),
        (1, Some("receiver down"))
    );
    assert_eq!(store.outbox_next_at().await.unwrap(), Some(100));
    store.outbox_delete(due[0].id).await.unwrap();
    assert_eq!(store.outbox_next_at().await.unwrap(), Some(500));
    store.shutdown().await.unwrap();
}

#[test]
fn an_sms_channel_texts_the_owner_through_the_modem_and_stops_at_max_per_day() {
    let rig = Rig::new(Personality::QuectelEc25);
    let dir = rig.dir.path().to_path_buf();
    let listen = TcpListener::bind("127.0.0.1:0")
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

[[notify]]
kind = "sms"
to = "+819011112222"
max_per_day = 1
events = ["agent_started"]
"#,
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = dir.join("simkeep.db").display(),
    );
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, text).unwrap();
    let cmgs = |rig: &Rig| {
        rig.sim
            .commands_seen()
            .iter()
            .filter(|l| l.starts_with("AT+CMGS="))
            .count()
    };
    let agent = Agent::start(&cfg, &["-v".to_string()]);
    wait(
        Duration::from_secs(30),
        "the SMS to the owner",
        || cmgs(&rig) == 1,
        || agent.log(),
    );
    rig.sim
        .set(
            "check_received",
            &format!("simkeep {} started", env!("CARGO_PKG_VERSION")),
        )
        .unwrap();
    let log_a = agent.stop();
    // The next start's message is over the day's budget: logged and dropped, not sent.
    let agent = Agent::start(&cfg, &[]);
    wait(
        Duration::from_secs(30),
        "the cap in the log",
        || agent.log().contains("max_per_day = 1"),
        || agent.log(),
    );
    let log_b = agent.stop();
    assert_eq!(cmgs(&rig), 1, "{log_a}\n{log_b}");
    let conn = rusqlite::Connection::open(dir.join("simkeep.db")).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM notify_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "a capped SMS is dropped, not retried forever");
}

#[test]
fn https_channels_verify_the_server_against_ca_file() {
    use support::tls_api::{TlsApi, TlsApiOptions};
    let api = TlsApi::start(TlsApiOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[[notify]]
name = "right-ca"
kind = "webhook"
url = "{url}/v1/hook"
ca_file = "{ca}"

[[notify]]
name = "wrong-ca"
kind = "webhook"
url = "{url}/v1/hook"
ca_file = "{other}"
"#,
            url = api.url,
            ca = api.ca_pem_path.display(),
            other = api.other_ca_pem_path.display(),
        ),
    )
    .unwrap();
    // The test API wants a bearer it issued: a 401, over a verified TLS connection.
    let (ok, out) = notify_test(&cfg, Some("right-ca"));
    assert!(!ok && out.contains("webhook answered 401"), "{out}");
    let seen = api.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/v1/hook")
    );
    assert!(
        seen[0].body.contains("\"event\":\"test\""),
        "{}",
        seen[0].body
    );
    // Another CA: refused at the handshake, before a byte of the event left.
    let (ok, out) = notify_test(&cfg, Some("wrong-ca"));
    assert!(!ok && out.contains("tls handshake"), "{out}");
    assert_eq!(api.requests().len(), 1);
}

#[test]
fn config_show_hides_literal_channel_credentials_and_config_set_refuses_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[secrets]\npath = \"/nonexistent/secrets.toml\"\n\
         [[notify]]\nkind = \"telegram\"\ntoken = \"123:LITERALTOKEN\"\nchat_id = 5\n\
         [[notify]]\nkind = \"webhook\"\nurl = \"https://x.example/\"\n\
         headers = { Authorization = \"Bearer LITERALBEARER\", X-Key = \"${secret:k}\" }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"))
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.success(), text)
    };
    let (ok, out) = run(&["config", "show"]);
    assert!(ok, "{out}");
    assert!(!out.contains("LITERAL"), "{out}");
    assert!(out.contains("${secret:k}"), "{out}");
    let (ok, out) = run(&["config", "set", "notify.url", "https://y/"]);
    assert!(!ok && out.contains("notify is a list"), "{out}");
}

/// A modem, and a config whose one webhook channel at `addr` wants `signal_weak` (raised below
/// -100 dBm); returns the rig, the config file and the database path.
fn signal_weak_to_webhook(addr: SocketAddr) -> (Rig, PathBuf, PathBuf) {
    let rig = Rig::new(Personality::QuectelEc25);
    let dir = rig.dir.path().to_path_buf();
    let listen = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let db = dir.join("simkeep.db");
    let text = format!(
        r#"[modem]
port = "{port}"
poll_interval = "1s"
lock_dir = "{lock}"
[store]
path = "{db}"
[http]
listen = "{listen}"
[alerts]
rsrp_below = -100

[[notify]]
kind = "webhook"
url = "http://{addr}/hook"
events = ["signal_weak"]
"#,
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = db.display(),
    );
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, text).unwrap();
    (rig, cfg, db)
}

/// A receiver, the modem's signal weak and an agent that has delivered `signal_weak` raised to
/// the receiver; returns them with the config file and the database path.
fn signal_weak_raised() -> (Receiver, Rig, PathBuf, PathBuf, Agent) {
    let (recv, addr) = Receiver::start();
    let (rig, cfg, db) = signal_weak_to_webhook(addr);
    rig.sim.set("rsrp", "-115").unwrap();
    let agent = Agent::start(&cfg, &[]);
    wait(
        Duration::from_secs(30),
        "signal_weak raised",
        || !recv.delivered("/hook").is_empty(),
        || agent.log(),
    );
    (recv, rig, cfg, db, agent)
}

#[test]
fn an_attention_code_filter_gets_the_raised_and_cleared_events() {
    let (recv, rig, _cfg, _db, agent) = signal_weak_raised();
    rig.sim.set("rsrp", "-80").unwrap();
    wait(
        Duration::from_secs(30),
        "signal_weak cleared",
        || recv.delivered("/hook").len() >= 2,
        || agent.log(),
    );
    let log = agent.stop();
    let got: Vec<Value> = recv
        .delivered("/hook")
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(got.len(), 2, "{got:?}\n{log}");
    assert_eq!(
        (got[0]["event"].as_str(), got[0]["code"].as_str()),
        (Some("attention_raised"), Some("signal_weak"))
    );
    assert_eq!(got[0]["level"], "warning");
    assert_eq!(
        (got[1]["event"].as_str(), got[1]["code"].as_str()),
        (Some("attention_cleared"), Some("signal_weak"))
    );
}

/// Issue 13 §8: state changes (here an attention item) are not written to the store one synced
/// commit each; their deliveries are held in memory and retried there, and what is still owed
/// when the agent stops is kept in the outbox and delivered after the restart.
#[test]
fn state_change_notifications_are_retried_from_memory_and_kept_across_a_stop() {
    let (recv, rig, cfg, db, agent) = signal_weak_raised();
    // The receiver goes down before the item clears: that delivery fails and is retried.
    recv.down.store(true, Ordering::SeqCst);
    rig.sim.set("rsrp", "-80").unwrap();
    wait(
        Duration::from_secs(30),
        "two refused attempts to deliver the clearing",
        || {
            recv.seen("/hook")
                .iter()
                .filter(|x| x.status == 503 && x.body.contains("attention_cleared"))
                .count()
                >= 2
        },
        || agent.log(),
    );
    let log_a = agent.stop();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let owed: Vec<String> = conn
            .prepare("SELECT payload FROM notify_outbox")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(owed.len(), 1, "{owed:?}\n{log_a}");
        assert!(owed[0].contains("attention_cleared"), "{owed:?}");
        let kinds: Vec<String> = conn
            .prepare("SELECT kind FROM events WHERE kind LIKE 'attention%' ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(kinds, ["attention_raised", "attention_cleared"], "{log_a}");
    }
    recv.down.store(false, Ordering::SeqCst);
    let agent = Agent::start(&cfg, &[]);
    wait(
        Duration::from_secs(30),
        "the clearing delivered after the restart",
        || recv.delivered("/hook").len() >= 2,
        || agent.log(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let log_b = agent.stop();
    let got: Vec<Value> = recv
        .delivered("/hook")
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let names: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["attention_raised", "attention_cleared"],
        "{log_a}\n{log_b}"
    );
}
