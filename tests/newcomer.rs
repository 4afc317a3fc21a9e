//! What a newcomer tripped over (issue 10 §5), one regression test each, on the real binary:
//! `simkeep sim` ignoring SIGTERM while stdin stayed open (and its `--control` FIFO), a one-shot
//! command reading the agent's replies on a port the agent holds, `simkeep demo | head -1`
//! aborting with its temp dir left behind, `demo` ignoring `--config`, and `info` printing a busy
//! SIM right after power-up.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use simkeep::sim::{Personality, SimOptions};
use support::Rig;

fn simkeep() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simkeep"))
}

/// Waits for the child to exit, at most `limit`; its status and how long it took.
fn wait_exit(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn term(child: &Child) {
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

fn get(addr: &str, path: &str) -> Option<serde_json::Value> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    serde_json::from_str(buf.split_once("\r\n\r\n")?.1).ok()
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// `simkeep signal --json` against `port`: the RSRP it reports.
fn rsrp(port: &Path, lock_dir: &Path) -> Option<i64> {
    let out = simkeep()
        .args(["signal", "--json", "--port"])
        .arg(port)
        .arg("--lock-dir")
        .arg(lock_dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["signal"]["rsrp_dbm"].as_f64().map(|r| r.round() as i64)
}

#[test]
fn sim_with_stdin_held_open_exits_at_once_on_sigterm_and_removes_its_link_and_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let ctl = dir.path().join("ctl");
    let locks = dir.path().join("lock");
    let mut child = simkeep()
        .args(["sim", "--set", "rsrp=-110", "--link"])
        .arg(&link)
        .arg("--control")
        .arg(&ctl)
        // A pipe we keep open and never write to: this used to keep `sim` from stopping.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), link.display().to_string());
    assert_eq!(rsrp(&link, &locks), Some(-110));

    // A control line through the FIFO, from a writer that comes and goes.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ctl)
        .unwrap()
        .write_all(b"set rsrp=-95\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rsrp(&link, &locks) != Some(-95) {
        assert!(
            Instant::now() < deadline,
            "`set rsrp=-95` on the FIFO had no effect"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let stdin_kept_open = child.stdin.take();
    term(&child);
    let (status, took) = wait_exit(&mut child, Duration::from_secs(10));
    drop(stdin_kept_open);
    assert!(took < Duration::from_secs(1), "took {took:?} to stop");
    assert!(status.success(), "{status}");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link was left behind"
    );
    assert!(!ctl.exists(), "the control FIFO was left behind");
}

#[test]
fn a_one_shot_command_on_a_port_the_agent_holds_stops_and_names_the_port() {
    let rig = Rig::new(Personality::QuectelEc25);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The "agent": an engine holding the port, with its own lock dir, as the daemon has.
    let agent = rt.block_on(rig.engine());
    // The newcomer's command: same port, another lock dir (so the UUCP lock does not catch it).
    let other_locks = rig.dir.path().join("other-locks");
    let out = simkeep()
        .args(["info", "--json", "--port"])
        .arg(rig.link())
        .arg("--lock-dir")
        .arg(&other_locks)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "it carried on: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "it printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(&rig.link().display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("in use by another program"), "{stderr}");
    assert!(stderr.contains("simkeep agent running"), "{stderr}");
    // The agent's port was not disturbed.
    let r = rt
        .block_on(agent.run("AT"))
        .expect("the agent still talks to its modem");
    assert!(r.lines.is_empty());
}

/// The demo's temp dirs under `tmp`.
fn demo_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().contains("simkeep-demo-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_piped_into_a_reader_that_leaves_after_one_line_ends_cleanly_and_removes_its_temp_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = simkeep()
        .args(["demo", "--seconds", "60", "--listen"])
        .arg(free_addr())
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // `| head -1`: read one line, then close the pipe.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("demo: "), "{line:?}");
    assert_eq!(
        demo_dirs(tmp.path()).len(),
        1,
        "the demo runs in its temp dir"
    );
    drop(out);
    let (status, took) = wait_exit(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{status} after {took:?}");
    assert!(
        demo_dirs(tmp.path()).is_empty(),
        "left behind: {:?}",
        demo_dirs(tmp.path())
    );
}

#[test]
fn demo_honours_config_and_listen() {
    let tmp = tempfile::tempdir().unwrap();
    let from_file = free_addr();
    let listen = free_addr();
    let store = tmp.path().join("real-router.db");
    let cfg = tmp.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[modem]\nport = \"/dev/ttyUSB2\"\npoll_interval = \"1s\"\n\
             [store]\npath = \"{}\"\n[http]\nlisten = \"{from_file}\"\n",
            store.display()
        ),
    )
    .unwrap();
    let run = |extra: &[&str], addr: &str| {
        let mut child = simkeep()
            .args(["demo", "--seconds", "30", "--config"])
            .arg(&cfg)
            .args(extra)
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut intro = String::new();
        for _ in 0..3 {
            out.read_line(&mut intro).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            // The file's 1 s poll on the simulated modem: a poll with an ICCID soon.
            if let Some(s) = get(addr, "/api/v1/status") {
                if s["last_poll"]["sim"]["iccid"].is_string() {
                    break s;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no poll on {addr}; intro:\n{intro}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        term(&child);
        let (code, _) = wait_exit(&mut child, Duration::from_secs(10));
        assert!(code.success(), "{code}");
        (intro, status)
    };
    let (intro, status) = run(&[], &from_file);
    assert!(intro.contains(&cfg.display().to_string()), "{intro}");
    assert!(intro.contains(&from_file), "{intro}");
    assert_eq!(status["link"], "connected", "{status}");
    let (intro, _) = run(&["--listen", &listen], &listen);
    assert!(intro.contains(&listen), "{intro}");
    assert!(
        !store.exists(),
        "the demo wrote into the config's real store"
    );
    assert!(demo_dirs(tmp.path()).is_empty());
}

#[test]
fn info_right_after_power_up_waits_out_the_busy_sim_and_shows_the_iccid() {
    let mut opts = SimOptions::new(Personality::QuectelEc25);
    opts.sim_busy_for = Duration::from_secs(3);
    let rig = Rig::with(opts);
    let started = Instant::now();
    let out = simkeep()
        .args(["info", "--json", "--port"])
        .arg(rig.link())
        .arg("--lock-dir")
        .arg(rig.lock_dir())
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sim"]["state"], "ready", "{v}");
    assert!(v["sim"]["iccid"].is_string(), "{v}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // It really met the busy SIM (the simulator refused SIM questions for 3 s).
    assert!(
        took >= Duration::from_secs(2),
        "took only {took:?}: was the SIM ever busy?"
    );
}
