//! The attention rules: each condition raised and cleared, hysteresis at every limit, stale
//! readings neither raising nor clearing what depends on them.

use super::*;
use crate::agent::topup::AttemptJson;
use crate::modem::model::Tech;

const T0: i64 = 1_796_119_200; // 2026-12-01T10:00:00Z
const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

fn snap(at: i64, rsrp: f64) -> Snapshot {
    let mut s = Snapshot {
        taken_at: at,
        ..Snapshot::default()
    };
    s.sim.state = Some(SimState::Ready);
    s.sim.iccid = Some("8981100022152467221".into());
    s.registration.state = Some(RegState::Home);
    s.registration.tech = Some(Tech::Lte);
    s.registration.operator = Some("NTT DOCOMO".into());
    s.signal.rsrp_dbm = Some(rsrp);
    s
}

fn usage(remaining: u64) -> UsageReport {
    UsageReport {
        iccid: "8981100022152467221".into(),
        used_bytes: Some((3 * GIB).saturating_sub(remaining)),
        quota_bytes: Some(3 * GIB),
        remaining_bytes: Some(remaining),
        source: None,
        as_of: Some(T0),
        age_secs: Some(0),
        carrier_as_of: None,
        carrier_remaining_bytes: None,
        cycle_start: T0 - 10 * 86_400,
        cycle_end: T0 + 20 * 86_400,
        runs_out_at: None,
        burn_bytes_per_day: None,
    }
}

fn inputs<'a>(now: i64, s: Option<&'a Snapshot>) -> Inputs<'a> {
    Inputs {
        now,
        started_at: T0 - 3600,
        snapshot: s,
        stale_after: 60,
        ..Inputs::default()
    }
}

fn codes(m: &AttentionModel) -> Vec<&'static str> {
    m.current().iter().map(|a| a.code.as_str()).collect()
}

fn raised(changes: &[AttentionChange]) -> Vec<&'static str> {
    changes
        .iter()
        .filter_map(|c| match c {
            AttentionChange::Raised(a) => Some(a.code.as_str()),
            _ => None,
        })
        .collect()
}

fn cleared(changes: &[AttentionChange]) -> Vec<&'static str> {
    changes
        .iter()
        .filter_map(|c| match c {
            AttentionChange::Cleared { was, .. } => Some(was.code.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_healthy_line_needs_no_attention() {
    let mut m = AttentionModel::default();
    let s = snap(T0, -95.0);
    let u = usage(2 * GIB);
    let mut i = inputs(T0, Some(&s));
    i.usage = Some(&u);
    assert!(m.evaluate(&i).is_empty());
    assert_eq!(m.overall(), Overall::Ok);
}

#[test]
fn weak_signal_is_raised_below_the_limit_and_cleared_only_above_the_margin() {
    let mut m = AttentionModel::default();
    let mut changes = Vec::new();
    // RSRP hovering around -110 dBm, then recovering: -107 dBm is the clear level.
    for (n, rsrp) in [
        -109.0, -115.0, -109.5, -110.5, -108.0, -107.5, -106.0, -109.0,
    ]
    .into_iter()
    .enumerate()
    {
        let now = T0 + 30 * n as i64;
        let s = snap(now, rsrp);
        changes.push(m.evaluate(&inputs(now, Some(&s))));
    }
    let r: Vec<usize> = (0..changes.len())
        .filter(|&k| !raised(&changes[k]).is_empty())
        .collect();
    let c: Vec<usize> = (0..changes.len())
        .filter(|&k| !cleared(&changes[k]).is_empty())
        .collect();
    assert_eq!(r, vec![1], "raised once, at -115 dBm");
    assert_eq!(c, vec![6], "cleared once, at -106 dBm (above -107)");
    assert!(codes(&m).is_empty());
}

#[test]
fn since_is_kept_while_the_condition_holds_and_the_message_follows_the_figure() {
    let mut m = AttentionModel::default();
    let s = snap(T0, -115.0);
    m.evaluate(&inputs(T0, Some(&s)));
    let s = snap(T0 + 30, -118.0);
    assert!(m.evaluate(&inputs(T0 + 30, Some(&s))).is_empty());
    let a = &m.current()[0];
    assert_eq!(
        (a.code, a.level, a.since),
        (Code::SignalWeak, Level::Warning, T0)
    );
    assert!(a.message.contains("-118 dBm"), "{}", a.message);
    let json = serde_json::to_value(a).unwrap();
    assert_eq!(json["since"], "2026-12-01T10:00:00Z");
    assert_eq!(json["code"], "signal_weak");
    assert_eq!(json["level"], "warning");
}

#[test]
fn the_rsrp_limit_comes_from_the_config() {
    let mut m = AttentionModel::new(AlertsConfig {
        rsrp_below: -100.0,
        ..AlertsConfig::default()
    });
    let s = snap(T0, -105.0);
    assert_eq!(
        raised(&m.evaluate(&inputs(T0, Some(&s)))),
        vec!["signal_weak"]
    );
}

#[test]
fn no_service_when_the_modem_is_not_registered() {
    let mut m = AttentionModel::default();
    let mut s = snap(T0, -95.0);
    s.registration.state = Some(RegState::Searching);
    s.signal.rsrp_dbm = None;
    assert_eq!(
        raised(&m.evaluate(&inputs(T0, Some(&s)))),
        vec!["no_service"]
    );
    assert_eq!(m.overall(), Overall::Critical);
    assert!(m.current()[0].message.contains("searching"));
    let s = snap(T0 + 30, -95.0);
    assert_eq!(
        cleared(&m.evaluate(&inputs(T0 + 30, Some(&s)))),
        vec!["no_service"]
    );
}

#[test]
fn sim_problems_are_critical_and_use_the_drivers_sentence() {
    for (state, code) in [
        (SimState::NotInserted, "sim_missing"),
        (SimState::PinRequired, "sim_pin"),
        (SimState::PukRequired, "sim_puk"),
        (SimState::Error, "sim_missing"),
    ] {
        let mut m = AttentionModel::default();
        let mut s = snap(T0, -95.0);
        s.sim.state = Some(state);
        s.registration.state = Some(RegState::NotRegistered);
        let said = vec!["the SIM is blocked and asks for its PUK; simkeep will not send anything — unblock it in a phone".to_string()];
        let mut i = inputs(T0, Some(&s));
        i.sim_messages = &said;
        assert_eq!(raised(&m.evaluate(&i)), vec![code], "{state:?}");
        let a = &m.current()[0];
        assert_eq!(a.level, Level::Critical);
        assert!(a.message.starts_with("The SIM is blocked") && a.message.ends_with('.'));
    }
    // A busy SIM (still starting) is not a problem.
    let mut m = AttentionModel::default();
    let mut s = snap(T0, -95.0);
    s.sim.state = Some(SimState::Busy);
    s.registration.state = Some(RegState::NotRegistered);
    assert!(m.evaluate(&inputs(T0, Some(&s))).is_empty());
}

#[test]
fn roaming_warns_unless_expected() {
    let mut s = snap(T0, -95.0);
    s.registration.state = Some(RegState::Roaming);
    s.registration.operator = Some("Vodafone".into());
    let mut m = AttentionModel::default();
    assert_eq!(raised(&m.evaluate(&inputs(T0, Some(&s)))), vec!["roaming"]);
    assert!(m.current()[0].message.contains("on Vodafone"));
    let mut m = AttentionModel::new(AlertsConfig {
        roaming_expected: true,
        ..AlertsConfig::default()
    });
    assert!(m.evaluate(&inputs(T0, Some(&s))).is_empty());
}

#[test]
fn data_low_defaults_to_ten_percent_of_the_quota_with_a_clear_margin() {
    let mut m = AttentionModel::default();
    let s = snap(T0, -95.0);
    // 10 % of 3 GiB = 307.2 MiB; clears above 10 % more (337.92 MiB).
    let mut seen = Vec::new();
    for left in [
        400 * MIB,
        300 * MIB,
        310 * MIB,
        330 * MIB,
        340 * MIB,
        320 * MIB,
    ] {
        let u = usage(left);
        let mut i = inputs(T0, Some(&s));
        i.usage = Some(&u);
        let ch = m.evaluate(&i);
        seen.push((raised(&ch), cleared(&ch)));
    }
    let empty: Vec<&str> = vec![];
    assert_eq!(
        seen,
        vec![
            (empty.clone(), empty.clone()),
            (vec!["data_low"], empty.clone()),
            (empty.clone(), empty.clone()),
            (empty.clone(), empty.clone()),
            (empty.clone(), vec!["data_low"]),
            (empty.clone(), empty.clone()),
        ]
    );
}

#[test]
fn data_low_follows_the_topup_threshold_then_the_config() {
    let s = snap(T0, -95.0);
    let u = usage(800 * MIB);
    let mut i = inputs(T0, Some(&s));
    i.usage = Some(&u);
    i.topup_threshold = Some(Threshold::Bytes(GIB));
    let mut m = AttentionModel::default();
    assert_eq!(raised(&m.evaluate(&i)), vec!["data_low"]);
    assert!(
        m.current()[0].message.contains("800 MiB of 3 GiB left"),
        "{}",
        m.current()[0].message
    );
    // [alerts] data_low wins over the top-up threshold.
    let mut m = AttentionModel::new(AlertsConfig {
        data_low: Some(Threshold::Bytes(500 * MIB)),
        ..AlertsConfig::default()
    });
    assert!(m.evaluate(&i).is_empty());
}

#[test]
fn data_low_speaks_in_the_plans_units() {
    let s = snap(T0, -95.0);
    let mut u = usage(50_000_000);
    u.quota_bytes = Some(3_000_000_000);
    let mut i = inputs(T0, Some(&s));
    i.usage = Some(&u);
    i.unit_base = Some(UnitBase::Decimal);
    let mut m = AttentionModel::default();
    m.evaluate(&i);
    let msg = &m.current()[0].message;
    assert!(
        msg.contains("50 MB of 3 GB") && !msg.contains("iB"),
        "{msg}"
    );
}

#[test]
fn no_data_left_is_critical_and_replaces_data_low() {
    let s = snap(T0, -95.0);
    let mut m = AttentionModel::default();
    let u = usage(50 * MIB);
    let mut i = inputs(T0, Some(&s));
    i.usage = Some(&u);
    m.evaluate(&i);
    let u = usage(0);
    i.usage = Some(&u);
    let ch = m.evaluate(&i);
    assert_eq!(raised(&ch), vec!["data_exhausted"]);
    assert_eq!(cleared(&ch), vec!["data_low"]);
    assert_eq!(m.overall(), Overall::Critical);
}

#[test]
fn a_forecast_before_the_cycle_end_warns_and_clears_with_a_margin() {
    let s = snap(T0, -95.0);
    let mut m = AttentionModel::default();
    let mut u = usage(2 * GIB);
    let end = u.cycle_end;
    let mut run = |out: i64| {
        u.runs_out_at = Some(out);
        let mut i = inputs(T0, Some(&s));
        i.usage = Some(&u);
        m.evaluate(&i)
    };
    assert_eq!(
        raised(&run(end - 3 * 86_400)),
        vec!["runs_out_before_cycle_end"]
    );
    assert!(
        run(end + 3600).is_empty(),
        "an hour past the end still holds"
    );
    assert_eq!(
        cleared(&run(end + 86_400)),
        vec!["runs_out_before_cycle_end"]
    );
}

#[test]
fn a_failed_poll_marks_readings_stale_and_the_modem_is_lost_after_the_grace() {
    let mut m = AttentionModel::default();
    let s = snap(T0, -115.0);
    m.evaluate(&inputs(T0, Some(&s)));
    assert_eq!(codes(&m), vec!["signal_weak"]);
    let err = "modem did not answer AT+CSQ within 5s on /dev/ttyUSB2 — is another program using the port?";
    // First failure: stale at once, but no alarm for a hiccup.
    let mut i = inputs(T0 + 30, Some(&s));
    i.modem_error = Some(err);
    assert!(i.stale());
    assert!(m.evaluate(&i).is_empty());
    // Silent past the grace: modem_lost; the signal warning is neither cleared nor renewed.
    let mut i = inputs(T0 + 90, Some(&s));
    i.modem_error = Some(err);
    assert_eq!(raised(&m.evaluate(&i)), vec!["modem_lost"]);
    assert_eq!(
        codes(&m),
        vec!["modem_lost", "signal_weak"],
        "critical first"
    );
    let lost = &m.current()[0].message;
    assert!(lost.contains("since 2026-12-01T10:00:00Z"), "{lost}");
    assert!(
        lost.ends_with("using the port?"),
        "one stop, not '?.': {lost}"
    );
    // Back, with good signal: both clear.
    let s2 = snap(T0 + 120, -90.0);
    let ch = m.evaluate(&inputs(T0 + 120, Some(&s2)));
    let mut c = cleared(&ch);
    c.sort();
    assert_eq!(c, vec!["modem_lost", "signal_weak"]);
}

#[test]
fn a_modem_that_never_answered_is_lost_after_the_grace_since_start() {
    let mut m = AttentionModel::default();
    let mut i = inputs(T0, None);
    i.started_at = T0 - 30;
    i.modem_error = Some("no such file /dev/ttyUSB2");
    assert!(m.evaluate(&i).is_empty());
    i.now = T0 + 60;
    assert_eq!(raised(&m.evaluate(&i)), vec!["modem_lost"]);
    assert!(m.current()[0].message.contains("since simkeep started"));
}

#[test]
fn readings_older_than_the_limit_are_stale_even_without_an_error() {
    let s = snap(T0, -95.0);
    assert!(!inputs(T0 + 60, Some(&s)).stale());
    assert!(inputs(T0 + 61, Some(&s)).stale());
    assert!(inputs(T0, None).stale());
}

#[test]
fn store_trouble_is_critical() {
    let mut m = AttentionModel::default();
    let s = snap(T0, -95.0);
    let mut i = inputs(T0, Some(&s));
    i.store_error = Some("database or disk is full");
    assert_eq!(raised(&m.evaluate(&i)), vec!["store_unhealthy"]);
    assert!(m.current()[0].message.contains("disk is full"));
    i.store_error = None;
    assert_eq!(cleared(&m.evaluate(&i)), vec!["store_unhealthy"]);
}

fn topup(paused: bool, state: &str, clock: bool) -> TopupStatus {
    TopupStatus {
        enabled: true,
        paused,
        paused_reason: paused.then(|| "attempt #3 (menu) ended unknown: no confirmation".into()),
        clock_trusted: clock,
        last_attempt: Some(AttemptJson {
            id: 3,
            flow: "menu".into(),
            state: state.into(),
            started_at: "2026-12-01T09:00:00Z".into(),
            finished_at: None,
            price: "10".into(),
            currency: "EUR".into(),
            detail: String::new(),
            iccid: "8981100022152467221".into(),
            step: 2,
            transcript: vec![],
        }),
        ..TopupStatus::default()
    }
}

#[test]
fn top_up_conditions_name_the_reason() {
    let s = snap(T0, -95.0);
    let t = topup(true, "unknown", false);
    let mut i = inputs(T0, Some(&s));
    i.topup = Some(&t);
    let mut m = AttentionModel::default();
    let mut got = raised(&m.evaluate(&i));
    got.sort();
    assert_eq!(got, vec!["clock_untrusted", "topup_unverified"]);
    assert!(m.current()[0].message.contains("attempt #3"));
    let t = topup(true, "failed", true);
    i.topup = Some(&t);
    let ch = m.evaluate(&i);
    assert_eq!(raised(&ch), vec!["topup_paused"]);
    let mut c = cleared(&ch);
    c.sort();
    assert_eq!(c, vec!["clock_untrusted", "topup_unverified"]);
    // Top-ups off: their conditions do not apply.
    let mut t = topup(true, "unknown", false);
    t.enabled = false;
    i.topup = Some(&t);
    assert_eq!(cleared(&m.evaluate(&i)), vec!["topup_paused"]);
}

#[test]
fn the_overall_level_is_the_worst() {
    let w = Attention {
        code: Code::Roaming,
        level: Level::Warning,
        message: String::new(),
        since: T0,
    };
    let c = Attention {
        code: Code::SimPuk,
        level: Level::Critical,
        ..w.clone()
    };
    assert_eq!(overall(&[]), Overall::Ok);
    assert_eq!(overall(std::slice::from_ref(&w)), Overall::Warning);
    assert_eq!(overall(&[w, c]), Overall::Critical);
}
