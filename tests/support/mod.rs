//! Helpers shared by the integration tests: a simulated modem on a pty behind a symlink in a
//! temp dir, and an engine talking to it through the real serial path.
#![allow(dead_code)]

pub mod child;
pub mod flows;
pub mod scripted;
pub mod tls_api;
pub mod tmpfs;

use std::path::PathBuf;
use std::time::Duration;

use simkeep::at::{self, AtClient, EngineConfig};
use simkeep::sim::{self, Personality, SimHandle, SimOptions};

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
}

impl Rig {
    pub fn new(personality: Personality) -> Rig {
        Self::with(SimOptions::new(personality))
    }

    pub fn with(mut opts: SimOptions) -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        opts.link = Some(dir.path().join("modem"));
        let sim = sim::start(opts).expect("start simulator");
        Rig { dir, sim }
    }

    pub fn link(&self) -> PathBuf {
        self.dir.path().join("modem")
    }

    pub fn lock_dir(&self) -> PathBuf {
        self.dir.path().join("lock")
    }

    pub fn engine_config(&self) -> EngineConfig {
        let mut cfg = EngineConfig::new(self.link());
        cfg.lock_dir = Some(self.lock_dir());
        cfg.max_backoff = Duration::from_millis(200);
        cfg
    }

    /// Starts an engine and waits until it has initialised the modem.
    pub async fn engine(&self) -> AtClient {
        let (client, _task) = at::spawn(self.engine_config());
        client
            .wait_connected(Duration::from_secs(10))
            .await
            .expect("engine connects to the simulator");
        client
    }
}

/// Polls `f` until it returns true or `limit` passes (tests wait on events, not fixed sleeps).
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// The agent running in this test's runtime, with its HTTP port bound.
pub struct RunningAgent {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), simkeep::error::AppError>>,
}

/// Starts the agent (`http.listen` must be set) and runs it until [`RunningAgent::stop`].
pub async fn run_agent(cfg: simkeep::config::Config) -> RunningAgent {
    let agent = simkeep::agent::start(cfg).await.expect("agent starts");
    let addr = agent.http_addr().expect("http bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(agent.run_until(async move {
        let _ = stopped.await;
    }));
    RunningAgent { addr, stop, task }
}

impl RunningAgent {
    /// Asks for a clean shutdown and checks it happens (store flushed, port released).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let res = tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("clean shutdown");
        res.expect("agent task").expect("agent ends without error");
    }
}

/// Radio values every vendor format can carry exactly (odd RSSI for CSQ's 2 dB steps, whole
/// dB), so a personality's answer parsed back must give them unchanged.
pub const EXACT_RADIO: &[(&str, &str)] = &[
    ("imei", "490154203237518"),
    ("iccid", "8981200012345678901"),
    ("imsi", "440201234567890"),
    ("msisdn", "+818012345678"),
    ("operator", "SoftBank"),
    ("mcc", "440"),
    ("mnc", "20"),
    ("tac", "0x5A5A"),
    ("cell_id", "0x2B3C4D5"),
    ("rssi", "-71"),
    ("rsrp", "-101"),
    ("rsrq", "-12"),
    ("sinr", "14"),
    ("band", "1"),
    ("earfcn", "300"),
    ("pci", "77"),
    ("nr_rsrp", "-90"),
    ("nr_rsrq", "-11"),
    ("nr_sinr", "20"),
    ("nr_band", "78"),
    ("nr_arfcn", "640000"),
];
