//! Asking the carrier for the balance: the configured USSD code, or an SMS to the carrier's
//! short code and the reply SMS. Each query runs as its own task so a slow network (USSD takes
//! seconds, an SMS reply minutes) never holds up the poll loop; the text comes back for
//! `accounting` to parse.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::accounting::Accounting;
use crate::at::AtClient;
use crate::carrier_api::CarrierApis;
use crate::config::CarrierConfig;
use crate::modem::driver::{Driver, Snapshot};
use crate::sms::ReceivedSms;
use crate::template::SimVars;
use crate::ussd::UssdClient;

/// What the carrier said: a text for the balance rules, or a figure from its API.
#[derive(Debug, Clone)]
pub enum BalanceAnswer {
    Text(String),
    Bytes(u64),
}

/// A finished balance query, back to the poll loop.
pub struct BalanceResult {
    pub iccid: String,
    /// The USSD code, when the query was one (recorded in the USSD history).
    pub ussd: Option<String>,
    pub started: i64,
    pub answer: Result<BalanceAnswer, String>,
}

/// Someone waiting for the next balance reading: the bytes left, or why there is none.
pub type BalanceWaiter = oneshot::Sender<Result<u64, String>>;

/// Waiters beyond this are told to try later (a bounded queue, like everything else).
pub const MAX_BALANCE_WAITERS: usize = 8;

/// Starts a balance query for the SIM in `snap` as its own task, when the config has one.
#[allow(clippy::too_many_arguments)]
pub fn start_balance(
    asker: &mut BalanceAsker,
    at: &AtClient,
    accounting: &mut Accounting,
    driver: &Driver,
    snap: &Snapshot,
    received: &broadcast::Sender<ReceivedSms>,
    done: &mpsc::Sender<BalanceResult>,
    apis: &CarrierApis,
    now: i64,
) -> Option<tokio::task::JoinHandle<()>> {
    let iccid = snap.sim.iccid.clone()?;
    let carrier = accounting.config().and_then(|u| u.carrier.clone())?;
    let vars = SimVars {
        iccid: snap.sim.iccid.clone(),
        imsi: snap.sim.imsi.clone(),
        msisdn: snap.sim.msisdn.clone(),
    };
    let profile = driver.profile_name();
    // Only a USSD query goes to the USSD history.
    let ussd = carrier.ussd.clone().filter(|_| carrier.api.is_none());
    let q = asker.query(
        at,
        &carrier,
        profile.as_deref(),
        received.subscribe(),
        apis,
        vars,
    )?;
    accounting.carrier_asked(now);
    let tx = done.clone();
    Some(tokio::spawn(async move {
        let answer = q.await;
        let _ = tx
            .send(BalanceResult {
                iccid,
                ussd,
                started: now,
                answer,
            })
            .await;
    }))
}

/// How long to wait for the carrier's reply SMS.
pub const SMS_REPLY_WAIT: Duration = Duration::from_secs(180);

/// Builds balance queries; holds the daemon's one USSD client (one session at a time).
#[derive(Default)]
pub struct BalanceAsker {
    ussd: Option<UssdClient>,
}

impl BalanceAsker {
    /// A query to run, or `None` when the config has none. `received` carries the messages the
    /// inbox stored, for the SMS method.
    /// The daemon's one USSD client (balance queries and top-up dialogues share its lock).
    pub fn ussd_client(&mut self, at: &AtClient, profile: Option<&str>) -> UssdClient {
        self.ussd
            .get_or_insert_with(|| {
                UssdClient::for_profile(at.clone(), profile.unwrap_or("generic"))
            })
            .clone()
    }

    pub fn query(
        &mut self,
        at: &AtClient,
        carrier: &CarrierConfig,
        profile: Option<&str>,
        received: broadcast::Receiver<ReceivedSms>,
        apis: &CarrierApis,
        vars: SimVars,
    ) -> Option<impl Future<Output = Result<BalanceAnswer, String>> + Send + 'static> {
        let api = carrier.api.clone().map(|a| (apis.clone(), a));
        let ussd = carrier
            .ussd
            .as_ref()
            .map(|code| (self.ussd_client(at, profile), code.clone()));
        let sms = match (&carrier.sms_to, &carrier.sms_text) {
            (Some(to), Some(text)) => Some((to.clone(), text.clone())),
            _ => None,
        };
        if ussd.is_none() && sms.is_none() && api.is_none() {
            return None;
        }
        let at = at.clone();
        let rules = carrier.rules.clone();
        Some(async move {
            if let Some((apis, a)) = api {
                return apis
                    .read_remaining(&a.api, &a.url, &a.remaining, a.unit_bytes, &vars)
                    .await
                    .map(BalanceAnswer::Bytes)
                    .map_err(|e| format!("balance from carrier API {} failed: {e}", a.api));
            }
            if let Some((client, code)) = ussd {
                return client
                    .query(&code)
                    .await
                    .map(BalanceAnswer::Text)
                    .map_err(|e| format!("balance USSD {code} failed: {e}"));
            }
            let (to, text) = sms.ok_or_else(|| "no balance query configured".to_string())?;
            ask_by_sms(&at, &to, &text, received, |body| rules.parse(body).is_ok())
                .await
                .map(BalanceAnswer::Text)
        })
    }
}

/// Sends `text` to `to` and waits for the reply: a message from that number, or failing that
/// the first one the balance rules can read (carriers often answer from another sender).
async fn ask_by_sms(
    at: &AtClient,
    to: &str,
    text: &str,
    mut received: broadcast::Receiver<ReceivedSms>,
    readable: impl Fn(&str) -> bool,
) -> Result<String, String> {
    crate::sms::send_sms(at, to, text)
        .await
        .map_err(|e| format!("balance SMS to {to} failed: {e}"))?;
    let deadline = tokio::time::Instant::now() + SMS_REPLY_WAIT;
    loop {
        let msg = tokio::select! {
            m = received.recv() => m,
            _ = tokio::time::sleep_until(deadline) => {
                return Err(format!("no balance reply from {to} within {}s", SMS_REPLY_WAIT.as_secs()));
            }
        };
        match msg {
            Ok(m) if crate::sms::sender_matches(&m.sender, to) || readable(&m.text) => {
                return Ok(m.text)
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return Err("the SMS inbox stopped".into()),
        }
    }
}
