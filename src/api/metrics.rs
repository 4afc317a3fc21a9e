//! `GET /metrics`: the status snapshot in Prometheus text exposition format 0.0.4.

use std::fmt::Write as _;

use crate::agent::status::Status;

/// Prometheus text exposition format 0.0.4; absent values are left out, never made up.
pub fn metrics(s: &Status) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: Option<f64>| {
        if let Some(v) = v {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    };
    gauge(
        "simkeep_up",
        "1 while the modem answers",
        Some(if s.link == "connected" { 1.0 } else { 0.0 }),
    );
    if let Some(p) = &s.last_poll {
        let sig = &p.signal;
        gauge("simkeep_signal_rssi_dbm", "RSSI in dBm", sig.rssi_dbm);
        gauge("simkeep_signal_rsrp_dbm", "RSRP in dBm", sig.rsrp_dbm);
        gauge("simkeep_signal_rsrq_db", "RSRQ in dB", sig.rsrq_db);
        gauge("simkeep_signal_sinr_db", "SINR in dB", sig.sinr_db);
        gauge(
            "simkeep_signal_quality_percent",
            "signal quality 0-100",
            sig.quality_pct.map(f64::from),
        );
        gauge(
            "simkeep_signal_band",
            "LTE/NR band number",
            sig.band.map(f64::from),
        );
        if let Some(nr) = &sig.nr {
            gauge(
                "simkeep_signal_nr_rsrp_dbm",
                "NR leg RSRP in dBm",
                nr.rsrp_dbm,
            );
            gauge("simkeep_signal_nr_sinr_db", "NR leg SINR in dB", nr.sinr_db);
        }
        gauge(
            "simkeep_registered",
            "1 when registered (home or roaming)",
            p.registration
                .state
                .map(|r| if r.is_registered() { 1.0 } else { 0.0 }),
        );
        gauge(
            "simkeep_last_poll_timestamp_seconds",
            "unix time of the last successful poll",
            Some(p.taken_at as f64),
        );
    }
    if let Some(u) = &s.usage {
        for key in ["used_bytes", "quota_bytes", "remaining_bytes"] {
            let name = format!("simkeep_data_{key}");
            gauge(
                &name,
                "data in the current billing cycle",
                u.get(key).and_then(|v| v.as_f64()),
            );
        }
    }
    if let Some(t) = &s.topup {
        topup_metrics(&mut out, t);
    }
    out
}

/// Top-up gauges and the attempts counter.
fn topup_metrics(out: &mut String, t: &crate::agent::topup::TopupStatus) {
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let flag = |b: bool| vec![(String::new(), f64::from(u8::from(b)))];
    metric(
        "simkeep_topup_enabled",
        "gauge",
        "1 when automatic top-ups are enabled",
        &flag(t.enabled),
    );
    metric(
        "simkeep_topup_paused",
        "gauge",
        "1 while automatic top-ups are paused by an unconfirmed attempt",
        &flag(t.paused),
    );
    if let Ok(spent) = t.spent_this_cycle.parse::<f64>() {
        metric(
            "simkeep_topup_spent_this_cycle",
            "gauge",
            "money spent on top-ups in this billing cycle",
            &[(format!("{{currency=\"{}\"}}", label(&t.currency)), spent)],
        );
    }
    if !t.attempts_by_state.is_empty() {
        let samples: Vec<(String, f64)> = t
            .attempts_by_state
            .iter()
            .map(|(state, n)| (format!("{{state=\"{}\"}}", label(state)), f64::from(*n)))
            .collect();
        metric(
            "simkeep_topup_attempts_total",
            "counter",
            "top-up attempts by how they ended",
            &samples,
        );
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            version: "0.1.0",
            link: "connected".into(),
            ..Status::default()
        }
    }

    #[test]
    fn top_up_metrics_carry_spend_by_currency_and_attempts_by_state() {
        let mut s = status();
        let mut t = crate::agent::topup::TopupStatus {
            enabled: true,
            spent_this_cycle: "10.50".into(),
            currency: "EUR".into(),
            ..Default::default()
        };
        t.attempts_by_state.insert("succeeded".into(), 2);
        t.attempts_by_state.insert("unknown".into(), 1);
        s.topup = Some(t);
        let m = metrics(&s);
        for line in [
            "simkeep_topup_enabled 1",
            "simkeep_topup_paused 0",
            "simkeep_topup_spent_this_cycle{currency=\"EUR\"} 10.5",
            "# TYPE simkeep_topup_attempts_total counter",
            "simkeep_topup_attempts_total{state=\"succeeded\"} 2",
            "simkeep_topup_attempts_total{state=\"unknown\"} 1",
        ] {
            assert!(m.lines().any(|l| l == line), "{line} missing in:\n{m}");
        }
    }

    #[test]
    fn metrics_leave_out_unknown_values() {
        let m = metrics(&status());
        assert!(m.contains("simkeep_up 1"));
        assert!(
            !m.contains("rsrp"),
            "no poll yet, so no signal figures: {m}"
        );
    }
}
