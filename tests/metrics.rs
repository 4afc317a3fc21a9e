//! `/metrics` from an agent polling the simulator, checked by Prometheus's own parser (Python
//! `prometheus_client`, the reference client library) rather than by our reading of the
//! format: every family parses, names and types follow the conventions, and a counter grows.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use simkeep::config::Config;
use simkeep::sim::Personality;
use support::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Parses exposition text with `prometheus_client.parser` and returns the families as JSON:
/// `{name: {"type", "help", "samples": [[name, {labels}, value]]}}`. A parse error fails.
const PARSER: &str = r#"
import json, sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("prometheus_client is missing: python3 -m pip install prometheus_client")
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    if f.name in out:
        sys.exit("family %s appears twice" % f.name)
    out[f.name] = {"type": f.type, "help": f.documentation,
                   "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
"#;

fn parse(text: &str) -> BTreeMap<String, Value> {
    let mut child = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (apt-get install python3)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "Prometheus's parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("parser output is JSON")
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// The single value of a family's sample called `sample`.
fn value(m: &BTreeMap<String, Value>, family: &str, sample: &str) -> Option<f64> {
    m.get(family)?["samples"]
        .as_array()?
        .iter()
        .find(|s| s[0] == sample)
        .and_then(|s| s[2].as_f64())
}

#[tokio::test(flavor = "current_thread")]
async fn prometheus_parses_the_metrics_and_sees_the_poll_counter_grow() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("band", "3").unwrap();
    let text = format!(
        "[modem]\nport = \"{}\"\npoll_interval = \"1s\"\nlock_dir = \"{}\"\n[store]\npath = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
        rig.link().display(),
        rig.lock_dir().display(),
        rig.dir.path().join("simkeep.db").display()
    );
    let cfg = Config::parse(&text, &rig.dir.path().join("config.toml")).unwrap();
    let agent = support::run_agent(cfg).await;
    let addr = agent.addr;

    // Wait for the first poll to be published.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let first = loop {
        let m = parse(&get(addr, "/metrics").await);
        if value(&m, "simkeep_up", "simkeep_up") == Some(1.0) {
            break m;
        }
        assert!(tokio::time::Instant::now() < deadline, "never up: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Conventions: counters end in _total (the parser strips it from the family name), each
    // family has its own HELP, band is a label of the info metric, never a gauge.
    let mut helps: Vec<&str> = Vec::new();
    for (name, f) in &first {
        assert!(name.starts_with("simkeep_"), "{name}");
        let help = f["help"].as_str().unwrap_or("");
        assert!(!help.is_empty(), "{name} has no HELP");
        assert!(!helps.contains(&help), "{name} repeats a HELP text: {help}");
        helps.push(help);
        if f["type"] == "counter" {
            for s in f["samples"].as_array().unwrap() {
                let sample = s[0].as_str().unwrap();
                assert!(
                    sample.ends_with("_total") || sample.ends_with("_created"),
                    "{sample}"
                );
            }
        }
    }
    for counter in [
        "simkeep_polls",
        "simkeep_poll_failures",
        "simkeep_reconnects",
        "simkeep_at_timeouts",
        "simkeep_sms_received",
        "simkeep_sms_sent",
        "simkeep_ussd_sessions",
    ] {
        assert_eq!(first[counter]["type"], "counter", "{counter}: {first:?}");
    }
    assert!(!first.contains_key("simkeep_signal_band"));
    let info = &first["simkeep_modem_info"]["samples"][0];
    assert_eq!(info[1]["band"], "3", "{info}");
    assert_eq!(info[1]["operator"], "NTT DOCOMO", "{info}");
    assert_eq!(info[1]["tech"], "LTE", "{info}");
    assert_eq!(info[2], 1.0);
    assert!(value(&first, "simkeep_signal_rsrp_dbm", "simkeep_signal_rsrp_dbm").is_some());
    assert!(
        value(
            &first,
            "simkeep_reading_age_seconds",
            "simkeep_reading_age_seconds"
        )
        .is_some_and(|a| (0.0..5.0).contains(&a)),
        "{first:?}"
    );

    // A counter is seen to increase.
    let polls = |m: &BTreeMap<String, Value>| value(m, "simkeep_polls", "simkeep_polls_total");
    let before = polls(&first).expect("polls counter");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let m = parse(&get(addr, "/metrics").await);
        let now = polls(&m).expect("polls counter");
        assert!(now >= before, "a counter never goes down: {before} → {now}");
        if now >= before + 2.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "polls stuck at {now}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    agent.stop().await;
}
