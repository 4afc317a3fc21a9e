//! Modem driver: asks what the profile declares (typed [`Query`]s at their [`Rate`]s) through
//! the AT engine and builds the modem model from the answers. The only part of `modem` that
//! does I/O; the parsing and the decisions (which profile, whether to send the PIN) are the
//! pure modules beside it.

use serde::Serialize;

use super::model::{ModemIdentity, Registration, Signal, SimInfo, SimState};
use std::time::Duration;

use super::profile::{Profile, Query, Rate, COPS_FORMAT_NUMERIC, NETWORK};
use super::sim_gate::{decide, detect_swap, PinLedger, SimAction};
use super::{Outcome, Replies};
use crate::at::{AtClient, AtError, Command};

/// Everything one poll learned.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// Unix seconds when the poll finished.
    pub taken_at: i64,
    pub profile: String,
    pub modem: ModemIdentity,
    pub sim: SimInfo,
    pub registration: Registration,
    pub signal: Signal,
}

/// Something worth recording that a poll noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemEvent {
    /// A different SIM is in the slot (or the first one seen).
    SimChanged { from: Option<String>, to: String },
    /// The PIN was sent (once per SIM).
    PinSent,
    /// The SIM needs something a human must do (PUK, wrong PIN, no PIN configured).
    SimNeedsAttention(String),
}

/// What one poll read: identity, SIM, registration, signal and the events it noticed.
type Polled = (
    ModemIdentity,
    SimInfo,
    Registration,
    Signal,
    Vec<ModemEvent>,
);

pub struct Driver {
    at: AtClient,
    forced: Option<Profile>,
    profile: Option<Profile>,
    pin: Option<String>,
    /// SIMs we already sent the PIN to: never twice.
    pins_sent: PinLedger,
    last_iccid: Option<String>,
    /// Who the modem is does not change while it stays connected ([`Rate::PerConnection`]).
    identity: Option<ModemIdentity>,
    /// The `AT+CGMI`/`AT+CGMM` answers profile detection read, so the first poll does not ask
    /// again.
    detected: Replies,
    /// The SIM's answers to the [`Rate::PerSim`] queries, kept while it stays ready.
    sim: Option<SimCache>,
    /// The PLMN the operator name was read for, and the `+COPS?` lines that named it
    /// ([`Rate::OnChange`]).
    operator: Option<(String, Vec<String>)>,
    /// When the profile was detected; a reset soon after keeps it (see [`REDETECT_AFTER`]).
    detected_at: Option<tokio::time::Instant>,
    /// The profile's init commands must run again before the next poll (a modem restart).
    needs_init: bool,
}

/// A restart storm (`RDY` over and over: 631 re-initialisations and 488 profile detections in a
/// 30 s flood) resets the driver many times a second. The modem behind the port cannot change
/// that fast, so within this window a reset keeps the detected profile and identity and only
/// runs the init commands again (a restart forgets `+CREG=2` and the `+COPS` format).
pub const REDETECT_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// IMSI and own number ([`Rate::PerSim`]) do not change while the same SIM stays in: they
/// are asked once per SIM and replayed from here. The ICCID itself is asked every poll (one
/// short command) so a swap is seen even when the modem reports nothing between two polls;
/// the cache is dropped when the ICCID differs, when `+CPIN?` says anything but READY, on
/// reconnect, and after [`SIM_RECHECK_POLLS`] polls.
struct SimCache {
    iccid: String,
    /// The query that answered with the ICCID (the vendor's, or `AT+CCID` where the vendor's
    /// is refused), asked every poll.
    iccid_query: Query,
    replies: Vec<(Query, Outcome)>,
    polls: u32,
}

/// Polls between re-reads of the SIM questions while the same SIM stays ready.
pub const SIM_RECHECK_POLLS: u32 = 20;

impl Driver {
    /// `forced` is the profile named in config (`None` = detect).
    pub fn new(at: AtClient, forced: Option<Profile>, pin: Option<String>) -> Self {
        Self {
            at,
            forced,
            profile: None,
            pin,
            pins_sent: PinLedger::new(),
            last_iccid: None,
            identity: None,
            detected: Replies::new(),
            sim: None,
            operator: None,
            detected_at: None,
            needs_init: false,
        }
    }

    pub fn client(&self) -> &AtClient {
        &self.at
    }

    /// The modem was reconnected or restarted: detect and initialise again on the next poll.
    /// Within [`REDETECT_AFTER`] of the last detection only the init commands run again.
    /// The operator name is kept: it is filed under its PLMN and replayed only for that PLMN.
    pub fn reset(&mut self) {
        self.sim = None;
        let recent = self
            .detected_at
            .is_some_and(|t| t.elapsed() < REDETECT_AFTER);
        if recent && self.profile.is_some() {
            self.needs_init = true;
            return;
        }
        self.profile = None;
        self.identity = None;
        self.detected = Replies::new();
    }

    /// Detects the vendor profile (unless forced) and runs its init commands, once per connection.
    pub async fn profile(&mut self) -> Result<Profile, AtError> {
        if let Some(p) = self.profile {
            if self.needs_init {
                self.run_init(p).await?;
                self.needs_init = false;
            }
            return Ok(p);
        }
        let p = match self.forced {
            Some(p) => p,
            None => {
                let cgmi = self.detect_line(Query::Manufacturer).await?;
                let cgmm = self.detect_line(Query::Model).await?;
                let p = Profile::detect(&cgmi, &cgmm);
                if p == Profile::Generic {
                    tracing::info!("modem vendor {cgmi:?} model {cgmm:?} not known; using the generic 3GPP profile");
                } else {
                    tracing::debug!("modem profile {p:?} detected from {cgmi:?} / {cgmm:?}");
                }
                p
            }
        };
        self.run_init(p).await?;
        self.profile = Some(p);
        self.detected_at = Some(tokio::time::Instant::now());
        self.needs_init = false;
        Ok(p)
    }

    async fn run_init(&self, p: Profile) -> Result<(), AtError> {
        for line in p.init_commands() {
            if let Err(e) = self.at.run(line).await {
                if !e.is_modem_refusal() {
                    return Err(e);
                }
                tracing::debug!("init command {line} refused: {e}");
            }
        }
        Ok(())
    }

    /// Asks a detection question and keeps the answer for the first poll's identity.
    async fn detect_line(&mut self, q: Query) -> Result<String, AtError> {
        let outcome = self.ask(q).await?;
        let joined = outcome
            .as_ref()
            .map(|lines| lines.join(" "))
            .unwrap_or_default();
        self.detected.insert(q, outcome);
        Ok(joined)
    }

    /// Puts one query on the wire, command by command as its [`Spec`](super::profile::Spec)
    /// declares, each with the query's timeout. A refusal is the answer; a dead modem is an
    /// error that aborts the poll.
    async fn ask(&self, q: Query) -> Result<Outcome, AtError> {
        let spec = q.spec();
        for line in spec.set {
            match self.send(line, spec.timeout).await {
                Ok(_) => {}
                // The mode was not set, so there is nothing to read or restore.
                Err(e) if e.is_modem_refusal() => return Ok(Err(e.final_line())),
                Err(e) => return Err(e),
            }
        }
        let answer = match self.send(spec.read, spec.timeout).await {
            Ok(lines) => Ok(lines),
            Err(e) if e.is_modem_refusal() => Err(e.final_line()),
            Err(e) => return Err(e),
        };
        for line in spec.restore {
            match self.send(line, spec.timeout).await {
                Ok(_) => {}
                Err(e) if e.is_modem_refusal() => tracing::debug!("{line} refused: {e}"),
                Err(e) => return Err(e),
            }
        }
        Ok(answer)
    }

    async fn send(&self, line: &str, timeout: Duration) -> Result<Vec<String>, AtError> {
        let cmd = Command::new(line)?.with_timeout(timeout);
        Ok(self.at.send(cmd).await?.lines)
    }

    /// Identity, SIM and registration.
    pub async fn info(
        &mut self,
    ) -> Result<(ModemIdentity, SimInfo, Registration, Vec<ModemEvent>), AtError> {
        let (identity, sim, registration, _, events) = self.poll(false).await?;
        Ok((identity, sim, registration, events))
    }

    /// One poll: each declared question at its [`Rate`], each at most once. Identity once
    /// per connection, IMSI and own number once per SIM (see [`SimCache`]), the operator
    /// name only when the PLMN changes; `+CPIN?`, the ICCID, registration and (with
    /// `with_signal`) signal every time.
    async fn poll(&mut self, with_signal: bool) -> Result<Polled, AtError> {
        let p = self.profile().await?;
        let declared = if with_signal {
            p.queries()
        } else {
            p.info_queries()
        };
        let mut replies = Replies::new();
        for q in [Query::Manufacturer, Query::Model] {
            if let Some(outcome) = self.detected.outcome(q) {
                replies.insert(q, outcome.clone());
            }
        }
        // The SIM state and the ICCID first: they decide whether the cached SIM answers
        // still hold.
        replies.insert(Query::SimState, self.ask(Query::SimState).await?);
        let iccid_query = self.read_iccid(p, &mut replies).await?;
        let now = p.build_sim(&replies);
        let ready = now.state == Some(SimState::Ready);
        let cached = match self.sim.take() {
            Some(c)
                if ready
                    && c.polls < SIM_RECHECK_POLLS
                    && now.iccid.as_deref() == Some(c.iccid.as_str()) =>
            {
                Some(c)
            }
            _ => None,
        };
        if let Some(c) = &cached {
            for (q, outcome) in &c.replies {
                replies.insert(*q, outcome.clone());
            }
        }
        for d in &declared {
            // Already asked (SIM state, ICCID), detected, or replayed from the SIM cache.
            if d.query.is_iccid() || replies.outcome(d.query).is_some() {
                continue;
            }
            let due = match d.rate {
                Rate::EveryPoll => true,
                Rate::PerConnection => self.identity.is_none(),
                Rate::PerSim => cached.is_none(),
                // Asked below, when what it describes changed.
                Rate::OnChange => false,
            };
            if due {
                replies.insert(d.query, self.ask(d.query).await?);
            }
        }
        self.sim = match cached {
            Some(mut c) => {
                c.polls = c.polls.saturating_add(1);
                Some(c)
            }
            // The ICCID read above: `iccid_query` is the read that gave it.
            None if ready => now
                .iccid
                .clone()
                .zip(iccid_query)
                .map(|(iccid, iccid_query)| SimCache {
                    iccid,
                    iccid_query,
                    replies: declared
                        .iter()
                        .filter(|d| d.rate == Rate::PerSim)
                        .filter_map(|d| Some((d.query, replies.outcome(d.query)?.clone())))
                        .collect(),
                    polls: 1,
                }),
            None => None,
        };
        if declared.iter().any(|d| d.query == Query::OperatorName) {
            self.operator_name(&mut replies).await?;
        }
        let identity = match &self.identity {
            Some(known) => known.clone(),
            None => {
                let read = p.build_identity(&replies);
                // Keep it only once the modem actually said who it is.
                if read.manufacturer.is_some() && read.imei.is_some() {
                    self.identity = Some(read.clone());
                }
                read
            }
        };
        let sim = p.build_sim(&replies);
        let registration = p.build_registration(&replies);
        let signal = if with_signal {
            p.build_signal(&replies)
        } else {
            Signal::default()
        };
        let events = self.sim_housekeeping(&sim).await?;
        Ok((identity, sim, registration, signal, events))
    }

    /// Reads the ICCID: by the query that answered for this SIM before, else the profile's
    /// ICCID reads in order (the vendor's, then `AT+CCID`) until one answers with an ICCID.
    /// Returns the query that did.
    async fn read_iccid(
        &self,
        p: Profile,
        replies: &mut Replies,
    ) -> Result<Option<Query>, AtError> {
        let order = match &self.sim {
            Some(c) => vec![c.iccid_query],
            None => p.iccid_queries(),
        };
        for q in order {
            replies.insert(q, self.ask(q).await?);
            if super::profile::read_iccid(q, replies).is_some() {
                return Ok(Some(q));
            }
        }
        Ok(None)
    }

    /// The `AT+COPS?` answer in `replies` is numeric (the format the init commands set); the
    /// name is asked only when that PLMN differs from the one last named, and replayed
    /// otherwise. A modem that lost the format (a restart we did not see) answers with a name:
    /// the format is set again for the next poll.
    async fn operator_name(&mut self, replies: &mut Replies) -> Result<(), AtError> {
        let Some(lines) = replies.get(Query::Operator) else {
            return Ok(());
        };
        let cops = lines
            .iter()
            .find_map(|l| super::generic::parse_cops(l).ok());
        let Some(cops) = cops else { return Ok(()) };
        if cops.format.is_some_and(|f| f != 2) && cops.oper.is_some() {
            match self.send(COPS_FORMAT_NUMERIC, NETWORK).await {
                Ok(_) => {}
                Err(e) if e.is_modem_refusal() => {
                    tracing::debug!("{COPS_FORMAT_NUMERIC} refused: {e}")
                }
                Err(e) => return Err(e),
            }
            return Ok(());
        }
        let Some((mcc, mnc)) = cops.numeric() else {
            return Ok(());
        };
        let plmn = format!("{mcc}{mnc}");
        if let Some((known, named)) = &self.operator {
            if *known == plmn {
                replies.insert(Query::OperatorName, Ok(named.clone()));
                return Ok(());
            }
        }
        if let Ok(named) = self.ask(Query::OperatorName).await? {
            self.operator = Some((plmn, named.clone()));
            replies.insert(Query::OperatorName, Ok(named));
        }
        Ok(())
    }

    pub async fn signal(&mut self) -> Result<Signal, AtError> {
        let p = self.profile().await?;
        let mut replies = Replies::new();
        for d in p.signal_queries() {
            replies.insert(d.query, self.ask(d.query).await?);
        }
        Ok(p.build_signal(&replies))
    }

    /// The detected (or forced) profile's name, once known.
    pub fn profile_name(&self) -> Option<String> {
        self.profile.map(|p| format!("{p:?}").to_lowercase())
    }

    /// The modem's own data counters, where the profile declares them (Quectel `AT+QGDCNT?`,
    /// Huawei `AT^DSFLOWQRY`). `None` when it has none or they could not be read: usage then
    /// rests on the interface counters and the carrier.
    pub async fn data_counters(&mut self) -> Option<crate::usage::Traffic> {
        let p = self.profile().await.ok()?;
        let q = p.params().counters?;
        let mut replies = Replies::new();
        match self.ask(q).await {
            Ok(outcome) => replies.insert(q, outcome),
            Err(e) => {
                crate::limited!(
                    debug,
                    "driver.counters_failed",
                    "{} failed: {e}",
                    q.spec().read
                );
                return None;
            }
        }
        let parsed = p.build_counters(&replies);
        if parsed.is_none() {
            // The modem's own words, escaped and cut like every modem-caused log line.
            crate::limited!(
                debug,
                "driver.counters_not_understood",
                "{} answer not understood: {}",
                q.spec().read,
                crate::at::engine::escape(&format!("{:?}", replies.outcome(q)))
            );
        }
        parsed
    }

    /// A full poll.
    pub async fn snapshot(&mut self, now: i64) -> Result<(Snapshot, Vec<ModemEvent>), AtError> {
        let (modem, sim, registration, signal, events) = self.poll(true).await?;
        let profile = self
            .profile
            .map(|p| format!("{p:?}").to_lowercase())
            .unwrap_or_default();
        Ok((
            Snapshot {
                taken_at: now,
                profile,
                modem,
                sim,
                registration,
                signal,
            },
            events,
        ))
    }

    /// SIM swap detection and the PIN: the decision is `sim_gate`'s (sent at most once per
    /// SIM, never after a refusal, never when the SIM wants its PUK — a wrong PIN burns one of
    /// three attempts); this only carries it out.
    async fn sim_housekeeping(&mut self, sim: &SimInfo) -> Result<Vec<ModemEvent>, AtError> {
        let mut events = Vec::new();
        if let Some(iccid) = &sim.iccid {
            let first = self.last_iccid.is_none();
            if first || detect_swap(self.last_iccid.as_deref(), Some(iccid)).is_some() {
                events.push(ModemEvent::SimChanged {
                    from: self.last_iccid.clone(),
                    to: iccid.clone(),
                });
                self.last_iccid = Some(iccid.clone());
            }
        }
        let Some(state) = sim.state else {
            return Ok(events);
        };
        let iccid = sim.iccid.as_deref();
        let attention = |msg: &str| ModemEvent::SimNeedsAttention(msg.to_string());
        match decide(state, self.pin.is_some(), self.pins_sent.already_sent(iccid)) {
            SimAction::SendPin => {
                self.pins_sent.record_sent(iccid);
                let pin = self.pin.clone().unwrap_or_default();
                // The PIN is 4–8 digits (checked in config), so it cannot break the line.
                match self.at.send(Command::new(format!("AT+CPIN=\"{pin}\""))?).await {
                    Ok(_) => events.push(ModemEvent::PinSent),
                    Err(e) if e.is_modem_refusal() => events.push(attention(
                        "the SIM refused modem.pin; not trying again (each wrong PIN uses up one of three attempts) — fix modem.pin and restart simkeep",
                    )),
                    Err(e) => return Err(e),
                }
            }
            SimAction::StopPinWrongOrMissing if self.pin.is_none() => {
                events.push(attention("the SIM asks for its PIN and modem.pin is not set"))
            }
            SimAction::StopPinWrongOrMissing => events.push(attention(
                "the SIM still asks for its PIN after modem.pin was sent once; not sending it again — check modem.pin",
            )),
            SimAction::StopPukRequired => events.push(attention(
                "the SIM is blocked and asks for its PUK; simkeep will not send anything — unblock it in a phone",
            )),
            SimAction::StopSimError => events.push(attention("the SIM reports a failure or a lock; check the SIM card")),
            SimAction::NotInserted => events.push(attention("no SIM card in the modem")),
            SimAction::Ready | SimAction::WaitBusy => {}
        }
        Ok(events)
    }
}
