//! `simkeep notify test [NAME]`: sends a test message on every `[[notify]]` channel (or the one
//! named) directly — no daemon needed — and prints what each channel answered.
//!
//! It must not: print a secret (answers and errors pass through `Secrets::redact`), or open the
//! modem unless an SMS channel is being tested.

use crate::config::{Config, NotifyKind};
use crate::error::{AppError, ExitKind};
use crate::notify::{AgentEvent, Deliverer, Message};

/// `at_connect` opens the modem, called only when an SMS channel is tested.
pub async fn test<F, Fut>(cfg: &Config, name: Option<&str>, at_connect: F) -> Result<(), AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<crate::at::AtClient, AppError>>,
{
    let chosen: Vec<_> = cfg
        .notify
        .iter()
        .filter(|c| name.is_none_or(|n| c.name == n))
        .collect();
    if chosen.is_empty() {
        let known: Vec<&str> = cfg.notify.iter().map(|c| c.name.as_str()).collect();
        return Err(AppError::new(
            ExitKind::Config,
            match name {
                Some(n) if !known.is_empty() => {
                    format!(
                        "no [[notify]] channel named {n:?} (configured: {})",
                        known.join(", ")
                    )
                }
                _ => format!("no [[notify]] channels in {}", cfg.path.display()),
            },
        ));
    }
    let secrets = cfg
        .load_secrets()
        .map_err(|e| AppError::new(ExitKind::Config, e.to_string()))?;
    let at = if chosen
        .iter()
        .any(|c| matches!(c.kind, NotifyKind::Sms { .. }))
    {
        Some(at_connect().await?)
    } else {
        None
    };
    let mut d = Deliverer::new(secrets, at, None);
    let mut failed = 0usize;
    for c in &chosen {
        let ev = AgentEvent::test(crate::agent::status::unix_now(), &c.name);
        let msg = Message::from_json(&ev.to_json());
        match d.send(c, &msg).await {
            Ok(answer) => println!("{} ({}): ok, {answer}", c.name, c.kind.name()),
            Err(e) => {
                failed = failed.saturating_add(1);
                println!("{} ({}): FAILED, {e}", c.name, c.kind.name());
            }
        }
    }
    if failed > 0 {
        return Err(AppError::new(
            ExitKind::Failure,
            format!("{failed} of {} channel(s) failed", chosen.len()),
        ));
    }
    Ok(())
}
