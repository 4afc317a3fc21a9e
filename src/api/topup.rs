//! Top-up endpoints: `GET /api/v1/topups` (the ledger), `GET /api/v1/topup/plan`,
//! `POST /api/v1/topup` (`{"flow": "api", "dry_run": true}`, both optional) and
//! `POST /api/v1/topup/resume`. Writes spend money, so they need the API token
//! (`Authorization: Bearer …`, the token in `http.token_file`).
//!
//! Must not: answer a write without the token, or tell a caller anything about the token.

use std::path::Path;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::http::{Reply, Request};
use crate::agent::topup::{ask, AttemptJson, Control};
use crate::store::StoreHandle;

/// How long a write waits for the agent's answer.
/// Rows per `GET /api/v1/topups` (newest last); the ledger is small, but bounded anyway.
const MAX_ROWS: usize = 1000;

fn reply(code: u16, value: serde_json::Value) -> Reply {
    Reply::json(code, &value)
}

/// `{"error": <what went wrong, in a few words>, "detail": <the agent's own words>}`.
fn error(code: u16, msg: &str) -> Reply {
    let short = match code {
        400 => "bad request",
        401 => "unauthorized",
        404 => "not found",
        405 => "method not allowed",
        409 => "not done",
        503 => "unavailable",
        _ => "failed",
    };
    Reply::error(code, short, msg)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NowBody {
    flow: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// Serves one top-up request.
pub async fn serve(
    head: &Request,
    store: Option<&StoreHandle>,
    control: Option<&mpsc::Sender<Control>>,
    token: Option<&str>,
) -> Reply {
    match (head.method.as_str(), head.path.as_str()) {
        ("GET", "/api/v1/topups") => ledger(store, &head.query).await,
        ("GET", "/api/v1/topup/plan") => {
            let Some(control) = control else {
                return error(503, "the agent is not running");
            };
            let (tx, rx) = oneshot::channel();
            ask(control, Control::Plan { reply: tx }, rx)
                .await
                .map_or_else(|e| error(503, &e), |plan| reply(200, json!({ "plan": plan })))
        }
        ("POST", "/api/v1/topup" | "/api/v1/topup/resume" | "/api/v1/topup/pause") => {
            if !head.authorized(token) {
                return Reply::needs_token();
            }
            let Some(control) = control else {
                return error(503, "the agent is not running");
            };
            if head.path.ends_with("/resume") || head.path.ends_with("/pause") {
                let (tx, rx) = oneshot::channel();
                let c = if head.path.ends_with("/pause") {
                    Control::Pause { reply: tx }
                } else {
                    Control::Resume { reply: tx }
                };
                return match ask(control, c, rx).await {
                    Ok(Ok(msg)) => reply(200, json!({ "result": msg })),
                    Ok(Err(msg)) => error(500, &msg),
                    Err(e) => error(503, &e),
                };
            }
            let req: NowBody = match head.json_body() {
                Ok(r) => r,
                Err(_) => {
                    return error(400, "body must be JSON like {\"flow\":\"api\",\"dry_run\":true} (both optional)")
                }
            };
            let (tx, rx) = oneshot::channel();
            let c = Control::Now {
                flow: req.flow,
                dry_run: req.dry_run,
                reply: tx,
            };
            match ask(control, c, rx).await {
                Ok(Ok(msg)) => reply(202, json!({ "result": msg })),
                Ok(Err(msg)) => error(409, &msg),
                Err(e) => error(503, &e),
            }
        }
        ("GET" | "HEAD", "/api/v1/topup" | "/api/v1/topup/resume" | "/api/v1/topup/pause") => {
            Reply::method_not_allowed("Allow: POST\r\n")
        }
        (_, "/api/v1/topups" | "/api/v1/topup/plan") => {
            Reply::method_not_allowed("Allow: GET\r\n")
        }
        ("GET" | "POST" | "HEAD", _) => error(404, "no such endpoint; try /api/v1/topups, /api/v1/topup/plan, POST /api/v1/topup, POST /api/v1/topup/resume, POST /api/v1/topup/pause"),
        _ => error(405, "method not allowed"),
    }
}

async fn ledger(store: Option<&StoreHandle>, query: &str) -> Reply {
    let Some(store) = store else {
        return error(503, "the ledger needs the store");
    };
    let paging = match super::params::paging(query) {
        Ok(p) => p,
        Err(bad) => return Reply::error(400, bad.error, &bad.detail),
    };
    match store.ledger_since(paging.since).await {
        Ok(rows) => {
            // The newest `limit` attempts, oldest first (the ledger is small; bounded anyway).
            let limit = usize::try_from(paging.limit)
                .unwrap_or(MAX_ROWS)
                .min(MAX_ROWS);
            let skip = rows.len().saturating_sub(limit);
            let items: Vec<AttemptJson> = rows
                .iter()
                .skip(skip)
                .map(AttemptJson::from_entry)
                .collect();
            reply(200, serde_json::to_value(items).unwrap_or_default())
        }
        Err(e) => error(503, &e.to_string()),
    }
}

/// The API token: read from `path`, or created there (0600, 32 random bytes as hex) on first
/// start. `Err` says why writes will be refused.
pub fn ensure_token(path: &Path) -> Result<String, String> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read the API token {}: {e}", path.display())),
    }
    let mut raw = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .map_err(|e| format!("cannot make an API token: /dev/urandom: {e}"))?;
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create the API token {}: {e}", path.display()))?;
    f.write_all(format!("{token}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write the API token {}: {e}", path.display()))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_created_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/api-token");
        let t = ensure_token(&p).unwrap();
        assert_eq!(t.len(), 64);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            ensure_token(&p).unwrap(),
            t,
            "the same token on the next start"
        );
    }
}
