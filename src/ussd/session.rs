//! USSD sessions over AT (TS 27.007 §7.15, TS 22.090): `AT+CUSD=1,"<str>",<dcs>`, the answer as
//! a `+CUSD:` URC (before or after `OK`), menu replies, `AT+CUSD=2` to cancel.
//!
//! One session at a time per modem: a [`UssdClient`] hands out a [`UssdSession`] that holds the
//! client's lock until it is dropped. A session the network leaves silent is cancelled after
//! `timeout`; one dropped while a menu was open is cancelled before the next starts
//! (modem-quirks.md §10). The request is encoded as the modem wants it — packed GSM-7 hex with
//! dcs 15 for Huawei sticks (§8), plain text for the rest — and the other form is tried when the
//! modem refuses the first. Replies are decoded by content (§9).
//!
//! Must not: put an unvalidated string into `AT+CUSD` (codes are `[0-9*#+]`), or leave a
//! session open on the network after a timeout.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, Mutex, OwnedMutexGuard};

use crate::at::engine::wait_urc;
use crate::at::urc::{parse_cusd, Cusd};
use crate::at::{AtClient, AtError, Command, Urc, UrcCode, UrcKind};
use crate::codec::{
    decode_ussd_reply, encode_ussd_request, validate_ussd_code, UssdEncoding, ValidateError,
};
use crate::limited;

/// `+CUSD: <m>` (TS 27.007 §7.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UssdStatus {
    /// 0: no further action required.
    Done,
    /// 1: further user action required (a menu).
    Menu,
    /// 2: terminated by the network (may still carry the answer, modem-quirks.md §10).
    Terminated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdReply {
    pub status: UssdStatus,
    /// Decoded text; empty when the network sent none.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UssdError {
    #[error(transparent)]
    Invalid(#[from] ValidateError),
    #[error("the network did not answer {code} within {}s; the session was cancelled (AT+CUSD=2) — try again later", .after.as_secs())]
    Timeout { code: String, after: Duration },
    #[error("the network does not support {code} (+CUSD: 4) — check the code with your carrier")]
    NotSupported { code: String },
    #[error("another client answered {code} (+CUSD: 3)")]
    OtherClient { code: String },
    #[error("the network timed out the session for {code} (+CUSD: 5) — try again later")]
    NetworkTimeout { code: String },
    #[error("the modem answered {code} with unknown USSD status {status}")]
    UnknownStatus { code: String, status: u8 },
    #[error("the modem refused {code} as text and as packed GSM-7 ({last})")]
    Refused { code: String, last: AtError },
    #[error("the USSD session is over; start a new one to send {choice}")]
    Closed { choice: String },
    #[error(transparent)]
    At(#[from] AtError),
}

/// Runs USSD on one modem. Cheap to clone; clones share the one-session-at-a-time lock.
#[derive(Clone)]
pub struct UssdClient {
    at: AtClient,
    lock: Arc<Mutex<()>>,
    /// A session was dropped with a menu open: cancel it before the next request.
    stale: Arc<AtomicBool>,
    /// Index into `ENCODINGS` of the form to try first; updated to what the modem accepted.
    first: Arc<AtomicU8>,
    timeout: Duration,
}

const ENCODINGS: [UssdEncoding; 2] = [UssdEncoding::Text, UssdEncoding::Gsm7Hex];

/// How long the network gets to answer (the `OK` comes first; real answers take 1–10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl UssdClient {
    /// `packed_hex`: send requests as packed GSM-7 hex first (Huawei).
    pub fn new(at: AtClient, packed_hex: bool) -> UssdClient {
        UssdClient {
            at,
            lock: Arc::new(Mutex::new(())),
            // A new client cannot know what an earlier process (killed mid-menu, say) left
            // open on the modem: its first request cancels any dialogue first.
            stale: Arc::new(AtomicBool::new(true)),
            first: Arc::new(AtomicU8::new(u8::from(packed_hex))),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// From a profile or model name (`huawei`, `huawei-e3372`, `E3372`, `quectel`…).
    pub fn for_profile(at: AtClient, hint: &str) -> UssdClient {
        Self::new(at, wants_packed_hex(hint))
    }

    /// Asks the modem who made it (`AT+CGMI`) to pick the request encoding.
    pub async fn detect(at: AtClient) -> UssdClient {
        let maker = at
            .run("AT+CGMI")
            .await
            .map(|r| r.lines.join(" "))
            .unwrap_or_default();
        Self::for_profile(at, &maker)
    }

    pub fn with_timeout(mut self, timeout: Duration) -> UssdClient {
        self.timeout = timeout;
        self
    }

    /// One-shot query (balance): the answer's text. A menu is cancelled after reading it.
    pub async fn query(&self, code: &str) -> Result<String, UssdError> {
        let (session, reply) = self.start(code).await?;
        session.cancel().await?;
        Ok(reply.text)
    }

    /// Starts a session: sends `code`, waits for the network's first answer. Waits for any
    /// other session on this modem to end first.
    pub async fn start(&self, code: &str) -> Result<(UssdSession, UssdReply), UssdError> {
        validate_ussd_code(code)?;
        let guard = self.lock.clone().lock_owned().await;
        if self.stale.swap(false, Ordering::SeqCst) {
            // A menu left open: the network would take our code as a menu choice.
            let _ = self.at.run("AT+CUSD=2").await;
        }
        // Subscribe before sending: the +CUSD can come before the OK (modem-quirks.md §10).
        let mut urcs = self.at.subscribe();
        let reply = self.request(code, code, &mut urcs).await?;
        let session = UssdSession {
            client: self.clone(),
            _guard: guard,
            urcs,
            open: reply.status == UssdStatus::Menu,
            code: code.to_string(),
        };
        Ok((session, reply))
    }

    async fn request(
        &self,
        code: &str,
        text: &str,
        urcs: &mut broadcast::Receiver<Urc>,
    ) -> Result<UssdReply, UssdError> {
        let first = usize::from(self.first.load(Ordering::Relaxed) % 2);
        let mut last = None;
        for i in [first, 1 - first] {
            let Some(&enc) = ENCODINGS.get(i) else {
                continue;
            };
            // Validated as [0-9*#+]: GSM-7 encodable, so this cannot fail; skip if it did.
            let Ok(req) = encode_ussd_request(text, enc) else {
                continue;
            };
            let cmd = Command::new(format!("AT+CUSD=1,\"{}\",{}", req.payload, req.dcs))
                .map_err(AtError::from)?;
            match self.at.send(cmd).await {
                Ok(resp) => {
                    self.first
                        .store(u8::try_from(i).unwrap_or(0), Ordering::Relaxed);
                    // A +CUSD before the OK shares the command's prefix, so the engine hands it
                    // over as an answer line rather than a URC (modem-quirks.md §10).
                    if let Some(line) = resp.lines.iter().find(|l| l.starts_with("+CUSD:")) {
                        return reply_from(code, parse_cusd(line).as_ref());
                    }
                    return self.wait_reply(code, urcs).await;
                }
                Err(e) if e.is_modem_refusal() => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(match last {
            Some(last) => UssdError::Refused {
                code: code.to_string(),
                last,
            },
            None => UssdError::At(AtError::EngineStopped),
        })
    }

    async fn wait_reply(
        &self,
        code: &str,
        urcs: &mut broadcast::Receiver<Urc>,
    ) -> Result<UssdReply, UssdError> {
        let is_cusd = |u: &Urc| u.code() == Some(UrcCode::Cusd);
        let Some(urc) = wait_urc(urcs, self.timeout, is_cusd).await else {
            // Silence: end the session on the network so the next request is not taken as a reply.
            if let Err(e) = self.at.run("AT+CUSD=2").await {
                limited!(
                    warn,
                    "ussd.cancel_failed",
                    "cancelling the silent USSD session for {code} failed: {e}"
                );
            }
            return Err(UssdError::Timeout {
                code: code.to_string(),
                after: self.timeout,
            });
        };
        match &urc.kind {
            UrcKind::Ussd(c) => reply_from(code, Some(c)),
            // `Unreadable(Cusd)`: a +CUSD line whose status did not read.
            _ => reply_from(code, None),
        }
    }
}

/// The reply in a `+CUSD:` line (`None`: it did not read); statuses 3–5 are errors.
fn reply_from(code: &str, c: Option<&Cusd>) -> Result<UssdReply, UssdError> {
    let Some(c) = c else {
        return Err(UssdError::UnknownStatus {
            code: code.to_string(),
            status: u8::MAX,
        });
    };
    let text = c
        .text
        .as_deref()
        .map(|t| decode_ussd_reply(t, c.dcs))
        .unwrap_or_default();
    let code = code.to_string();
    let status = match c.status {
        0 => UssdStatus::Done,
        1 => UssdStatus::Menu,
        2 => UssdStatus::Terminated,
        3 => return Err(UssdError::OtherClient { code }),
        4 => return Err(UssdError::NotSupported { code }),
        5 => return Err(UssdError::NetworkTimeout { code }),
        status => return Err(UssdError::UnknownStatus { code, status }),
    };
    Ok(UssdReply { status, text })
}

/// Huawei sticks want packed GSM-7 hex (modem-quirks.md §8); which models do is part of the
/// vendor profile's declaration (`modem::huawei::PARAMS`).
fn wants_packed_hex(hint: &str) -> bool {
    crate::modem::profile::ussd_packed_for(hint)
}

/// An open USSD dialogue. Holds the modem's USSD lock until dropped.
pub struct UssdSession {
    client: UssdClient,
    _guard: OwnedMutexGuard<()>,
    urcs: broadcast::Receiver<Urc>,
    open: bool,
    code: String,
}

impl UssdSession {
    /// True while the network waits for a menu choice.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// How long the network gets to answer the next choice.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.client.timeout = timeout;
    }

    /// Answers a menu (`"1"`); the network's next answer.
    pub async fn reply(&mut self, choice: &str) -> Result<UssdReply, UssdError> {
        if !self.open {
            return Err(UssdError::Closed {
                choice: choice.to_string(),
            });
        }
        validate_ussd_code(choice)?;
        self.open = false;
        let code = format!("{} → {choice}", self.code);
        let reply = self.client.request(&code, choice, &mut self.urcs).await?;
        self.open = reply.status == UssdStatus::Menu;
        Ok(reply)
    }

    /// Ends the session (`AT+CUSD=2`) if the network still waits for a choice.
    pub async fn cancel(mut self) -> Result<(), UssdError> {
        if self.open {
            self.open = false;
            self.client.at.run("AT+CUSD=2").await?;
        }
        Ok(())
    }
}

impl Drop for UssdSession {
    fn drop(&mut self) {
        if self.open {
            self.client.stale.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huawei_names_want_packed_hex_and_others_do_not() {
        for h in ["huawei", "huawei-e3372", "HUAWEI", "E3372h-153"] {
            assert!(wants_packed_hex(h), "{h}");
        }
        for h in ["quectel", "generic", "simkeep", ""] {
            assert!(!wants_packed_hex(h), "{h}");
        }
    }
}
