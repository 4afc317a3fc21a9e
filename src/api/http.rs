//! The request and reply every route shares. The server (`server.rs`) parses a request with
//! `httparse`, reads its body (capped), and hands the routes an owned `Request`; a route answers
//! with a `Reply` the server writes under a deadline.
//!
//! Must not: let a route see a request whose head or body broke the limits (the server answers
//! those itself with 431/413), or let a reply carry an unbounded body (lists are paged).

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// One parsed request. Header names the routes need are pulled out; the rest are dropped.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, `DELETE`… as sent.
    pub method: String,
    /// The path without the query, not percent-decoded.
    pub path: String,
    /// What follows `?`, or "".
    pub query: String,
    /// The `Authorization` header, when present.
    pub authorization: Option<String>,
    /// The body (at most the server's cap; empty for GET).
    pub body: Vec<u8>,
}

impl Request {
    /// A HEAD request: answer as for GET, without the body.
    pub fn head_only(&self) -> bool {
        self.method == "HEAD"
    }

    /// True when the request carries `Bearer <token>`; always false when there is no token.
    pub fn authorized(&self, token: Option<&str>) -> bool {
        let (Some(token), Some(auth)) = (token, self.authorization.as_deref()) else {
            return false;
        };
        auth.strip_prefix("Bearer ").is_some_and(|given| {
            super::auth::same_secret(given.trim().as_bytes(), token.as_bytes())
        })
    }

    /// The body as JSON of type `T`; an empty body reads as `{}`. A refusal is a 400 that says
    /// what was wrong (unknown field, wrong type), ready to send.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, Reply> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body)
            .map_err(|e| Reply::error(400, "bad request body", &format!("expected JSON: {e}")))
    }
}

/// One answer. The server adds `Content-Length`, `Connection` and `Cache-Control`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// For HEAD: the headers of the GET answer, no body.
    pub head_only: bool,
    /// Extra header lines, each ending in `\r\n` (`Allow: …`, `WWW-Authenticate: …`).
    pub extra_headers: &'static str,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        let extra_headers = match status {
            401 => "WWW-Authenticate: Bearer\r\n",
            _ => "",
        };
        Reply {
            status,
            content_type,
            body,
            head_only: false,
            extra_headers,
        }
    }

    /// A JSON document, newline-terminated.
    pub fn json(status: u16, value: &Value) -> Self {
        let mut body = value.to_string().into_bytes();
        body.push(b'\n');
        Reply::new(status, "application/json", body)
    }

    /// The one error shape of the API: `{"error": …, "detail": …}`.
    pub fn error(status: u16, error: &str, detail: &str) -> Self {
        Reply::json(status, &json!({ "error": error, "detail": detail }))
    }

    /// 401 for a missing or wrong token: the same words either way.
    pub fn needs_token() -> Self {
        Reply::error(401, "unauthorized", super::auth::NEEDS_TOKEN)
    }

    /// 405 with the methods the path takes.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut r = Reply::error(
            405,
            "method not allowed",
            &format!(
                "this path takes {}",
                allow.trim_start_matches("Allow: ").trim_end()
            ),
        );
        r.extra_headers = allow;
        r
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply::new(
            status,
            "text/plain; charset=utf-8",
            body.as_bytes().to_vec(),
        )
    }

    /// Marks the reply as an answer to HEAD.
    pub fn for_head(mut self, head_only: bool) -> Self {
        self.head_only = head_only;
        self
    }
}

/// The reason phrase for the status codes the API uses.
pub fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_checked_exactly() {
        let mut r = Request {
            authorization: Some("Bearer s3cret".into()),
            ..Request::default()
        };
        assert!(r.authorized(Some("s3cret")));
        assert!(!r.authorized(Some("s3cre")));
        assert!(!r.authorized(None));
        r.authorization = Some("Basic s3cret".into());
        assert!(!r.authorized(Some("s3cret")));
    }

    #[test]
    fn json_body_refusal_says_why() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct B {
            #[allow(dead_code)]
            code: String,
        }
        let r = Request {
            body: br#"{"cod":"*100#"}"#.to_vec(),
            ..Request::default()
        };
        let e = r.json_body::<B>().unwrap_err();
        assert_eq!(e.status, 400);
        let text = String::from_utf8(e.body).unwrap();
        assert!(text.contains("unknown field"), "{text}");
    }
}
