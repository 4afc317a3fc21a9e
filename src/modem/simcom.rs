//! SIMCom (SIM7500/SIM7600, SIM8200/SIM8262) replies: `AT+CPSI?` in its NO SERVICE, GSM,
//! WCDMA, LTE, NR5G_SA and two-line NR5G_NSA forms. `AT+CICCID` answers `+ICCID: …`, read by
//! the generic ICCID parser.
//!
//! Pure. Layouts and units from the "SIM7500_SIM7600 Series AT Command Manual" §
//! AT+CPSI and the SIM8200 series manual: LTE RSRQ/RSRP/RSSI and all NR values are in tenths
//! of dB/dBm (`-1126` = −112.6 dBm); LTE RSSNR is in whole dB.

use super::cell_fields::{bad, int, uint};
use super::model::{round1, NrSignal, RadioReport, Tech};
use super::profile::{Declared, Feeds, Params, Query, Rate, Reads, Spec, CELL, GENERIC, QUICK};
use super::quectel::band_number;
use super::{after_prefix, fields, opt_hex, plausible, ParseError};

// ------------------------------------------------------------------ profile declaration

/// SIMCom SIM7xxx/SIM8xxx: what differs from the 3GPP profile.
pub const PARAMS: Params = Params {
    maker: "simcom",
    models: &["SIM7", "SIM8"],
    iccid: Some(Query::SimcomIccid),
    cell: &[Declared::new(
        Query::SimcomServingCell,
        Rate::EveryPoll,
        Feeds::RegistrationAndSignal,
    )],
    ..GENERIC
};

/// `AT+CICCID` answers `+ICCID: <iccid>`.
pub const ICCID: Spec = Spec::one(
    "AT+CICCID",
    QUICK,
    Reads::Iccid(super::generic::parse_iccid),
);
pub const SERVING_CELL: Spec = Spec::one("AT+CPSI?", CELL, Reads::Cell(|l| parse_cpsi(l).ok()));

/// `AT+CPSI?`:
/// - `+CPSI: NO SERVICE,Online`
/// - `+CPSI: GSM,Online,460-00,0x182d,12401,27 EGSM 900,-64,2110,42-42`
/// - `+CPSI: WCDMA,Online,001-01,0xC4B1,5063215,WCDMA IMT 2000,277,10788,0,1.5,62,33,13,500`
/// - `+CPSI: LTE,Online,404-45,0x21F9,322642,453,EUTRAN-BAND40,39275,4,4,-168,-1126,-773,7`
/// - `+CPSI: NR5G_SA,Online,460-00,0x6F4700,29022764,697,NR5G_BAND78,627264,-940,-110,95`
/// - NSA: the LTE line followed by `+CPSI: NR5G_NSA,644,NR5G_BAND78,627264,-960,-120,95`
pub fn parse_cpsi(lines: &[String]) -> Result<RadioReport, ParseError> {
    let mut r = RadioReport::default();
    let mut any = false;
    for line in lines {
        let Some(body) = after_prefix(line, "+CPSI") else {
            continue;
        };
        any = true;
        let f = fields(body);
        let mode = f
            .first()
            .map(|m| m.to_ascii_uppercase())
            .unwrap_or_default();
        match mode.as_str() {
            "NO SERVICE" => r.in_service = Some(false),
            "GSM" => gsm(&mut r, &f, line)?,
            "WCDMA" => wcdma(&mut r, &f, line)?,
            "LTE" => lte(&mut r, &f, line)?,
            "NR5G_SA" => nr_sa(&mut r, &f, line)?,
            "NR5G_NSA" => nr_nsa(&mut r, &f, line)?,
            _ => return Err(bad(line, "unknown system mode")),
        }
    }
    if !any {
        return Err(ParseError::Missing { what: "+CPSI" });
    }
    Ok(r)
}

/// A value in tenths → units, kept only when plausible.
fn tenths(f: &[&str], i: usize, line: &str, lo: f64, hi: f64) -> Result<Option<f64>, ParseError> {
    Ok(plausible(
        int(f, i, line)?.map(|v| round1(v as f64 / 10.0)),
        lo,
        hi,
    ))
}

/// `<MCC>-<MNC>`, `<TAC|LAC hex>`, `<cell id decimal or 0x hex>` at 2, 3, 4.
fn camp(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if let Some((mcc, mnc)) = f.get(2).and_then(|p| p.split_once('-')) {
        let ok = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if !ok(mcc) || !ok(mnc) {
            return Err(bad(line, "MCC-MNC is not digits"));
        }
        r.mcc = Some(mcc.to_string());
        r.mnc = Some(mnc.to_string());
    }
    r.tac = opt_hex(f.get(3))
        .map_err(|_| bad(line, "area code is not hex"))?
        .map(u32::try_from)
        .transpose()
        .map_err(|_| bad(line, "area code out of range"))?;
    let cell = f.get(4).copied().unwrap_or("");
    r.cell_id = if cell.starts_with("0x") || cell.starts_with("0X") {
        opt_hex(f.get(4)).map_err(|_| bad(line, "cell id is not hex"))?
    } else {
        int(f, 4, line)?
            .map(|c| u64::try_from(c).map_err(|_| bad(line, "cell id is negative")))
            .transpose()?
    };
    r.in_service = Some(true);
    Ok(())
}

fn gsm(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 7 {
        return Err(bad(line, "GSM line is truncated"));
    }
    r.tech = Some(Tech::Gsm);
    camp(r, f, line)?;
    // `27 EGSM 900`: ARFCN, then the band name.
    let arfcn = f
        .get(5)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("");
    r.signal.earfcn = arfcn.parse().ok();
    r.signal.rssi_dbm = plausible(int(f, 6, line)?.map(|v| v as f64), -130.0, 0.0);
    Ok(())
}

fn wcdma(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 8 {
        return Err(bad(line, "WCDMA line is truncated"));
    }
    r.tech = Some(Tech::Umts);
    camp(r, f, line)?;
    r.signal.earfcn = uint(f, 7, line)?;
    Ok(())
}

fn lte(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 14 {
        return Err(bad(line, "LTE line is truncated"));
    }
    if r.tech.is_none() {
        r.tech = Some(Tech::Lte);
    }
    camp(r, f, line)?;
    r.signal.pci = uint(f, 5, line)?;
    r.signal.band = band_number(f.get(6).copied().unwrap_or(""));
    r.signal.earfcn = uint(f, 7, line)?;
    r.signal.rsrq_db = tenths(f, 10, line, -43.5, 20.0)?;
    r.signal.rsrp_dbm = tenths(f, 11, line, -156.0, -30.0)?;
    r.signal.rssi_dbm = tenths(f, 12, line, -130.0, 0.0)?;
    r.signal.sinr_db = plausible(int(f, 13, line)?.map(|v| v as f64), -20.0, 40.0);
    Ok(())
}

fn nr_sa(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 11 {
        return Err(bad(line, "NR5G_SA line is truncated"));
    }
    r.tech = Some(Tech::Nr5gSa);
    camp(r, f, line)?;
    r.signal.pci = uint(f, 5, line)?;
    r.signal.band = band_number(f.get(6).copied().unwrap_or(""));
    r.signal.earfcn = uint(f, 7, line)?;
    r.signal.rsrp_dbm = tenths(f, 8, line, -156.0, -30.0)?;
    r.signal.rsrq_db = tenths(f, 9, line, -43.5, 20.0)?;
    r.signal.sinr_db = tenths(f, 10, line, -23.0, 40.0)?;
    Ok(())
}

fn nr_nsa(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 7 {
        return Err(bad(line, "NR5G_NSA line is truncated"));
    }
    r.tech = Some(Tech::Nr5gNsa);
    r.signal.nr = Some(NrSignal {
        band: band_number(f.get(2).copied().unwrap_or("")),
        arfcn: uint(f, 3, line)?,
        rsrp_dbm: tenths(f, 4, line, -156.0, -30.0)?,
        rsrq_db: tenths(f, 5, line, -43.5, 20.0)?,
        sinr_db: tenths(f, 6, line, -23.0, 40.0)?,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Lines: SIM7500/SIM7600 manual § AT+CPSI examples, SIM8200 manual NR examples, public
    //! SIM7600 users' logs (the EUTRAN-BAND40 line).
    use super::*;
    use proptest::prelude::*;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lte_values_are_in_tenths_and_rssnr_in_db() {
        let r = parse_cpsi(&v(&[
            "+CPSI: LTE,Online,404-45,0x21F9,322642,453,EUTRAN-BAND40,39275,4,4,-168,-1126,-773,7",
        ]))
        .unwrap();
        assert_eq!(
            (r.tech, r.mcc.as_deref(), r.mnc.as_deref()),
            (Some(Tech::Lte), Some("404"), Some("45"))
        );
        assert_eq!((r.tac, r.cell_id), (Some(0x21F9), Some(322642)));
        let s = &r.signal;
        assert_eq!(
            (s.pci, s.band, s.earfcn),
            (Some(453), Some(40), Some(39275))
        );
        assert_eq!(
            (s.rsrq_db, s.rsrp_dbm, s.rssi_dbm, s.sinr_db),
            (Some(-16.8), Some(-112.6), Some(-77.3), Some(7.0))
        );
    }

    #[test]
    fn nr5g_sa_values_are_all_in_tenths() {
        let r = parse_cpsi(&v(&[
            "+CPSI: NR5G_SA,Online,460-00,0x6F4700,29022764,697,NR5G_BAND78,627264,-940,-110,95",
        ]))
        .unwrap();
        assert_eq!(
            (r.tech, r.tac, r.signal.band),
            (Some(Tech::Nr5gSa), Some(0x6F4700), Some(78))
        );
        assert_eq!(
            (r.signal.rsrp_dbm, r.signal.rsrq_db, r.signal.sinr_db),
            (Some(-94.0), Some(-11.0), Some(9.5))
        );
    }

    #[test]
    fn nsa_second_line_fills_the_nr_leg() {
        let r = parse_cpsi(&v(&[
            "+CPSI: LTE,Online,460-11,0x5A1E,187214780,257,EUTRAN-BAND3,1850,5,5,-94,-850,-545,15",
            "+CPSI: NR5G_NSA,644,NR5G_BAND78,627264,-960,-120,95",
        ]))
        .unwrap();
        assert_eq!(
            (r.tech, r.signal.rsrp_dbm),
            (Some(Tech::Nr5gNsa), Some(-85.0))
        );
        let nr = r.signal.nr.unwrap();
        assert_eq!(
            (nr.band, nr.arfcn, nr.rsrp_dbm, nr.rsrq_db, nr.sinr_db),
            (Some(78), Some(627264), Some(-96.0), Some(-12.0), Some(9.5))
        );
    }

    #[test]
    fn gsm_wcdma_and_no_service_forms() {
        let r = parse_cpsi(&v(&[
            "+CPSI: GSM,Online,460-00,0x182d,12401,27 EGSM 900,-64,2110,42-42",
        ]))
        .unwrap();
        assert_eq!(
            (r.tech, r.tac, r.signal.earfcn, r.signal.rssi_dbm),
            (Some(Tech::Gsm), Some(0x182d), Some(27), Some(-64.0))
        );
        let r = parse_cpsi(&v(&[
            "+CPSI: WCDMA,Online,001-01,0xC4B1,5063215,WCDMA IMT 2000,277,10788,0,1.5,62,33,13,500",
        ]))
        .unwrap();
        assert_eq!(
            (r.tech, r.cell_id, r.signal.earfcn),
            (Some(Tech::Umts), Some(5063215), Some(10788))
        );
        let r = parse_cpsi(&v(&["+CPSI: NO SERVICE,Online"])).unwrap();
        assert_eq!((r.in_service, r.tech), (Some(false), None));
    }

    #[test]
    fn truncated_and_odd_lines_are_errors() {
        for line in [
            "+CPSI: LTE,Online,404-45,0x21F9,322642,453,EUTRAN-BAND40",
            "+CPSI: LTE,Online,4O4-45,0x21F9,322642,453,EUTRAN-BAND40,39275,4,4,-168,-1126,-773,7",
            "+CPSI: LTE,Online,404-45,0xZZ,322642,453,EUTRAN-BAND40,39275,4,4,-168,-1126,-773,7",
            "+CPSI: CDMA,Online",
            "+CPSI: NR5G_NSA,644",
        ] {
            assert!(parse_cpsi(&v(&[line])).is_err(), "{line}");
        }
        assert!(parse_cpsi(&[]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic_cpsi(a in "\\PC{0,120}", b in "[-0-9A-Fx,_ ]{0,80}") {
            for prefix in ["+CPSI: LTE,Online,", "+CPSI: NR5G_SA,Online,", "+CPSI: NR5G_NSA,", "+CPSI: GSM,Online,", "+CPSI: ", ""] {
                let _ = parse_cpsi(&[format!("{prefix}{a}"), format!("{prefix}{b}")]);
            }
        }
    }
}
