//! Profile tests: detection, config names, and the build_* merge rules on real reply lines.

use super::super::model::{RegState, SimState};
use super::*;

fn replies(pairs: &[(&str, Result<&[&str], &str>)]) -> Replies {
    let mut r = Replies::new();
    for (cmd, outcome) in pairs {
        let o = match outcome {
            Ok(lines) => Ok(lines.iter().map(|s| s.to_string()).collect()),
            Err(e) => Err(e.to_string()),
        };
        r.insert(cmd, o);
    }
    r
}

#[test]
fn vendors_are_detected_from_manufacturer_or_model() {
    assert_eq!(Profile::detect("Quectel", "EC25"), Profile::Quectel);
    assert_eq!(Profile::detect("huawei", "E3372"), Profile::Huawei);
    assert_eq!(
        Profile::detect("SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H"),
        Profile::Simcom
    );
    assert_eq!(
        Profile::detect("Sierra Wireless, Incorporated", "EM7455"),
        Profile::Sierra
    );
    assert_eq!(Profile::detect("+CGMI: \"Fibocom\"", ""), Profile::Fibocom);
    assert_eq!(Profile::detect("Qualcomm", "RM520N-GL"), Profile::Quectel);
    assert_eq!(Profile::detect("ACME Modems", "X1"), Profile::Generic);
    assert_eq!(Profile::detect("", ""), Profile::Generic);
}

#[test]
fn config_names_map_to_profiles_and_bad_names_list_the_choices() {
    assert_eq!(Profile::from_config("auto"), Ok(None));
    assert_eq!(Profile::from_config("Huawei"), Ok(Some(Profile::Huawei)));
    let e = Profile::from_config("zte").unwrap_err();
    assert!(
        e.to_string().contains("\"zte\"") && e.to_string().contains("auto, generic, quectel"),
        "{e}"
    );
}

#[test]
fn every_profile_queries_identity_sim_and_registration() {
    for p in Profile::ALL {
        let info = p.info_commands();
        for cmd in [
            "AT+CGMI",
            "AT+CPIN?",
            "AT+CIMI",
            "AT+CCID",
            "AT+CEREG?",
            "AT+COPS=3,0;+COPS?",
        ] {
            assert!(info.contains(&cmd), "{p:?} lacks {cmd}");
        }
        assert!(
            p.signal_commands().ends_with(&["AT+CESQ", "AT+CSQ"]),
            "{p:?}"
        );
    }
    assert!(Profile::Huawei.init_commands().contains(&"AT^CURC=0"));
}

#[test]
fn identity_and_sim_come_from_generic_replies() {
    let r = replies(&[
        ("AT+CGMI", Ok(&["Quectel"])),
        ("AT+CGMM", Ok(&["EC25"])),
        ("AT+CGMR", Ok(&["EC25EFAR06A06M4G"])),
        ("AT+CGSN", Ok(&["356938035643809"])),
        ("AT+CPIN?", Ok(&["+CPIN: READY"])),
        ("AT+CIMI", Ok(&["440101234567890"])),
        ("AT+QCCID", Ok(&["+QCCID: 8981100022152467221F"])),
        ("AT+CNUM", Ok(&["+CNUM: ,\"+819012345678\",145"])),
    ]);
    let id = Profile::Quectel.build_identity(&r);
    assert_eq!(
        (id.manufacturer.as_deref(), id.model.as_deref()),
        (Some("Quectel"), Some("EC25"))
    );
    assert_eq!(id.imei.as_deref(), Some("356938035643809"));
    let sim = Profile::Quectel.build_sim(&r);
    assert_eq!(sim.state, Some(SimState::Ready));
    assert_eq!(sim.iccid.as_deref(), Some("8981100022152467221"));
    assert_eq!(
        (sim.home_mcc.as_deref(), sim.home_mnc.as_deref()),
        (Some("440"), Some("10"))
    );
    assert_eq!(sim.msisdn.as_deref(), Some("+819012345678"));
}

#[test]
fn a_sim_error_instead_of_cpin_gives_the_state_and_generic_ccid_fills_the_iccid() {
    let r = replies(&[
        ("AT+CPIN?", Err("+CME ERROR: 10")),
        ("AT^ICCID?", Err("ERROR")),
        ("AT+CCID", Ok(&["+CCID: 89811000221524672214"])),
    ]);
    let sim = Profile::Huawei.build_sim(&r);
    assert_eq!(
        (sim.state, sim.iccid.as_deref()),
        (Some(SimState::NotInserted), Some("89811000221524672214"))
    );
    assert_eq!(sim.imsi, None);
}

#[test]
fn registration_prefers_the_registered_5gs_answer_and_cops_for_name_and_plmn() {
    let r = replies(&[
        (
            "AT+C5GREG?",
            Ok(&["+C5GREG: 2,1,\"114000\",\"100072000\",11"]),
        ),
        ("AT+CEREG?", Ok(&["+CEREG: 2,0"])),
        ("AT+CREG?", Ok(&["+CREG: 2,0"])),
        ("AT+COPS=3,2;+COPS?", Ok(&["+COPS: 0,2,\"44010\",11"])),
        ("AT+COPS=3,0;+COPS?", Ok(&["+COPS: 0,0,\"NTT DOCOMO\",11"])),
    ]);
    let reg = Profile::Generic.build_registration(&r);
    assert_eq!(reg.state, Some(RegState::Home));
    assert_eq!(
        (reg.tech, reg.operator.as_deref()),
        (Some(Tech::Nr5gSa), Some("NTT DOCOMO"))
    );
    assert_eq!(
        (reg.mcc.as_deref(), reg.mnc.as_deref()),
        (Some("440"), Some("10"))
    );
    assert_eq!(
        (reg.tac, reg.cell_id),
        (Some(0x114000), Some(0x1_0007_2000))
    );
}

#[test]
fn vendor_cell_report_wins_and_generic_fills_the_gaps() {
    let r = replies(&[
        ("AT+CEREG?", Ok(&["+CEREG: 2,5,\"9999\",\"1\",7"])),
        (
            "AT+QENG=\"servingcell\"",
            Ok(&[
                "+QENG: \"servingcell\",\"NOCONN\"",
                "+QENG: \"LTE\",\"FDD\",515,03,3359966,1,150,1,5,5,4AA3,-89,-13,-58,16,15,20,-",
                "+QENG:\"NR5G-NSA\",515,03,832,-76,21,-11,528030,41,8,1",
            ]),
        ),
        ("AT+CSQ", Ok(&["+CSQ: 99,99"])),
    ]);
    let reg = Profile::Quectel.build_registration(&r);
    assert_eq!(
        (reg.state, reg.tech),
        (Some(RegState::Roaming), Some(Tech::Nr5gNsa))
    );
    assert_eq!(
        (reg.tac, reg.cell_id, reg.mcc.as_deref()),
        (Some(0x4AA3), Some(0x3359966), Some("515"))
    );
    let s = Profile::Quectel.build_signal(&r);
    assert_eq!((s.rsrp_dbm, s.rssi_dbm), (Some(-89.0), Some(-58.0)));
    assert_eq!(s.nr.as_ref().and_then(|n| n.rsrp_dbm), Some(-76.0));
    assert!(s.quality_pct.is_some());
}

#[test]
fn generic_signal_uses_cesq_then_csq_and_places_nr_values_by_what_is_present() {
    let r = replies(&[
        ("AT+CESQ", Ok(&["+CESQ: 99,99,255,255,20,80"])),
        ("AT+CSQ", Ok(&["+CSQ: 24,99"])),
    ]);
    let s = Profile::Generic.build_signal(&r);
    assert_eq!(
        (s.rsrp_dbm, s.rsrq_db, s.rssi_dbm, s.sinr_db),
        (Some(-61.0), Some(-10.0), Some(-65.0), None)
    );
    let r = replies(&[("AT+CESQ", Ok(&["+CESQ: 99,99,255,255,255,255,75,52,57"]))]);
    let s = Profile::Generic.build_signal(&r);
    assert_eq!(
        (s.rsrp_dbm, s.sinr_db, s.nr),
        (Some(-105.0), Some(5.0), None)
    );
    let r = replies(&[("AT+CESQ", Ok(&["+CESQ: 99,99,255,255,20,80,75,52,57"]))]);
    assert_eq!(
        Profile::Generic
            .build_signal(&r)
            .nr
            .and_then(|n| n.rsrp_dbm),
        Some(-105.0)
    );
}

#[test]
fn nothing_answered_means_every_field_is_unknown() {
    let r = replies(&[
        ("AT+CSQ", Err("ERROR")),
        ("AT+CESQ", Ok(&["+CESQ: 99,99,255,255,255,255"])),
    ]);
    for p in Profile::ALL {
        assert_eq!(p.build_signal(&r), Signal::default(), "{p:?}");
        assert_eq!(p.build_registration(&r), Registration::default(), "{p:?}");
        assert_eq!(p.build_identity(&r), ModemIdentity::default(), "{p:?}");
    }
}

#[test]
fn huawei_merges_hcsq_monsc_and_sysinfoex() {
    let r = replies(&[
        ("AT^HCSQ?", Ok(&["^HCSQ: \"LTE\",56,46,161,20"])),
        (
            "AT^MONSC",
            Ok(&["^MONSC: LTE,440,10,1500,1A2D001,7B,1234,-95,-10,-65"]),
        ),
        (
            "AT^SYSINFOEX",
            Ok(&["^SYSINFOEX:2,3,0,1,,6,\"LTE\",101,\"LTE\""]),
        ),
    ]);
    let s = Profile::Huawei.build_signal(&r);
    assert_eq!(
        (s.rssi_dbm, s.rsrp_dbm, s.sinr_db, s.rsrq_db),
        (Some(-65.0), Some(-95.0), Some(12.0), Some(-10.0))
    );
    assert_eq!((s.earfcn, s.pci), (Some(1500), Some(0x7B)));
    let reg = Profile::Huawei.build_registration(&r);
    assert_eq!(
        (reg.tech, reg.tac, reg.cell_id),
        (Some(Tech::Lte), Some(0x1234), Some(0x1A2D001))
    );
}

#[test]
fn a_legacy_not_registered_next_to_an_nr_operator_is_unknown_not_unregistered() {
    let r = replies(&[
        ("AT+CREG?", Ok(&["+CREG: 2,0"])),
        ("AT+CEREG?", Err("ERROR")),
        ("AT+COPS=3,0;+COPS?", Ok(&["+COPS: 0,0,\"T-Mobile\",11"])),
        ("AT+CSQ", Ok(&["+CSQ: 99,99"])),
    ]);
    let reg = Profile::Generic.build_registration(&r);
    assert_eq!(
        (reg.state, reg.tech, reg.operator.as_deref()),
        (
            Some(RegState::Unknown),
            Some(Tech::Nr5gSa),
            Some("T-Mobile")
        )
    );
    let r = replies(&[
        ("AT+CREG?", Ok(&["+CREG: 0,2"])),
        ("AT+COPS=3,0;+COPS?", Ok(&["+COPS: 0"])),
    ]);
    assert_eq!(
        Profile::Generic.build_registration(&r).state,
        Some(RegState::Searching)
    );
}
