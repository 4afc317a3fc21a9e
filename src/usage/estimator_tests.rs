//! Tests for `estimator`: sources combined, cycles rolled, SIMs swapped and restored.

use super::super::{cycle::Cycle, tz::TimeZone, units::UnitBase};
use super::*;
use proptest::prelude::*;

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;
/// 2024-03-10T00:00:00Z, a Sunday; Tokyo midnight of 2024-03-11 is 2024-03-10T15:00:00Z.
const T0: i64 = 1_710_028_800;

fn plan(quota: Option<u64>, cycle: Cycle, tz: &str) -> Plan {
    Plan {
        quota_bytes: quota,
        cycle,
        tz: TimeZone::parse(tz).unwrap_or_else(|e| panic!("{e}")),
        unit_base: UnitBase::Binary,
    }
}

fn monthly_tokyo(quota: u64) -> Plan {
    plan(Some(quota), Cycle::Monthly { reset_day: 1 }, "Asia/Tokyo")
}

fn iface(rx: u64, tx: u64) -> IfaceCounters {
    IfaceCounters {
        traffic: Traffic {
            rx_bytes: rx,
            tx_bytes: tx,
        },
        ifindex: Some(4),
    }
}

fn reading(remaining: u64) -> CarrierReading {
    CarrierReading {
        remaining_bytes: remaining,
        matched_text: "剩余流量".into(),
    }
}

fn report(e: &Estimator, now: i64) -> UsageReport {
    e.report(now).unwrap_or_else(|| panic!("no active SIM"))
}

#[test]
fn interface_counts_give_used_and_remaining_without_a_carrier_figure() {
    let mut e = Estimator::new(EstimatorConfig::default());
    e.activate_sim("8981100000000000001", monthly_tokyo(GB), T0);
    assert_eq!(
        e.observe_interface(&iface(1_000, 2_000), T0),
        0,
        "first reading is a baseline"
    );
    assert_eq!(
        e.observe_interface(&iface(1_000 + 60 * MB, 2_000 + 40 * MB), T0 + 30),
        100 * MB
    );
    let r = report(&e, T0 + 40);
    assert_eq!(r.used_bytes, Some(100 * MB));
    assert_eq!(r.remaining_bytes, Some(GB - 100 * MB));
    assert_eq!(r.source, Some(Source::Interface));
    assert_eq!(r.as_of, Some(T0 + 30));
    assert_eq!(r.age_secs, Some(10));
    assert_eq!(r.carrier_as_of, None);
    // March 2024 in Tokyo: 2024-02-29T15:00Z .. 2024-03-31T15:00Z.
    assert_eq!((r.cycle_start, r.cycle_end), (1_709_218_800, 1_711_897_200));
}

#[test]
fn a_fresh_carrier_reading_is_authoritative_and_carried_forward() {
    let mut e = Estimator::new(EstimatorConfig::default());
    e.activate_sim("A", monthly_tokyo(20 * GB), T0);
    e.observe_interface(&iface(0, 0), T0);
    e.observe_interface(&iface(10 * MB, 0), T0 + 30);
    assert!(e.record_carrier(&reading(500 * MB), T0 + 60));
    let r = report(&e, T0 + 61);
    assert_eq!(r.remaining_bytes, Some(500 * MB));
    assert_eq!(
        r.used_bytes,
        Some(20 * GB - 500 * MB),
        "the carrier's view of used"
    );
    assert_eq!((r.source, r.as_of), (Some(Source::Carrier), Some(T0 + 60)));
    e.observe_interface(&iface(60 * MB, 0), T0 + 90);
    let r = report(&e, T0 + 91);
    assert_eq!(r.remaining_bytes, Some(450 * MB));
    assert_eq!(
        (r.source, r.as_of, r.carrier_as_of),
        (Some(Source::Interface), Some(T0 + 90), Some(T0 + 60))
    );
}

#[test]
fn a_stale_carrier_reading_is_ignored() {
    let cfg = EstimatorConfig {
        carrier_max_age_secs: 3600,
        ..EstimatorConfig::default()
    };
    let mut e = Estimator::new(cfg);
    e.activate_sim("A", monthly_tokyo(GB), T0);
    e.observe_interface(&iface(0, 0), T0);
    e.record_carrier(&reading(10 * MB), T0 + 10);
    e.observe_interface(&iface(100 * MB, 0), T0 + 3700);
    let r = report(&e, T0 + 3700);
    assert_eq!(r.remaining_bytes, Some(GB - 100 * MB));
    assert_eq!(r.source, Some(Source::Interface));
    assert_eq!(r.carrier_as_of, Some(T0 + 10), "still shown, not used");
}

#[test]
fn modem_counters_are_preferred_while_fresh() {
    let mut e = Estimator::new(EstimatorConfig::default());
    e.activate_sim("A", monthly_tokyo(GB), T0);
    e.observe_interface(&iface(0, 0), T0);
    e.observe_modem(
        Traffic {
            rx_bytes: 0,
            tx_bytes: 0,
        },
        Some(1),
        T0,
    );
    e.observe_interface(&iface(100 * MB, 0), T0 + 30);
    e.observe_modem(
        Traffic {
            rx_bytes: 90 * MB,
            tx_bytes: 15 * MB,
        },
        Some(1),
        T0 + 30,
    );
    let r = report(&e, T0 + 31);
    assert_eq!(
        (r.source, r.used_bytes),
        (Some(Source::Modem), Some(105 * MB))
    );
    // The modem stops answering: after `modem_stale_secs` the interface takes over.
    e.observe_interface(&iface(200 * MB, 0), T0 + 900);
    let r = report(&e, T0 + 900);
    assert_eq!(
        (r.source, r.used_bytes),
        (Some(Source::Interface), Some(200 * MB))
    );
}

#[test]
fn the_cycle_resets_at_the_carriers_midnight_and_drops_old_readings() {
    let cfg = EstimatorConfig {
        carrier_max_age_secs: 24 * 3600,
        ..EstimatorConfig::default()
    };
    let mut e = Estimator::new(cfg);
    let daily = plan(Some(GB), Cycle::Daily, "Asia/Tokyo");
    e.activate_sim("A", daily, T0);
    e.observe_interface(&iface(0, 0), T0);
    e.observe_interface(&iface(300 * MB, 0), T0 + 3600);
    e.record_carrier(&reading(700 * MB), T0 + 3600);
    let tokyo_midnight = T0 + 15 * 3600; // 2024-03-11 00:00 JST
    let r = report(&e, tokyo_midnight - 1);
    assert_eq!(r.remaining_bytes, Some(700 * MB));
    // Before any new reading, the report already shows the new day as empty.
    let r = report(&e, tokyo_midnight);
    assert_eq!(
        (r.used_bytes, r.remaining_bytes, r.carrier_as_of),
        (Some(0), Some(GB), None)
    );
    assert_eq!(r.cycle_start, tokyo_midnight);
    e.observe_interface(&iface(310 * MB, 0), tokyo_midnight + 30);
    let r = report(&e, tokyo_midnight + 30);
    assert_eq!(
        (r.used_bytes, r.source),
        (Some(10 * MB), Some(Source::Interface))
    );
}

#[test]
fn swapping_sims_switches_counts_and_swapping_back_resumes() {
    let mut e = Estimator::new(EstimatorConfig::default());
    e.activate_sim("A", monthly_tokyo(20 * GB), T0);
    e.observe_interface(&iface(0, 0), T0);
    e.observe_interface(&iface(100 * MB, 0), T0 + 30);
    // SIM B goes in; the first reading after the swap is its baseline.
    let b_plan = plan(Some(GB), Cycle::Daily, "Europe/Berlin");
    e.activate_sim("B", b_plan.clone(), T0 + 60);
    assert_eq!(e.observe_interface(&iface(150 * MB, 0), T0 + 90), 0);
    e.observe_interface(&iface(180 * MB, 0), T0 + 120);
    assert_eq!(report(&e, T0 + 120).used_bytes, Some(30 * MB));
    assert_eq!(report(&e, T0 + 120).quota_bytes, Some(GB));
    // Back to A: its count resumes at 100 MB.
    e.activate_sim("A", monthly_tokyo(20 * GB), T0 + 150);
    e.observe_interface(&iface(200 * MB, 0), T0 + 180);
    e.observe_interface(&iface(205 * MB, 0), T0 + 210);
    let a = report(&e, T0 + 210);
    assert_eq!(
        (a.iccid.as_str(), a.used_bytes, a.quota_bytes),
        ("A", Some(105 * MB), Some(20 * GB))
    );
    assert_eq!(
        e.report_for("B", T0 + 210).and_then(|r| r.used_bytes),
        Some(30 * MB)
    );
}

#[test]
fn swapping_back_after_the_cycle_ended_starts_a_new_cycle() {
    let mut e = Estimator::new(EstimatorConfig::default());
    let daily = plan(Some(GB), Cycle::Daily, "UTC");
    e.activate_sim("A", daily.clone(), T0);
    e.observe_interface(&iface(0, 0), T0);
    e.observe_interface(&iface(100 * MB, 0), T0 + 30);
    e.activate_sim("B", daily.clone(), T0 + 60);
    e.activate_sim("A", daily, T0 + 86_400 + 60);
    let r = report(&e, T0 + 86_400 + 60);
    assert_eq!((r.used_bytes, r.cycle_start), (Some(0), T0 + 86_400));
}

#[test]
fn state_survives_a_restart_through_serde() {
    let mut e = Estimator::new(EstimatorConfig::default());
    e.activate_sim("A", monthly_tokyo(GB), T0);
    e.observe_interface(&iface(0, 0), T0);
    e.observe_interface(&iface(100 * MB, 0), T0 + 30);
    e.record_carrier(&reading(800 * MB), T0 + 40);
    let json = serde_json::to_string(e.state()).unwrap_or_default();
    let state: UsageState =
        serde_json::from_str(&json).unwrap_or_else(|err| panic!("{err}: {json}"));
    let mut back = Estimator::from_state(EstimatorConfig::default(), state);
    assert_eq!(back.report(T0 + 50), e.report(T0 + 50));
    back.observe_interface(&iface(110 * MB, 0), T0 + 60);
    assert_eq!(report(&back, T0 + 60).remaining_bytes, Some(790 * MB));
}

#[test]
fn the_json_report_has_the_fields_scripts_rely_on() {
    let mut e = Estimator::new(EstimatorConfig::default());
    e.activate_sim("A", monthly_tokyo(GB), T0);
    let json = serde_json::to_value(report(&e, T0)).unwrap_or_default();
    for key in [
        "used_bytes",
        "quota_bytes",
        "remaining_bytes",
        "source",
        "as_of",
        "cycle_start",
        "cycle_end",
        "runs_out_at",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert_eq!(json["source"], serde_json::Value::Null);
    e.observe_interface(&iface(0, 0), T0);
    e.observe_interface(&iface(1, 0), T0 + 1);
    let json = serde_json::to_value(report(&e, T0 + 1)).unwrap_or_default();
    assert_eq!(json["source"], "interface");
}

#[test]
fn steady_use_forecasts_when_the_data_runs_out() {
    let mut e = Estimator::new(EstimatorConfig::default());
    e.activate_sim("A", monthly_tokyo(GB), T0);
    for i in 0..=12 {
        e.observe_interface(
            &iface(i * 10 * MB, 0),
            T0 + i64::try_from(i).unwrap_or(0) * 300,
        );
    }
    // 120 MB used in an hour; 904 MB left at 10 MB / 5 min runs out in 452 min.
    let r = report(&e, T0 + 3600);
    assert_eq!(r.remaining_bytes, Some(GB - 120 * MB));
    // The rate is a float: allow a second of rounding.
    let eta = r.runs_out_at.unwrap_or(0);
    assert!((eta - (T0 + 3600 + 904 * 30)).abs() <= 1, "{eta}");
    assert_eq!(r.burn_bytes_per_day, Some(10 * MB * 12 * 24));
}

#[test]
fn no_active_sim_means_no_report_and_no_credit() {
    let mut e = Estimator::new(EstimatorConfig::default());
    assert_eq!(e.observe_interface(&iface(5, 5), T0), 0);
    assert!(!e.record_carrier(&reading(1), T0));
    assert_eq!(e.report(T0), None);
}

#[test]
fn only_the_most_recent_sims_are_remembered() {
    let mut e = Estimator::new(EstimatorConfig {
        max_sims: 2,
        ..EstimatorConfig::default()
    });
    let p = monthly_tokyo(GB);
    e.activate_sim("A", p.clone(), T0);
    e.activate_sim("B", p.clone(), T0 + 1);
    e.activate_sim("C", p, T0 + 2);
    assert!(e.state().sim("A").is_none());
    assert!(e.state().sim("B").is_some() && e.state().sim("C").is_some());
}

proptest! {
    #[test]
    fn any_sequence_of_events_never_panics_and_stays_within_quota(
        ops in proptest::collection::vec((0u8..5, any::<u32>(), 0i64..200_000), 1..80),
    ) {
        let mut e = Estimator::new(EstimatorConfig { max_sims: 2, ..EstimatorConfig::default() });
        let mut now = T0;
        let mut raw = 0u64;
        for (op, v, dt) in ops {
            now += dt;
            match op {
                0 => e.activate_sim(["A", "B", "C"][usize::try_from(v % 3).unwrap_or(0)], monthly_tokyo(GB), now),
                1 => { raw = raw.wrapping_add(u64::from(v)); e.observe_interface(&iface(raw, 0), now); }
                2 => { e.observe_modem(Traffic { rx_bytes: u64::from(v), tx_bytes: 0 }, Some(u64::from(v % 2)), now); }
                3 => { e.record_carrier(&reading(u64::from(v)), now); }
                _ => { e.observe_interface(&iface(u64::from(v), 0), now); }
            }
            if let Some(r) = e.report(now) {
                prop_assert!(r.cycle_start <= now && now < r.cycle_end);
                if r.carrier_as_of.is_none() {
                    prop_assert!(r.remaining_bytes.unwrap_or(0) <= GB);
                }
                if let Some(t) = r.runs_out_at { prop_assert!(t >= now); }
            }
        }
    }
}
