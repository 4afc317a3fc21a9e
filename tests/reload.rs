//! `simkeep run` as procd runs it: SIGHUP reloads the config (a bad edit is refused and the
//! running agent carries on), SIGTERM stops it cleanly and releases the port lock.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use simkeep::sim::Personality;
use support::Rig;

fn wait_for(path: &std::path::Path, needle: &str, secs: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{needle:?} never logged:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn sighup_reloads_a_good_config_refuses_a_bad_one_and_sigterm_stops_cleanly() {
    let rig = Rig::new(Personality::Generic);
    let cfg = rig.dir.path().join("config.toml");
    let good = format!(
        "[modem]\nport = \"{}\"\nlock_dir = \"{}\"\npoll_interval = \"1s\"\n[store]\npath = \"{}\"\n[http]\nlisten = \"\"\n[usage]\nquota = \"1GB\"\n[usage.carrier]\nussd = \"*100#\"\n",
        rig.link().display(),
        rig.lock_dir().display(),
        rig.dir.path().join("db").display()
    );
    std::fs::write(&cfg, &good).unwrap();
    let log = rig.dir.path().join("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The balance query leaves a USSD client holding the AT engine: the reload must still stop
    // that engine and free the port for the restarted agent.
    wait_for(&log, "carrier balance", 15);

    std::fs::write(&cfg, good.replace("poll_interval", "poll_intervall")).unwrap();
    signal(child.id(), libc::SIGHUP);
    let text = wait_for(&log, "config not reloaded", 10);
    assert!(text.contains("poll_intervall"), "{text}");

    std::fs::write(&cfg, good.replace("\"1s\"", "\"2s\"")).unwrap();
    signal(child.id(), libc::SIGHUP);
    wait_for(&log, "config reloaded", 10);
    // The restarted agent takes the port (and its lock) again.
    let after = wait_for(&log, "polled every 2s", 15);
    assert!(after.matches("modem connected").count() >= 2, "{after}");

    signal(child.id(), libc::SIGTERM);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "simkeep did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let lock_left = std::fs::read_dir(rig.lock_dir()).unwrap().count();
    assert_eq!(lock_left, 0, "the UUCP lock is released on exit");
}
