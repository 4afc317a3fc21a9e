//! MQTT and Home Assistant discovery against a real broker: each test starts its own Debian
//! `mosquitto` on a free loopback port and watches with the real `mosquitto_sub`, while the
//! real `simkeep run` runs as a child process against the simulator kept in this process.
//!
//! What must hold: discovery payloads are JSON with the keys, device classes and units HA
//! needs; the state follows the simulator's signal; `offline` appears when the agent is
//! SIGKILLed (the broker publishes the will); events recorded while the broker was away arrive,
//! in order, once it is back; commands are refused when `allow_commands` is false and reach
//! the agent when it is true.
//!
//! Without mosquitto the tests print "skipped" — unless SIMKEEP_MQTT_TESTS=1 (CI), where
//! they fail saying what to install.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use simkeep::sim::Personality;
use support::child::Agent;
use support::Rig;

/// The simulator's default IMEI (src/sim/radio.rs): the device id and topic prefix.
const IMEI: &str = "356938035643809";
const PREFIX: &str = "simkeep/356938035643809";

fn have_mosquitto() -> bool {
    let found = ["mosquitto", "mosquitto_sub", "mosquitto_pub"]
        .iter()
        .all(|b| {
            ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(b).exists())
        });
    if !found {
        assert!(
            std::env::var("SIMKEEP_MQTT_TESTS").as_deref() != Ok("1"),
            "SIMKEEP_MQTT_TESTS=1 but mosquitto is missing: apt-get install mosquitto mosquitto-clients"
        );
        eprintln!("skipped: mosquitto not installed (apt-get install mosquitto mosquitto-clients)");
    }
    found
}

fn mosquitto_bin() -> PathBuf {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .unwrap_or_else(|| "mosquitto".into())
}

/// A mosquitto of our own on 127.0.0.1:`port`.
struct Broker {
    child: Child,
    port: u16,
    conf: PathBuf,
}

impl Broker {
    fn start(dir: &Path) -> Broker {
        Self::start_on(dir, free_port(), "allow_anonymous true\n")
    }

    /// `auth` is the rest of the listener's configuration (TLS files, password file).
    fn start_on(dir: &Path, port: u16, auth: &str) -> Broker {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\npersistence false\n{auth}"),
        )
        .unwrap();
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker { child, port, conf }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.conf);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mosquitto_sub -t '#' -v`: every (topic, payload) seen, retained ones included.
struct Sub {
    child: Child,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Sub {
    fn start(port: u16) -> Sub {
        Self::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> Sub {
        let mut child = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "#",
                "-v",
                "-q",
                "1",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub starts");
        let out = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let (t, p) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                sink.lock().unwrap().push((t.to_string(), p.to_string()));
            }
        });
        Sub { child, seen }
    }

    fn all(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }

    /// The payloads seen on `topic`, oldest first.
    fn on(&self, topic: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, p)| p)
            .collect()
    }

    fn last_json(&self, topic: &str) -> Value {
        self.on(topic)
            .last()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null)
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn publish(port: u16, topic: &str, payload: &str) {
    let ok = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-m",
            payload,
        ])
        .status()
        .expect("mosquitto_pub runs")
        .success();
    assert!(ok, "mosquitto_pub to {topic}");
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

fn config(rig: &Rig, port: u16, allow_commands: bool, extra: &str) -> PathBuf {
    let text = format!(
        r#"[modem]
port = "{modem}"
poll_interval = "1s"
lock_dir = "{lock}"
[store]
path = "{db}"
[http]
listen = "{listen}"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
interval = "5s"
allow_commands = {allow_commands}
{extra}
"#,
        modem = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = rig.dir.path().join("simkeep.db").display(),
        listen = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap(),
    );
    let cfg = rig.dir.path().join("config.toml");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn config_of(sub: &Sub, component: &str, key: &str) -> Value {
    sub.last_json(&format!(
        "homeassistant/{component}/simkeep_{IMEI}_{key}/config"
    ))
}

#[test]
fn home_assistant_discovers_the_device_sees_the_signal_change_and_the_will_says_offline() {
    if !have_mosquitto() {
        return;
    }
    let rig = Rig::new(Personality::QuectelEc25);
    let broker = Broker::start(rig.dir.path());
    let sub = Sub::start(broker.port);
    let cfg = config(&rig, broker.port, false, "");
    let mut agent = Agent::start(&cfg, &["-v".to_string()]);
    let availability = format!("{PREFIX}/availability");
    let state = format!("{PREFIX}/state");
    wait(
        Duration::from_secs(30),
        "online and a state with RSRP",
        || {
            sub.on(&availability).last().map(String::as_str) == Some("online")
                && sub.last_json(&state)["rsrp_dbm"].is_number()
        },
        || agent.log(),
    );

    // Discovery: every config is JSON with what HA needs.
    let configs: Vec<(String, Value)> = sub
        .all()
        .into_iter()
        // mosquitto_sub prints an empty (removing) payload as "(null)".
        .filter(|(t, p)| t.starts_with("homeassistant/") && t.ends_with("/config") && p != "(null)")
        .map(|(t, p)| {
            let v: Value = serde_json::from_str(&p).unwrap_or_else(|e| panic!("{t}: {e}: {p}"));
            (t, v)
        })
        .collect();
    assert!(configs.len() >= 12, "{configs:?}");
    for (t, v) in &configs {
        for key in ["name", "unique_id", "availability_topic", "device"] {
            assert!(!v[key].is_null(), "{t} lacks {key}: {v}");
        }
        assert_eq!(v["availability_topic"], availability, "{t}");
        assert_eq!(
            v["device"]["identifiers"][0],
            format!("simkeep_{IMEI}"),
            "{t}"
        );
        assert_eq!(v["device"]["serial_number"], IMEI, "{t}");
        assert!(v["device"]["sw_version"]
            .as_str()
            .unwrap()
            .starts_with("simkeep "));
        assert!(v["device"]["model"].is_string(), "{t}: model from AT+CGMM");
        assert!(
            !t.starts_with("homeassistant/button/"),
            "commands are off: {t}"
        );
    }
    for (key, unit) in [
        ("rsrp_dbm", "dBm"),
        ("rsrq_db", "dB"),
        ("sinr_db", "dB"),
        ("rssi_dbm", "dBm"),
    ] {
        let c = config_of(&sub, "sensor", key);
        assert_eq!(c["device_class"], "signal_strength", "{key}: {c}");
        assert_eq!(c["unit_of_measurement"], unit, "{key}");
        assert_eq!(c["state_class"], "measurement", "{key}");
        assert_eq!(c["state_topic"], state);
        assert_eq!(c["value_template"], format!("{{{{ value_json.{key} }}}}"));
    }
    let used = config_of(&sub, "sensor", "used_bytes");
    assert_eq!(
        (used["device_class"].as_str(), used["state_class"].as_str()),
        (Some("data_size"), Some("total_increasing"))
    );
    let left = config_of(&sub, "sensor", "remaining_bytes");
    assert_eq!(
        (
            left["device_class"].as_str(),
            left["state_class"].as_str(),
            left["unit_of_measurement"].as_str()
        ),
        (Some("data_size"), Some("measurement"), Some("B"))
    );
    assert_eq!(
        config_of(&sub, "sensor", "runs_out_at")["device_class"],
        "timestamp"
    );
    assert_eq!(
        config_of(&sub, "binary_sensor", "modem")["device_class"],
        "connectivity"
    );

    // The state follows the modem.
    let before = sub.on(&state).len();
    rig.sim.set("rsrp", "-101").unwrap();
    wait(
        Duration::from_secs(20),
        "the state with RSRP -101",
        || sub.last_json(&state)["rsrp_dbm"] == -101.0,
        || agent.log(),
    );
    assert!(sub.on(&state).len() > before);
    assert_eq!(sub.last_json(&state)["modem"], "ON");

    // HA restarting asks for the configs again.
    let n = sub
        .on(&format!(
            "homeassistant/sensor/simkeep_{IMEI}_rsrp_dbm/config"
        ))
        .len();
    publish(broker.port, "homeassistant/status", "online");
    wait(
        Duration::from_secs(10),
        "discovery again after homeassistant/status online",
        || {
            sub.on(&format!(
                "homeassistant/sensor/simkeep_{IMEI}_rsrp_dbm/config"
            ))
            .len()
                > n
        },
        || agent.log(),
    );

    // Commands are refused while allow_commands is false, with a reply that says so.
    publish(
        broker.port,
        &format!("{PREFIX}/command/topup_now"),
        r#"{"id":"r1"}"#,
    );
    wait(
        Duration::from_secs(10),
        "the refusal on reply/r1",
        || !sub.last_json(&format!("{PREFIX}/reply/r1")).is_null(),
        || agent.log(),
    );
    let r = sub.last_json(&format!("{PREFIX}/reply/r1"));
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("allow_commands"),
        "{r}"
    );

    // SIGKILL: no goodbye from the agent; the broker publishes the will.
    agent.kill();
    wait(
        Duration::from_secs(10),
        "offline after SIGKILL",
        || sub.on(&availability).last().map(String::as_str) == Some("offline"),
        || agent.log(),
    );
}

#[test]
fn events_recorded_while_the_broker_is_away_arrive_in_order_when_it_returns() {
    if !have_mosquitto() {
        return;
    }
    let rig = Rig::new(Personality::QuectelEc25);
    let dir = rig.dir.path().to_path_buf();
    let mut broker = Broker::start(&dir);
    let port = broker.port;
    let sub = Sub::start(port);
    let cfg = config(&rig, port, false, "");
    let mut agent = Agent::start(&cfg, &["-v".to_string()]);
    let started = format!("{PREFIX}/event/agent_started");
    wait(
        Duration::from_secs(30),
        "the first agent_started event",
        || !sub.on(&started).is_empty(),
        || agent.log(),
    );
    let first: Value = serde_json::from_str(&sub.on(&started)[0]).unwrap();
    assert_eq!(first["event"], "agent_started");
    assert!(first["text"].as_str().unwrap().contains("started"));

    // The cursor (the last acknowledged event) goes to the store before anything goes away.
    // The agent holds the database exclusively, so its log says when; the store thread
    // commits a moment later (one local write), hence the short margin.
    wait(
        Duration::from_secs(10),
        "the acknowledged cursor",
        || {
            agent
                .log()
                .contains("mqtt: the broker has every event up to")
        },
        || agent.log(),
    );
    std::thread::sleep(Duration::from_millis(500));

    // The broker goes away; meanwhile the agent is killed and started twice (two more
    // agent_started events, recorded while nobody can publish them: the failed connect comes
    // after the first poll, long after the start event was recorded).
    broker.stop();
    drop(sub);
    agent.kill();
    for n in [2, 3] {
        agent = Agent::start(&cfg, &["-v".to_string()]);
        wait(
            Duration::from_secs(30),
            "the agent to find the broker away",
            || agent.log().contains("cannot reach the MQTT broker"),
            || agent.log(),
        );
        if n == 2 {
            agent.kill();
        }
    }

    // Back: everything recorded meanwhile arrives, in the order it happened.
    let _broker = Broker::start_on(&dir, port, "allow_anonymous true\n");
    let sub = Sub::start(port);
    wait(
        Duration::from_secs(90),
        "the queued events after the broker returned",
        || sub.on(&started).len() >= 2,
        || agent.log(),
    );
    let events: Vec<Value> = sub
        .all()
        .into_iter()
        .filter(|(t, _)| t.starts_with(&format!("{PREFIX}/event/")))
        .map(|(_, p)| serde_json::from_str(&p).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["agent_started", "agent_started"], "{events:?}");
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in store order: {ids:?}"
    );
    assert!(
        ids.iter().all(|&i| i > first["id"].as_i64().unwrap()),
        "the event acknowledged before the outage is not sent again: {ids:?}"
    );
    agent.kill();
}

#[test]
fn commands_reach_the_agent_when_allowed_and_the_button_and_switch_are_announced() {
    if !have_mosquitto() {
        return;
    }
    let rig = Rig::new(Personality::QuectelEc25);
    let broker = Broker::start(rig.dir.path());
    let sub = Sub::start(broker.port);
    let topup = format!(
        "[topup]\nenabled = true\ndry_run = true\nthreshold = \"300MB\"\nmax_per_cycle = 2\ncooldown = \"1h\"\ntrust_clock = true\n[usage]\nquota = \"1GB\"\ntimezone = \"UTC\"\n{}",
        support::flows::with_verify(support::flows::USSD_FLOW, "20s")
    );
    let cfg = config(&rig, broker.port, true, &topup);
    let agent = Agent::start(&cfg, &["-v".to_string()]);
    wait(
        Duration::from_secs(30),
        "the button config and a state",
        || {
            !config_of(&sub, "button", "topup_now").is_null()
                && !sub.last_json(&format!("{PREFIX}/state")).is_null()
        },
        || agent.log(),
    );
    let button = config_of(&sub, "button", "topup_now");
    assert_eq!(
        button["command_topic"],
        format!("{PREFIX}/command/topup_now")
    );
    let switch = config_of(&sub, "switch", "auto_topup");
    assert_eq!(
        switch["command_topic"],
        format!("{PREFIX}/command/auto_topup")
    );
    assert_eq!(switch["state_topic"], format!("{PREFIX}/state"));
    // Wait for a poll, so the agent can decide.
    wait(
        Duration::from_secs(30),
        "a polled state",
        || sub.last_json(&format!("{PREFIX}/state"))["rsrp_dbm"].is_number(),
        || agent.log(),
    );

    // The API's body, validated the same way: an unknown field is refused before the agent.
    publish(
        broker.port,
        &format!("{PREFIX}/command/topup_now"),
        r#"{"id":"bad","amount":5}"#,
    );
    // A dry run through the agent's own policy.
    publish(
        broker.port,
        &format!("{PREFIX}/command/topup_now"),
        r#"{"id":"t1","flow":"vodacom-monthly","dry_run":true}"#,
    );
    publish(broker.port, &format!("{PREFIX}/command/auto_topup"), "OFF");
    let reply = |id: &str| sub.last_json(&format!("{PREFIX}/reply/{id}"));
    wait(
        Duration::from_secs(20),
        "replies to both commands",
        || !reply("bad").is_null() && !reply("t1").is_null(),
        || agent.log(),
    );
    let bad = reply("bad");
    assert_eq!(bad["ok"], false);
    assert!(bad["error"].as_str().unwrap().contains("PRESS"), "{bad}");
    let t1 = reply("t1");
    let said = t1["result"].as_str().or(t1["error"].as_str()).unwrap_or("");
    assert!(!said.contains("allow_commands"), "the agent answered: {t1}");
    assert_eq!(
        t1["ok"],
        true,
        "a dry run is decided: {t1}\n{}",
        agent.log()
    );
    // The switch off pauses automatic top-ups (as `simkeep topup pause`), and the state says so.
    wait(
        Duration::from_secs(10),
        "the reply to OFF",
        || {
            sub.all().iter().any(|(t, p)| {
                t.starts_with(&format!("{PREFIX}/reply/")) && p.contains("switched off")
            })
        },
        || agent.log(),
    );
    wait(
        Duration::from_secs(20),
        "auto_topup OFF in the state",
        || sub.last_json(&format!("{PREFIX}/state"))["auto_topup"] == "OFF",
        || agent.log(),
    );
    publish(broker.port, &format!("{PREFIX}/command/auto_topup"), "ON");
    wait(
        Duration::from_secs(20),
        "auto_topup ON again in the state",
        || sub.last_json(&format!("{PREFIX}/state"))["auto_topup"] == "ON",
        || agent.log(),
    );
    let log = agent.stop();
    assert!(log.contains("mqtt: command received"), "{log}");
}

#[test]
fn mqtts_with_a_password_from_the_secrets_file_connects_and_never_logs_it() {
    if !have_mosquitto() {
        return;
    }
    const PASSWORD: &str = "mqtt-pa55-s3cret-value";
    let rig = Rig::new(Personality::QuectelEc25);
    let dir = rig.dir.path().to_path_buf();
    // A CA of the test's own and a broker certificate for 127.0.0.1.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "simkeep mqtt test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("broker.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("broker.key"), leaf_key.serialize_pem()).unwrap();
    let passwd = dir.join("passwd");
    let ok = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwd)
        .args(["router", PASSWORD])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "mosquitto_passwd");
    let auth = format!(
        "allow_anonymous false\npassword_file {}\ncertfile {}\nkeyfile {}\n",
        passwd.display(),
        dir.join("broker.pem").display(),
        dir.join("broker.key").display()
    );
    let port = free_port();
    let _broker = Broker::start_on(&dir, port, &auth);
    let sub = Sub::start_with(
        port,
        &[
            "--cafile",
            &dir.join("ca.pem").display().to_string(),
            "--insecure",
            "-u",
            "router",
            "-P",
            PASSWORD,
        ],
    );
    let secrets = dir.join("secrets.toml");
    let write_secrets = |pw: &str| {
        std::fs::write(
            &secrets,
            format!("mqtt_user = \"router\"\nmqtt_password = \"{pw}\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_secrets(PASSWORD);
    let tls = format!(
        "username = \"${{secret:mqtt_user}}\"\npassword = \"${{secret:mqtt_password}}\"\nca_file = \"{}\"\n[secrets]\npath = \"{}\"\n",
        dir.join("ca.pem").display(),
        secrets.display()
    );
    let cfg = config(&rig, port, false, &tls);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("mqtt://", "mqtts://");
    std::fs::write(&cfg, text).unwrap();
    let agent = Agent::start(&cfg, &["-v".to_string()]);
    wait(
        Duration::from_secs(30),
        "online over TLS",
        || {
            sub.on(&format!("{PREFIX}/availability"))
                .last()
                .map(String::as_str)
                == Some("online")
        },
        || agent.log(),
    );
    let log = agent.stop();
    assert!(!log.contains(PASSWORD), "{log}");
    assert_eq!(
        sub.on(&format!("{PREFIX}/availability"))
            .last()
            .map(String::as_str),
        Some("offline"),
        "a clean stop says offline itself"
    );

    // A wrong password: the broker's refusal in words, and still no password in the log.
    write_secrets("wrong-password-value");
    let agent = Agent::start(&cfg, &["-v".to_string()]);
    wait(
        Duration::from_secs(30),
        "the refusal in the log",
        || agent.log().contains("check the username and password"),
        || agent.log(),
    );
    let log = agent.stop();
    assert!(
        !log.contains("wrong-password-value") && !log.contains(PASSWORD),
        "{log}"
    );
}
