//! The carrier API client against a real TLS server on loopback (tests/support/tls_api.rs):
//! OAuth2 caching and refresh, 429, the NotSent / NoReply line, CA checks, redirects, the body
//! cap and redaction.

#[path = "support/tls_api.rs"]
mod tls_api;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use simkeep::carrier_api::{
    ApiBody, ApiConfig, ApiError, ApiRequest, Auth, CarrierApis, TokenStyle, BODY_CAP,
};
use simkeep::secrets::Secrets;
use simkeep::template::{SimVars, Template};
use tls_api::{Endpoint, Fault, TlsApi, TlsApiOptions, ICCID};

const MB: u64 = 1_000_000;

fn t(s: &str) -> Template {
    Template::parse(s).expect("template")
}

fn secrets(o: &TlsApiOptions) -> Secrets {
    Secrets::from_pairs([
        ("client_id", o.client_id.as_str()),
        ("client_secret", o.client_secret.as_str()),
        ("api_key", "k3y-in-the-url"),
    ])
}

fn oauth_config(server: &TlsApi, style: TokenStyle) -> ApiConfig {
    ApiConfig {
        name: "main".into(),
        base_url: server.url.clone(),
        auth: Auth::OAuth2 {
            token_url: "/oauth/token".into(),
            client_id: t("${secret:client_id}"),
            client_secret: t("${secret:client_secret}"),
            style,
        },
        ca_file: Some(server.ca_pem_path.clone()),
        timeout: Duration::from_secs(5),
    }
}

fn rig(style: TokenStyle) -> (TlsApi, CarrierApis) {
    rig_with(TlsApiOptions::default(), style)
}

fn rig_with(opts: TlsApiOptions, style: TokenStyle) -> (TlsApi, CarrierApis) {
    let s = secrets(&opts);
    let server = TlsApi::start(opts);
    let apis = CarrierApis::new(vec![oauth_config(&server, style)], s);
    (server, apis)
}

fn sim() -> SimVars {
    SimVars {
        iccid: Some(ICCID.into()),
        ..SimVars::default()
    }
}

fn quota_url() -> Template {
    t("/v1/sims/${sim.iccid}/quota/data")
}

fn topup() -> ApiRequest {
    ApiRequest::new(
        "POST",
        t("/v1/sims/${sim.iccid}/topup?payment_method=creditcard"),
    )
}

/// No secret value (nor the issued tokens) in `text`.
fn assert_clean(text: &str, server: &TlsApi) {
    let o = TlsApiOptions::default();
    for s in [
        o.client_secret.as_str(),
        o.client_id.as_str(),
        "k3y-in-the-url",
    ] {
        assert!(!text.contains(s), "secret {s:?} leaked: {text}");
    }
    for l in server.requests() {
        if let Some(tok) = l
            .headers
            .get("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
        {
            assert!(!text.contains(tok), "token leaked: {text}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_1nce_quota_is_read_in_bytes_with_one_cached_token() {
    let (server, apis) = rig(TokenStyle::Json);
    for _ in 0..3 {
        let bytes = apis
            .read_remaining("main", &quota_url(), "volume", MB, &sim())
            .await
            .expect("quota");
        assert_eq!(bytes, 435_787_951);
    }
    assert_eq!(server.token_requests(), 1, "the token is cached");
    assert_eq!(server.count("GET", "/v1/sims/"), 3);
    let token_req = &server.requests()[0];
    assert_eq!(token_req.body, r#"{"grant_type":"client_credentials"}"#);
    assert!(token_req.headers["authorization"].starts_with("Basic "));
    for l in server.requests() {
        assert!(
            !l.target.contains("s3cr3t"),
            "no secret in a URL: {}",
            l.target
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_form_token_style_sends_grant_and_credentials_as_fields() {
    let (server, apis) = rig(TokenStyle::Form);
    apis.read_remaining("main", &quota_url(), "volume", MB, &sim())
        .await
        .expect("quota");
    let body = &server.requests()[0].body;
    assert!(
        body.starts_with("grant_type=client_credentials&client_id=simkeep-client&client_secret="),
        "{body}"
    );
    assert_eq!(
        server.requests()[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_401_fetches_a_new_token_once_and_repeats() {
    let (server, apis) = rig(TokenStyle::Json);
    apis.read_remaining("main", &quota_url(), "volume", MB, &sim())
        .await
        .unwrap();
    server.expire_tokens();
    let bytes = apis
        .read_remaining("main", &quota_url(), "volume", MB, &sim())
        .await
        .expect("refreshed");
    assert_eq!(bytes, 435_787_951);
    assert_eq!(server.token_requests(), 2);
    assert_eq!(
        server.count("GET", "/v1/sims/"),
        3,
        "one 401, then the repeat"
    );

    // A client the carrier keeps refusing: one refresh, then the 401 is the caller's.
    server.set_fault(Endpoint::Quota, Fault::Unauthorized);
    let resp = apis
        .call("main", ApiRequest::new("GET", quota_url()), &sim())
        .await
        .expect("answered");
    assert_eq!(resp.status, 401);
    assert_eq!(
        server.token_requests(),
        3,
        "exactly one more token, no loop"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_topup_answers_201_with_the_order_and_the_quota_rises_later() {
    let (server, apis) = rig(TokenStyle::Json);
    let resp = apis.call("main", topup(), &sim()).await.expect("topup");
    assert_eq!(resp.status, 201);
    let loc = resp.location.expect("Location");
    assert!(loc.ends_with("/v1/orders/1"), "{loc}");
    assert_eq!(server.charges(), 1);
    let mut bytes = 0;
    for _ in 0..50 {
        bytes = apis
            .read_remaining("main", &quota_url(), "volume", MB, &sim())
            .await
            .unwrap();
        if bytes > 435_787_951 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bytes, 935_787_951, "500 MB credited");
}

#[tokio::test(flavor = "current_thread")]
async fn declines_and_server_errors_are_answers_for_the_caller() {
    let (server, apis) = rig(TokenStyle::Json);
    server.set_fault(Endpoint::Topup, Fault::Declined);
    let r = apis.call("main", topup(), &sim()).await.expect("answer");
    assert_eq!(r.status, 422);
    assert!(r.body.contains("expired"), "{}", r.body);
    server.set_fault(Endpoint::Topup, Fault::ServerError);
    let r = apis.call("main", topup(), &sim()).await.expect("answer");
    assert_eq!(r.status, 500);
    assert_eq!(server.charges(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_honours_retry_after_without_calling_again() {
    let (server, apis) = rig(TokenStyle::Json);
    server.set_fault(
        Endpoint::Quota,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let e = apis
        .read_remaining("main", &quota_url(), "volume", MB, &sim())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ApiError::RateLimited {
            api: "main".into(),
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(e.to_string().contains("retry after 7s"), "{e}");
    server.clear_fault(Endpoint::Quota);
    let before = server.requests().len();
    let e = apis.call("main", topup(), &sim()).await.unwrap_err();
    match e {
        ApiError::RateLimited {
            retry_after: Some(d),
            ..
        } => assert!(d <= Duration::from_secs(7) && d > Duration::from_secs(5)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(
        server.requests().len(),
        before,
        "nothing sent while blocked"
    );
    assert_eq!(server.charges(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_carrier_is_no_reply_and_may_have_charged() {
    let (server, apis) = rig(TokenStyle::Json);
    server.set_fault(Endpoint::Topup, Fault::Slow(Duration::from_secs(3)));
    let mut req = topup();
    req.timeout = Some(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let e = apis.call("main", req, &sim()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout holds"
    );
    assert!(
        matches!(e, ApiError::NoReply { .. }) && e.may_have_been_performed(),
        "{e:?}"
    );
    assert_eq!(server.charges(), 1, "the carrier did charge");
    assert_clean(&e.to_string(), &server);
}

#[tokio::test(flavor = "current_thread")]
async fn charged_then_dropped_or_truncated_replies_are_no_reply() {
    let (server, apis) = rig(TokenStyle::Json);
    for fault in [Fault::ChargedNoReply, Fault::Truncated] {
        server.set_fault(Endpoint::Topup, fault.clone());
        let e = apis.call("main", topup(), &sim()).await.unwrap_err();
        assert!(matches!(e, ApiError::NoReply { .. }), "{fault:?}: {e:?}");
        assert!(e.to_string().contains("may have been carried out"), "{e}");
    }
    assert_eq!(server.charges(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn nothing_listening_is_not_sent() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = TlsApi::start(TlsApiOptions::default());
    let mut cfg = oauth_config(&server, TokenStyle::Json);
    cfg.base_url = format!("https://127.0.0.1:{port}");
    cfg.auth = Auth::None;
    let apis = CarrierApis::new(vec![cfg], Secrets::empty());
    let e = apis.call("main", topup(), &sim()).await.unwrap_err();
    assert!(
        matches!(&e, ApiError::NotSent { cause, .. } if cause.contains("cannot connect")),
        "{e:?}"
    );
    assert!(!e.may_have_been_performed());
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_signed_by_another_ca_is_not_sent() {
    let opts = TlsApiOptions::default();
    let s = secrets(&opts);
    let server = TlsApi::start(opts);
    let mut cfg = oauth_config(&server, TokenStyle::Json);
    cfg.ca_file = Some(server.other_ca_pem_path.clone());
    let apis = CarrierApis::new(vec![cfg], s);
    let e = apis.call("main", topup(), &sim()).await.unwrap_err();
    match &e {
        ApiError::NotSent { cause, .. } => {
            assert!(cause.contains("tls handshake"), "{cause}")
        }
        other => panic!("expected NotSent, got {other:?}"),
    }
    assert!(
        server.requests().is_empty(),
        "no request reached the server"
    );
    assert_eq!(server.charges(), 0);
    assert_clean(&e.to_string(), &server);

    // And without the test CA (the system bundle has never heard of it): NotSent too.
    let mut cfg = oauth_config(&server, TokenStyle::Json);
    cfg.ca_file = None;
    let apis = CarrierApis::new(vec![cfg], secrets(&TlsApiOptions::default()));
    let e = apis.call("main", topup(), &sim()).await.unwrap_err();
    assert!(matches!(e, ApiError::NotSent { .. }), "{e:?}");
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_ca_file_is_not_sent_and_names_the_file() {
    let (server, _) = rig(TokenStyle::Json);
    let mut cfg = oauth_config(&server, TokenStyle::Json);
    cfg.ca_file = Some(PathBuf::from("/nonexistent/carrier-ca.pem"));
    let apis = CarrierApis::new(vec![cfg], secrets(&TlsApiOptions::default()));
    let e = apis.call("main", topup(), &sim()).await.unwrap_err();
    assert!(
        matches!(&e, ApiError::NotSent { cause, .. } if cause.contains("/nonexistent/carrier-ca.pem")),
        "{e:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_token_fetch_is_not_sent_and_hides_the_secret() {
    let opts = TlsApiOptions::default();
    let server = TlsApi::start(opts.clone());
    let wrong = Secrets::from_pairs([
        ("client_id", opts.client_id.as_str()),
        ("client_secret", "wr0ng-but-still-secret"),
    ]);
    let apis = CarrierApis::new(vec![oauth_config(&server, TokenStyle::Form)], wrong);
    let e = apis.call("main", topup(), &sim()).await.unwrap_err();
    match &e {
        ApiError::NotSent { cause, .. } => {
            assert!(
                cause.contains("HTTP 400") && cause.contains("BadCredentials"),
                "{cause}"
            )
        }
        other => panic!("expected NotSent, got {other:?}"),
    }
    assert!(!e.to_string().contains("wr0ng-but-still-secret"), "{e}");
    assert_eq!(server.count("POST", "/v1/"), 0, "the top-up never left");
    assert_eq!(server.charges(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn redirects_are_followed_only_for_gets_on_the_same_host() {
    let (server, apis) = rig(TokenStyle::Json);
    // Same host: followed.
    server.set_fault(Endpoint::Quota, Fault::Redirect("/v1/orders/77".into()));
    let r = apis
        .call("main", ApiRequest::new("GET", quota_url()), &sim())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("\"id\": 77"), "{}", r.body);
    // Another host (localhost is not 127.0.0.1 by name): not followed, the token stays home.
    server.set_fault(
        Endpoint::Quota,
        Fault::Redirect(format!("https://localhost:{}/v1/echo", server.port)),
    );
    let before = server.requests().len();
    let r = apis
        .call("main", ApiRequest::new("GET", quota_url()), &sim())
        .await
        .unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(
        server.requests().len(),
        before + 1,
        "the redirect was not followed"
    );
    // A POST is never redirected.
    server.set_fault(Endpoint::Topup, Fault::Redirect("/v1/echo".into()));
    let r = apis.call("main", topup(), &sim()).await.unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(server.count("GET", "/v1/echo"), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn an_oversized_reply_is_cut_at_the_cap() {
    let (server, apis) = rig(TokenStyle::Json);
    server.set_fault(Endpoint::Quota, Fault::BigBody(300 * 1024));
    let r = apis
        .call("main", ApiRequest::new("GET", quota_url()), &sim())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), BODY_CAP);
    assert!(r.body_truncated);
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_and_tokens_are_redacted_from_replies() {
    let (server, apis) = rig(TokenStyle::Json);
    let mut req = ApiRequest::new("GET", t("/v1/echo?key=${secret:api_key}"));
    req.headers
        .push(("X-Client".into(), t("${secret:client_id}")));
    let r = apis.call("main", req, &sim()).await.unwrap();
    assert_eq!(r.status, 200);
    // The server echoed the URL, the client id header and the bearer token.
    assert!(r.body.contains("key=<secret:api_key>"), "{}", r.body);
    assert!(r.body.contains("<secret:client_id>"), "{}", r.body);
    assert!(r.body.contains("Bearer <redacted>"), "{}", r.body);
    assert_clean(&r.body, &server);
    // The server did get the real values.
    let echo = server.requests().last().unwrap().clone();
    assert_eq!(echo.target, "/v1/echo?key=k3y-in-the-url");
}

#[tokio::test(flavor = "current_thread")]
async fn bearer_and_json_bodies_work_without_oauth() {
    let opts = TlsApiOptions {
        static_token: Some("st4tic-t0ken".into()),
        ..TlsApiOptions::default()
    };
    let server = TlsApi::start(opts);
    let mut cfg = oauth_config(&server, TokenStyle::Json);
    cfg.auth = Auth::Bearer {
        token: t("${secret:tok}"),
    };
    let apis = CarrierApis::new(vec![cfg], Secrets::from_pairs([("tok", "st4tic-t0ken")]));
    let mut req = topup();
    req.body = ApiBody::Json(serde_json::json!({"iccids": ["${sim.iccid}"]}));
    let r = apis.call("main", req, &sim()).await.unwrap();
    assert_eq!(r.status, 201);
    let logged = server.requests().last().unwrap().clone();
    assert_eq!(logged.body, format!(r#"{{"iccids":["{ICCID}"]}}"#));
    assert_eq!(logged.headers["authorization"], "Bearer st4tic-t0ken");
    assert_eq!(server.token_requests(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_url_to_another_host_or_an_unknown_api_is_a_config_error() {
    let (server, apis) = rig(TokenStyle::Json);
    let e = apis
        .call(
            "main",
            ApiRequest::new("GET", t("https://localhost:1/x")),
            &sim(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Config { .. }), "{e:?}");
    let e = apis
        .call("nope", ApiRequest::new("GET", quota_url()), &sim())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("[carrier_api.nope]"), "{e}");
    let e = apis
        .call(
            "main",
            ApiRequest::new("GET", quota_url()),
            &SimVars::default(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("${sim.iccid}"), "{e}");
    assert!(server.requests().is_empty());
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_secret_reaches_the_log_at_debug_level() {
    let cap = Captured::default();
    let writer = cap.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global, not `with_default`: tracing caches per-callsite interest, and a callsite first
    // hit by another test thread with no subscriber would stay silent here. The other tests of
    // this binary then log into the buffer too, which only widens the check.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    let (server, apis) = rig(TokenStyle::Json);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let req = ApiRequest::new("GET", t("/v1/echo?key=${secret:api_key}"));
        apis.call("main", req, &sim()).await.unwrap();
        server.expire_tokens();
        apis.call("main", topup(), &sim()).await.unwrap();
        server.set_fault(Endpoint::Topup, Fault::ChargedNoReply);
        let mut req = ApiRequest::new("POST", t("/v1/sims/${sim.iccid}/topup?k=${secret:api_key}"));
        req.timeout = Some(Duration::from_secs(2));
        apis.call("main", req, &sim()).await.unwrap_err();
    });
    let log = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("carrier api call"),
        "debug lines captured: {log}"
    );
    assert!(log.contains("<secret:api_key>"), "{log}");
    assert_clean(&log, &server);
    // Secrets of the other tests, which log into the same buffer.
    for other in ["wr0ng-but-still-secret", "st4tic-t0ken"] {
        assert!(!log.contains(other), "{other} leaked: {log}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_secret_that_is_part_of_the_token_does_not_mangle_it() {
    let opts = TlsApiOptions::default();
    let server = TlsApi::start(opts.clone());
    // The server's tokens start with "tok-"; a secret with that value must not corrupt them.
    let s = Secrets::from_pairs([
        ("client_id", opts.client_id.as_str()),
        ("client_secret", opts.client_secret.as_str()),
        ("prefix", "tok-"),
    ]);
    let apis = CarrierApis::new(vec![oauth_config(&server, TokenStyle::Json)], s);
    let bytes = apis
        .read_remaining("main", &quota_url(), "volume", MB, &sim())
        .await
        .expect("the token works");
    assert_eq!(bytes, 435_787_951);
    assert_eq!(server.token_requests(), 1);
}

#[test]
fn calls_can_be_spawned_on_the_agents_tasks() {
    // The agent runs calls inside tokio tasks, which need Send futures; a std Mutex guard
    // held across an await would break this at compile time.
    fn is_send<T: Send>(_: &T) {}
    let apis = CarrierApis::new(vec![], Secrets::empty());
    let vars = sim();
    let call = apis.call("main", topup(), &vars);
    is_send(&call);
    let url = quota_url();
    let read = apis.read_remaining("main", &url, "volume", MB, &vars);
    is_send(&read);
    let _clone_is_cheap: CarrierApis = apis.clone();
}
