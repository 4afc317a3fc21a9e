//! The one task that owns the modem port.
//!
//! Callers hold an [`AtClient`] and send [`Command`]s through a bounded channel; the engine puts
//! exactly one command on the wire at a time, collects its lines until a final result code, and
//! sends unsolicited result codes to subscribers on a broadcast channel — including URCs that
//! arrive in the middle of a response. When the modem stops answering it probes with `AT`, then
//! closes and reopens the port; when the port vanishes (USB reset) it retries with backoff and
//! resumes on its own. State changes are logged once, not on every retry.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{timeout_at, Instant};

use super::command::{final_to_result, parse_final, AtError, Command, Response};
use super::framer::{Frame, Framer};
use super::lock::PortLock;
use super::port::{self, Port};
use super::urc;

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

/// An unsolicited result code, with the PDU line that follows `+CMT:`/`+CDS:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urc {
    pub line: String,
    pub pdu: Option<String>,
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

/// An open port and what we have read from it.
struct Connection {
    port: Port,
    _lock: Option<PortLock>,
    framer: Framer,
    frames: std::collections::VecDeque<Frame>,
    name: String,
    /// A `+CMT:`/`+CDS:` header whose PDU line comes next.
    pdu_header: Option<String>,
    /// A `+CUSD:` whose quoted text continues on the next line.
    partial_urc: Option<String>,
    /// A restart URC (`RDY`, `+CFUN: 1`) was seen: run init again.
    needs_init: bool,
    noise_count: u64,
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
            framer: Framer::new(),
            frames: Default::default(),
            name: cfg.port.display().to_string(),
            pdu_header: None,
            partial_urc: None,
            needs_init: false,
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
        self.needs_init = false;
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
                    tracing::debug!(port = %self.name, "init command {line} refused: {e}");
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
            // Frames read while no command was running are URCs (or noise).
            while let Some(frame) = self.frames.pop_front() {
                self.idle_frame(frame, urcs);
            }
            if self.needs_init {
                if let Err(cause) = self.initialise(cfg, urcs).await {
                    return Ended::Lost(cause);
                }
                // The modem restarted behind the same port: tell watchers as on a reconnect, so
                // whoever configured the modem (vendor init, counters) starts over too.
                tracing::info!(port = %self.name, "modem restarted; initialised again");
                state.send_replace(LinkState::Connected);
            }
            tokio::select! {
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
        let mut out = Vec::new();
        self.framer.push(bytes, &mut out);
        self.frames.extend(out);
    }

    async fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>, String> {
        let mut buf = [0u8; 512];
        loop {
            if let Some(f) = self.frames.pop_front() {
                return Ok(Some(f));
            }
            match timeout_at(deadline, self.port.read(&mut buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => return Err("the port closed (modem unplugged or reset?)".into()),
                Ok(Ok(n)) => self.feed(&buf[..n]),
                Ok(Err(e)) => return Err(format!("read failed: {e} (modem unplugged or reset?)")),
            }
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
        let deadline = Instant::now() + cmd.timeout();
        let mut wire = Vec::with_capacity(cmd.line().len() + 1);
        wire.extend_from_slice(cmd.line().as_bytes());
        wire.push(b'\r');
        self.write(&wire, deadline).await.map_err(Exec::Lost)?;
        let mut lines: Vec<String> = Vec::new();
        loop {
            let frame = match self.next_frame(deadline).await.map_err(Exec::Lost)? {
                Some(f) => f,
                None => {
                    return Err(Exec::Modem(AtError::Timeout {
                        command: cmd.line().to_string(),
                        after: cmd.timeout(),
                        port: self.name.clone(),
                    }))
                }
            };
            let line = match frame {
                Frame::Line(l) => l,
                Frame::Prompt => {
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
                    continue;
                }
                Frame::Noise(n) => {
                    self.note_noise(&n);
                    continue;
                }
            };
            if self.take_urc_continuation(&line, urcs) {
                continue;
            }
            if lines.is_empty() && line.eq_ignore_ascii_case(cmd.line()) {
                continue; // echo (still on after a modem reset)
            }
            if let Some(f) = parse_final(&line) {
                return final_to_result(f, cmd.line(), &self.name)
                    .map(|()| Response { lines })
                    .map_err(Exec::Modem);
            }
            if urc::is_unsolicited(&line, Some(cmd)) {
                self.urc_line(line, urcs);
                continue;
            }
            lines.push(line);
        }
    }

    fn idle_frame(&mut self, frame: Frame, urcs: &broadcast::Sender<Urc>) {
        match frame {
            Frame::Line(line) => {
                if self.take_urc_continuation(&line, urcs) {
                    return;
                }
                // A stray final code (e.g. OK to a command that already timed out) is no URC.
                if parse_final(&line).is_some() && line != "NO CARRIER" {
                    tracing::debug!(port = %self.name, "late final result ignored: {line}");
                    return;
                }
                self.urc_line(line, urcs);
            }
            Frame::Prompt => tracing::debug!(port = %self.name, "unexpected SMS prompt ignored"),
            Frame::Noise(n) => self.note_noise(&n),
        }
    }

    /// Lines that belong to a URC already started: the PDU after `+CMT:`, or the rest of a
    /// `+CUSD:` whose quoted text spans lines.
    fn take_urc_continuation(&mut self, line: &str, urcs: &broadcast::Sender<Urc>) -> bool {
        if let Some(header) = self.pdu_header.take() {
            self.publish(
                Urc {
                    line: header,
                    pdu: Some(line.to_string()),
                },
                urcs,
            );
            return true;
        }
        if let Some(mut partial) = self.partial_urc.take() {
            partial.push('\n');
            partial.push_str(line);
            if quotes_balanced(&partial) || partial.len() > 2048 {
                self.publish(
                    Urc {
                        line: partial,
                        pdu: None,
                    },
                    urcs,
                );
            } else {
                self.partial_urc = Some(partial);
            }
            return true;
        }
        false
    }

    fn urc_line(&mut self, line: String, urcs: &broadcast::Sender<Urc>) {
        if urc::has_pdu_line(&line) {
            self.pdu_header = Some(line);
            return;
        }
        if line.starts_with("+CUSD:") && !quotes_balanced(&line) {
            self.partial_urc = Some(line);
            return;
        }
        // A modem restart turns echo back on and forgets CMEE/CPMS: initialise again.
        if line == "RDY" || line == "+CFUN: 1" {
            self.needs_init = true;
        }
        self.publish(Urc { line, pdu: None }, urcs);
    }

    fn publish(&self, urc: Urc, urcs: &broadcast::Sender<Urc>) {
        tracing::trace!(port = %self.name, urc = %urc.line, "urc");
        // No subscribers is fine: nobody cares about this URC right now.
        let _ = urcs.send(urc);
    }

    fn note_noise(&mut self, n: &str) {
        self.noise_count = self.noise_count.saturating_add(1);
        // Log the first few and then every 100th, so a noisy line does not flood logd.
        if self.noise_count <= 3 || self.noise_count % 100 == 0 {
            tracing::warn!(port = %self.name, count = self.noise_count, "skipped line noise from the modem: {n}");
        }
    }
}

fn quotes_balanced(s: &str) -> bool {
    s.chars().filter(|&c| c == '"').count() % 2 == 0
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
                tracing::warn!("missed {n} unsolicited codes")
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}
