//! Tests for `counters`. Modem lines say where they come from.

use super::*;
use proptest::prelude::*;

const WRAP: u64 = 1 << 32;

fn sysfs(rx: &str, tx: &str, ifindex: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let stats = dir.path().join("wwan0").join("statistics");
    std::fs::create_dir_all(&stats).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(stats.join("rx_bytes"), rx).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(stats.join("tx_bytes"), tx).unwrap_or_else(|e| panic!("{e}"));
    if let Some(i) = ifindex {
        std::fs::write(dir.path().join("wwan0").join("ifindex"), i)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

#[test]
fn interface_counters_are_read_from_sysfs() {
    let dir = sysfs("113728263578\n", "1397316870\n", Some("7\n"));
    let c = read_iface_counters(dir.path(), "wwan0").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.traffic,
        Traffic {
            rx_bytes: 113_728_263_578,
            tx_bytes: 1_397_316_870
        }
    );
    assert_eq!(c.ifindex, Some(7));
    let no_index = sysfs("1", "2", None);
    assert_eq!(
        read_iface_counters(no_index.path(), "wwan0")
            .ok()
            .and_then(|c| c.ifindex),
        None
    );
}

#[test]
fn sysfs_errors_name_the_path() {
    let dir = sysfs("12", "34", None);
    let err = read_iface_counters(dir.path(), "wwan1")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("wwan1/statistics/rx_bytes"), "{err}");
    let bad = sysfs("lots\n", "34", None);
    match read_iface_counters(bad.path(), "wwan0") {
        Err(CounterError::Parse { path, text }) => {
            assert!(path.ends_with("statistics/rx_bytes"));
            assert_eq!(text, "lots\n");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn interface_names_cannot_escape_the_sysfs_root() {
    let dir = sysfs("1", "2", None);
    for bad in [
        "",
        "..",
        ".",
        "../etc",
        "a/b",
        "wwan0 ",
        "sixteen-chars-xx",
        "nul\0",
    ] {
        assert!(
            matches!(
                read_iface_counters(dir.path(), bad),
                Err(CounterError::BadInterface { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn quectel_qgdcnt_replies_parse_sent_first() {
    // Real: public Quectel EM12 field notes (`AT+QGDCNT?` on EM12GPAR01A21M4G_02.001.02.001).
    assert_eq!(
        parse_qgdcnt("+QGDCNT: 237505722,614994307\r\nOK\r\n"),
        Ok(Traffic {
            tx_bytes: 237_505_722,
            rx_bytes: 614_994_307
        })
    );
    // Real: a 1NCE test log (public GitHub notes): "TX 15.3 KB / RX 59.6 KB".
    assert_eq!(
        parse_qgdcnt("AT+QGDCNT?   +QGDCNT: 15298,59586"),
        Ok(Traffic {
            tx_bytes: 15_298,
            rx_bytes: 59_586
        })
    );
    // Real: comment in a modem web UI (public GitHub).
    assert_eq!(
        parse_qgdcnt("\r\n+QGDCNT: 3554772,46092526\r\n\r\nOK\r\n"),
        Ok(Traffic {
            tx_bytes: 3_554_772,
            rx_bytes: 46_092_526
        })
    );
    // Constructed: values past u32 (RM5xx firmware keeps 64-bit counters); none found verbatim.
    assert_eq!(
        parse_qgdcnt("+QGDCNT: 5000000000,113728263578"),
        Ok(Traffic {
            tx_bytes: 5_000_000_000,
            rx_bytes: 113_728_263_578
        })
    );
}

#[test]
fn malformed_qgdcnt_replies_are_errors() {
    for bad in [
        "",
        "OK",
        "+QGDCNT: 12",
        "+QGDCNT: 1,2,3",
        "+QGDCNT: -1,2",
        "+QGDCNT: a,b",
        "+QGDCNT: 99999999999999999999,1",
    ] {
        assert!(parse_qgdcnt(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn huawei_dsflowqry_replies_parse_as_hex() {
    // Real: comment in a Huawei modem tool's C source (public GitHub); total_rx exceeds u32.
    let f = parse_dsflowqry(
        "^DSFLOWQRY:00000E8E,0000000000333ACC,000000000A93E9AD,007B3514,000000007C0E5F69,00000007AD1AE9C6",
    );
    assert_eq!(
        f,
        Ok(DsFlow {
            last_ds_secs: 0xE8E,
            last: Traffic {
                tx_bytes: 0x333ACC,
                rx_bytes: 0xA93E9AD
            },
            total_ds_secs: 0x7B3514,
            total: Traffic {
                tx_bytes: 0x7C0E5F69,
                rx_bytes: 0x7_AD1A_E9C6
            },
        })
    );
    assert!(f
        .map(|f| f.total.rx_bytes > u64::from(u32::MAX))
        .unwrap_or(false));
    // Real: an OpenWrt modem script's test fixture (public GitHub), with a space, then with the
    // values on the next line.
    let inline = "^DSFLOWQRY: 0000002D,0000000000019A01,0000000000736A52,0000002D,0000000000019A01,0000000000736A52\nOK";
    let newline = "^DSFLOWQRY:\n0000003A,0000000000015863,0000000000834B41,0000003A,0000000000015863,0000000000834B41\nOK";
    assert_eq!(
        parse_dsflowqry(inline).map(|f| f.total),
        Ok(Traffic {
            tx_bytes: 0x19A01,
            rx_bytes: 0x736A52
        })
    );
    assert_eq!(parse_dsflowqry(newline).map(|f| f.last_ds_secs), Ok(0x3A));
}

#[test]
fn malformed_dsflowqry_replies_are_errors() {
    // Real: a three-field line from a Go modem tool's tests; not the documented layout.
    for bad in [
        "^DSFLOWQRY:001A,0D49,2BE3",
        "",
        "^DSFLOWQRY:",
        "^DSFLOWQRY: 1,2,3,4,5,XYZ",
        "^DSFLOWQRY: 1,2,3,4,5,11112222333344445",
    ] {
        assert!(parse_dsflowqry(bad).is_err(), "{bad:?}");
    }
    let msg = parse_dsflowqry("^DSFLOWQRY: 1,2")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("six"), "{msg}");
}

#[test]
fn growing_counters_accumulate_and_the_first_reading_is_a_baseline() {
    let mut t = CounterTracker::new();
    assert_eq!(t.observe(1000, 0, false), Step::Baseline);
    assert_eq!(t.observe(1500, 30, false), Step::Delta(500));
    assert_eq!(t.observe(1500, 60, false), Step::Delta(0));
    assert_eq!(t.total(), 500);
}

#[test]
fn a_32_bit_counter_passing_2_pow_32_is_a_wrap() {
    let mut t = CounterTracker::new();
    t.observe(WRAP - 1_000, 0, false);
    assert_eq!(t.observe(5_000, 30, false), Step::Wrapped(6_000));
    assert_eq!(t.total(), 6_000);
}

#[test]
fn a_counter_going_down_from_mid_range_is_a_reset_counted_from_zero() {
    let mut t = CounterTracker::new();
    t.observe(2_500_000_000, 0, false);
    // 2^32 - 2.5e9 + 10_000 ≈ 1.8 GB in 1 s: impossible at 300 MB/s, so a reset.
    assert_eq!(t.observe(10_000, 1, false), Step::Reset(10_000));
    // Over an hour any rate is possible, but a wrap from 1e9 would mean 2^32 - 1e9 + 10_000
    // ≈ 3.3e9 bytes, more than half the range (RFC 1982): a reset.
    let mut u = CounterTracker::new();
    u.observe(1_000_000_000, 0, false);
    assert_eq!(u.observe(10_000, 3600, false), Step::Reset(10_000));
}

#[test]
fn a_64_bit_counter_never_wraps() {
    let mut t = CounterTracker::new();
    t.observe(WRAP + 5, 0, false);
    t.observe(WRAP + 10, 30, false);
    assert_eq!(t.observe(100, 60, false), Step::Reset(100));
    // Once seen wide, even a value that looks like a 32-bit wrap is a reset.
    t.observe(WRAP - 10, 90, false);
    assert_eq!(t.observe(10, 120, false), Step::Reset(10));
}

#[test]
fn a_known_restart_is_a_reset_even_when_the_value_grew() {
    let mut t = TrafficTracker::new();
    t.observe(
        Traffic {
            rx_bytes: 100,
            tx_bytes: 50,
        },
        Some(7),
        0,
    );
    assert_eq!(
        t.observe(
            Traffic {
                rx_bytes: 300,
                tx_bytes: 60
            },
            Some(7),
            30
        ),
        210
    );
    // The interface was re-created (ifindex 7 → 9) and has already counted 400 + 70 bytes.
    assert_eq!(
        t.observe(
            Traffic {
                rx_bytes: 400,
                tx_bytes: 70
            },
            Some(9),
            60
        ),
        470
    );
    // Unknown generation is never a change.
    assert_eq!(
        t.observe(
            Traffic {
                rx_bytes: 500,
                tx_bytes: 70
            },
            None,
            90
        ),
        100
    );
    assert_eq!(t.total(), 780);
}

#[test]
fn rebaselining_skips_what_happened_meanwhile() {
    let mut t = TrafficTracker::new();
    t.observe(
        Traffic {
            rx_bytes: 100,
            tx_bytes: 0,
        },
        None,
        0,
    );
    t.rebaseline();
    assert_eq!(
        t.observe(
            Traffic {
                rx_bytes: 900,
                tx_bytes: 0
            },
            None,
            30
        ),
        0
    );
    assert_eq!(t.total(), 0);
}

#[test]
fn trackers_round_trip_through_serde() {
    let mut t = TrafficTracker::new();
    t.observe(
        Traffic {
            rx_bytes: 100,
            tx_bytes: 5,
        },
        Some(3),
        0,
    );
    t.observe(
        Traffic {
            rx_bytes: 200,
            tx_bytes: 5,
        },
        Some(3),
        30,
    );
    let json = serde_json::to_string(&t).unwrap_or_default();
    let back: TrafficTracker = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, t);
}

proptest! {
    #[test]
    fn totals_never_decrease_and_never_panic(
        steps in proptest::collection::vec((any::<u64>(), -100i64..100_000, any::<bool>()), 1..60),
    ) {
        let mut t = CounterTracker::new();
        let mut now = 0i64;
        let mut before = 0;
        for (raw, dt, restart) in steps {
            now = now.saturating_add(dt);
            t.observe(raw, now, restart);
            prop_assert!(t.total() >= before);
            before = t.total();
        }
    }

    #[test]
    fn monotonic_readings_sum_exactly(incs in proptest::collection::vec(0u64..1_000_000_000, 1..50)) {
        let mut t = CounterTracker::new();
        let mut raw = 12_345u64;
        t.observe(raw, 0, false);
        for (i, inc) in incs.iter().enumerate() {
            raw += inc;
            t.observe(raw, i64::try_from(i + 1).unwrap_or(0) * 30, false);
        }
        prop_assert_eq!(t.total(), incs.iter().sum::<u64>());
    }

    #[test]
    fn a_32_bit_counter_wrapping_at_any_point_counts_exactly(start in 0u64..WRAP, inc in 1u64..2_000_000_000) {
        let mut t = CounterTracker::new();
        t.observe(start, 0, false);
        t.observe((start + inc) % WRAP, 30, false);
        prop_assert_eq!(t.total(), inc);
    }

    #[test]
    fn arbitrary_modem_replies_never_panic(s in "\\PC{0,120}") {
        let _ = parse_qgdcnt(&s);
        let _ = parse_dsflowqry(&s);
        let _ = parse_qgdcnt(&format!("+QGDCNT: {s}"));
        let _ = parse_dsflowqry(&format!("^DSFLOWQRY:{s}"));
    }
}
