//! `GET /`: the status page. One self-contained HTML file (`page.html`: markup, CSS and the
//! script, no external assets, so it works on a router with no internet) compiled into the
//! binary. The server fills in a first paint — title, overall state, the attention sentences and
//! the status document itself — so `curl /` says what matters and the browser draws everything
//! at once; the page's script then refreshes from `/api/v1/status` and the history endpoints.
//!
//! It must not trust what it prints: operator names, SMS text and modem errors come from outside,
//! so the markup filled in here is escaped and the embedded JSON cannot close its script tag.
//! The page reads the status through its JSON form (not the Rust fields) so it keeps working
//! while the status document grows: every field may be absent.

use serde_json::Value;

use crate::agent::status::Status;

/// The page, with `@@NAME@@` slots the server fills.
const TEMPLATE: &str = include_str!("page.html");

/// The page for this status snapshot.
pub fn page(s: &Status) -> String {
    // A Status always serialises (plain data); Null still gives a usable page.
    render(&serde_json::to_value(s).unwrap_or(Value::Null))
}

/// What needs the owner, as the page's header shows it.
struct Item {
    critical: bool,
    message: String,
}

fn render(v: &Value) -> String {
    let items = attention(v);
    let level = overall(v, &items);
    let headline = match level {
        "critical" => "Action needed",
        "warning" => "Needs attention",
        _ => "All good",
    };
    let title = if items.is_empty() {
        format!("simkeep · {headline}")
    } else {
        format!("simkeep · {headline} ({})", items.len())
    };
    let list: String = items
        .iter()
        .map(|i| {
            let class = if i.critical { "critical" } else { "warning" };
            format!("<li class={class}>{}</li>", esc(&i.message))
        })
        .collect();
    let as_of = as_of(v);
    fill(TEMPLATE, |slot| match slot {
        "TITLE" => Some(esc(&title)),
        "LEVEL" => Some(level.to_string()),
        "HEADLINE" => Some(headline.to_string()),
        "ATTENTION" => Some(list.clone()),
        "ASOF" => Some(esc(&as_of)),
        "JSON" => Some(script_json(&embedded(v))),
        _ => None,
    })
}

/// Replaces each `@@NAME@@` in one pass, so text filled in is never scanned for slots again.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 4096);
    let mut rest = template;
    while let Some(start) = rest.find("@@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after
            .find("@@")
            .and_then(|end| Some((end, value(&after[..end])?)))
        {
            Some((end, text)) => {
                out.push_str(&text);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("@@");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The attention sentences: `{code, level, message}` objects, or plain strings from older
/// status documents; a link error counts unless an item already says the modem is lost.
fn attention(v: &Value) -> Vec<Item> {
    let mut items: Vec<Item> = v
        .get("attention")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| match a {
                    Value::String(s) => Some(Item {
                        critical: false,
                        message: s.clone(),
                    }),
                    Value::Object(o) => Some(Item {
                        critical: o.get("level").and_then(Value::as_str) == Some("critical"),
                        message: ["message", "code"]
                            .iter()
                            .find_map(|k| o.get(*k).and_then(Value::as_str))
                            .unwrap_or("needs attention")
                            .to_string(),
                    }),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let modem_lost = v
        .get("attention")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|a| a.get("code") == Some(&"modem_lost".into()))
        });
    if let Some(e) = v.get("link_error").and_then(Value::as_str) {
        if !modem_lost && !e.is_empty() {
            let link = v.get("link").and_then(Value::as_str);
            items.insert(
                0,
                Item {
                    critical: link == Some("down"),
                    message: format!("Modem: {e}"),
                },
            );
        }
    }
    items
}

/// `ok`, `warning` or `critical`: the daemon's own verdict when it gives one, else the worst
/// item, else `warning` while the modem link is not up.
fn overall(v: &Value, items: &[Item]) -> &'static str {
    match v.get("overall").and_then(Value::as_str) {
        Some("ok") => return "ok",
        Some("warning") => return "warning",
        Some("critical") => return "critical",
        _ => {}
    }
    if items.iter().any(|i| i.critical) {
        "critical"
    } else if !items.is_empty()
        || v.get("link").and_then(Value::as_str).unwrap_or("connected") != "connected"
    {
        "warning"
    } else {
        "ok"
    }
}

/// "as of 2026-12-02 10:42 UTC" from the reading's time (the browser then says it in local time).
fn as_of(v: &Value) -> String {
    let t = v
        .get("as_of")
        .filter(|t| !t.is_null())
        .or_else(|| v.get("last_poll").and_then(|p| p.get("taken_at")));
    let text = match t {
        Some(Value::String(s)) => Some(s.replace('T', " ").replace('Z', " UTC")),
        Some(Value::Number(n)) => n.as_i64().map(|secs| {
            crate::usage::civil::utc_string(secs)
                .replace('T', " ")
                .replace('Z', " UTC")
        }),
        _ => None,
    };
    match text {
        Some(t) => format!("as of {t}"),
        None => "waiting for the first reading".into(),
    }
}

/// The copy of the status the page starts from, without what it never shows: a top-up's USSD
/// transcript can be kilobytes and would push the page past its size budget.
fn embedded(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(a) = v
        .pointer_mut("/topup/last_attempt")
        .and_then(Value::as_object_mut)
    {
        a.remove("transcript");
    }
    v
}

/// The status as JSON that is safe inside `<script>`: `<`, `>` and `&` only occur inside JSON
/// strings, where their `\u` escapes mean the same, so no `</script>` can end the block early.
fn script_json(v: &Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>&amp;";

    #[test]
    fn page_is_small_enough_for_a_router() {
        assert!(
            TEMPLATE.len() < 40 * 1024,
            "page.html is {} bytes; the budget is 40 KB",
            TEMPLATE.len()
        );
        // With a realistic status filled in, too.
        let p = render(&json!({"version": "0.1.0", "link": "connected",
            "last_poll": {"taken_at": 1796192198, "signal": {"rsrp_dbm": -95.0}},
            "usage": {"quota_bytes": 3000000000u64, "remaining_bytes": 700000000u64}}));
        assert!(p.len() < 40 * 1024, "rendered page is {} bytes", p.len());
    }

    #[test]
    fn a_long_top_up_transcript_does_not_ride_along() {
        let long = "USSD: 1. Daily\n2. Weekly\n".repeat(2000);
        let p = render(&json!({"link": "connected",
            "topup": {"enabled": true, "last_attempt": {"flow": "menu", "transcript": [long]}}}));
        assert!(p.len() < 40 * 1024, "rendered page is {} bytes", p.len());
        assert!(p.contains("\"flow\":\"menu\""));
    }

    #[test]
    fn page_loads_nothing_from_elsewhere() {
        // The only URL allowed is the SVG namespace, which the browser never fetches.
        let stripped = TEMPLATE.replace("'http://www.w3.org/2000/svg'", "");
        for needle in ["http://", "https://", "//cdn", "@import", "url("] {
            assert!(!stripped.contains(needle), "page.html contains {needle:?}");
        }
        for attr in [
            "src=\"http",
            "href=\"http",
            "src=http",
            "href=http",
            "src=//",
        ] {
            assert!(!TEMPLATE.contains(attr), "page.html loads {attr:?}");
        }
    }

    #[test]
    fn the_script_never_parses_text_as_markup() {
        // Operator names, SMS text and modem errors reach the DOM through textContent only.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!TEMPLATE.contains(sink), "page.html uses {sink}");
        }
    }

    #[test]
    fn refreshes_in_place_instead_of_reloading() {
        // A meta refresh would blank the page every time and lose the scroll position.
        assert!(!TEMPLATE.to_lowercase().contains("http-equiv"));
        assert!(TEMPLATE.contains("every(10 * SEC, refreshStatus)"));
    }

    #[test]
    fn every_slot_is_filled() {
        let p = page(&Status {
            link: "connected".into(),
            ..Status::default()
        });
        assert!(!p.contains("@@"), "an unfilled slot is left in the page");
        assert!(p.starts_with("<!doctype html>"));
        assert!(p.contains("<title>simkeep · All good</title>"));
    }

    #[test]
    fn modem_and_carrier_text_is_escaped_in_markup_and_in_the_embedded_json() {
        let v = json!({"link": "down", "link_error": HOSTILE,
            "attention": [{"code": "signal_weak", "level": "warning", "message": HOSTILE}, HOSTILE],
            "last_poll": {"registration": {"operator": "</script><script>alert(3)</script>"}}});
        let p = render(&v);
        assert!(!p.contains("<script>alert"), "raw script tag in the page");
        assert!(!p.contains("<img src=x"), "raw img tag in the page");
        assert!(
            !p.contains("</script><script>alert(3)"),
            "JSON closed its script tag"
        );
        assert!(p.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&amp;amp;"
        ));
        // The embedded JSON still parses back to the same text.
        let start = p.find("type=application/json>").unwrap() + "type=application/json>".len();
        let end = start + p[start..].find("</script>").unwrap();
        let back: Value = serde_json::from_str(&p[start..end]).unwrap();
        assert_eq!(back, v);
        // Exactly the page's own two script blocks.
        assert_eq!(p.matches("<script").count(), 2);
    }

    #[test]
    fn header_level_follows_the_worst_item_or_the_daemon_verdict() {
        let lvl = |v: Value| {
            let p = render(&v);
            let at = p.find("<header id=hd class=\"").unwrap() + 21;
            p[at..at + p[at..].find('"').unwrap()].to_string()
        };
        assert_eq!(lvl(json!({"link": "connected", "attention": []})), "ok");
        assert_eq!(
            lvl(json!({"link": "connected", "attention": ["SIM needs its PIN"]})),
            "warning"
        );
        assert_eq!(
            lvl(json!({"link": "connected", "attention": [
                {"code": "data_low", "level": "warning", "message": "50 MB left"},
                {"code": "data_exhausted", "level": "critical", "message": "No data left"}]})),
            "critical"
        );
        assert_eq!(
            lvl(json!({"link": "down", "link_error": "port gone"})),
            "critical"
        );
        assert_eq!(lvl(json!({"link": "connecting"})), "warning");
        assert_eq!(
            lvl(json!({"overall": "warning", "link": "connected", "attention": []})),
            "warning"
        );
        assert_eq!(lvl(json!("not an object")), "ok");
    }

    #[test]
    fn first_paint_says_the_state_and_the_sentences_without_javascript() {
        let p = render(&json!({"link": "connected", "overall": "warning",
            "as_of": "2026-12-02T10:42:00Z",
            "attention": [{"code": "signal_weak", "level": "warning",
                "message": "Signal is weak (RSRP -118 dBm)", "since": "2026-12-02T10:40:00Z"}]}));
        assert!(p.contains("<h1 id=state>Needs attention</h1>"));
        assert!(p.contains("<li class=warning>Signal is weak (RSRP -118 dBm)</li>"));
        assert!(p.contains("as of 2026-12-02 10:42:00 UTC"));
        assert!(p.contains("<title>simkeep · Needs attention (1)</title>"));
        // A modem error is not repeated when an item already says the modem is lost.
        let p = render(&json!({"link": "down", "link_error": "no such port",
            "attention": [{"code": "modem_lost", "level": "critical", "message": "Modem lost"}]}));
        assert!(!p.contains("Modem: no such port"));
        let p = render(&json!({"link": "down", "link_error": "no such port", "attention": []}));
        assert!(p.contains("<li class=critical>Modem: no such port</li>"));
    }

    #[test]
    fn unix_times_print_in_utc() {
        assert_eq!(
            as_of(&json!({"last_poll": {"taken_at": 1796192198}})),
            "as of 2026-12-02 06:16:38 UTC"
        );
        assert_eq!(as_of(&json!({})), "waiting for the first reading");
    }

    #[test]
    fn a_slot_marker_in_filled_text_is_left_alone() {
        let out = fill("a @@X@@ b @@Y@@ @@", |s| match s {
            "X" => Some("@@Y@@".into()),
            "Y" => Some("y".into()),
            _ => None,
        });
        assert_eq!(out, "a @@Y@@ b y @@");
    }
}
