//! The `simkeep` binary as a user meets it: real commands against the simulator over a pty, and
//! every kind of bad input giving one clear line and a non-zero exit.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use simkeep::sim::Personality;
use support::Rig;

fn simkeep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(args)
        .output()
        .expect("run simkeep")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The error is one line, starts with "simkeep:", and contains every needle.
fn assert_one_line_error(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("simkeep: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
}

fn at(rig: &Rig, cmd: &str) -> Output {
    let port = rig.link();
    let lock = rig.lock_dir();
    simkeep(&[
        "at",
        "--port",
        port.to_str().unwrap(),
        "--lock-dir",
        lock.to_str().unwrap(),
        cmd,
    ])
}

#[test]
fn at_prints_the_reply_lines_and_ok() {
    let rig = Rig::new(Personality::Generic);
    let o = at(&rig, "AT+CSQ");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("+CSQ: "), "{out}");
    assert_eq!(lines[1], "OK");
}

#[test]
fn at_exits_3_when_the_modem_says_error() {
    let rig = Rig::new(Personality::Generic);
    let o = at(&rig, "AT+BOGUS");
    assert_one_line_error(&o, 3, &["AT+BOGUS", "ERROR"]);
}

#[test]
fn an_at_timeout_out_of_range_is_refused_before_the_port_is_touched() {
    let rig = Rig::new(Personality::Generic);
    let port = rig.link();
    let lock = rig.lock_dir();
    for t in ["0", "86400"] {
        let o = simkeep(&[
            "--port",
            port.to_str().unwrap(),
            "--lock-dir",
            lock.to_str().unwrap(),
            "at",
            "--timeout",
            t,
            "AT+CSQ",
        ]);
        assert_one_line_error(&o, 2, &["--timeout", "out of range", "180s"]);
    }
    assert!(
        rig.sim.commands_seen().is_empty(),
        "{:?}",
        rig.sim.commands_seen()
    );
}

#[test]
fn a_command_smuggling_a_second_one_never_reaches_the_modem() {
    let rig = Rig::new(Personality::Generic);
    let o = at(&rig, "AT+CUSD=1,\"*100#\"\r\nAT+CFUN=0");
    assert_one_line_error(&o, 2, &["refused", "\\r\\nAT+CFUN=0"]);
    assert!(
        rig.sim.commands_seen().iter().all(|c| !c.contains("CFUN")),
        "{:?}",
        rig.sim.commands_seen()
    );
}

#[test]
fn a_missing_port_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let o = simkeep(&[
        "at",
        "--port",
        "/dev/ttyUSB97",
        "--lock-dir",
        dir.path().to_str().unwrap(),
        "AT",
    ]);
    assert_one_line_error(&o, 4, &["/dev/ttyUSB97", "does not exist"]);
}

#[test]
fn a_directory_given_as_port_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = simkeep(&["at", "--port", d, "--lock-dir", d, "AT"]);
    assert_one_line_error(&o, 4, &[d, "is a directory"]);
}

#[test]
fn a_port_locked_by_a_live_process_is_refused() {
    let rig = Rig::new(Personality::Generic);
    std::fs::create_dir_all(rig.lock_dir()).unwrap();
    let real = std::fs::canonicalize(rig.link()).unwrap();
    let lock = rig.lock_dir().join(format!(
        "LCK..{}",
        real.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&lock, "         1\n").unwrap();
    let o = at(&rig, "AT");
    assert_one_line_error(&o, 4, &["in use by process 1", "LCK.."]);
    assert!(rig.sim.commands_seen().is_empty());
}

#[test]
fn a_port_without_permission_says_so() {
    // Root may open anything, so run the command as nobody (uid 65534) against the pty, which
    // belongs to root with mode 0620.
    let rig = Rig::new(Personality::Generic);
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(rig.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let real = std::fs::canonicalize(rig.link()).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args([
            "at",
            "--port",
            real.to_str().unwrap(),
            "--lock-dir",
            shared.path().to_str().unwrap(),
            "AT",
        ])
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run as nobody");
    assert_one_line_error(&o, 4, &[real.to_str().unwrap(), "no permission"]);
}

#[test]
fn a_config_typo_names_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[modem]\nport = \"/dev/ttyUSB2\"\npoll_intervall = \"30s\"\n",
    )
    .unwrap();
    let o = simkeep(&["check-config", "--config", cfg.to_str().unwrap()]);
    assert_one_line_error(&o, 2, &["poll_intervall", "line 3", cfg.to_str().unwrap()]);
}

#[test]
fn a_missing_config_file_names_the_path() {
    let o = simkeep(&["run", "--config", "/nonexistent/simkeep.toml"]);
    assert_one_line_error(&o, 2, &["/nonexistent/simkeep.toml", "no such file"]);
}

#[test]
fn a_valid_config_passes_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[modem]\nport = \"/dev/ttyUSB2\"\n").unwrap();
    let o = simkeep(&["check-config", "--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("is valid"));
}

#[test]
fn unknown_flags_are_a_usage_error_not_a_panic() {
    let o = simkeep(&["at", "--frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn ussd_prints_the_networks_answer() {
    let rig = Rig::new(Personality::HuaweiE3372);
    rig.sim.set("balance_mb", "321").unwrap();
    let o = simkeep(&[
        "ussd",
        "*100#",
        "--port",
        rig.link().to_str().unwrap(),
        "--lock-dir",
        rig.lock_dir().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("321 MB"), "{}", stdout(&o));
}

#[test]
fn a_ussd_code_with_a_smuggled_command_is_refused_before_the_port_is_opened() {
    let rig = Rig::new(Personality::Generic);
    let o = simkeep(&[
        "ussd",
        "*100#\"\r\nAT+CFUN=0",
        "--port",
        rig.link().to_str().unwrap(),
        "--lock-dir",
        rig.lock_dir().to_str().unwrap(),
    ]);
    assert_one_line_error(&o, 2, &["\\r\\nAT+CFUN=0"]);
    assert!(
        rig.sim.commands_seen().is_empty(),
        "{:?}",
        rig.sim.commands_seen()
    );
}

#[test]
fn sms_send_to_a_bad_number_is_refused() {
    let rig = Rig::new(Personality::Generic);
    let o = simkeep(&[
        "sms",
        "send",
        "1234;+CFUN=0",
        "hi",
        "--port",
        rig.link().to_str().unwrap(),
        "--lock-dir",
        rig.lock_dir().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(rig.sim.commands_seen().is_empty());
}
