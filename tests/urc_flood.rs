//! Issue 13 §8 regression: a URC flood must not become a log flood. A 30 s flood once wrote
//! 1.76 MB / 14,297 log lines. Here the real `simkeep run` (a child process, its stderr read
//! line by line) talks to the simulated modem on a pty in this process; 5,000 lines arrive at
//! ~1,000/s — signal reports, registration changes, unknown codes, line noise, unreadable
//! `+CMTI`s and `RDY` restarts — and the agent must log fewer than 100 lines for all of it while
//! its polls are still answered.
//!
//! `SIMKEEP_BIN` runs another build (e.g. main's, for the figure before the fix).

mod support;

use std::time::{Duration, Instant};

use simkeep::sim::{Fault, Personality, SimOptions};
use support::child::{free_port, taken_at, Agent};
use support::Rig;

const FLOOD: usize = 5_000;
const LOG_LIMIT: usize = 100;

/// The `i`th line of the flood: mostly what real modems repeat, with the odd line that each
/// log site in the AT layer, the inbox and the engine's restart handling reacts to.
fn flood_line(i: usize) -> Fault {
    match i % 10 {
        0 => Fault::Garbage(b"\r\n\xff\xfe\x01garbage\xc3\x28\r\n".to_vec()),
        1 => Fault::Urc("+ZZUNKNOWN: 1,2".into()),
        2 => Fault::Urc("+CMTI: \"SM\"".into()),
        3 => Fault::Urc("RDY".into()),
        4 | 5 => Fault::Urc("+QIND: \"csq\",23,99".into()),
        _ => Fault::Urc("+CEREG: 1,\"5A5A\",\"2B3C4D5\",7".into()),
    }
}

#[test]
fn a_flood_of_5000_urcs_logs_under_100_lines_and_polls_are_still_answered() {
    let rig = Rig::with(SimOptions::new(Personality::QuectelEc25));
    let db = rig.dir.path().join("simkeep.db");
    let listen = free_port();
    let cfg = rig.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[modem]\nport = \"{port}\"\npoll_interval = \"2s\"\nlock_dir = \"{lock}\"\n\
             [store]\npath = \"{db}\"\n[http]\nlisten = \"{listen}\"\n",
            port = rig.link().display(),
            lock = rig.lock_dir().display(),
            db = db.display(),
        ),
    )
    .unwrap();
    let agent = Agent::start(&cfg, &[]);
    let t0 = Instant::now();
    let first = loop {
        if let Some(t) = taken_at(listen) {
            break t;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the agent never polled; its log:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let before = agent.log().lines().count();

    // ~1,000 lines a second; a poll (every 2 s) must complete while they come.
    let start = Instant::now();
    let mut polled_during_flood = false;
    for i in 0..FLOOD {
        rig.sim.fault(flood_line(i));
        if i % 500 == 499 {
            polled_during_flood |= taken_at(listen).is_some_and(|t| t != first);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let flood_secs = start.elapsed().as_secs_f64();
    // Let the agent work through what it read, and poll once more after it.
    let settle = Instant::now();
    let mut after = None;
    while settle.elapsed() < Duration::from_secs(6) {
        after = taken_at(listen);
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = agent.stop();
    let flood_log: Vec<&str> = log.lines().skip(before).collect();
    if std::env::var_os("SIMKEEP_FLOOD_SHOW").is_some() {
        eprintln!("{}", flood_log.join("\n"));
    }
    eprintln!(
        "{FLOOD} URCs in {flood_secs:.1} s: {} log lines, {} bytes",
        flood_log.len(),
        flood_log.iter().map(|l| l.len() + 1).sum::<usize>()
    );
    assert!(
        flood_log.len() < LOG_LIMIT,
        "{} log lines for {FLOOD} URCs:\n{}",
        flood_log.len(),
        flood_log.join("\n")
    );
    assert!(
        polled_during_flood,
        "no poll completed during the flood; log:\n{}",
        flood_log.join("\n")
    );
    assert!(
        after.is_some_and(|t| t != first),
        "polling stopped after the flood"
    );
}
