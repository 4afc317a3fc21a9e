//! `simkeep usage` and `simkeep history`: the daemon's live figures over its HTTP port when it
//! runs, or the store's when it does not (the daemon holds the database exclusively, to keep
//! SQLite's shared-memory file off flash, so the CLI asks the daemon first).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::agent::status::{unix_now, UsageView};
use crate::api::json::{signal_json, usage_json};
use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::store::StoreHandle;
use crate::usage::{format_size, Estimator, UsageState};

/// What `history` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Usage,
    Signal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

fn open_store(cfg: &Config) -> Result<StoreHandle, AppError> {
    if !cfg.store.path.exists() {
        return Err(AppError::new(
            ExitKind::Failure,
            format!("no daemon answers on http.listen and there is no store at {} yet — is simkeep running?", cfg.store.path.display()),
        ));
    }
    let mut sc = crate::store::StoreConfig::new(cfg.store.path.clone());
    // A reader: do not hold the file against a daemon that starts meanwhile.
    sc.exclusive = false;
    StoreHandle::start(sc).map_err(|e| AppError::new(ExitKind::Failure, e.to_string()))
}

fn store_err(e: crate::store::StoreError) -> AppError {
    AppError::new(ExitKind::Failure, e.to_string())
}

/// `simkeep usage`.
pub async fn usage(cfg: &Config, as_json: bool) -> Result<(), AppError> {
    let report = match crate::api::client::daemon_get(cfg, "/api/v1/usage").await {
        Some(r) => r?,
        None => usage_from_store(cfg).await?,
    };
    if as_json {
        println!("{report}");
        return Ok(());
    }
    let base = cfg
        .usage
        .as_ref()
        .map(|u| u.plan.unit_base)
        .unwrap_or(crate::usage::UnitBase::Binary);
    print!("{}", render_usage(&report, base));
    Ok(())
}

/// The `simkeep usage` screen. Sizes are the document's display strings (the plan's unit
/// base, the very words the status page shows); bytes are formatted here only when an older
/// agent sent none.
pub fn render_usage(report: &Value, base: crate::usage::UnitBase) -> String {
    let mut out = String::new();
    let size = |text: &str, bytes: &str| match (report[text].as_str(), report[bytes].as_u64()) {
        (Some(t), _) => t.to_string(),
        (None, Some(b)) => format_size(b, base),
        (None, None) => "-".into(),
    };
    let time = |k: &str| match &report[k] {
        Value::String(t) => t.clone(),
        v => v.as_i64().map(format_time).unwrap_or_else(|| "-".into()),
    };
    let _ = writeln!(out, "{:<12} {}", "used", size("used", "used_bytes"));
    let _ = writeln!(out, "{:<12} {}", "quota", size("quota", "quota_bytes"));
    let _ = writeln!(
        out,
        "{:<12} {}",
        "remaining",
        size("remaining", "remaining_bytes")
    );
    let source = report.get("source").and_then(Value::as_str).unwrap_or("-");
    let age = report
        .get("age_secs")
        .and_then(Value::as_i64)
        .map(|a| format!(", {} ago", human_age(a)))
        .unwrap_or_default();
    let _ = writeln!(out, "{:<12} {source}{age}", "source");
    let days = report["days_left"]
        .as_i64()
        .map(|d| format!(" ({d} day{} left)", if d == 1 { "" } else { "s" }))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{:<12} {} → {}{days}",
        "cycle",
        time("cycle_start"),
        time("cycle_end")
    );
    let _ = writeln!(out, "{:<12} {}", "runs out", time("runs_out_at"));
    out
}

async fn usage_from_store(cfg: &Config) -> Result<Value, AppError> {
    let usage_cfg = cfg.usage.as_ref().ok_or_else(|| {
        AppError::new(
            ExitKind::Config,
            format!(
                "config {}: no [usage] section, so nothing is counted",
                cfg.path.display()
            ),
        )
    })?;
    let store = open_store(cfg)?;
    let sims = store.sims().await.map_err(store_err)?;
    let latest = sims.iter().max_by_key(|s| s.last_seen);
    let Some(state_json) = latest.and_then(|s| s.state_json.clone()) else {
        return Err(AppError::new(
            ExitKind::Failure,
            "the store has no usage figures yet: the daemon has not seen a SIM",
        ));
    };
    let state: UsageState = serde_json::from_str(&state_json).map_err(|e| {
        AppError::new(
            ExitKind::Failure,
            format!("saved usage state unreadable: {e}"),
        )
    })?;
    let est = Estimator::from_state(usage_cfg.estimator, state);
    let report = est
        .report(unix_now())
        .ok_or_else(|| AppError::new(ExitKind::Failure, "no usage figures yet"))?;
    let _ = store.shutdown().await;
    UsageView::json(&report, usage_cfg.plan.unit_base, unix_now())
        .ok_or_else(|| AppError::new(ExitKind::Failure, "cannot encode the usage figures"))
}

/// `simkeep history`.
pub async fn history(
    cfg: &Config,
    kind: Kind,
    since: Duration,
    format: Format,
) -> Result<(), AppError> {
    let since_t = unix_now().saturating_sub(i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
    let path = match kind {
        Kind::Usage => format!("/api/v1/history/usage?since={since_t}"),
        Kind::Signal => format!("/api/v1/history/signal?since={since_t}"),
    };
    let rows = match crate::api::client::daemon_get(cfg, &path).await {
        Some(r) => r?,
        None => {
            let store = open_store(cfg)?;
            let v = match kind {
                Kind::Usage => usage_json(&store.usage_since(since_t).await.map_err(store_err)?),
                Kind::Signal => signal_json(&store.signal_since(since_t).await.map_err(store_err)?),
            };
            let _ = store.shutdown().await;
            v
        }
    };
    match format {
        Format::Json => println!("{rows}"),
        Format::Csv => print!("{}", to_csv(&rows)),
    }
    Ok(())
}

/// CSV with a header from the first row's keys; empty cells for nulls; quoted where needed.
fn to_csv(rows: &Value) -> String {
    let mut out = String::new();
    let Some(arr) = rows.as_array() else {
        return out;
    };
    let Some(first) = arr.first().and_then(Value::as_object) else {
        return out;
    };
    let keys: Vec<&String> = first.keys().collect();
    let _ = writeln!(
        out,
        "{}",
        keys.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    for row in arr {
        let cells: Vec<String> = keys
            .iter()
            .map(|k| match row.get(k.as_str()) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) if s.contains([',', '"', '\n']) => {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// UTC, ISO 8601.
pub fn format_time(t: i64) -> String {
    crate::usage::civil::utc_string(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_has_a_header_and_quotes_commas() {
        let rows =
            json!([{"t": 1, "band": "B3,B1", "rsrp": null}, {"t": 2, "band": "n78", "rsrp": -90}]);
        let csv = to_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("\"B3,B1\""), "{csv}");
        assert!(lines[2].contains("-90"), "{csv}");
    }

    #[test]
    fn usage_prints_the_documents_strings_in_the_plans_units() {
        let doc = json!({"used": "524 MiB", "quota": "3 GiB", "remaining": "2.49 GiB",
                         "used_bytes": 549_453_824u64, "source": "carrier", "age_secs": 90,
                         "cycle_start": "2026-11-25T00:00:00Z", "cycle_end": "2026-12-25T00:00:00Z",
                         "days_left": 1, "runs_out_at": null});
        let out = render_usage(&doc, crate::usage::UnitBase::Decimal);
        assert!(out.contains("used         524 MiB\n"), "{out}");
        assert!(out.contains("remaining    2.49 GiB\n"), "{out}");
        assert!(out.contains("source       carrier, 90s ago"), "{out}");
        assert!(out.contains("2026-12-25T00:00:00Z (1 day left)"), "{out}");
        assert!(out.contains("runs out     -"), "{out}");
    }

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_748_400), "2026-11-27T03:00:00Z");
    }
}
