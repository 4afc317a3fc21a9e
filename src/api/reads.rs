//! Read endpoints: `GET /api/v1/signal` (the last reading), `/api/v1/sms` and `/api/v1/sms/{id}`,
//! `/api/v1/ussd` (recent sessions), `/api/v1/events`, and `GET /healthz`. Lists take `limit`
//! and `since` (see `params`); message bodies, USSD history and events need the API token.
//! Errors are `{"error": …, "detail": …}`; times are RFC 3339 UTC strings.
//!
//! Must not: answer a token-protected read without the token, or hold the status borrow across
//! a store call (the snapshot is cloned first).

use serde_json::{json, Value};

use super::http::{Reply, Request};
use super::json::{event_json, sms_json, ussd_json};
use super::params::{paging, Paging};
use crate::agent::status::Status;
use crate::store::{SmsId, StoreHandle};
use crate::usage::civil::utc_string;

/// True for the paths this module answers.
pub fn serves(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/api/v1/signal" | "/api/v1/sms" | "/api/v1/ussd" | "/api/v1/events"
    ) || path.starts_with("/api/v1/sms/")
}

fn reply(code: u16, value: &Value, head_only: bool) -> Reply {
    Reply::json(code, value).for_head(head_only)
}

fn error(code: u16, error: &str, detail: &str, head_only: bool) -> Reply {
    Reply::error(code, error, detail).for_head(head_only)
}

/// Serves one read; `status` is a clone of the snapshot taken when the request came in.
pub async fn serve(
    head: &Request,
    status: &Status,
    store: Option<&StoreHandle>,
    token: Option<&str>,
) -> Reply {
    let head_only = match head.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => return Reply::method_not_allowed("Allow: GET, HEAD\r\n"),
    };
    let r = |code, v: Value| reply(code, &v, head_only);
    let e = |code, err: &str, detail: &str| error(code, err, detail, head_only);
    match head.path.as_str() {
        "/healthz" => return healthz(status, store, head_only).await,
        "/api/v1/signal" => {
            return match &status.last_poll {
                Some(p) => r(
                    200,
                    json!({"as_of": utc_string(p.taken_at), "signal": p.signal}),
                ),
                None => e(
                    503,
                    "no reading yet",
                    status
                        .link_error
                        .as_deref()
                        .unwrap_or("the modem has not been polled yet; try again shortly"),
                ),
            };
        }
        _ => {}
    }
    if !head.authorized(token) {
        return Reply::needs_token();
    }
    let Some(store) = store else {
        return e(
            503,
            "no store",
            "this needs the store (store.path in the config)",
        );
    };
    if let Some(id) = head.path.strip_prefix("/api/v1/sms/") {
        let Ok(id) = id.parse::<i64>() else {
            return e(
                404,
                "not found",
                "a message id is a whole number; GET /api/v1/sms lists them",
            );
        };
        return match store.get_sms(SmsId(id)).await {
            Ok(Some(s)) => r(200, sms_json(&s)),
            Ok(None) => e(
                404,
                "not found",
                &format!("no stored message with id {id}; GET /api/v1/sms lists them"),
            ),
            Err(err) => e(503, "store unavailable", &err.to_string()),
        };
    }
    let Paging { limit, since } = match paging(&head.query) {
        Ok(p) => p,
        Err(bad) => return e(400, bad.error, &bad.detail),
    };
    let rows = match head.path.as_str() {
        "/api/v1/sms" => store
            .sms_since(since, limit)
            .await
            .map(|v| v.iter().map(sms_json).collect::<Vec<_>>()),
        "/api/v1/ussd" => store
            .ussd_since(since, limit)
            .await
            .map(|v| v.iter().map(ussd_json).collect()),
        _ => store
            .events_since(since, limit)
            .await
            .map(|v| v.iter().map(event_json).collect()),
    };
    match rows {
        Ok(rows) => r(200, Value::Array(rows)),
        Err(err) => e(503, "store unavailable", &err.to_string()),
    }
}

/// 200 when the modem answers and the store is writable; otherwise 503 with every reason.
async fn healthz(status: &Status, store: Option<&StoreHandle>, head_only: bool) -> Reply {
    let mut problems = Vec::new();
    if status.link != "connected" {
        let why = status.link_error.as_deref().unwrap_or("no answer yet");
        problems.push(format!("modem {}: {why}", status.link));
    }
    // The published health: a probe must answer at once even while the store waits on a
    // file another process holds locked.
    match store.map(StoreHandle::health_now) {
        None => problems.push("store: not running".to_string()),
        Some(h) if h.open && h.last_error.is_none() => {}
        Some(h) => problems.push(format!(
            "store unhealthy: {}",
            h.last_error
                .as_deref()
                .unwrap_or("the database is not open")
        )),
    }
    if problems.is_empty() {
        reply(
            200,
            &json!({"status": "ok", "link": status.link}),
            head_only,
        )
    } else {
        error(503, "unhealthy", &problems.join("; "), head_only)
    }
}
