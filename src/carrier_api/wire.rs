//! Pieces of a request and a reply that need no I/O: header checks, JSON and form bodies,
//! `Retry-After`, and short one-line body excerpts for errors.
//!
//! It must not: echo a header value in an error (it may be a rendered secret).

use std::time::Duration;

use serde_json::Value;

use crate::template::{Template, TemplateVars};

/// A `Retry-After` further away than this is taken as this (a day without readings is
/// already long; a bogus year-long value must not silence the API for good).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Header names we set ourselves; a config header may not override the message framing.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > 64 || !name.bytes().all(token) {
        return Err(format!("header name {name:?} is not a valid HTTP token"));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "header {name} is set by simkeep and may not be configured"
        ));
    }
    if value.len() > 8192 || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        // Never echo the value: it may be a rendered secret.
        return Err(format!(
            "header {name}: the value holds CR, LF or NUL, or is longer than 8 KiB"
        ));
    }
    Ok(())
}

/// Renders every string leaf of a JSON body as a template.
pub fn render_json(v: &Value, tv: &TemplateVars<'_>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(
            Template::parse(s)
                .and_then(|t| t.render(tv))
                .map_err(|e| e.to_string())?,
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_json(i, tv))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, i) in map {
                out.insert(k.clone(), render_json(i, tv)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// `application/x-www-form-urlencoded` (spaces as %20, which every server accepts).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    use crate::template::percent_encode;
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `Retry-After: 120` or an HTTP date (RFC 9110 §10.2.3), capped at a day.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = parse_http_date(v)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Duration::from_secs(u64::try_from(at).ok()?.saturating_sub(now))
    };
    Some(d.min(MAX_RETRY_AFTER))
}

/// IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, to Unix seconds.
fn parse_http_date(v: &str) -> Option<i64> {
    let mut it = v.split_whitespace().skip(1);
    let day: u32 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = crate::usage::civil::days_from_civil(year, month, day);
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// The start of a reply body for an error message, on one line.
pub fn snippet(body: &str) -> String {
    let one_line: String = body
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.chars().count() > 200 {
        format!("{one_line}…")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secrets;
    use crate::template::SimVars;

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("999999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn headers_cannot_smuggle_lines_or_reframe_the_message() {
        assert!(check_header("X-Api-Key", "abc").is_ok());
        let e = check_header("X-Api-Key", "abc\r\nHost: evil").unwrap_err();
        assert!(!e.contains("evil"), "{e}");
        assert!(check_header("Content-Length", "5").is_err());
        assert!(check_header("Bad Name", "x").is_err());
    }

    #[test]
    fn json_bodies_render_string_leaves() {
        let s = Secrets::from_pairs([("k", "v")]);
        let sim = SimVars {
            iccid: Some("8988".into()),
            ..SimVars::default()
        };
        let v = serde_json::json!({"iccids": ["${sim.iccid}"], "key": "${secret:k}", "n": 5});
        let out = render_json(&v, &sim.with(&s)).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"iccids": ["8988"], "key": "v", "n": 5})
        );
    }
}
