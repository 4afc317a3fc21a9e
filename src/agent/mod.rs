//! The agent: one task owns the modem (the AT engine), this loop polls it on a schedule,
//! publishes a status snapshot on a `watch` channel for the HTTP server, and logs what changes.
//! On SIGTERM/SIGINT it stops polling at once (even mid-poll), flushes the store, and exits
//! within procd's ~5 s kill window (every stop wait is capped).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

pub mod accounting;
pub mod attention;
pub mod balance;
pub mod ops;
mod poller;
pub mod status;
pub mod topup;
mod topup_task;

use crate::topup::policy::Decision;
use accounting::Accounting;
use balance::{
    start_balance, BalanceAnswer, BalanceAsker, BalanceResult, BalanceWaiter, MAX_BALANCE_WAITERS,
};
use poller::Poller;
use status::{unix_now, Counters, Status, UsageView};
use topup::{Control, PollView, TopupAgent};
use topup_task::{control, network_time, spawn_recovery, start_decision, TopupCtx, NITZ_EVERY};

use crate::at::{self, EngineConfig, LinkState};
use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::modem::driver::{Driver, ModemEvent};
use crate::notify::{AgentEvent, Notifier};
use crate::sms::{Inbox, InboxConfig, ReceivedSms, SmsSink};
use crate::store::StoreHandle;

/// The AT engine's settings from the config (one-shot commands use the same).
pub fn engine_config(cfg: &Config) -> EngineConfig {
    let mut e = EngineConfig::new(cfg.modem.port.clone());
    e.baud = cfg.modem.baud;
    e.lock_dir = Some(cfg.modem.lock_dir.clone());
    e
}

/// Runs until `shutdown` resolves.
pub async fn run(cfg: Config, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
    start(cfg).await?.run_until(shutdown).await
}

/// `simkeep run`: runs until SIGTERM/SIGINT. SIGHUP (procd's reload) re-reads the config; a
/// valid new config restarts the agent in-process (the modem port and HTTP port are released
/// and taken again), an invalid one is logged and the running agent carries on untouched.
pub async fn run_with_reload(
    mut cfg: Config,
    reload: impl Fn() -> Result<Config, AppError>,
) -> Result<(), AppError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())
        .map_err(|e| AppError::new(ExitKind::Failure, format!("cannot watch for SIGHUP: {e}")))?;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let mut agent = start(cfg.clone()).await?;
        // `POST /api/v1/reload` lands here, beside SIGHUP; one at a time.
        let (reload_tx, mut reload_rx) = mpsc::channel::<ops::Answer<()>>(1);
        agent.reload = Some(reload_tx);
        let (restart_tx, restart_rx) = tokio::sync::oneshot::channel::<()>();
        let run = agent.run_until(async move {
            let _ = restart_rx.await;
        });
        tokio::pin!(run);
        let mut restart_tx = Some(restart_tx);
        let mut next: Option<Config> = None;
        let mut stopping = false;
        loop {
            tokio::select! {
                res = &mut run => {
                    res?;
                    break;
                }
                _ = &mut stop, if !stopping => {
                    stopping = true;
                    if let Some(tx) = restart_tx.take() { let _ = tx.send(()); }
                }
                _ = hup.recv(), if !stopping => match reload() {
                    Ok(new) => {
                        tracing::info!("config reloaded; restarting the agent");
                        next = Some(new);
                        if let Some(tx) = restart_tx.take() { let _ = tx.send(()); }
                    }
                    Err(e) => tracing::error!("config not reloaded, keeping the running one: {e}"),
                },
                // The owner asked through the API: the same, with the verdict as the answer.
                Some(answer) = reload_rx.recv(), if !stopping && next.is_none() => match reload() {
                    Ok(new) => {
                        tracing::info!("config reloaded (API); restarting the agent");
                        next = Some(new);
                        let _ = answer.send(Ok(()));
                        if let Some(tx) = restart_tx.take() { let _ = tx.send(()); }
                    }
                    Err(e) => {
                        tracing::error!("config not reloaded, keeping the running one: {e}");
                        let _ = answer.send(Err(ops::OpError::new(ops::OpErrorKind::Invalid, e.message)));
                    }
                },
            }
        }
        match next {
            Some(new) if !stopping => cfg = new,
            _ => return Ok(()),
        }
    }
}

/// A started agent: the engine is connecting and the HTTP port is bound.
pub struct Agent {
    cfg: Config,
    client: at::AtClient,
    engine_task: tokio::task::JoinHandle<()>,
    status_tx: watch::Sender<Status>,
    http_task: Option<tokio::task::JoinHandle<()>>,
    http_addr: Option<SocketAddr>,
    store: StoreHandle,
    control_rx: mpsc::Receiver<Control>,
    /// Modem work the owner asks for through the API.
    ops_rx: mpsc::Receiver<ops::OwnerOp>,
    /// Where `POST /api/v1/reload` goes; set by `run_with_reload`.
    reload: Option<mpsc::Sender<ops::Answer<()>>>,
    apis: crate::carrier_api::CarrierApis,
    notify: crate::notify::Notifications,
    mqtt: Option<MqttTask>,
}

/// Validates what needs validating, starts the engine and binds the HTTP port.
pub async fn start(cfg: Config) -> Result<Agent, AppError> {
    tracing::info!(
        "simkeep {} starting: modem on {}, polled every {}s",
        env!("CARGO_PKG_VERSION"),
        cfg.modem.port.display(),
        cfg.modem.poll_interval.as_secs()
    );
    let (status_tx, status_rx) = watch::channel(Status {
        version: env!("CARGO_PKG_VERSION"),
        started_at: unix_now(),
        link: "connecting".into(),
        stale: true,
        stale_reason: Some("no reading from the modem yet".into()),
        stale_after_secs: poller::stale_after(&cfg),
        ..Status::default()
    });
    let mut store_cfg = crate::store::StoreConfig::new(cfg.store.path.clone());
    store_cfg.flush_interval = cfg.store.flush_interval;
    // The store only fails to start if its thread cannot be spawned; a database that will not
    // open leaves it running on memory, and its health says why.
    let store = StoreHandle::start(store_cfg)
        .map_err(|e| AppError::new(ExitKind::Failure, e.to_string()))?;
    // The secrets file is checked before anything starts: a world-readable token file is the
    // owner's mistake to fix, not something to run with.
    let secrets = cfg
        .load_secrets()
        .map_err(|e| AppError::new(ExitKind::Config, e.to_string()))?;
    let apis = crate::carrier_api::CarrierApis::new(cfg.apis.clone(), secrets);
    for (api, name) in apis.missing_secrets() {
        tracing::warn!(
            "carrier_api.{api} uses ${{secret:{name}}}, which the secrets file does not hold"
        );
    }
    // Requests from the owner through the API (top-up now/plan/resume); a few at a time.
    let (control_tx, control_rx) = mpsc::channel::<Control>(4);
    // The owner's modem work (USSD, SMS, raw AT, balance, reload); the loop answers busy
    // beyond a few running, so a small queue is enough.
    let (ops_tx, ops_rx) = mpsc::channel::<ops::OwnerOp>(ops::MAX_OWNER_TASKS);
    let (mqtt_status, mqtt_control) = (status_rx.clone(), control_tx.clone());
    let token = match crate::api::topup::ensure_token(&cfg.http.token_file) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("{e}; API writes (top-up now/resume) are refused until it exists");
            None
        }
    };
    let (http_task, http_addr) = match cfg.http.listen {
        Some(addr) => {
            let ctx = crate::api::ApiContext {
                store: Some(store.clone()),
                control: Some(control_tx),
                ops: Some(ops_tx),
                token,
                allow_raw_at: cfg.http.allow_raw_at,
                timezone: cfg.usage.as_ref().map(|u| u.plan.tz.clone()),
            };
            let (task, bound) = crate::api::serve(addr, status_rx, ctx).await?;
            (Some(task), Some(bound))
        }
        None => (None, None),
    };
    let (client, engine_task) = at::spawn(engine_config(&cfg));
    let notify = crate::notify::Notifications::start(
        &cfg,
        &store,
        apis.secrets().clone(),
        Some(client.clone()),
        status_tx.borrow().counters.clone(),
    );
    notify.notifier.emit(AgentEvent::agent_started(
        unix_now(),
        env!("CARGO_PKG_VERSION"),
    ));
    let mqtt = start_mqtt(&cfg, mqtt_status, mqtt_control, &store, apis.secrets());
    Ok(Agent {
        cfg,
        client,
        engine_task,
        status_tx,
        http_task,
        http_addr,
        store,
        control_rx,
        ops_rx,
        reload: None,
        apis,
        notify,
        mqtt,
    })
}

impl Agent {
    /// Where the HTTP status port is listening (the real port when the config said `:0`).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Polls until `shutdown` resolves, then stops cleanly.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
        let Agent {
            cfg,
            client,
            engine_task,
            status_tx,
            http_task,
            store,
            mut control_rx,
            mut ops_rx,
            reload,
            apis,
            notify,
            mqtt,
            ..
        } = self;
        let notifier = notify.notifier.clone();
        // Link and top-up pause transitions, so each is told once, not every poll.
        let mut modem_lost = false;
        let mut was_paused = false;
        let mut accounting = Accounting::new(cfg.usage.clone(), store.clone());
        // Bumped on every reconnect: the modem's own counters may have restarted from zero.
        let mut generation: u64 = 0;
        let mut connected_before = false;
        let mut balance = BalanceAsker::default();
        let (balance_tx, mut balance_rx) = mpsc::channel::<BalanceResult>(1);
        // The balance query in flight, if any (one at a time).
        let mut balance_task: Option<tokio::task::JoinHandle<()>> = None;
        let mut balance_error: Option<String> = None;
        // Who waits for the next balance reading (a top-up verifying, the owner's refresh).
        let (probe_tx, mut probe_rx) = mpsc::channel::<BalanceWaiter>(4);
        let mut balance_waiters: Vec<BalanceWaiter> = Vec::new();
        let (received_tx, _) = broadcast::channel::<ReceivedSms>(16);
        let mut received_rx = received_tx.subscribe();
        let mut inbox: Option<InboxTask> = None;
        let mut driver = Driver::new(client.clone(), cfg.modem.profile, cfg.modem.pin.clone());
        let mut link = client.link_state();
        let mut tick = tokio::time::interval(cfg.modem.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let counters = status_tx.borrow().counters.clone();
        let mut poller = Poller::new(&cfg, counters.clone(), status_tx.borrow().started_at);
        let mut topups = TopupAgent::new(cfg.topup.clone(), store.clone());
        topups.check_clock(unix_now(), None);
        topups.reload().await;
        // The decision being carried out (or the crash recovery), and its report channel.
        let (topup_done_tx, mut topup_done_rx) =
            mpsc::channel::<Vec<crate::topup::runner::AttemptEnd>>(1);
        let mut topup_task: Option<tokio::task::JoinHandle<()>> = None;
        let mut recovered = false;
        let mut last_nitz_ask: Option<tokio::time::Instant> = None;
        let mut owner_ops = ops::OwnerOps::default();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                // Shutdown first: no new work once asked to stop.
                biased;
                _ = &mut shutdown => break,
                // The link went up or down: re-detect after a reconnect, and publish the state.
                changed = link.changed() => {
                    if changed.is_err() { break; }
                    let state = link.borrow_and_update().clone();
                    if state == LinkState::Connected {
                        // The first connection finds a fresh driver; later ones (reconnect,
                        // restart) find a modem that forgot its settings and maybe its counters.
                        if connected_before {
                            Counters::bump(&counters.reconnects);
                            driver.reset();
                            generation = generation.wrapping_add(1);
                        }
                        connected_before = true;
                        tick.reset_immediately();
                        if std::mem::take(&mut modem_lost) {
                            notifier.emit(AgentEvent::modem_back(unix_now()));
                        }
                    }
                    if let LinkState::Down { cause } = &state {
                        if !std::mem::replace(&mut modem_lost, true) {
                            notifier.emit(AgentEvent::modem_lost(unix_now(), cause));
                        }
                    }
                    status_tx.send_modify(|s| set_link(s, &state));
                    // A link going down makes the readings stale now, not a poll later.
                    let changes = poller.publish(&status_tx, accounting.report(unix_now()).as_ref(), unix_now());
                    emit_attention(&notifier, &changes);
                }
                // A balance query finished: parse and record the carrier's figure.
                Some(done) = balance_rx.recv() => {
                    balance_task = None;
                    if let Some(code) = &done.ussd {
                        Counters::bump(&counters.ussd_sessions);
                        record_ussd(&store, &done, code).await;
                    }
                    let reading = match done.answer {
                        Ok(BalanceAnswer::Text(text)) => {
                            balance_error = None;
                            accounting.carrier_reply(&done.iccid, &text, unix_now()).await
                                .map(|r| r.remaining_bytes)
                                .ok_or_else(|| "the carrier's balance reply was not understood".to_string())
                        }
                        Ok(BalanceAnswer::Bytes(left)) => {
                            balance_error = None;
                            accounting.carrier_bytes(&done.iccid, left, unix_now()).await;
                            Ok(left)
                        }
                        Err(msg) => {
                            if balance_error.as_deref() != Some(msg.as_str()) {
                                tracing::warn!("{msg}");
                                balance_error = Some(msg.clone());
                            }
                            Err(msg)
                        }
                    };
                    publish_usage(&status_tx, accounting.report(unix_now()), &cfg);
                    for w in balance_waiters.drain(..) {
                        let _ = w.send(reading.clone());
                    }
                }
                // Someone needs a fresh balance now (a top-up verifying, the owner).
                Some(waiter) = probe_rx.recv() => {
                    if balance_waiters.len() >= MAX_BALANCE_WAITERS {
                        let _ = waiter.send(Err("too many balance requests waiting".into()));
                    } else {
                        balance_waiters.push(waiter);
                    }
                    if balance_task.is_none() {
                        let snap = poller.last.clone();
                        let started = snap.as_ref().and_then(|s| start_balance(&mut balance, &client, &mut accounting, &driver, s, &received_tx, &balance_tx, &apis, unix_now()));
                        match started {
                            Some(t) => balance_task = Some(t),
                            None => for w in balance_waiters.drain(..) {
                                let _ = w.send(Err("no way to ask the carrier for the balance ([usage.carrier]) or no SIM yet".into()));
                            },
                        }
                    }
                }
                // A message was stored: a carrier warning may say "top up now".
                msg = received_rx.recv() => {
                    match msg {
                        Ok(m) => {
                            notifier.emit(AgentEvent::sms_received(&m));
                            topups.on_sms(&m)
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => {}
                    }
                }
                // A top-up decision (or the recovery) finished.
                Some(ends) = topup_done_rx.recv() => {
                    topup_task = None;
                    let now = unix_now();
                    for end in &ends {
                        let bought = bought(topups.config(), &end.flow);
                        if let Some(e) = AgentEvent::topup_end(now, &end.flow, end.state, &end.note, bought) {
                            notifier.emit(e);
                        }
                    }
                    topups.finished(&ends).await;
                    // Say at once what the policy thinks now (spent, count, paused), not a poll later.
                    if let Some(snap) = poller.last.as_ref() {
                        let report = accounting.report(now);
                        let _ = topups.decide(&PollView { snap, usage: report.as_ref() }, now, None);
                    }
                    status_tx.send_modify(|s| s.topup = Some(topups.status.clone()));
                }
                // The owner asked something through the API.
                Some(req) = control_rx.recv() => {
                    let ctx = TopupCtx { client: &client, store: &store, received: &received_tx, apis: &apis, probe: &probe_tx, done: &topup_done_tx, balance: &mut balance, driver: &driver };
                    control(req, &mut topups, &mut topup_task, &poller, &accounting, ctx).await;
                    status_tx.send_modify(|s| s.topup = Some(topups.status.clone()));
                }
                // The owner asked for modem work through the API: answered now or run as a task.
                Some(op) = ops_rx.recv() => {
                    let ctx = ops::OpsCtx {
                        client: &client, store: &store, balance: &mut balance, driver: &driver,
                        probe: &probe_tx, reload: reload.as_ref(),
                        carrier_busy: balance_task.is_some() || topup_task.is_some(),
                        connected: *link.borrow() == LinkState::Connected,
                        iccid: poller.last.as_ref().and_then(|s| s.sim.iccid.clone()),
                        counters: &counters,
                    };
                    owner_ops.handle(op, ctx);
                }
                // Time to poll.
                _ = tick.tick() => {
                    let now = unix_now();
                    // The poll races shutdown: a hung or slow modem can hold one poll for many
                    // AT timeouts (30 s and more), and procd kills us ~5 s after SIGTERM. Dropping
                    // the poll only drops our wait for the answer; the engine still owns the port.
                    let result = tokio::select! {
                        biased;
                        _ = &mut shutdown => break,
                        r = driver.snapshot(now) => r,
                    };
                    if let Ok((snap, events)) = &result {
                        record_events(&store, events, now, &notifier);
                        let traffic = match &cfg.usage {
                            Some(u) if u.modem_counters => tokio::select! {
                                biased;
                                _ = &mut shutdown => break,
                                t = driver.data_counters() => t.map(|t| (t, generation)),
                            },
                            _ => None,
                        };
                        publish_usage(&status_tx, accounting.on_poll(snap, traffic, now).await, &cfg);
                        if let Some(iccid) = snap.sim.iccid.clone() {
                            if inbox.as_ref().map(|t| &t.iccid) != Some(&iccid) {
                                // New SIM (or first sight of one): its messages are recorded under its ICCID.
                                if let Some(old) = inbox.take() { old.stop().await; }
                                inbox = Some(InboxTask::spawn(&client, &store, &received_tx, &counters, iccid.clone()));
                            }
                            // While a top-up talks to the carrier, the scheduled balance query waits:
                            // it would open its own USSD dialogue or SMS in the middle of the flow.
                            if balance_task.is_none() && topup_task.is_none() && accounting.carrier_due(now) {
                                balance_task = start_balance(&mut balance, &client, &mut accounting, &driver, snap, &received_tx, &balance_tx, &apis, now);
                            }
                        }
                    }
                    let nitz = if topups.wants_nitz() && last_nitz_ask.is_none_or(|t| t.elapsed() >= NITZ_EVERY) {
                        last_nitz_ask = Some(tokio::time::Instant::now());
                        tokio::select! {
                            biased;
                            _ = &mut shutdown => break,
                            t = network_time(&client) => t,
                        }
                    } else {
                        None
                    };
                    topups.check_clock(now, nitz);
                    // While a decision runs, the policy waits for it (its ledger row is not reloaded yet).
                    if let (Ok((snap, _)), None) = (&result, &topup_task) {
                        let in_flight = topups.in_flight();
                        if topups.enabled() && !recovered && !in_flight.is_empty() {
                            topup_task = Some(spawn_recovery(in_flight, topups.config(), &store, &probe_tx, &topup_done_tx));
                        } else {
                            let report = accounting.report(now);
                            let view = PollView { snap, usage: report.as_ref() };
                            let decision = topups.decide(&view, now, None);
                            if let (true, Decision::Buy { flows, reason }) = (topups.enabled(), decision) {
                                let ctx = TopupCtx { client: &client, store: &store, received: &received_tx, apis: &apis, probe: &probe_tx, done: &topup_done_tx, balance: &mut balance, driver: &driver };
                                let dry = topups.config().dry_run;
                                let names: Vec<&str> = flows.iter().filter_map(|&i| topups.config().flows.get(i).map(|f| f.name.as_str())).collect();
                                notifier.emit(AgentEvent::topup_decided(now, &names, &reason, dry));
                                topup_task = start_decision(&mut topups, ctx, &view, flows, reason, false, dry, now);
                            }
                        }
                        recovered |= topups.enabled();
                        if topups.status.paused && !was_paused {
                            let why = topups.status.paused_reason.clone().unwrap_or_default();
                            notifier.emit(AgentEvent::topup_held_back(now, &why));
                        }
                        was_paused = topups.status.paused;
                        status_tx.send_modify(|s| s.topup = Some(topups.status.clone()));
                    }
                    poller.handle(result, &status_tx);
                    poller.store_error = store_health(&store);
                    // The raised/cleared transitions it returns go to the notifications.
                    let changes = poller.publish(&status_tx, accounting.report(now).as_ref(), unix_now());
                    emit_attention(&notifier, &changes);
                }
            }
        }
        tracing::info!("simkeep stopping");
        let stopping = tokio::time::Instant::now();
        // procd sends SIGKILL ~5 s after SIGTERM (its default term_timeout), so every wait below
        // is capped and the caps add up to well under that: inbox ≤ 1 s, store flush ≤ 2.5 s,
        // engine ≤ 1 s. Nothing here may wait on the modem without a cap.
        // A top-up under way stops where it is: its ledger row says how far it got, and the
        // next start verifies it instead of running it again.
        if let Some(t) = topup_task.take() {
            t.abort();
        }
        if let Some(t) = http_task {
            t.abort();
        }
        // The delivery task may hold an AT client (SMS channels): it stops before the engine.
        // Both caps run side by side (inbox ≤ 1 s, notifications ≤ 0.5 s).
        let inbox_stop = async {
            if let Some(t) = inbox.take() {
                t.stop().await;
            }
        };
        drop(notifier);
        // MQTT says `offline` and disconnects (≤ 2 s), alongside.
        tokio::join!(inbox_stop, notify.stop(), stop_mqtt(mqtt));
        // A balance query in flight is abandoned: it spends nothing, and the next start asks again.
        if let Some(t) = balance_task.take() {
            t.abort();
        }
        // Every AT client must go for the engine to stop (the USSD client holds one too).
        drop(owner_ops);
        drop(balance);
        drop(driver);
        drop(client);
        // Telemetry buffered since the last flush goes to disk now, not lost with the process.
        match tokio::time::timeout(STORE_FLUSH_CAP, store.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("store did not shut down cleanly: {e}"),
            Err(_) => tracing::warn!(
                "store did not finish flushing within {}s; stopping anyway",
                STORE_FLUSH_CAP.as_secs_f32()
            ),
        }
        // The engine finishes the command on the wire, then stops when its last client is gone.
        // A USSD dialogue or a hung modem can keep that command open for its whole timeout
        // (30 s and more), so after a short grace the engine is aborted: dropping it closes the
        // port and removes the UUCP lock, which also frees both for the agent a reload starts.
        if !crate::task::join_within(engine_task, ENGINE_STOP_CAP).await {
            tracing::warn!(
                "AT engine was still busy after {}s; the port was closed",
                ENGINE_STOP_CAP.as_secs()
            );
        }
        tracing::info!("simkeep stopped in {} ms", stopping.elapsed().as_millis());
        Ok(())
    }
}

/// How long shutdown waits for the inbox to finish the command on the wire before aborting it.
const INBOX_STOP_CAP: Duration = Duration::from_secs(1);
/// How long shutdown waits for the store to write what it buffered.
const STORE_FLUSH_CAP: Duration = Duration::from_millis(2500);
/// How long shutdown waits for the engine to finish its command before closing the port.
const ENGINE_STOP_CAP: Duration = Duration::from_secs(1);

/// Stores received messages, then tells the balance query (an SMS reply may be what it waits for).
#[derive(Clone)]
struct DaemonSink {
    store: StoreHandle,
    received: broadcast::Sender<ReceivedSms>,
    counters: std::sync::Arc<Counters>,
}

impl SmsSink for DaemonSink {
    fn save(&self, sms: ReceivedSms) -> impl Future<Output = Result<(), String>> + Send {
        let this = self.clone();
        async move {
            this.store.save(sms.clone()).await?;
            Counters::bump(&this.counters.sms_received);
            let parts = match (sms.parts, sms.complete) {
                (1, true) => String::new(),
                (n, true) => format!(" ({n} parts)"),
                (n, false) => format!(" ({n} parts, some missing)"),
            };
            tracing::info!("SMS from {} received and stored{parts}", sms.sender);
            let _ = this.received.send(sms);
            Ok(())
        }
    }
}

/// The SMS inbox: one owned task per SIM, stopped and replaced when the SIM changes.
struct InboxTask {
    iccid: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl InboxTask {
    fn spawn(
        at: &at::AtClient,
        store: &StoreHandle,
        received: &broadcast::Sender<ReceivedSms>,
        counters: &std::sync::Arc<Counters>,
        iccid: String,
    ) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let cfg = InboxConfig {
            iccid: Some(iccid.clone()),
            ..InboxConfig::default()
        };
        let sink = DaemonSink {
            store: store.clone(),
            received: received.clone(),
            counters: counters.clone(),
        };
        let handle = tokio::spawn(Inbox::new(cfg).run(at.clone(), sink, async move {
            let _ = stopped.await;
        }));
        Self {
            iccid,
            stop,
            handle,
        }
    }

    /// Asks the inbox to stop and gives it [`INBOX_STOP_CAP`] to finish the command on the wire,
    /// then aborts it. Aborting is safe at any await point because the inbox stores a message
    /// and waits for the store to say it is durable *before* it sends `AT+CMGD`: cut before the
    /// store answers, the message is still on the modem and the next scan stores it again (the
    /// store keeps one row); cut after, it is on disk and only the delete is left undone. Waiting
    /// longer (a `+CMGR` on a hung modem can take a minute) would blow procd's kill window.
    async fn stop(self) {
        let _ = self.stop.send(());
        if !crate::task::join_within(self.handle, INBOX_STOP_CAP).await {
            tracing::warn!(
                "SMS inbox was still busy after {}s and was stopped (unstored messages stay on the modem)",
                INBOX_STOP_CAP.as_secs()
            );
        }
    }
}

async fn record_ussd(store: &StoreHandle, done: &BalanceResult, code: &str) {
    let session = crate::store::UssdSession {
        t_start: done.started,
        t_end: Some(unix_now()),
        iccid: Some(done.iccid.clone()),
        request: code.to_string(),
        response: match &done.answer {
            Ok(BalanceAnswer::Text(t)) => Some(t.clone()),
            _ => None,
        },
        status: match &done.answer {
            Ok(_) => "done".into(),
            Err(e) => format!("failed: {e}"),
        },
    };
    if let Err(e) = store.record_ussd(session).await {
        tracing::warn!("USSD session not recorded: {e}");
    }
}

/// SIM swaps and PIN use go to the store's event history (rare, so written at once). Attention
/// messages repeat every poll and are only logged, to spare the flash.
fn record_events(store: &StoreHandle, events: &[ModemEvent], now: i64, notifier: &Notifier) {
    for e in events {
        let (kind, detail) = match e {
            ModemEvent::SimChanged { from, to } => {
                // First sight of a SIM at start is not a swap (it is seen at every start).
                if let Some(from) = from {
                    notifier.emit(AgentEvent::sim_swapped(now, Some(from), to));
                }
                (
                    "sim.changed",
                    format!("{} -> {to}", from.as_deref().unwrap_or("none")),
                )
            }
            ModemEvent::PinSent => ("sim.pin_sent", String::new()),
            ModemEvent::SimNeedsAttention(_) => continue,
        };
        if let Err(err) = store.event(now, kind, &detail) {
            tracing::warn!("event {kind} not recorded: {err}");
        }
    }
}

/// Attention raised/cleared as events (filters match them by code, e.g. `data_low`). The codes
/// that have their own event (`modem_lost`, `topup_unverified`, `topup_paused` → the link and
/// top-up events) are skipped, so a filter naming one is not told twice.
fn emit_attention(notifier: &Notifier, changes: &[attention::AttentionChange]) {
    use attention::{AttentionChange, Code};
    for c in changes {
        let (a, raised, t) = match c {
            AttentionChange::Raised(a) => (a, true, a.since),
            AttentionChange::Cleared { was, at } => (was, false, *at),
        };
        if matches!(
            a.code,
            Code::ModemLost | Code::TopupUnverified | Code::TopupPaused
        ) {
            continue;
        }
        let level = match a.level {
            attention::Level::Warning => crate::notify::Level::Warning,
            attention::Level::Critical => crate::notify::Level::Critical,
        };
        notifier.emit(AgentEvent::attention(
            a.code.as_str(),
            level,
            &a.message,
            raised,
            t,
        ));
    }
}

/// What a flow buys and costs, in words ("1 GiB", "500 JPY"), for the top-up event's text.
fn bought(cfg: &crate::config::TopupConfig, flow: &str) -> Option<(String, String)> {
    let f = cfg.flows.iter().find(|f| f.name == flow)?;
    let size = crate::usage::format_size(f.adds_bytes, cfg.unit_base);
    Some((size, format!("{} {}", f.price, cfg.currency)))
}

fn publish_usage(
    status: &watch::Sender<Status>,
    report: Option<crate::usage::UsageReport>,
    cfg: &Config,
) {
    let base = unit_base(cfg);
    let now = unix_now();
    status.send_modify(|s| s.usage = report.and_then(|r| UsageView::json(&r, base, now)));
}

/// The plan's unit base: every size the owner reads is in it.
fn unit_base(cfg: &Config) -> crate::usage::UnitBase {
    cfg.usage
        .as_ref()
        .map_or(crate::usage::UnitBase::Binary, |u| u.plan.unit_base)
}

/// The store's problem (full disk, read-only, corrupt file), if it has one. Read from the
/// published health, never through the store's queue: a file locked by another process holds
/// the queue for the busy timeout, and the poll must not wait on it.
fn store_health(store: &StoreHandle) -> Option<String> {
    store.health_now().last_error
}

#[cfg(feature = "mqtt")]
type MqttTask = crate::mqtt::MqttTask;
#[cfg(not(feature = "mqtt"))]
type MqttTask = std::convert::Infallible;

async fn stop_mqtt(m: Option<MqttTask>) {
    #[cfg(feature = "mqtt")]
    if let Some(m) = m {
        m.stop().await;
    }
    #[cfg(not(feature = "mqtt"))]
    if let Some(never) = m {
        match never {}
    }
}

/// The MQTT task when `[mqtt]` is configured (and this build has it).
fn start_mqtt(
    cfg: &Config,
    status: watch::Receiver<Status>,
    control: mpsc::Sender<Control>,
    store: &StoreHandle,
    secrets: &crate::secrets::Secrets,
) -> Option<MqttTask> {
    let m = cfg.mqtt.clone()?;
    #[cfg(feature = "mqtt")]
    return Some(crate::mqtt::start(
        m,
        status,
        control,
        store.clone(),
        secrets,
    ));
    #[cfg(not(feature = "mqtt"))]
    {
        let _ = (m, status, control, store, secrets);
        tracing::warn!("[mqtt] is configured but this build has no MQTT (cargo feature mqtt)");
        None
    }
}

fn set_link(s: &mut Status, state: &LinkState) {
    match state {
        LinkState::Connected => {
            s.link = "connected".into();
            s.link_error = None;
        }
        LinkState::Connecting => s.link = "connecting".into(),
        LinkState::Down { cause } => {
            s.link = "down".into();
            s.link_error = Some(cause.clone());
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
