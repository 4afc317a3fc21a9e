//! What one poll puts on the wire, per simulated personality, through the real driver, engine
//! and pty: each question is asked once per poll, identity once per connection, IMSI and
//! own number once per SIM (the ICCID every poll, so a swap is seen), and the counts are pinned so a profile change that
//! adds traffic shows up here.
//!
//! Before issue 13 a steady-state poll sent 19 commands on an EC25 (`AT+QENG="servingcell"`
//! twice) and 20 on an E3372 (`^MONSC` and `^SYSINFOEX` twice); now 12 and 12. Since the
//! profiles declare their queries (issue 13 item 3), `AT+CCID` is asked only when the vendor's
//! own ICCID read fails, which takes one more command off a vendor profile's first poll.
//!
//! | personality    | first poll: before → dedup → declared | steady poll: before → after |
//! |----------------|---------------------------------------|-----------------------------|
//! | generic        | 24 → 23 → 23                          | 14 → 9                      |
//! | quectel-ec25   | 29 → 27 → 26                          | 19 → 12                     |
//! | quectel-rm520n | 29 → 27 → 26                          | 19 → 12                     |
//! | huawei-e3372   | 31 → 28 → 27                          | 20 → 12                     |
//! | simcom-sim7600 | 27 → 25 → 24                          | 17 → 10                     |
//! | sierra-em7455  | 27 → 25 → 24                          | 17 → 10                     |
//! | fibocom-l850   | 27 → 25 → 24                          | 17 → 10                     |
//!
//! (The first poll includes profile detection and init commands, not the engine's own
//! `ATE0`/`AT+CMEE=1`.)

mod support;

use std::collections::HashSet;

use simkeep::modem::driver::{Driver, Snapshot};
use simkeep::sim::Personality;
use support::Rig;

/// Commands on the wire during one `snapshot` call, and what the poll read.
async fn one_poll(rig: &Rig, d: &mut Driver, now: i64) -> (Vec<String>, Snapshot) {
    let before = rig.sim.commands_seen().len();
    let (snap, _) = d.snapshot(now).await.expect("poll");
    (rig.sim.commands_seen().split_off(before), snap)
}

/// (personality, first poll after connect, steady-state poll)
const PINNED: &[(Personality, usize, usize)] = &[
    (Personality::Generic, 23, 9),
    (Personality::QuectelEc25, 26, 12),
    (Personality::QuectelRm520n, 26, 12),
    (Personality::HuaweiE3372, 27, 12),
    (Personality::SimcomSim7600, 24, 10),
    (Personality::SierraEm7455, 24, 10),
    (Personality::FibocomL850, 24, 10),
];

#[tokio::test]
async fn each_poll_asks_each_question_once_and_identity_and_sim_once_per_connection() {
    let mut report = Vec::new();
    let mut polls = Vec::new();
    for &(p, _, _) in PINNED {
        let rig = Rig::new(p);
        let at = rig.engine().await;
        let mut d = Driver::new(at, None, None);
        let (first, snap1) = one_poll(&rig, &mut d, 1).await;
        let (steady, snap2) = one_poll(&rig, &mut d, 2).await;
        // What is not asked again is still reported.
        assert!(snap2.sim.iccid.is_some(), "{}: {snap2:?}", p.name());
        assert_eq!(snap1.modem, snap2.modem, "{}", p.name());
        assert_eq!(snap1.sim, snap2.sim, "{}", p.name());
        assert_eq!(snap1.registration, snap2.registration, "{}", p.name());
        assert!(
            snap2.registration.operator.is_some(),
            "{}: {snap2:?}",
            p.name()
        );
        report.push(format!(
            "{:>16}: first poll {:>2}, steady {:>2}",
            p.name(),
            first.len(),
            steady.len()
        ));
        polls.push((first, steady));
    }
    eprintln!("commands per poll:\n{}", report.join("\n"));
    for (&(p, first_want, steady_want), (first, steady)) in PINNED.iter().zip(polls) {
        for (which, cmds) in [("first", &first), ("steady", &steady)] {
            let mut seen = HashSet::new();
            for c in cmds.iter() {
                // The first poll reads `+COPS?` in both formats (PLMN, then its name) and
                // puts the numeric format back.
                if which == "first" && c.starts_with("AT+COPS") {
                    continue;
                }
                assert!(
                    seen.insert(c.to_ascii_uppercase()),
                    "{}: {which} poll sent {c} twice: {cmds:?}",
                    p.name()
                );
            }
        }
        for c in ["AT+CGMI", "AT+CGSN", "AT+CIMI", "AT+CNUM"] {
            assert!(
                !steady.iter().any(|s| s.eq_ignore_ascii_case(c)),
                "{}: steady poll re-asked {c}: {steady:?}",
                p.name()
            );
        }
        assert!(
            steady.iter().any(|s| s.eq_ignore_ascii_case("AT+CPIN?")),
            "{}: the SIM state is checked every poll",
            p.name()
        );
        assert_eq!(
            (first.len(), steady.len()),
            (first_want, steady_want),
            "{}: first {first:?}\nsteady {steady:?}",
            p.name()
        );
    }
}

#[test]
fn a_one_shot_at_command_sends_only_the_users_line() {
    // The engine's `ATE0`/`AT+CMEE=1` set-up is for the daemon; `simkeep at` sends one line and
    // copes with the echo a freshly powered modem still has on.
    let rig = Rig::new(Personality::QuectelEc25);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["at", "AT+CSQ", "--port"])
        .arg(rig.link())
        .arg("--lock-dir")
        .arg(rig.lock_dir())
        .output()
        .expect("run simkeep");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.starts_with("+CSQ: "), "{out}");
    assert!(
        !out.contains("AT+CSQ"),
        "the echo is not part of the answer: {out}"
    );
    assert_eq!(rig.sim.commands_seen(), vec!["AT+CSQ".to_string()]);
}

#[test]
fn a_refused_5000_character_at_line_is_quoted_and_cut_not_echoed_whole() {
    let line = format!("AT+{}", "Q;".repeat(2_500));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args(["at", &line, "--port", "/nonexistent"])
        .output()
        .expect("run simkeep");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
    assert!(err.contains("characters in all"), "{err}");
}

#[tokio::test]
async fn a_restart_storm_reinitialises_but_does_not_detect_the_profile_again() {
    // Issue 13: an RDY flood caused 631 re-initialisations and 488 profile re-detections.
    let rig = Rig::new(Personality::QuectelEc25);
    let at = rig.engine().await;
    let mut d = Driver::new(at, None, None);
    one_poll(&rig, &mut d, 1).await;
    let before = rig.sim.commands_seen().len();
    for now in 2..7 {
        d.reset();
        one_poll(&rig, &mut d, now).await;
    }
    let storm = rig.sim.commands_seen().split_off(before);
    let count = |c: &str| storm.iter().filter(|s| s.eq_ignore_ascii_case(c)).count();
    assert_eq!(count("AT+CGMI"), 0, "{storm:?}");
    assert_eq!(count("AT+CGMM"), 0, "{storm:?}");
    // Each restart still gets its settings back (`+CREG=2`, the numeric `+COPS` format).
    assert_eq!(count("AT+CREG=2"), 5, "{storm:?}");
    assert_eq!(count("AT+COPS=3,2"), 5, "{storm:?}");
    // The operator name is kept under its PLMN, not asked again.
    assert_eq!(count("AT+COPS=3,0"), 0, "{storm:?}");
    assert_eq!(d.profile_name().as_deref(), Some("quectel"));
}

/// `simkeep at LINE --port P` with the test's lock dir: (exit code, stdout, stderr).
fn one_shot(rig: &Rig, args: &[&str]) -> (Option<i32>, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .arg("at")
        .args(args)
        .arg("--port")
        .arg(rig.link())
        .arg("--lock-dir")
        .arg(rig.lock_dir())
        .output()
        .expect("run simkeep");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_one_shot_at_command_on_a_hung_modem_gives_up_at_its_timeout_and_says_so() {
    let rig = Rig::new(Personality::Generic);
    rig.sim
        .fault(simkeep::sim::Fault::Hang(std::time::Duration::from_secs(
            20,
        )));
    let started = std::time::Instant::now();
    let (code, out, err) = one_shot(&rig, &["AT+CSQ", "--timeout", "1"]);
    let took = started.elapsed();
    assert_ne!(code, Some(0), "{out}");
    assert!(
        err.contains("did not answer AT+CSQ within 1s")
            && err.contains(&*rig.link().to_string_lossy()),
        "{err}"
    );
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    // The lock is released and the port is free for the next one.
    let left: Vec<_> = std::fs::read_dir(rig.lock_dir()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_one_shot_at_command_leaves_a_urc_inside_its_answer_out() {
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.fault(simkeep::sim::Fault::UrcInNextResponse(
        "+CMTI: \"ME\",3".to_string(),
    ));
    let (code, out, err) = one_shot(&rig, &["AT+CSQ"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with("+CSQ: ") && !out.contains("CMTI"), "{out}");
    // Twice in a row: the first run let go of the port (flock, TIOCEXCL, lock file).
    let (code, out, err) = one_shot(&rig, &["AT+CSQ", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"+CSQ: "), "{out}");
}
