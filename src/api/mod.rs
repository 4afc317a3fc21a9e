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
pub mod json;
pub mod params;
pub mod reads;
pub mod topup;

use std::fmt::Write as _;
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
    store: Option<StoreHandle>,
    control: Option<mpsc::Sender<Control>>,
    token: Option<String>,
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
    let shared = Arc::new(Shared {
        store,
        control,
        token,
    });
    Ok((tokio::spawn(accept_loop(listener, status, shared)), bound))
}

/// What every connection may use besides the status snapshot.
struct Shared {
    store: Option<StoreHandle>,
    control: Option<mpsc::Sender<Control>>,
    /// The API token writes need; `None` refuses every write.
    token: Option<String>,
}

async fn accept_loop(listener: TcpListener, status: watch::Receiver<Status>, shared: Arc<Shared>) {
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
    shared: &Shared,
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
            metrics(status).as_bytes(),
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
            page(status).as_bytes(),
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

/// Prometheus text exposition format 0.0.4; absent values are left out, never made up.
pub fn metrics(s: &Status) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: Option<f64>| {
        if let Some(v) = v {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    };
    gauge(
        "simkeep_up",
        "1 while the modem answers",
        Some(if s.link == "connected" { 1.0 } else { 0.0 }),
    );
    if let Some(p) = &s.last_poll {
        let sig = &p.signal;
        gauge("simkeep_signal_rssi_dbm", "RSSI in dBm", sig.rssi_dbm);
        gauge("simkeep_signal_rsrp_dbm", "RSRP in dBm", sig.rsrp_dbm);
        gauge("simkeep_signal_rsrq_db", "RSRQ in dB", sig.rsrq_db);
        gauge("simkeep_signal_sinr_db", "SINR in dB", sig.sinr_db);
        gauge(
            "simkeep_signal_quality_percent",
            "signal quality 0-100",
            sig.quality_pct.map(f64::from),
        );
        gauge(
            "simkeep_signal_band",
            "LTE/NR band number",
            sig.band.map(f64::from),
        );
        if let Some(nr) = &sig.nr {
            gauge(
                "simkeep_signal_nr_rsrp_dbm",
                "NR leg RSRP in dBm",
                nr.rsrp_dbm,
            );
            gauge("simkeep_signal_nr_sinr_db", "NR leg SINR in dB", nr.sinr_db);
        }
        gauge(
            "simkeep_registered",
            "1 when registered (home or roaming)",
            p.registration
                .state
                .map(|r| if r.is_registered() { 1.0 } else { 0.0 }),
        );
        gauge(
            "simkeep_last_poll_timestamp_seconds",
            "unix time of the last successful poll",
            Some(p.taken_at as f64),
        );
    }
    if let Some(u) = &s.usage {
        for key in ["used_bytes", "quota_bytes", "remaining_bytes"] {
            let name = format!("simkeep_data_{key}");
            gauge(
                &name,
                "data in the current billing cycle",
                u.get(key).and_then(|v| v.as_f64()),
            );
        }
    }
    if let Some(t) = &s.topup {
        topup_metrics(&mut out, t);
    }
    out
}

/// Top-up gauges and the attempts counter.
fn topup_metrics(out: &mut String, t: &crate::agent::topup::TopupStatus) {
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let flag = |b: bool| vec![(String::new(), f64::from(u8::from(b)))];
    metric(
        "simkeep_topup_enabled",
        "gauge",
        "1 when automatic top-ups are enabled",
        &flag(t.enabled),
    );
    metric(
        "simkeep_topup_paused",
        "gauge",
        "1 while automatic top-ups are paused by an unconfirmed attempt",
        &flag(t.paused),
    );
    if let Ok(spent) = t.spent_this_cycle.parse::<f64>() {
        metric(
            "simkeep_topup_spent_this_cycle",
            "gauge",
            "money spent on top-ups in this billing cycle",
            &[(format!("{{currency=\"{}\"}}", label(&t.currency)), spent)],
        );
    }
    if !t.attempts_by_state.is_empty() {
        let samples: Vec<(String, f64)> = t
            .attempts_by_state
            .iter()
            .map(|(state, n)| (format!("{{state=\"{}\"}}", label(state)), f64::from(*n)))
            .collect();
        metric(
            "simkeep_topup_attempts_total",
            "counter",
            "top-up attempts by how they ended",
            &samples,
        );
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn opt<T: std::fmt::Display>(v: &Option<T>, unit: &str) -> String {
    match v {
        Some(v) => esc(&format!("{v}{unit}")),
        None => "–".into(),
    }
}

/// A page that reads well on a phone, refreshes itself and needs no JavaScript.
fn page(s: &Status) -> String {
    let mut rows = String::new();
    let mut row = |k: &str, v: String| {
        let _ = write!(rows, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row("Modem link", esc(&s.link));
    if let Some(e) = &s.link_error {
        row("Problem", esc(e));
    }
    for a in &s.attention {
        row("Needs attention", esc(a));
    }
    if let Some(p) = &s.last_poll {
        row(
            "Modem",
            format!(
                "{} {}",
                opt(&p.modem.manufacturer, ""),
                opt(&p.modem.model, "")
            ),
        );
        row(
            "SIM",
            format!(
                "{} {}",
                opt(&p.sim.state.map(|x| format!("{x:?}")), ""),
                opt(&p.sim.iccid, "")
            ),
        );
        row(
            "Network",
            format!(
                "{} {} {}",
                opt(&p.registration.operator, ""),
                opt(&p.registration.tech.map(|t| format!("{t:?}")), ""),
                opt(&p.registration.state.map(|x| format!("{x:?}")), "")
            ),
        );
        let sig = &p.signal;
        row(
            "Signal",
            format!(
                "{} · RSRP {} · RSRQ {} · SINR {} · band {}",
                opt(&sig.quality_pct, " %"),
                opt(&sig.rsrp_dbm, " dBm"),
                opt(&sig.rsrq_db, " dB"),
                opt(&sig.sinr_db, " dB"),
                opt(&sig.band, "")
            ),
        );
        if let Some(nr) = &sig.nr {
            row(
                "5G leg",
                format!(
                    "RSRP {} · SINR {} · band n{}",
                    opt(&nr.rsrp_dbm, " dBm"),
                    opt(&nr.sinr_db, " dB"),
                    opt(&nr.band, "")
                ),
            );
        }
    }
    if let Some(u) = &s.usage {
        let gb = |k: &str| {
            u.get(k)
                .and_then(|v| v.as_f64())
                .map(|b| format!("{:.2} GB", b / 1e9))
                .unwrap_or_else(|| "–".into())
        };
        row(
            "Data left",
            format!("{} of {}", gb("remaining_bytes"), gb("quota_bytes")),
        );
    }
    format!(
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
<meta http-equiv=refresh content=30><title>simkeep</title><style>body{{font:16px system-ui,sans-serif;margin:1em;max-width:40em}}\
th{{text-align:left;padding-right:1em;vertical-align:top}}td,th{{padding:.2em}}</style></head><body><h1>simkeep</h1>\
<table>{rows}</table><p><a href=/api/v1/status>JSON</a> · <a href=/metrics>metrics</a> · v{}</p></body></html>\n",
        s.version
    )
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
    fn top_up_metrics_carry_spend_by_currency_and_attempts_by_state() {
        let mut s = status();
        let mut t = crate::agent::topup::TopupStatus {
            enabled: true,
            spent_this_cycle: "10.50".into(),
            currency: "EUR".into(),
            ..Default::default()
        };
        t.attempts_by_state.insert("succeeded".into(), 2);
        t.attempts_by_state.insert("unknown".into(), 1);
        s.topup = Some(t);
        let m = metrics(&s);
        for line in [
            "simkeep_topup_enabled 1",
            "simkeep_topup_paused 0",
            "simkeep_topup_spent_this_cycle{currency=\"EUR\"} 10.5",
            "# TYPE simkeep_topup_attempts_total counter",
            "simkeep_topup_attempts_total{state=\"succeeded\"} 2",
            "simkeep_topup_attempts_total{state=\"unknown\"} 1",
        ] {
            assert!(m.lines().any(|l| l == line), "{line} missing in:\n{m}");
        }
    }

    #[test]
    fn metrics_leave_out_unknown_values() {
        let m = metrics(&status());
        assert!(m.contains("simkeep_up 1"));
        assert!(
            !m.contains("rsrp"),
            "no poll yet, so no signal figures: {m}"
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
