//! `GET /`: a small page for a browser, rendered from the status snapshot.

use std::fmt::Write as _;

use crate::agent::status::Status;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn opt<T: std::fmt::Display>(v: &Option<T>, unit: &str) -> String {
    match v {
        Some(v) => esc(&format!("{v}{unit}")),
        None => "–".into(),
    }
}

/// A page that reads well on a phone, refreshes itself and needs no JavaScript.
pub fn page(s: &Status) -> String {
    let mut rows = String::new();
    let mut row = |k: &str, v: String| {
        let _ = write!(rows, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row("Modem link", esc(&s.link));
    if let Some(e) = &s.link_error {
        row("Problem", esc(e));
    }
    for a in &s.attention {
        row("Needs attention", esc(a));
    }
    if let Some(p) = &s.last_poll {
        row(
            "Modem",
            format!(
                "{} {}",
                opt(&p.modem.manufacturer, ""),
                opt(&p.modem.model, "")
            ),
        );
        row(
            "SIM",
            format!(
                "{} {}",
                opt(&p.sim.state.map(|x| format!("{x:?}")), ""),
                opt(&p.sim.iccid, "")
            ),
        );
        row(
            "Network",
            format!(
                "{} {} {}",
                opt(&p.registration.operator, ""),
                opt(&p.registration.tech.map(|t| format!("{t:?}")), ""),
                opt(&p.registration.state.map(|x| format!("{x:?}")), "")
            ),
        );
        let sig = &p.signal;
        row(
            "Signal",
            format!(
                "{} · RSRP {} · RSRQ {} · SINR {} · band {}",
                opt(&sig.quality_pct, " %"),
                opt(&sig.rsrp_dbm, " dBm"),
                opt(&sig.rsrq_db, " dB"),
                opt(&sig.sinr_db, " dB"),
                opt(&sig.band, "")
            ),
        );
        if let Some(nr) = &sig.nr {
            row(
                "5G leg",
                format!(
                    "RSRP {} · SINR {} · band n{}",
                    opt(&nr.rsrp_dbm, " dBm"),
                    opt(&nr.sinr_db, " dB"),
                    opt(&nr.band, "")
                ),
            );
        }
    }
    if let Some(u) = &s.usage {
        let gb = |k: &str| {
            u.get(k)
                .and_then(|v| v.as_f64())
                .map(|b| format!("{:.2} GB", b / 1e9))
                .unwrap_or_else(|| "–".into())
        };
        row(
            "Data left",
            format!("{} of {}", gb("remaining_bytes"), gb("quota_bytes")),
        );
    }
    format!(
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
<meta http-equiv=refresh content=30><title>simkeep</title><style>body{{font:16px system-ui,sans-serif;margin:1em;max-width:40em}}\
th{{text-align:left;padding-right:1em;vertical-align:top}}td,th{{padding:.2em}}</style></head><body><h1>simkeep</h1>\
<table>{rows}</table><p><a href=/api/v1/status>JSON</a> · <a href=/metrics>metrics</a> · v{}</p></body></html>\n",
        s.version
    )
}
