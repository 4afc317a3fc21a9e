//! The local status port: `GET /api/v1/status` (JSON), `GET /metrics` (Prometheus text),
//! `GET /` (a small page for a browser), the read endpoints in `reads` (signal, SMS, USSD,
//! events, `/healthz`) and the top-up endpoints in `topup`.
//!
//! A deliberately small HTTP/1.1 server on tokio's TcpListener: one request per connection,
//! GET and HEAD only, bounded header size, a read deadline and a cap on connections. It saves
//! the flash a general HTTP stack would cost; everything it serves is read from the status
//! snapshot, so a slow or malicious client can never stall the modem or the poller.

pub mod auth;
pub mod client;
pub mod http;
pub mod json;
pub mod metrics;
pub mod page;
pub mod params;
pub mod reads;
pub mod topup;
pub mod writes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::agent::status::Status;
use crate::agent::topup::Control;
use crate::error::{AppError, ExitKind};
use crate::store::StoreHandle;

const MAX_HEAD: usize = 8192;
const MAX_CONNECTIONS: usize = 8;
const READ_DEADLINE: Duration = Duration::from_secs(5);

/// Binds `addr` and serves in a background task; the error names the address and cause.
pub async fn serve(
    addr: SocketAddr,
    status: watch::Receiver<Status>,
    ctx: ApiContext,
) -> Result<(tokio::task::JoinHandle<()>, SocketAddr), AppError> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => " — is another simkeep running? change http.listen",
            std::io::ErrorKind::AddrNotAvailable => {
                " — that address is not on this machine; check http.listen"
            }
            _ => "",
        };
        AppError::new(
            ExitKind::Failure,
            format!("cannot listen on {addr} (http.listen): {e}{hint}"),
        )
    })?;
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!("status on http://{bound}/");
    Ok((
        tokio::spawn(accept_loop(listener, status, Arc::new(ctx))),
        bound,
    ))
}

/// What the routes may use besides the status snapshot: the store, the agent's channels, the
/// API token. Everything is optional so one-shot tools and tests can serve a subset.
#[derive(Default)]
pub struct ApiContext {
    pub store: Option<StoreHandle>,
    /// Top-up requests (now, plan, resume) to the agent.
    pub control: Option<mpsc::Sender<Control>>,
    /// Modem work the owner asks for (USSD, SMS, raw AT, balance refresh, reload).
    pub ops: Option<mpsc::Sender<crate::agent::ops::OwnerOp>>,
    /// The API token writes need; `None` refuses every write.
    pub token: Option<String>,
    /// `http.allow_raw_at`: `POST /api/v1/at` is refused unless the owner turned it on.
    pub allow_raw_at: bool,
}

async fn accept_loop(
    listener: TcpListener,
    status: watch::Receiver<Status>,
    shared: Arc<ApiContext>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("http accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let mut s = stream;
            let _ = s
                .write_all(&response(
                    503,
                    "text/plain",
                    b"too many connections\n",
                    false,
                ))
                .await;
            continue;
        };
        let status = status.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = handle(stream, status, &shared).await;
            drop(permit);
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    status: watch::Receiver<Status>,
    shared: &ApiContext,
) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_DEADLINE, read_head(&mut stream)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => {
            return stream
                .write_all(&response(
                    431,
                    "text/plain",
                    b"request header too large\n",
                    false,
                ))
                .await
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return stream
                .write_all(&response(408, "text/plain", b"request timed out\n", false))
                .await
        }
    };
    let reply = match auth::parse_head(&head) {
        Some(h) if h.path.starts_with("/api/v1/topup") => {
            topup::serve(
                h,
                &mut stream,
                shared.store.as_ref(),
                shared.control.as_ref(),
                shared.token.as_deref(),
            )
            .await
        }
        Some(h) if reads::serves(h.path) => {
            // A clone, so no borrow of the watch channel is held across the store's answer.
            let snapshot = status.borrow().clone();
            reads::serve(
                &h,
                &snapshot,
                shared.store.as_ref(),
                shared.token.as_deref(),
            )
            .await
        }
        _ => match (history_request(&head), &shared.store) {
            (Some((kind, since)), Some(store)) => history(store, kind, since).await,
            _ => route(&head, &status.borrow()),
        },
    };
    stream.write_all(&reply).await?;
    stream.shutdown().await
}

/// Reads until the blank line that ends the head; `None` when it is larger than MAX_HEAD.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Some(buf));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

/// `GET /api/v1/history/{usage,signal}?since=<unix>`: (kind, since).
fn history_request(head: &[u8]) -> Option<(&'static str, i64)> {
    let line = std::str::from_utf8(head.split(|&b| b == b'\n').next()?).ok()?;
    let mut parts = line.split(' ');
    if parts.next()? != "GET" {
        return None;
    }
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let kind = match path {
        "/api/v1/history/usage" => "usage",
        "/api/v1/history/signal" => "signal",
        _ => return None,
    };
    let since = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    Some((kind, since))
}

async fn history(store: &StoreHandle, kind: &str, since: i64) -> Vec<u8> {
    let rows = match kind {
        "usage" => store.usage_since(since).await.map(|r| json::usage_json(&r)),
        _ => store
            .signal_since(since)
            .await
            .map(|r| json::signal_json(&r)),
    };
    match rows {
        Ok(v) => response(200, "application/json", format!("{v}\n").as_bytes(), false),
        Err(e) => {
            let body = serde_json::json!({ "error": e.to_string() }).to_string();
            response(500, "application/json", body.as_bytes(), false)
        }
    }
}

/// Pure: request head in, full response out.
pub fn route(head: &[u8], status: &Status) -> Vec<u8> {
    let Some(line) = head
        .split(|&b| b == b'\n')
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
    else {
        return response(400, "text/plain", b"malformed request line\n", false);
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return response(400, "text/plain", b"malformed request line\n", false);
    };
    if !version.starts_with("HTTP/1.") {
        return response(505, "text/plain", b"only HTTP/1.x is served\n", false);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return response(405, "text/plain", b"only GET and HEAD are allowed\n", false),
    };
    let path = target.split('?').next().unwrap_or("");
    match path {
        "/api/v1/status" => json(status, head_only),
        "/api/v1/usage" => match &status.usage {
            Some(u) => response(200, "application/json", u.to_string().as_bytes(), head_only),
            None => response(
                404,
                "application/json",
                b"{\"error\":\"usage is not configured ([usage] in the config)\"}\n",
                head_only,
            ),
        },
        "/metrics" => response(
            200,
            "text/plain; version=0.0.4",
            metrics::metrics(status).as_bytes(),
            head_only,
        ),
        "/api/v1/history/usage" | "/api/v1/history/signal" => response(
            503,
            "application/json",
            b"{\"error\":\"history needs the store\"}\n",
            head_only,
        ),
        "/" | "/index.html" => response(
            200,
            "text/html; charset=utf-8",
            page::page(status).as_bytes(),
            head_only,
        ),
        _ => response(
            404,
            "text/plain",
            b"not found: try /, /api/v1/status or /metrics\n",
            head_only,
        ),
    }
}

fn json(status: &Status, head_only: bool) -> Vec<u8> {
    match serde_json::to_vec(status) {
        Ok(mut body) => {
            body.push(b'\n');
            response(200, "application/json", &body, head_only)
        }
        Err(e) => response(
            500,
            "text/plain",
            format!("cannot encode status: {e}\n").as_bytes(),
            head_only,
        ),
    }
}

fn response(code: u16, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let reason = match code {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        401 => "Unauthorized",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n{}\r\n",
        body.len(),
        match code {
            405 => "Allow: GET, HEAD\r\n",
            401 => "WWW-Authenticate: Bearer\r\n",
            _ => "",
        }
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            version: "0.1.0",
            link: "connected".into(),
            ..Status::default()
        }
    }

    fn text(resp: Vec<u8>) -> String {
        String::from_utf8(resp).unwrap()
    }

    #[test]
    fn status_is_json_with_content_length() {
        let r = text(route(
            b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
            &status(),
        ));
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Type: application/json"));
        let body = r.split("\r\n\r\n").nth(1).unwrap();
        assert!(r.contains(&format!("Content-Length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["link"], "connected");
    }

    #[test]
    fn malformed_request_lines_get_400() {
        for bad in [
            &b"\xff\xfe\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"",
        ] {
            assert!(
                text(route(bad, &status())).starts_with("HTTP/1.1 400"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_get_and_head_are_allowed() {
        let r = text(route(b"POST /api/v1/status HTTP/1.1\r\n\r\n", &status()));
        assert!(
            r.starts_with("HTTP/1.1 405") && r.contains("Allow: GET, HEAD"),
            "{r}"
        );
        let h = text(route(b"HEAD / HTTP/1.1\r\n\r\n", &status()));
        assert!(
            h.starts_with("HTTP/1.1 200") && h.ends_with("\r\n\r\n"),
            "HEAD has no body: {h}"
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        assert!(
            text(route(b"GET /etc/passwd HTTP/1.1\r\n\r\n", &status())).starts_with("HTTP/1.1 404")
        );
    }

    #[test]
    fn page_escapes_modem_text() {
        let mut s = status();
        s.link_error = Some("<script>alert(1)</script>".into());
        let p = text(route(b"GET / HTTP/1.1\r\n\r\n", &s));
        assert!(!p.contains("<script>alert") && p.contains("&lt;script&gt;"));
    }
}
