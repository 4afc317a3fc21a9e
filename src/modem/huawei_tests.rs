//! Huawei parser tests. Lines: modem-quirks.md item 3 (ModemManager `src/plugins/huawei/`
//! tests), the ME909s AT specification examples, Balong firmware's `^MONSC` format string.

use super::*;
use proptest::prelude::*;

fn v(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn hcsq_lte_quoted_converts_every_index() {
    let s = parse_hcsq("^HCSQ:\"LTE\",30,19,66,0").unwrap();
    assert_eq!(
        (s.rssi_dbm, s.rsrp_dbm, s.sinr_db, s.rsrq_db),
        (Some(-91.0), Some(-122.0), Some(-7.0), Some(-20.0))
    );
}

#[test]
fn hcsq_lte_unquoted_with_space_is_read_too() {
    let s = parse_hcsq("^HCSQ: LTE,33,40,135,11").unwrap();
    assert_eq!(
        (s.rssi_dbm, s.rsrp_dbm, s.sinr_db, s.rsrq_db),
        (Some(-88.0), Some(-101.0), Some(6.8), Some(-14.5))
    );
}

#[test]
fn hcsq_noservice_and_255_are_unknown() {
    assert_eq!(parse_hcsq("^HCSQ: NOSERVICE").unwrap(), Signal::default());
    let s = parse_hcsq("^HCSQ: \"LTE\",255,255,255,255").unwrap();
    assert_eq!(s, Signal::default());
    assert_eq!(
        parse_hcsq("^HCSQ: \"WCDMA\",30,30,58").unwrap().rssi_dbm,
        Some(-91.0)
    );
    assert_eq!(
        parse_hcsq("^HCSQ: \"GSM\",50").unwrap().rssi_dbm,
        Some(-71.0)
    );
}

#[test]
fn hcsq_truncated_or_out_of_range_is_an_error() {
    assert!(parse_hcsq("^HCSQ: \"LTE\",30,19").is_err());
    assert!(parse_hcsq("^HCSQ: \"LTE\",30,19,252,0").is_err());
    assert!(parse_hcsq("^HCSQ: \"CDMA\",30").is_err());
    assert!(parse_hcsq("+CSQ: 1,2").is_err());
}

#[test]
fn sysinfoex_tolerates_empty_fields_and_unquoted_names() {
    let s = parse_sysinfoex("^SYSINFOEX:2,4,5,1,,3,WCDMA,41,HSPA+").unwrap();
    assert_eq!(
        (s.service, s.roaming, s.sim_state, s.sysmode, s.submode),
        (Some(2), None, Some(1), Some(3), Some(41))
    );
    assert_eq!((s.tech(), s.in_service()), (Some(Tech::Umts), Some(true)));
    let s = parse_sysinfoex("^SYSINFOEX: 2,3,1,1,,6,\"LTE\",101,\"LTE\"").unwrap();
    assert_eq!((s.tech(), s.roaming), (Some(Tech::Lte), Some(true)));
    let s = parse_sysinfoex("^SYSINFOEX: 0,0,0,255,,0,,0,").unwrap();
    assert_eq!((s.in_service(), s.tech()), (Some(false), None));
    assert!(parse_sysinfoex("^SYSINFOEX: 2,3").is_err());
    assert!(parse_sysinfoex("^SYSINFOEX: 2,3,x,1,,6,LTE,101,LTE").is_err());
}

#[test]
fn monsc_lte_reads_hex_cell_pci_and_tac() {
    let r = parse_monsc("^MONSC: LTE,460,00,38400,D975244,8,24C8,-85,-10,-54").unwrap();
    assert_eq!(
        (r.tech, r.mcc.as_deref(), r.mnc.as_deref()),
        (Some(Tech::Lte), Some("460"), Some("00"))
    );
    assert_eq!(
        (r.cell_id, r.signal.pci, r.tac, r.signal.earfcn),
        (Some(0xD975244), Some(8), Some(0x24C8), Some(38400))
    );
    assert_eq!(
        (r.signal.rsrp_dbm, r.signal.rsrq_db, r.signal.rssi_dbm),
        (Some(-85.0), Some(-10.0), Some(-54.0))
    );
}

#[test]
fn monsc_nr_has_scs_and_sinr() {
    let r = parse_monsc("^MONSC: NR,460,00,524910,1,C027F5065,114,14225C,-73,-9,24").unwrap();
    assert_eq!(
        (r.tech, r.cell_id, r.signal.pci),
        (Some(Tech::Nr5gSa), Some(0xC027F5065), Some(0x114))
    );
    assert_eq!(r.signal.sinr_db, Some(24.0));
    assert_eq!(parse_monsc("^MONSC: NONE").unwrap().in_service, Some(false));
    assert!(parse_monsc("^MONSC: LTE,460,00,38400").is_err());
}

#[test]
fn swapped_iccid_from_some_firmware_is_swapped_back() {
    let fixed = parse_iccid(&v(&["^ICCID: 981801002251427622F1"])).unwrap();
    assert_eq!(fixed, "8981100022152467221");
    let plain = parse_iccid(&v(&["^ICCID: 89811000221524672214"])).unwrap();
    assert_eq!(plain, "89811000221524672214");
    assert!(parse_iccid(&v(&["^ICCID: 98"])).is_err());
}

#[test]
fn luhn_accepts_valid_and_rejects_altered_numbers() {
    assert!(luhn_ok("356938035643809"));
    assert!(!luhn_ok("356938035643808"));
    assert!(!luhn_ok(""));
}

#[test]
fn periodic_reports_are_noise_but_other_urcs_are_not() {
    // Huawei's periodic reports are rows of the one URC table (`AT^CURC=0` would stop them).
    let is_noise = |line: &str| crate::at::urc::lookup(line).is_some_and(|s| s.noise);
    assert!(is_noise("^RSSI: 24"));
    assert!(is_noise("^HCSQ: \"LTE\",30,19,66,0"));
    assert!(is_noise("^MODE: 7,17"));
    assert!(is_noise("^BOOT:24760455,0,0,0,72"));
    for l in [
        "^RSSI:18",
        "^HCSQ:\"LTE\",30,19,66,0",
        "^MODE:7,6",
        "^BOOT:24760455,0,0,0,72",
        "^DSFLOWRPT:0000,0,0",
        "^SRVST:2",
        "^SIMST:1",
        "^CSNR: -96,-3",
        "^RSSILVL:4",
        "^LTERSRP: -90,-10",
        "^ACTIVEBAND: 3",
        "^NWTIME: 13/05/07,14:09:12+32,00",
        "^STIN:0,0,0",
        "^ECCLIST: 1",
        "^CERSSI:0,0,0,0,255,-104,-8,17",
        "^ANLEVEL:0,3,5,-99,-10,-72",
        "^HRSSILVL:4",
    ] {
        assert!(is_noise(l), "{l}");
    }
    assert!(!is_noise("+CMTI: \"ME\",1"));
    assert!(!is_noise("^RSSIX: 1"));
    assert_eq!(parse_rssi_urc("^RSSI: 24").unwrap(), Some(-65.0));
    assert_eq!(parse_rssi_urc("^RSSI:99").unwrap(), None);
}

proptest! {
    #[test]
    fn arbitrary_lines_never_panic_huawei_parsers(a in "\\PC{0,100}", b in "[-0-9A-F,\" ]{0,60}") {
        for prefix in ["^HCSQ: \"LTE\",", "^HCSQ: ", "^SYSINFOEX: ", "^MONSC: LTE,", "^MONSC: NR,", "^ICCID: ", "^RSSI: ", ""] {
            for text in [&a, &b] {
                let line = format!("{prefix}{text}");
                let _ = parse_hcsq(&line);
                let _ = parse_sysinfoex(&line);
                let _ = parse_monsc(&line);
                let _ = parse_iccid(std::slice::from_ref(&line));
                let _ = parse_rssi_urc(&line);
                let _ = unswap_iccid(text);
                let _ = luhn_ok(text);
            }
        }
    }
}
