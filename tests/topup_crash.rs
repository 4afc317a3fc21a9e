//! Crash safety of top-ups: the real `simkeep run` as a child process against the simulated
//! carrier kept in this test process (so the carrier, and its charge counter, outlive the
//! agent), killed with SIGKILL at every step of a USSD menu purchase and of an SMS keyword
//! purchase — before its ledger row, as the attempt starts, after each menu answer, just before
//! and right after the carrier charged, while the receipt is awaited, during verification — then
//! started again with the same config. Across all cases: at most one charge per decision, every
//! charge has its ledger row, rows end `succeeded`, `unverified` or `unknown` (`failed` only when
//! nothing was charged), and an agent that found an unclear outcome buys nothing more.
//!
//! Kill points are events, never sleeps: a line of the agent's log, read from its stderr as it is
//! written, or something the simulated carrier saw (its charge counter, a command after it). The
//! table printed at the end (`-- --nocapture`) says where each kill really landed.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use simkeep::sim::Personality;
use support::child::Agent;
use support::{flows, Rig};

/// How long the SMS carrier takes to credit and send its receipt: long enough that "sent, the
/// receipt not yet here" is a moment a kill can land in.
const SMS_CREDIT_DELAY_MS: &str = "1500";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ussd,
    Sms,
}

/// Where the first agent dies.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// The n-th (1-based) log line that contains this text.
    Log(&'static str, usize),
    /// The moment the carrier's charge counter reads 1 (polled in a tight loop).
    Charged,
    /// The first command the modem receives after the charge that contains this text ("" =
    /// any): the AT engine runs one command at a time, so the agent has by then had the answer
    /// to the command that charged.
    AfterCharge(&'static str),
}

struct Case {
    kind: Kind,
    point: &'static str,
    kill: KillAt,
    /// `credit=never`: the carrier charges and confirms but the balance never rises.
    never_credits: bool,
}

fn cases() -> Vec<Case> {
    let c = |kind, point, kill| Case {
        kind,
        point,
        kill,
        never_credits: false,
    };
    use KillAt::*;
    use Kind::*;
    let said = "top-up: carrier said";
    vec![
        c(
            Ussd,
            "policy says buy (before the row)",
            Log("top-up policy: buy", 1),
        ),
        c(
            Ussd,
            "attempt started (row written)",
            Log("top-up attempt #", 1),
        ),
        c(Ussd, "after menu answer 1 (main menu)", Log(said, 1)),
        c(Ussd, "after menu answer 2 (Internet)", Log(said, 2)),
        c(Ussd, "after menu answer 3 (Monthly)", Log(said, 3)),
        c(Ussd, "after menu answer 4 (pay with)", Log(said, 4)),
        c(
            Ussd,
            "choosing Airtime (charging step)",
            Log("choosing \"Airtime", 1),
        ),
        c(Ussd, "carrier charged, no answer yet", Charged),
        c(Ussd, "after the confirmation", Log(said, 5)),
        c(Ussd, "verifying (balance query)", AfterCharge("*100#")),
        Case {
            never_credits: true,
            ..c(Ussd, "charged, never credited", Charged)
        },
        c(
            Sms,
            "policy says buy (before the row)",
            Log("top-up policy: buy", 1),
        ),
        c(
            Sms,
            "attempt started (row written)",
            Log("top-up attempt #", 1),
        ),
        c(Sms, "carrier charged (SMS arriving)", Charged),
        c(Sms, "SMS sent, awaiting the receipt", AfterCharge("")),
        c(Sms, "receipt stored (AT+CMGD)", AfterCharge("AT+CMGD")),
        c(Sms, "verifying (balance query)", AfterCharge("*100#")),
        Case {
            never_credits: true,
            ..c(Sms, "charged, never credited", Charged)
        },
    ]
}

/// A free loopback port for an agent's API (bound, read, released).
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr")
}

fn config(rig: &Rig, listen: SocketAddr, flow: &str) -> String {
    format!(
        "[modem]\nport = \"{port}\"\npoll_interval = \"1s\"\nlock_dir = \"{lock}\"\n\
         [store]\npath = \"{db}\"\n[http]\nlisten = \"{listen}\"\n\
         [usage]\nquota = \"10GB\"\nunit_base = 1000\ntimezone = \"UTC\"\n\
         [usage.carrier]\nussd = \"*100#\"\ninterval = \"1m\"\n\
         [topup]\nenabled = true\nthreshold = \"500MB\"\nmax_per_cycle = 3\n\
         max_spend_per_cycle = 30000\ncurrency = \"TZS\"\ncooldown = \"1h\"\ntrust_clock = true\n{flow}",
        port = rig.link().display(),
        lock = rig.lock_dir().display(),
        db = rig.dir.path().join("simkeep.db").display(),
    )
}

/// `SIMKEEP_CRASH_VERBOSE=v|vv` runs the agents with `-v`/`-vv`.
fn verbose() -> Vec<String> {
    std::env::var("SIMKEEP_CRASH_VERBOSE")
        .ok()
        .map(|v| format!("-{v}"))
        .into_iter()
        .collect()
}

/// The carrier's charge count (the simulator only answers "exactly n?").
fn charges(rig: &Rig) -> u32 {
    (0..10)
        .find(|n| rig.sim.set("check_charges", &n.to_string()).is_ok())
        .unwrap_or(u32::MAX)
}

/// Blocks until the kill point; `Err` says what never happened.
fn wait_kill_point(rig: &Rig, agent: &Agent, kill: KillAt, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let late = || format!("not reached within {}s", limit.as_secs());
    match kill {
        KillAt::Log(needle, n) => {
            let mut seen = 0;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match agent.lines.recv_timeout(left) {
                    Ok(line) if line.contains(needle) => {
                        seen += 1;
                        if seen >= n {
                            return Ok(());
                        }
                    }
                    Ok(_) => {}
                    Err(RecvTimeoutError::Timeout) => return Err(late()),
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err("the agent exited before the kill point".into())
                    }
                }
            }
        }
        KillAt::Charged => {
            // Tight: the carrier has charged and the agent may hear it any moment.
            while rig.sim.set("check_charges", "1").is_err() {
                if Instant::now() >= deadline {
                    return Err(late());
                }
            }
            Ok(())
        }
        KillAt::AfterCharge(needle) => {
            while rig.sim.set("check_charges", "1").is_err() {
                if Instant::now() >= deadline {
                    return Err(late());
                }
            }
            let before = rig.sim.commands_seen();
            assert!(
                before.len() < 1000,
                "the simulator's command log is full: the charge cannot be located in it"
            );
            loop {
                let now = rig.sim.commands_seen();
                if now
                    .iter()
                    .skip(before.len())
                    .any(|cmd| cmd.contains(needle))
                {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(late());
                }
                std::thread::sleep(Duration::from_micros(300));
            }
        }
    }
}

/// One HTTP/1.1 request to the agent's API; `None` while it is not listening.
fn get(addr: SocketAddr, path: &str) -> Option<Value> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}

fn poll_taken_at(addr: SocketAddr) -> i64 {
    get(addr, "/api/v1/status")
        .and_then(|s| {
            s["last_poll"]["taken_at"]
                .as_str()
                .and_then(simkeep::usage::civil::parse_utc)
        })
        .unwrap_or(0)
}

/// What one case found.
struct Outcome {
    point: String,
    flow: Kind,
    never_credits: bool,
    reached: Result<(), String>,
    charges_at_kill: u32,
    charges_end: u32,
    /// (state, step, note) of each ledger row at the end.
    rows: Vec<(String, u64, String)>,
    paused: bool,
    problems: Vec<String>,
    secs: f64,
}

fn run_case(case: &Case) -> Outcome {
    let t0 = Instant::now();
    let rig = Rig::new(Personality::QuectelEc25);
    rig.sim.set("balance_mb", "300").unwrap();
    if case.kind == Kind::Sms {
        rig.sim.set("lang", "zh").unwrap();
        rig.sim.set("credit_delay_ms", SMS_CREDIT_DELAY_MS).unwrap();
    }
    if case.never_credits {
        rig.sim.set("credit", "never").unwrap();
    }
    let listen = free_port();
    let flow = flows::with_verify(
        match case.kind {
            Kind::Ussd => flows::USSD_FLOW,
            Kind::Sms => flows::SMS_FLOW,
        },
        "8s",
    );
    let cfg = rig.dir.path().join("config.toml");
    std::fs::write(&cfg, config(&rig, listen, &flow)).unwrap();
    let mut problems = Vec::new();

    // The first life: killed at the chosen moment.
    let mut first = Agent::start(&cfg, &verbose());
    let reached = wait_kill_point(&rig, &first, case.kill, Duration::from_secs(40));
    first.kill();
    let charges_at_kill = charges(&rig);
    if let Err(e) = &reached {
        problems.push(format!(
            "kill point {e}; first agent's log:\n{}",
            first.log()
        ));
    }

    // The second life: the same config, until no ledger row is in flight.
    let mut second = Agent::start(&cfg, &verbose());
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = get(listen, "/api/v1/topups")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        if !rows.is_empty() && rows.iter().all(|r| r["finished_at"].is_string()) {
            break rows;
        }
        if Instant::now() >= deadline {
            problems.push(format!(
                "the restarted agent left rows in flight (or none): {rows:?}\nits log:\n{}",
                second.log()
            ));
            break rows;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let charges_settled = charges(&rig);

    // A few more polls: an agent that found an unclear outcome must stay paused, one that
    // verified the purchase has enough data; either way, nothing more is bought.
    let t_settled = poll_taken_at(listen);
    let deadline = Instant::now() + Duration::from_secs(20);
    while poll_taken_at(listen) < t_settled.saturating_add(3) {
        if Instant::now() >= deadline {
            problems.push("the restarted agent stopped polling".into());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = get(listen, "/api/v1/status").unwrap_or(Value::Null);
    let later = get(listen, "/api/v1/topups")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let charges_end = charges(&rig);
    second.kill();
    if let Ok(dir) = std::env::var("SIMKEEP_CRASH_LOGS") {
        // For a look at what each life did: `SIMKEEP_CRASH_LOGS=/tmp/crash cargo test ...`.
        let name =
            format!("{:?}-{}", case.kind, case.point).replace([' ', '/', '(', ')', ','], "_");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            Path::new(&dir).join(format!("{name}.log")),
            format!(
                "first life:\n{}\n\nsecond life:\n{}\n\ncommands:\n{}\n",
                first.log(),
                second.log(),
                rig.sim.commands_seen().join("\n")
            ),
        );
    }

    if later.len() != rows.len() || charges_end != charges_settled {
        problems.push(format!(
            "the restarted agent bought more after settling: rows {} → {}, charges {} → {}",
            rows.len(),
            later.len(),
            charges_settled,
            charges_end
        ));
    }
    let rows: Vec<(String, u64, String)> = later
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap_or("?").to_string(),
                r["step"].as_u64().unwrap_or(0),
                r["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let paused = status["topup"]["paused"].as_bool().unwrap_or(false);
    let plan = status["topup"]["plan"].as_str().unwrap_or("").to_string();
    check(
        case,
        charges_at_kill,
        charges_end,
        &rows,
        paused,
        &plan,
        &mut problems,
    );
    if !problems.is_empty() {
        problems.push(format!(
            "the charges: {:?}",
            rig.sim.set("check_charges", "0")
        ));
    }
    Outcome {
        point: case.point.to_string(),
        flow: case.kind,
        never_credits: case.never_credits,
        reached,
        charges_at_kill,
        charges_end,
        rows,
        paused,
        problems,
        secs: t0.elapsed().as_secs_f64(),
    }
}

/// The invariants, for one case.
fn check(
    case: &Case,
    charges_at_kill: u32,
    charges: u32,
    rows: &[(String, u64, String)],
    paused: bool,
    plan: &str,
    problems: &mut Vec<String>,
) {
    // One need, one decision that may cost: a second charge is a double purchase.
    if charges > 1 {
        problems.push(format!("the carrier charged {charges} times for one need"));
    }
    if charges < charges_at_kill {
        problems.push("the charge counter went down".into());
    }
    for (state, _, note) in rows {
        if !["succeeded", "unverified", "unknown", "failed"].contains(&state.as_str()) {
            problems.push(format!("a row ended {state:?}: {note}"));
        }
    }
    let not_failed = rows.iter().filter(|(s, _, _)| s != "failed").count();
    if usize::try_from(charges).unwrap_or(usize::MAX) > not_failed {
        problems.push(format!(
            "{charges} charge(s) but only {not_failed} ledger row(s) that may have charged: {rows:?}"
        ));
    }
    let succeeded = rows.iter().filter(|(s, _, _)| s == "succeeded").count();
    if usize::try_from(charges).unwrap_or(0) < succeeded {
        problems.push(format!(
            "a row says succeeded but nothing was charged: {rows:?}"
        ));
    }
    if case.never_credits && succeeded > 0 {
        problems.push(format!(
            "a purchase that never credited was called a success: {rows:?}"
        ));
    }
    if charges == 1 && !case.never_credits && succeeded != 1 {
        problems.push(format!(
            "the carrier charged and credited, but the ledger did not verify it: {rows:?}"
        ));
    }
    let unclear = rows
        .iter()
        .any(|(s, _, _)| s == "unknown" || s == "unverified");
    if unclear && !(paused && plan.contains("paused")) {
        problems.push(format!(
            "an unclear outcome did not pause automatic top-ups (paused={paused}, plan {plan:?})"
        ));
    }
}

#[test]
fn sigkill_at_every_step_of_a_purchase_never_charges_twice_nor_loses_a_charge() {
    let t0 = Instant::now();
    let only = std::env::var("SIMKEEP_CRASH_ONLY").unwrap_or_default();
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| format!("{:?} {}", c.kind, c.point).contains(&only))
        .collect();
    let workers: usize = std::env::var("SIMKEEP_CRASH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let next = Arc::new(Mutex::new(0usize));
    let cases = Arc::new(cases);
    let results = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (next, cases, results) = (next.clone(), cases.clone(), results.clone());
            std::thread::spawn(move || loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(case) = cases.get(i) else { break };
                let out = run_case(case);
                results.lock().unwrap().push((i, out));
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a case thread panicked");
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = results.into_iter().map(|(_, o)| o).collect();
    print_table(&outcomes, t0.elapsed());

    assert_eq!(outcomes.len(), cases.len(), "every case ran");
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| format!("{:?} / {}:\n  {}", o.flow, o.point, o.problems.join("\n  ")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Not vacuous: kills landed on both sides of the charge, and some rows stayed unclear.
    let before = outcomes.iter().filter(|o| o.charges_at_kill == 0).count();
    let after = outcomes.iter().filter(|o| o.charges_at_kill == 1).count();
    assert!(
        !only.is_empty() || (before >= 4 && after >= 6),
        "kills before the charge: {before}, after: {after}"
    );
}

fn print_table(outcomes: &[Outcome], took: Duration) {
    println!();
    println!(
        "{:<3} {:<5} {:<36} {:>7} {:>7} {:<7} {:<28} ok",
        "#", "flow", "kill point", "chg@kill", "chg end", "paused", "ledger at the end"
    );
    for (n, o) in outcomes.iter().enumerate() {
        let rows: Vec<String> = o
            .rows
            .iter()
            .map(|(s, step, note)| {
                if note.contains("after a restart") {
                    format!("{s} (killed at step {step})")
                } else {
                    format!("{s} (new decision)")
                }
            })
            .collect();
        let point = if o.never_credits {
            format!("{} [credit=never]", o.point)
        } else {
            o.point.clone()
        };
        println!(
            "{:<3} {:<5} {:<36} {:>7} {:>7} {:<7} {:<28} {}",
            n + 1,
            format!("{:?}", o.flow).to_lowercase(),
            point,
            o.charges_at_kill,
            o.charges_end,
            o.paused,
            rows.join(", "),
            match (&o.reached, o.problems.is_empty()) {
                (Ok(()), true) => format!("ok {:.1}s", o.secs),
                _ => "FAIL".into(),
            }
        );
    }
    let charges: u32 = outcomes.iter().map(|o| o.charges_end).sum();
    let rows: usize = outcomes.iter().map(|o| o.rows.len()).sum();
    println!(
        "{} cases, {} kills, {} charges in all (at most 1 per case), {} ledger rows, {:.1}s",
        outcomes.len(),
        outcomes.len(),
        charges,
        rows,
        took.as_secs_f64()
    );
}
