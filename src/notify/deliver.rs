//! Sends one event on one channel and says what the channel answered: Telegram, ntfy and
//! webhooks over HTTP(S), an SMS through the modem, or a local program (argv, no shell).
//!
//! It must not: retry (the outbox decides when), put a secret in an error or a log line (every
//! message passes through `Secrets::redact`, and URLs are shown by origin only: a Telegram bot
//! token travels in the path), hand the modem an unchecked number, or let a program run past its
//! timeout or flood memory with its output.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::event::Level;
use super::http::{post, HttpUrl, Reply};
use crate::at::AtClient;
use crate::config::{NotifyConfig, NotifyKind};
use crate::secrets::Secrets;
use crate::store::StoreHandle;
use crate::template::TemplateVars;

/// An HTTP channel must answer within this.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);
/// Output of an exec channel kept for the error message; the rest is read and discarded.
const EXEC_OUTPUT_CAP: usize = 4096;
/// An SMS notification is cut here (three concatenated GSM-7 parts at most).
const SMS_MAX_CHARS: usize = 400;
/// The event kind recording each notification SMS sent (the daily cap counts these).
pub const SMS_SENT_EVENT: &str = "notify.sms_sent";
/// Longest excerpt of a channel's reply in an error.
const SNIPPET_CHARS: usize = 160;

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    /// Worth trying again later; `retry_after` when the channel said when.
    #[error("{cause}")]
    Retry {
        cause: String,
        retry_after: Option<Duration>,
    },
    /// Trying again would not help (the SMS cap is reached): the delivery is dropped.
    #[error("{cause}")]
    GiveUp { cause: String },
}

fn retry(cause: impl Into<String>) -> DeliverError {
    DeliverError::Retry {
        cause: cause.into(),
        retry_after: None,
    }
}

/// The parts of an event's JSON a channel needs.
#[derive(Debug, Clone)]
pub struct Message {
    pub event: String,
    pub level: Level,
    pub text: String,
    /// The whole event as JSON (webhook body, exec stdin).
    pub json: String,
}

impl Message {
    pub fn from_json(json: &str) -> Message {
        let v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Message {
            event: s("event"),
            level: Level::parse(&s("level")).unwrap_or(Level::Info),
            text: s("text"),
            json: json.to_string(),
        }
    }
}

/// Sends messages; holds what the channels share (secrets, TLS configs, the modem).
pub struct Deliverer {
    secrets: Secrets,
    at: Option<AtClient>,
    store: Option<StoreHandle>,
    tls: HashMap<Option<PathBuf>, Arc<ClientConfig>>,
}

impl Deliverer {
    /// `at`: the modem, for SMS channels. `store`: counts SMS for the daily cap (none for
    /// `simkeep notify test`, which sends exactly one).
    pub fn new(secrets: Secrets, at: Option<AtClient>, store: Option<StoreHandle>) -> Self {
        Deliverer {
            secrets,
            at,
            store,
            tls: HashMap::new(),
        }
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Sends `msg` on `ch`; `Ok` holds what the channel answered, in a few words.
    pub async fn send(&mut self, ch: &NotifyConfig, msg: &Message) -> Result<String, DeliverError> {
        let r = match &ch.kind {
            NotifyKind::Telegram {
                url,
                token,
                chat_id,
                ca_file,
            } => {
                let vars = TemplateVars {
                    secrets: &self.secrets,
                    iccid: None,
                    imsi: None,
                    msisdn: None,
                };
                let token = token.render(&vars).map_err(|e| retry(e.to_string()))?;
                // A bot token is `123456:ABC-def_…`; anything else would change the URL path.
                if token.is_empty()
                    || !token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b":_-".contains(&b))
                {
                    return Err(retry(
                        "the bot token holds characters a Telegram token never has",
                    ));
                }
                let u = url
                    .join(&format!("bot{token}/sendMessage"))
                    .map_err(retry)?;
                let chat: Value = chat_id
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(chat_id.as_str()));
                let body = json!({ "chat_id": chat, "text": msg.text }).to_string();
                let headers = vec![("Content-Type".into(), "application/json".into())];
                let reply = self.post(&u, &headers, body.as_bytes(), ca_file).await?;
                telegram_verdict(&reply)
            }
            NotifyKind::Ntfy {
                url,
                token,
                ca_file,
            } => {
                let (priority, tags) = match msg.level {
                    Level::Info => ("default", "information_source"),
                    Level::Warning => ("high", "warning"),
                    Level::Critical => ("urgent", "rotating_light"),
                };
                let mut headers: Vec<(String, String)> = vec![
                    ("Content-Type".into(), "text/plain; charset=utf-8".into()),
                    (
                        "Title".into(),
                        format!("simkeep: {}", ascii_only(&msg.event)),
                    ),
                    ("Priority".into(), priority.into()),
                    ("Tags".into(), tags.into()),
                ];
                if let Some(t) = token {
                    let vars = self.vars();
                    let t = t.render(&vars).map_err(|e| retry(e.to_string()))?;
                    headers.push(("Authorization".into(), format!("Bearer {t}")));
                }
                check_headers(&headers)?;
                let reply = self
                    .post(url, &headers, msg.text.as_bytes(), ca_file)
                    .await?;
                http_verdict("ntfy", &reply)
            }
            NotifyKind::Webhook {
                url,
                headers,
                ca_file,
            } => {
                let mut hs: Vec<(String, String)> =
                    vec![("Content-Type".into(), "application/json".into())];
                for (n, t) in headers {
                    let vars = self.vars();
                    let v = t
                        .render(&vars)
                        .map_err(|e| retry(format!("header {n}: {e}")))?;
                    hs.push((n.clone(), v));
                }
                check_headers(&hs)?;
                let reply = self.post(url, &hs, msg.json.as_bytes(), ca_file).await?;
                http_verdict("webhook", &reply)
            }
            NotifyKind::Sms { to, max_per_day } => self.sms(ch, to, *max_per_day, msg).await,
            NotifyKind::Exec { command, timeout } => exec(command, *timeout, &msg.json).await,
        };
        r.map_err(|e| self.redact(e))
    }

    fn vars(&self) -> TemplateVars<'_> {
        TemplateVars {
            secrets: &self.secrets,
            iccid: None,
            imsi: None,
            msisdn: None,
        }
    }

    fn redact(&self, e: DeliverError) -> DeliverError {
        match e {
            DeliverError::Retry { cause, retry_after } => DeliverError::Retry {
                cause: self.secrets.redact(&cause),
                retry_after,
            },
            DeliverError::GiveUp { cause } => DeliverError::GiveUp {
                cause: self.secrets.redact(&cause),
            },
        }
    }

    async fn post(
        &mut self,
        url: &HttpUrl,
        headers: &[(String, String)],
        body: &[u8],
        ca_file: &Option<PathBuf>,
    ) -> Result<Reply, DeliverError> {
        let tls = if url.plain {
            None
        } else {
            Some(self.tls_for(ca_file)?)
        };
        post(url, headers, body, tls, HTTP_TIMEOUT)
            .await
            .map_err(|e| retry(format!("{}: {e}", url.origin())))
    }

    fn tls_for(&mut self, ca_file: &Option<PathBuf>) -> Result<Arc<ClientConfig>, DeliverError> {
        if let Some(c) = self.tls.get(ca_file) {
            return Ok(c.clone());
        }
        let c = crate::carrier_api::tls::client_config(ca_file.as_deref()).map_err(retry)?;
        self.tls.insert(ca_file.clone(), c.clone());
        Ok(c)
    }

    async fn sms(
        &self,
        ch: &NotifyConfig,
        to: &str,
        max_per_day: u32,
        msg: &Message,
    ) -> Result<String, DeliverError> {
        crate::codec::validate_phone_number(to, false).map_err(|e| DeliverError::GiveUp {
            cause: e.to_string(),
        })?;
        let at = self
            .at
            .as_ref()
            .ok_or_else(|| retry("no modem connection to send the SMS"))?;
        let now = crate::agent::status::unix_now();
        if let Some(store) = &self.store {
            let sent = store
                .count_events(SMS_SENT_EVENT, now.saturating_sub(86_400))
                .await
                .map_err(|e| retry(format!("cannot count today's SMS: {e}")))?;
            if sent >= u64::from(max_per_day) {
                return Err(DeliverError::GiveUp {
                    cause: format!(
                        "{sent} notification SMS sent in the last 24 hours (max_per_day = {max_per_day}); not sending more"
                    ),
                });
            }
        }
        let text: String = msg.text.chars().take(SMS_MAX_CHARS).collect();
        let sent = crate::sms::send_sms(at, to, &text)
            .await
            .map_err(|e| retry(e.to_string()))?;
        if let Some(store) = &self.store {
            if let Err(e) = store.event(now, SMS_SENT_EVENT, &ch.name) {
                tracing::warn!("notification SMS not counted: {e}");
            }
        }
        Ok(format!("sent in {} part(s)", sent.references.len()))
    }
}

/// Telegram answers `{"ok":true,…}`, or `{"ok":false,"error_code":429,"description":"Too Many
/// Requests: retry after 15","parameters":{"retry_after":15}}`.
fn telegram_verdict(r: &Reply) -> Result<String, DeliverError> {
    let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    if (200..300).contains(&r.status) && v.get("ok") == Some(&Value::Bool(true)) {
        return Ok(format!("{} ok", r.status));
    }
    let desc = v
        .get("description")
        .and_then(Value::as_str)
        .map(snippet)
        .unwrap_or_else(|| snippet(&r.body));
    let retry_after = v
        .pointer("/parameters/retry_after")
        .and_then(Value::as_u64)
        .map(Duration::from_secs)
        .or(r.retry_after);
    Err(DeliverError::Retry {
        cause: format!("telegram answered {}: {desc}", r.status),
        retry_after: if r.status == 429 { retry_after } else { None },
    })
}

fn http_verdict(what: &str, r: &Reply) -> Result<String, DeliverError> {
    if (200..300).contains(&r.status) {
        return Ok(format!("{}", r.status));
    }
    Err(DeliverError::Retry {
        cause: format!("{what} answered {}: {}", r.status, snippet(&r.body)),
        retry_after: if matches!(r.status, 429 | 503) {
            r.retry_after
        } else {
            None
        },
    })
}

fn check_headers(headers: &[(String, String)]) -> Result<(), DeliverError> {
    for (n, v) in headers {
        // Content-Type is ours; check_header only guards framing headers and values.
        crate::carrier_api::wire::check_header(n, v).map_err(retry)?;
    }
    Ok(())
}

/// Header values must stay ASCII for every server; event names are, this is belt and braces.
fn ascii_only(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect()
}

fn snippet(s: &str) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET_CHARS)
        .collect();
    one.trim().to_string()
}

/// Runs `command` (no shell) with `json` on stdin; exit 0 within `timeout` is success. The
/// program is killed when the timeout passes (tokio kills on drop).
async fn exec(command: &[String], timeout: Duration, json: &str) -> Result<String, DeliverError> {
    let (prog, args) = command.split_first().ok_or_else(|| DeliverError::GiveUp {
        cause: "empty command".into(),
    })?;
    let mut child = tokio::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| retry(format!("cannot start {prog}: {e}")))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let input = format!("{json}\n");
    let work = async {
        let feed = async {
            if let Some(mut s) = stdin {
                // A program that does not read its stdin is fine: ignore EPIPE.
                let _ = s.write_all(input.as_bytes()).await;
            }
        };
        let (_, out, err) = tokio::join!(feed, read_capped(stdout), read_capped(stderr));
        let status = child.wait().await;
        (status, out, err)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(retry(format!(
            "{prog} did not finish within {}s; killed",
            timeout.as_secs()
        ))),
        Ok((Err(e), _, _)) => Err(retry(format!("waiting for {prog}: {e}"))),
        Ok((Ok(st), out, err)) if st.success() => {
            let _ = err;
            Ok(format!("exit 0{}", tail(&out)))
        }
        Ok((Ok(st), out, err)) => {
            let why = match st.code() {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            };
            let said = if err.trim().is_empty() { out } else { err };
            Err(retry(format!("{prog} failed ({why}){}", tail(&said))))
        }
    }
}

fn tail(out: &str) -> String {
    let s = snippet(out);
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

/// Reads a pipe to its end, keeping the first [`EXEC_OUTPUT_CAP`] bytes.
async fn read_capped<R: AsyncRead + Unpin>(r: Option<R>) -> String {
    let Some(mut r) = r else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = EXEC_OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.into(),
            retry_after: None,
        }
    }

    #[test]
    fn telegram_replies_as_the_api_prints_them() {
        assert!(telegram_verdict(&reply(200, r#"{"ok":true,"result":{"message_id":7}}"#)).is_ok());
        let e = telegram_verdict(&reply(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 15","parameters":{"retry_after":15}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            DeliverError::Retry {
                cause: "telegram answered 429: Too Many Requests: retry after 15".into(),
                retry_after: Some(Duration::from_secs(15)),
            }
        );
        let e = telegram_verdict(&reply(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("chat not found"), "{e}");
        // A proxy's HTML error page is not JSON.
        let e = telegram_verdict(&reply(502, "<html>Bad Gateway</html>")).unwrap_err();
        assert!(e.to_string().contains("502"), "{e}");
    }

    #[test]
    fn a_message_is_read_back_from_the_outbox_json() {
        let e = super::super::event::AgentEvent::modem_lost(9, "port vanished");
        let m = Message::from_json(&e.to_json());
        assert_eq!(m.event, "modem_lost");
        assert_eq!(m.level, Level::Critical);
        assert_eq!(m.text, "Modem lost: port vanished");
        let junk = Message::from_json("not json");
        assert_eq!(junk.level, Level::Info);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn exec_feeds_stdin_caps_output_and_kills_at_the_timeout() {
        let cat = ["/bin/sh".to_string(), "-c".into(), "cat; exit 3".into()];
        let e = exec(&cat, Duration::from_secs(5), "{\"x\":1}")
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("exit status 3") && e.to_string().contains("{\"x\":1}"),
            "{e}"
        );
        let loud = [
            "/bin/sh".to_string(),
            "-c".into(),
            "head -c 100000 /dev/zero | tr '\\0' a".into(),
        ];
        let ok = exec(&loud, Duration::from_secs(5), "{}").await.unwrap();
        assert!(ok.len() < 400, "{}", ok.len());
        let slow = ["/bin/sleep".to_string(), "30".into()];
        let t = std::time::Instant::now();
        let e = exec(&slow, Duration::from_secs(1), "{}").await.unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(e.to_string().contains("did not finish within 1s"), "{e}");
        let missing = ["/nonexistent/prog".to_string()];
        assert!(exec(&missing, Duration::from_secs(1), "{}").await.is_err());
    }
}
