//! Golden transcripts: real modem output (tests/transcripts/<vendor>/*.at) replayed byte for
//! byte on a pty by a scripted peer, read through the real engine and driver; the modem model
//! must hold the values the transcript's `=` lines state.

mod support;

use std::time::Duration;

use serde_json::Value;
use simkeep::at::{self, EngineConfig};
use simkeep::modem::driver::Driver;
use support::scripted;

fn lookup<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

async fn replay(file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(file);
    let t = scripted::load(&path);
    let expect = t.expect.clone();
    assert!(!expect.is_empty(), "{file} states no expectations");
    let port = scripted::serve(t);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EngineConfig::new(port);
    cfg.lock_dir = Some(dir.path().to_path_buf());
    let (client, _task) = at::spawn(cfg);
    client
        .wait_connected(Duration::from_secs(10))
        .await
        .expect("connects");
    let mut driver = Driver::new(client, None, None);
    let (snap, _) = driver
        .snapshot(0)
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let json = serde_json::to_value(&snap).unwrap();
    for (key, want) in expect {
        let want: Value =
            serde_json::from_str(&want).unwrap_or_else(|e| panic!("{file}: {key} = {want}: {e}"));
        assert_eq!(lookup(&json, &key), &want, "{file}: {key}\n{json}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn quectel_rm500q_on_5g_nsa() {
    replay("quectel/rm500q-nsa.at").await;
}

#[tokio::test(flavor = "current_thread")]
async fn huawei_e3372_with_urc_noise_inside_responses() {
    replay("huawei/e3372-lte.at").await;
}

#[tokio::test(flavor = "current_thread")]
async fn simcom_sim7600_with_double_carriage_returns() {
    replay("simcom/sim7600-lte.at").await;
}
