//! Carries out one top-up decision: for each flow in the order the policy gave, a ledger row
//! written durably *before* the first side effect, then the flow's steps (USSD dialogue, SMS
//! keyword and its answer, carrier HTTPS call, verification), the row moved along as it goes.
//!
//! The rule that keeps the owner's money safe: only an attempt that provably bought nothing
//! (`Outcome::SureFail`) lets the next flow run. Anything unclear — a lost answer, a timeout, a
//! dropped connection — goes straight to verification by the balance and, unconfirmed, ends
//! `unknown`, which pauses automatic top-ups until the owner looks.
//!
//! Must not: start a side effect on a ledger write that is not on disk (`Durable::Queued`), put
//! a secret in the ledger or the log, or hold the USSD lock past the end of a flow.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::ledger::AttemptDetail;
use super::menu::{choose, judge_http, judge_text, short, Outcome};
use super::policy::AttemptState;
use crate::at::AtClient;
use crate::carrier_api::{ApiError, CarrierApis};
use crate::config::{FlowConfig, Step, TopupConfig};
use crate::sms::{sender_matches, ReceivedSms, SmsError};
use crate::store::{Durable, LedgerId, NewLedgerEntry, StoreHandle};
use crate::template::SimVars;
use crate::ussd::{UssdClient, UssdError, UssdReply, UssdSession, UssdStatus};

/// Asks the agent for a fresh carrier balance: the answer is the bytes left, or why not.
pub type BalanceProbe = mpsc::Sender<oneshot::Sender<Result<u64, String>>>;

/// Removes secrets from text before it is logged or stored.
pub type Redact = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Everything a flow may touch.
pub struct Env {
    pub at: AtClient,
    pub ussd: UssdClient,
    /// Messages the inbox stored, subscribed before the decision so a fast receipt is not missed.
    pub sms: broadcast::Receiver<ReceivedSms>,
    pub apis: CarrierApis,
    pub vars: SimVars,
    pub store: StoreHandle,
    pub balance: BalanceProbe,
    pub redact: Redact,
    /// Unix time now (tests move it; the daemon reads the clock).
    pub clock: fn() -> i64,
}

/// One decision to carry out.
pub struct Decision<'a> {
    pub cfg: &'a TopupConfig,
    pub flows: Vec<usize>,
    pub key: String,
    pub reason: String,
    pub iccid: String,
    pub balance_before: Option<u64>,
    pub manual: bool,
}

/// How one flow's attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    pub id: Option<LedgerId>,
    pub flow: String,
    pub state: AttemptState,
    pub note: String,
}

/// The messages received since the attempt began, so a `wait_sms` step also sees a receipt that
/// arrived while an earlier step was still talking. Bounded: old ones fall off.
struct SmsSeen {
    rx: broadcast::Receiver<ReceivedSms>,
    seen: std::collections::VecDeque<ReceivedSms>,
}

const MAX_SEEN_SMS: usize = 16;

impl SmsSeen {
    fn drain(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(m) => self.keep(m),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    }

    fn keep(&mut self, m: ReceivedSms) {
        if self.seen.len() >= MAX_SEEN_SMS {
            self.seen.pop_front();
        }
        self.seen.push_back(m);
    }

    /// The first message (seen or coming) from `from` that `accept` takes, until `deadline`.
    async fn wait(
        &mut self,
        from: &str,
        deadline: tokio::time::Instant,
        accept: impl Fn(&str) -> bool,
    ) -> Option<ReceivedSms> {
        self.drain();
        if let Some(pos) = self
            .seen
            .iter()
            .position(|m| sender_matches(&m.sender, from) && accept(&m.text))
        {
            return self.seen.remove(pos);
        }
        loop {
            let m = tokio::select! {
                m = self.rx.recv() => m,
                _ = tokio::time::sleep_until(deadline) => return None,
            };
            match m {
                Ok(m) if sender_matches(&m.sender, from) && accept(&m.text) => return Some(m),
                Ok(m) => self.keep(m),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    tokio::time::sleep_until(deadline).await;
                    return None;
                }
            }
        }
    }
}

/// Runs the decision's flows in order until one did not surely fail. Returns each attempt.
pub async fn run(env: &mut Env, d: Decision<'_>) -> Vec<AttemptEnd> {
    let mut ends = Vec::new();
    let mut seen = SmsSeen {
        rx: env.sms.resubscribe(),
        seen: Default::default(),
    };
    for &i in &d.flows {
        let Some(flow) = d.cfg.flows.get(i) else {
            continue;
        };
        let end = attempt(env, &d, flow, &mut seen).await;
        let go_on = end.state == AttemptState::Failed && end.id.is_some();
        ends.push(end);
        if !go_on {
            break;
        }
        tracing::info!(flow = %flow.name, "top-up flow surely failed; trying the next one");
    }
    ends
}

async fn attempt(
    env: &mut Env,
    d: &Decision<'_>,
    flow: &FlowConfig,
    seen: &mut SmsSeen,
) -> AttemptEnd {
    let now = (env.clock)();
    let mut detail = AttemptDetail {
        iccid: d.iccid.clone(),
        flow: flow.name.clone(),
        adds_bytes: flow.adds_bytes,
        step: 0,
        steps: flow.steps.len(),
        balance_before: d.balance_before,
        reason: d.reason.clone(),
        manual: d.manual,
        ..AttemptDetail::default()
    };
    let entry = NewLedgerEntry {
        t: now,
        decision_key: format!("{}/{}", d.key, flow.name),
        state: AttemptState::Planned.as_str().into(),
        amount_minor: flow.price.minor(),
        currency: d.cfg.currency.clone(),
        method: flow.name.clone(),
        detail: detail.to_json(),
    };
    let end = |id, state, note: String| AttemptEnd {
        id,
        flow: flow.name.clone(),
        state,
        note,
    };
    let id = match env.store.ledger_begin(entry).await {
        Ok(Durable::Committed(id)) => id,
        Ok(Durable::Queued { value, reason, .. }) => {
            // Not on disk: a power cut now would forget the decision, so spend nothing.
            let note = format!(
                "not started: the ledger could not be written to disk ({reason}); nothing was sent"
            );
            let _ = env
                .store
                .ledger_update_state(
                    value,
                    now,
                    AttemptState::Failed.as_str(),
                    Some(note.clone()),
                )
                .await;
            tracing::error!(flow = %flow.name, "top-up {note}");
            return end(None, AttemptState::Failed, note);
        }
        Err(e) => {
            let note =
                format!("not started: the ledger refused the attempt ({e}); nothing was sent");
            tracing::error!(flow = %flow.name, "top-up {note}");
            return end(None, AttemptState::Failed, note);
        }
    };
    tracing::info!(flow = %flow.name, price = %flow.price, currency = %d.cfg.currency, reason = %d.reason, "top-up attempt #{} started", id.0);
    let (state, note) = steps(env, flow, id, &mut detail, seen).await;
    detail.note = (env.redact)(&note);
    let t = (env.clock)();
    match env
        .store
        .ledger_update_state(id, t, state.as_str(), Some(detail.to_json()))
        .await
    {
        Ok(Durable::Committed(())) => {}
        other => tracing::error!(
            "top-up attempt #{} ended {} but the ledger did not record it ({other:?}); it will be verified at the next start",
            id.0,
            state.as_str()
        ),
    }
    match state {
        AttemptState::Succeeded => {
            tracing::info!(flow = %flow.name, "top-up attempt #{} succeeded: {}", id.0, detail.note)
        }
        AttemptState::Failed => {
            tracing::warn!(flow = %flow.name, "top-up attempt #{} failed, nothing was charged: {}", id.0, detail.note)
        }
        _ => {
            tracing::error!(flow = %flow.name, "top-up attempt #{} ended {}: {} — automatic top-ups are paused until `simkeep topup resume`", id.0, state.as_str(), detail.note)
        }
    }
    end(Some(id), state, detail.note.clone())
}

/// Moves the ledger row to `state` at step `n`; the step's side effect waits for the disk.
async fn mark(env: &Env, id: LedgerId, state: AttemptState, detail: &AttemptDetail) -> bool {
    let t = (env.clock)();
    matches!(
        env.store
            .ledger_update_state(id, t, state.as_str(), Some(detail.to_json()))
            .await,
        Ok(Durable::Committed(()))
    )
}

async fn steps(
    env: &mut Env,
    flow: &FlowConfig,
    id: LedgerId,
    detail: &mut AttemptDetail,
    seen: &mut SmsSeen,
) -> (AttemptState, String) {
    let mut session: Option<UssdSession> = None;
    let mut last_text = String::new();
    let verify_after = flow.steps.iter().find_map(|s| match s {
        Step::Verify { timeout } => Some(*timeout),
        _ => None,
    });
    for (n, step) in flow.steps.iter().enumerate() {
        detail.step = n + 1;
        if let Step::Verify { timeout } = step {
            close(session.take()).await;
            return verify(env, id, detail, *timeout, true).await;
        }
        if !mark(env, id, AttemptState::Running, detail).await {
            close(session.take()).await;
            // Steps before this one may have charged; only the balance can tell.
            let why = format!("the ledger could not be updated before step {}", n + 1);
            return settle_unclear(env, id, detail, verify_after, why).await;
        }
        let heard_before = detail.transcript.len();
        let outcome = run_step(env, step, &mut session, &mut last_text, detail, seen).await;
        let answer = detail
            .transcript
            .last()
            .filter(|_| detail.transcript.len() > heard_before);
        let outcome = refusal_named_later(outcome, &flow.steps[n..], answer);
        match outcome {
            Outcome::Done => {}
            Outcome::SureFail(why) => {
                close(session.take()).await;
                return (
                    AttemptState::Failed,
                    format!("step {} ({}): {why}", n + 1, step.kind()),
                );
            }
            Outcome::Unclear(why) => {
                close(session.take()).await;
                let why = format!("step {} ({}): {why}", n + 1, step.kind());
                return settle_unclear(env, id, detail, verify_after, why).await;
            }
        }
    }
    close(session.take()).await;
    (
        AttemptState::Succeeded,
        "every step answered as expected (the flow has no verify step)".into(),
    )
}

/// An answer the step did not expect may be a refusal a later step of the same flow names
/// (`fail = "(?i)insufficient"` on the receipt step, while the USSD payment step already said
/// "insufficient airtime"): the flow's author has told us that text means nothing was bought.
fn refusal_named_later(outcome: Outcome, rest: &[Step], answer: Option<&String>) -> Outcome {
    let Outcome::Unclear(why) = outcome else {
        return outcome;
    };
    let Some(last) = answer else {
        return Outcome::Unclear(why);
    };
    let named = rest
        .iter()
        .any(|s| step_fail(s).is_some_and(|f| f.is_match(last)));
    if named {
        Outcome::SureFail(format!("the carrier refused: {:?}", short(last, 160)))
    } else {
        Outcome::Unclear(why)
    }
}

fn step_fail(step: &Step) -> Option<&regex_lite::Regex> {
    match step {
        Step::Ussd { fail, .. }
        | Step::Choose { fail, .. }
        | Step::Reply { fail, .. }
        | Step::Sms { fail, .. }
        | Step::WaitSms { fail, .. }
        | Step::Http { fail, .. } => fail.as_ref(),
        Step::Verify { .. } => None,
    }
}

async fn settle_unclear(
    env: &mut Env,
    id: LedgerId,
    detail: &mut AttemptDetail,
    verify_after: Option<Duration>,
    why: String,
) -> (AttemptState, String) {
    tracing::warn!(
        "top-up attempt #{}: outcome unclear ({why}); checking the balance instead of retrying",
        id.0
    );
    detail.note = why.clone();
    let timeout = verify_after.unwrap_or(DEFAULT_VERIFY);
    let (state, note) = verify(env, id, detail, timeout, false).await;
    (state, format!("{why}; {note}"))
}

/// How long an unclear attempt of a flow without a verify step is watched.
pub const DEFAULT_VERIFY: Duration = Duration::from_secs(600);

/// Re-reads the balance until it rose by about what the flow adds (half of it: the line keeps
/// using data meanwhile), or the time is up. `clear`: every step answered as expected.
async fn verify(
    env: &mut Env,
    id: LedgerId,
    detail: &mut AttemptDetail,
    timeout: Duration,
    clear: bool,
) -> (AttemptState, String) {
    let _ = mark(env, id, AttemptState::Verifying, detail).await;
    let deadline = tokio::time::Instant::now() + timeout;
    let gap = (timeout / 6).clamp(Duration::from_secs(2), Duration::from_secs(120));
    let mut last;
    tokio::time::sleep(gap.min(Duration::from_secs(3))).await;
    loop {
        match read_balance(env).await {
            Ok(left) => {
                if rose(detail.balance_before, left, detail.adds_bytes) {
                    return (
                        AttemptState::Succeeded,
                        format!(
                            "verified: data left rose from {} to {left} bytes",
                            detail
                                .balance_before
                                .map_or("unknown".into(), |b| b.to_string())
                        ),
                    );
                }
                last = format!(
                    "data left is {left} bytes, not risen by the {} the flow adds",
                    detail.adds_bytes
                );
            }
            Err(e) => last = e,
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(gap.min(deadline - now)).await;
    }
    let state = if clear {
        AttemptState::Unverified
    } else {
        AttemptState::Unknown
    };
    (
        state,
        format!("not confirmed within {}s: {last}", timeout.as_secs()),
    )
}

/// The balance rose by at least half of `adds` over `before` (or, with no earlier figure, is at
/// least half of `adds`).
pub fn rose(before: Option<u64>, now: u64, adds: u64) -> bool {
    let half = adds / 2;
    match before {
        // A figure so large that the rise cannot be represented is not a confirmation.
        Some(b) => b.checked_add(half.max(1)).is_some_and(|want| now >= want),
        None => now >= half.max(1),
    }
}

async fn read_balance(env: &Env) -> Result<u64, String> {
    let (tx, rx) = oneshot::channel();
    env.balance
        .send(tx)
        .await
        .map_err(|_| "the agent is stopping".to_string())?;
    rx.await
        .map_err(|_| "the balance query was abandoned".to_string())?
}

/// Ends a USSD dialogue the network still holds open.
async fn close(session: Option<UssdSession>) {
    if let Some(s) = session {
        let _ = s.cancel().await;
    }
}

async fn run_step(
    env: &mut Env,
    step: &Step,
    session: &mut Option<UssdSession>,
    last_text: &mut String,
    detail: &mut AttemptDetail,
    seen: &mut SmsSeen,
) -> Outcome {
    match step {
        Step::Ussd {
            code,
            expect,
            fail,
            timeout,
        } => {
            close(session.take()).await;
            let client = env.ussd.clone().with_timeout(*timeout);
            match client.start(code).await {
                Ok((s, reply)) => {
                    let out = heard_ussd(
                        env,
                        detail,
                        last_text,
                        &reply,
                        expect.as_ref(),
                        fail.as_ref(),
                    );
                    *session = Some(s);
                    out
                }
                Err(e) => ussd_error(&e),
            }
        }
        Step::Choose {
            pattern,
            expect,
            fail,
            timeout,
        } => {
            let item = match choose(last_text, pattern) {
                Ok(i) => i,
                // Nothing sent: the menu changed beyond what the flow recognises.
                Err(e) => return Outcome::SureFail(e.to_string()),
            };
            tracing::info!("top-up: choosing {:?} ({})", item.label, item.key);
            let answer = MenuAnswer {
                text: &item.key,
                expect: expect.as_ref(),
                fail: fail.as_ref(),
                timeout: *timeout,
            };
            answer_menu(env, session, answer, last_text, detail).await
        }
        Step::Reply {
            text,
            expect,
            fail,
            timeout,
        } => {
            let answer = MenuAnswer {
                text,
                expect: expect.as_ref(),
                fail: fail.as_ref(),
                timeout: *timeout,
            };
            answer_menu(env, session, answer, last_text, detail).await
        }
        Step::Sms {
            text,
            to,
            expect,
            fail,
            timeout,
        } => {
            close(session.take()).await;
            seen.drain();
            match crate::sms::send_sms(&env.at, to, text).await {
                Ok(_) => detail.heard(&format!("SMS to {to}: {text}")),
                Err(e) => return sms_error(&e),
            }
            if expect.is_none() && fail.is_none() {
                return Outcome::Done;
            }
            let deadline = tokio::time::Instant::now() + *timeout;
            await_sms(
                env,
                detail,
                seen,
                to,
                expect.as_ref(),
                fail.as_ref(),
                deadline,
            )
            .await
        }
        Step::WaitSms {
            from,
            expect,
            fail,
            timeout,
        } => {
            close(session.take()).await;
            let deadline = tokio::time::Instant::now() + *timeout;
            await_sms(
                env,
                detail,
                seen,
                from,
                expect.as_ref(),
                fail.as_ref(),
                deadline,
            )
            .await
        }
        Step::Http { .. } => {
            close(session.take()).await;
            http_step(env, step, detail).await
        }
        Step::Verify { .. } => Outcome::Done,
    }
}

/// An answer to the open USSD menu, and how to judge what comes back.
struct MenuAnswer<'a> {
    text: &'a str,
    expect: Option<&'a regex_lite::Regex>,
    fail: Option<&'a regex_lite::Regex>,
    timeout: Duration,
}

async fn answer_menu(
    env: &Env,
    session: &mut Option<UssdSession>,
    a: MenuAnswer<'_>,
    last_text: &mut String,
    detail: &mut AttemptDetail,
) -> Outcome {
    let Some(s) = session.as_mut().filter(|s| s.is_open()) else {
        return Outcome::SureFail("no USSD menu is open to answer".into());
    };
    s.set_timeout(a.timeout);
    match s.reply(a.text).await {
        Ok(reply) => heard_ussd(env, detail, last_text, &reply, a.expect, a.fail),
        Err(e) => ussd_error(&e),
    }
}

#[allow(clippy::too_many_arguments)]
async fn await_sms(
    env: &Env,
    detail: &mut AttemptDetail,
    seen: &mut SmsSeen,
    from: &str,
    expect: Option<&regex_lite::Regex>,
    fail: Option<&regex_lite::Regex>,
    deadline: tokio::time::Instant,
) -> Outcome {
    // Only answers the flow recognises count: other messages from the carrier (adverts, a
    // balance warning) are not the receipt.
    let accept =
        |t: &str| fail.is_some_and(|f| f.is_match(t)) || expect.is_none_or(|e| e.is_match(t));
    match seen.wait(from, deadline, accept).await {
        Some(m) => {
            let text = (env.redact)(&m.text);
            tracing::info!("top-up: SMS from {}: {:?}", m.sender, short(&text, 200));
            detail.heard(&format!("SMS from {}: {text}", m.sender));
            judge_text(&m.text, expect, fail, false)
        }
        None => Outcome::Unclear(format!("no answer SMS from {from} in time")),
    }
}

fn heard_ussd(
    env: &Env,
    detail: &mut AttemptDetail,
    last_text: &mut String,
    reply: &UssdReply,
    expect: Option<&regex_lite::Regex>,
    fail: Option<&regex_lite::Regex>,
) -> Outcome {
    let text = (env.redact)(&reply.text);
    detail.heard(&format!("USSD: {text}"));
    tracing::info!("top-up: carrier said {:?}", short(&text, 200));
    last_text.clone_from(&reply.text);
    judge_text(&reply.text, expect, fail, reply.status == UssdStatus::Menu)
}

/// What a USSD failure says about money: refused by the modem or the network before anything
/// happened is sure; silence is not.
fn ussd_error(e: &UssdError) -> Outcome {
    match e {
        UssdError::Invalid(_)
        | UssdError::Closed { .. }
        | UssdError::NotSupported { .. }
        | UssdError::Refused { .. } => Outcome::SureFail(e.to_string()),
        UssdError::At(a) if a.is_modem_refusal() => Outcome::SureFail(e.to_string()),
        _ => Outcome::Unclear(e.to_string()),
    }
}

fn sms_error(e: &SmsError) -> Outcome {
    match e {
        SmsError::Invalid(_)
        | SmsError::Encode { .. }
        | SmsError::TextModeTooLong { .. }
        | SmsError::Refused { .. } => Outcome::SureFail(format!("the SMS was not sent: {e}")),
        SmsError::At(a) if a.is_modem_refusal() => {
            Outcome::SureFail(format!("the SMS was not sent: {e}"))
        }
        _ => Outcome::Unclear(format!("the SMS may have gone out: {e}")),
    }
}

async fn http_step(env: &Env, step: &Step, detail: &mut AttemptDetail) -> Outcome {
    let Step::Http {
        method,
        api,
        url,
        headers,
        body,
        expect_status,
        expect_json,
        fail,
        timeout,
    } = step
    else {
        return Outcome::SureFail("not an http step".into());
    };
    let req = match api_request(method, url, headers, body, *timeout) {
        Ok(r) => r,
        Err(e) => return Outcome::SureFail(format!("not sent: {e}")),
    };
    match env.apis.call(api, req, &env.vars).await {
        Ok(resp) => {
            detail.heard(&format!(
                "HTTP {} {}",
                resp.status,
                short(&(env.redact)(&resp.body), 200)
            ));
            judge_http(
                resp.status,
                &resp.body,
                expect_status,
                expect_json,
                fail.as_ref(),
            )
        }
        Err(e) => {
            let msg = (env.redact)(&e.to_string());
            detail.heard(&format!("HTTP error: {msg}"));
            match e {
                ApiError::NotSent { .. } | ApiError::RateLimited { .. } => Outcome::SureFail(msg),
                _ => Outcome::Unclear(msg),
            }
        }
    }
}

/// The request an http step describes; its templates were checked when the config loaded.
fn api_request(
    method: &str,
    url: &crate::config::TemplateText,
    headers: &[(String, crate::config::TemplateText)],
    body: &crate::config::HttpBody,
    timeout: Duration,
) -> Result<crate::carrier_api::ApiRequest, String> {
    use crate::carrier_api::ApiBody;
    use crate::config::HttpBody;
    use crate::template::Template;
    let t =
        |x: &crate::config::TemplateText| Template::parse(x.as_str()).map_err(|e| e.to_string());
    Ok(crate::carrier_api::ApiRequest {
        method: method.to_string(),
        url: t(url)?,
        headers: headers
            .iter()
            .map(|(k, v)| Ok((k.clone(), t(v)?)))
            .collect::<Result<_, String>>()?,
        body: match body {
            HttpBody::None => ApiBody::None,
            HttpBody::Json(v) => ApiBody::Json(v.clone()),
            HttpBody::Form(f) => ApiBody::Form(
                f.iter()
                    .map(|(k, v)| Ok((k.clone(), t(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
        },
        timeout: Some(timeout),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rise_is_half_of_what_the_flow_adds() {
        let gb = 1_000_000_000;
        assert!(rose(Some(100), 100 + gb / 2, gb));
        assert!(!rose(Some(100), 100 + gb / 2 - 1, gb));
        assert!(rose(None, gb, gb));
        assert!(!rose(None, 10, gb));
        assert!(
            !rose(Some(u64::MAX), u64::MAX, gb),
            "no overflow, no confirmation"
        );
    }
}
