//! Each simulated modem personality through the whole real path: the `simkeep` binary opens the
//! pty, the engine talks AT, the profile is detected and parses the vendor's own formats, and
//! `info --json` / `signal --json` must report every value the simulator was set to (and `null`
//! exactly where that vendor's commands cannot carry a value).

mod support;

use std::process::Command;

use serde_json::{json, Value};
use simkeep::sim::{Personality, SimOptions};
use support::{Rig, EXACT_RADIO};

fn run(rig: &Rig, what: &str) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_simkeep"))
        .args([
            what,
            "--json",
            "--port",
            rig.link().to_str().unwrap(),
            "--lock-dir",
            rig.lock_dir().to_str().unwrap(),
        ])
        .output()
        .expect("run simkeep");
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

fn rig(p: Personality) -> Rig {
    let mut opts = SimOptions::new(p);
    opts.radio = p.default_radio();
    for (k, v) in EXACT_RADIO {
        opts.radio
            .set(k, v)
            .unwrap_or_else(|e| panic!("{}: set {k}: {e}", p.name()));
    }
    Rig::with(opts)
}

fn check_info(p: Personality, info: &Value, tech: &str) {
    let ctx = p.name();
    assert_eq!(
        info["modem"],
        json!({"manufacturer": p.manufacturer(), "model": p.model(), "revision": p.revision(), "imei": "490154203237518"}),
        "{ctx}"
    );
    assert_eq!(info["sim"]["state"], "ready", "{ctx}");
    assert_eq!(info["sim"]["iccid"], "8981200012345678901", "{ctx}");
    assert_eq!(info["sim"]["imsi"], "440201234567890", "{ctx}");
    assert_eq!(info["sim"]["msisdn"], "+818012345678", "{ctx}");
    assert_eq!(
        info["registration"],
        json!({"state": "home", "tech": tech, "operator": "SoftBank", "mcc": "440", "mnc": "20",
               "tac": 0x5A5A, "cell_id": 0x2B3C4D5}),
        "{ctx}"
    );
}

/// `null` where the vendor's commands cannot carry the value (documented in each profile).
fn expected_lte_signal(p: Personality) -> Value {
    let (sinr, band, earfcn, pci) = match p {
        Personality::Generic => (false, false, false, false),
        Personality::HuaweiE3372 => (true, false, true, true),
        Personality::SierraEm7455 => (true, true, true, false),
        _ => (true, true, true, true),
    };
    let opt = |ok: bool, v: Value| if ok { v } else { Value::Null };
    json!({
        "rssi_dbm": -71.0, "rsrp_dbm": -101.0, "rsrq_db": -12.0,
        "sinr_db": opt(sinr, json!(14.0)), "band": opt(band, json!(1)), "earfcn": opt(earfcn, json!(300)),
        "pci": opt(pci, json!(77)), "nr": null,
    })
}

#[test]
fn every_personality_reports_what_it_was_set_to_over_the_pty() {
    for &p in Personality::all() {
        if p == Personality::QuectelRm520n {
            continue; // 5G NSA: its own test below
        }
        let rig = rig(p);
        check_info(p, &run(&rig, "info"), "lte");
        let mut signal = run(&rig, "signal")["signal"].clone();
        let quality = signal["quality_pct"].take();
        assert!(
            quality.as_u64().is_some_and(|q| q <= 100),
            "{}: quality {quality}",
            p.name()
        );
        signal.as_object_mut().unwrap().remove("quality_pct");
        assert_eq!(signal, expected_lte_signal(p), "{}", p.name());
    }
}

#[test]
fn a_5g_nsa_modem_reports_the_lte_anchor_and_the_nr_leg() {
    let p = Personality::QuectelRm520n;
    let rig = rig(p);
    check_info(p, &run(&rig, "info"), "nr5g_nsa");
    let s = &run(&rig, "signal")["signal"];
    assert_eq!(s["rsrp_dbm"], -101.0);
    assert_eq!(s["band"], 1);
    assert_eq!(
        s["nr"],
        json!({"rsrp_dbm": -90.0, "rsrq_db": -11.0, "sinr_db": 20.0, "band": 78, "arfcn": 640000})
    );
}

#[test]
fn a_changed_radio_value_shows_in_the_next_reading() {
    let rig = rig(Personality::QuectelEc25);
    assert_eq!(run(&rig, "signal")["signal"]["rsrp_dbm"], -101.0);
    rig.sim.set("rsrp", "-117").unwrap();
    assert_eq!(run(&rig, "signal")["signal"]["rsrp_dbm"], -117.0);
}
