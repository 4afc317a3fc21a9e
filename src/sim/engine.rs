//! The simulator framework: a virtual modem behind a pseudo-terminal.
//!
//! It speaks the bytes a real modem does — echo on at power-up, `\r\n` framing, `ERROR` for
//! unknown commands, `+CME ERROR: <n>` after `AT+CMEE=1`, SIM busy for a while after boot — and
//! can be told to misbehave the ways real modems do: hang, vanish and come back as a new device
//! behind the same symlink (USB reset), spit garbage, slip a URC into the middle of a response,
//! answer slowly, or reboot. What a command *answers* is decided by the pure answer functions of
//! the personality (`sim::vendors`); this file only frames, schedules and injects faults.
//!
//! The simulator runs on its own thread with its own runtime, so it behaves like a separate
//! device whatever the code under test does with its runtime.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::answer::Answer;
use super::carrier::{Carrier, Reply};
use super::radio::Radio;
use super::vendors::Personality;
use crate::at::port::{open_pty, RawTty};

/// How to start a simulated modem.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub personality: Personality,
    /// A stable symlink to the current pty (it moves to the new pty after an unplug).
    pub link: Option<PathBuf>,
    /// `+CME ERROR: 14` (SIM busy) for SIM commands this long after power-up.
    pub sim_busy_for: Duration,
    /// Emit the personality's unsolicited noise (Huawei `^RSSI`…) this often.
    pub noise_every: Option<Duration>,
    /// Initial radio values.
    pub radio: Radio,
}

impl SimOptions {
    pub fn new(personality: Personality) -> Self {
        Self {
            personality,
            link: None,
            sim_busy_for: Duration::ZERO,
            noise_every: None,
            radio: Radio::default(),
        }
    }
}

/// Misbehaviour to inject.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Read commands but answer nothing for this long.
    Hang(Duration),
    /// Close the pty (the client sees EIO, the symlink disappears) and come back as a new pty
    /// behind the same symlink after this long.
    Unplug(Duration),
    /// Write these bytes now, unprompted.
    Garbage(Vec<u8>),
    /// Put this URC line between the information lines and the final result of the next
    /// response that has information lines.
    UrcInNextResponse(String),
    /// Send this URC line now.
    Urc(String),
    /// Wait this long before each line of every response (0 turns it off).
    Slow(Duration),
    /// Restart: print `RDY`, echo back on, CMEE off, SIM busy again.
    Reboot,
}

enum Control {
    Fault(Fault, std::sync::mpsc::Sender<()>),
    Set(String, String, std::sync::mpsc::Sender<Result<(), String>>),
    Stop,
}

/// Controls a running simulator.
pub struct SimHandle {
    tx: mpsc::UnboundedSender<Control>,
    path: Arc<Mutex<PathBuf>>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The symlink we made (removed on stop: a dangling link would send the next client to a
    /// pty that no longer exists, or to someone else's).
    link: Option<PathBuf>,
}

impl SimHandle {
    /// The path a client should open: the symlink if one was asked for, else the pty itself.
    pub fn path(&self) -> PathBuf {
        self.path.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Sets a radio value (`rsrp=-95`); see `Radio::set`.
    pub fn set(&self, key: &str, value: &str) -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.tx
            .send(Control::Set(key.into(), value.into(), tx))
            .map_err(|_| "simulator stopped".to_string())?;
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|_| "simulator did not answer".to_string())?
    }

    /// Injects a fault and returns once the simulator has applied it (an unplug: once the
    /// device is gone), so a test can send its next command knowing the fault is in force.
    pub fn fault(&self, fault: Fault) {
        let (ack, applied) = std::sync::mpsc::channel();
        if self.tx.send(Control::Fault(fault, ack)).is_ok() {
            let _ = applied.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Every command line the simulator received, in order (the last 1000).
    pub fn commands_seen(&self) -> Vec<String> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Control::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(link) = self.link.take() {
            // Only a symlink: never remove a file someone put there after us.
            if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
                let _ = std::fs::remove_file(&link);
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a simulated modem on its own thread.
pub fn start(opts: SimOptions) -> std::io::Result<SimHandle> {
    let (master, slave, pty_path) = open_pty()?;
    let visible = match &opts.link {
        Some(link) => {
            relink(link, &pty_path)?;
            link.clone()
        }
        None => pty_path.clone(),
    };
    let link = opts.link.clone();
    let path = Arc::new(Mutex::new(visible));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::unbounded_channel();
    let seen2 = seen.clone();
    let path2 = path.clone();
    let thread = std::thread::Builder::new()
        .name("modem-sim".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("simulator: cannot start runtime: {e}");
                    return;
                }
            };
            rt.block_on(run(opts, master, slave, rx, seen2, path2));
        })?;
    Ok(SimHandle {
        tx,
        path,
        seen,
        thread: Some(thread),
        link,
    })
}

fn relink(link: &Path, target: &Path) -> std::io::Result<()> {
    // Create the new link beside the old one and rename over it, so a client never sees a
    // half-made link.
    let tmp = link.with_extension("simkeep-tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// The modem's own state, apart from the radio values.
struct State {
    opts: SimOptions,
    radio: Radio,
    echo: bool,
    cmee: u8,
    busy_until: Instant,
    hang_until: Option<Instant>,
    urc_in_next: Option<String>,
    slow: Duration,
    carrier: Carrier,
    /// When the simulator started: the carrier's clock (delayed credits) counts from here.
    started: Instant,
    /// URCs due later (the `+CUSD:` after `OK`, a `+CMTI:` for an SMS reply), by due time.
    outbox: Vec<(Instant, String)>,
    /// The command that opened the `> ` prompt, while its body is being read.
    prompt_for: Option<String>,
}

async fn run(
    opts: SimOptions,
    master: OwnedFd,
    slave: OwnedFd,
    mut rx: mpsc::UnboundedReceiver<Control>,
    seen: Arc<Mutex<Vec<String>>>,
    path: Arc<Mutex<PathBuf>>,
) {
    let mut st = State {
        radio: opts.radio.clone(),
        busy_until: Instant::now() + opts.sim_busy_for,
        opts,
        echo: true,
        cmee: 0,
        hang_until: None,
        urc_in_next: None,
        slow: Duration::ZERO,
        carrier: Carrier::new(),
        started: Instant::now(),
        outbox: Vec::new(),
        prompt_for: None,
    };
    let mut io = match RawTty::from_owned(master) {
        Ok(io) => io,
        Err(e) => {
            eprintln!("simulator: cannot drive pty: {e}");
            return;
        }
    };
    // Keeping the slave open ourselves means the master never reads EIO while no client is
    // connected, which would otherwise spin.
    let mut _slave = slave;
    let mut line = Vec::<u8>::new();
    let mut buf = [0u8; 512];
    let mut noise = st
        .opts
        .noise_every
        .map(|d| tokio::time::interval_at(Instant::now() + d, d));
    loop {
        let noise_tick = async {
            match noise.as_mut() {
                Some(i) => {
                    i.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            ctl = rx.recv() => match ctl {
                None | Some(Control::Stop) => return,
                Some(Control::Set(k, v, reply)) => { let _ = reply.send(st.set(&k, &v)); }
                Some(Control::Fault(Fault::Unplug(away), ack)) => {
                    drop(io);
                    match unplug(away, &st, &path, ack).await {
                        Some((new_io, new_slave)) => { io = new_io; _slave = new_slave; line.clear(); }
                        None => return,
                    }
                }
                Some(Control::Fault(f, ack)) => {
                    if let Some(bytes) = st.apply(f) {
                        let _ = io.write_all(&bytes).await;
                    }
                    let _ = ack.send(());
                }
            },
            // A URC that was scheduled for later is due.
            _ = outbox_due(&st.outbox) => {
                for line in st.take_due(Instant::now()) {
                    let _ = io.write_all(format!("\r\n{line}\r\n").as_bytes()).await;
                }
            }
            _ = noise_tick => {
                let lines = st.opts.personality.noise(&st.radio);
                for l in lines {
                    let _ = io.write_all(format!("\r\n{l}\r\n").as_bytes()).await;
                }
            }
            r = io.read(&mut buf) => match r {
                Ok(0) | Err(_) => { tokio::time::sleep(Duration::from_millis(20)).await; }
                Ok(n) => {
                    for &b in &buf[..n] {
                        if st.prompt_for.is_some() {
                            // Reading an SMS body: Ctrl-Z sends it, ESC cancels (TS 27.005 §3.5.1).
                            match b {
                                0x1a | 0x1b => {
                                    let body = String::from_utf8_lossy(&line).trim().to_string();
                                    line.clear();
                                    let out = st.payload(&body, b == 0x1b);
                                    write_lines(&mut io, &out, st.slow).await;
                                }
                                _ if line.len() < 4096 => line.push(b),
                                _ => {}
                            }
                            continue;
                        }
                        if b == b'\r' {
                            let cmd = String::from_utf8_lossy(&line).trim().to_string();
                            line.clear();
                            if cmd.is_empty() { continue; }
                            if let Ok(mut s) = seen.lock() {
                                if s.len() >= 1000 { s.remove(0); }
                                s.push(cmd.clone());
                            }
                            if st.hang_until.is_some_and(|t| Instant::now() < t) { continue; }
                            let out = st.respond(&cmd);
                            write_lines(&mut io, &out, st.slow).await;
                        } else if b != b'\n' && line.len() < 4096 {
                            line.push(b);
                        }
                    }
                }
            }
        }
    }
}

/// Resolves when the earliest scheduled URC is due (never, when none is scheduled).
async fn outbox_due(outbox: &[(Instant, String)]) {
    match outbox.iter().map(|(t, _)| *t).min() {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn write_lines(io: &mut RawTty, chunks: &[Vec<u8>], slow: Duration) {
    for c in chunks {
        if !slow.is_zero() {
            tokio::time::sleep(slow).await;
        }
        if io.write_all(c).await.is_err() {
            return;
        }
    }
}

/// Simulates a USB reset: the device vanishes, then a new one appears behind the same link.
async fn unplug(
    away: Duration,
    st: &State,
    path: &Arc<Mutex<PathBuf>>,
    gone: std::sync::mpsc::Sender<()>,
) -> Option<(RawTty, OwnedFd)> {
    if let Some(link) = &st.opts.link {
        let _ = std::fs::remove_file(link);
    }
    let _ = gone.send(());
    tokio::time::sleep(away).await;
    let (master, slave, pty_path) = open_pty().ok()?;
    match &st.opts.link {
        Some(link) => relink(link, &pty_path).ok()?,
        None => {
            if let Ok(mut p) = path.lock() {
                *p = pty_path;
            }
        }
    }
    Some((RawTty::from_owned(master).ok()?, slave))
}

impl State {
    /// Applies a fault; returns bytes to write now, if any.
    fn apply(&mut self, fault: Fault) -> Option<Vec<u8>> {
        match fault {
            Fault::Hang(d) => self.hang_until = Some(Instant::now() + d),
            Fault::Garbage(bytes) => return Some(bytes),
            Fault::UrcInNextResponse(u) => self.urc_in_next = Some(u),
            Fault::Urc(u) => return Some(format!("\r\n{u}\r\n").into_bytes()),
            Fault::Slow(d) => self.slow = d,
            Fault::Reboot => {
                self.carrier.reboot();
                self.echo = true;
                self.cmee = 0;
                self.busy_until = Instant::now() + self.opts.sim_busy_for;
                return Some(b"\r\nRDY\r\n".to_vec());
            }
            Fault::Unplug(_) => {}
        }
        None
    }

    /// The bytes a real modem writes in answer to `cmd`, as separate writes.
    fn respond(&mut self, cmd: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if self.echo {
            out.push(format!("{cmd}\r").into_bytes());
        }
        let answer = self.answer(cmd);
        let (mut lines, final_line) = match answer {
            Answer::Ok(lines) => (lines, Some("OK".to_string())),
            Answer::Raw(lines) => (lines, None),
            Answer::CmeError(n) => (
                Vec::new(),
                Some(match self.cmee {
                    0 => "ERROR".to_string(),
                    _ => format!("+CME ERROR: {n}"),
                }),
            ),
            Answer::Error => (Vec::new(), Some("ERROR".to_string())),
            Answer::Prompt => {
                self.prompt_for = Some(cmd.to_string());
                out.push(b"\r\n> ".to_vec());
                return out;
            }
        };
        if !lines.is_empty() {
            if let Some(u) = self.urc_in_next.take() {
                lines.insert(1.min(lines.len()), u);
            }
        }
        for l in lines.into_iter().chain(final_line) {
            out.push(format!("\r\n{l}\r\n").into_bytes());
        }
        out
    }

    fn answer(&mut self, cmd: &str) -> Answer {
        let upper = cmd.to_ascii_uppercase();
        match upper.as_str() {
            "AT" => return Answer::Ok(vec![]),
            "ATE0" => {
                self.echo = false;
                return Answer::Ok(vec![]);
            }
            "ATE1" | "ATE" => {
                self.echo = true;
                return Answer::Ok(vec![]);
            }
            "ATZ" => {
                self.echo = true;
                self.cmee = 0;
                return Answer::Ok(vec![]);
            }
            _ => {}
        }
        if let Some(n) = upper.strip_prefix("AT+CMEE=") {
            return match n.parse::<u8>() {
                Ok(v @ 0..=2) => {
                    self.cmee = v;
                    Answer::Ok(vec![])
                }
                _ => Answer::Error,
            };
        }
        if upper == "AT+CMEE?" {
            return Answer::line(format!("+CMEE: {}", self.cmee));
        }
        if Instant::now() < self.busy_until && needs_sim(&upper) {
            return Answer::CmeError(14);
        }
        self.carrier.advance(self.started.elapsed());
        if let Some(reply) = self
            .carrier
            .command(self.opts.personality, &mut self.radio, cmd)
        {
            return self.schedule(reply);
        }
        self.opts
            .personality
            .answer(&mut self.radio, cmd)
            .unwrap_or(Answer::Error)
    }

    fn schedule(&mut self, reply: Reply) -> Answer {
        let now = Instant::now();
        for (delay, line) in reply.later {
            self.outbox.push((now + delay, line));
        }
        reply.answer
    }

    /// The body after a `> ` prompt arrived (or was cancelled with ESC).
    fn payload(&mut self, body: &str, cancelled: bool) -> Vec<Vec<u8>> {
        let cmd = self.prompt_for.take().unwrap_or_default();
        self.carrier.advance(self.started.elapsed());
        let answer = if cancelled {
            Answer::Ok(vec![])
        } else {
            let reply = self
                .carrier
                .payload(self.opts.personality, &mut self.radio, &cmd, body);
            self.schedule(reply)
        };
        let final_lines: Vec<String> = match answer {
            Answer::Ok(lines) => lines.into_iter().chain(Some("OK".to_string())).collect(),
            Answer::Raw(lines) => lines,
            Answer::CmeError(n) => vec![format!("+CMS ERROR: {n}")],
            Answer::Error | Answer::Prompt => vec!["ERROR".to_string()],
        };
        final_lines
            .into_iter()
            .map(|l| format!("\r\n{l}\r\n").into_bytes())
            .collect()
    }

    /// Sets a radio value, or failing that a carrier value (`balance_mb=500`).
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        // Checks such as `check_balance_mb` see the credits that are due by now.
        self.carrier.advance(self.started.elapsed());
        match self.radio.set(key, value) {
            Ok(()) => Ok(()),
            Err(radio_err) => match self.carrier.set(key, value) {
                Ok(later) => {
                    let now = Instant::now();
                    self.outbox
                        .extend(later.into_iter().map(|(d, l)| (now + d, l)));
                    Ok(())
                }
                Err(None) => Err(radio_err),
                Err(Some(e)) => Err(e),
            },
        }
    }

    fn take_due(&mut self, now: Instant) -> Vec<String> {
        let mut due = Vec::new();
        self.outbox.retain(|(t, l)| {
            if *t <= now {
                due.push(l.clone());
                false
            } else {
                true
            }
        });
        due
    }
}

/// Commands that need the SIM, which answer "SIM busy" while it initialises after boot.
fn needs_sim(upper: &str) -> bool {
    [
        "AT+CPIN",
        "AT+CIMI",
        "AT+CCID",
        "AT+ICCID",
        "AT+QCCID",
        "AT^ICCID",
        "AT+CICCID",
        "AT+CNUM",
        "AT+CUSD",
        "AT+CMG",
        "AT+CPMS",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}
