//! `simkeep run` as a child process, for tests that kill it, restart it, or read its log: its
//! stderr is collected line by line (and streamed on `lines` as it is written).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Agent {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    pub lines: Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Agent {
    /// `simkeep run --config CFG` plus `extra` arguments (e.g. `-v`).
    pub fn start(cfg: &Path, extra: &[String]) -> Agent {
        // SIMKEEP_BIN runs another build (e.g. the release binary, for memory figures).
        let bin = std::env::var_os("SIMKEEP_BIN").map_or_else(
            || env!("CARGO_BIN_EXE_simkeep").into(),
            std::path::PathBuf::from,
        );
        let mut child = Command::new(bin)
            .args(["run", "--config"])
            .arg(cfg)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("simkeep run starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Agent {
            child,
            log,
            lines,
            reader: Some(reader),
        }
    }

    /// The child's process id (for /proc readings such as its resident memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in kB (VmRSS from /proc).
    pub fn rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL (no cleanup of any kind), then reaped: a zombie would still own the port lock.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_reader();
    }

    /// SIGTERM; the agent must exit on its own within 30 s. Returns its whole log.
    pub fn stop(mut self) -> String {
        self.terminate()
    }

    /// [`Agent::stop`] in place, for a test that starts another agent in its stead.
    pub fn terminate(&mut self) -> String {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the agent did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.join_reader();
        self.log()
    }

    fn join_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback address nothing listens on yet, for the agent's `http.listen`.
pub fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr")
}

/// One HTTP/1.1 GET to the agent's API, its JSON body; `None` while it does not answer.
pub fn api_get(addr: SocketAddr, path: &str) -> Option<serde_json::Value> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

/// The last successful poll's time as the API says it (an RFC 3339 string; a number in older
/// builds, which `SIMKEEP_BIN` may name: only its changes matter); `None` while there is none.
pub fn taken_at(addr: SocketAddr) -> Option<String> {
    match &api_get(addr, "/api/v1/status")?["last_poll"]["taken_at"] {
        serde_json::Value::Null => None,
        v => Some(v.to_string()),
    }
}
