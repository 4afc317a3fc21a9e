//! OAuth2 client credentials (RFC 6749 §4.4): fetch an access token from the token endpoint
//! and cache it until `expires_in` minus a margin.
//!
//! 1NCE wants HTTP Basic + a JSON body `{"grant_type":"client_credentials"}`; Airalo and most
//! others a form body with `client_id`/`client_secret` (RFC 6749 §2.3.1 allows both the Basic
//! header and form fields, so the form style sends both). `token_style` picks one.
//!
//! It must not: hold a lock across the network call, or cache a token past its lifetime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Refresh this long before the token says it expires (clock skew, slow calls).
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// When the endpoint does not say how long the token lives.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStyle {
    /// `application/x-www-form-urlencoded`: grant_type, client_id, client_secret (+ Basic).
    Form,
    /// `application/json` `{"grant_type":"client_credentials"}` + Basic (1NCE).
    Json,
}

impl TokenStyle {
    pub fn parse(s: &str) -> Option<TokenStyle> {
        match s {
            "form" => Some(TokenStyle::Form),
            "json" => Some(TokenStyle::Json),
            _ => None,
        }
    }
}

/// A cached token, shared by the clones of one API.
#[derive(Clone, Default)]
pub struct TokenCache {
    slot: Arc<Mutex<Option<(String, Instant)>>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache(..)")
    }
}

impl TokenCache {
    /// The cached token if it is still good.
    pub fn get(&self, now: Instant) -> Option<String> {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some((t, until)) if now < *until => Some(t.clone()),
            _ => None,
        }
    }

    pub fn put(&self, token: String, expires_in: Option<u64>, now: Instant) {
        let life = expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        // A token living less than the margin is used for this call only.
        let Some(good_for) = life.checked_sub(EXPIRY_MARGIN).filter(|d| !d.is_zero()) else {
            self.clear();
            return;
        };
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some((token, now + good_for));
    }

    /// Forgets the token (after a 401: the carrier revoked or expired it early).
    pub fn clear(&self) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The request body and content type for the token endpoint.
pub fn token_body(
    style: TokenStyle,
    client_id: &str,
    client_secret: &str,
) -> (Vec<u8>, &'static str) {
    match style {
        TokenStyle::Json => (
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            "application/json",
        ),
        TokenStyle::Form => (
            super::wire::form_encode(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ])
            .into_bytes(),
            "application/x-www-form-urlencoded",
        ),
    }
}

/// `(access_token, expires_in)` from a token reply, or why not (without the body: it may hold
/// a token we could not parse).
pub fn parse_token_reply(body: &[u8]) -> Result<(String, Option<u64>), String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| "token endpoint did not answer JSON".to_string())?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| {
            !t.is_empty()
                && t.len() <= 8192
                && t.bytes().all(|b| (b' '..0x7f).contains(&b) && b != b' ')
        })
        .ok_or("token reply has no usable access_token")?;
    let expires_in = v.get("expires_in").and_then(|e| {
        e.as_u64()
            .or_else(|| e.as_str().and_then(|s| s.trim().parse().ok()))
    });
    Ok((token.to_string(), expires_in))
}

/// RFC 4648 base64 (for the HTTP Basic header).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn the_1nce_token_reply_parses() {
        let body = br#"{"status_code": 200, "access_token": "eyJpzhr.x", "token_type": "bearer", "expires_in": 3600, "user_id": "user", "score": "all"}"#;
        assert_eq!(
            parse_token_reply(body).unwrap(),
            ("eyJpzhr.x".to_string(), Some(3600))
        );
        assert!(parse_token_reply(b"{}").is_err());
        assert!(parse_token_reply(b"<html>").is_err());
        assert!(parse_token_reply(br#"{"access_token":"a\r\nb"}"#).is_err());
    }

    #[test]
    fn the_cache_expires_a_minute_early() {
        let c = TokenCache::default();
        let t0 = Instant::now();
        c.put("t".into(), Some(3600), t0);
        assert_eq!(c.get(t0 + Duration::from_secs(3539)).as_deref(), Some("t"));
        assert_eq!(c.get(t0 + Duration::from_secs(3540)), None);
        c.put("short".into(), Some(30), t0);
        assert_eq!(c.get(t0), None);
    }
}
