//! The AT engine against the simulated modem, through a real pseudo-terminal.

mod support;

use std::time::Duration;

use simkeep::at::{AtError, Command, LinkState};
use simkeep::sim::{Fault, Personality, SimOptions};
use support::{eventually, Rig};

#[tokio::test(flavor = "current_thread")]
async fn echo_on_at_power_up_is_tolerated_then_turned_off() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let r = at.run("AT+CSQ").await.unwrap();
    assert_eq!(
        r.lines.len(),
        1,
        "echo must not leak into the answer: {:?}",
        r.lines
    );
    assert!(r.lines[0].starts_with("+CSQ:"));
    let seen = rig.sim.commands_seen();
    assert_eq!(seen.first().map(String::as_str), Some("ATE0"), "{seen:?}");
    assert!(seen.contains(&"AT+CMEE=1".to_string()));
}

#[tokio::test(flavor = "current_thread")]
async fn a_urc_inside_a_response_goes_to_subscribers_not_the_result() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let mut urcs = at.subscribe();
    rig.sim
        .fault(Fault::UrcInNextResponse("+CMTI: \"ME\",3".into()));
    let r = at.run("AT+CSQ").await.unwrap();
    assert_eq!(r.lines.len(), 1, "{:?}", r.lines);
    assert!(r.lines[0].starts_with("+CSQ:"));
    let u = tokio::time::timeout(Duration::from_secs(2), urcs.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.line, "+CMTI: \"ME\",3");
}

#[tokio::test(flavor = "current_thread")]
async fn garbage_on_the_line_is_skipped_and_the_next_command_works() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.fault(Fault::Garbage(
        b"\xff\xfe\x00\x01\x02garbage\xc3\x28\r\n".to_vec(),
    ));
    let r = at.run("AT+CSQ").await.unwrap();
    assert!(r.lines[0].starts_with("+CSQ:"), "{:?}", r.lines);
}

#[tokio::test(flavor = "current_thread")]
async fn a_hung_modem_times_out_then_recovers() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.fault(Fault::Hang(Duration::from_secs(3)));
    let cmd = Command::new("AT+CSQ")
        .unwrap()
        .with_timeout(Duration::from_millis(500));
    let err = at.send(cmd).await.unwrap_err();
    assert!(matches!(err, AtError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("did not answer AT+CSQ"), "{err}");
    // The engine probes, reopens and comes back once the modem answers again.
    let mut ok = false;
    for _ in 0..60 {
        if at.run("AT+CSQ").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "engine recovered after the hang");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unplugged_modem_is_found_again_behind_the_same_link() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let mut state = at.link_state();
    rig.sim.fault(Fault::Unplug(Duration::from_millis(700)));
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| matches!(s, LinkState::Down { .. })),
    )
    .await
    .expect("engine notices the unplug")
    .unwrap();
    let err = at.run("AT+CSQ").await.unwrap_err();
    assert!(
        matches!(err, AtError::NotConnected { .. }),
        "fails fast while unplugged: {err}"
    );
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == LinkState::Connected),
    )
    .await
    .expect("engine reconnects")
    .unwrap();
    assert!(at.run("AT+CSQ").await.is_ok());
    // The new device was initialised again (echo off) — it powered up with echo on.
    let seen = rig.sim.commands_seen();
    assert!(
        seen.iter().filter(|c| *c == "ATE0").count() >= 2,
        "{seen:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn two_concurrent_callers_are_serialised() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.fault(Fault::Slow(Duration::from_millis(30)));
    let a = at.clone();
    let b = at.clone();
    let (ra, rb) = tokio::join!(
        async move {
            let mut v = Vec::new();
            for _ in 0..5 {
                v.push(a.run("AT+CSQ").await);
            }
            v
        },
        async move {
            let mut v = Vec::new();
            for _ in 0..5 {
                v.push(b.run("AT+CGMI").await);
            }
            v
        }
    );
    for r in ra {
        let r = r.unwrap();
        assert!(
            r.lines.len() == 1 && r.lines[0].starts_with("+CSQ:"),
            "{:?}",
            r.lines
        );
    }
    for r in rb {
        let r = r.unwrap();
        assert_eq!(
            r.lines,
            vec![Personality::Generic.manufacturer().to_string()]
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_modem_error_is_typed_with_the_command_and_port() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let err = at.run("AT+NOSUCHCOMMAND").await.unwrap_err();
    assert!(matches!(err, AtError::Error { .. }), "{err}");
    assert!(err.to_string().contains("AT+NOSUCHCOMMAND"));
}

#[tokio::test(flavor = "current_thread")]
async fn sim_busy_after_boot_is_a_cme_14() {
    let mut opts = SimOptions::new(Personality::Generic);
    opts.sim_busy_for = Duration::from_secs(30);
    let rig = Rig::with(opts);
    let at = rig.engine().await;
    let err = at.run("AT+CPIN?").await.unwrap_err();
    assert_eq!(err.cme().and_then(|c| c.number()), Some(14), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_modem_reboot_is_followed_by_a_new_init() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.fault(Fault::Reboot);
    assert!(
        eventually(Duration::from_secs(5), || rig
            .sim
            .commands_seen()
            .iter()
            .filter(|c| *c == "ATE0")
            .count()
            >= 2)
        .await
    );
    assert!(at.run("AT+CSQ").await.unwrap().lines[0].starts_with("+CSQ:"));
}

#[tokio::test(flavor = "current_thread")]
async fn the_lock_file_of_a_live_process_keeps_us_off_the_port() {
    let rig = Rig::new(Personality::Generic);
    let lock_dir = rig.lock_dir();
    std::fs::create_dir_all(&lock_dir).unwrap();
    let real = std::fs::canonicalize(rig.link()).unwrap();
    let name = real.file_name().unwrap().to_string_lossy().into_owned();
    let lock = lock_dir.join(format!("LCK..{name}"));
    // PID 1 is alive for the whole test.
    std::fs::write(&lock, "         1\n").unwrap();
    let (at, _t) = simkeep::at::spawn(rig.engine_config());
    let err = at.wait_connected(Duration::from_secs(2)).await.unwrap_err();
    assert!(err.to_string().contains("in use by process 1"), "{err}");
    assert!(
        rig.sim.commands_seen().is_empty(),
        "nothing was sent to a locked port"
    );
    // A stale lock (dead PID) is taken over.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(&lock, format!("{dead:>10}\n")).unwrap();
    at.wait_connected(Duration::from_secs(5))
        .await
        .expect("stale lock taken over");
    let text = std::fs::read_to_string(&lock).unwrap();
    assert_eq!(text.trim(), std::process::id().to_string());
}

#[tokio::test(flavor = "current_thread")]
async fn a_modem_restart_behind_the_same_port_is_announced_like_a_reconnect() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let mut state = at.link_state();
    state.borrow_and_update();
    rig.sim.fault(Fault::Reboot);
    tokio::time::timeout(Duration::from_secs(5), state.changed())
        .await
        .expect("watchers hear about the restart")
        .unwrap();
    assert_eq!(*state.borrow(), LinkState::Connected);
}
