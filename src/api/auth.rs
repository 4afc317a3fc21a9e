//! The request head every route shares, and the API token check: writes, SMS bodies, USSD
//! history and events need `Authorization: Bearer <token>` (the token in `http.token_file`).
//!
//! Must not: compare the token in time that depends on where it differs, or say anything about
//! the token in a refusal (the 401 text is the same for a missing and a wrong one).

/// The parts of a request head the routes need.
pub struct Head<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub content_length: usize,
    /// Bytes after the head that were read with it (the start of the body).
    pub body_start: &'a [u8],
}

/// Splits a raw head (`METHOD target HTTP/1.x`, then `Name: value` lines, then a blank line);
/// `None` when it is not complete, not UTF-8, or not HTTP/1.x.
pub fn parse_head(raw: &[u8]) -> Option<Head<'_>> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..end)?).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    // Anything but `METHOD target HTTP/1.x` is left to `route`, which answers 400 or 505: one
    // verdict on a request line whichever endpoint it names.
    if first.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut authorization = None;
    let mut content_length = 0usize;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("authorization") {
            authorization = Some(v);
        } else if k.eq_ignore_ascii_case("content-length") {
            content_length = v.parse().unwrap_or(usize::MAX);
        }
    }
    Some(Head {
        method,
        path,
        query,
        authorization,
        content_length,
        body_start: raw.get(end + 4..).unwrap_or(&[]),
    })
}

/// Compares in time that does not depend on where the strings differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when the head carries `Bearer <token>`; always false when the daemon has no token.
pub fn authorized(head: &Head<'_>, token: Option<&str>) -> bool {
    let (Some(token), Some(auth)) = (token, head.authorization) else {
        return false;
    };
    auth.strip_prefix("Bearer ")
        .is_some_and(|given| same_secret(given.trim().as_bytes(), token.as_bytes()))
}

/// The one refusal for a missing or wrong token.
pub const NEEDS_TOKEN: &str =
    "this needs the API token: Authorization: Bearer <token from http.token_file>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }

    #[test]
    fn heads_are_split_with_their_token_and_length() {
        let raw = b"POST /api/v1/topup?x=1 HTTP/1.1\r\nauthorization: Bearer t0k\r\nContent-Length: 2\r\n\r\n{}";
        let h = parse_head(raw).unwrap();
        assert_eq!(
            (h.method, h.path, h.query),
            ("POST", "/api/v1/topup", "x=1")
        );
        assert_eq!(h.authorization, Some("Bearer t0k"));
        assert_eq!(h.content_length, 2);
        assert_eq!(h.body_start, b"{}");
        assert!(authorized(&h, Some("t0k")));
        assert!(!authorized(&h, Some("t0K")));
        assert!(!authorized(&h, None));
        assert!(
            parse_head(b"GET /api/v1/status HTTP/1.1\r\n").is_none(),
            "incomplete"
        );
        for other in [
            &b"GET /healthz HTTP/9.9\r\n\r\n"[..],
            b"GET /healthz\r\n\r\n",
            b"GET /healthz HTTP/1.1 x\r\n\r\n",
        ] {
            assert!(
                parse_head(other).is_none(),
                "{other:?} is route's to refuse"
            );
        }
        let bad = parse_head(b"POST /api/v1/topup HTTP/1.1\r\nContent-Length: x\r\n\r\n").unwrap();
        assert_eq!(
            bad.content_length,
            usize::MAX,
            "an unreadable length is too large, not zero"
        );
    }
}
