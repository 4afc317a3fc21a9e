//! `simkeep config show|get|set|unset|validate|init` and `check-config`, run as the real binary on
//! config files in temp dirs: a refused edit leaves the file byte for byte as it was, a good one
//! keeps every comment, and a running agent (real process, simulator on a pty) applies a new
//! `poll_interval` without a restart.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use simkeep::sim::Personality;
use support::Rig;

fn simkeep(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("simkeep runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A commented config with the HTTP port off (no agent can answer) and the store in `dir`.
const OWNER: &str = "# Router in the attic. Ask Kim before changing anything.\n\
[modem]\n\
port = \"/dev/ttyUSB2\"   # EC25, the middle port\n\
poll_interval = \"30s\"   # slow on purpose: the SIM is metered\n\
\n\
# keep the history on the USB stick\n\
[store]\n\
path = \"STORE\"\n\
\n\
[http]\n\
listen = \"\"  # off\n";

fn owner_file(dir: &Path) -> PathBuf {
    let p = dir.join("config.toml");
    let text = OWNER.replace("STORE", &dir.join("simkeep.db").display().to_string());
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    p
}

#[test]
fn a_refused_set_leaves_the_file_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = owner_file(dir.path());
    let before = std::fs::read(&cfg).unwrap();
    for (args, says) in [
        (
            &["config", "set", "modem.poll_interval", "5"][..],
            "did you mean \"5s\"?",
        ),
        (
            &["config", "set", "store.flush_interval", "0s"],
            "use 1s to 1d",
        ),
        (
            &[
                "config",
                "set",
                "store.flush_interval",
                "18446744073709551615s",
            ],
            "too long",
        ),
        (&["config", "set", "modem.baud", "fast"], "a whole number"),
        (&["config", "set", "modem.baud", "12345"], "use one of"),
        (
            &["config", "set", "topup.enabled", "true"],
            "topup.threshold: required",
        ),
        (&["config", "set", "store.path", ""], "store.path"),
        (
            &["config", "set", "modem.pol_interval", "5s"],
            "did you mean modem.poll_interval",
        ),
        (&["config", "set", "usage.carrier.rules", "x"], "is a list"),
    ] {
        let out = simkeep(&cfg, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("not saved") && err.contains(says),
            "{args:?}: {err}"
        );
        assert_eq!(
            std::fs::read(&cfg).unwrap(),
            before,
            "{args:?} changed the file"
        );
    }
    // No temp file left beside it either.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_good_set_keeps_every_comment_the_mode_and_reports_no_agent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = owner_file(dir.path());
    let before = std::fs::read_to_string(&cfg).unwrap();
    let out = simkeep(&cfg, &["config", "set", "modem.poll_interval", "5s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("; no agent running\n"),
        "{}",
        stdout(&out)
    );
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert_eq!(after, before.replace("\"30s\"", "\"5s\""));
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);

    // A key in a table the file does not have yet: added at the end, the rest untouched.
    let out = simkeep(&cfg, &["config", "set", "topup.max_per_cycle", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let more = std::fs::read_to_string(&cfg).unwrap();
    assert!(more.starts_with(&after), "{more}");
    assert!(more.ends_with("[topup]\nmax_per_cycle = 3\n"), "{more}");
    let get = simkeep(&cfg, &["config", "get", "topup.max_per_cycle"]);
    assert_eq!(stdout(&get), "3\n");
}

#[test]
fn concurrent_sets_of_different_keys_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = owner_file(dir.path());
    let edits = [
        ("modem.baud", "9600"),
        ("modem.lock_dir", "/tmp"),
        ("modem.profile", "quectel"),
        ("store.flush_interval", "5m"),
        ("topup.max_per_cycle", "2"),
        ("topup.cooldown", "2h"),
        ("topup.dry_run", "true"),
        ("usage.carrier.interval", "1h"),
    ];
    let children: Vec<_> = edits
        .iter()
        .map(|(k, v)| {
            Command::new(env!("CARGO_BIN_EXE_simkeep"))
                .arg("--config")
                .arg(&cfg)
                .args(["config", "set", k, v])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        // usage.carrier.interval alone is refused: a [usage.carrier] needs a way to ask.
        let err = stderr(&out);
        assert!(
            out.status.success() || err.contains("usage.carrier"),
            "{err}"
        );
    }
    let text = std::fs::read_to_string(&cfg).unwrap();
    for (k, v) in &edits[..7] {
        let get = simkeep(&cfg, &["config", "get", k]);
        assert!(stdout(&get).contains(v), "{k} lost: {text}");
    }
    assert!(text.starts_with("# Router in the attic"), "{text}");
}

#[test]
fn unset_returns_a_key_to_its_default_and_get_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = owner_file(dir.path());
    let get = simkeep(&cfg, &["config", "get", "modem.poll_interval"]);
    assert_eq!(stdout(&get), "\"30s\"\n");
    let out = simkeep(&cfg, &["config", "unset", "modem.poll_interval"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(!text.contains("poll_interval"), "{text}");
    assert!(text.contains("# EC25, the middle port") && text.contains("# keep the history"));
    let get = simkeep(&cfg, &["config", "get", "modem.poll_interval"]);
    assert_eq!(stdout(&get), "\"30s\"  (default; not in the file)\n");
    let get = simkeep(&cfg, &["config", "get", "http.listen"]);
    assert_eq!(stdout(&get), "\"\"\n");
    // Unsetting what is not set changes nothing.
    let before = std::fs::read(&cfg).unwrap();
    let out = simkeep(&cfg, &["config", "unset", "modem.baud"]);
    assert!(out.status.success() && stdout(&out).contains("not set"));
    assert_eq!(std::fs::read(&cfg).unwrap(), before);
    let bad = simkeep(&cfg, &["config", "get", "modem.speed"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("unknown key modem.speed"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn show_hides_the_pin_and_lists_the_defaults_in_effect() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = owner_file(dir.path());
    let out = simkeep(&cfg, &["config", "set", "modem.pin", "4321"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = simkeep(&cfg, &["config", "show"]);
    let text = stdout(&show);
    assert!(show.status.success());
    assert!(
        !text.contains("4321") && text.contains("pin = \"<hidden>\""),
        "{text}"
    );
    assert!(text.contains("# modem.baud = 115200"), "{text}");
    assert!(text.contains("# Router in the attic"), "{text}");
    let get = simkeep(&cfg, &["config", "get", "modem.pin"]);
    assert!(!stdout(&get).contains("4321"), "{}", stdout(&get));
}

#[test]
fn init_writes_an_example_that_check_config_accepts_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let out = simkeep(&cfg, &["config", "init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "a PIN may go in it");
    // The example keeps its store in /etc/simkeep and listens on 127.0.0.1:8787: point both
    // here, so the check depends neither on who runs the test nor on what else listens there.
    let store = dir.path().join("db/simkeep.db");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("/etc/simkeep/simkeep.db", store.to_str().unwrap())
        .replace("listen = \"127.0.0.1:8787\"", "listen = \"\"");
    std::fs::write(&cfg, text).unwrap();
    for args in [&["check-config"][..], &["config", "validate"]] {
        let out = simkeep(&cfg, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("is valid"), "{}", stdout(&out));
    }
    let before = std::fs::read(&cfg).unwrap();
    let again = simkeep(&cfg, &["config", "init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(std::fs::read(&cfg).unwrap(), before);
    let forced = simkeep(&cfg, &["config", "init", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        simkeep::config::keys::EXAMPLE
    );
}

#[test]
fn check_config_messages_name_the_key_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    for (text, says) in [
        (
            "[modem]\npoll_interval = 5\n".to_string(),
            "line 2: modem.poll_interval = 5: write a duration in quotes with a unit, e.g. \"30s\", \"15m\" or \"6h\" — did you mean \"5s\"?",
        ),
        (
            "[modem]\npoll_interval = \"5\"\n".to_string(),
            "modem.poll_interval = \"5\": a duration needs a unit: did you mean \"5s\"?",
        ),
        (
            "[store]\nflush_interval = \"0s\"\n".to_string(),
            "store.flush_interval = \"0s\": use 1s to 1d",
        ),
        ("[store]\npath = \"\"\n".to_string(), "store.path = \"\""),
        (
            format!("[store]\npath = \"{}/sub/s.db\"\n", blocker.display()),
            "is a file, so the directory",
        ),
        (
            "[usage.carrier]\nussd = \"*100#\"\nrules = \"(?P<amount>[0-9]+)\"\n".to_string(),
            "usage.carrier.rules = ",
        ),
    ] {
        std::fs::write(&cfg, &text).unwrap();
        let out = simkeep(&cfg, &["check-config"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(says), "{text}: {err}");
        for leak in ["expected i64", "invalid type", "[0]", "struct", "`"] {
            assert!(!err.contains(leak), "{leak:?} in {err}");
        }
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
}

/// A one-shot HTTP server on loopback standing in for an agent with the reload endpoint: it
/// answers one request with `status` and hands back what it was sent.
fn fake_agent(status: &'static str) -> (std::net::SocketAddr, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "client closed early");
            req.extend_from_slice(&buf[..n]);
        }
        let body = if status.starts_with("200") {
            "{\"reloading\":true}"
        } else {
            "{\"error\":\"unauthorized\",\"detail\":\"bad token\"}"
        };
        write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&req).into_owned()
    });
    (addr, server)
}

#[test]
fn an_agent_with_the_reload_endpoint_is_asked_with_the_token() {
    for (status, ok) in [("200 OK", true), ("401 Unauthorized", false)] {
        let dir = tempfile::tempdir().unwrap();
        let (addr, server) = fake_agent(status);
        let cfg = owner_file(dir.path());
        let token = dir.path().join("api-token");
        std::fs::write(&token, "s3cret-token\n").unwrap();
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "listen = \"\"  # off",
            &format!("listen = \"{addr}\"\ntoken_file = \"{}\"", token.display()),
        );
        std::fs::write(&cfg, text).unwrap();
        let out = simkeep(&cfg, &["config", "set", "modem.poll_interval", "10s"]);
        let req = server.join().unwrap();
        assert!(req.starts_with("POST /api/v1/reload HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains("Authorization: Bearer s3cret-token\r\n"),
            "{req}"
        );
        // Saved either way: the refusal is the agent's, after the file was written.
        let saved = std::fs::read_to_string(&cfg).unwrap();
        assert!(saved.contains("poll_interval = \"10s\""), "{saved}");
        if ok {
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(
                stdout(&out).ends_with("; the agent reloads it\n"),
                "{}",
                stdout(&out)
            );
        } else {
            assert_eq!(out.status.code(), Some(1));
            let err = stderr(&out);
            assert!(
                err.contains("the agent refused to reload: unauthorized: bad token"),
                "{err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}

fn wait_for(agent: &support::child::Agent, needle: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let log = agent.log();
        if log.contains(needle) {
            return log;
        }
        assert!(Instant::now() < deadline, "{needle:?} never logged:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The running agent applies `config set modem.poll_interval` without a restart of the process:
/// through `POST /api/v1/reload` when the agent has it, else SIGHUP to the `simkeep run` that
/// uses this file.
#[test]
fn a_running_agent_applies_a_new_poll_interval_without_a_restart() {
    let rig = Rig::new(Personality::Generic);
    let dir = rig.dir.path();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "# test rig\n[modem]\nport = \"{}\"\nlock_dir = \"{}\"\npoll_interval = \"1s\"  # fast\n\
             [store]\npath = \"{}\"\n[http]\nlisten = \"{listen}\"\ntoken_file = \"{}\"\n",
            rig.link().display(),
            rig.lock_dir().display(),
            dir.join("db").display(),
            dir.join("api-token").display(),
        ),
    )
    .unwrap();
    let agent = support::child::Agent::start(&cfg, &[]);
    wait_for(&agent, "modem connected", 15);
    let out = simkeep(&cfg, &["config", "set", "modem.poll_interval", "2s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("the agent reloads it") || said.contains("sent SIGHUP to the agent"),
        "{said}"
    );
    wait_for(&agent, "config reloaded", 10);
    let log = wait_for(&agent, "polled every 2s", 15);
    assert!(log.matches("modem connected").count() >= 1, "{log}");
    // A refused edit does not reach the agent at all.
    let bad = simkeep(&cfg, &["config", "set", "modem.poll_interval", "0s"]);
    assert_eq!(bad.status.code(), Some(2));
    let log = agent.stop();
    assert_eq!(log.matches("config reloaded").count(), 1, "{log}");
}
