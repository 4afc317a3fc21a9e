//! `simkeep topup now|plan|history|resume|pause`: through the running agent's API; `history`,
//! `resume` and `pause` fall back to the store when no agent runs (`now` and `plan` need the
//! live modem).

use serde_json::{json, Value};

use crate::agent::topup::{AttemptJson, EVENT_RESUMED, EVENT_SWITCH};
use crate::api::client::daemon_request;
use crate::cli::TopupCmd;
use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::store::{StoreConfig, StoreHandle};

/// `resume` (`on`) or `pause`: through the agent, or recorded in the store for the agent to read
/// at its next start when none runs.
async fn switch(cfg: &Config, on: bool) -> Result<(), AppError> {
    let path = if on {
        "/api/v1/topup/resume"
    } else {
        "/api/v1/topup/pause"
    };
    if let Some(r) = daemon_request(cfg, "POST", path, None).await {
        println!("{}", text(&r?, "result"));
        return Ok(());
    }
    let store = open_store(cfg, true)?;
    // The store keeps what it cannot write in memory for a later retry, which a command that
    // exits now never makes: refuse up front instead.
    let health = store.health().await.map_err(store_err)?;
    if !health.open {
        let why = health.last_error.unwrap_or_default();
        return Err(AppError::new(
            ExitKind::Failure,
            format!("no agent answers on http.listen, and the switch cannot be recorded in the store: {why}"),
        ));
    }
    let now = crate::agent::status::unix_now();
    store
        .event(now, EVENT_SWITCH, if on { "on" } else { "off" })
        .map_err(store_err)?;
    if on {
        store.event(now, EVENT_RESUMED, "cli").map_err(store_err)?;
    }
    store.shutdown().await.map_err(store_err)?;
    let done = if on { "resumed" } else { "switched off" };
    println!("automatic top-ups {done} (recorded in the store; the agent reads it at start)");
    Ok(())
}

pub async fn topup(cfg: &Config, cmd: &TopupCmd) -> Result<(), AppError> {
    match cmd {
        TopupCmd::Now { flow, dry_run } => {
            let body = json!({ "flow": flow, "dry_run": dry_run });
            let v = need_daemon(daemon_request(cfg, "POST", "/api/v1/topup", Some(&body)).await)?;
            println!("{}", text(&v, "result"));
            Ok(())
        }
        TopupCmd::Plan => {
            let v = need_daemon(daemon_request(cfg, "GET", "/api/v1/topup/plan", None).await)?;
            println!("{}", text(&v, "plan"));
            Ok(())
        }
        TopupCmd::Resume => switch(cfg, true).await,
        TopupCmd::Pause => switch(cfg, false).await,
        TopupCmd::History { json } => {
            let rows = match daemon_request(cfg, "GET", "/api/v1/topups", None).await {
                Some(r) => r?,
                None => {
                    let store = open_store(cfg, false)?;
                    let rows = store.ledger_since(0).await.map_err(store_err)?;
                    serde_json::to_value(
                        rows.iter().map(AttemptJson::from_entry).collect::<Vec<_>>(),
                    )
                    .unwrap_or_default()
                }
            };
            if *json {
                println!("{rows}");
            } else {
                print_table(&rows);
            }
            Ok(())
        }
    }
}

fn need_daemon(r: Option<Result<Value, AppError>>) -> Result<Value, AppError> {
    r.unwrap_or_else(|| {
        Err(AppError::new(
            ExitKind::Failure,
            "no agent answers on http.listen — top-ups run inside the agent: start it (/etc/init.d/simkeep start)",
        ))
    })
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .map_or_else(|| v.to_string(), str::to_string)
}

/// The store when no agent runs. Reading needs one that exists; the switch is recorded in a new
/// one if the agent never ran yet (paused before its first start).
fn open_store(cfg: &Config, write: bool) -> Result<StoreHandle, AppError> {
    if !write && !cfg.store.path.exists() {
        return Err(AppError::new(
            ExitKind::Failure,
            format!(
                "no agent answers on http.listen and there is no store at {} yet",
                cfg.store.path.display()
            ),
        ));
    }
    let mut sc = StoreConfig::new(cfg.store.path.clone());
    sc.exclusive = write;
    StoreHandle::start(sc).map_err(store_err)
}

fn store_err(e: crate::store::StoreError) -> AppError {
    AppError::new(ExitKind::Failure, e.to_string())
}

fn print_table(rows: &Value) {
    let Some(rows) = rows.as_array() else { return };
    if rows.is_empty() {
        println!("no top-up attempts yet");
        return;
    }
    println!(
        "{:>4}  {:<20}  {:<16}  {:<10}  {:>10}  detail",
        "id", "started", "flow", "state", "price"
    );
    for r in rows {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        println!(
            "{:>4}  {:<20}  {:<16}  {:<10}  {:>10}  {}",
            r.get("id").and_then(Value::as_i64).unwrap_or(0),
            s("started_at"),
            s("flow"),
            s("state"),
            format!("{} {}", s("price"), s("currency")),
            s("detail"),
        );
    }
}
