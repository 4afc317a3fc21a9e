//! `simkeep sms …`: send, and list/read/delete either the modem's own storage (with `--port`)
//! or the messages the daemon stored (without). Prints for people, or JSON with `--json`.
//!
//! Must not: print raw control characters from a message (they are escaped), or open the
//! database exclusively (the daemon may be running).

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::at::AtClient;
use crate::codec::{decode_pdu_hex, SmsPdu};
use crate::error::{AppError, ExitKind};
use crate::sms::parse::{parse_cmgl, parse_cmgr};
use crate::sms::{send_sms, SmsError};
use crate::store::{SmsDirection, SmsId, StoreConfig, StoreHandle, StoredSms};

pub async fn sms_send(at: &AtClient, number: &str, text: &str) -> Result<(), AppError> {
    let sent = send_sms(at, number, text).await?;
    let total = sent.references.len();
    for (i, mr) in sent.references.iter().enumerate() {
        println!(
            "sent part {}/{total} to {number}: message reference {mr}",
            i + 1
        );
    }
    if sent.text_mode {
        println!("(the modem refused PDU mode; sent in text mode)");
    }
    Ok(())
}

/// One message as the modem holds it, decoded.
fn describe(index: u32, stat: u8, pdu: &str) -> serde_json::Value {
    let status = match stat {
        0 => "unread",
        1 => "read",
        2 => "unsent",
        3 => "sent",
        _ => "unknown",
    };
    match decode_pdu_hex(pdu) {
        Ok(p) => {
            let (peer, time) = match &p {
                SmsPdu::Deliver(d) => (d.sender.clone(), Some(d.timestamp)),
                SmsPdu::Submit(s) => (s.destination.clone(), None),
                SmsPdu::StatusReport(r) => (r.recipient.clone(), Some(r.timestamp)),
            };
            let concat = p
                .concat()
                .map(|c| json!({"reference": c.reference, "part": c.seq, "of": c.total}));
            json!({"index": index, "status": status, "peer": peer, "time": time.map(utc),
                   "text": p.text(), "concat": concat})
        }
        Err(e) => json!({"index": index, "status": status, "error": e.to_string(), "pdu": pdu}),
    }
}

fn print_modem(m: &serde_json::Value) {
    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let part = match m.get("concat") {
        Some(c) if !c.is_null() => format!(" [part {}/{}]", c["part"], c["of"]),
        _ => String::new(),
    };
    println!(
        "#{} {} from/to {} at {}{part}",
        m["index"],
        s("status"),
        s("peer"),
        s("time")
    );
    match m.get("error") {
        Some(e) => println!("  (cannot decode: {})", e.as_str().unwrap_or("")),
        None => println!("  {}", printable(&s("text"))),
    }
}

pub async fn sms_list_modem(at: &AtClient, json: bool) -> Result<(), AppError> {
    at.run("AT+CMGF=0").await?;
    let resp = at.run("AT+CMGL=4").await?;
    let all: Vec<_> = parse_cmgl(&resp.lines)
        .iter()
        .map(|m| describe(m.index, m.stat, &m.pdu))
        .collect();
    if json {
        println!("{}", serde_json::Value::Array(all));
    } else if all.is_empty() {
        println!("no messages on the modem");
    } else {
        all.iter().for_each(print_modem);
    }
    Ok(())
}

pub async fn sms_read_modem(at: &AtClient, index: u32, json: bool) -> Result<(), AppError> {
    at.run("AT+CMGF=0").await?;
    let resp = at.run(&format!("AT+CMGR={index}")).await?;
    let (stat, pdu) = parse_cmgr(&resp.lines).ok_or(SmsError::NoMessage { index })?;
    let m = describe(index, stat, &pdu);
    if json {
        println!("{m}");
    } else {
        print_modem(&m);
    }
    Ok(())
}

pub async fn sms_delete_modem(at: &AtClient, index: u32) -> Result<(), AppError> {
    at.run(&format!("AT+CMGD={index}")).await?;
    println!("deleted message {index} from the modem");
    Ok(())
}

/// Opens the daemon's database for a one-shot command, shared (the daemon may hold it too).
async fn open_store(path: &Path) -> Result<StoreHandle, AppError> {
    if !path.exists() {
        return Err(AppError::new(
            ExitKind::Config,
            format!("no message database at {} — set store.path in the config, or use --port to read the modem", path.display()),
        ));
    }
    let mut cfg = StoreConfig::new(path);
    cfg.exclusive = false;
    cfg.busy_timeout = Duration::from_secs(2);
    let store =
        StoreHandle::start(cfg).map_err(|e| AppError::new(ExitKind::Failure, e.to_string()))?;
    match store.health().await {
        Ok(h) if h.open => Ok(store),
        Ok(h) => Err(AppError::new(
            ExitKind::Failure,
            h.last_error
                .unwrap_or_else(|| format!("cannot open {}", path.display())),
        )),
        Err(e) => Err(AppError::new(ExitKind::Failure, e.to_string())),
    }
}

fn stored_json(s: &StoredSms) -> serde_json::Value {
    let dir = match s.sms.direction {
        SmsDirection::Received => "received",
        SmsDirection::Sent => "sent",
    };
    json!({"id": s.id.0, "direction": dir, "peer": s.sms.peer, "sent_at": s.sms.sent_at.map(utc),
           "stored_at": utc(s.sms.t), "text": s.sms.body, "iccid": s.sms.iccid})
}

fn print_stored(s: &StoredSms) {
    let when = utc(s.sms.sent_at.unwrap_or(s.sms.t));
    let dir = if s.sms.direction == SmsDirection::Received {
        "from"
    } else {
        "to"
    };
    println!("#{} {dir} {} at {when}", s.id.0, printable(&s.sms.peer));
    println!("  {}", printable(&s.sms.body));
}

fn store_err(e: crate::store::StoreError) -> AppError {
    AppError::new(ExitKind::Failure, e.to_string())
}

pub async fn sms_list_store(store_path: &Path, json: bool) -> Result<(), AppError> {
    let store = open_store(store_path).await?;
    let all = store.list_sms(None, 1000).await.map_err(store_err)?;
    if json {
        println!(
            "{}",
            serde_json::Value::Array(all.iter().map(stored_json).collect())
        );
    } else if all.is_empty() {
        println!("no stored messages");
    } else {
        all.iter().for_each(print_stored);
    }
    let _ = store.shutdown().await;
    Ok(())
}

pub async fn sms_read_store(store_path: &Path, id: i64, json: bool) -> Result<(), AppError> {
    let store = open_store(store_path).await?;
    let found = store.get_sms(SmsId(id)).await.map_err(store_err)?;
    let _ = store.shutdown().await;
    let Some(s) = found else {
        return Err(no_such(id));
    };
    if json {
        println!("{}", stored_json(&s));
    } else {
        print_stored(&s);
    }
    Ok(())
}

pub async fn sms_delete_store(store_path: &Path, id: i64) -> Result<(), AppError> {
    let store = open_store(store_path).await?;
    let deleted = store.delete_sms(SmsId(id)).await.map_err(store_err)?;
    let _ = store.shutdown().await;
    if !deleted {
        return Err(no_such(id));
    }
    println!("deleted stored message {id}");
    Ok(())
}

fn no_such(id: i64) -> AppError {
    AppError::new(
        ExitKind::Failure,
        format!("no stored message with id {id} — `simkeep sms list` shows the ids"),
    )
}

/// Message text for a terminal: newlines kept, other control characters escaped.
fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '\n' => vec!['\n', ' ', ' '],
            c if c.is_control() => c.escape_default().collect(),
            c => vec![c],
        })
        .collect()
}

/// Unix seconds as `2026-11-27T09:00:00Z`.
pub fn utc(ts: i64) -> String {
    crate::usage::civil::utc_string(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_795_705_200), "2026-11-26T15:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn control_characters_in_a_message_are_escaped() {
        assert_eq!(printable("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\n  c");
    }

    #[test]
    fn a_listed_deliver_is_described_with_its_sender_and_text() {
        // The DELIVER example of the dreamfabric.com SMS PDU tutorial ("hellohello"); its sender
        // has type-of-address 0xC8 (national), so no '+'.
        let m = describe(
            3,
            0,
            "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
        );
        assert_eq!(m["peer"], "27838890001");
        assert_eq!(m["text"], "hellohello");
        assert_eq!(m["status"], "unread");
    }
}
