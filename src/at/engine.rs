//! The one task that owns the modem port.
//!
//! Callers hold an [`AtClient`] and send [`Command`]s through a bounded channel; the engine puts
//! exactly one command on the wire at a time, collects its lines until a final result code, and
//! sends unsolicited result codes to subscribers on a broadcast channel — including URCs that
//! arrive in the middle of a response. When the modem stops answering it probes with `AT`, then
//! closes and reopens the port; when the port vanishes (USB reset) it retries with backoff and
//! resumes on its own. State changes are logged once, not on every retry; lines caused by what
//! the modem sends (noise, late answers, restarts) go through `ratelimit`, so a flood of them
//! cannot flood the log.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{timeout_at, Instant};

use super::command::{final_to_result, AtError, Command, Response};
use super::digest::{Digested, Digester};
use super::lock::PortLock;
use super::port::{self, Port};
pub use super::urc::Urc;
use crate::limited;

/// After a restart sign the engine waits this long for the rest of the boot burst (`RDY`,
/// `+CFUN: 1`, `+CPIN: READY`, `SMS DONE` come within a second) and initialises once.
const RESTART_SETTLE: Duration = Duration::from_secs(1);
/// A modem that keeps printing restart signs (an `RDY` flood: 631 re-initialisations in one
/// soak, issue 13 §8) is still initialised at least this often, but no more often.
const RESTART_MAX_DEFER: Duration = Duration::from_secs(10);

/// How the engine reaches the modem.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub port: PathBuf,
    pub baud: u32,
    /// Where UUCP lock files live (`/var/lock`); `None` disables locking.
    pub lock_dir: Option<PathBuf>,
    /// Commands sent after every (re)connect and modem restart, after `ATE0` and `AT+CMEE=1`.
    pub init: Vec<String>,
    /// Send `ATE0` and `AT+CMEE=1` on connect. A one-shot `simkeep at` turns this off: it
    /// sends only the user's line (the framer skips echo) and shows the modem's own error form.
    pub setup: bool,
    /// Longest wait between reconnect attempts.
    pub max_backoff: Duration,
}

impl EngineConfig {
    pub fn new(port: impl Into<PathBuf>) -> Self {
        Self {
            port: port.into(),
            baud: 115_200,
            lock_dir: Some(PathBuf::from("/var/lock")),
            init: Vec::new(),
            setup: true,
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Whether the engine has a working modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    Down { cause: String },
}

struct Request {
    cmd: Command,
    reply: oneshot::Sender<Result<Response, AtError>>,
}

/// A handle to the engine. Cheap to clone; the engine stops when the last handle is dropped
/// (after finishing the command on the wire).
#[derive(Clone)]
pub struct AtClient {
    tx: mpsc::Sender<Request>,
    urcs: broadcast::Sender<Urc>,
    state: watch::Receiver<LinkState>,
    port: String,
}

impl AtClient {
    /// Sends one command and waits for its result.
    pub async fn send(&self, cmd: Command) -> Result<Response, AtError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { cmd, reply })
            .await
            .map_err(|_| AtError::EngineStopped)?;
        rx.await.map_err(|_| AtError::EngineStopped)?
    }

    /// Builds (and so validates) a command from a line and sends it.
    pub async fn run(&self, line: &str) -> Result<Response, AtError> {
        self.send(Command::new(line)?).await
    }

    /// Subscribes to unsolicited result codes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Urc> {
        self.urcs.subscribe()
    }

    pub fn link_state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// The configured port path, for messages.
    pub fn port(&self) -> &str {
        &self.port
    }

    /// For one-shot commands: waits for the first connection attempt to finish and fails
    /// with its cause instead of retrying (a CLI user wants the reason, not a retry loop).
    pub async fn connect_once(&self, limit: Duration) -> Result<(), AtError> {
        let mut st = self.state.clone();
        let res = tokio::time::timeout(limit, st.wait_for(|s| *s != LinkState::Connecting)).await;
        let state = match res {
            Ok(Ok(s)) => s.clone(),
            Ok(Err(_)) => return Err(AtError::EngineStopped),
            Err(_) => LinkState::Down {
                cause: format!("no answer from the modem within {}s", limit.as_secs()),
            },
        };
        match state {
            LinkState::Connected => Ok(()),
            LinkState::Down { cause } => Err(AtError::NotConnected {
                port: self.port.clone(),
                cause,
            }),
            LinkState::Connecting => Err(AtError::EngineStopped),
        }
    }

    /// Waits until the engine is connected, or `limit` passes.
    pub async fn wait_connected(&self, limit: Duration) -> Result<(), AtError> {
        let mut st = self.state.clone();
        let res = tokio::time::timeout(limit, st.wait_for(|s| *s == LinkState::Connected)).await;
        match res {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(AtError::EngineStopped),
            Err(_) => {
                let cause = match &*self.state.borrow() {
                    LinkState::Down { cause } => cause.clone(),
                    _ => "no answer from the modem yet".to_string(),
                };
                Err(AtError::NotConnected {
                    port: self.port.clone(),
                    cause,
                })
            }
        }
    }
}

/// Starts the engine task on the current runtime.
pub fn spawn(cfg: EngineConfig) -> (AtClient, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(16);
    let (urcs, _) = broadcast::channel(64);
    let (state_tx, state) = watch::channel(LinkState::Connecting);
    let port = cfg.port.display().to_string();
    let client = AtClient {
        tx,
        urcs: urcs.clone(),
        state,
        port,
    };
    let handle = tokio::spawn(run(cfg, rx, urcs, state_tx));
    (client, handle)
}

/// Why a connection ended.
enum Ended {
    /// Every client is gone: stop.
    ClientsGone,
    /// The port failed or the modem stopped answering: reconnect.
    Lost(String),
}

async fn run(
    cfg: EngineConfig,
    mut rx: mpsc::Receiver<Request>,
    urcs: broadcast::Sender<Urc>,
    state: watch::Sender<LinkState>,
) {
    let port_name = cfg.port.display().to_string();
    let mut backoff = Duration::from_millis(250);
    let mut last_cause: Option<String> = None;
    let mut attempts: u32 = 0;
    loop {
        let cause = match Connection::open(&cfg).await {
            Ok(mut conn) => match conn.initialise(&cfg, &urcs).await {
                Ok(()) => {
                    if attempts > 0 {
                        tracing::info!(port = %port_name, attempts, "modem is back");
                    } else {
                        tracing::info!(port = %port_name, "modem connected");
                    }
                    attempts = 0;
                    last_cause = None;
                    backoff = Duration::from_millis(250);
                    state.send_replace(LinkState::Connected);
                    match conn.serve(&cfg, &mut rx, &urcs, &state).await {
                        Ended::ClientsGone => return,
                        Ended::Lost(cause) => cause,
                    }
                }
                Err(cause) => cause,
            },
            Err(cause) => cause,
        };
        attempts = attempts.saturating_add(1);
        if last_cause.as_deref() != Some(cause.as_str()) {
            tracing::warn!(port = %port_name, "modem unavailable: {cause}; retrying");
            last_cause = Some(cause.clone());
        }
        state.send_replace(LinkState::Down {
            cause: cause.clone(),
        });
        // Wait out the backoff, failing requests fast instead of queueing them behind a dead port.
        let until = Instant::now() + backoff;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                req = rx.recv() => match req {
                    None => return,
                    Some(req) => {
                        let _ = req.reply.send(Err(AtError::NotConnected { port: port_name.clone(), cause: cause.clone() }));
                    }
                }
            }
        }
        backoff = (backoff * 2).min(cfg.max_backoff);
    }
}

/// An open port and what we have read from it. What the bytes mean is the digester's (pure,
/// tested chunk by chunk in `digest`); this keeps the port, the deadlines and the channels.
struct Connection {
    port: Port,
    _lock: Option<PortLock>,
    digest: Digester,
    name: String,
    /// Restart signs (`urc::Lifecycle::Boot`) were seen: initialise again at `init_at`.
    restart: Option<Restart>,
    noise_count: u64,
}

/// A pending re-initialisation after restart signs, debounced (see [`RESTART_SETTLE`]).
#[derive(Debug, Clone, Copy)]
struct Restart {
    first: Instant,
    init_at: Instant,
    signs: u32,
}

impl Restart {
    /// One more restart sign at `now`: wait for quiet, but not past `first + MAX_DEFER`.
    fn sign(prev: Option<Restart>, now: Instant) -> Restart {
        let first = prev.map_or(now, |r| r.first);
        Restart {
            first,
            init_at: (now + RESTART_SETTLE).min(first + RESTART_MAX_DEFER),
            signs: prev.map_or(1, |r| r.signs.saturating_add(1)),
        }
    }
}

impl Connection {
    async fn open(cfg: &EngineConfig) -> Result<Self, String> {
        let lock = match &cfg.lock_dir {
            Some(dir) => {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    return Err(format!(
                        "cannot create lock directory {}: {e}",
                        dir.display()
                    ));
                }
                Some(PortLock::acquire(dir, &cfg.port).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let port = port::open(&cfg.port, cfg.baud).map_err(|e| e.to_string())?;
        Ok(Self {
            port,
            _lock: lock,
            digest: Digester::new(),
            name: cfg.port.display().to_string(),
            restart: None,
            noise_count: 0,
        })
    }

    /// Echo off and numeric errors on, then the caller's init commands. Modems power up with echo
    /// on and turn it back on after a reset, so this runs after every connect and every `RDY`.
    async fn initialise(
        &mut self,
        cfg: &EngineConfig,
        urcs: &broadcast::Sender<Urc>,
    ) -> Result<(), String> {
        self.restart = None;
        let setup: &[&str] = if cfg.setup {
            &["ATE0", "AT+CMEE=1"]
        } else {
            &[]
        };
        for line in setup
            .iter()
            .map(|s| s.to_string())
            .chain(cfg.init.iter().cloned())
        {
            let Ok(cmd) = Command::new(line.clone()) else {
                continue;
            };
            match self.execute(&cmd, urcs).await {
                Ok(_) => {}
                Err(Exec::Modem(e)) if e.is_modem_refusal() => {
                    limited!(
                        debug,
                        "at.init_refused",
                        "{}: init command {line} refused: {e}",
                        self.name
                    );
                }
                Err(Exec::Modem(e)) => return Err(e.to_string()),
                Err(Exec::Lost(cause)) => return Err(cause),
            }
        }
        Ok(())
    }

    async fn serve(
        &mut self,
        cfg: &EngineConfig,
        rx: &mut mpsc::Receiver<Request>,
        urcs: &broadcast::Sender<Urc>,
        state: &watch::Sender<LinkState>,
    ) -> Ended {
        let mut buf = [0u8; 512];
        loop {
            // What was read while no command was running: URCs, late finals, noise.
            while let Some(d) = self.digest.pop() {
                self.idle(d, urcs);
            }
            if let Some(r) = self.restart.filter(|r| Instant::now() >= r.init_at) {
                if let Err(cause) = self.initialise(cfg, urcs).await {
                    return Ended::Lost(cause);
                }
                // The modem restarted behind the same port: tell watchers as on a reconnect, so
                // whoever configured the modem (vendor init, counters) starts over too.
                limited!(
                    info,
                    "at.restarted",
                    "{}: modem restarted; initialised again ({} restart signs)",
                    self.name,
                    r.signs
                );
                state.send_replace(LinkState::Connected);
            }
            let init_at = self.restart.map(|r| r.init_at);
            tokio::select! {
                // Restart signs settled: initialise (top of the loop).
                _ = tokio::time::sleep_until(init_at.unwrap_or_else(Instant::now)), if init_at.is_some() => {}
                // A caller's command: run it to its final result, then answer.
                req = rx.recv() => {
                    let Some(req) = req else { return Ended::ClientsGone };
                    match self.execute(&req.cmd, urcs).await {
                        Ok(resp) => { let _ = req.reply.send(Ok(resp)); }
                        Err(Exec::Modem(e)) => {
                            let hung = matches!(e, AtError::Timeout { .. });
                            let _ = req.reply.send(Err(e));
                            if hung {
                                if let Some(cause) = self.probe(urcs).await {
                                    return Ended::Lost(cause);
                                }
                            }
                        }
                        Err(Exec::Lost(cause)) => {
                            let _ = req.reply.send(Err(AtError::Disconnected {
                                command: req.cmd.line().to_string(), port: self.name.clone(), cause: cause.clone(),
                            }));
                            return Ended::Lost(cause);
                        }
                    }
                }
                // Bytes with no command running: URCs, noise, or the port going away.
                r = self.port.read(&mut buf) => match r {
                    Ok(0) => return Ended::Lost("the port closed (modem unplugged or reset?)".into()),
                    Ok(n) => self.feed(&buf[..n]),
                    Err(e) => return Ended::Lost(format!("read failed: {e} (modem unplugged or reset?)")),
                }
            }
        }
    }

    /// After a timeout: is the modem still there? `None` if it answered `AT`.
    async fn probe(&mut self, urcs: &broadcast::Sender<Urc>) -> Option<String> {
        let Ok(at) = Command::new("AT") else {
            return None;
        };
        match self
            .execute(&at.with_timeout(Duration::from_secs(2)), urcs)
            .await
        {
            Ok(_) => None,
            Err(Exec::Modem(e)) if e.is_modem_refusal() => None,
            Err(Exec::Modem(_)) => {
                Some("the modem stopped answering (no reply to AT); reopening the port".into())
            }
            Err(Exec::Lost(cause)) => Some(cause),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.digest.push(bytes);
    }

    /// More bytes from the port before `deadline`: `Ok(false)` when the deadline passed.
    async fn read_more(&mut self, deadline: Instant) -> Result<bool, String> {
        let mut buf = [0u8; 512];
        match timeout_at(deadline, self.port.read(&mut buf)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) => Err("the port closed (modem unplugged or reset?)".into()),
            Ok(Ok(n)) => {
                self.feed(buf.get(..n).unwrap_or(&[]));
                Ok(true)
            }
            Ok(Err(e)) => Err(format!("read failed: {e} (modem unplugged or reset?)")),
        }
    }

    async fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), String> {
        match timeout_at(deadline, async {
            self.port.write_all(bytes).await?;
            self.port.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write failed: {e} (modem unplugged or reset?)")),
            Err(_) => Err("write timed out: the port does not accept data".into()),
        }
    }

    /// Puts one command on the wire and collects its answer.
    async fn execute(
        &mut self,
        cmd: &Command,
        urcs: &broadcast::Sender<Urc>,
    ) -> Result<Response, Exec> {
        // What was read before the command goes out is not its answer.
        while let Some(d) = self.digest.pop() {
            self.idle(d, urcs);
        }
        let r = self.exchange(cmd, urcs).await;
        if r.is_err() {
            // Its final code, should it still come, is late.
            self.digest.abandon();
        }
        r
    }

    async fn exchange(
        &mut self,
        cmd: &Command,
        urcs: &broadcast::Sender<Urc>,
    ) -> Result<Response, Exec> {
        let deadline = Instant::now() + cmd.timeout();
        let mut wire = Vec::with_capacity(cmd.line().len() + 1);
        wire.extend_from_slice(cmd.line().as_bytes());
        wire.push(b'\r');
        self.write(&wire, deadline).await.map_err(Exec::Lost)?;
        self.digest.begin(cmd.clone());
        loop {
            let Some(d) = self.digest.pop() else {
                if self.read_more(deadline).await.map_err(Exec::Lost)? {
                    continue;
                }
                return Err(Exec::Modem(AtError::Timeout {
                    command: cmd.line().to_string(),
                    after: cmd.timeout(),
                    port: self.name.clone(),
                }));
            };
            match d {
                Digested::Done { lines, result } => {
                    return final_to_result(result, cmd.line(), &self.name)
                        .map(|()| Response { lines })
                        .map_err(Exec::Modem);
                }
                Digested::Prompt => {
                    // Body then Ctrl-Z (TS 27.005 §3.5.1); without a body, ESC cancels.
                    let mut body = Vec::new();
                    match cmd.payload() {
                        Some(p) => {
                            body.extend_from_slice(p.as_bytes());
                            body.push(0x1a);
                        }
                        None => body.push(0x1b),
                    }
                    self.write(&body, deadline).await.map_err(Exec::Lost)?;
                }
                other => self.idle(other, urcs),
            }
        }
    }

    /// What the modem said outside an answer: URCs go to subscribers, the rest to the log.
    fn idle(&mut self, d: Digested, urcs: &broadcast::Sender<Urc>) {
        match d {
            Digested::Urc(u) => {
                // A modem restart turns echo back on and forgets CMEE/CPMS: initialise again,
                // once per burst of restart signs.
                if u.is_restart() {
                    self.restart = Some(Restart::sign(self.restart, Instant::now()));
                }
                if u.code().is_none() {
                    limited!(
                        debug,
                        "at.unknown_urc",
                        "{}: unsolicited line not in the URC table: {}",
                        self.name,
                        escape(&u.line)
                    );
                }
                self.publish(u, urcs);
            }
            Digested::LateFinal(line) => {
                limited!(
                    debug,
                    "at.late_final",
                    "{}: late final result ignored: {}",
                    self.name,
                    escape(&line)
                )
            }
            Digested::UnexpectedPrompt | Digested::Prompt => {
                limited!(
                    debug,
                    "at.prompt",
                    "{}: unexpected SMS prompt ignored",
                    self.name
                )
            }
            Digested::Noise(n) => self.note_noise(&n),
            Digested::Done { result, .. } => {
                limited!(
                    debug,
                    "at.stray_answer",
                    "{}: answer with no command waiting ignored: {result:?}",
                    self.name
                )
            }
        }
    }

    fn publish(&self, urc: Urc, urcs: &broadcast::Sender<Urc>) {
        limited!(trace, "at.urc", "{}: urc {}", self.name, escape(&urc.line));
        // No subscribers is fine: nobody cares about this URC right now.
        let _ = urcs.send(urc);
    }

    fn note_noise(&mut self, n: &str) {
        self.noise_count = self.noise_count.saturating_add(1);
        limited!(
            warn,
            "at.noise",
            "{}: skipped line noise from the modem ({} so far): {n}",
            self.name,
            self.noise_count
        );
    }
}

/// Outcome of one exchange that did not succeed.
enum Exec {
    /// The modem answered with an error, or did not answer in time.
    Modem(AtError),
    /// The port is gone.
    Lost(String),
}

/// Waits for a URC matching `pred`, up to `limit`. Used by USSD/SMS flows.
pub async fn wait_urc(
    rx: &mut broadcast::Receiver<Urc>,
    limit: Duration,
    mut pred: impl FnMut(&Urc) -> bool,
) -> Option<Urc> {
    let deadline = Instant::now() + limit;
    loop {
        let res = tokio::select! {
            r = rx.recv() => r,
            _ = tokio::time::sleep_until(deadline) => return None,
        };
        match res {
            Ok(u) if pred(&u) => return Some(u),
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                limited!(warn, "at.wait_urc_lagged", "missed {n} unsolicited codes")
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// A line from the modem as it may appear in a log: control characters escaped, cut to 120
/// characters (a 4 KB garbage line is no log line).
pub(crate) fn escape(line: &str) -> String {
    const MAX: usize = 120;
    let mut out = String::new();
    for (i, c) in line.chars().enumerate() {
        if i >= MAX {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_signs_are_debounced_but_not_deferred_forever() {
        let t0 = Instant::now();
        let r = Restart::sign(None, t0);
        assert_eq!(r.init_at, t0 + RESTART_SETTLE);
        // A burst: each sign pushes the init out by the settle time …
        let r = Restart::sign(Some(r), t0 + Duration::from_millis(500));
        assert_eq!(r.init_at, t0 + Duration::from_millis(500) + RESTART_SETTLE);
        assert_eq!(r.signs, 2);
        // … but a flood that never stops is initialised after RESTART_MAX_DEFER.
        let mut r = r;
        for ms in (600..20_000).step_by(100) {
            r = Restart::sign(Some(r), t0 + Duration::from_millis(ms));
        }
        assert_eq!(r.init_at, t0 + RESTART_MAX_DEFER);
    }

    #[test]
    fn modem_lines_in_logs_are_escaped_and_cut() {
        assert_eq!(escape("a\u{1b}b"), "a\\u{1b}b");
        assert_eq!(escape(&"x".repeat(5000)).chars().count(), 121);
    }
}
