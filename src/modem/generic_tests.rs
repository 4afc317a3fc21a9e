//! Tests for the TS 27.007 parsers. Lines come from modem-quirks.md (ModemManager's
//! `test-modem-helpers.c` cases), the 3GPP examples and vendor manuals.

use super::*;
use proptest::prelude::*;

fn v(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn identity_text_is_read_bare_or_prefixed() {
    assert_eq!(
        parse_info_text(&v(&["Quectel"]), "+CGMI").as_deref(),
        Some("Quectel")
    );
    assert_eq!(
        parse_info_text(&v(&["+CGMI: \"Fibocom\""]), "+CGMI").as_deref(),
        Some("Fibocom")
    );
    assert_eq!(
        parse_info_text(&v(&["", "EC25"]), "+CGMM").as_deref(),
        Some("EC25")
    );
    assert_eq!(parse_info_text(&v(&["  "]), "+CGMM"), None);
}

#[test]
fn imei_is_read_with_or_without_prefix_and_rejected_when_short() {
    assert_eq!(
        parse_imei(&v(&["356938035643809"])).unwrap(),
        "356938035643809"
    );
    assert_eq!(
        parse_imei(&v(&["+CGSN: \"356938035643809\""])).unwrap(),
        "356938035643809"
    );
    assert!(parse_imei(&v(&["12345"])).is_err());
    assert_eq!(parse_imei(&[]), Err(ParseError::Missing { what: "IMEI" }));
}

#[test]
fn cpin_codes_map_to_sim_states() {
    assert_eq!(parse_cpin("+CPIN: READY").unwrap(), SimState::Ready);
    assert_eq!(parse_cpin("+CPIN: SIM PIN").unwrap(), SimState::PinRequired);
    assert_eq!(parse_cpin("+CPIN:SIM PUK").unwrap(), SimState::PukRequired);
    assert_eq!(parse_cpin("+CPIN: NOT READY").unwrap(), SimState::Busy);
    assert_eq!(parse_cpin("+CPIN: PH-NET PIN").unwrap(), SimState::Error);
    assert!(parse_cpin("+CPIN: WHAT").is_err());
    assert!(parse_cpin("READY").is_err());
}

#[test]
fn cme_errors_about_the_sim_give_a_sim_state() {
    assert_eq!(
        sim_state_from_error("+CME ERROR: 10"),
        Some(SimState::NotInserted)
    );
    assert_eq!(
        sim_state_from_error("+CME ERROR: SIM busy"),
        Some(SimState::Busy)
    );
    assert_eq!(
        sim_state_from_error("+CME ERROR: 13"),
        Some(SimState::Error)
    );
    assert_eq!(sim_state_from_error("+CME ERROR: 3"), None);
    assert_eq!(sim_state_from_error("ERROR"), None);
}

#[test]
fn imsi_must_be_digits() {
    assert_eq!(
        parse_imsi(&v(&["440101234567890"])).unwrap(),
        "440101234567890"
    );
    assert_eq!(
        parse_imsi(&v(&["+CIMI: 310260123456789"])).unwrap(),
        "310260123456789"
    );
    assert!(parse_imsi(&v(&["ERROR"])).is_err());
}

#[test]
fn iccid_forms_of_every_vendor_are_read_and_f_padding_dropped() {
    for line in [
        "+CCID: 89811000221524672214",
        "+CCID: \"89811000221524672214\"",
        "+ICCID: 89811000221524672214",
        "+QCCID: 89811000221524672214",
        "89811000221524672214",
    ] {
        assert_eq!(
            parse_iccid(&v(&[line])).unwrap(),
            "89811000221524672214",
            "{line}"
        );
    }
    assert_eq!(
        parse_iccid(&v(&["+QCCID: 8981100022152467221F"])).unwrap(),
        "8981100022152467221"
    );
    assert!(parse_iccid(&v(&["+CCID: 8981"])).is_err());
}

#[test]
fn cnum_gives_the_first_number_or_none_when_empty() {
    let r = parse_cnum(&v(&["+CNUM: \"\",\"+819012345678\",145"])).unwrap();
    assert_eq!(r.as_deref(), Some("+819012345678"));
    assert_eq!(parse_cnum(&v(&["+CNUM: ,\"\",129"])).unwrap(), None);
    assert_eq!(parse_cnum(&[]).unwrap(), None);
    assert!(parse_cnum(&v(&["+CNUM: \"Line\",\"call me\",129"])).is_err());
}

#[test]
fn cops_reads_every_format_and_act() {
    let c = parse_cops("+COPS: 0,0,\"T-Mobile\",11").unwrap();
    assert_eq!((c.name(), c.tech()), (Some("T-Mobile"), Some(Tech::Nr5gSa)));
    let c = parse_cops("+COPS: 0,2,\"44010\",7").unwrap();
    assert_eq!(c.numeric(), Some(("440".into(), "10".into())));
    assert_eq!(
        parse_cops("+COPS:0,2,\"26202\",13").unwrap().tech(),
        Some(Tech::Nr5gNsa)
    );
    assert_eq!(
        parse_cops("+COPS: 0,1,\"docomo\",12").unwrap().tech(),
        Some(Tech::Nr5gSa)
    );
    assert_eq!(
        parse_cops("+COPS: 0,0,\"X\",2").unwrap().tech(),
        Some(Tech::Umts)
    );
    let c = parse_cops("+COPS: 0").unwrap();
    assert_eq!((c.mode, c.oper), (0, None));
}

#[test]
fn cops_decodes_ucs2_names_but_keeps_plain_numbers() {
    let c = parse_cops("+COPS: 0,0,\"004D006F00760069006C0065\",7").unwrap();
    assert_eq!(c.name(), Some("Movile"));
    let c = parse_cops("+COPS: 0,2,\"00320031003400300037\",7").unwrap();
    assert_eq!(c.numeric(), Some(("214".into(), "07".into())));
    let c = parse_cops("+COPS: 0,2,\"311480\",7").unwrap();
    assert_eq!(c.numeric(), Some(("311".into(), "480".into())));
    assert_eq!(
        parse_cops("+COPS: 0,0,\"30C930B330E2\",7").unwrap().name(),
        Some("ドコモ")
    );
}

#[test]
fn cops_rejects_lists_and_out_of_range_fields() {
    assert!(parse_cops("+COPS: (2,\"X\",\"X\",\"00101\",7),,(0,1),(0,2)").is_err());
    assert!(parse_cops("+COPS: 0,7,\"X\"").is_err());
    assert!(parse_cops("+COPS: x").is_err());
}

#[test]
fn reg_answers_in_two_four_and_five_field_forms() {
    let r = parse_reg_answer("+CREG: 0,1").unwrap();
    assert_eq!((r.n, r.state, r.area), (Some(0), RegState::Home, None));
    let r = parse_reg_answer("+CREG: 2,1,8BE3,2BAF").unwrap();
    assert_eq!((r.area, r.cell_id), (Some(0x8BE3), Some(0x2BAF)));
    let r = parse_reg_answer("+CREG: 2,6,\"8B37\",\"0A265185\",7").unwrap();
    assert_eq!(
        (r.state, r.cell_id, r.tech()),
        (RegState::Home, Some(0x0A26_5185), Some(Tech::Lte))
    );
    let r = parse_reg_answer("+CEREG: 2,10,\"8d83\",\"671f98a\",7").unwrap();
    assert_eq!(r.state, RegState::Roaming);
}

#[test]
fn reg_answers_survive_leading_zeros_spaces_and_vendor_fields() {
    let r = parse_reg_answer("+CREG:002,001,\"18d8\",\"ffff\"").unwrap();
    assert_eq!(
        (r.n, r.state, r.area, r.cell_id),
        (Some(2), RegState::Home, Some(0x18d8), Some(0xffff))
    );
    let r = parse_reg_answer("+CEREG: 2,1, 1F00, 79D903 ,7").unwrap();
    assert_eq!(
        (r.kind, r.area, r.cell_id, r.act),
        (RegKind::Cereg, Some(0x1F00), Some(0x79D903), Some(7))
    );
    let r = parse_reg_answer("+CREG: 2,1,000B,2816, B, C2816").unwrap();
    assert_eq!((r.area, r.cell_id, r.act), (Some(0xB), Some(0x2816), None));
}

#[test]
fn a_5g_cell_id_keeps_all_36_bits() {
    let r = parse_reg_answer("+C5GREG: 2,1,\"114000\",\"100072000\",11,4,\"01.010101\"").unwrap();
    assert_eq!(
        (r.kind, r.area, r.cell_id),
        (RegKind::C5greg, Some(0x114000), Some(0x1_0007_2000))
    );
    assert_eq!(r.tech(), Some(Tech::Nr5gSa));
}

#[test]
fn reg_urcs_are_parsed_in_their_own_form() {
    assert_eq!(parse_reg_urc("+CREG: 1").unwrap().state, RegState::Home);
    let r = parse_reg_urc("+CREG: 5,\"17E0\",\"00359D48\",6").unwrap();
    assert_eq!(
        (r.state, r.area, r.cell_id, r.act),
        (RegState::Roaming, Some(0x17E0), Some(0x0035_9D48), Some(6))
    );
    assert!(parse_reg_urc("+CREG: 0,1").is_err());
    assert!(parse_reg_answer("+CREG: 1").is_err());
    assert!(parse_reg_answer("+CREG: 5,\"17E0\",\"00359D48\",6").is_err());
}

#[test]
fn reg_lines_with_garbage_are_errors() {
    assert!(parse_reg_answer("+CREG: 2,99").is_err());
    assert!(parse_reg_answer("+COPS: 0").is_err());
    assert!(parse_reg_answer("+CREG: 2,1,\"8BE3\"").is_err());
}

#[test]
fn an_unreadable_area_or_cell_keeps_the_state_and_is_unknown() {
    // ModemManager keeps the state of `+CREG: 2,1,  0 5, 2715`; a guessed area would be worse
    // than none, so the unreadable field is `None` and the rest of the line stands.
    let r = parse_reg_answer("+CREG: 2,1,\"ZZZZ\",\"1\"").unwrap();
    assert_eq!(
        (r.state, r.area, r.cell_id),
        (RegState::Home, None, Some(1))
    );
    let r = parse_reg_answer("+CREG: 2,1,\"1\",\"FFFFFFFFFF\"").unwrap();
    assert_eq!((r.area, r.cell_id), (Some(1), None));
}

#[test]
fn csq_maps_indices_to_dbm_and_99_to_unknown() {
    assert_eq!(parse_csq("+CSQ: 99,99").unwrap(), None);
    assert_eq!(parse_csq("+CSQ: 0,99").unwrap(), Some(-113.0));
    assert_eq!(parse_csq("+CSQ: 24,99").unwrap(), Some(-65.0));
    assert_eq!(parse_csq("+CSQ: 31,0").unwrap(), Some(-51.0));
    assert_eq!(parse_csq("+CSQ: 100,99").unwrap(), Some(-116.0));
    assert!(parse_csq("+CSQ: 50,99").is_err());
    assert!(parse_csq("+CSQ: 24").is_err());
}

#[test]
fn cesq_maps_rsrq_and_rsrp_indices() {
    let c = parse_cesq("+CESQ: 99,99,255,255,20,80").unwrap();
    assert_eq!(
        (c.rsrq_db, c.rsrp_dbm, c.rssi_dbm),
        (Some(-10.0), Some(-61.0), None)
    );
    let c = parse_cesq("+CESQ:10,6,255,255,255,255").unwrap();
    assert_eq!((c.rssi_dbm, c.rsrp_dbm), (Some(-101.0), None));
    let c = parse_cesq("+CESQ: 17,99,255,255,4,29,75,52,57").unwrap();
    assert_eq!(
        (c.nr_rsrq_db, c.nr_rsrp_dbm, c.nr_sinr_db),
        (Some(-6.0), Some(-105.0), Some(5.0))
    );
    let c = parse_cesq("+CESQ: 99,99,255,255,255,255,255,255,255").unwrap();
    assert_eq!(c, Cesq::default());
}

#[test]
fn cesq_with_wrong_field_count_or_range_is_an_error() {
    assert!(parse_cesq("+CESQ: 99,99,255,255,20").is_err());
    assert!(parse_cesq("+CESQ: 99,99,255,255,20,98").is_err());
    assert!(parse_cesq("+CESQ: 99,99,255,255,x,80").is_err());
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_any_generic_parser(s in "\\PC{0,80}", p in prop::sample::select(vec!["+CREG: ", "+CEREG: ", "+COPS: ", "+CSQ: ", "+CESQ: ", "+CPIN: ", "+CNUM: ", "+C5GREG:", ""])) {
        let line = format!("{p}{s}");
        let lines = vec![line.clone()];
        let _ = parse_reg_answer(&line);
        let _ = parse_reg_urc(&line);
        let _ = parse_cops(&line);
        let _ = parse_csq(&line);
        let _ = parse_cesq(&line);
        let _ = parse_cpin(&line);
        let _ = parse_cnum(&lines);
        let _ = parse_iccid(&lines);
        let _ = parse_imei(&lines);
        let _ = parse_imsi(&lines);
        let _ = sim_state_from_error(&line);
        let _ = decode_ucs2_hex(&s);
    }

    #[test]
    fn numeric_looking_reg_lines_never_panic(fields in prop::collection::vec("[0-9A-Fa-f\" -]{0,12}", 0..8)) {
        let line = format!("+CEREG: {}", fields.join(","));
        let _ = parse_reg_answer(&line);
        let _ = parse_reg_urc(&line);
    }
}
