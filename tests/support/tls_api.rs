//! A 1NCE-like carrier API over real TLS on 127.0.0.1, with a CA and a leaf certificate made
//! at test time (rcgen), for tests of the HTTPS client and of API top-up flows.
//!
//! Endpoints (1NCE Management API shapes, carriers.md §1.1):
//! - `POST /oauth/token` — HTTP Basic client_id:client_secret (or form fields), body
//!   `{"grant_type":"client_credentials"}` or the form equivalent → `access_token`, `expires_in`.
//! - `GET /v1/sims/{iccid}/quota/data` → `{"volume": <MB>, "total_volume": ...}`.
//! - `POST /v1/sims/{iccid}/topup` → `201` + `Location: .../v1/orders/N`; counts a charge and
//!   credits `adds_mb` after `credit_delay`.
//! - `GET /v1/echo` → the request's headers and target as JSON (to prove redaction).
//!
//! Faults per endpoint: declined (422 + JSON message), 500, 429 + Retry-After, slow (charges,
//! then sleeps before answering), charged-but-no-reply (charges, then drops the connection),
//! truncated reply, 401, a redirect, an oversized body. It runs on its own thread and runtime,
//! so a test may drive it from sync code, another runtime, or another process.
//!
//! It must not: be used outside tests (its "CA" key lives in a temp dir).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub const ICCID: &str = "8988280666000000001";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Token,
    Quota,
    Topup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 422 with 1NCE's "expired SIM" message; nothing charged.
    Declined,
    /// 500; nothing charged.
    ServerError,
    /// 429 with `Retry-After: secs`; nothing charged.
    RateLimited { retry_after_secs: u64 },
    /// Charges (top-up), then waits this long before answering.
    Slow(Duration),
    /// Charges (top-up), then closes the connection without a byte.
    ChargedNoReply,
    /// Charges (top-up), then sends a head promising more body than it sends.
    Truncated,
    /// 401 every time (a revoked client).
    Unauthorized,
    /// 302 to this location.
    Redirect(String),
    /// 200 with a JSON body of about this many bytes.
    BigBody(usize),
}

#[derive(Debug, Clone)]
pub struct TlsApiOptions {
    pub client_id: String,
    pub client_secret: String,
    /// `expires_in` of issued tokens.
    pub token_ttl_secs: u64,
    /// Accepted as `Authorization: Bearer` besides issued tokens (for `auth = "bearer"`).
    pub static_token: Option<String>,
    /// SIMs and their starting volume in micro-MB (435.787951 MB = 435_787_951).
    pub sims: Vec<(String, u64)>,
    pub total_volume_mb: u64,
    /// MB a top-up adds, and after how long.
    pub adds_mb: u64,
    pub credit_delay: Duration,
}

impl Default for TlsApiOptions {
    fn default() -> Self {
        TlsApiOptions {
            client_id: "simkeep-client".into(),
            client_secret: "s3cr3t-Cl13nt-Pa55".into(),
            token_ttl_secs: 3600,
            static_token: None,
            sims: vec![(ICCID.into(), 435_787_951)],
            total_volume_mb: 500,
            adds_mb: 500,
            credit_delay: Duration::from_millis(200),
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub target: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct State {
    opts: Option<TlsApiOptions>,
    log: Vec<Logged>,
    faults: BTreeMap<Endpoint, Fault>,
    tokens: BTreeSet<String>,
    issued: u64,
    charges: u64,
    volumes: BTreeMap<String, u64>,
    pending: Vec<(Instant, String, u64)>,
}

impl State {
    fn opts(&self) -> &TlsApiOptions {
        self.opts.as_ref().expect("options set at start")
    }

    fn apply_credits(&mut self) {
        let now = Instant::now();
        let due: Vec<_> = self
            .pending
            .iter()
            .filter(|p| p.0 <= now)
            .cloned()
            .collect();
        self.pending.retain(|p| p.0 > now);
        for (_, iccid, micro) in due {
            let v = self.volumes.entry(iccid).or_insert(0);
            *v = v.saturating_add(micro);
        }
    }
}

pub struct TlsApi {
    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    pub port: u16,
    /// PEM of the test CA that signed the server's certificate.
    pub ca_pem_path: PathBuf,
    /// PEM of another CA that did not (a "wrong CA" for tests).
    pub other_ca_pem_path: PathBuf,
    pub dir: tempfile::TempDir,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TlsApi {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn make_ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().expect("ca key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    (p.self_signed(&key).expect("ca cert"), key)
}

impl TlsApi {
    pub fn start(opts: TlsApiOptions) -> TlsApi {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, ca_key) = make_ca("simkeep test CA");
        let (other, _) = make_ca("some other CA");
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("leaf params")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf cert");
        let ca_pem_path = dir.path().join("ca.pem");
        std::fs::write(&ca_pem_path, ca.pem()).expect("write ca");
        let other_ca_pem_path = dir.path().join("other-ca.pem");
        std::fs::write(&other_ca_pem_path, other.pem()).expect("write other ca");

        let server_cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("tls versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server cert");
        let acceptor = TlsAcceptor::from(Arc::new(server_cfg));

        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let port = std_listener.local_addr().expect("addr").port();
        let mut st = State {
            volumes: opts.sims.iter().cloned().collect(),
            opts: Some(opts),
            ..State::default()
        };
        st.log.reserve(64);
        let state = Arc::new(Mutex::new(st));
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st2 = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => {
                            let Ok((tcp, _)) = accepted else { continue };
                            let acceptor = acceptor.clone();
                            let st = st2.clone();
                            tokio::spawn(async move {
                                if let Ok(tls) = acceptor.accept(tcp).await {
                                    serve(tls, st, port).await;
                                }
                            });
                        }
                    }
                }
            });
        });
        TlsApi {
            url: format!("https://127.0.0.1:{port}"),
            port,
            ca_pem_path,
            other_ca_pem_path,
            dir,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Top-ups the carrier carried out (and billed).
    pub fn charges(&self) -> u64 {
        self.st().charges
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.st().log.clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.st()
            .log
            .iter()
            .filter(|l| l.method == method && l.target.starts_with(prefix))
            .count()
    }

    pub fn token_requests(&self) -> usize {
        self.count("POST", "/oauth/token")
    }

    pub fn set_fault(&self, at: Endpoint, fault: Fault) {
        self.st().faults.insert(at, fault);
    }

    pub fn clear_fault(&self, at: Endpoint) {
        self.st().faults.remove(&at);
    }

    /// Every issued token stops working (the next call gets 401).
    pub fn expire_tokens(&self) {
        self.st().tokens.clear();
    }

    /// The SIM's volume in micro-MB, after applying due credits.
    pub fn volume_micro_mb(&self, iccid: &str) -> Option<u64> {
        let mut st = self.st();
        st.apply_credits();
        st.volumes.get(iccid).copied()
    }

    pub fn set_volume_micro_mb(&self, iccid: &str, micro: u64) {
        self.st().volumes.insert(iccid.to_string(), micro);
    }
}

/// `435787951` micro-MB → `435.787951`, as a JSON number's text.
fn mb_text(micro: u64) -> String {
    let s = format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn json(status: u16, body: String) -> Reply {
    Reply {
        status,
        headers: vec![],
        body,
    }
}

enum Action {
    Answer(Reply),
    /// Close without answering.
    Drop,
    /// A head promising more body than follows.
    Truncate,
    /// Sleep, then answer.
    Later(Duration, Reply),
}

async fn serve<S>(mut tls: S, state: Arc<Mutex<State>>, port: u16)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(req) = read_request(&mut tls).await else {
        return;
    };
    let action = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.log.push(req.clone());
        route(&mut st, &req, port)
    };
    match action {
        Action::Drop => {}
        Action::Truncate => {
            let _ = tls
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{\"mess")
                .await;
            let _ = tls.flush().await;
        }
        Action::Answer(r) => write_reply(&mut tls, r).await,
        Action::Later(d, r) => {
            tokio::time::sleep(d).await;
            write_reply(&mut tls, r).await;
        }
    }
    let _ = tls.shutdown().await;
}

async fn write_reply<S: tokio::io::AsyncWrite + Unpin>(tls: &mut S, r: Reply) {
    let reason = match r.status {
        200 => "OK",
        201 => "Created",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.body.len()
    );
    for (n, v) in &r.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = tls.write_all(head.as_bytes()).await;
    let _ = tls.write_all(r.body.as_bytes()).await;
    let _ = tls.flush().await;
}

async fn read_request<S: tokio::io::AsyncRead + Unpin>(tls: &mut S) -> Option<Logged> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = tls.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut hdrs = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut hdrs);
    req.parse(&buf[..head_end]).ok()?;
    let method = req.method?.to_string();
    let target = req.path?.to_string();
    let headers: BTreeMap<String, String> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
        .min(64 * 1024);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = tls.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Logged {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn form_field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn route(st: &mut State, req: &Logged, port: u16) -> Action {
    let path = req.target.split('?').next().unwrap_or("");
    let auth = req
        .headers
        .get("authorization")
        .cloned()
        .unwrap_or_default();
    if req.method == "POST" && path == "/oauth/token" {
        if let Some(a) = fault_action(st, Endpoint::Token) {
            return a;
        }
        let o = st.opts().clone();
        let basic = format!(
            "Basic {}",
            simkeep::carrier_api::oauth::base64(
                format!("{}:{}", o.client_id, o.client_secret).as_bytes()
            )
        );
        let by_form = form_field(&req.body, "client_id") == Some(o.client_id.as_str())
            && form_field(&req.body, "client_secret") == Some(o.client_secret.as_str());
        let grant = req.body.contains("\"grant_type\":\"client_credentials\"")
            || form_field(&req.body, "grant_type") == Some("client_credentials");
        if !(auth == basic || by_form) || !grant {
            return Action::Answer(json(
                400,
                r#"{"statusCode":400,"errorCode":"BadCredentials","message":"User does not exist."}"#
                    .into(),
            ));
        }
        st.issued += 1;
        let token = format!("tok-{}-{:08x}", st.issued, port as u64 * 7919 + st.issued);
        st.tokens.insert(token.clone());
        return Action::Answer(json(
            200,
            format!(
                r#"{{"status_code": 200, "access_token": "{token}", "token_type": "bearer", "expires_in": {}, "user_id": "user", "score": "all"}}"#,
                o.token_ttl_secs
            ),
        ));
    }
    let bearer = auth.strip_prefix("Bearer ").unwrap_or("");
    let authorized = st.tokens.contains(bearer)
        || (st.opts().static_token.as_deref() == Some(bearer) && !bearer.is_empty());
    if !authorized {
        return Action::Answer(json(401, r#"{"message":"Unauthorized"}"#.into()));
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["v1", "echo"]) => Action::Answer(json(
            200,
            serde_json::json!({"target": req.target, "headers": req.headers}).to_string(),
        )),
        ("GET", ["v1", "sims", iccid, "quota", "data"]) => {
            if let Some(a) = fault_action(st, Endpoint::Quota) {
                return a;
            }
            st.apply_credits();
            match st.volumes.get(*iccid) {
                Some(v) => Action::Answer(json(
                    200,
                    format!(
                        r#"{{"volume": {}, "total_volume": {}, "expiry_date": "2029-01-01T00:00:00.000Z", "peak_throughput": 1000000, "last_volume_added": {}, "threshold_percentage": 20}}"#,
                        mb_text(*v),
                        st.opts().total_volume_mb,
                        st.opts().adds_mb
                    ),
                )),
                None => Action::Answer(json(404, r#"{"message":"SIM not found."}"#.into())),
            }
        }
        ("POST", ["v1", "sims", iccid, "topup"]) => {
            if !st.volumes.contains_key(*iccid) {
                return Action::Answer(json(404, r#"{"message":"SIM not found."}"#.into()));
            }
            if let Some(a) = fault_action(st, Endpoint::Topup) {
                if matches!(a, Action::Drop | Action::Truncate | Action::Later(..)) {
                    charge(st, iccid);
                }
                return a;
            }
            let order = charge(st, iccid);
            Action::Answer(Reply {
                status: 201,
                headers: vec![(
                    "Location".into(),
                    format!("https://127.0.0.1:{port}/v1/orders/{order}"),
                )],
                body: r#"{"message":"Order created successfully."}"#.into(),
            })
        }
        ("GET", ["v1", "orders", n]) => Action::Answer(json(
            200,
            format!(r#"{{"id": {n}, "status": "COMPLETED"}}"#),
        )),
        _ => Action::Answer(json(
            404,
            serde_json::json!({"message": format!("no route for {} {}", req.method, req.target)})
                .to_string(),
        )),
    }
}

/// Counts a charge and schedules the credit; returns the order number.
fn charge(st: &mut State, iccid: &str) -> u64 {
    st.charges += 1;
    let o = st.opts().clone();
    st.pending.push((
        Instant::now() + o.credit_delay,
        iccid.to_string(),
        o.adds_mb.saturating_mul(1_000_000),
    ));
    st.charges
}

fn fault_action(st: &State, at: Endpoint) -> Option<Action> {
    let f = st.faults.get(&at)?;
    Some(match f {
        Fault::Declined => Action::Answer(json(
            422,
            r#"{"message":"The following SIMs are expired and cannot be modified via API. Only extensions are permitted"}"#.into(),
        )),
        Fault::ServerError => Action::Answer(json(500, r#"{"message":"Internal server error"}"#.into())),
        Fault::RateLimited { retry_after_secs } => Action::Answer(Reply {
            status: 429,
            headers: vec![("Retry-After".into(), retry_after_secs.to_string())],
            body: r#"{"message":"Too Many Attempts."}"#.into(),
        }),
        Fault::Slow(d) => Action::Later(
            *d,
            json(201, r#"{"message":"Order created successfully."}"#.into()),
        ),
        Fault::ChargedNoReply => Action::Drop,
        Fault::Truncated => Action::Truncate,
        Fault::Unauthorized => Action::Answer(json(401, r#"{"message":"Unauthorized"}"#.into())),
        Fault::Redirect(to) => Action::Answer(Reply {
            status: 302,
            headers: vec![("Location".into(), to.clone())],
            body: String::new(),
        }),
        Fault::BigBody(n) => Action::Answer(json(
            200,
            format!(r#"{{"volume": 1, "padding": "{}"}}"#, "x".repeat(*n)),
        )),
    })
}
