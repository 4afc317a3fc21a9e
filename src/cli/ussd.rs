//! `simkeep ussd CODE [--reply N]…`: prints the network's answer; for a menu takes the next
//! `--reply`, else reads a line from stdin; an empty line or end of input cancels (`AT+CUSD=2`).
//!
//! Must not: send anything before every code and reply given on the command line is valid.

use crate::at::AtClient;
use crate::codec::validate_ussd_code;
use crate::error::AppError;
use crate::ussd::{UssdClient, UssdError, UssdStatus};

pub async fn ussd(
    at: &AtClient,
    code: &str,
    replies: &[String],
    profile_hint: Option<&str>,
) -> Result<(), AppError> {
    // All of it checked before the modem sees any of it.
    validate_ussd_code(code).map_err(UssdError::from)?;
    for r in replies {
        validate_ussd_code(r).map_err(UssdError::from)?;
    }
    let client = match profile_hint {
        Some(h) => UssdClient::for_profile(at.clone(), h),
        None => UssdClient::detect(at.clone()).await,
    };
    let (mut session, mut reply) = client.start(code).await?;
    let mut scripted = replies.iter();
    loop {
        println!("{}", reply.text);
        match reply.status {
            UssdStatus::Menu => {}
            UssdStatus::Done => return Ok(()),
            UssdStatus::Terminated => {
                eprintln!("(the network ended the session)");
                return Ok(());
            }
        }
        let next = match scripted.next() {
            Some(r) => Some(r.clone()),
            None => read_choice().await,
        };
        let choice = next.as_deref().map(str::trim).unwrap_or("");
        if choice.is_empty() {
            session.cancel().await?;
            eprintln!("(cancelled)");
            return Ok(());
        }
        reply = session.reply(choice).await?;
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
