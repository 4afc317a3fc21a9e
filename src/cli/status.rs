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
    let doc = match daemon_get(cfg, "/api/v1/status").await {
        Some(r) => r?,
        None => return Err(not_running(cfg)),
    };
    if json {
        println!("{doc}");
    } else {
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

/// The screen, one `label  value` line each; pure so it is tested without a daemon.
pub fn render(doc: &Value, base: UnitBase) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<10} {v}\n"));
    let link = s(&doc["link"]);
    match doc["link_error"].as_str() {
        Some(e) => line("link", format!("{link} ({e})")),
        None => line("link", link),
    }
    let p = &doc["last_poll"];
    if p.is_object() {
        let sim = &p["sim"];
        line("SIM", format!("{} {}", s(&sim["state"]), s(&sim["iccid"])));
        let reg = &p["registration"];
        line(
            "operator",
            format!(
                "{} {} {}",
                s(&reg["operator"]),
                s(&reg["tech"]),
                s(&reg["state"])
            ),
        );
        let sig = &p["signal"];
        let parts: Vec<String> = [
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
        let at = p["taken_at"]
            .as_i64()
            .map(|t| format!(" (at {})", utc_string(t)))
            .unwrap_or_default();
        line("signal", format!("{signal}{at}"));
    } else {
        line("SIM", "- (no poll yet)".into());
    }
    if let Some(e) = doc["poll_error"].as_str() {
        line("poll", format!("failed: {e}"));
    }
    let u = &doc["usage"];
    if u.is_object() {
        let size = |k: &str| {
            u[k].as_u64()
                .map_or_else(|| "-".into(), |b| format_size(b, base))
        };
        line(
            "data left",
            format!("{} of {}", size("remaining_bytes"), size("quota_bytes")),
        );
        let time = |k: &str| u[k].as_i64().map_or_else(|| "-".into(), utc_string);
        line(
            "cycle",
            format!("{} → {}", time("cycle_start"), time("cycle_end")),
        );
    } else {
        line("data left", "- (no [usage] in the config)".into());
    }
    let t = &doc["topup"];
    if t.is_object() {
        let state = if t["paused"].as_bool() == Some(true) {
            format!("paused: {}", s(&t["paused_reason"]))
        } else if t["enabled"].as_bool() != Some(true) {
            "off".to_string()
        } else if t["running"].as_bool() == Some(true) {
            "running now".to_string()
        } else {
            s(&t["plan"])
        };
        let spent = format!(
            "{} {} spent this cycle, {} of {} top-ups",
            s(&t["spent_this_cycle"]),
            s(&t["currency"]),
            s(&t["count_this_cycle"]),
            s(&t["max_per_cycle"])
        );
        line("top-up", format!("{state} ({spent})"));
    }
    match doc["attention"].as_array() {
        Some(a) if !a.is_empty() => {
            for item in a {
                line("attention", s(item));
            }
        }
        _ => line("attention", "nothing".into()),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_status_fits_one_screen_with_every_part() {
        let doc = json!({
            "link": "connected", "link_error": null, "attention": ["SIM needs its PUK"],
            "last_poll": {"taken_at": 1_796_119_200,
                "sim": {"state": "ready", "iccid": "8981100022152467221"},
                "registration": {"operator": "SoftBank", "tech": "lte", "state": "home"},
                "signal": {"quality_pct": 70, "rsrp_dbm": -101.0, "sinr_db": 14.0, "band": 1}},
            "usage": {"remaining_bytes": 1_073_741_824u64, "quota_bytes": 3_221_225_472u64,
                      "cycle_start": 1_795_600_800, "cycle_end": 1_798_192_800},
            "topup": {"enabled": true, "paused": false, "running": false, "plan": "not needed",
                      "spent_this_cycle": "0", "currency": "EUR", "count_this_cycle": 0,
                      "max_per_cycle": 2},
        });
        let out = render(&doc, UnitBase::Binary);
        for want in [
            "link       connected",
            "ready 8981100022152467221",
            "SoftBank lte home",
            "70% · RSRP -101 dBm · SINR 14 dB · band 1 (at 2026-12-01T10:00:00Z)",
            "data left  1",
            "cycle      2026-11-25",
            "top-up     not needed (0 EUR spent this cycle, 0 of 2 top-ups)",
            "attention  SIM needs its PUK",
        ] {
            assert!(out.contains(want), "{want:?} missing from\n{out}");
        }
        assert!(out.lines().count() < 20, "one screen:\n{out}");
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
