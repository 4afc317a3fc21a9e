//! Helpers shared by the integration tests: a simulated modem on a pty behind a symlink in a
//! temp dir, and an engine talking to it through the real serial path.
#![allow(dead_code)]

pub mod scripted;

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
