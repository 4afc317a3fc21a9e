//! The local status port: `GET /api/v1/status` (JSON), `GET /metrics` (Prometheus text),
//! `GET /` (a small page for a browser), the read endpoints in `reads` (signal, SMS, USSD,
//! events, `/healthz`) and the top-up endpoints in `topup`.
//!
//! A small HTTP/1.1 server on tokio's TcpListener (`server`: httparse, keep-alive, caps and
//! deadlines, room for the owner when clients misbehave) instead of hyper: it saves the flash a
//! general HTTP stack would cost. Reads come from the status snapshot or the store; modem work
//! goes to the agent over bounded channels, so a slow or malicious client never stalls the
//! modem or the poller. Long answers (history) are streamed in pages (`history`).

pub mod auth;
pub mod client;
mod history;
pub mod http;
pub mod json;
pub mod metrics;
pub mod page;
pub mod params;
pub mod reads;
pub mod server;
pub mod topup;
pub mod writes;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::agent::status::Status;
use crate::agent::topup::Control;
use crate::error::{AppError, ExitKind};
use crate::store::StoreHandle;
pub use http::{Reply, Request};

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
        tokio::spawn(server::accept_loop(listener, status, Arc::new(ctx))),
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
    /// The plan's time zone (`[usage] timezone`): where daily history's days begin.
    pub timezone: Option<crate::usage::tz::TimeZone>,
}

/// What a route answers: a whole reply, or rows the server streams from the store.
pub enum Response {
    Reply(Reply),
    Stream(history::RowStream),
}

impl From<Reply> for Response {
    fn from(r: Reply) -> Self {
        Response::Reply(r)
    }
}

/// Every route of the API. The request has passed the server's limits already.
pub async fn route(req: &Request, status: &watch::Receiver<Status>, ctx: &ApiContext) -> Response {
    let path = req.path.as_str();
    if path.starts_with("/api/v1/topup") {
        return topup::serve(
            req,
            ctx.store.as_ref(),
            ctx.control.as_ref(),
            ctx.token.as_deref(),
        )
        .await
        .into();
    }
    if path.starts_with("/api/v1/history/") {
        return history::serve(req, ctx.store.as_ref(), ctx.timezone.as_ref()).await;
    }
    if writes::serves(req) {
        return writes::serve(req, ctx).await.into();
    }
    if reads::serves(path) {
        // A clone, so no borrow of the watch channel is held across the store's answer.
        let snapshot = status.borrow().clone();
        return reads::serve(req, &snapshot, ctx.store.as_ref(), ctx.token.as_deref())
            .await
            .into();
    }
    snapshot_route(req, &status.borrow()).into()
}

/// Pure: the answers made from the status snapshot alone.
pub fn snapshot_route(req: &Request, status: &Status) -> Reply {
    let known = matches!(
        req.path.as_str(),
        "/api/v1/status" | "/api/v1/usage" | "/metrics" | "/" | "/index.html"
    );
    if !known {
        return Reply::error(
            404,
            "not found",
            "no such endpoint; try /, /api/v1/status, /api/v1/usage or /metrics",
        );
    }
    let head_only = match req.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => return Reply::method_not_allowed("Allow: GET, HEAD\r\n"),
    };
    let reply = match req.path.as_str() {
        "/api/v1/status" => match serde_json::to_value(status) {
            Ok(v) => Reply::json(200, &v),
            Err(e) => Reply::error(500, "cannot encode status", &e.to_string()),
        },
        "/api/v1/usage" => match &status.usage {
            Some(u) => Reply::json(200, u),
            None => Reply::error(
                404,
                "usage is not configured",
                "add a [usage] section to the config",
            ),
        },
        "/metrics" => Reply::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::metrics(status).into_bytes(),
        ),
        _ => Reply::new(
            200,
            "text/html; charset=utf-8",
            page::page(status).into_bytes(),
        ),
    };
    reply.for_head(head_only)
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

    /// The reply to a raw request, as the server would write it.
    fn text(raw: &[u8], s: &Status) -> String {
        let req = match server::parse(raw) {
            server::Parsed::Complete { req, .. } => req,
            server::Parsed::Refuse(r) => {
                return String::from_utf8(server::encode_head(&r, r.body.len(), false)).unwrap()
                    + &String::from_utf8(r.body).unwrap()
            }
            server::Parsed::Partial => panic!("partial"),
        };
        let r = snapshot_route(&req, s);
        let mut out = server::encode_head(&r, r.body.len(), false);
        if !r.head_only {
            out.extend_from_slice(&r.body);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_is_json_with_content_length() {
        let r = text(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n", &status());
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
        ] {
            assert!(text(bad, &status()).starts_with("HTTP/1.1 400"), "{bad:?}");
        }
    }

    #[test]
    fn only_get_and_head_are_allowed() {
        let r = text(b"POST /api/v1/status HTTP/1.1\r\n\r\n", &status());
        assert!(
            r.starts_with("HTTP/1.1 405") && r.contains("Allow: GET, HEAD"),
            "{r}"
        );
        let h = text(b"HEAD / HTTP/1.1\r\n\r\n", &status());
        assert!(
            h.starts_with("HTTP/1.1 200") && h.ends_with("\r\n\r\n"),
            "HEAD has no body: {h}"
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        assert!(text(b"GET /etc/passwd HTTP/1.1\r\n\r\n", &status()).starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn page_escapes_modem_text() {
        let mut s = status();
        s.link_error = Some("<script>alert(1)</script>".into());
        let p = text(b"GET / HTTP/1.1\r\n\r\n", &s);
        assert!(!p.contains("<script>alert") && p.contains("&lt;script&gt;"));
    }
}
