//! Carrier HTTPS APIs (`[carrier_api.NAME]`): authenticated calls for balance reads and
//! top-up orders, with errors that say whether the carrier can have acted on the request.
//!
//! The split that matters to the top-up engine: [`ApiError::NotSent`] (nothing left this host:
//! DNS, connect, TLS, bad URL, token fetch failed — safe to retry or try the next flow),
//! [`ApiError::NoReply`] (the request was written and the answer did not come whole — it MAY
//! have charged: verify, never blindly retry), [`ApiError::RateLimited`] (429: not performed).
//! Every other HTTP status is returned for the caller to judge.
//!
//! It must not: follow a redirect to another host (the bearer token would go with it), follow
//! any redirect of a non-GET request, read more than 64 KiB of a reply, or let a secret or an
//! access token reach an error, a log line or a returned body (all pass through `redact`).

pub(crate) mod http;
mod json;
pub mod oauth;
pub(crate) mod tls;
mod url;
pub(crate) mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

pub use json::{decimal_to_bytes, json_number_path, json_path};
pub use oauth::TokenStyle;
pub use tls::SYSTEM_BUNDLE;
pub use url::Url;

use crate::secrets::Secrets;
use crate::template::{SimVars, Template, TemplateVars};
use wire::{check_header, form_encode, parse_retry_after, render_json, snippet};

/// Replies are cut here (a quota or order reply is well under 1 KiB).
pub const BODY_CAP: usize = 64 * 1024;
/// TCP connect + TLS handshake must finish within this (or the overall timeout, if shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Same-origin redirects followed for a GET.
const MAX_REDIRECTS: usize = 3;

/// One `[carrier_api.NAME]`, validated.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub name: String,
    /// An absolute `https://` URL without a query.
    pub base_url: String,
    pub auth: Auth,
    /// Trust only these CAs; `None`: the system bundle ([`SYSTEM_BUNDLE`]).
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer {
        token: Template,
    },
    Basic {
        username: Template,
        password: Template,
    },
    OAuth2 {
        /// Relative to `base_url`, or absolute.
        token_url: String,
        client_id: Template,
        client_secret: Template,
        style: TokenStyle,
    },
}

impl ApiConfig {
    /// The `${secret:NAME}` names its auth needs (for `check-config`).
    pub fn secret_names(&self) -> Vec<&str> {
        let templates: Vec<&Template> = match &self.auth {
            Auth::None => vec![],
            Auth::Bearer { token } => vec![token],
            Auth::Basic { username, password } => vec![username, password],
            Auth::OAuth2 {
                client_id,
                client_secret,
                ..
            } => vec![client_id, client_secret],
        };
        templates
            .into_iter()
            .flat_map(|t| t.secret_names())
            .collect()
    }
}

/// One request. Templates are rendered per call; URL values are percent-encoded.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    /// Relative to the API's `base_url`, or absolute on the same origin.
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub body: ApiBody,
    /// Overrides the API's `timeout` for this call.
    pub timeout: Option<Duration>,
}

impl ApiRequest {
    pub fn new(method: &str, url: Template) -> ApiRequest {
        ApiRequest {
            method: method.to_string(),
            url,
            headers: Vec::new(),
            body: ApiBody::None,
            timeout: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ApiBody {
    None,
    /// String leaves may hold templates.
    Json(Value),
    Form(Vec<(String, Template)>),
}

/// A reply with a status the caller judges (anything but 429, and 401 after one refresh).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub location: Option<String>,
    pub retry_after: Option<Duration>,
    /// At most [`BODY_CAP`] bytes, lossy UTF-8, secrets redacted.
    pub body: String,
    /// The reply was longer than [`BODY_CAP`].
    pub body_truncated: bool,
}

impl ApiResponse {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("carrier api {api}: request not sent: {cause}")]
    NotSent { api: String, cause: String },
    #[error("carrier api {api}: request sent but no complete reply (it may have been carried out): {cause}")]
    NoReply { api: String, cause: String },
    #[error("carrier api {api}: rate limited (HTTP 429){}", retry_text(.retry_after))]
    RateLimited {
        api: String,
        retry_after: Option<Duration>,
    },
    #[error("carrier api {api}: {cause}")]
    Config { api: String, cause: String },
    /// The carrier answered, but not with what was asked for (balance reads).
    #[error("carrier api {api}: HTTP {status}: {cause}")]
    BadReply {
        api: String,
        status: u16,
        cause: String,
    },
}

fn retry_text(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!("; retry after {}s", d.as_secs()),
        None => String::new(),
    }
}

impl ApiError {
    /// True only for [`ApiError::NoReply`]: the one outcome where the carrier may have acted.
    pub fn may_have_been_performed(&self) -> bool {
        matches!(self, ApiError::NoReply { .. })
    }
}

struct ApiState {
    cfg: ApiConfig,
    base: Result<Url, String>,
    tokens: oauth::TokenCache,
    tls: Mutex<Option<Arc<rustls::ClientConfig>>>,
    /// After a 429 with Retry-After: no call before this instant.
    blocked_until: Mutex<Option<Instant>>,
}

/// All configured APIs. Cheap to clone; clones share token caches and rate-limit state.
#[derive(Clone)]
pub struct CarrierApis {
    apis: Arc<BTreeMap<String, ApiState>>,
    secrets: Secrets,
}

impl std::fmt::Debug for CarrierApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarrierApis")
            .field("apis", &self.apis.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CarrierApis {
    pub fn new(configs: Vec<ApiConfig>, secrets: Secrets) -> CarrierApis {
        let apis = configs
            .into_iter()
            .map(|cfg| {
                let state = ApiState {
                    base: Url::parse(&cfg.base_url),
                    cfg,
                    tokens: oauth::TokenCache::default(),
                    tls: Mutex::new(None),
                    blocked_until: Mutex::new(None),
                };
                (state.cfg.name.clone(), state)
            })
            .collect();
        CarrierApis {
            apis: Arc::new(apis),
            secrets,
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.apis.keys().map(String::as_str)
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// `(api, secret name)` for every `${secret:NAME}` an API's auth needs that the secrets
    /// file lacks.
    pub fn missing_secrets(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, st) in self.apis.iter() {
            for s in st.cfg.secret_names() {
                if !self.secrets.contains(s) {
                    out.push((name.clone(), s.to_string()));
                }
            }
        }
        out
    }

    /// Sends `req` to API `api`. See the module doc for what each error means.
    pub async fn call(
        &self,
        api: &str,
        req: ApiRequest,
        vars: &SimVars,
    ) -> Result<ApiResponse, ApiError> {
        let st = self.apis.get(api).ok_or_else(|| ApiError::Config {
            api: api.to_string(),
            cause: format!(
                "no [carrier_api.{api}] in the config (known: {})",
                self.apis.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })?;
        self.check_gate(st)?;
        let tv = vars.with(&self.secrets);
        let prepared = self.prepare(st, &req, &tv)?;
        let timeout = req.timeout.unwrap_or(st.cfg.timeout);
        let mut refreshed = false;
        loop {
            let auth = self.auth_header(st, &tv, refreshed).await?;
            let resp = self
                .send(st, &prepared, auth.as_deref(), timeout, Body::Redacted)
                .await?;
            // 401 means the request was not performed; a cached token may have been revoked
            // early, so fetch a new one once and repeat.
            if resp.status == 401 && matches!(st.cfg.auth, Auth::OAuth2 { .. }) && !refreshed {
                tracing::info!(api, "carrier api answered 401; fetching a new token once");
                st.tokens.clear();
                refreshed = true;
                continue;
            }
            return self.finish(st, resp);
        }
    }

    /// Reads the remaining balance: GET `url`, the number at dot path `path`, times
    /// `unit_bytes`, rounded down and saturating.
    pub async fn read_remaining(
        &self,
        api: &str,
        url: &Template,
        path: &str,
        unit_bytes: u64,
        vars: &SimVars,
    ) -> Result<u64, ApiError> {
        let resp = self
            .call(api, ApiRequest::new("GET", url.clone()), vars)
            .await?;
        let bad = |cause: String| ApiError::BadReply {
            api: api.to_string(),
            status: resp.status,
            cause,
        };
        if !resp.is_success() {
            return Err(bad(format!("expected 200, reply: {}", snippet(&resp.body))));
        }
        let v = resp
            .json()
            .ok_or_else(|| bad(format!("reply is not JSON: {}", snippet(&resp.body))))?;
        let d = json_number_path(&v, path)
            .ok_or_else(|| bad(format!("no number at {path:?} in {}", snippet(&resp.body))))?;
        decimal_to_bytes(&d, unit_bytes).ok_or_else(|| bad(format!("{d:?} is not a number")))
    }

    fn check_gate(&self, st: &ApiState) -> Result<(), ApiError> {
        let mut gate = st.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = *gate {
            let now = Instant::now();
            if now < until {
                return Err(ApiError::RateLimited {
                    api: st.cfg.name.clone(),
                    retry_after: Some(until - now),
                });
            }
            *gate = None;
        }
        Ok(())
    }

    fn tls(&self, st: &ApiState) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut slot = st.tls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        // Built on first use and kept: parsing the system bundle costs ~10 ms on a router.
        // A failure is not kept, so fixing the file needs no restart.
        let c = tls::client_config(st.cfg.ca_file.as_deref())?;
        *slot = Some(c.clone());
        Ok(c)
    }

    fn prepare(
        &self,
        st: &ApiState,
        req: &ApiRequest,
        tv: &TemplateVars<'_>,
    ) -> Result<Prepared, ApiError> {
        let cfg_err = |cause: String| ApiError::Config {
            api: st.cfg.name.clone(),
            cause: self.secrets.redact(&cause),
        };
        let method = req.method.to_ascii_uppercase();
        if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(cfg_err(format!("{:?} is not an HTTP method", req.method)));
        }
        let base = st
            .base
            .as_ref()
            .map_err(|e| cfg_err(format!("base_url: {e}")))?;
        let rendered = req
            .url
            .render_url(tv)
            .map_err(|e| cfg_err(format!("url {}: {e}", req.url)))?;
        let url = base
            .join(&rendered)
            .map_err(|e| cfg_err(format!("url {}: {e}", req.url)))?;
        if !url.same_origin(base) {
            return Err(cfg_err(format!(
                "url {} points to another host than base_url; the API's credentials stay with its host",
                req.url
            )));
        }
        let mut headers = Vec::new();
        for (name, value) in &req.headers {
            let v = value
                .render(tv)
                .map_err(|e| cfg_err(format!("header {name}: {e}")))?;
            check_header(name, &v).map_err(cfg_err)?;
            headers.push((name.clone(), v));
        }
        let (body, content_type) = match &req.body {
            ApiBody::None => (Vec::new(), None),
            ApiBody::Json(v) => {
                let v = render_json(v, tv).map_err(|e| cfg_err(format!("json body: {e}")))?;
                (v.to_string().into_bytes(), Some("application/json"))
            }
            ApiBody::Form(fields) => {
                let mut pairs = Vec::new();
                for (k, t) in fields {
                    let v = t
                        .render(tv)
                        .map_err(|e| cfg_err(format!("form field {k}: {e}")))?;
                    pairs.push((k.clone(), v));
                }
                let refs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (
                    form_encode(&refs).into_bytes(),
                    Some("application/x-www-form-urlencoded"),
                )
            }
        };
        if let Some(ct) = content_type {
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), ct.into()));
            }
        }
        Ok(Prepared {
            method,
            url,
            headers,
            body,
        })
    }

    /// The `Authorization` value for this API, fetching an OAuth2 token when needed.
    async fn auth_header(
        &self,
        st: &ApiState,
        tv: &TemplateVars<'_>,
        force_new: bool,
    ) -> Result<Option<String>, ApiError> {
        let api = st.cfg.name.as_str();
        let not_sent = |cause: String| ApiError::NotSent {
            api: api.to_string(),
            cause: self.secrets.redact(&cause),
        };
        let render =
            |t: &Template, what: &str| t.render(tv).map_err(|e| not_sent(format!("{what}: {e}")));
        match &st.cfg.auth {
            Auth::None => Ok(None),
            Auth::Bearer { token } => {
                let t = render(token, "token")?;
                check_header("Authorization", &t).map_err(not_sent)?;
                Ok(Some(format!("Bearer {t}")))
            }
            Auth::Basic { username, password } => {
                let u = render(username, "username")?;
                let p = render(password, "password")?;
                Ok(Some(format!(
                    "Basic {}",
                    oauth::base64(format!("{u}:{p}").as_bytes())
                )))
            }
            Auth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                style,
            } => {
                if !force_new {
                    if let Some(t) = st.tokens.get(Instant::now()) {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                }
                let id = render(client_id, "client_id")?;
                let secret = render(client_secret, "client_secret")?;
                let token = self
                    .fetch_token(st, token_url, &id, &secret, *style)
                    .await?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    async fn fetch_token(
        &self,
        st: &ApiState,
        token_url: &str,
        id: &str,
        secret: &str,
        style: TokenStyle,
    ) -> Result<String, ApiError> {
        let api = st.cfg.name.as_str();
        // Whatever goes wrong here, the API request itself was never sent.
        let not_sent = |cause: String| ApiError::NotSent {
            api: api.to_string(),
            cause: self
                .secrets
                .redact(&format!("getting an access token: {cause}")),
        };
        let base = st
            .base
            .as_ref()
            .map_err(|e| not_sent(format!("base_url: {e}")))?;
        let url = base
            .join(token_url)
            .map_err(|e| not_sent(format!("token_url: {e}")))?;
        let (body, ct) = oauth::token_body(style, id, secret);
        let prepared = Prepared {
            method: "POST".into(),
            url,
            headers: vec![("Content-Type".into(), ct.into())],
            body,
        };
        let basic = format!(
            "Basic {}",
            oauth::base64(format!("{id}:{secret}").as_bytes())
        );
        // The reply is taken unredacted: it holds the new token, which a secret value that
        // happens to be a substring of it must not mangle. Only parsed here, never shown.
        let resp = match self
            .send(st, &prepared, Some(&basic), st.cfg.timeout, Body::Raw)
            .await
        {
            Ok(r) => r,
            Err(ApiError::NotSent { cause, .. } | ApiError::NoReply { cause, .. }) => {
                return Err(not_sent(cause))
            }
            Err(e) => return Err(e),
        };
        if resp.status == 429 {
            return Err(self.rate_limited(st, resp.retry_after));
        }
        if !(200..300).contains(&resp.status) {
            return Err(not_sent(format!(
                "token endpoint answered HTTP {}: {}",
                resp.status,
                snippet(&self.secrets.redact(&resp.body))
            )));
        }
        let (token, expires_in) =
            oauth::parse_token_reply(resp.body.as_bytes()).map_err(not_sent)?;
        // Registered before anything else can print it.
        self.secrets.add_dynamic(&token);
        st.tokens.put(token.clone(), expires_in, Instant::now());
        tracing::debug!(api, expires_in, "carrier api: new access token");
        Ok(token)
    }

    /// One request, following same-origin redirects of a GET. Bodies come back redacted.
    async fn send(
        &self,
        st: &ApiState,
        p: &Prepared,
        auth: Option<&str>,
        timeout: Duration,
        body_mode: Body,
    ) -> Result<ApiResponse, ApiError> {
        let api = st.cfg.name.as_str();
        let tls = self.tls(st).map_err(|cause| ApiError::NotSent {
            api: api.to_string(),
            cause,
        })?;
        let mut headers = p.headers.clone();
        if let Some(a) = auth {
            headers.push(("Authorization".into(), a.to_string()));
        }
        let deadline = Instant::now() + timeout;
        let mut url = p.url.clone();
        let mut hops = 0;
        loop {
            let started = Instant::now();
            let raw = http::exchange(http::Exchange {
                url: &url,
                method: &p.method,
                headers: &headers,
                body: &p.body,
                tls: Some(tls.clone()),
                connect_timeout: CONNECT_TIMEOUT,
                deadline,
                body_cap: BODY_CAP,
            })
            .await;
            let shown_url = self.secrets.redact(&url.to_string());
            let raw = match raw {
                Ok(r) => r,
                Err(f) => {
                    let (not_sent, cause) = match f {
                        http::Failure::NotSent(c) => (true, c),
                        http::Failure::NoReply(c) => (false, c),
                    };
                    let cause = self
                        .secrets
                        .redact(&format!("{} {shown_url}: {cause}", p.method));
                    tracing::warn!(api, %cause, not_sent, "carrier api call failed");
                    return Err(if not_sent {
                        ApiError::NotSent {
                            api: api.into(),
                            cause,
                        }
                    } else {
                        ApiError::NoReply {
                            api: api.into(),
                            cause,
                        }
                    });
                }
            };
            tracing::debug!(
                api,
                method = %p.method,
                url = %shown_url,
                status = raw.status,
                ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "carrier api call"
            );
            let location = raw.header("location").map(str::to_string);
            if (300..400).contains(&raw.status) && p.method == "GET" && hops < MAX_REDIRECTS {
                if let Some(next) = location.as_deref().and_then(|l| url.location(l)) {
                    if next.same_origin(&url) {
                        url = next;
                        hops += 1;
                        continue;
                    }
                    tracing::warn!(
                        api,
                        status = raw.status,
                        "carrier api redirects to another host; not followed"
                    );
                }
            }
            return Ok(ApiResponse {
                status: raw.status,
                location: location.map(|l| self.secrets.redact(&l)),
                retry_after: raw.header("retry-after").and_then(parse_retry_after),
                body: match body_mode {
                    Body::Redacted => self.secrets.redact(&String::from_utf8_lossy(&raw.body)),
                    Body::Raw => String::from_utf8_lossy(&raw.body).into_owned(),
                },
                body_truncated: raw.truncated,
            });
        }
    }

    fn finish(&self, st: &ApiState, resp: ApiResponse) -> Result<ApiResponse, ApiError> {
        if resp.status == 429 {
            return Err(self.rate_limited(st, resp.retry_after));
        }
        Ok(resp)
    }

    fn rate_limited(&self, st: &ApiState, retry_after: Option<Duration>) -> ApiError {
        if let Some(d) = retry_after {
            let mut gate = st.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
            *gate = Some(Instant::now() + d);
        }
        tracing::warn!(api = %st.cfg.name, retry_after = ?retry_after, "carrier api rate limited (429)");
        ApiError::RateLimited {
            api: st.cfg.name.clone(),
            retry_after,
        }
    }
}

/// Whether `send` redacts the reply body (always, except for the token reply it parses).
#[derive(Clone, Copy)]
enum Body {
    Redacted,
    Raw,
}

struct Prepared {
    method: String,
    url: Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}
