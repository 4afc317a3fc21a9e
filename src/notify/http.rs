//! One POST for a notification channel, through the project's own HTTP/1.1 client
//! (`carrier_api::http`: rustls, capped replies, no redirects), over `https://` or, for loopback
//! and self-hosted ntfy on a LAN, plain `http://`.
//!
//! It must not: follow redirects, read more than [`BODY_CAP`] of a reply, or put a URL path or a
//! header value in an error (a Telegram bot token travels in the path; headers hold bearers).

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use crate::carrier_api::http::{exchange, Exchange, Failure};
use crate::carrier_api::Url;

/// Replies are cut here: a channel answers with a few hundred bytes at most.
pub const BODY_CAP: usize = 16 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An `http://` or `https://` URL for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub url: Url,
    /// True for `http://` (no TLS).
    pub plain: bool,
}

impl HttpUrl {
    /// Parses an absolute `https://` or `http://` URL (no `user@`, no spaces).
    pub fn parse(s: &str) -> Result<HttpUrl, String> {
        let lower = s.get(..7).map(str::to_ascii_lowercase);
        if lower.as_deref() != Some("http://") {
            return Url::parse(s)
                .map(|url| HttpUrl { url, plain: false })
                .map_err(|e| {
                    if e.starts_with("expected") {
                        "expected an absolute https:// (or, on your own network, http://) URL"
                            .into()
                    } else {
                        e
                    }
                });
        }
        let rest = &s[7..];
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        // The carrier parser knows only https (default port 443): give it the port http means.
        let has_port = match authority.rsplit_once(']') {
            Some((_, after)) => after.starts_with(':'),
            None => authority.contains(':'),
        };
        let path = &rest[authority.len()..];
        let port = if has_port { "" } else { ":80" };
        let url = Url::parse(&format!("https://{authority}{port}{path}"))?;
        Ok(HttpUrl { url, plain: true })
    }

    /// `scheme://host[:port]` only: safe for messages (no path, which may hold a token).
    pub fn origin(&self) -> String {
        let scheme = if self.plain { "http" } else { "https" };
        format!("{scheme}://{}", self.url.authority())
    }

    /// This URL with `path` appended (one `/` between).
    pub fn join(&self, path: &str) -> Result<HttpUrl, String> {
        Ok(HttpUrl {
            url: self.url.join(path)?,
            plain: self.plain,
        })
    }
}

/// What the server answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// A `Retry-After` header, capped at a day.
    pub retry_after: Option<Duration>,
}

/// POSTs `body`; `tls` is needed for `https://` only. Errors name the origin, never the path.
pub async fn post(
    url: &HttpUrl,
    headers: &[(String, String)],
    body: &[u8],
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
) -> Result<Reply, String> {
    let tls = if url.plain {
        None
    } else {
        Some(tls.ok_or_else(|| format!("no TLS configuration for {}", url.origin()))?)
    };
    let raw = exchange(Exchange {
        url: &url.url,
        method: "POST",
        headers,
        body,
        tls,
        connect_timeout: CONNECT_TIMEOUT,
        deadline: tokio::time::Instant::now() + timeout,
        body_cap: BODY_CAP,
    })
    .await
    .map_err(|f| match f {
        Failure::NotSent(c) | Failure::NoReply(c) => c,
    })?;
    let retry_after = raw
        .header("retry-after")
        .and_then(crate::carrier_api::wire::parse_retry_after);
    Ok(Reply {
        status: raw.status,
        body: String::from_utf8_lossy(&raw.body).into_owned(),
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_urls_get_their_own_default_ports() {
        let u = HttpUrl::parse("http://ntfy.lan/alerts").unwrap();
        assert!(u.plain);
        assert_eq!((u.url.port, u.url.target.as_str()), (80, "/alerts"));
        assert_eq!(u.origin(), "http://ntfy.lan:80");
        let u = HttpUrl::parse("HTTP://127.0.0.1:8080").unwrap();
        assert_eq!((u.url.port, u.url.target.as_str()), (8080, "/"));
        let u = HttpUrl::parse("http://[::1]/x").unwrap();
        assert_eq!(u.url.port, 80);
        let u = HttpUrl::parse("https://api.telegram.org").unwrap();
        assert!(!u.plain);
        assert_eq!(u.url.port, 443);
        let j = u.join("bot123:abc/sendMessage").unwrap();
        assert_eq!(j.url.target, "/bot123:abc/sendMessage");
        assert_eq!(j.origin(), "https://api.telegram.org");
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(HttpUrl::parse("ftp://x/").is_err());
        assert!(HttpUrl::parse("http://a@evil/").is_err());
        assert!(HttpUrl::parse("http://x/a b").is_err());
        assert!(HttpUrl::parse("http://").is_err());
        assert!(HttpUrl::parse("ntfy.sh/topic").is_err());
    }
}
