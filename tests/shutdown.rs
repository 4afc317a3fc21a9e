//! Shutdown within procd's window: procd sends SIGTERM, then SIGKILL about 5 s later. The real
//! `simkeep run` as a child process against a simulator kept in this test process must exit in
//! under 5 s with the store flushed, even when SIGTERM lands mid-poll on a hung modem or while a
//! USSD dialogue waits for the network. The store's flush interval is 15 minutes here, so the
//! samples found in the SQLite file afterwards can only have been written by the shutdown flush.
//!
//! Moments are events (a command the simulator saw, a line of the agent's log), never sleeps.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use simkeep::sim::{Fault, Personality};
use support::child::Agent;
use support::Rig;

/// procd's default term_timeout is 5 s; leave a margin for a loaded test machine.
const PROCD_WINDOW: Duration = Duration::from_secs(5);

fn config(rig: &Rig, listen: std::net::SocketAddr) -> String {
    format!(
        "[modem]\nport = \"{port}\"\npoll_interval = \"1s\"\nlock_dir = \"{lock}\"\n\
         [store]\npath = \"{db}\"\nflush_interval = \"15m\"\n[http]\nlisten = \"{listen}\"\n\
         [usage]\nquota = \"10GB\"\nunit_base = 1000\ntimezone = \"UTC\"\n\
         [usage.carrier]\nussd = \"*100#\"\ninterval = \"1m\"\n",
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = db(rig).display(),
    )
}

fn db(rig: &Rig) -> std::path::PathBuf {
    rig.dir.path().join("simkeep.db")
}

fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr")
}

/// Signal samples on disk (0 when the file or table is not there yet).
fn signal_samples(path: &Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COALESCE(SUM(n), 0) FROM signal_samples", [], |r| {
        r.get(0)
    })
    .unwrap_or(0)
}

/// Waits for a log line containing `needle`; the whole log on failure.
fn wait_log(agent: &Agent, needle: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match agent.lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no log line with {needle:?}; log:\n{}", agent.log());
}

/// Waits until the simulator has seen a command starting with `prefix` after the first `skip`.
fn wait_command(rig: &Rig, skip: usize, prefix: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if rig
            .sim
            .commands_seen()
            .iter()
            .skip(skip)
            .any(|c| c.starts_with(prefix))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "the simulator never saw {prefix:?}; it saw {:?}",
        rig.sim.commands_seen()
    );
}

/// SIGTERM, then how long the agent took to exit and its log.
fn term_and_time(agent: Agent) -> (Duration, String) {
    let started = Instant::now();
    let log = agent.stop();
    let took = started.elapsed();
    // Printed for the record (`-- --nocapture`): the figure procd's window is measured against.
    println!("exit {took:?} after SIGTERM");
    (took, log)
}

fn start(rig: &Rig) -> Agent {
    let cfg = rig.dir.path().join("config.toml");
    std::fs::write(&cfg, config(rig, free_port())).unwrap();
    Agent::start(&cfg, &[])
}

#[test]
fn sigterm_mid_poll_on_a_hung_modem_exits_within_procds_window_with_samples_flushed() {
    let rig = Rig::new(Personality::QuectelEc25);
    let agent = start(&rig);
    // A finished poll has recorded a signal sample (buffered: the flush interval is 15 min).
    wait_log(&agent, "signal", Duration::from_secs(20));
    let before = signal_samples(&db(&rig));
    // The modem stops answering; the next poll sends its first command into the void.
    let seen = rig.sim.commands_seen().len();
    rig.sim.fault(Fault::Hang(Duration::from_secs(120)));
    wait_command(&rig, seen, "AT", Duration::from_secs(10));
    let (took, log) = term_and_time(agent);
    assert!(
        took < PROCD_WINDOW,
        "exit took {took:?} (procd kills at 5 s); log:\n{log}"
    );
    let after = signal_samples(&db(&rig));
    assert!(
        after > before && after >= 1,
        "signal samples on disk: {before} before SIGTERM, {after} after; log:\n{log}"
    );
    assert!(log.contains("simkeep stopped in"), "{log}");
}

#[test]
fn sigterm_mid_poll_on_a_slow_modem_exits_within_procds_window() {
    let rig = Rig::new(Personality::QuectelEc25);
    let agent = start(&rig);
    wait_log(&agent, "signal", Duration::from_secs(20));
    let before = signal_samples(&db(&rig));
    // Each reply line now takes 3 s: one poll (a dozen commands) would take over a minute.
    let seen = rig.sim.commands_seen().len();
    rig.sim.fault(Fault::Slow(Duration::from_secs(3)));
    wait_command(&rig, seen, "AT", Duration::from_secs(10));
    let (took, log) = term_and_time(agent);
    assert!(took < PROCD_WINDOW, "exit took {took:?}; log:\n{log}");
    assert!(
        signal_samples(&db(&rig)) > before,
        "samples not flushed; log:\n{log}"
    );
}

#[test]
fn sigterm_during_a_ussd_dialogue_exits_within_procds_window_with_samples_flushed() {
    let rig = Rig::new(Personality::QuectelEc25);
    // The network accepts the balance query and then never answers it: the dialogue stays open.
    rig.sim.set("ussd", "silent").unwrap();
    let agent = start(&rig);
    wait_command(&rig, 0, "AT+CUSD=1", Duration::from_secs(20));
    wait_log(&agent, "signal", Duration::from_secs(20));
    let before = signal_samples(&db(&rig));
    let (took, log) = term_and_time(agent);
    assert!(took < PROCD_WINDOW, "exit took {took:?}; log:\n{log}");
    let after = signal_samples(&db(&rig));
    assert!(
        after > before,
        "signal samples on disk: {before} before SIGTERM, {after} after; log:\n{log}"
    );
}
