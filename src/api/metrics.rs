//! `GET /metrics`: the status snapshot in Prometheus text exposition format 0.0.4, following
//! Prometheus's naming conventions (https://prometheus.io/docs/practices/naming/): base units
//! in the name (`_dbm`, `_bytes`, `_seconds`), counters end in `_total`, facts that are strings
//! go in an info metric's labels, times are `_timestamp_seconds`.
//!
//! Stale readings: while polls fail (or the link is down) `simkeep_up` is 0 and the radio gauges
//! (signal, registration) are left out — a scraper must not see an old RSRP as a current one.
//! `simkeep_last_poll_timestamp_seconds` and `simkeep_reading_age_seconds` say how old the last
//! good reading is. Absent values are left out, never made up.
//!
//! Must not: block or touch the store; it renders what the status holds.

use std::fmt::Write as _;

use crate::agent::status::{Counters, Status};

/// One metric family: HELP and TYPE once, then its samples (`labels` already rendered).
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(self.0, "{name}{labels} {v}");
        }
    }

    fn gauge(&mut self, name: &str, help: &str, v: Option<f64>) {
        let samples: Vec<(String, f64)> = v.map(|v| (String::new(), v)).into_iter().collect();
        self.family(name, "gauge", help, &samples);
    }

    fn counter(&mut self, name: &str, help: &str, v: u64) {
        self.family(name, "counter", help, &[(String::new(), v as f64)]);
    }
}

/// Prometheus text exposition format 0.0.4.
pub fn metrics(s: &Status) -> String {
    let mut out = Out(String::new());
    let now = crate::agent::status::unix_now();
    // Judged again here, on this request's clock: a poll stuck on a hung modem publishes
    // nothing until its AT timeout, and the scraper must not see those minutes as fresh.
    let too_old = s.last_poll.as_ref().is_some_and(|p| {
        s.stale_after_secs > 0 && now.saturating_sub(p.taken_at) > s.stale_after_secs
    });
    let fresh = !s.stale && !too_old && s.link == "connected" && s.poll_error.is_none();
    out.gauge(
        "simkeep_up",
        "1 while the modem answers polls and the readings are current, 0 while it does not",
        Some(f64::from(u8::from(fresh && s.last_poll.is_some()))),
    );
    out.gauge(
        "simkeep_start_time_seconds",
        "unix time the daemon started",
        Some(s.started_at as f64),
    );
    counters(&mut out, &s.counters);
    if let Some(p) = &s.last_poll {
        out.gauge(
            "simkeep_last_poll_timestamp_seconds",
            "unix time of the last successful poll",
            Some(p.taken_at as f64),
        );
        out.gauge(
            "simkeep_reading_age_seconds",
            "seconds since the last successful poll (signal, registration, SIM)",
            Some(now.saturating_sub(p.taken_at).max(0) as f64),
        );
        let m = &p.modem;
        let reg = &p.registration;
        let info = [
            ("manufacturer", m.manufacturer.as_deref()),
            ("model", m.model.as_deref()),
            ("revision", m.revision.as_deref()),
            ("operator", reg.operator.as_deref()),
            ("tech", reg.tech.map(crate::agent::status::tech_name)),
            ("band", None),
        ];
        let band = p.signal.band.map(|b| b.to_string());
        let labels: Vec<String> = info
            .iter()
            .map(|(k, v)| {
                let v = if *k == "band" { band.as_deref() } else { *v };
                format!("{k}=\"{}\"", label(v.unwrap_or("")))
            })
            .collect();
        out.family(
            "simkeep_modem_info",
            "gauge",
            "the modem and the network it uses, as labels (always 1)",
            &[(format!("{{{}}}", labels.join(",")), 1.0)],
        );
        if fresh {
            radio(&mut out, p);
        }
    }
    attention(&mut out, s);
    if let Some(u) = &s.usage {
        usage(&mut out, u);
    }
    if let Some(t) = &s.topup {
        topup_metrics(&mut out, t);
    }
    out.0
}

fn counters(out: &mut Out, c: &Counters) {
    let g = Counters::get;
    out.counter(
        "simkeep_polls_total",
        "modem polls started since the daemon started",
        g(&c.polls),
    );
    out.counter(
        "simkeep_poll_failures_total",
        "modem polls that failed (no answer, error, port gone)",
        g(&c.poll_failures),
    );
    out.counter(
        "simkeep_reconnects_total",
        "times the modem port came back after being lost",
        g(&c.reconnects),
    );
    out.counter(
        "simkeep_at_timeouts_total",
        "polls that failed because an AT command got no answer in time",
        g(&c.at_timeouts),
    );
    out.counter(
        "simkeep_sms_received_total",
        "SMS messages received and stored",
        g(&c.sms_received),
    );
    out.counter(
        "simkeep_sms_sent_total",
        "SMS messages sent by the daemon",
        g(&c.sms_sent),
    );
    out.counter(
        "simkeep_ussd_sessions_total",
        "USSD sessions the daemon opened with the carrier",
        g(&c.ussd_sessions),
    );
    out.counter(
        "simkeep_notifications_dropped_total",
        "notifications dropped because a queue or the outbox was full",
        g(&c.notifications_dropped),
    );
}

/// Radio gauges: only while current (see the module header).
fn radio(out: &mut Out, p: &crate::modem::driver::Snapshot) {
    let sig = &p.signal;
    out.gauge(
        "simkeep_signal_rssi_dbm",
        "received signal strength indicator (RSSI), dBm",
        sig.rssi_dbm,
    );
    out.gauge(
        "simkeep_signal_rsrp_dbm",
        "LTE reference signal received power (RSRP), dBm",
        sig.rsrp_dbm,
    );
    out.gauge(
        "simkeep_signal_rsrq_db",
        "LTE reference signal received quality (RSRQ), dB",
        sig.rsrq_db,
    );
    out.gauge(
        "simkeep_signal_sinr_db",
        "LTE signal to interference plus noise ratio (SINR), dB",
        sig.sinr_db,
    );
    out.gauge(
        "simkeep_signal_quality_ratio",
        "signal quality as the modem rates it, 0 to 1",
        sig.quality_pct.map(|q| f64::from(q) / 100.0),
    );
    if let Some(nr) = &sig.nr {
        out.gauge(
            "simkeep_signal_nr_rsrp_dbm",
            "5G NR leg reference signal received power (SS-RSRP), dBm",
            nr.rsrp_dbm,
        );
        out.gauge(
            "simkeep_signal_nr_sinr_db",
            "5G NR leg signal to interference plus noise ratio (SS-SINR), dB",
            nr.sinr_db,
        );
    }
    out.gauge(
        "simkeep_registered",
        "1 when registered on a network (home or roaming), 0 when not",
        p.registration
            .state
            .map(|r| f64::from(u8::from(r.is_registered()))),
    );
}

fn attention(out: &mut Out, s: &Status) {
    let samples: Vec<(String, f64)> = s
        .attention
        .iter()
        .map(|a| {
            (
                format!(
                    "{{code=\"{}\",level=\"{}\"}}",
                    a.code.as_str(),
                    a.level.as_str()
                ),
                1.0,
            )
        })
        .collect();
    out.family(
        "simkeep_attention",
        "gauge",
        "conditions that need the owner, by stable code and level (1 while raised)",
        &samples,
    );
    let since: Vec<(String, f64)> = s
        .attention
        .iter()
        .map(|a| (format!("{{code=\"{}\"}}", a.code.as_str()), a.since as f64))
        .collect();
    out.family(
        "simkeep_attention_since_timestamp_seconds",
        "gauge",
        "unix time each raised condition was first seen",
        &since,
    );
}

/// Usage from the status document (`UsageView` JSON: times are RFC 3339 strings there).
fn usage(out: &mut Out, u: &serde_json::Value) {
    let n = |k: &str| u.get(k).and_then(|v| v.as_f64());
    let t = |k: &str| {
        u.get(k)
            .and_then(|v| v.as_str())
            .and_then(crate::usage::civil::parse_utc)
            .map(|t| t as f64)
    };
    out.gauge(
        "simkeep_data_used_bytes",
        "data used in the current billing cycle, bytes",
        n("used_bytes"),
    );
    out.gauge(
        "simkeep_data_quota_bytes",
        "data allowance of the billing cycle, bytes",
        n("quota_bytes"),
    );
    out.gauge(
        "simkeep_data_remaining_bytes",
        "data left in the current billing cycle, bytes",
        n("remaining_bytes"),
    );
    out.gauge(
        "simkeep_data_age_seconds",
        "seconds since the data-left figure was measured",
        n("age_secs"),
    );
    out.gauge(
        "simkeep_cycle_end_timestamp_seconds",
        "unix time the current billing cycle ends",
        t("cycle_end"),
    );
    out.gauge(
        "simkeep_data_runs_out_timestamp_seconds",
        "unix time the data is forecast to run out at the recent rate",
        t("runs_out_at"),
    );
    out.gauge(
        "simkeep_carrier_reading_timestamp_seconds",
        "unix time of the carrier's last balance reading this cycle",
        t("carrier_as_of"),
    );
}

/// Top-up gauges and the attempts counter.
fn topup_metrics(out: &mut Out, t: &crate::agent::topup::TopupStatus) {
    let flag = |b: bool| vec![(String::new(), f64::from(u8::from(b)))];
    out.family(
        "simkeep_topup_enabled",
        "gauge",
        "1 when automatic top-ups are enabled",
        &flag(t.enabled),
    );
    out.family(
        "simkeep_topup_paused",
        "gauge",
        "1 while automatic top-ups are paused by an unconfirmed attempt",
        &flag(t.paused),
    );
    if let Ok(spent) = t.spent_this_cycle.parse::<f64>() {
        // A gauge, not a counter: it restarts at every billing cycle.
        out.family(
            "simkeep_topup_spent_this_cycle",
            "gauge",
            "money spent on top-ups in this billing cycle, in the labelled currency",
            &[(format!("{{currency=\"{}\"}}", label(&t.currency)), spent)],
        );
    }
    if !t.attempts_by_state.is_empty() {
        let samples: Vec<(String, f64)> = t
            .attempts_by_state
            .iter()
            .map(|(state, n)| (format!("{{state=\"{}\"}}", label(state)), f64::from(*n)))
            .collect();
        out.family(
            "simkeep_topup_attempts_total",
            "counter",
            "top-up attempts in the ledger by how they ended",
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
    use crate::agent::attention::{Attention, Code, Level};
    use crate::modem::driver::Snapshot;

    fn status() -> Status {
        Status {
            version: "0.1.0",
            link: "connected".into(),
            ..Status::default()
        }
    }

    fn polled() -> Status {
        let mut s = status();
        let mut p = Snapshot {
            taken_at: crate::agent::status::unix_now(),
            ..Snapshot::default()
        };
        p.modem.manufacturer = Some("Quectel \"EC\"".into());
        p.registration.operator = Some("NTT DOCOMO".into());
        p.registration.state = Some(crate::modem::model::RegState::Home);
        p.signal.rsrp_dbm = Some(-95.0);
        p.signal.band = Some(3);
        s.last_poll = Some(p);
        s
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
        assert!(m.contains("simkeep_up 0"), "no poll yet: {m}");
        assert!(
            !m.contains("rsrp"),
            "no poll yet, so no signal figures: {m}"
        );
    }

    #[test]
    fn band_is_a_label_of_the_info_metric_not_a_gauge() {
        let m = metrics(&polled());
        assert!(m.contains("simkeep_up 1"), "{m}");
        assert!(
            m.contains("simkeep_modem_info{manufacturer=\"Quectel \\\"EC\\\"\",model=\"\",revision=\"\",operator=\"NTT DOCOMO\",tech=\"\",band=\"3\"} 1"),
            "{m}"
        );
        assert!(!m.contains("simkeep_signal_band"), "{m}");
        assert!(m.contains("simkeep_signal_rsrp_dbm -95"), "{m}");
    }

    #[test]
    fn stale_readings_drop_the_radio_gauges_and_up_goes_to_zero() {
        let mut s = polled();
        s.poll_error = Some("modem did not answer AT+CSQ within 5s".into());
        s.stale = true;
        let m = metrics(&s);
        assert!(m.contains("simkeep_up 0"), "{m}");
        assert!(!m.contains("simkeep_signal_rsrp_dbm"), "{m}");
        assert!(!m.contains("simkeep_registered"), "{m}");
        assert!(m.contains("simkeep_reading_age_seconds "), "{m}");
        assert!(m.contains("simkeep_last_poll_timestamp_seconds "), "{m}");
    }

    #[test]
    fn a_reading_older_than_the_limit_is_not_exported_as_current() {
        let mut s = polled();
        s.stale_after_secs = 12;
        if let Some(p) = s.last_poll.as_mut() {
            p.taken_at -= 13;
        }
        let m = metrics(&s);
        assert!(m.contains("simkeep_up 0"), "{m}");
        assert!(!m.contains("simkeep_signal_rsrp_dbm"), "{m}");
        assert!(m.contains("simkeep_reading_age_seconds 13"), "{m}");
    }

    #[test]
    fn attention_is_one_series_per_code_and_level() {
        let mut s = status();
        s.attention = vec![Attention {
            code: Code::SignalWeak,
            level: Level::Warning,
            message: "Weak signal".into(),
            since: 1_796_119_200,
        }];
        let m = metrics(&s);
        assert!(
            m.contains("simkeep_attention{code=\"signal_weak\",level=\"warning\"} 1"),
            "{m}"
        );
        assert!(
            m.contains(
                "simkeep_attention_since_timestamp_seconds{code=\"signal_weak\"} 1796119200"
            ),
            "{m}"
        );
    }

    #[test]
    fn dropped_notifications_are_a_counter() {
        let s = polled();
        crate::agent::status::Counters::add(&s.counters.notifications_dropped, 3);
        let m = metrics(&s);
        assert!(
            m.contains("# TYPE simkeep_notifications_dropped_total counter"),
            "{m}"
        );
        assert!(
            m.contains("\nsimkeep_notifications_dropped_total 3\n"),
            "{m}"
        );
    }

    #[test]
    fn every_family_has_its_own_help_text() {
        let mut s = polled();
        s.usage = serde_json::from_str(
            r#"{"used_bytes":1,"quota_bytes":2,"remaining_bytes":1,"age_secs":3,
                "cycle_end":"2026-12-25T00:00:00Z","runs_out_at":"2026-12-20T08:00:00Z"}"#,
        )
        .ok();
        let m = metrics(&s);
        let helps: Vec<&str> = m
            .lines()
            .filter_map(|l| l.strip_prefix("# HELP "))
            .filter_map(|l| l.split_once(' ').map(|(_, h)| h))
            .collect();
        let mut unique = helps.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(helps.len(), unique.len(), "{m}");
        assert!(
            m.contains("simkeep_cycle_end_timestamp_seconds 1798156800"),
            "{m}"
        );
        for l in m
            .lines()
            .filter(|l| l.starts_with("# TYPE") && l.ends_with("counter"))
        {
            assert!(l.contains("_total "), "{l}");
        }
    }
}
