//! Modem work the owner asks for through the API (`POST /api/v1/ussd`, `/sms`, `/at`,
//! `/balance/refresh`, `/reload`): sent to the agent loop, which serialises it with its own
//! polls, balance queries and top-ups.
//!
//! The loop hands each op to [`OwnerOps::handle`], which answers at once when it can (busy, no
//! modem yet) and otherwise spawns the work as a task it owns, so the loop never waits on the
//! network. The AT engine already runs one command at a time; a USSD dialogue is longer than one
//! command, so an owner's USSD is **refused (409)** while a top-up or balance query talks to the
//! carrier or another owner's dialogue is open — not queued: a dialogue can last minutes, and a
//! script is better told at once to try again. They share the daemon's one USSD client, whose
//! lock keeps a balance query that starts later from interleaving with the owner's menu.
//!
//! Must not: hand the modem a code, number or line the validators refused (each is checked
//! again here, not only by the route), keep more than [`MAX_OWNER_TASKS`] tasks, or outlive the
//! agent (dropping [`OwnerOps`] aborts its tasks, so they release the engine on shutdown).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::balance::{BalanceAsker, BalanceWaiter};
use super::status::unix_now;
use crate::at::{AtClient, AtError, Command};
use crate::codec::{validate_phone_number, validate_ussd_code};
use crate::error::{AppError, ExitKind};
use crate::modem::driver::Driver;
use crate::store::{SmsDirection, SmsRecord, StoreHandle};
use crate::ussd::{UssdClient, UssdError, UssdReply, UssdStatus};

/// Where an op's answer goes.
pub type Answer<T> = oneshot::Sender<Result<T, OpError>>;

/// At most this many menu choices in one request (a real menu is 2–5 deep).
pub const MAX_REPLIES: usize = 8;
/// Owner ops running at once; more are refused as busy (every queue is bounded).
pub const MAX_OWNER_TASKS: usize = 4;
/// How long the network gets for each answer of an owner's dialogue. Shorter than the USSD
/// client's default so a dialogue of [`MAX_REPLIES`] choices ends within the HTTP deadline.
pub const OWNER_USSD_STEP: Duration = Duration::from_secs(20);
/// Longest raw AT timeout the owner may ask for.
pub const MAX_AT_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest an answer can take: a full dialogue of [`MAX_REPLIES`] choices, or an SMS balance
/// reply. Callers (the route, the CLI's client) wait this long and no longer.
pub const LONGEST_OP: Duration = Duration::from_secs(200);

/// One request from the owner, with the channel its answer goes back on.
#[derive(Debug)]
pub enum OwnerOp {
    /// A USSD code, then the menu choices in order.
    Ussd {
        code: String,
        replies: Vec<String>,
        reply: Answer<UssdOutcome>,
    },
    /// An SMS to `to`; recorded in the store as sent.
    SmsSend {
        to: String,
        text: String,
        reply: Answer<SmsSent>,
    },
    /// One raw AT line (only when `http.allow_raw_at` is on; the route checks).
    At {
        line: String,
        timeout: Option<Duration>,
        reply: Answer<Vec<String>>,
    },
    /// Ask the carrier for the balance now; the bytes left.
    BalanceRefresh { reply: Answer<u64> },
    /// Re-read the config as SIGHUP does; an invalid one is refused and the agent carries on.
    Reload { reply: Answer<()> },
}

/// Why an op was refused or failed; `kind` picks the HTTP status and the CLI's exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OpError {
    pub kind: OpErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpErrorKind {
    /// The request is wrong (a code, number or line the validators refuse; a bad config).
    Invalid,
    /// Something else is talking to the carrier, or too many owner ops run.
    Busy,
    /// No modem yet (connecting, unplugged), or nothing to ask (no balance query configured).
    NotReady,
    /// The modem or network said no (ERROR, +CME/+CMS ERROR, `+CUSD: 4`).
    Refused,
    /// The modem or network did not answer in time, or went away.
    Unanswered,
    /// Anything else.
    Failed,
}

impl OpError {
    pub fn new(kind: OpErrorKind, message: impl Into<String>) -> Self {
        OpError {
            kind,
            message: message.into(),
        }
    }

    /// (HTTP status, the `error` word of the reply). The CLI reads the word back
    /// ([`OpError::exit_kind_for`]), so the same failure exits the same way through the daemon.
    pub fn http(&self) -> (u16, &'static str) {
        match self.kind {
            OpErrorKind::Invalid => (400, "bad request"),
            OpErrorKind::Busy => (409, "busy"),
            OpErrorKind::NotReady => (503, "modem not ready"),
            OpErrorKind::Refused => (502, "modem refused"),
            OpErrorKind::Unanswered => (504, "modem did not answer"),
            OpErrorKind::Failed => (500, "failed"),
        }
    }

    /// The exit code a one-shot command gives for the same failure, from the reply's `error`.
    pub fn exit_kind_for(error: &str) -> ExitKind {
        match error {
            "bad request" => ExitKind::Config,
            "modem refused" => ExitKind::ModemRefused,
            "modem not ready" | "modem did not answer" => ExitKind::Unreachable,
            _ => ExitKind::Failure,
        }
    }
}

impl From<AppError> for OpError {
    fn from(e: AppError) -> Self {
        let kind = match e.kind {
            ExitKind::Config => OpErrorKind::Invalid,
            ExitKind::ModemRefused => OpErrorKind::Refused,
            ExitKind::Unreachable => OpErrorKind::Unanswered,
            ExitKind::Failure => OpErrorKind::Failed,
        };
        OpError::new(kind, e.message)
    }
}

impl From<AtError> for OpError {
    fn from(e: AtError) -> Self {
        match e {
            AtError::NotConnected { .. } | AtError::EngineStopped => {
                OpError::new(OpErrorKind::NotReady, e.to_string())
            }
            e => AppError::from(e).into(),
        }
    }
}

impl From<UssdError> for OpError {
    fn from(e: UssdError) -> Self {
        match e {
            UssdError::Timeout { .. } | UssdError::NetworkTimeout { .. } => {
                OpError::new(OpErrorKind::Unanswered, e.to_string())
            }
            UssdError::At(at) => at.into(),
            e => AppError::from(e).into(),
        }
    }
}

/// How a dialogue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UssdEnd {
    /// The network answered and wants nothing more (`+CUSD: 0`).
    Done,
    /// The network ended the session (`+CUSD: 2`).
    Terminated,
    /// A menu was open and no choice was left: the session was cancelled (`AT+CUSD=2`).
    Unanswered,
    /// The user cancelled a menu (an empty line at the CLI's prompt).
    Cancelled,
}

impl UssdEnd {
    /// A menu left open or cancelled did not get the user what they asked for.
    pub fn is_success(self) -> bool {
        matches!(self, UssdEnd::Done | UssdEnd::Terminated)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UssdEnd::Done => "done",
            UssdEnd::Terminated => "terminated",
            UssdEnd::Unanswered => "unanswered",
            UssdEnd::Cancelled => "cancelled",
        }
    }
}

/// One answer of the network, and the choice that brought it (`None` for the code itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UssdStep {
    pub sent: String,
    /// `menu`, `done` or `terminated`.
    pub status: String,
    pub text: String,
}

/// A whole dialogue: what the API returns and the CLI prints, whichever ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UssdOutcome {
    pub code: String,
    pub answers: Vec<UssdStep>,
    pub state: UssdEnd,
    /// Choices given but not needed (the network ended the dialogue first).
    pub unused_replies: usize,
}

fn step_status(s: UssdStatus) -> &'static str {
    match s {
        UssdStatus::Menu => "menu",
        UssdStatus::Done => "done",
        UssdStatus::Terminated => "terminated",
    }
}

/// The next menu choice, when it is ready (the CLI reads it from stdin).
pub type Choice = std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>;

/// Runs a dialogue: sends `code`, then for each menu asks `choose` for the next choice (`None`
/// or an empty one cancels). `shown` sees every answer as it comes (the CLI prints it then).
/// Errors carry the answers so far in the message only; the session is cancelled on the way out.
pub async fn dialogue(
    client: &UssdClient,
    code: &str,
    mut shown: impl FnMut(&UssdReply),
    mut choose: impl FnMut(&UssdReply) -> Choice,
) -> Result<UssdOutcome, UssdError> {
    validate_ussd_code(code)?;
    let (mut session, mut reply) = client.start(code).await?;
    let mut answers = Vec::new();
    let mut sent = code.to_string();
    loop {
        shown(&reply);
        answers.push(UssdStep {
            sent: std::mem::take(&mut sent),
            status: step_status(reply.status).to_string(),
            text: reply.text.clone(),
        });
        let state = match reply.status {
            UssdStatus::Done => UssdEnd::Done,
            UssdStatus::Terminated => UssdEnd::Terminated,
            UssdStatus::Menu => {
                let choice = choose(&reply).await;
                match choice.as_deref().map(str::trim) {
                    Some(c) if !c.is_empty() => {
                        sent = c.to_string();
                        reply = session.reply(c).await?;
                        continue;
                    }
                    Some(_) => {
                        session.cancel().await?;
                        UssdEnd::Cancelled
                    }
                    None => {
                        session.cancel().await?;
                        UssdEnd::Unanswered
                    }
                }
            }
        };
        return Ok(UssdOutcome {
            code: code.to_string(),
            answers,
            state,
            unused_replies: 0,
        });
    }
}

/// What sending an SMS did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsSent {
    pub to: String,
    /// `+CMGS` message reference of each part, in order.
    pub references: Vec<u8>,
    pub text_mode: bool,
    /// The store's id of the sent message (`None` if the store could not record it).
    pub id: Option<i64>,
}

/// What the loop knows that the ops need; borrowed for one call.
pub struct OpsCtx<'a> {
    pub client: &'a AtClient,
    pub store: &'a StoreHandle,
    pub balance: &'a mut BalanceAsker,
    pub driver: &'a Driver,
    pub probe: &'a mpsc::Sender<BalanceWaiter>,
    /// Where `Reload` goes: `simkeep run`'s reload loop; `None` when started without one.
    pub reload: Option<&'a mpsc::Sender<Answer<()>>>,
    /// A top-up or balance query is talking to the carrier.
    pub carrier_busy: bool,
    /// The engine holds the port and the modem answered its set-up.
    pub connected: bool,
    /// The SIM seen at the last poll (sent SMS and USSD sessions are recorded under it).
    pub iccid: Option<String>,
    /// `/metrics` counters: SMS sent and USSD sessions count the owner's too.
    pub counters: &'a std::sync::Arc<super::status::Counters>,
}

/// The owner's ops in flight, owned by the agent loop.
#[derive(Default)]
pub struct OwnerOps {
    tasks: Vec<JoinHandle<()>>,
    /// The owner's USSD dialogue, if one is open.
    ussd: Option<JoinHandle<()>>,
}

impl Drop for OwnerOps {
    fn drop(&mut self) {
        // An op cut off here leaves nothing half-done that matters: the USSD client cancels a
        // menu left open before its next request, and an SMS part is either sent or not.
        for t in self.tasks.drain(..).chain(self.ussd.take()) {
            t.abort();
        }
    }
}

const NOT_CONNECTED: &str =
    "the agent has no modem yet (connecting, or the port is away); try again shortly";

impl OwnerOps {
    /// Takes one op: answers it now or starts its task.
    pub fn handle(&mut self, op: OwnerOp, ctx: OpsCtx<'_>) {
        self.tasks.retain(|t| !t.is_finished());
        if self.ussd.as_ref().is_some_and(JoinHandle::is_finished) {
            self.ussd = None;
        }
        let running = self.tasks.len() + usize::from(self.ussd.is_some());
        let busy = || {
            OpError::new(
                OpErrorKind::Busy,
                format!("{MAX_OWNER_TASKS} requests are already running; try again when one ends"),
            )
        };
        match op {
            OwnerOp::Reload { reply } => reload(reply, ctx.reload),
            OwnerOp::BalanceRefresh { reply } if running >= MAX_OWNER_TASKS => {
                let _ = reply.send(Err(busy()));
            }
            OwnerOp::BalanceRefresh { reply } => {
                if let Some(t) = balance_refresh(reply, ctx.probe) {
                    self.tasks.push(t);
                }
            }
            op if !ctx.connected => refuse(op, OpError::new(OpErrorKind::NotReady, NOT_CONNECTED)),
            op if running >= MAX_OWNER_TASKS => refuse(op, busy()),
            OwnerOp::Ussd { reply, .. } if ctx.carrier_busy || self.ussd.is_some() => {
                let _ = reply.send(Err(OpError::new(
                    OpErrorKind::Busy,
                    "busy: a top-up / balance query is talking to the carrier (or another USSD dialogue is open); try again in a minute",
                )));
            }
            OwnerOp::Ussd {
                code,
                replies,
                reply,
            } => {
                let profile = ctx.driver.profile_name();
                let client = ctx
                    .balance
                    .ussd_client(ctx.client, profile.as_deref())
                    .with_timeout(OWNER_USSD_STEP);
                let store = ctx.store.clone();
                let iccid = ctx.iccid;
                let counters = ctx.counters.clone();
                self.ussd = Some(tokio::spawn(async move {
                    let started = unix_now();
                    let result = owner_ussd(&client, &code, &replies).await;
                    super::status::Counters::bump(&counters.ussd_sessions);
                    record_ussd(&store, iccid, &code, started, &result).await;
                    let _ = reply.send(result);
                }));
            }
            OwnerOp::SmsSend { to, text, reply } => {
                let at = ctx.client.clone();
                let store = ctx.store.clone();
                let iccid = ctx.iccid;
                let counters = ctx.counters.clone();
                self.tasks.push(tokio::spawn(async move {
                    let sent = owner_sms(&at, &store, iccid, &to, &text).await;
                    if sent.is_ok() {
                        super::status::Counters::bump(&counters.sms_sent);
                    }
                    let _ = reply.send(sent);
                }));
            }
            OwnerOp::At {
                line,
                timeout,
                reply,
            } => {
                let at = ctx.client.clone();
                self.tasks.push(tokio::spawn(async move {
                    let _ = reply.send(owner_at(&at, &line, timeout).await);
                }));
            }
        }
    }
}

/// Hands a reload to `simkeep run`'s loop, which answers it.
fn reload(reply: Answer<()>, to: Option<&mpsc::Sender<Answer<()>>>) {
    let Some(to) = to else {
        let _ = reply.send(Err(OpError::new(
            OpErrorKind::NotReady,
            "this agent cannot reload its config (it was not started by `simkeep run`)",
        )));
        return;
    };
    if let Err(mpsc::error::TrySendError::Full(reply) | mpsc::error::TrySendError::Closed(reply)) =
        to.try_send(reply)
    {
        let _ = reply.send(Err(OpError::new(
            OpErrorKind::Busy,
            "a reload is already under way",
        )));
    }
}

/// Queues a waiter for the next balance reading (the loop's probe arm starts a query if none
/// runs); the task that waits for it and answers.
fn balance_refresh(
    reply: Answer<u64>,
    probe: &mpsc::Sender<BalanceWaiter>,
) -> Option<JoinHandle<()>> {
    let (tx, rx) = oneshot::channel();
    if probe.try_send(tx).is_err() {
        let _ = reply.send(Err(OpError::new(
            OpErrorKind::Busy,
            "too many balance requests waiting",
        )));
        return None;
    }
    Some(tokio::spawn(async move {
        let _ = reply.send(balance_answer(rx.await));
    }))
}

/// Answers an op that will not run.
fn refuse(op: OwnerOp, e: OpError) {
    match op {
        OwnerOp::Ussd { reply, .. } => drop(reply.send(Err(e))),
        OwnerOp::SmsSend { reply, .. } => drop(reply.send(Err(e))),
        OwnerOp::At { reply, .. } => drop(reply.send(Err(e))),
        OwnerOp::BalanceRefresh { reply } => drop(reply.send(Err(e))),
        OwnerOp::Reload { reply } => drop(reply.send(Err(e))),
    }
}

/// The balance waiter's answer as an op result.
fn balance_answer(
    r: Result<Result<u64, String>, oneshot::error::RecvError>,
) -> Result<u64, OpError> {
    match r {
        Ok(Ok(left)) => Ok(left),
        // The loop's words for "nothing to ask" (agent/mod.rs, the probe arm).
        Ok(Err(msg)) if msg.starts_with("no way to ask") => {
            Err(OpError::new(OpErrorKind::NotReady, msg))
        }
        Ok(Err(msg)) if msg.starts_with("too many") => Err(OpError::new(OpErrorKind::Busy, msg)),
        Ok(Err(msg)) => Err(OpError::new(OpErrorKind::Failed, msg)),
        Err(_) => Err(OpError::new(
            OpErrorKind::Failed,
            "the agent stopped before the carrier answered",
        )),
    }
}

/// Checks a code and its choices as the CLI does: before anything is sent.
pub fn check_ussd(code: &str, replies: &[String]) -> Result<(), OpError> {
    let invalid = |what: &str, e: crate::codec::ValidateError| {
        OpError::new(OpErrorKind::Invalid, format!("{what}: {e}"))
    };
    validate_ussd_code(code).map_err(|e| invalid("code", e))?;
    if replies.len() > MAX_REPLIES {
        return Err(OpError::new(
            OpErrorKind::Invalid,
            format!(
                "{} menu choices given; at most {MAX_REPLIES}",
                replies.len()
            ),
        ));
    }
    for r in replies {
        validate_ussd_code(r).map_err(|e| invalid("menu choice", e))?;
    }
    Ok(())
}

/// Checks an SMS as the CLI does.
pub fn check_sms(to: &str, text: &str) -> Result<(), OpError> {
    validate_phone_number(to, true)
        .map_err(|e| OpError::new(OpErrorKind::Invalid, e.to_string()))?;
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, '\u{1a}' | '\u{1b}' | '\0'))
    {
        return Err(OpError::new(
            OpErrorKind::Invalid,
            format!("the message text contains the control character {c:?}"),
        ));
    }
    Ok(())
}

/// Checks a raw AT line as the CLI does (`Command::new`: one command, no control characters).
pub fn check_at(line: &str, timeout: Option<Duration>) -> Result<Command, OpError> {
    let mut cmd =
        Command::new(line).map_err(|e| OpError::new(OpErrorKind::Invalid, e.to_string()))?;
    if let Some(t) = timeout {
        if t.is_zero() || t > MAX_AT_TIMEOUT {
            return Err(OpError::new(
                OpErrorKind::Invalid,
                format!(
                    "timeout {}s is out of range: 1 to {}s",
                    t.as_secs(),
                    MAX_AT_TIMEOUT.as_secs()
                ),
            ));
        }
        cmd = cmd.with_timeout(t);
    }
    Ok(cmd)
}

async fn owner_ussd(
    client: &UssdClient,
    code: &str,
    replies: &[String],
) -> Result<UssdOutcome, OpError> {
    check_ussd(code, replies)?;
    let mut scripted = replies.iter();
    let mut outcome = dialogue(
        client,
        code,
        |_| {},
        |_| {
            let next = scripted.next().cloned();
            Box::pin(std::future::ready(next))
        },
    )
    .await?;
    outcome.unused_replies = scripted.len();
    Ok(outcome)
}

/// The dialogue in the USSD history, as the balance queries are.
async fn record_ussd(
    store: &StoreHandle,
    iccid: Option<String>,
    code: &str,
    started: i64,
    result: &Result<UssdOutcome, OpError>,
) {
    let (response, status) = match result {
        Ok(o) => (
            Some(
                o.answers
                    .iter()
                    .map(|a| a.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            o.state.as_str().to_string(),
        ),
        Err(e) => (None, format!("failed: {e}")),
    };
    let session = crate::store::UssdSession {
        t_start: started,
        t_end: Some(unix_now()),
        iccid,
        request: code.to_string(),
        response,
        status,
    };
    if let Err(e) = store.record_ussd(session).await {
        tracing::warn!("USSD session not recorded: {e}");
    }
}

async fn owner_sms(
    at: &AtClient,
    store: &StoreHandle,
    iccid: Option<String>,
    to: &str,
    text: &str,
) -> Result<SmsSent, OpError> {
    check_sms(to, text)?;
    let sent = crate::sms::send_sms(at, to, text)
        .await
        .map_err(|e| match e {
            crate::sms::SmsError::At(at) => OpError::from(at),
            e => OpError::from(AppError::from(e)),
        })?;
    let record = SmsRecord {
        t: unix_now(),
        iccid,
        direction: SmsDirection::Sent,
        peer: to.to_string(),
        sent_at: None,
        body: text.to_string(),
        storage: None,
        modem_index: None,
    };
    let id = match store.save_sms(record).await {
        Ok(d) => Some(d.value().0),
        Err(e) => {
            tracing::warn!("sent SMS to {to} not recorded: {e}");
            None
        }
    };
    Ok(SmsSent {
        to: to.to_string(),
        references: sent.references,
        text_mode: sent.text_mode,
        id,
    })
}

async fn owner_at(
    at: &AtClient,
    line: &str,
    timeout: Option<Duration>,
) -> Result<Vec<String>, OpError> {
    let cmd = check_at(line, timeout)?;
    Ok(at.send(cmd).await?.lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_is_refused_before_anything_is_sent() {
        for code in ["*100#\r", "*100#\rAT+CFUN=0", "", "*100#\u{1a}"] {
            let e = check_ussd(code, &[]).unwrap_err();
            assert_eq!(e.kind, OpErrorKind::Invalid, "{code:?}");
        }
        let e = check_ussd("*123#", &["1\r\nAT+CFUN=0".into()]).unwrap_err();
        assert!(e.message.starts_with("menu choice"), "{e}");
        assert!(check_ussd("*123#", &vec!["1".to_string(); MAX_REPLIES + 1]).is_err());
        for line in ["AT+CSQ;+CFUN=0", "AT+CSQ\r", "AT+CMGS=1\u{1a}", "ATD\n"] {
            assert_eq!(
                check_at(line, None).unwrap_err().kind,
                OpErrorKind::Invalid,
                "{line:?}"
            );
        }
        assert!(check_at("AT+CSQ", Some(Duration::ZERO)).is_err());
        assert!(check_at("AT+CSQ", Some(Duration::from_secs(181))).is_err());
        assert!(check_at("AT+CSQ", Some(Duration::from_secs(5))).is_ok());
        assert!(check_sms("+8190\r1234", "hi").is_err());
        assert!(check_sms("+819012345678", "hi\u{1a}AT+CFUN=0").is_err());
        assert!(check_sms("+819012345678", "hi\nthere").is_ok());
    }

    #[test]
    fn failures_map_to_one_status_and_back_to_the_cli_exit_code() {
        for (kind, code, exit) in [
            (OpErrorKind::Invalid, 400, ExitKind::Config),
            (OpErrorKind::Busy, 409, ExitKind::Failure),
            (OpErrorKind::NotReady, 503, ExitKind::Unreachable),
            (OpErrorKind::Refused, 502, ExitKind::ModemRefused),
            (OpErrorKind::Unanswered, 504, ExitKind::Unreachable),
            (OpErrorKind::Failed, 500, ExitKind::Failure),
        ] {
            let (status, word) = OpError::new(kind, "x").http();
            assert_eq!(status, code);
            assert_eq!(OpError::exit_kind_for(word), exit, "{word}");
        }
    }
}
