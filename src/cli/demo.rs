//! `simkeep sim` (the simulator alone, driven from stdin) and `simkeep demo` (simulator and
//! agent together, so a newcomer sees simkeep work on no hardware).

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

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

pub async fn sim(
    link: Option<PathBuf>,
    name: &str,
    set: &[String],
    sim_busy: u64,
    noise: Option<u64>,
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
    let handle = sim::start(opts).map_err(sim_error)?;
    println!("{}", handle.path().display());
    eprintln!("simulated {name} modem ready; control lines on stdin: set KEY=VALUE | hang SECS | unplug SECS | reboot | urc LINE | garbage");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let stop = crate::agent::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(l)) => control(&handle, &l),
                // stdin closed (e.g. started with </dev/null): keep simulating until a signal.
                _ => stdin_open = false,
            }
        }
    }
    Ok(())
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

pub async fn demo(name: &str, seconds: Option<u64>) -> Result<(), AppError> {
    let dir = std::env::temp_dir().join(format!("simkeep-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        AppError::new(
            ExitKind::Failure,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let mut opts = SimOptions::new(personality(name)?);
    opts.link = Some(dir.join("modem"));
    opts.sim_busy_for = Duration::from_secs(2);
    let handle = std::sync::Arc::new(sim::start(opts).map_err(sim_error)?);
    // The story: 700 MB left, the line uses 50 MB every few seconds, the carrier warns below
    // 500 MB, the policy buys through the carrier's USSD menu (items shuffled, chosen by text),
    // and the receipt and the balance confirm it.
    let _ = handle.set("balance_mb", &DEMO_START_MB.to_string());
    let _ = handle.set("menu_order", "shuffle");
    let text = format!(
        "[modem]\nport = \"{}\"\npoll_interval = \"3s\"\nlock_dir = \"{}\"\n[store]\npath = \"{}\"\n[http]\nlisten = \"127.0.0.1:8787\"\n\
         [usage]\nquota = \"3GB\"\nunit_base = 1000\ntimezone = \"Africa/Dar_es_Salaam\"\n[usage.carrier]\nussd = \"*100#\"\ninterval = \"1m\"\n{DEMO_TOPUP}",
        handle.path().display(),
        dir.join("lock").display(),
        dir.join("simkeep.db").display()
    );
    let cfg = Config::parse(&text, &dir.join("demo.toml"))?;
    eprintln!(
        "demo: simulated {name} modem at {}; agent polling every 3 s",
        handle.path().display()
    );
    eprintln!("demo: open http://127.0.0.1:8787/ or run: curl http://127.0.0.1:8787/api/v1/status");
    eprintln!("demo: the SIM starts with {DEMO_START_MB} MB; the agent tops up when the carrier warns below 500 MB (simkeep topup history shows it)");
    let drain = Drain::start(handle.clone());
    let stop = async move {
        match seconds {
            Some(s) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(s)) => {}
                    _ = crate::agent::shutdown_signal() => {}
                }
            }
            None => crate::agent::shutdown_signal().await,
        }
    };
    let result = crate::agent::run(cfg, stop).await;
    drain.stop();
    drop(handle);
    let _ = std::fs::remove_dir_all(&dir);
    result
}
