//! Quectel parser tests. Lines: modem-quirks.md item 4 (RM500Q/RM520N), luci-app-3ginfo-lite
//! issues #56 and #108 (RM500Q NSA, EP06-E LTE), the EC25 AT manual's QENG examples.

use super::*;
use proptest::prelude::*;

fn v(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn qeng_lte_one_line_form_gives_cell_and_signal() {
    let r = parse_qeng(&v(&[
        "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",222,88,4CAA71F,28,1500,3,3,3,77B8,-84,-9,-56,21,35",
    ]))
    .unwrap();
    assert_eq!(r.tech, Some(Tech::Lte));
    assert_eq!(
        (r.mcc.as_deref(), r.mnc.as_deref()),
        (Some("222"), Some("88"))
    );
    assert_eq!((r.cell_id, r.tac), (Some(0x4CAA71F), Some(0x77B8)));
    let s = &r.signal;
    assert_eq!((s.pci, s.earfcn, s.band), (Some(28), Some(1500), Some(3)));
    assert_eq!(
        (s.rsrp_dbm, s.rsrq_db, s.rssi_dbm, s.sinr_db),
        (Some(-84.0), Some(-9.0), Some(-56.0), Some(22.0))
    );
    assert_eq!(r.in_service, Some(true));
}

#[test]
fn qeng_nr5g_sa_keeps_the_36_bit_cell_and_reads_dash_as_unknown() {
    let r = parse_qeng(&v(&[
        "+QENG: \"servingcell\",\"NOCONN\",\"NR5G-SA\",\"TDD\", 515,66,100072000,538,114000,620640,78,12,-109,-12,14,1,-",
    ]))
    .unwrap();
    assert_eq!(r.tech, Some(Tech::Nr5gSa));
    assert_eq!(
        (r.mcc.as_deref(), r.cell_id, r.tac),
        (Some("515"), Some(0x1_0007_2000), Some(0x114000))
    );
    let s = &r.signal;
    assert_eq!(
        (s.pci, s.earfcn, s.band),
        (Some(538), Some(620640), Some(78))
    );
    assert_eq!(
        (s.rsrp_dbm, s.rsrq_db, s.sinr_db),
        (Some(-109.0), Some(-12.0), Some(14.0))
    );
}

#[test]
fn qeng_nsa_three_line_form_gives_lte_anchor_and_nr_leg() {
    let r = parse_qeng(&v(&[
        "+QENG: \"servingcell\",\"NOCONN\"",
        "+QENG: \"LTE\",\"FDD\",515,03,3359966,1,150,1,5,5,4AA3,-89,-13,-58,16,15,20,-",
        "+QENG:\"NR5G-NSA\",515,03,832,-76,21,-11,528030,41,8,1",
    ]))
    .unwrap();
    assert_eq!(r.tech, Some(Tech::Nr5gNsa));
    assert_eq!(
        (r.cell_id, r.tac, r.signal.band),
        (Some(0x3359966), Some(0x4AA3), Some(1))
    );
    assert_eq!(r.signal.sinr_db, Some(12.0));
    let nr = r.signal.nr.unwrap();
    assert_eq!(
        (nr.rsrp_dbm, nr.sinr_db, nr.rsrq_db),
        (Some(-76.0), Some(21.0), Some(-11.0))
    );
    assert_eq!((nr.arfcn, nr.band), (Some(528030), Some(41)));
}

#[test]
fn qeng_nsa_short_nr_line_leaves_missing_and_implausible_values_unknown() {
    let r = parse_qeng(&v(&[
        "+QENG: \"servingcell\",\"NOCONN\"",
        "+QENG: \"LTE\",\"FDD\",1,01,1A2D001,1,1575,3,3,3,1,-70,-9,-46,25,-",
        "+QENG:\"NR5G-NSA\",1,01,500,-75,180,-11",
    ]))
    .unwrap();
    let nr = r.signal.nr.unwrap();
    assert_eq!(
        (nr.rsrp_dbm, nr.sinr_db, nr.rsrq_db, nr.band),
        (Some(-75.0), None, Some(-11.0), None)
    );
    assert_eq!(r.signal.sinr_db, Some(30.0));
}

#[test]
fn qeng_search_and_limited_service_states_have_no_cell() {
    let r = parse_qeng(&v(&["+QENG: \"servingcell\",\"SEARCH\""])).unwrap();
    assert_eq!((r.in_service, r.tech), (Some(false), None));
    let r = parse_qeng(&v(&[
        "+QENG: \"servingcell\",\"LIMSRV\",\"LTE\",\"FDD\",440,10,1A2D001,123,1500,3,5,5,1234,-118,-18,-90,-,-",
    ]))
    .unwrap();
    assert_eq!(
        (r.in_service, r.signal.sinr_db, r.signal.rsrp_dbm),
        (Some(false), None, Some(-118.0))
    );
}

#[test]
fn qeng_wcdma_form_gives_lac_cell_and_uarfcn() {
    let r = parse_qeng(&v(&[
        "+QENG: \"servingcell\",\"NOCONN\",\"WCDMA\",440,10,1A2B,1C3D5E,10838,311,1,-85,-6,-,-,-,-,-",
    ]))
    .unwrap();
    assert_eq!(
        (r.tech, r.tac, r.cell_id, r.signal.earfcn),
        (Some(Tech::Umts), Some(0x1A2B), Some(0x1C3D5E), Some(10838))
    );
}

#[test]
fn qeng_truncated_or_odd_lines_are_errors() {
    for line in [
        "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",222,88,4CAA71F",
        "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",222,88,4CAA71F,28,abc,3,3,3,77B8,-84,-9,-56,21",
        "+QENG: \"servingcell\",\"WEIRD\"",
        "+QENG: \"servingcell\",\"NOCONN\",\"CDMA\"",
        "+QENG:\"NR5G-NSA\",1,01",
    ] {
        assert!(parse_qeng(&v(&[line])).is_err(), "{line}");
    }
    assert_eq!(
        parse_qeng(&[]),
        Err(ParseError::Missing {
            what: "serving cell"
        })
    );
}

#[test]
fn qcsq_lte_sinr_is_in_fifths_of_a_db_and_nr_line_fills_the_nr_leg() {
    let s = parse_qcsq(&v(&[
        "+QCSQ: \"LTE\",-52,-80,195,-10",
        "+QCSQ: \"NR5G\",-81,30,-11",
    ]))
    .unwrap();
    assert_eq!(
        (s.rssi_dbm, s.rsrp_dbm, s.sinr_db, s.rsrq_db),
        (Some(-52.0), Some(-80.0), Some(19.0), Some(-10.0))
    );
    let nr = s.nr.unwrap();
    assert_eq!(
        (nr.rsrp_dbm, nr.sinr_db, nr.rsrq_db),
        (Some(-81.0), Some(30.0), Some(-11.0))
    );
}

#[test]
fn qcsq_other_modes_and_errors() {
    assert_eq!(
        parse_qcsq(&v(&["+QCSQ: \"NOSERVICE\""])).unwrap(),
        Signal::default()
    );
    assert_eq!(
        parse_qcsq(&v(&["+QCSQ: \"GSM\",-71"])).unwrap().rssi_dbm,
        Some(-71.0)
    );
    let sa = parse_qcsq(&v(&["+QCSQ: \"NR5G\",-95,12,-10"])).unwrap();
    assert_eq!((sa.rsrp_dbm, sa.nr), (Some(-95.0), None));
    assert!(parse_qcsq(&v(&["+QCSQ: \"LTE\",-52,-80"])).is_err());
    assert!(parse_qcsq(&v(&["+QCSQ: \"LTE\",-52,x,1,2"])).is_err());
}

#[test]
fn qnwinfo_reads_tech_operator_band_and_channel_including_nsa() {
    let r = parse_qnwinfo(&v(&[
        "+QNWINFO: \"FDD LTE\",\"51503\",\"LTE BAND 1\",150",
        "+QNWINFO: \"TDD NR5G\",\"51503\",\"NR5G BAND 41\",528030",
    ]))
    .unwrap();
    assert_eq!(
        (r.tech, r.mcc.as_deref(), r.mnc.as_deref()),
        (Some(Tech::Nr5gNsa), Some("515"), Some("03"))
    );
    assert_eq!((r.signal.band, r.signal.earfcn), (Some(1), Some(150)));
    assert_eq!(r.signal.nr.unwrap().band, Some(41));
    assert_eq!(
        parse_qnwinfo(&v(&["+QNWINFO: No Service"]))
            .unwrap()
            .in_service,
        Some(false)
    );
    assert!(parse_qnwinfo(&v(&["+QNWINFO: \"FDD LTE\",\"51503\""])).is_err());
}

#[test]
fn band_names_give_their_number() {
    assert_eq!(band_number("LTE BAND 3"), Some(3));
    assert_eq!(band_number("NR N78"), Some(78));
    assert_eq!(band_number("EUTRAN-BAND40"), Some(40));
    assert_eq!(band_number("B66"), Some(66));
    assert_eq!(band_number("n78"), Some(78));
    assert_eq!(band_number("LTE"), None);
    assert_eq!(band_number("WCDMA 2100"), None);
    assert_eq!(band_number("27 EGSM 900"), None);
}

#[test]
fn qind_reports_are_typed() {
    assert_eq!(parse_qind("+QIND: SMS DONE").unwrap(), Qind::SmsDone);
    assert_eq!(parse_qind("+QIND: PB DONE").unwrap(), Qind::PbDone);
    assert_eq!(
        parse_qind("+QIND: \"csq\",24,99").unwrap(),
        Qind::Csq(Some(-65.0))
    );
    assert_eq!(parse_qind("+QIND: \"csq\",99,99").unwrap(), Qind::Csq(None));
    assert_eq!(
        parse_qind("+QIND: \"smsfull\",\"SM\"").unwrap(),
        Qind::SmsFull("SM".into())
    );
    assert_eq!(
        parse_qind("+QIND: \"act\",\"LTE\"").unwrap(),
        Qind::Act("LTE".into())
    );
    assert!(matches!(
        parse_qind("+QIND: \"FOTA\",\"START\"").unwrap(),
        Qind::Other(_)
    ));
    assert!(parse_qind("+QIND: \"csq\",abc,99").is_err());
    assert!(parse_qind("+QENG: 1").is_err());
}

proptest! {
    #[test]
    fn arbitrary_lines_never_panic_quectel_parsers(a in "\\PC{0,120}", b in "[-0-9A-F,\" ]{0,90}") {
        for prefix in ["+QENG: \"servingcell\",\"NOCONN\",\"LTE\",", "+QENG: \"servingcell\",\"NOCONN\",\"NR5G-SA\",", "+QENG: \"LTE\",", "+QENG:\"NR5G-NSA\",", "+QCSQ: \"LTE\",", "+QNWINFO: ", ""] {
            let lines = vec![format!("{prefix}{a}"), format!("{prefix}{b}")];
            let _ = parse_qeng(&lines);
            let _ = parse_qcsq(&lines);
            let _ = parse_qnwinfo(&lines);
            let _ = parse_qind(&lines[0]);
        }
    }
}
