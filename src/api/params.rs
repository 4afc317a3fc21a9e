//! Query parameters of the list endpoints: `limit` (default 100, at most 10,000) and `since`
//! (ISO 8601 like `2026-12-01T10:00:00Z` or `2026-12-01T19:00:00+09:00`, or Unix seconds).
//! Pure: strings in, values or a refusal that says what is allowed out.
//!
//! Must not: guess. Anything outside the shapes above is refused, never read as 0.

use crate::usage::civil::Date;

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 10_000;

/// The paging of one list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    /// Unix seconds; rows at or after it.
    pub since: i64,
}

/// A refused parameter: (error, detail) for the JSON error document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    pub error: &'static str,
    pub detail: String,
}

/// Reads `limit` and `since` from a raw query string (`a=1&b=2`); other keys are ignored.
pub fn paging(query: &str) -> Result<Paging, BadParam> {
    let mut p = Paging {
        limit: DEFAULT_LIMIT,
        since: 0,
    };
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = percent_decode(v);
        match k {
            "limit" => p.limit = limit(&v)?,
            "since" => p.since = since(&v)?,
            _ => {}
        }
    }
    Ok(p)
}

fn shown(v: &str) -> String {
    v.chars().take(40).collect()
}

fn limit(v: &str) -> Result<u32, BadParam> {
    match v.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(BadParam {
            error: "bad limit",
            detail: format!(
                "limit is a whole number from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}); got {:?}",
                shown(v)
            ),
        }),
    }
}

/// `since`: Unix seconds, or an ISO 8601 date-time with `Z` or an offset.
pub fn since(v: &str) -> Result<i64, BadParam> {
    let parsed = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<i64>().ok()
    } else {
        iso8601(v)
    };
    parsed.ok_or_else(|| BadParam {
        error: "bad since",
        detail: format!(
            "since is an ISO 8601 time like 2026-12-01T10:00:00Z (or with an offset, \
             2026-12-01T19:00:00+09:00) or Unix seconds like 1795600800; got {:?}",
            shown(v)
        ),
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as Unix seconds (the fraction is dropped).
fn iso8601(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = v.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = Date::new(
        num(0..4)?,
        u32::try_from(num(5..7)?).ok()?,
        u32::try_from(num(8..10)?).ok()?,
    )?;
    let (h, m, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut rest = v.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = frac.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = rest.as_bytes();
            if r.len() != 6 || r[3] != b':' {
                return None;
            }
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(date.to_days() * 86_400 + h * 3600 + m * 60 + s - offset)
}

/// `%XX` escapes decoded (a client may send `%3A` for `:` and must send `%2B` for `+`);
/// a malformed escape is kept as it is, so the value is refused rather than guessed.
fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(x)) => {
                out.push(x);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::civil::utc_string;

    #[test]
    fn defaults_when_nothing_is_given() {
        assert_eq!(
            paging("").unwrap(),
            Paging {
                limit: 100,
                since: 0
            }
        );
        assert_eq!(paging("other=x").unwrap().limit, 100);
    }

    #[test]
    fn since_takes_iso_8601_and_unix_seconds() {
        for (given, want) in [
            ("1795600800", 1_795_600_800),
            ("0", 0),
            ("2026-12-01T10:00:00Z", 1_796_119_200),
            ("2026-12-01T19:00:00+09:00", 1_796_119_200),
            ("2026-12-01T19:00:00%2B09:00", 1_796_119_200),
            ("2026-12-01T10%3A00%3A00Z", 1_796_119_200),
            ("2026-12-01T05:30:00-04:30", 1_796_119_200),
            ("2026-12-01T10:00:00.250Z", 1_796_119_200),
            ("2000-02-29T00:00:00Z", 951_782_400),
        ] {
            let p = paging(&format!("since={given}")).unwrap();
            assert_eq!(p.since, want, "{given}");
        }
        assert_eq!(utc_string(1_796_119_200), "2026-12-01T10:00:00Z");
    }

    #[test]
    fn anything_else_in_since_is_refused_with_what_is_allowed() {
        for bad in [
            "",
            "yesterday",
            "-5",
            "1e9",
            "2026-12-01",
            "2026-12-01T10:00:00",
            "2026-13-01T10:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T10:00:00+9",
            "2026-12-01T10:00:00.Z",
            "2026-12-01 10:00:00Z",
            "99999999999999999999999",
        ] {
            let e = paging(&format!("since={bad}")).unwrap_err();
            assert_eq!(e.error, "bad since", "{bad}");
            assert!(
                e.detail.contains("ISO 8601") && e.detail.contains("Unix seconds"),
                "{}",
                e.detail
            );
        }
    }

    #[test]
    fn limit_is_one_to_ten_thousand() {
        assert_eq!(paging("limit=1").unwrap().limit, 1);
        assert_eq!(paging("limit=10000&since=5").unwrap().limit, 10_000);
        for bad in ["0", "10001", "-1", "ten", "", "1.5"] {
            let e = paging(&format!("limit={bad}")).unwrap_err();
            assert_eq!(e.error, "bad limit", "{bad}");
            assert!(e.detail.contains("1 to 10000"), "{}", e.detail);
        }
    }

    #[test]
    fn arbitrary_queries_never_panic() {
        for q in [
            "%",
            "%Z",
            "since=%",
            "since=\u{e9}\u{e9}\u{e9}",
            "limit=%FF",
            "=&=&",
        ] {
            let _ = paging(q);
        }
        for s in [
            "2026-12-01T10:00:00\u{e9}",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            let _ = since(s);
        }
    }
}
