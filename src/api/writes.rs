//! Write endpoints: `POST /api/v1/ussd`, `POST /api/v1/sms`, `DELETE /api/v1/sms/{id}`,
//! `POST /api/v1/balance/refresh`, `POST /api/v1/reload`, `POST /api/v1/at` (only with
//! `http.allow_raw_at = true`). All need the API token.
//!
//! Checks run in this order, each answering before anything later runs: the method (405), the
//! token (401), raw AT turned on (403), the body (400), the validators the CLI uses (400), the
//! agent (503). The modem work itself is the agent's (`agent::ops`): it serialises it with its
//! polls, balance queries and top-ups, and answers busy (409) rather than queue a dialogue.
//!
//! Must not: pass anything to the agent that `Command::new`, `validate_ussd_code` or
//! `validate_phone_number` refused, or wait on the agent without a deadline.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::http::{Reply, Request};
use super::ApiContext;
use crate::agent::ops::{self, Answer, OpError, OpErrorKind, OwnerOp};
use crate::store::SmsId;
use crate::usage::civil::utc_string;

const ALLOW_POST: &str = "Allow: POST\r\n";
const ALLOW_READ_POST: &str = "Allow: GET, HEAD, POST\r\n";
const ALLOW_READ_DELETE: &str = "Allow: GET, HEAD, DELETE\r\n";

/// True for the (method, path) pairs this module answers. A GET of `/api/v1/ussd`,
/// `/api/v1/sms` or `/api/v1/sms/{id}` is a read (`reads`); any other method on them is ours.
pub fn serves(req: &Request) -> bool {
    let read = matches!(req.method.as_str(), "GET" | "HEAD");
    match req.path.as_str() {
        "/api/v1/balance/refresh" | "/api/v1/reload" | "/api/v1/at" => true,
        "/api/v1/ussd" | "/api/v1/sms" => !read,
        p => p.starts_with("/api/v1/sms/") && !read,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UssdBody {
    code: String,
    #[serde(default)]
    replies: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsBody {
    to: String,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AtBody {
    command: String,
    /// Seconds.
    timeout: Option<u64>,
}

/// Serves one write.
pub async fn serve(req: &Request, ctx: &ApiContext) -> Reply {
    let path = req.path.as_str();
    let (allowed, allow) = match path {
        "/api/v1/ussd" | "/api/v1/sms" => (req.method == "POST", ALLOW_READ_POST),
        "/api/v1/balance/refresh" | "/api/v1/reload" | "/api/v1/at" => {
            (req.method == "POST", ALLOW_POST)
        }
        _ => (req.method == "DELETE", ALLOW_READ_DELETE),
    };
    if !allowed {
        return Reply::method_not_allowed(allow);
    }
    if !req.authorized(ctx.token.as_deref()) {
        return Reply::needs_token();
    }
    match path {
        "/api/v1/ussd" => ussd(req, ctx).await,
        "/api/v1/sms" => sms_send(req, ctx).await,
        "/api/v1/balance/refresh" => {
            let left = ask(ctx, |reply| OwnerOp::BalanceRefresh { reply }).await;
            done(left.map(|bytes| {
                json!({ "remaining_bytes": bytes, "as_of": utc_string(crate::agent::status::unix_now()) })
            }))
        }
        "/api/v1/reload" => done(
            ask(ctx, |reply| OwnerOp::Reload { reply })
                .await
                .map(|()| json!({ "result": "config reloaded; the agent restarts with it" })),
        ),
        "/api/v1/at" => at(req, ctx).await,
        _ => sms_delete(path, ctx).await,
    }
}

async fn ussd(req: &Request, ctx: &ApiContext) -> Reply {
    let body: UssdBody = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) = ops::check_ussd(&body.code, &body.replies) {
        return failure(&e);
    }
    let outcome = ask(ctx, |reply| OwnerOp::Ussd {
        code: body.code,
        replies: body.replies,
        reply,
    })
    .await;
    done(outcome.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
}

async fn sms_send(req: &Request, ctx: &ApiContext) -> Reply {
    let body: SmsBody = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) = ops::check_sms(&body.to, &body.text) {
        return failure(&e);
    }
    let sent = ask(ctx, |reply| OwnerOp::SmsSend {
        to: body.to,
        text: body.text,
        reply,
    })
    .await;
    done(sent.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)))
}

async fn at(req: &Request, ctx: &ApiContext) -> Reply {
    if !ctx.allow_raw_at {
        return Reply::error(
            403,
            "forbidden",
            "raw AT over the API is off; set http.allow_raw_at = true in the config to allow it",
        );
    }
    let body: AtBody = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let timeout = body.timeout.map(Duration::from_secs);
    if let Err(e) = ops::check_at(&body.command, timeout) {
        return failure(&e);
    }
    let command = body.command.clone();
    let lines = ask(ctx, |reply| OwnerOp::At {
        line: body.command,
        timeout,
        reply,
    })
    .await;
    done(lines.map(|l| json!({ "command": command, "lines": l })))
}

async fn sms_delete(path: &str, ctx: &ApiContext) -> Reply {
    let raw = path.trim_start_matches("/api/v1/sms/");
    let not_found = || {
        Reply::error(
            404,
            "not found",
            &format!("no stored message with id {raw}"),
        )
    };
    let Ok(id) = raw.parse::<i64>() else {
        return not_found();
    };
    let Some(store) = &ctx.store else {
        return Reply::error(
            503,
            "no store",
            "deleting a message needs the agent's store",
        );
    };
    match store.delete_sms(SmsId(id)).await {
        Ok(true) => Reply::json(200, &json!({ "deleted": id })),
        Ok(false) => not_found(),
        Err(e) => Reply::error(500, "store error", &e.to_string()),
    }
}

/// Hands an op to the agent and waits for its answer, bounded.
async fn ask<T>(ctx: &ApiContext, op: impl FnOnce(Answer<T>) -> OwnerOp) -> Result<T, OpError> {
    let not_running = || {
        OpError::new(
            OpErrorKind::NotReady,
            "the agent is not running a modem (start it with `simkeep run`)",
        )
    };
    let Some(ops) = &ctx.ops else {
        return Err(not_running());
    };
    let (tx, rx) = oneshot::channel();
    if let Err(e) = ops.try_send(op(tx)) {
        return Err(match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => OpError::new(
                OpErrorKind::Busy,
                "the agent has too many requests waiting; try again shortly",
            ),
            tokio::sync::mpsc::error::TrySendError::Closed(_) => not_running(),
        });
    }
    match tokio::time::timeout(ops::LONGEST_OP, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(OpError::new(
            OpErrorKind::Failed,
            "the agent stopped before it answered",
        )),
        Err(_) => Err(OpError::new(
            OpErrorKind::Unanswered,
            format!("no answer within {}s", ops::LONGEST_OP.as_secs()),
        )),
    }
}

fn failure(e: &OpError) -> Reply {
    let (status, word) = e.http();
    Reply::error(status, word, &e.message)
}

fn done(r: Result<Value, OpError>) -> Reply {
    match r {
        Ok(v) => Reply::json(200, &v),
        Err(e) => failure(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            ..Request::default()
        }
    }

    #[test]
    fn reads_of_the_same_paths_are_left_to_reads() {
        assert!(!serves(&req("GET", "/api/v1/ussd")));
        assert!(!serves(&req("HEAD", "/api/v1/sms/3")));
        assert!(serves(&req("POST", "/api/v1/ussd")));
        assert!(serves(&req("DELETE", "/api/v1/sms/3")));
        assert!(
            serves(&req("GET", "/api/v1/at")),
            "a wrong method gets our 405"
        );
        assert!(!serves(&req("POST", "/api/v1/status")));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn method_then_token_then_switch_then_body() {
        let ctx = ApiContext {
            token: Some("t0k".into()),
            ..ApiContext::default()
        };
        let r = serve(&req("PUT", "/api/v1/ussd"), &ctx).await;
        assert_eq!(r.status, 405);
        assert!(r.extra_headers.contains("POST"));
        assert_eq!(serve(&req("POST", "/api/v1/ussd"), &ctx).await.status, 401);
        let mut at = req("POST", "/api/v1/at");
        at.authorization = Some("Bearer t0k".into());
        let r = serve(&at, &ctx).await;
        assert_eq!(r.status, 403);
        assert!(String::from_utf8_lossy(&r.body).contains("http.allow_raw_at"));
        let mut u = req("POST", "/api/v1/ussd");
        u.authorization = Some("Bearer t0k".into());
        u.body = b"{\"code\": 100}".to_vec();
        assert_eq!(serve(&u, &ctx).await.status, 400);
        u.body = br#"{"code":"*100#\r"}"#.to_vec();
        assert_eq!(serve(&u, &ctx).await.status, 400);
        u.body = br#"{"code":"*100#"}"#.to_vec();
        assert_eq!(serve(&u, &ctx).await.status, 503, "no agent behind it");
    }
}
