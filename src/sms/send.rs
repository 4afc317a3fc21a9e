//! Sending an SMS over AT: PDU mode first (`AT+CMGF=0`, one `AT+CMGS=<len>` per part, TS 27.005
//! §3.5.1), text mode (`AT+CMGF=1`) when the modem refuses PDU mode. The text is encoded by the
//! codec and goes to the modem only as the payload after the `> ` prompt, never inside the
//! command line; the number is validated before anything is sent.

use std::sync::atomic::{AtomicU8, Ordering};

use super::error::SmsError;
use super::parse::parse_cmgs;
use crate::at::{AtClient, AtError, Command};
use crate::codec::concat::{choose_alphabet, split_text};
use crate::codec::{encode_submit, validate_phone_number, Alphabet, SubmitOptions};

/// Reference shared by the parts of one long message; a new one per message (TS 23.040
/// §9.2.3.24.1). Seeded from the clock so two runs of the CLI rarely reuse one.
static NEXT_REFERENCE: AtomicU8 = AtomicU8::new(0);

fn next_reference() -> u8 {
    let prev = NEXT_REFERENCE.fetch_add(1, Ordering::Relaxed);
    if prev == 0 {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos());
        let seed = u8::try_from(seed % 251).unwrap_or(1).saturating_add(1);
        NEXT_REFERENCE.store(seed.wrapping_add(1), Ordering::Relaxed);
        return seed;
    }
    prev
}

/// What a successful send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// `+CMGS: <mr>` of each part, in order.
    pub references: Vec<u8>,
    /// True when the modem refused PDU mode and text mode was used.
    pub text_mode: bool,
}

/// Sends `text` to `number` (`+` and digits). Short codes are digits too ("1234").
pub async fn send_sms(at: &AtClient, number: &str, text: &str) -> Result<Sent, SmsError> {
    validate_phone_number(number, false)?;
    let opts = SubmitOptions {
        concat_reference: next_reference(),
        ..SubmitOptions::default()
    };
    let parts = encode_submit(number, text, &opts).map_err(|source| SmsError::Encode {
        number: number.to_string(),
        source,
    })?;
    match at.run("AT+CMGF=0").await {
        Ok(_) => {}
        Err(e) if e.is_modem_refusal() => {
            tracing::info!("modem refused PDU mode ({e}); sending in text mode");
            return send_text_mode(at, number, text).await;
        }
        Err(e) => return Err(e.into()),
    }
    let total = parts.len();
    let mut references = Vec::with_capacity(total);
    for (i, part) in parts.iter().enumerate() {
        let cmd = Command::with_payload(format!("AT+CMGS={}", part.tpdu_len), part.hex.clone())?;
        let mr = submit(at, cmd, number, i + 1, total).await?;
        references.push(mr);
    }
    Ok(Sent {
        references,
        text_mode: false,
    })
}

async fn submit(
    at: &AtClient,
    cmd: Command,
    number: &str,
    part: usize,
    total: usize,
) -> Result<u8, SmsError> {
    let line = cmd.line().to_string();
    match at.send(cmd).await {
        Ok(resp) => {
            resp.value("+CMGS:")
                .and_then(parse_cmgs)
                .ok_or_else(|| SmsError::NoReference {
                    command: line,
                    lines: resp.lines.clone(),
                })
        }
        Err(AtError::Cms { code, .. }) => Err(SmsError::Refused {
            number: number.to_string(),
            part,
            total,
            code: code.number(),
            text: code.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Text mode (TS 27.005 §3.5.1 text mode): one part only. GSM-7 text goes as it is in the
/// `"IRA"` character set; anything else as UCS2 hex with `AT+CSMP=17,167,0,8` (dcs UCS2).
async fn send_text_mode(at: &AtClient, number: &str, text: &str) -> Result<Sent, SmsError> {
    let alphabet = choose_alphabet(text, false);
    let ascii = text
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || b == b'\n');
    let parts = split_text(text, alphabet).map_err(|e| SmsError::Encode {
        number: number.to_string(),
        source: e.into(),
    })?;
    if parts.len() > 1 {
        return Err(SmsError::TextModeTooLong {
            chars: text.chars().count(),
            max: if alphabet == Alphabet::Gsm7 { 160 } else { 70 },
        });
    }
    at.run("AT+CMGF=1").await?;
    let (cmd, restore) = if ascii {
        at.run("AT+CSCS=\"IRA\"").await?;
        let cmd = Command::with_payload(format!("AT+CMGS=\"{number}\""), text)?;
        (cmd, None)
    } else {
        at.run("AT+CSCS=\"UCS2\"").await?;
        at.run("AT+CSMP=17,167,0,8").await?;
        let hex = |s: &str| -> String { s.encode_utf16().map(|u| format!("{u:04X}")).collect() };
        let cmd = Command::with_payload(format!("AT+CMGS=\"{}\"", hex(number)), hex(text))?;
        (cmd, Some("AT+CSCS=\"IRA\""))
    };
    let result = submit(at, cmd, number, 1, 1).await;
    if let Some(line) = restore {
        // Other commands read names in the modem's charset: put it back even after a failure.
        let _ = at.run(line).await;
        let _ = at.run("AT+CSMP=17,167,0,0").await;
    }
    Ok(Sent {
        references: vec![result?],
        text_mode: true,
    })
}
