//! `simkeep status`: one screen from the running agent's `GET /api/v1/status` — link, SIM,
//! operator, signal, data left, cycle, top-ups, and what needs attention. `--json` prints the
//! document as the agent sent it.
//!
//! Must not: open the port or the store. The status is the agent's; without one, say so.

use serde_json::Value;

use crate::api::client::daemon_get;
use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::usage::civil::utc_string;
use crate::usage::{format_size, UnitBase};

pub async fn status(cfg: &Config, json: bool) -> Result<(), AppError> {
    let mut doc = match daemon_get(cfg, "/api/v1/status").await {
        Some(r) => r?,
        None => return Err(not_running(cfg)),
    };
    if json {
        println!("{doc}");
    } else {
        // The agent publishes after each poll; one stuck on a hung modem publishes nothing, so the
        // age is judged on this clock too.
        let as_of = doc["as_of"]
            .as_str()
            .and_then(crate::usage::civil::parse_utc);
        if let (Some(t), Some(limit)) = (as_of, doc["stale_after_secs"].as_i64()) {
            if crate::agent::status::unix_now().saturating_sub(t) > limit {
                doc["stale"] = Value::Bool(true);
            }
        }
        let base = cfg
            .usage
            .as_ref()
            .map_or(UnitBase::Binary, |u| u.plan.unit_base);
        print!("{}", render(&doc, base));
    }
    Ok(())
}

fn not_running(cfg: &Config) -> AppError {
    let at = cfg.http.listen.map_or_else(
        || "http.listen is off".to_string(),
        |a| format!("nothing answers on {a}"),
    );
    AppError::new(
        ExitKind::Failure,
        format!("the agent is not running ({at}) — start it: /etc/init.d/simkeep start, or `simkeep run`"),
    )
}

/// A string field, or `-`.
fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `value unit` when present, else nothing (so absent figures leave no gap of dashes).
fn fig(v: &Value, label: &str, unit: &str) -> Option<String> {
    v.as_f64().map(|x| format!("{label} {x}{unit}"))
}

/// A size: the agent's display string when it sent one (the plan's unit base, the same words
/// the page shows), else the bytes formatted here.
fn size(u: &Value, text: &str, bytes: &str, base: UnitBase) -> String {
    match (u[text].as_str(), u[bytes].as_u64()) {
        (Some(t), _) => t.to_string(),
        (None, Some(b)) => format_size(b, base),
        (None, None) => "-".into(),
    }
}

/// A time field: RFC 3339 as sent (older agents sent unix seconds).
fn time(v: &Value) -> String {
    match v {
        Value::String(t) => t.clone(),
        v => v.as_i64().map_or_else(|| "-".into(), utc_string),
    }
}

/// One `label  value` line of the screen.
type Line = (&'static str, String);

/// The screen, one `label  value` line each; pure so it is tested without a daemon.
pub fn render(doc: &Value, base: UnitBase) -> String {
    let mut lines: Vec<Line> = Vec::new();
    if let Some(o) = doc["overall"].as_str() {
        lines.push(("state", o.to_string()));
    }
    let link = s(&doc["link"]);
    lines.push(match doc["link_error"].as_str() {
        Some(e) => ("link", format!("{link} ({e})")),
        None => ("link", link),
    });
    lines.extend(poll_lines(doc));
    if let Some(e) = doc["poll_error"].as_str() {
        lines.push(("poll", format!("failed: {e}")));
    }
    lines.extend(usage_lines(&doc["usage"], base));
    if doc["topup"].is_object() {
        lines.push(("top-up", topup_line(&doc["topup"])));
    }
    lines.extend(attention_lines(&doc["attention"]));
    lines
        .iter()
        .map(|(k, v)| format!("{k:<10} {v}\n"))
        .collect()
}

/// SIM, operator and signal from the last poll, with its time (and STALE when it is).
fn poll_lines(doc: &Value) -> Vec<Line> {
    let p = &doc["last_poll"];
    if !p.is_object() {
        return vec![("SIM", "- (no poll yet)".into())];
    }
    let sim = &p["sim"];
    let sim_text = doc["sim"]["text"].as_str().map_or_else(
        || format!("{} {}", s(&sim["state"]), s(&sim["iccid"])),
        String::from,
    );
    let reg = &p["registration"];
    let network = match doc["network"]["text"].as_str() {
        Some(t) => format!("{} · {t}", s(&reg["operator"])),
        None => format!(
            "{} {} {}",
            s(&reg["operator"]),
            s(&reg["tech"]),
            s(&reg["state"])
        ),
    };
    let sig = &p["signal"];
    let parts: Vec<String> = [
        doc["signal"]["word"].as_str().map(String::from),
        sig["quality_pct"].as_u64().map(|q| format!("{q}%")),
        fig(&sig["rsrp_dbm"], "RSRP", " dBm"),
        fig(&sig["rsrq_db"], "RSRQ", " dB"),
        fig(&sig["sinr_db"], "SINR", " dB"),
        sig["band"].as_u64().map(|b| format!("band {b}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let signal = if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" · ")
    };
    let at = match &p["taken_at"] {
        Value::Null => String::new(),
        t if doc["stale"].as_bool() == Some(true) => format!(" (STALE, as of {})", time(t)),
        t => format!(" (at {})", time(t)),
    };
    vec![
        ("SIM", sim_text),
        ("operator", network),
        ("signal", format!("{signal}{at}")),
    ]
}

/// Data left (the agent's own words, in the plan's unit), the cycle, the forecast.
fn usage_lines(u: &Value, base: UnitBase) -> Vec<Line> {
    if !u.is_object() {
        return vec![("data left", "- (no [usage] in the config)".into())];
    }
    let left = match u["remaining_text"].as_str() {
        Some(t) => t.to_string(),
        None => format!(
            "{} of {}",
            size(u, "remaining", "remaining_bytes", base),
            size(u, "quota", "quota_bytes", base)
        ),
    };
    let age = match &u["as_of"] {
        Value::Null => " (no reading yet)".to_string(),
        t if u["stale"].as_bool() == Some(true) => format!(" (as of {})", time(t)),
        _ => String::new(),
    };
    let days = u["days_left"]
        .as_i64()
        .map(|d| format!(", {d} day{} left", if d == 1 { "" } else { "s" }))
        .unwrap_or_default();
    let mut lines = vec![
        ("data left", format!("{left}{age}")),
        (
            "cycle",
            format!(
                "{} → {}{days}",
                time(&u["cycle_start"]),
                time(&u["cycle_end"])
            ),
        ),
    ];
    if !u["runs_out_at"].is_null() {
        lines.push(("runs out", time(&u["runs_out_at"])));
    }
    lines
}

fn topup_line(t: &Value) -> String {
    if t["enabled"].as_bool() != Some(true) {
        return "off".to_string();
    }
    let state = if t["paused"].as_bool() == Some(true) {
        format!("paused: {}", s(&t["paused_reason"]))
    } else if t["running"].as_bool() == Some(true) {
        "running now".to_string()
    } else {
        s(&t["plan"])
    };
    format!(
        "{state} ({} {} spent this cycle, {} of {} top-ups)",
        s(&t["spent_this_cycle"]),
        s(&t["currency"]),
        s(&t["count_this_cycle"]),
        s(&t["max_per_cycle"])
    )
}

fn attention_lines(a: &Value) -> Vec<Line> {
    match a.as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|item| {
                // Objects since issue 11; a plain sentence from an older agent still prints.
                let text = match item {
                    Value::Object(_) => format!(
                        "{}: {} (since {})",
                        s(&item["level"]),
                        s(&item["message"]),
                        time(&item["since"])
                    ),
                    other => s(other),
                };
                ("attention", text)
            })
            .collect(),
        _ => vec![("attention", "nothing".into())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_status_fits_one_screen_with_every_part() {
        let doc = json!({
            "overall": "critical", "stale": false,
            "link": "connected", "link_error": null,
            "attention": [{"code": "sim_puk", "level": "critical",
                           "message": "The SIM is blocked and asks for its PUK.",
                           "since": "2026-12-01T09:00:00Z"}],
            "sim": {"text": "SIM ready · ICCID 8981100022152467221"},
            "network": {"text": "LTE · home network"},
            "signal": {"word": "fair"},
            "last_poll": {"taken_at": "2026-12-01T10:00:00Z",
                "sim": {"state": "ready", "iccid": "8981100022152467221"},
                "registration": {"operator": "SoftBank", "tech": "lte", "state": "home"},
                "signal": {"quality_pct": 70, "rsrp_dbm": -101.0, "sinr_db": 14.0, "band": 1}},
            "usage": {"remaining_bytes": 1_073_741_824u64, "quota_bytes": 3_221_225_472u64,
                      "remaining_text": "1 GiB of 3 GiB", "days_left": 23, "stale": false,
                      "cycle_start": "2026-11-25T00:00:00Z", "cycle_end": "2026-12-25T00:00:00Z",
                      "runs_out_at": "2026-12-20T08:00:00Z"},
            "topup": {"enabled": true, "paused": false, "running": false, "plan": "not needed",
                      "spent_this_cycle": "0", "currency": "EUR", "count_this_cycle": 0,
                      "max_per_cycle": 2},
        });
        let out = render(&doc, UnitBase::Decimal);
        for want in [
            "state      critical",
            "link       connected",
            "SIM        SIM ready · ICCID 8981100022152467221",
            "operator   SoftBank · LTE · home network",
            "fair · 70% · RSRP -101 dBm · SINR 14 dB · band 1 (at 2026-12-01T10:00:00Z)",
            "data left  1 GiB of 3 GiB",
            "cycle      2026-11-25T00:00:00Z → 2026-12-25T00:00:00Z, 23 days left",
            "runs out   2026-12-20T08:00:00Z",
            "top-up     not needed (0 EUR spent this cycle, 0 of 2 top-ups)",
            "attention  critical: The SIM is blocked and asks for its PUK. (since 2026-12-01T09:00:00Z)",
        ] {
            assert!(out.contains(want), "{want:?} missing from\n{out}");
        }
        assert!(
            !out.contains(" GB"),
            "the agent's strings, not the local base: {out}"
        );
        assert!(out.lines().count() < 20, "one screen:\n{out}");
    }

    #[test]
    fn stale_readings_say_so_with_their_time() {
        let doc = json!({
            "link": "connected", "stale": true, "poll_error": "modem did not answer AT+CSQ within 5s",
            "last_poll": {"taken_at": "2026-12-01T10:00:00Z", "sim": {}, "registration": {},
                          "signal": {"rsrp_dbm": -90.0}},
        });
        let out = render(&doc, UnitBase::Binary);
        assert!(
            out.contains("RSRP -90 dBm (STALE, as of 2026-12-01T10:00:00Z)"),
            "{out}"
        );
        assert!(
            out.contains("poll       failed: modem did not answer"),
            "{out}"
        );
    }

    #[test]
    fn a_status_before_the_first_poll_says_so() {
        let out = render(
            &json!({"link": "down", "link_error": "no such port", "attention": []}),
            UnitBase::Binary,
        );
        assert!(out.contains("link       down (no such port)"), "{out}");
        assert!(
            out.contains("no poll yet") && out.contains("attention  nothing"),
            "{out}"
        );
    }
}
