//! Profile tests: detection, config names, and the build_* merge rules on real reply lines.

use super::super::model::{RegState, SimState};
use super::*;

fn replies(pairs: &[(Query, Result<&[&str], &str>)]) -> Replies {
    let mut r = Replies::new();
    for (cmd, outcome) in pairs {
        let o = match outcome {
            Ok(lines) => Ok(lines.iter().map(|s| s.to_string()).collect()),
            Err(e) => Err(e.to_string()),
        };
        r.insert(*cmd, o);
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
fn every_profile_declares_each_question_once_with_the_generic_rates() {
    use std::collections::HashSet;
    let rate = |p: Profile, q: Query| p.queries().iter().find(|d| d.query == q).map(|d| d.rate);
    for p in Profile::ALL {
        let all = p.queries();
        let mut seen = HashSet::new();
        for d in &all {
            assert!(seen.insert(d.query), "{p:?} declares {:?} twice", d.query);
        }
        for (q, want) in [
            (Query::Manufacturer, Rate::PerConnection),
            (Query::Imei, Rate::PerConnection),
            (Query::SimState, Rate::EveryPoll),
            (Query::Iccid, Rate::EveryPoll),
            (Query::Imsi, Rate::PerSim),
            (Query::OwnNumber, Rate::PerSim),
            (Query::Operator, Rate::EveryPoll),
            (Query::OperatorName, Rate::OnChange),
            (Query::Registration(RegKind::Cereg), Rate::EveryPoll),
            (Query::Cesq, Rate::EveryPoll),
            (Query::Csq, Rate::EveryPoll),
        ] {
            assert_eq!(rate(p, q), Some(want), "{p:?} {q:?}");
        }
        let signal: Vec<Query> = p.signal_queries().iter().map(|d| d.query).collect();
        assert!(
            signal.ends_with(&[Query::Cesq, Query::Csq]),
            "{p:?}: {signal:?}"
        );
        assert!(
            p.info_queries().iter().all(|d| d.feeds != Feeds::Signal),
            "{p:?}"
        );
        // The vendor ICCID is tried first, `AT+CCID` after it.
        assert_eq!(p.iccid_queries().last(), Some(&Query::Iccid), "{p:?}");
        assert_eq!(&p.init_commands()[..5], INIT_27007, "{p:?}");
    }
}

/// What each vendor sends beyond 3GPP, in order: ICCID read, cell/signal reads, extra init,
/// data counters.
#[test]
fn each_vendor_declares_its_own_commands() {
    type Row = (
        Profile,
        Option<&'static str>,
        &'static [&'static str],
        &'static [&'static str],
        Option<&'static str>,
    );
    let table: [Row; 6] = [
        (Profile::Generic, None, &[], &[], None),
        (
            Profile::Quectel,
            Some("AT+QCCID"),
            &["AT+QENG=\"servingcell\"", "AT+QCSQ", "AT+QNWINFO"],
            &[],
            Some("AT+QGDCNT?"),
        ),
        (
            Profile::Huawei,
            Some("AT^ICCID?"),
            &["AT^HCSQ?", "AT^MONSC", "AT^SYSINFOEX"],
            &["AT^CURC=0"],
            Some("AT^DSFLOWQRY"),
        ),
        (Profile::Simcom, Some("AT+CICCID"), &["AT+CPSI?"], &[], None),
        (
            Profile::Sierra,
            Some("AT!ICCID?"),
            &["AT!GSTATUS?"],
            &[],
            None,
        ),
        (
            Profile::Fibocom,
            Some("AT+ICCID"),
            &["AT+GTCCINFO?"],
            &[],
            None,
        ),
    ];
    for (p, iccid, cell, init, counters) in table {
        let params = p.params();
        assert_eq!(params.iccid.map(|q| q.spec().read), iccid, "{p:?}");
        let got: Vec<&str> = params.cell.iter().map(|d| d.query.spec().read).collect();
        assert_eq!(got, cell, "{p:?}");
        assert_eq!(params.init, init, "{p:?}");
        assert_eq!(params.counters.map(|q| q.spec().read), counters, "{p:?}");
        // Cell reads parse as cell reports, ICCID reads as ICCIDs, counters as counters.
        assert!(params
            .cell
            .iter()
            .all(|d| matches!(d.query.spec().reads, Reads::Cell(_))));
        assert!(params.iccid.is_none_or(Query::is_iccid), "{p:?}");
        assert!(params
            .counters
            .is_none_or(|q| matches!(q.spec().reads, Reads::Counters(_))));
    }
}

#[test]
fn timeouts_follow_the_manuals_and_the_operator_name_is_three_wire_commands() {
    let table = [
        (Query::Manufacturer, QUICK),
        (Query::Csq, QUICK),
        (Query::Registration(RegKind::C5greg), QUICK),
        (Query::SimState, SIM),
        (Query::QuectelServingCell, CELL),
        (Query::HuaweiServingCell, CELL),
        (Query::SimcomServingCell, CELL),
        (Query::Operator, NETWORK),
        (Query::OperatorName, NETWORK),
    ];
    for (q, t) in table {
        assert_eq!(q.spec().timeout, t, "{q:?}");
    }
    // Short reads are shorter than the engine default, the network ones longer.
    assert!(QUICK < crate::at::command::DEFAULT_TIMEOUT && NETWORK > SIM);
    let name: Vec<&str> = Query::OperatorName.spec().wire().collect();
    assert_eq!(name, ["AT+COPS=3,0", "AT+COPS?", "AT+COPS=3,2"]);
    let numeric: Vec<&str> = Query::Operator.spec().wire().collect();
    assert_eq!(numeric, ["AT+COPS?"]);
}

#[test]
fn every_declared_wire_command_is_one_valid_command() {
    for p in Profile::ALL {
        let declared = p.queries().into_iter().map(|d| d.query);
        let counters = p.params().counters;
        for q in declared.chain(counters) {
            for line in q.spec().wire() {
                // `;` would be a sequence the engine refuses; each command goes alone.
                assert!(!line.contains(';'), "{p:?} {q:?}: {line}");
                assert!(crate::at::Command::new(line).is_ok(), "{p:?} {q:?}: {line}");
            }
        }
        for line in p.init_commands() {
            assert!(crate::at::Command::new(line).is_ok(), "{p:?}: {line}");
        }
    }
}

#[test]
fn huawei_models_want_ussd_packed_including_the_me906_and_others_do_not() {
    for hint in [
        "huawei",
        "huawei-e3372",
        "HUAWEI",
        "E3372h-153",
        "ME906s-158",
        "ME909s-120",
        "MS2372h-607",
    ] {
        assert!(ussd_packed_for(hint), "{hint}");
    }
    for hint in ["quectel", "generic", "simkeep", "", "EC25", "SIM7600E-H"] {
        assert!(!ussd_packed_for(hint), "{hint}");
    }
    assert_eq!(Profile::Huawei.params().ussd, UssdText::PackedGsm7);
}

#[test]
fn identity_and_sim_come_from_generic_replies() {
    let r = replies(&[
        (Query::Manufacturer, Ok(&["Quectel"])),
        (Query::Model, Ok(&["EC25"])),
        (Query::Revision, Ok(&["EC25EFAR06A06M4G"])),
        (Query::Imei, Ok(&["356938035643809"])),
        (Query::SimState, Ok(&["+CPIN: READY"])),
        (Query::Imsi, Ok(&["440101234567890"])),
        (Query::QuectelIccid, Ok(&["+QCCID: 8981100022152467221F"])),
        (Query::OwnNumber, Ok(&["+CNUM: ,\"+819012345678\",145"])),
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
        (Query::SimState, Err("+CME ERROR: 10")),
        (Query::HuaweiIccid, Err("ERROR")),
        (Query::Iccid, Ok(&["+CCID: 89811000221524672214"])),
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
            Query::Registration(RegKind::C5greg),
            Ok(&["+C5GREG: 2,1,\"114000\",\"100072000\",11"]),
        ),
        (Query::Registration(RegKind::Cereg), Ok(&["+CEREG: 2,0"])),
        (Query::Registration(RegKind::Creg), Ok(&["+CREG: 2,0"])),
        (Query::Operator, Ok(&["+COPS: 0,2,\"44010\",11"])),
        (Query::OperatorName, Ok(&["+COPS: 0,0,\"NTT DOCOMO\",11"])),
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
        (
            Query::Registration(RegKind::Cereg),
            Ok(&["+CEREG: 2,5,\"9999\",\"1\",7"]),
        ),
        (
            Query::QuectelServingCell,
            Ok(&[
                "+QENG: \"servingcell\",\"NOCONN\"",
                "+QENG: \"LTE\",\"FDD\",515,03,3359966,1,150,1,5,5,4AA3,-89,-13,-58,16,15,20,-",
                "+QENG:\"NR5G-NSA\",515,03,832,-76,21,-11,528030,41,8,1",
            ]),
        ),
        (Query::Csq, Ok(&["+CSQ: 99,99"])),
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
        (Query::Cesq, Ok(&["+CESQ: 99,99,255,255,20,80"])),
        (Query::Csq, Ok(&["+CSQ: 24,99"])),
    ]);
    let s = Profile::Generic.build_signal(&r);
    assert_eq!(
        (s.rsrp_dbm, s.rsrq_db, s.rssi_dbm, s.sinr_db),
        (Some(-61.0), Some(-10.0), Some(-65.0), None)
    );
    let r = replies(&[(Query::Cesq, Ok(&["+CESQ: 99,99,255,255,255,255,75,52,57"]))]);
    let s = Profile::Generic.build_signal(&r);
    assert_eq!(
        (s.rsrp_dbm, s.sinr_db, s.nr),
        (Some(-105.0), Some(5.0), None)
    );
    let r = replies(&[(Query::Cesq, Ok(&["+CESQ: 99,99,255,255,20,80,75,52,57"]))]);
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
        (Query::Csq, Err("ERROR")),
        (Query::Cesq, Ok(&["+CESQ: 99,99,255,255,255,255"])),
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
        (Query::HuaweiSignal, Ok(&["^HCSQ: \"LTE\",56,46,161,20"])),
        (
            Query::HuaweiServingCell,
            Ok(&["^MONSC: LTE,440,10,1500,1A2D001,7B,1234,-95,-10,-65"]),
        ),
        (
            Query::HuaweiSystemInfo,
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
        (Query::Registration(RegKind::Creg), Ok(&["+CREG: 2,0"])),
        (Query::Registration(RegKind::Cereg), Err("ERROR")),
        (Query::OperatorName, Ok(&["+COPS: 0,0,\"T-Mobile\",11"])),
        (Query::Csq, Ok(&["+CSQ: 99,99"])),
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
        (Query::Registration(RegKind::Creg), Ok(&["+CREG: 0,2"])),
        (Query::OperatorName, Ok(&["+COPS: 0"])),
    ]);
    assert_eq!(
        Profile::Generic.build_registration(&r).state,
        Some(RegState::Searching)
    );
}
