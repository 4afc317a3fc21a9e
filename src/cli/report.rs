//! `simkeep info` and `simkeep signal`: read the modem once and print a table or JSON.

use std::fmt::Display;

use serde_json::json;

use crate::at::AtClient;
use crate::config::Config;
use crate::error::AppError;
use crate::modem::driver::Driver;

fn driver(at: &AtClient, cfg: &Config) -> Driver {
    Driver::new(at.clone(), cfg.modem.profile, cfg.modem.pin.clone())
}

fn show<T: Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into())
}

fn json_name<T: serde::Serialize>(v: &Option<T>) -> String {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "-".into())
}

fn table(rows: &[(&str, String)]) {
    for (k, v) in rows {
        println!("{k:<14} {v}");
    }
}

pub async fn info(at: &AtClient, cfg: &Config, as_json: bool) -> Result<(), AppError> {
    let mut d = driver(at, cfg);
    let (modem, sim, registration, _events) =
        crate::modem::sim_wait::info_when_sim_ready(&mut d, crate::modem::sim_wait::SIM_BUSY_WAIT)
            .await?;
    if as_json {
        let v = json!({ "modem": modem, "sim": sim, "registration": registration });
        println!("{v}");
        return Ok(());
    }
    table(&[
        ("manufacturer", show(&modem.manufacturer)),
        ("model", show(&modem.model)),
        ("revision", show(&modem.revision)),
        ("imei", show(&modem.imei)),
        ("sim", json_name(&sim.state)),
        ("iccid", show(&sim.iccid)),
        ("imsi", show(&sim.imsi)),
        ("msisdn", show(&sim.msisdn)),
        ("registration", json_name(&registration.state)),
        ("tech", json_name(&registration.tech)),
        ("operator", show(&registration.operator)),
        (
            "mcc/mnc",
            format!("{}/{}", show(&registration.mcc), show(&registration.mnc)),
        ),
        (
            "tac",
            registration
                .tac
                .map(|t| format!("{t} (0x{t:X})"))
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "cell id",
            registration
                .cell_id
                .map(|c| format!("{c} (0x{c:X})"))
                .unwrap_or_else(|| "-".into()),
        ),
    ]);
    Ok(())
}

pub async fn signal(at: &AtClient, cfg: &Config, as_json: bool) -> Result<(), AppError> {
    let mut d = driver(at, cfg);
    let s = d.signal().await?;
    if as_json {
        println!("{}", json!({ "signal": s }));
        return Ok(());
    }
    let mut rows = vec![
        (
            "quality",
            s.quality_pct
                .map(|q| format!("{q} %"))
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "rssi",
            s.rssi_dbm
                .map(|v| format!("{v} dBm"))
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "rsrp",
            s.rsrp_dbm
                .map(|v| format!("{v} dBm"))
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "rsrq",
            s.rsrq_db
                .map(|v| format!("{v} dB"))
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "sinr",
            s.sinr_db
                .map(|v| format!("{v} dB"))
                .unwrap_or_else(|| "-".into()),
        ),
        ("band", show(&s.band)),
        ("earfcn", show(&s.earfcn)),
        ("pci", show(&s.pci)),
    ];
    if let Some(nr) = &s.nr {
        rows.push((
            "nr rsrp",
            nr.rsrp_dbm
                .map(|v| format!("{v} dBm"))
                .unwrap_or_else(|| "-".into()),
        ));
        rows.push((
            "nr rsrq",
            nr.rsrq_db
                .map(|v| format!("{v} dB"))
                .unwrap_or_else(|| "-".into()),
        ));
        rows.push((
            "nr sinr",
            nr.sinr_db
                .map(|v| format!("{v} dB"))
                .unwrap_or_else(|| "-".into()),
        ));
        rows.push((
            "nr band",
            nr.band
                .map(|b| format!("n{b}"))
                .unwrap_or_else(|| "-".into()),
        ));
        rows.push(("nr arfcn", show(&nr.arfcn)));
    }
    table(&rows);
    Ok(())
}
