//! `simkeep ussd CODE [--reply N]… [--json]`: prints the network's answers. Through the running
//! agent (`POST /api/v1/ussd`) the choices must all be given with `--reply`; on the port itself
//! (no agent, or `--port`) a menu with no `--reply` left reads the next choice from stdin (an
//! empty line cancels). A menu cancelled or left unanswered ends the session on the network
//! (`AT+CUSD=2`) and exits 1. Both paths print the same: each answer's text on stdout, or the
//! dialogue as JSON (`agent::ops::UssdOutcome`) with `--json`.
//!
//! Must not: send anything before every code and reply given on the command line is valid.

use serde_json::json;

use crate::agent::ops::{check_ussd, dialogue, Choice, UssdEnd, UssdOutcome};
use crate::api::client::daemon_op;
use crate::at::AtClient;
use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::ussd::{UssdClient, UssdError};

/// Checks the code and the choices as the agent does, before the port or the agent is asked.
pub fn check(code: &str, replies: &[String]) -> Result<(), AppError> {
    check_ussd(code, replies).map_err(|e| AppError::new(ExitKind::Config, e.message))
}

/// On the port itself.
pub async fn ussd(
    at: &AtClient,
    code: &str,
    replies: &[String],
    profile_hint: Option<&str>,
    as_json: bool,
) -> Result<(), AppError> {
    check(code, replies)?;
    let client = match profile_hint {
        Some(h) => UssdClient::for_profile(at.clone(), h),
        None => UssdClient::detect(at.clone()).await,
    };
    let mut scripted = replies.iter().cloned();
    let outcome = dialogue(
        &client,
        code,
        |reply| {
            if as_json {
                // Stdout is the JSON document; a person answering a menu still sees it.
                eprintln!("{}", reply.text);
            } else {
                println!("{}", reply.text);
            }
        },
        |_| -> Choice {
            match scripted.next() {
                Some(r) => Box::pin(std::future::ready(Some(r))),
                None => Box::pin(read_choice()),
            }
        },
    )
    .await
    .map_err(|e: UssdError| AppError::from(e))?;
    finish(&outcome, as_json, true)
}

/// Through the running agent; `None` when no agent answers.
pub async fn ussd_via_agent(
    cfg: &Config,
    code: &str,
    replies: &[String],
    as_json: bool,
) -> Option<Result<(), AppError>> {
    if let Err(e) = check(code, replies) {
        return Some(Err(e));
    }
    let body = json!({ "code": code, "replies": replies });
    let v = match daemon_op(cfg, "POST", "/api/v1/ussd", Some(&body)).await? {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    let outcome: UssdOutcome = match serde_json::from_value(v) {
        Ok(o) => o,
        Err(e) => {
            return Some(Err(AppError::new(
                ExitKind::Failure,
                format!("the agent's USSD answer is not understood: {e}"),
            )))
        }
    };
    Some(finish(&outcome, as_json, false))
}

/// Prints what was not printed yet, and says how the dialogue ended.
fn finish(outcome: &UssdOutcome, as_json: bool, texts_printed: bool) -> Result<(), AppError> {
    if as_json {
        match serde_json::to_string(outcome) {
            Ok(s) => println!("{s}"),
            Err(e) => return Err(AppError::new(ExitKind::Failure, e.to_string())),
        }
    } else if !texts_printed {
        for a in &outcome.answers {
            println!("{}", a.text);
        }
    }
    match outcome.state {
        UssdEnd::Done => Ok(()),
        UssdEnd::Terminated => {
            eprintln!("(the network ended the session)");
            Ok(())
        }
        UssdEnd::Cancelled => Err(AppError::new(
            ExitKind::Failure,
            format!("the {} menu was cancelled", outcome.code),
        )),
        UssdEnd::Unanswered => Err(AppError::new(
            ExitKind::Failure,
            format!(
                "the {} menu was left unanswered and cancelled on the network — give the choices with --reply",
                outcome.code
            ),
        )),
    }
}

/// A line from stdin; `None` at end of input.
async fn read_choice() -> Option<String> {
    eprint!("reply (empty line cancels): ");
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        match std::io::stdin().read_line(&mut s) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(s),
        }
    })
    .await
    .ok()
    .flatten()
}
