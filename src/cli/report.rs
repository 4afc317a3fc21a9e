//! `simkeep info` and `simkeep signal`: read the modem once, or the running agent's last poll
//! (`GET /api/v1/status`, `/api/v1/signal`), and print a table or JSON. Both paths render from
//! the same JSON (the driver's types serialised), so the output is the same either way.
//!
//! Must not: ask the modem anything when an agent answers (it owns the port).

use serde_json::{json, Value};

use crate::api::client::daemon_call;
use crate::at::AtClient;
use crate::config::Config;
use crate::error::{AppError, ExitKind};
use crate::modem::driver::Driver;

fn driver(at: &AtClient, cfg: &Config) -> Driver {
    Driver::new(at.clone(), cfg.modem.profile, cfg.modem.pin.clone())
}

/// A field as text: strings bare, numbers as written, absent or null as `-`.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A figure with its unit, or `-`. As f64 so `-101.0` prints `-101`, as the driver's type does.
fn unit(v: &Value, u: &str) -> String {
    v.as_f64()
        .map(|x| format!("{x}{u}"))
        .unwrap_or_else(|| "-".into())
}

/// `123 (0x7B)` for TAC and cell ids.
fn with_hex(v: &Value) -> String {
    v.as_u64()
        .map(|t| format!("{t} (0x{t:X})"))
        .unwrap_or_else(|| "-".into())
}

fn table(rows: &[(&str, String)]) {
    for (k, v) in rows {
        println!("{k:<14} {v}");
    }
}

/// `simkeep info`: one-shot on the port.
pub async fn info(at: &AtClient, cfg: &Config, as_json: bool) -> Result<(), AppError> {
    let mut d = driver(at, cfg);
    // Right after power-up the SIM answers busy (+CME ERROR: 14) for a while: wait it out.
    let (modem, sim, registration, _events) =
        crate::modem::sim_wait::info_when_sim_ready(&mut d, crate::modem::sim_wait::SIM_BUSY_WAIT)
            .await?;
    print_info(
        &json!({ "modem": modem, "sim": sim, "registration": registration }),
        as_json,
    );
    Ok(())
}

/// `simkeep info` through the running agent: its last poll. `None` when no agent answers.
pub async fn info_from_agent(cfg: &Config, as_json: bool) -> Option<Result<(), AppError>> {
    let doc = match agent_get(cfg, "/api/v1/status").await? {
        Ok(d) => d,
        Err(e) => return Some(Err(e)),
    };
    let p = &doc["last_poll"];
    if !p.is_object() {
        return Some(Err(not_polled(&doc)));
    }
    print_info(
        &json!({ "modem": p["modem"], "sim": p["sim"], "registration": p["registration"] }),
        as_json,
    );
    Some(Ok(()))
}

/// `simkeep signal` through the running agent: the last reading. `None` when no agent answers.
pub async fn signal_from_agent(cfg: &Config, as_json: bool) -> Option<Result<(), AppError>> {
    let doc = match agent_get(cfg, "/api/v1/signal").await? {
        Ok(d) => d,
        Err(e) => return Some(Err(e)),
    };
    print_signal(&doc["signal"], as_json);
    Some(Ok(()))
}

/// A GET to the agent; a 503 (no reading yet) keeps the one-shot's exit code for "modem away".
async fn agent_get(cfg: &Config, path: &str) -> Option<Result<Value, AppError>> {
    Some(match daemon_call(cfg, "GET", path, None, false).await? {
        Ok((200, v)) => Ok(v),
        Ok((503, v)) => Err(AppError::new(
            ExitKind::Unreachable,
            format!(
                "the agent has no reading yet: {}",
                v["detail"].as_str().unwrap_or("try again shortly")
            ),
        )),
        Ok((_, v)) => Err(crate::api::client::refusal(&v)),
        Err(e) => Err(e),
    })
}

fn not_polled(doc: &Value) -> AppError {
    let why = doc["link_error"]
        .as_str()
        .or(doc["poll_error"].as_str())
        .map_or_else(String::new, |e| format!(" ({e})"));
    AppError::new(
        ExitKind::Unreachable,
        format!(
            "the agent has not read the modem yet (link {}{why}); try again shortly",
            show(&doc["link"])
        ),
    )
}

fn print_info(v: &Value, as_json: bool) {
    if as_json {
        println!("{v}");
        return;
    }
    let (modem, sim, reg) = (&v["modem"], &v["sim"], &v["registration"]);
    table(&[
        ("manufacturer", show(&modem["manufacturer"])),
        ("model", show(&modem["model"])),
        ("revision", show(&modem["revision"])),
        ("imei", show(&modem["imei"])),
        ("sim", show(&sim["state"])),
        ("iccid", show(&sim["iccid"])),
        ("imsi", show(&sim["imsi"])),
        ("msisdn", show(&sim["msisdn"])),
        ("registration", show(&reg["state"])),
        ("tech", show(&reg["tech"])),
        ("operator", show(&reg["operator"])),
        (
            "mcc/mnc",
            format!("{}/{}", show(&reg["mcc"]), show(&reg["mnc"])),
        ),
        ("tac", with_hex(&reg["tac"])),
        ("cell id", with_hex(&reg["cell_id"])),
    ]);
}

/// `simkeep signal`: one-shot on the port.
pub async fn signal(at: &AtClient, cfg: &Config, as_json: bool) -> Result<(), AppError> {
    let mut d = driver(at, cfg);
    let s = d.signal().await?;
    print_signal(&json!(s), as_json);
    Ok(())
}

fn print_signal(s: &Value, as_json: bool) {
    if as_json {
        println!("{}", json!({ "signal": s }));
        return;
    }
    let mut rows = vec![
        ("quality", unit(&s["quality_pct"], " %")),
        ("rssi", unit(&s["rssi_dbm"], " dBm")),
        ("rsrp", unit(&s["rsrp_dbm"], " dBm")),
        ("rsrq", unit(&s["rsrq_db"], " dB")),
        ("sinr", unit(&s["sinr_db"], " dB")),
        ("band", show(&s["band"])),
        ("earfcn", show(&s["earfcn"])),
        ("pci", show(&s["pci"])),
    ];
    let nr = &s["nr"];
    if nr.is_object() {
        rows.push(("nr rsrp", unit(&nr["rsrp_dbm"], " dBm")));
        rows.push(("nr rsrq", unit(&nr["rsrq_db"], " dB")));
        rows.push(("nr sinr", unit(&nr["sinr_db"], " dB")));
        rows.push((
            "nr band",
            nr["band"]
                .as_u64()
                .map(|b| format!("n{b}"))
                .unwrap_or_else(|| "-".into()),
        ));
        rows.push(("nr arfcn", show(&nr["arfcn"])));
    }
    table(&rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_print_as_the_driver_types_would() {
        assert_eq!(unit(&json!(-101.0), " dBm"), "-101 dBm");
        assert_eq!(unit(&json!(-10.5), " dB"), "-10.5 dB");
        assert_eq!(unit(&Value::Null, " dB"), "-");
        assert_eq!(with_hex(&json!(23130)), "23130 (0x5A5A)");
        assert_eq!(show(&json!("registered")), "registered");
        assert_eq!(show(&json!(null)), "-");
    }
}
