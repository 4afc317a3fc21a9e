//! `simkeep sim` (the simulator alone, driven from stdin) and `simkeep demo` (simulator and
//! agent together, so a newcomer sees simkeep work on no hardware).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::sim::{self, Fault, Personality, SimOptions};

fn personality(name: &str) -> Result<Personality, AppError> {
    Personality::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Personality::all().iter().map(|p| p.name()).collect();
        AppError::new(
            ExitKind::Config,
            format!(
                "unknown personality {name:?}: use one of {}",
                names.join(", ")
            ),
        )
    })
}

fn sim_error(e: std::io::Error) -> AppError {
    AppError::new(
        ExitKind::Failure,
        format!("cannot start the simulator: {e}"),
    )
}

/// `simkeep sim`: runs until SIGINT/SIGTERM (at once, whatever stdin is doing), then removes its
/// link and control FIFO. Control lines come from the terminal while we are in its foreground
/// and from `--control PATH`; see `sim::control` for why not from any stdin.
pub async fn sim(
    link: Option<PathBuf>,
    name: &str,
    set: &[String],
    sim_busy: u64,
    noise: Option<u64>,
    control_path: Option<PathBuf>,
) -> Result<(), AppError> {
    let mut opts = SimOptions::new(personality(name)?);
    opts.link = link;
    opts.sim_busy_for = Duration::from_secs(sim_busy);
    opts.noise_every = noise.map(Duration::from_secs);
    for kv in set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            AppError::new(
                ExitKind::Config,
                format!("--set {kv:?}: write KEY=VALUE, e.g. rsrp=-95"),
            )
        })?;
        opts.radio
            .set(k.trim(), v.trim())
            .map_err(|e| AppError::new(ExitKind::Config, format!("--set {kv}: {e}")))?;
    }
    let (tx, mut lines) = tokio::sync::mpsc::channel::<String>(sim::control::CONTROL_QUEUE);
    // The FIFO before the simulator: a bad --control path fails before any link is made.
    let fifo = match &control_path {
        Some(p) => Some(
            sim::control::ControlFifo::create(p, tx.clone())
                .map_err(|e| AppError::new(ExitKind::Config, e.to_string()))?,
        ),
        None => None,
    };
    let handle = sim::start(opts).map_err(sim_error)?;
    // The path is this command's output; a reader that went away is no reason to stop the modem.
    let _ = say(&handle.path().display());
    let from = match (&fifo, sim::control::stdin_is_foreground_terminal()) {
        (Some(f), true) => format!("on this terminal and {}", f.path().display()),
        (Some(f), false) => format!("on {}", f.path().display()),
        (None, true) => "on this terminal".to_string(),
        (None, false) => {
            "none (stdin is not a terminal in the foreground; use --control PATH)".to_string()
        }
    };
    if sim::control::stdin_is_foreground_terminal() {
        sim::control::spawn_terminal_reader(tx).map_err(sim_error)?;
    } else {
        drop(tx);
    }
    tracing::info!("simulated {name} modem ready; control lines {from}: set KEY=VALUE | hang SECS | unplug SECS | reboot | urc LINE | garbage");
    let stop = crate::agent::shutdown_signal();
    tokio::pin!(stop);
    let mut reading = true;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            line = lines.recv(), if reading => match line {
                Some(l) => control(&handle, &l),
                // Every source ended (stdin closed, no FIFO): keep simulating until a signal.
                None => reading = false,
            }
        }
    }
    // Stop the modem (its link goes with it), then the FIFO.
    drop(handle);
    drop(fifo);
    Ok(())
}

/// Writes one line of this command's own output to stdout. A reader that went away (EPIPE, as
/// after `| head -1`) comes back as an error to act on: Rust ignores SIGPIPE, so `println!`
/// would panic instead, and with panic=abort that is exit 134 with nothing cleaned up.
fn say(line: &dyn std::fmt::Display) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Resolves once nobody reads our stdout or stderr any more (a pipe whose reader closed). We
/// may have nothing to write for a long time, so waiting for EPIPE alone is not enough: poll
/// reports POLLERR on the write end of a pipe as soon as its last reader is gone.
async fn output_closed() {
    loop {
        for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            let mut p = libc::pollfd {
                fd,
                events: 0,
                revents: 0,
            };
            // SAFETY: one pollfd we own, zero timeout: poll only reports the fd's state.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n == 1 && p.revents & libc::POLLERR != 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn control(handle: &sim::SimHandle, line: &str) {
    let (verb, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    let secs =
        || Duration::from_secs_f64(rest.trim().parse::<f64>().unwrap_or(1.0).clamp(0.0, 3600.0));
    match verb {
        "set" => match rest.split_once('=') {
            Some((k, v)) => match handle.set(k.trim(), v.trim()) {
                Ok(()) => eprintln!("ok"),
                Err(e) => eprintln!("set: {e}"),
            },
            None => eprintln!("set: write set KEY=VALUE"),
        },
        "hang" => handle.fault(Fault::Hang(secs())),
        "unplug" => handle.fault(Fault::Unplug(secs())),
        "reboot" => handle.fault(Fault::Reboot),
        "urc" => handle.fault(Fault::Urc(rest.to_string())),
        "garbage" => handle.fault(Fault::Garbage(b"\xff\xfe\x00garbage\x01\r\n".to_vec())),
        "" => {}
        other => {
            eprintln!("unknown control {other:?}: set | hang | unplug | reboot | urc | garbage")
        }
    }
}

const DEMO_START_MB: u64 = 700;
const DEMO_DRAIN_MB: u64 = 50;
const DEMO_DRAIN_EVERY: Duration = Duration::from_secs(4);

/// The demo's top-up policy and flow: Vodacom Tanzania's menu as captured on a router
/// (carriers.md §2.3), bought when the carrier's own warning SMS arrives.
const DEMO_TOPUP: &str = r#"[topup]
enabled = true
threshold = "500MB"
max_per_cycle = 2
max_spend_per_cycle = 20000
currency = "TZS"
cooldown = "1h"
trigger_sms = ['(?i)less than \d+ ?MB', '(?i)used all your data']
trust_clock = true
[[topup.flow]]
name = "vodacom-monthly"
price = 10000
adds = "4920MB"
steps = [
  { ussd = "*149*01#", expect = "Internet" },
  { choose = "Internet" },
  { choose = "Monthly" },
  { choose = "4920MB", expect = "Airtime" },
  { choose = "Airtime", expect = "(?i)received" },
  { wait_sms = "Vodacom", expect = "4920MB", fail = "(?i)insufficient", timeout = "1m" },
  { verify = "1m" },
]
"#;

/// Simulated traffic: the carrier's balance falls by a little every few seconds.
struct Drain {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Drain {
    fn start(handle: std::sync::Arc<sim::SimHandle>) -> Drain {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut slept = Duration::ZERO;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                slept += Duration::from_millis(200);
                if slept >= DEMO_DRAIN_EVERY {
                    slept = Duration::ZERO;
                    if handle.set("drain_mb", &DEMO_DRAIN_MB.to_string()).is_ok() {
                        tracing::info!("demo: the line used {DEMO_DRAIN_MB} MB");
                    }
                }
            }
        });
        Drain { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// `simkeep demo`: the simulator and the agent together. `config` is the owner's file when one
/// was given (or exists at the default path): its settings, with the simulated modem, a store
/// in the demo's temp dir and no real spending substituted; otherwise the built-in story.
pub async fn demo(
    name: &str,
    seconds: Option<u64>,
    config: Option<&std::path::Path>,
    listen: Option<std::net::SocketAddr>,
) -> Result<(), AppError> {
    let dir = std::env::temp_dir().join(format!("simkeep-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        AppError::new(
            ExitKind::Failure,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    // From here on every way out goes through the cleanup below.
    let result = demo_in(&dir, name, seconds, config, listen).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn demo_in(
    dir: &std::path::Path,
    name: &str,
    seconds: Option<u64>,
    config: Option<&std::path::Path>,
    listen: Option<std::net::SocketAddr>,
) -> Result<(), AppError> {
    let mut opts = SimOptions::new(personality(name)?);
    opts.link = Some(dir.join("modem"));
    opts.sim_busy_for = Duration::from_secs(2);
    let handle = std::sync::Arc::new(sim::start(opts).map_err(sim_error)?);
    let cfg = match config {
        Some(path) => owner_config(path, dir, &handle.path(), listen)?,
        None => story_config(dir, &handle, listen)?,
    };
    let addr = cfg
        .http
        .listen
        .map_or_else(|| "(HTTP off)".to_string(), |a| a.to_string());
    let intro = [
        format!(
            "demo: simulated {name} modem at {}; agent polling every {} s",
            handle.path().display(),
            cfg.modem.poll_interval.as_secs()
        ),
        format!("demo: open http://{addr}/ or run: curl http://{addr}/api/v1/status"),
        match config {
            None => format!("demo: the SIM starts with {DEMO_START_MB} MB; the agent tops up when the carrier warns below 500 MB (simkeep topup history shows it)"),
            Some(p) => format!("demo: settings from {}, with the simulated modem, a throw-away store and top-ups as dry runs", p.display()),
        },
    ];
    for line in &intro {
        if say(line).is_err() {
            // Nobody reads us (`| head -1` already has its line): a normal end.
            return Ok(());
        }
    }
    let drain = Drain::start(handle.clone());
    let stop = async move {
        let until = async {
            match seconds {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = until => {}
            _ = crate::agent::shutdown_signal() => {}
            _ = output_closed() => tracing::debug!("demo: output closed; stopping"),
        }
    };
    let result = crate::agent::run(cfg, stop).await;
    drain.stop();
    drop(handle);
    result
}

/// The built-in story's config.
fn story_config(
    dir: &std::path::Path,
    handle: &sim::SimHandle,
    listen: Option<std::net::SocketAddr>,
) -> Result<Config, AppError> {
    // The story: 700 MB left, the line uses 50 MB every few seconds, the carrier warns below
    // 500 MB, the policy buys through the carrier's USSD menu (items shuffled, chosen by text),
    // and the receipt and the balance confirm it.
    let _ = handle.set("balance_mb", &DEMO_START_MB.to_string());
    let _ = handle.set("menu_order", "shuffle");
    let listen = listen.map_or_else(
        || crate::config::DEFAULT_LISTEN.to_string(),
        |a| a.to_string(),
    );
    let text = format!(
        "[modem]\nport = \"{}\"\npoll_interval = \"3s\"\nlock_dir = \"{}\"\n[store]\npath = \"{}\"\n[http]\nlisten = \"{listen}\"\n\
         [usage]\nquota = \"3GB\"\nunit_base = 1000\ntimezone = \"Africa/Dar_es_Salaam\"\n[usage.carrier]\nussd = \"*100#\"\ninterval = \"1m\"\n{DEMO_TOPUP}",
        handle.path().display(),
        dir.join("lock").display(),
        dir.join("simkeep.db").display()
    );
    Ok(Config::parse(&text, &dir.join("demo.toml"))?)
}

/// The owner's config for the demo: everything as written, except what must not touch the real
/// router — the port (the simulator's), the lock dir and the store (the demo's temp dir: a
/// simulated SIM's history must not land in the real one), and spending (dry runs only, no
/// carrier API: a simulated balance must never buy anything real).
fn owner_config(
    path: &std::path::Path,
    dir: &std::path::Path,
    port: &std::path::Path,
    listen: Option<std::net::SocketAddr>,
) -> Result<Config, AppError> {
    let mut cfg = Config::load(path)?;
    cfg.modem.port = port.to_path_buf();
    cfg.modem.lock_dir = dir.join("lock");
    cfg.store.path = dir.join("simkeep.db");
    cfg.http.token_file = dir.join("api-token");
    cfg.topup.dry_run = true;
    cfg.apis.clear();
    if let Some(a) = listen {
        cfg.http.listen = Some(a);
    }
    Ok(cfg)
}
