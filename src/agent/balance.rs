//! Asking the carrier for the balance: the configured USSD code, or an SMS to the carrier's
//! short code and the reply SMS. Each query runs as its own task so a slow network (USSD takes
//! seconds, an SMS reply minutes) never holds up the poll loop; the text comes back for
//! `accounting` to parse.

use std::future::Future;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::at::AtClient;
use crate::config::CarrierConfig;
use crate::sms::ReceivedSms;
use crate::ussd::UssdClient;

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
    pub fn query(
        &mut self,
        at: &AtClient,
        carrier: &CarrierConfig,
        profile: Option<&str>,
        received: broadcast::Receiver<ReceivedSms>,
    ) -> Option<impl Future<Output = Result<String, String>> + Send + 'static> {
        let ussd = match &carrier.ussd {
            Some(code) => {
                let client = self
                    .ussd
                    .get_or_insert_with(|| {
                        UssdClient::for_profile(at.clone(), profile.unwrap_or("generic"))
                    })
                    .clone();
                Some((client, code.clone()))
            }
            None => None,
        };
        let sms = match (&carrier.sms_to, &carrier.sms_text) {
            (Some(to), Some(text)) => Some((to.clone(), text.clone())),
            _ => None,
        };
        if ussd.is_none() && sms.is_none() {
            return None;
        }
        let at = at.clone();
        let rules = carrier.rules.clone();
        Some(async move {
            if let Some((client, code)) = ussd {
                return client
                    .query(&code)
                    .await
                    .map_err(|e| format!("balance USSD {code} failed: {e}"));
            }
            let (to, text) = sms.ok_or_else(|| "no balance query configured".to_string())?;
            ask_by_sms(&at, &to, &text, received, |body| rules.parse(body).is_ok()).await
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
            Ok(m) if same_number(&m.sender, to) || readable(&m.text) => return Ok(m.text),
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return Err("the SMS inbox stopped".into()),
        }
    }
}

/// `+81 1234` vs `1234`, `+8190…` vs `090…`: compare the trailing digits.
fn same_number(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (a, b) = (digits(a), digits(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let n = a.len().min(b.len()).min(9);
    a[a.len() - n..] == b[b.len() - n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_by_trailing_digits() {
        assert!(same_number("1234", "1234"));
        assert!(same_number("+819012345678", "09012345678"));
        assert!(!same_number("1234", "5678"));
        assert!(!same_number("SimCarrier", "1234"));
    }
}
