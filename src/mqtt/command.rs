//! Commands from the broker (`<prefix>/command/<name>`): Home Assistant's "top up now" button
//! and "automatic top-ups" switch, or any client sending JSON. Parsed here (pure), carried out
//! through the same agent control channel and with the same rules as `POST /api/v1/topup`:
//! the body fields are the API's (`flow`, `dry_run`, unknown fields refused), and the agent's
//! policy decides (caps, cooldown, flow names) exactly as for the API.
//!
//! Replies go to `<prefix>/reply/<id>` as `{"id", "ok", "result"|"error"}`.
//!
//! It must not: act when `mqtt.allow_commands` is false, or wait on the agent without a limit.

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::agent::topup::{ask, Control};

/// How long a command waits for the agent (the HTTP API waits as long).
/// Longest command payload read: a JSON body of two fields and an id.
pub const MAX_PAYLOAD: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `topup_now`: `PRESS` (HA's button) or `{"flow": "api", "dry_run": true, "id": "x"}`.
    TopupNow { flow: Option<String>, dry_run: bool },
    /// `auto_topup`: `ON` lifts a pause (as `simkeep topup resume`).
    Resume,
    /// `auto_topup`: `OFF` switches automatic top-ups off (as `simkeep topup pause`).
    Pause,
}

/// The API's `POST /api/v1/topup` body, plus the reply id.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NowBody {
    id: Option<String>,
    flow: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// A parsed command with the id its reply goes to (when the payload named one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub id: Option<String>,
    pub command: Command,
}

/// Parses `payload` sent to `command/<name>`. The error is the sentence the reply carries.
pub fn parse(name: &str, payload: &[u8]) -> Result<Parsed, String> {
    if payload.len() > MAX_PAYLOAD {
        return Err(format!(
            "the command is {} bytes; at most {MAX_PAYLOAD}",
            payload.len()
        ));
    }
    let text = std::str::from_utf8(payload)
        .map_err(|_| "the command is not UTF-8 text".to_string())?
        .trim();
    match name {
        "topup_now" => {
            if text.is_empty() || text == "PRESS" {
                return Ok(Parsed {
                    id: None,
                    command: Command::TopupNow {
                        flow: None,
                        dry_run: false,
                    },
                });
            }
            let b: NowBody = serde_json::from_str(text).map_err(|_| {
                "send PRESS or JSON like {\"flow\":\"api\",\"dry_run\":true,\"id\":\"r1\"} (all optional)"
                    .to_string()
            })?;
            if let Some(id) = &b.id {
                crate::config::mqtt::check_id(id).map_err(|e| format!("id: {e}"))?;
            }
            Ok(Parsed {
                id: b.id,
                command: Command::TopupNow {
                    flow: b.flow,
                    dry_run: b.dry_run,
                },
            })
        }
        "auto_topup" => match text {
            "ON" => Ok(Parsed {
                id: None,
                command: Command::Resume,
            }),
            "OFF" => Ok(Parsed {
                id: None,
                command: Command::Pause,
            }),
            _ => Err("send ON or OFF".into()),
        },
        _ => Err("unknown command; use topup_now or auto_topup".into()),
    }
}

/// The `id` a JSON payload names, even when the rest of it is refused, so the refusal goes
/// where the sender listens. Only an id that is safe as a topic level.
pub fn loose_id(payload: &[u8]) -> Option<String> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let v: Value = serde_json::from_slice(payload).ok()?;
    let id = v.get("id")?.as_str()?;
    crate::config::mqtt::check_id(id).ok()?;
    Some(id.to_string())
}

/// Carries the command out through the agent; `Ok` is the agent's answer in words.
pub async fn run(control: &mpsc::Sender<Control>, c: Command) -> Result<String, String> {
    match c {
        Command::TopupNow { flow, dry_run } => {
            let (tx, rx) = oneshot::channel();
            ask(
                control,
                Control::Now {
                    flow,
                    dry_run,
                    reply: tx,
                },
                rx,
            )
            .await?
        }
        Command::Resume => {
            let (tx, rx) = oneshot::channel();
            ask(control, Control::Resume { reply: tx }, rx).await?
        }
        Command::Pause => {
            let (tx, rx) = oneshot::channel();
            ask(control, Control::Pause { reply: tx }, rx).await?
        }
    }
}

/// The reply document.
pub fn reply(id: &str, answer: &Result<String, String>) -> Value {
    match answer {
        Ok(msg) => json!({"id": id, "ok": true, "result": msg}),
        Err(msg) => json!({"id": id, "ok": false, "error": msg}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_button_press_and_the_apis_body_both_parse() {
        assert_eq!(
            parse("topup_now", b"PRESS").unwrap().command,
            Command::TopupNow {
                flow: None,
                dry_run: false
            }
        );
        let p = parse(
            "topup_now",
            br#"{"flow":"monthly","dry_run":true,"id":"r-1"}"#,
        )
        .unwrap();
        assert_eq!(p.id.as_deref(), Some("r-1"));
        assert_eq!(
            p.command,
            Command::TopupNow {
                flow: Some("monthly".into()),
                dry_run: true
            }
        );
        assert_eq!(parse("auto_topup", b"ON").unwrap().command, Command::Resume);
        assert_eq!(parse("auto_topup", b"OFF").unwrap().command, Command::Pause);
    }

    #[test]
    fn bad_commands_are_refused_with_a_sentence() {
        assert!(parse("topup_now", br#"{"flow":"a","amount":5}"#)
            .unwrap_err()
            .contains("PRESS"));
        assert!(parse("topup_now", br#"{"id":"a/#"}"#)
            .unwrap_err()
            .starts_with("id:"));
        assert!(parse("topup_now", &[b'x'; 2000])
            .unwrap_err()
            .contains("at most"));
        assert!(parse("auto_topup", b"off")
            .unwrap_err()
            .contains("ON or OFF"));
        assert!(parse("reboot", b"now").unwrap_err().contains("unknown"));
        assert_eq!(
            loose_id(br#"{"id":"r9","amount":5}"#).as_deref(),
            Some("r9")
        );
        assert_eq!(loose_id(br#"{"id":"a/#"}"#), None);
        assert!(parse("topup_now", &[0xFF, 0xFE])
            .unwrap_err()
            .contains("UTF-8"));
    }
}
