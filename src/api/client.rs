//! The CLI's side of the HTTP API: a small GET to the running daemon on `http.listen`.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::error::{AppError, ExitKind};

/// A GET to the daemon's status port; `None` when no daemon answers there.
pub async fn daemon_get(cfg: &Config, path: &str) -> Option<Result<Value, AppError>> {
    daemon_request(cfg, "GET", path, None).await
}

/// A request to the daemon, with the API token from `http.token_file` for writes; `None` when
/// no daemon answers there. Any 2xx answer is a success; otherwise the daemon's `error` text.
pub async fn daemon_request(
    cfg: &Config,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<Result<Value, AppError>> {
    let auth = method != "GET";
    Some(match daemon_call(cfg, method, path, body, auth).await? {
        Ok((code, v)) if (200..300).contains(&code) => Ok(v),
        Ok((_, v)) => Err(refusal(&v)),
        Err(e) => Err(e),
    })
}

/// A GET that needs the API token (message bodies, USSD history, events).
pub async fn daemon_get_auth(cfg: &Config, path: &str) -> Option<Result<(u16, Value), AppError>> {
    daemon_call(cfg, "GET", path, None, true).await
}

/// The daemon's refusal as an error: its `error`, and its `detail` when it has one.
pub fn refusal(v: &Value) -> AppError {
    let error = v
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("the daemon refused the request");
    let msg = match v.get("detail").and_then(Value::as_str) {
        Some(d) => format!("{error}: {d}"),
        None => error.to_string(),
    };
    AppError::new(ExitKind::Failure, msg)
}

/// Modem work through the daemon (`/api/v1/ussd`, `/sms`, `/at`…), with the token, waiting as
/// long as the agent may take. A refusal keeps the one-shot command's exit code and words: the
/// `error` word picks the code (`agent::ops::OpError::http`), the `detail` is the message.
pub async fn daemon_op(
    cfg: &Config,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<Result<Value, AppError>> {
    let wait = crate::agent::ops::LONGEST_OP + Duration::from_secs(5);
    Some(
        match daemon_call_within(cfg, method, path, body, true, wait).await? {
            Ok((code, v)) if (200..300).contains(&code) => Ok(v),
            Ok((_, v)) => match (
                v.get("error").and_then(Value::as_str),
                v.get("detail").and_then(Value::as_str),
            ) {
                (Some(word), Some(detail)) => Err(AppError::new(
                    crate::agent::ops::OpError::exit_kind_for(word),
                    detail,
                )),
                _ => Err(refusal(&v)),
            },
            Err(e) => Err(e),
        },
    )
}

/// One request: (status code, JSON body); `None` when nothing answers on `http.listen`.
/// With `auth`, the token from `http.token_file` goes along (an unreadable file is an error).
pub async fn daemon_call(
    cfg: &Config,
    method: &str,
    path: &str,
    body: Option<&Value>,
    auth: bool,
) -> Option<Result<(u16, Value), AppError>> {
    daemon_call_within(cfg, method, path, body, auth, Duration::from_secs(30)).await
}

/// [`daemon_call`], waiting up to `wait` for the answer.
pub async fn daemon_call_within(
    cfg: &Config,
    method: &str,
    path: &str,
    body: Option<&Value>,
    auth: bool,
    wait: Duration,
) -> Option<Result<(u16, Value), AppError>> {
    let addr = cfg.http.listen?;
    let mut s = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if auth {
        match std::fs::read_to_string(&cfg.http.token_file) {
            Ok(t) => req.push_str(&format!("Authorization: Bearer {}\r\n", t.trim())),
            Err(e) => {
                return Some(Err(AppError::new(
                    ExitKind::Failure,
                    format!(
                        "cannot read the API token {} ({e}); run this as the daemon's user",
                        cfg.http.token_file.display()
                    ),
                )))
            }
        }
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let io = async {
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        // Bounded: no answer of the daemon's is near this size; a runaway one is cut.
        (&mut s).take(16 << 20).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = match tokio::time::timeout(wait, io).await {
        Ok(Ok(b)) => b,
        _ => {
            return Some(Err(AppError::new(
                ExitKind::Failure,
                format!("the daemon at {addr} did not answer {path}"),
            )))
        }
    };
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    Some(match serde_json::from_str::<Value>(body) {
        Ok(v) => Ok((code, v)),
        Err(e) => Err(AppError::new(
            ExitKind::Failure,
            format!("the daemon at {addr} sent bad JSON for {path}: {e}"),
        )),
    })
}
