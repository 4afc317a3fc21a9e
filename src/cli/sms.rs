//! `simkeep sms …`: send, and list/read/delete either the modem's own storage (with `--port`)
//! or the messages the daemon stored (without): `list` and `read` ask the running daemon
//! (`GET /api/v1/sms`, with the API token) and open the store only when no daemon answers; both
//! paths render the same JSON (`api::json::sms_json`), so the output is the same either way.
//! `send` and `delete` go through the daemon too (`POST /api/v1/sms`, `DELETE /api/v1/sms/{id}`),
//! and to the port or the store only when none answers.
//! Prints for people, or JSON with `--json`.
//!
//! Must not: print raw control characters from a message (they are escaped), or open the
//! database exclusively (the daemon may be running).

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::api::client::{daemon_call, daemon_get_auth, daemon_op, refusal};
use crate::api::json::sms_json;
use crate::at::AtClient;
use crate::codec::{decode_pdu_hex, SmsPdu};
use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::sms::parse::{parse_cmgl, parse_cmgr};
use crate::sms::{send_sms, SmsError};
use crate::store::{SmsId, StoreConfig, StoreHandle};

pub async fn sms_send(at: &AtClient, number: &str, text: &str, json: bool) -> Result<(), AppError> {
    let sent = send_sms(at, number, text).await?;
    print_sent(number, &sent.references, sent.text_mode, json);
    Ok(())
}

/// `sms send` through the running agent (`POST /api/v1/sms`; the agent records it as sent);
/// `None` when no agent answers.
pub async fn sms_send_via_agent(
    cfg: &Config,
    number: &str,
    text: &str,
    json: bool,
) -> Option<Result<(), AppError>> {
    let body = json!({ "to": number, "text": text });
    let v = match daemon_op(cfg, "POST", "/api/v1/sms", Some(&body)).await? {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    let references: Vec<u8> = v["references"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_u64().and_then(|r| u8::try_from(r).ok()))
                .collect()
        })
        .unwrap_or_default();
    print_sent(number, &references, v["text_mode"] == true, json);
    Some(Ok(()))
}

/// The same lines (or document) whichever path sent it.
fn print_sent(number: &str, references: &[u8], text_mode: bool, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({ "to": number, "references": references, "text_mode": text_mode })
        );
        return;
    }
    let total = references.len();
    for (i, mr) in references.iter().enumerate() {
        println!(
            "sent part {}/{total} to {number}: message reference {mr}",
            i + 1
        );
    }
    if text_mode {
        println!("(the modem refused PDU mode; sent in text mode)");
    }
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

pub async fn sms_delete_modem(at: &AtClient, index: u32, json: bool) -> Result<(), AppError> {
    at.run(&format!("AT+CMGD={index}")).await?;
    if json {
        println!("{}", json!({ "deleted": index }));
    } else {
        println!("deleted message {index} from the modem");
    }
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

/// One stored message for people, from its JSON (the daemon's or the store's: the same).
fn print_stored(m: &serde_json::Value) {
    let text = |k: &str| m[k].as_str().unwrap_or("").to_string();
    let when = m["sent_at"]
        .as_str()
        .map_or_else(|| text("stored_at"), str::to_string);
    let dir = if m["direction"] == "received" {
        "from"
    } else {
        "to"
    };
    println!("#{} {dir} {} at {when}", m["id"], printable(&text("peer")));
    println!("  {}", printable(&text("text")));
}

fn print_list(all: &[serde_json::Value], json: bool) {
    if json {
        println!("{}", serde_json::Value::Array(all.to_vec()));
    } else if all.is_empty() {
        println!("no stored messages");
    } else {
        all.iter().for_each(print_stored);
    }
}

fn store_err(e: crate::store::StoreError) -> AppError {
    AppError::new(ExitKind::Failure, e.to_string())
}

/// How many messages `sms list` shows (newest first).
const LIST_LIMIT: u32 = 1000;

/// `sms list` without `--port`: through the running daemon, or the store when none answers.
pub async fn sms_list(cfg: &Config, json: bool) -> Result<(), AppError> {
    let path = format!("/api/v1/sms?limit={LIST_LIMIT}");
    let all = match daemon_get_auth(cfg, &path).await {
        Some(r) => match r? {
            (200, serde_json::Value::Array(rows)) => rows,
            (_, v) => return Err(refusal(&v)),
        },
        None => return sms_list_store(&cfg.store.path, json).await,
    };
    print_list(&all, json);
    Ok(())
}

/// `sms list` from the store itself (no daemon answers).
pub async fn sms_list_store(store_path: &Path, json: bool) -> Result<(), AppError> {
    let store = open_store(store_path).await?;
    let rows = store.sms_since(0, LIST_LIMIT).await.map_err(store_err);
    let _ = store.shutdown().await;
    let all: Vec<_> = rows?.iter().map(sms_json).collect();
    print_list(&all, json);
    Ok(())
}

/// `sms read ID` without `--port`: through the running daemon, or the store when none answers.
pub async fn sms_read(cfg: &Config, id: i64, json: bool) -> Result<(), AppError> {
    let m = match daemon_get_auth(cfg, &format!("/api/v1/sms/{id}")).await {
        Some(r) => match r? {
            (200, v) => v,
            (404, _) => return Err(no_such(id)),
            (_, v) => return Err(refusal(&v)),
        },
        None => return sms_read_store(&cfg.store.path, id, json).await,
    };
    print_one(&m, json);
    Ok(())
}

/// `sms read ID` from the store itself (no daemon answers).
pub async fn sms_read_store(store_path: &Path, id: i64, json: bool) -> Result<(), AppError> {
    let store = open_store(store_path).await?;
    let found = store.get_sms(SmsId(id)).await.map_err(store_err);
    let _ = store.shutdown().await;
    print_one(&sms_json(&found?.ok_or_else(|| no_such(id))?), json);
    Ok(())
}

fn print_one(m: &serde_json::Value, json: bool) {
    if json {
        println!("{m}");
    } else {
        print_stored(m);
    }
}

/// `sms delete ID` without `--port`: through the running agent, or the store when none answers.
pub async fn sms_delete(cfg: &Config, id: i64, json: bool) -> Result<(), AppError> {
    match daemon_call(cfg, "DELETE", &format!("/api/v1/sms/{id}"), None, true).await {
        Some(r) => match r? {
            (200, _) => {}
            (404, _) => return Err(no_such(id)),
            (_, v) => return Err(refusal(&v)),
        },
        None => sms_delete_store(&cfg.store.path, id).await?,
    }
    if json {
        println!("{}", json!({ "deleted": id }));
    } else {
        println!("deleted stored message {id}");
    }
    Ok(())
}

/// Deletes from the store itself (no daemon answers).
pub async fn sms_delete_store(store_path: &Path, id: i64) -> Result<(), AppError> {
    let store = open_store(store_path).await?;
    let deleted = store.delete_sms(SmsId(id)).await.map_err(store_err);
    let _ = store.shutdown().await;
    if !deleted? {
        return Err(no_such(id));
    }
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
