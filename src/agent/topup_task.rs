//! The I/O around top-up decisions, for the poll loop: starting a decision as its one owned
//! task, settling attempts a crash left under way, answering the owner's requests, and asking
//! the modem for the network's time (NITZ) while the wall clock is not trusted.
//!
//! Must not: start a second decision while one runs (the loop holds the only task handle).

use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use super::balance::{BalanceAsker, BalanceWaiter};
use super::topup::{Control, PollView, TopupAgent};
use super::Poller;
use crate::agent::accounting::Accounting;
use crate::at::AtClient;
use crate::carrier_api::CarrierApis;
use crate::modem::driver::Driver;
use crate::sms::ReceivedSms;
use crate::store::{LedgerEntry, StoreHandle};
use crate::template::SimVars;
use crate::topup::policy::{Decision, ManualRequest};
use crate::topup::runner::{self, AttemptEnd};

/// How often to ask the modem for the network's time while the clock is untrusted.
pub const NITZ_EVERY: Duration = Duration::from_secs(600);

/// What a decision needs from the poll loop.
pub struct TopupCtx<'a> {
    pub client: &'a AtClient,
    pub store: &'a StoreHandle,
    pub received: &'a broadcast::Sender<ReceivedSms>,
    pub apis: &'a CarrierApis,
    pub probe: &'a mpsc::Sender<BalanceWaiter>,
    pub done: &'a mpsc::Sender<Vec<AttemptEnd>>,
    pub balance: &'a mut BalanceAsker,
    pub driver: &'a Driver,
}

/// Starts carrying out a "buy" decision; `None` for a dry run (logged, nothing sent).
#[allow(clippy::too_many_arguments)]
pub fn start_decision(
    topups: &mut TopupAgent,
    ctx: TopupCtx<'_>,
    view: &PollView<'_>,
    flows: Vec<usize>,
    reason: String,
    manual: bool,
    dry_run: bool,
    now: i64,
) -> Option<tokio::task::JoinHandle<()>> {
    let cfg = topups.config().clone();
    let iccid = view.snap.sim.iccid.clone()?;
    let names: Vec<&str> = flows
        .iter()
        .filter_map(|&i| cfg.flows.get(i).map(|f| f.name.as_str()))
        .collect();
    if dry_run {
        // The policy's own log line already says "buy (dry run…)" when its words change.
        tracing::debug!(flows = ?names, "top-up dry run: would buy now ({reason}); nothing sent");
        return None;
    }
    let key = topups.decision_key(&iccid, view, now, manual);
    topups.started_attempt();
    let profile = ctx.driver.profile_name();
    let mut env = runner::Env {
        at: ctx.client.clone(),
        ussd: ctx.balance.ussd_client(ctx.client, profile.as_deref()),
        sms: ctx.received.subscribe(),
        apis: ctx.apis.clone(),
        vars: SimVars {
            iccid: view.snap.sim.iccid.clone(),
            imsi: view.snap.sim.imsi.clone(),
            msisdn: view.snap.sim.msisdn.clone(),
        },
        store: ctx.store.clone(),
        balance: ctx.probe.clone(),
        redact: {
            let secrets = ctx.apis.secrets().clone();
            std::sync::Arc::new(move |t: &str| secrets.redact(t))
        },
        clock: super::status::unix_now,
    };
    let balance_before = view.usage.and_then(|u| u.remaining_bytes);
    let done = ctx.done.clone();
    tracing::info!(flows = ?names, "top-up: buying now ({reason})");
    Some(tokio::spawn(async move {
        let d = runner::Decision {
            cfg: &cfg,
            flows,
            key,
            reason,
            iccid,
            balance_before,
            manual,
        };
        let ends = runner::run(&mut env, d).await;
        let _ = done.send(ends).await;
    }))
}

/// Verifies attempts found under way at start, one after the other.
pub fn spawn_recovery(
    entries: Vec<LedgerEntry>,
    cfg: &crate::config::TopupConfig,
    store: &StoreHandle,
    probe: &mpsc::Sender<BalanceWaiter>,
    done: &mpsc::Sender<Vec<AttemptEnd>>,
) -> tokio::task::JoinHandle<()> {
    let (store, probe, done) = (store.clone(), probe.clone(), done.clone());
    tracing::warn!(
        count = entries.len(),
        "top-up attempts were under way when simkeep stopped; verifying them (never re-running)"
    );
    // Each attempt is watched as long as its flow's verify step would have watched it.
    let windows: Vec<Duration> = entries
        .iter()
        .map(|e| {
            cfg.flows
                .iter()
                .find(|f| f.name == e.method)
                .and_then(|f| {
                    f.steps.iter().find_map(|s| match s {
                        crate::config::Step::Verify { timeout } => Some(*timeout),
                        _ => None,
                    })
                })
                .unwrap_or(runner::DEFAULT_VERIFY)
        })
        .collect();
    // The receipts each flow waits for: (sender, what the receipt says).
    let receipts: Vec<Vec<(String, regex_lite::Regex)>> = entries
        .iter()
        .map(|e| {
            cfg.flows
                .iter()
                .find(|f| f.name == e.method)
                .map(|f| {
                    f.steps
                        .iter()
                        .filter_map(|s| match s {
                            crate::config::Step::Sms {
                                to,
                                expect: Some(x),
                                ..
                            } => Some((to.clone(), x.clone())),
                            crate::config::Step::WaitSms {
                                from,
                                expect: Some(x),
                                ..
                            } => Some((from.clone(), x.clone())),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    tokio::spawn(async move {
        let mut ends = Vec::new();
        for ((e, window), receipts) in entries.into_iter().zip(windows).zip(receipts) {
            let receipt = receipt_in_inbox(&store, &e, &receipts).await;
            let state = super::topup::settle_after_restart(
                &store,
                &e,
                &probe,
                window,
                receipt,
                super::status::unix_now,
            )
            .await;
            ends.push(AttemptEnd {
                id: Some(e.id),
                flow: e.method.clone(),
                state,
                note: String::new(),
            });
        }
        let _ = done.send(ends).await;
    })
}

/// A receipt for `entry` that the inbox stored after it began (not proof of a purchase — a
/// carrier's "done" may never be credited — but worth telling the owner).
async fn receipt_in_inbox(
    store: &StoreHandle,
    entry: &LedgerEntry,
    receipts: &[(String, regex_lite::Regex)],
) -> Option<String> {
    if receipts.is_empty() {
        return None;
    }
    let inbox = store
        .list_sms(Some(crate::store::SmsDirection::Received), 50)
        .await
        .ok()?;
    inbox.into_iter().find_map(|m| {
        let s = &m.sms;
        let matches = s.t >= entry.created
            && receipts
                .iter()
                .any(|(from, x)| crate::sms::sender_matches(&s.peer, from) && x.is_match(&s.body));
        matches.then(|| format!("{}: {}", s.peer, crate::topup::menu::short(&s.body, 120)))
    })
}

/// Answers one request from the owner.
pub async fn control(
    req: Control,
    topups: &mut TopupAgent,
    task: &mut Option<tokio::task::JoinHandle<()>>,
    poller: &Poller,
    accounting: &Accounting,
    ctx: TopupCtx<'_>,
) {
    let now = super::status::unix_now();
    match req {
        Control::Resume { reply } => {
            let r = topups.resume(now).await;
            let _ = reply.send(r);
        }
        Control::Pause { reply } => {
            let r = topups.pause(now).await;
            let _ = reply.send(r);
        }
        Control::Plan { reply } => {
            let words = match poller.last.as_ref() {
                None => "hold: no poll of the modem has succeeded yet".to_string(),
                Some(snap) => {
                    let report = accounting.report(now);
                    let view = PollView {
                        snap,
                        usage: report.as_ref(),
                    };
                    // The policy's words, as status shows them.
                    topups.decide(&view, now, None);
                    topups.status.plan.clone()
                }
            };
            let words = if task.is_some() {
                format!("a top-up is under way; then {words}")
            } else {
                words
            };
            let _ = reply.send(words);
        }
        Control::Now {
            flow,
            dry_run,
            reply,
        } => {
            if task.is_some() {
                let _ = reply.send(Err("a top-up is already under way".into()));
                return;
            }
            let Some(snap) = poller.last.as_ref() else {
                let _ = reply.send(Err("no poll of the modem has succeeded yet".into()));
                return;
            };
            let report = accounting.report(now);
            let view = PollView {
                snap,
                usage: report.as_ref(),
            };
            let manual = ManualRequest { flow };
            let answer = match topups.decide(&view, now, Some(&manual)) {
                Decision::Hold { reason } => Err(format!("held back: {reason}")),
                Decision::Buy { flows, reason } => {
                    let dry = dry_run || topups.config().dry_run;
                    let names: Vec<String> = flows
                        .iter()
                        .filter_map(|&i| topups.config().flows.get(i).map(|f| f.name.clone()))
                        .collect();
                    *task =
                        start_decision(topups, ctx, &view, flows, reason.clone(), true, dry, now);
                    if dry {
                        Ok(format!(
                            "dry run: would buy with {} ({reason}); nothing sent",
                            names.join(", then ")
                        ))
                    } else {
                        Ok(format!(
                            "buying with {} ({reason}); `simkeep topup history` shows how it ends",
                            names.join(", then ")
                        ))
                    }
                }
            };
            let _ = reply.send(answer);
        }
    }
}

/// The network's time as the modem heard it (NITZ): Quectel's `AT+QLTS=1` (UTC), else the
/// modem clock `AT+CCLK?` when the modem sets it from the network.
pub async fn network_time(at: &AtClient) -> Option<i64> {
    if let Ok(r) = at.run("AT+QLTS=1").await {
        if let Some(t) = r
            .lines
            .iter()
            .find_map(|l| crate::topup::clock::parse_qlts(l))
        {
            return Some(t);
        }
    }
    let r = at.run("AT+CCLK?").await.ok()?;
    r.lines
        .iter()
        .find_map(|l| crate::topup::clock::parse_cclk(l))
}
