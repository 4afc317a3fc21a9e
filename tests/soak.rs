//! The soak (issue 13 §7): the real `simkeep run` as a child process, polling every 2 s, against
//! the simulated modem kept in this test process, with a random fault every ~10 s and SMS
//! delivered throughout. At the end it prints and checks: the faults survived (by kind), the
//! seconds until polling resumed after each fault ended (p50/max), the agent's resident memory
//! and its drift after a warm-up, the bytes it wrote to storage (and that per day), SMS delivered
//! vs stored in the SQLite file (none lost), and how fast commands were answered during URC
//! storms.
//!
//! Quick unless asked: `SIMKEEP_SOAK_SECS` sets the length (unset: a 20 s smoke run, so
//! `cargo test` stays fast); `scripts/soak.sh SECONDS` sets it. `SIMKEEP_SOAK_SEED` replays a
//! run (the seed is printed); `SIMKEEP_BIN` soaks another build (e.g. the release binary).
//! To split the bytes written between causes, `SIMKEEP_SOAK_SMS=off` delivers no SMS and
//! `SIMKEEP_SOAK_FAULTS=off` injects no fault; `SIMKEEP_SOAK_ONLY=Unplug,Hang` only those kinds.
//! The store keeps the product's 15-minute telemetry batch, so a short run's bytes are what the
//! faults and SMS cost between batches; `SIMKEEP_SOAK_FLUSH_SECS=60` puts batches in the run.
//! Lock files go to a tmpfs (`/dev/shm`) when there is one, as `/var/lock` is on the router.
//! `SIMKEEP_SOAK_LOG=FILE` writes one timeline there — faults, every command the modem received,
//! the agent's log lines (to ~0.1 s) — and `SIMKEEP_SOAK_VERBOSE=v` runs the agent with `-v`.
//!
//! `SIMKEEP_SOAK_STORE=tmpfs` puts the store on a 4 MiB tmpfs (needs root; skipped otherwise)
//! and adds two store faults, each for a few seconds while SMS keep arriving: the file system
//! full, and the file system read-only. Linux refuses to remount a file system read-only while
//! a process holds a file there open for writing (EBUSY), so read-only is injected the way a
//! router meets it: the agent is stopped (SIGTERM), the file system turns read-only, and a new
//! agent starts on it (as procd would respawn it); then the file system is writable again and
//! what the agent held in memory must land. Resident memory is then measured over the last
//! agent process.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use simkeep::sim::{Fault, Personality, SimHandle, SimOptions};
use support::child::{free_port, taken_at, Agent};
use support::tmpfs::SmallFs;
use support::Rig;

/// Length of the smoke run when `SIMKEEP_SOAK_SECS` is unset.
const SMOKE_SECS: u64 = 20;
const POLL_SECS: u64 = 2;
/// SIM commands answer "SIM busy" this long after every (simulated) boot.
const SIM_BUSY: Duration = Duration::from_secs(4);
/// A URC storm: this many lines a second, for this long.
const STORM_RATE: u64 = 1000;
const STORM_LEN: Duration = Duration::from_secs(3);
/// Quiet polls before the first fault (the command watcher learns a normal poll from them).
const FIRST_FAULT_AFTER: Duration = Duration::from_secs(8);
/// Polling must be back this soon after a fault ends.
const RESUME_LIMIT: Duration = Duration::from_secs(30);
/// Allowed growth of resident memory after the warm-up (issue 13 "Done when").
const RSS_DRIFT_LIMIT_KB: i64 = 1024;
/// The flash budget under faults (issue 13 §8).
const WRITE_BUDGET_PER_DAY: u64 = 2 * 1024 * 1024;

/// A tiny xorshift64* generator: reproducible from the printed seed, no new crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Hang,
    Unplug,
    Garbage,
    UrcStorm,
    Slow,
    RebootSimBusy,
    /// The store's file system full for a few seconds (only with `SIMKEEP_SOAK_STORE=tmpfs`).
    StoreFull,
    /// The agent restarted onto a read-only store, writable again a few seconds later (only
    /// with `SIMKEEP_SOAK_STORE=tmpfs`).
    StoreReadOnly,
}

const KINDS: [Kind; 8] = [
    Kind::Hang,
    Kind::Unplug,
    Kind::Garbage,
    Kind::UrcStorm,
    Kind::Slow,
    Kind::RebootSimBusy,
    Kind::StoreFull,
    Kind::StoreReadOnly,
];

/// One fault injected: when it ended, and when polling was seen to resume after that.
struct Injected {
    kind: Kind,
    /// When it started and how long it was in force.
    started: Instant,
    lasted: Duration,
    ended: Instant,
    /// `last_poll.taken_at` as it was when the fault ended.
    taken_at_then: Option<String>,
    resumed_after: Option<Duration>,
}

/// `write_bytes` (what reached the block layer) and `wchar` (every write call) from /proc.
fn io_bytes(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("write_bytes:"), field("wchar:"))
}

/// Every command the simulator received, each with the moment this watcher first saw it. The
/// simulator keeps only its last 1000 commands, so new ones are found by lining the new list up
/// against the previous one.
struct CommandClock {
    seen: Mutex<Vec<(Instant, String)>>,
    stop: AtomicBool,
}

/// Most commands kept by the watcher (a long soak must not grow the test without bound).
const CLOCK_CAP: usize = 500_000;

impl CommandClock {
    fn run(&self, rig: &Rig) {
        let mut prev: Vec<String> = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            let now_list = rig.sim.commands_seen();
            let t = Instant::now();
            let fresh = new_tail(&prev, &now_list);
            if !fresh.is_empty() {
                let mut seen = self.seen.lock().unwrap();
                for c in fresh {
                    if seen.len() < CLOCK_CAP {
                        seen.push((t, c.clone()));
                    }
                }
            }
            prev = now_list;
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The commands at the end of `now` that `prev` did not have: `now` is `prev` with `k` commands
/// dropped from the front (the simulator's window) and some appended.
fn new_tail<'a>(prev: &[String], now: &'a [String]) -> &'a [String] {
    for k in 0..=prev.len() {
        let kept = &prev[k..];
        if now.len() >= kept.len() && now[..kept.len()] == *kept {
            return &now[kept.len()..];
        }
    }
    now
}

/// The value at fraction `p` of a sorted list, as text ("n/a" for an empty list).
fn percentile(sorted: &[f64], p: f64, decimals: usize) -> String {
    let Some(last) = sorted.len().checked_sub(1) else {
        return "n/a".to_string();
    };
    let i = (last as f64 * p).round() as usize;
    format!("{:.*}", decimals, sorted[i.min(last)])
}

/// Where the agent's UUCP lock files go: a tmpfs when the machine has one, as on the router
/// (`/var/lock` is in RAM on OpenWrt), so that the bytes written are the store's alone.
fn lock_dir(rig: &Rig) -> (std::path::PathBuf, Option<tempfile::TempDir>) {
    match tempfile::tempdir_in("/dev/shm") {
        Ok(d) => (d.path().to_path_buf(), Some(d)),
        Err(_) => (rig.lock_dir(), None),
    }
}

fn config(rig: &Rig, listen: SocketAddr, db: &std::path::Path, lock: &std::path::Path) -> String {
    format!(
        "[modem]\nport = \"{port}\"\npoll_interval = \"{POLL_SECS}s\"\nlock_dir = \"{lock}\"\n\
         [store]\npath = \"{db}\"\n{flush}[http]\nlisten = \"{listen}\"\n",
        port = rig.link().display(),
        lock = lock.display(),
        // The product's 15-minute batch unless asked: a short run then reports what faults
        // cost between batches; SIMKEEP_SOAK_FLUSH_SECS=60 puts batches inside the run.
        flush = std::env::var("SIMKEEP_SOAK_FLUSH_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(|s| format!("flush_interval = \"{s}s\"\n"))
            .unwrap_or_default(),
        db = db.display(),
    )
}

/// Lines a storm sends, alternating: a Quectel signal report and a registration change.
const STORM_URCS: [&str; 2] = ["+QIND: \"csq\",23,99", "+CEREG: 1,\"5A5A\",\"2B3C4D5\",7"];

/// What the environment asks of this run (see the module header).
struct Settings {
    secs: u64,
    seed: u64,
    sms_on: bool,
    faults_on: bool,
    kinds: Vec<Kind>,
    /// `-v`/`-vv` for the agent.
    verbose: Vec<String>,
    /// The store on a small tmpfs of its own, which the soak fills now and then.
    store_tmpfs: bool,
}

fn settings() -> Settings {
    let secs: u64 = std::env::var("SIMKEEP_SOAK_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(SMOKE_SECS)
        .max(10);
    let seed: u64 = std::env::var("SIMKEEP_SOAK_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("soak: {secs} s, seed {seed} (SIMKEEP_SOAK_SEED={seed} replays it)");
    let off = |name: &str| std::env::var(name).is_ok_and(|v| v.trim() == "off");
    let (sms_on, faults_on) = (!off("SIMKEEP_SOAK_SMS"), !off("SIMKEEP_SOAK_FAULTS"));
    if !sms_on || !faults_on {
        println!("soak: SMS {sms_on}, faults {faults_on}");
    }
    let kinds: Vec<Kind> = match std::env::var("SIMKEEP_SOAK_ONLY") {
        Ok(only) => KINDS
            .into_iter()
            .filter(|k| only.split(',').any(|o| o.trim() == format!("{k:?}")))
            .collect(),
        Err(_) => KINDS.to_vec(),
    };
    assert!(
        !kinds.is_empty(),
        "SIMKEEP_SOAK_ONLY names none of {KINDS:?}"
    );
    let verbose = std::env::var("SIMKEEP_SOAK_VERBOSE")
        .ok()
        .map(|v| format!("-{}", v.trim()))
        .into_iter()
        .collect();
    let store_tmpfs = std::env::var("SIMKEEP_SOAK_STORE").is_ok_and(|v| v.trim() == "tmpfs");
    Settings {
        secs,
        seed,
        sms_on,
        faults_on,
        kinds,
        verbose,
        store_tmpfs,
    }
}

#[test]
fn the_agent_survives_random_faults_resumes_polling_keeps_its_memory_and_loses_no_sms() {
    let Settings {
        secs,
        seed,
        sms_on,
        faults_on,
        mut kinds,
        verbose,
        store_tmpfs,
    } = settings();
    let mut rng = Rng::new(seed);
    // With SIMKEEP_SOAK_STORE=tmpfs the store lives on a 4 MiB tmpfs that the soak fills now
    // and then (bytes written then mean nothing: it is RAM). A read-only remount cannot be
    // had while the agent holds the file open for writing (EBUSY); tests/store_faults.rs
    // covers read-only at the store's level.
    let small_fs = if store_tmpfs {
        let fs = SmallFs::mount("4m");
        if fs.is_none() {
            println!("soak: SKIPPED store faults: cannot mount a tmpfs (not root?)");
        }
        fs
    } else {
        None
    };
    if small_fs.is_none() {
        kinds.retain(|k| !matches!(k, Kind::StoreFull | Kind::StoreReadOnly));
    }
    assert!(!kinds.is_empty(), "no fault kind left to inject");

    let mut opts = SimOptions::new(Personality::QuectelEc25);
    opts.sim_busy_for = SIM_BUSY;
    let rig = Rig::with(opts);
    // The store on the disk under test, not a tmpfs, so write_bytes means flash writes
    // (unless the run asked for store faults).
    let db = small_fs
        .as_ref()
        .map_or(rig.dir.path(), SmallFs::path)
        .join("simkeep.db");
    let mut filler: Option<std::path::PathBuf> = None;
    let listen = free_port();
    let cfg = rig.dir.path().join("config.toml");
    let (lock, _lock_tmp) = lock_dir(&rig);
    std::fs::write(&cfg, config(&rig, listen, &db, &lock)).unwrap();

    let clock = CommandClock {
        seen: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    };
    let storm_windows: Mutex<Vec<(Instant, Instant, u64)>> = Mutex::new(Vec::new());

    let mut agent = Agent::start(&cfg, &verbose);
    // The logs of agents stopped for a read-only restart, and how many restarts there were.
    let mut earlier_logs = String::new();
    let mut restarts = 0u32;
    let t0 = Instant::now();
    while taken_at(listen).is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the agent never polled; its log:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let warm_up = Duration::from_secs((secs / 4).clamp(8, 30));
    let rss_start = agent.rss_kb();
    let (mut wb_start, mut wchar_start) = io_bytes(agent.pid());
    let mut rss_warm: Option<u64> = None;
    // Memory is measured over one process: after a restart, the warm-up starts again.
    let mut rss_since = start;

    let mut injected: Vec<Injected> = Vec::new();
    let mut delivered: Vec<String> = Vec::new();
    let mut deliver_errors: Vec<String> = Vec::new();
    // The first fault after a few quiet polls (the command clock learns a normal poll from them).
    let mut next_fault = start + FIRST_FAULT_AFTER;
    let mut next_sms = start + Duration::from_secs(1);
    // A fault in force: its kind and when it ends (then, what to undo).
    let mut active: Option<(Kind, Instant, Instant)> = None;
    // The agent's log lines with the moment they were read (for SIMKEEP_SOAK_LOG).
    let mut timed_log: Vec<(Instant, String)> = Vec::new();

    std::thread::scope(|scope| {
        scope.spawn(|| clock.run(&rig));
        let mut storm: Option<std::thread::ScopedJoinHandle<'_, ()>> = None;
        while Instant::now() < end || active.is_some() {
            let now = Instant::now();
            if rss_warm.is_none() && now >= rss_since + warm_up {
                rss_warm = Some(agent.rss_kb());
            }
            // A fault that was in force has ended: undo it, and wait for a poll after it.
            while let Ok(line) = agent.lines.try_recv() {
                timed_log.push((Instant::now(), line));
            }
            if let Some((kind, until, began)) = active {
                let done = match kind {
                    Kind::UrcStorm => storm.as_ref().is_none_or(|h| h.is_finished()),
                    _ => now >= until,
                };
                if done {
                    if kind == Kind::Slow {
                        rig.sim.fault(Fault::Slow(Duration::ZERO));
                    }
                    if let Some(f) = filler.take() {
                        let _ = std::fs::remove_file(f);
                    }
                    if kind == Kind::StoreReadOnly {
                        if let Some(fs) = &small_fs {
                            fs.remount("rw");
                        }
                    }
                    if let Some(h) = storm.take() {
                        h.join().unwrap();
                    }
                    injected.push(Injected {
                        kind,
                        started: began,
                        lasted: began.elapsed(),
                        ended: Instant::now(),
                        taken_at_then: taken_at(listen),
                        resumed_after: None,
                    });
                    active = None;
                }
            }
            mark_resumed(&mut injected, listen);
            // SMS throughout — but not while the modem is unplugged: the simulator answers
            // controls only once it is back, and a message delivered late would look lost here.
            if sms_on && now >= next_sms && active.map(|a| a.0) != Some(Kind::Unplug) && now < end {
                let text = format!("soak {}", delivered.len() + deliver_errors.len());
                match rig.sim.set("deliver_sms", &format!("1234|{text}")) {
                    Ok(()) => delivered.push(text),
                    Err(e) => deliver_errors.push(format!("{text}: {e}")),
                }
                next_sms = now + Duration::from_millis(2000 + rng.below(2000));
            }
            // One fault at a time, and the next only once polling is back after the last:
            // a fault striking before then would be counted in the last one's resume time.
            let settled = injected.iter().all(|f| f.resumed_after.is_some());
            if faults_on && active.is_none() && settled && now >= next_fault && now < end {
                // A run with the store on a tmpfs fills it first and then makes it read-only,
                // so even a short run has both.
                let first_of = |k: Kind| {
                    (kinds.contains(&k) && !injected.iter().any(|f| f.kind == k)).then_some(k)
                };
                let kind = first_of(Kind::StoreFull)
                    .or_else(|| first_of(Kind::StoreReadOnly))
                    .unwrap_or_else(|| kinds[rng.below(kinds.len() as u64) as usize]);
                let until = match kind {
                    // On a thread of its own, so the resume and SMS checks go on meanwhile.
                    Kind::UrcStorm => {
                        let (sim, windows) = (&rig.sim, &storm_windows);
                        storm = Some(scope.spawn(move || {
                            let window = urc_storm(sim);
                            windows.lock().unwrap().push(window);
                        }));
                        now + STORM_LEN
                    }
                    Kind::StoreFull => {
                        filler = small_fs.as_ref().map(SmallFs::fill);
                        now + Duration::from_secs(3 + rng.below(6))
                    }
                    Kind::StoreReadOnly => {
                        while let Ok(line) = agent.lines.try_recv() {
                            timed_log.push((Instant::now(), line));
                        }
                        // The old agent must be gone before the remount and the new start
                        // (it holds the database, the port's lock and the HTTP port).
                        earlier_logs.push_str(&agent.terminate());
                        earlier_logs.push('\n');
                        if let Some(fs) = &small_fs {
                            fs.remount("ro");
                        }
                        agent = Agent::start(&cfg, &verbose);
                        restarts += 1;
                        rss_warm = None;
                        rss_since = Instant::now();
                        (wb_start, wchar_start) = io_bytes(agent.pid());
                        Instant::now() + Duration::from_secs(3 + rng.below(6))
                    }
                    _ => now + inject(&rig.sim, &mut rng, kind),
                };
                active = Some((kind, until, now));
                next_fault = now + Duration::from_millis(8000 + rng.below(4000));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Polling must come back after the last fault too.
        let deadline = Instant::now() + RESUME_LIMIT;
        while !mark_resumed(&mut injected, listen) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        clock.stop.store(true, Ordering::Relaxed);
    });
    let ran = start.elapsed();
    let rss_end = agent.rss_kb();
    // After a late restart the last process may not have finished its warm-up: no drift then.
    let rss_warm_known = rss_warm;
    let rss_warm = rss_warm.unwrap_or(rss_end);
    let (wb_end, wchar_end) = io_bytes(agent.pid());

    // Every delivered message must leave the modem for the store before the agent stops.
    let drain_deadline = Instant::now() + Duration::from_secs(60);
    while rig.sim.set("check_stored", "0").is_err() && Instant::now() < drain_deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let on_modem = rig.sim.set("check_stored", "0").err();
    while let Ok(line) = agent.lines.try_recv() {
        timed_log.push((Instant::now(), line));
    }
    let log = earlier_logs + &agent_stop(agent);
    if let Ok(path) = std::env::var("SIMKEEP_SOAK_LOG") {
        write_timeline(
            &path,
            start,
            &injected,
            &clock.seen.lock().unwrap(),
            &timed_log,
        );
    }

    let stored = stored_sms(&db);
    let stored_set: HashSet<&str> = stored.iter().map(String::as_str).collect();
    let lost: Vec<&String> = delivered
        .iter()
        .filter(|t| !stored_set.contains(t.as_str()))
        .collect();
    let duplicates = stored.len().saturating_sub(stored_set.len());

    let windows = storm_windows.lock().unwrap().clone();
    let storm_gaps = storm_answer_times(
        &clock.seen.lock().unwrap(),
        start + FIRST_FAULT_AFTER,
        &windows,
    );
    let storm_rates: Vec<u64> = windows
        .iter()
        .map(|(a, b, n)| (*n as f64 / b.duration_since(*a).as_secs_f64()) as u64)
        .collect();

    let written = wb_end.saturating_sub(wb_start);
    let wchar = wchar_end.saturating_sub(wchar_start);
    let per_day = |b: u64| (b as f64 * 86_400.0 / ran.as_secs_f64().max(1.0)) as u64;
    let drift = rss_end as i64 - rss_warm as i64;
    println!(
        "soak report ({:.0} s, {POLL_SECS} s polling, seed {seed}):",
        ran.as_secs_f64()
    );
    print!("{}", fault_report(&injected));
    match (restarts, rss_warm_known) {
        (0, _) => println!(
            "  RSS: {rss_start} kB at start, {rss_warm} kB after {} s warm-up, {rss_end} kB at \
             end (drift {drift} kB)",
            warm_up.as_secs()
        ),
        (n, Some(_)) => println!(
            "  RSS: {rss_start} kB at start; the agent was restarted {n} times (read-only \
             store); its last process: {rss_warm} kB after {} s warm-up, {rss_end} kB at end \
             (drift {drift} kB)",
            warm_up.as_secs()
        ),
        (n, None) => println!(
            "  RSS: {rss_start} kB at start; the agent was restarted {n} times (read-only \
             store), the last too late for a warm-up: {rss_end} kB at end, drift not measured"
        ),
    }
    if small_fs.is_some() {
        let since = if restarts > 0 {
            " since the last restart"
        } else {
            ""
        };
        println!("  written: n/a (the store was on a tmpfs), {wchar} B in write calls{since}");
    } else {
        println!(
            "  written: {written} B to storage (write_bytes; ≈ {} B/day), {wchar} B in write \
             calls (wchar, includes the log on stderr)",
            per_day(written)
        );
    }
    println!(
        "  SMS: {} delivered, {} stored, {} lost, {} duplicated, {} not delivered by the \
         simulator{}",
        delivered.len(),
        stored.len(),
        lost.len(),
        duplicates,
        deliver_errors.len(),
        on_modem
            .as_deref()
            .map(|e| format!("; left on the modem: {e}"))
            .unwrap_or_default()
    );
    println!(
        "  URC storms: {} at {:?} lines/s; commands answered in p50 {} s, max {} s \
         ({} answers timed, to the watcher's 5 ms)",
        windows.len(),
        storm_rates,
        percentile(&storm_gaps, 0.5, 3),
        percentile(&storm_gaps, 1.0, 3),
        storm_gaps.len()
    );
    println!(
        "  agent log (stderr, default level): {} lines, {} B",
        log.lines().count(),
        log.len()
    );
    if small_fs.is_none() && per_day(written) > WRITE_BUDGET_PER_DAY {
        println!(
            "  NOTE: {} B/day is over the 2 MB/day budget of issue 13 §8 (reported, not asserted)",
            per_day(written)
        );
    }

    // Whether a full file system bit: SQLite reuses the pages of its WAL file, so a write that
    // fits there succeeds on a full disk, as it would on the router. When it bit, the message
    // stayed on the modem and "0 lost" above shows it landed afterwards.
    if injected.iter().any(|f| f.kind == Kind::StoreFull) {
        println!(
            "  store full: the agent reported it {} times",
            log.matches("full file system").count()
        );
    }
    if restarts > 0 {
        println!(
            "  store read-only: {restarts} restarts onto it; the agent reported it {} times",
            log.matches("read-only").count()
        );
    }

    let late: Vec<String> = injected
        .iter()
        .filter(|f| f.resumed_after.is_none())
        .map(|f| format!("{:?}", f.kind))
        .collect();
    assert!(
        late.is_empty(),
        "polling did not resume within {} s after: {late:?}; the agent's log:\n{log}",
        RESUME_LIMIT.as_secs()
    );
    assert!(
        lost.is_empty() && on_modem.is_none(),
        "SMS lost: {lost:?} ({on_modem:?}); the agent's log:\n{log}"
    );
    assert_eq!(duplicates, 0, "SMS stored twice: {stored:?}");
    assert!(
        drift < RSS_DRIFT_LIMIT_KB,
        "resident memory grew {drift} kB after the warm-up ({rss_warm} → {rss_end} kB)"
    );
    assert!(
        storm_gaps.iter().all(|&g| g < 1.0),
        "a command took ≥ 1 s to be answered during a URC storm: {storm_gaps:?}"
    );
    assert!(
        !sms_on || !delivered.is_empty(),
        "no SMS was delivered: {deliver_errors:?}"
    );
}

/// One timeline for chasing a slow resume: faults, the commands the modem received (to the
/// watcher's 5 ms) and the agent's log lines (to the soak loop's 0.1 s), in seconds from `start`.
fn write_timeline(
    path: &str,
    start: Instant,
    injected: &[Injected],
    commands: &[(Instant, String)],
    log: &[(Instant, String)],
) {
    let at = |t: Instant| t.saturating_duration_since(start).as_secs_f64();
    let mut rows: Vec<(f64, String)> = Vec::new();
    for f in injected {
        let back = f
            .resumed_after
            .map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
        rows.push((at(f.started), format!("FAULT {:?} begins", f.kind)));
        rows.push((
            at(f.ended),
            format!(
                "FAULT {:?} ends after {:.1} s; polling back after {back}",
                f.kind,
                f.lasted.as_secs_f64()
            ),
        ));
    }
    rows.extend(commands.iter().map(|(t, c)| (at(*t), format!("> {c}"))));
    rows.extend(log.iter().map(|(t, l)| (at(*t), format!("agent: {l}"))));
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let text: String = rows.iter().map(|(t, r)| format!("{t:9.3} {r}\n")).collect();
    if let Err(e) = std::fs::write(path, text) {
        println!("soak: cannot write SIMKEEP_SOAK_LOG={path}: {e}");
    }
}

/// The report's lines on faults: per kind, how many, how many polling resumed after and the
/// slowest; then p50/max of the seconds from a fault's end to the next successful poll.
fn fault_report(injected: &[Injected]) -> String {
    let mut by_kind: BTreeMap<Kind, (usize, usize, f64)> = BTreeMap::new();
    for f in injected {
        let e = by_kind.entry(f.kind).or_default();
        e.0 += 1;
        if let Some(d) = f.resumed_after {
            e.1 += 1;
            e.2 = e.2.max(d.as_secs_f64());
        }
    }
    let mut out = String::new();
    for (k, (n, ok, slowest)) in &by_kind {
        out.push_str(&format!(
            "  fault {k:?}: {n} injected, polling resumed after {ok} (slowest {slowest:.1} s)\n"
        ));
    }
    let mut resume: Vec<f64> = injected
        .iter()
        .filter_map(|f| f.resumed_after.map(|d| d.as_secs_f64()))
        .collect();
    resume.sort_by(f64::total_cmp);
    out.push_str(&format!(
        "  resume after a fault ended: p50 {} s, max {} s ({} faults)\n",
        percentile(&resume, 0.5, 1),
        percentile(&resume, 1.0, 1),
        injected.len()
    ));
    out
}

/// Polling resumed after the faults that ended once a new successful poll is visible. Returns
/// true when polling resumed after every fault.
fn mark_resumed(injected: &mut [Injected], listen: SocketAddr) -> bool {
    if injected.iter().all(|f| f.resumed_after.is_some()) {
        return true;
    }
    let t = taken_at(listen);
    let mut all = true;
    for f in injected.iter_mut().filter(|f| f.resumed_after.is_none()) {
        if t.is_some() && t != f.taken_at_then {
            f.resumed_after = Some(f.ended.elapsed());
        } else {
            all = false;
        }
    }
    all
}

/// Injects a fault (not a storm); returns how long it stays in force.
fn inject(sim: &SimHandle, rng: &mut Rng, kind: Kind) -> Duration {
    match kind {
        Kind::Hang => {
            let d = Duration::from_secs(3 + rng.below(6));
            sim.fault(Fault::Hang(d));
            d
        }
        Kind::Unplug => {
            let d = Duration::from_secs(1 + rng.below(4));
            sim.fault(Fault::Unplug(d));
            d
        }
        Kind::Garbage => {
            let n = 64 + rng.below(512) as usize;
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            sim.fault(Fault::Garbage(bytes));
            Duration::ZERO
        }
        Kind::Slow => {
            sim.fault(Fault::Slow(Duration::from_millis(100 + rng.below(300))));
            Duration::from_secs(3 + rng.below(4))
        }
        // The simulator's SIM answers "SIM busy" for SIM_BUSY after each boot.
        Kind::RebootSimBusy => {
            sim.fault(Fault::Reboot);
            SIM_BUSY
        }
        Kind::UrcStorm => {
            urc_storm(sim);
            Duration::ZERO
        }
        // The soak's loop fills the store's tmpfs, or restarts the agent onto it read-only.
        Kind::StoreFull | Kind::StoreReadOnly => Duration::ZERO,
    }
}

/// STORM_RATE URC lines a second for STORM_LEN; returns (from, to, lines sent).
fn urc_storm(sim: &SimHandle) -> (Instant, Instant, u64) {
    let from = Instant::now();
    let mut sent = 0u64;
    while from.elapsed() < STORM_LEN {
        // Paced over the whole storm, not in bursts.
        let due = (from.elapsed().as_secs_f64() * STORM_RATE as f64) as u64;
        while sent < due {
            sim.fault(Fault::Urc(STORM_URCS[(sent % 2) as usize].to_string()));
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    (from, Instant::now(), sent)
}

/// The bodies of the messages in the store, read from the file after the agent stopped.
fn stored_sms(db: &std::path::Path) -> Vec<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the store")
        .block_on(async {
            let store = simkeep::store::StoreHandle::start(simkeep::store::StoreConfig::new(
                db.to_path_buf(),
            ))
            .expect("the store opens after the soak");
            let rows = store.list_sms(None, 100_000).await.expect("list sms");
            store.shutdown().await.expect("store shuts down");
            rows.into_iter().map(|r| r.sms.body).collect()
        })
}

/// Command answer times during storms (sorted, seconds): the gap between a poll command and the
/// next one of the same poll (the engine sends the next once the previous is answered). Which
/// command follows which inside a poll is learnt from the quiet polls before `quiet_until`: pairs
/// seen back to back at least twice. SMS commands are left out: a storage scan queued behind a
/// poll would pass for its next command, and `AT+CMGD` waits for the store's commit.
fn storm_answer_times(
    seen: &[(Instant, String)],
    quiet_until: Instant,
    storms: &[(Instant, Instant, u64)],
) -> Vec<f64> {
    let sms = |c: &str| {
        ["AT+CMG", "AT+CPMS", "AT+CNMI"]
            .iter()
            .any(|p| c.starts_with(p))
    };
    let mut pairs: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for w in seen.windows(2) {
        if w[1].0 < quiet_until
            && w[1].0.duration_since(w[0].0) < Duration::from_millis(500)
            && !sms(&w[0].1)
            && !sms(&w[1].1)
        {
            *pairs.entry((&w[0].1, &w[1].1)).or_default() += 1;
        }
    }
    let intra: HashSet<(&str, &str)> = pairs
        .into_iter()
        .filter(|(_, n)| *n >= 2)
        .map(|(p, _)| p)
        .collect();
    let mut gaps: Vec<f64> = seen
        .windows(2)
        .filter(|w| storms.iter().any(|(a, b, _)| w[0].0 >= *a && w[1].0 <= *b))
        .filter(|w| intra.contains(&(w[0].1.as_str(), w[1].1.as_str())))
        .map(|w| w[1].0.duration_since(w[0].0).as_secs_f64())
        .collect();
    gaps.sort_by(f64::total_cmp);
    gaps
}

/// SIGTERM, and the agent's whole log.
fn agent_stop(agent: Agent) -> String {
    agent.stop()
}
