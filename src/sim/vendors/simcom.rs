//! SIMCom SIM7600 answers: `AT+CPSI?` (LTE, NR5G_NSA second line, NR5G_SA, WCDMA, GSM,
//! NO SERVICE) and `AT+CICCID` (`+ICCID: …`).
//!
//! Pure. Units per the SIM7500/SIM7600 manual § AT+CPSI, inverse of `modem::simcom`: LTE
//! RSRQ/RSRP/RSSI and all NR values in tenths, LTE RSSNR in whole dB.

use super::super::answer::Answer;
use super::super::generic::{opt, sim_error};
use super::super::radio::{Radio, RadioTech};

pub fn answer(radio: &mut Radio, c: &str) -> Option<Answer> {
    match c {
        "AT+CPSI?" => Some(Answer::Ok(cpsi(radio))),
        "AT+CICCID" => Some(
            sim_error(radio, false)
                .unwrap_or_else(|| Answer::line(format!("+ICCID: {}", radio.iccid))),
        ),
        _ => None,
    }
}

fn tenths(v: Option<f64>) -> String {
    opt(v.map(|x| (x * 10.0).round() as i64), "")
}

fn cpsi(r: &Radio) -> Vec<String> {
    if !r.registered() {
        return vec!["+CPSI: NO SERVICE,Online".into()];
    }
    let camp = format!("{}-{},0x{:04X},{}", r.mcc, r.mnc, r.tac, r.cell_id);
    let lte = || {
        format!(
            "+CPSI: LTE,Online,{camp},{},EUTRAN-BAND{},{},5,5,{},{},{},{}",
            opt(r.pci, ""),
            opt(r.band, ""),
            opt(r.earfcn, ""),
            tenths(r.rsrq_db),
            tenths(r.rsrp_dbm),
            tenths(r.rssi_dbm),
            opt(r.sinr_db.map(|x| x.round() as i64), "")
        )
    };
    match r.tech {
        RadioTech::Lte => vec![lte()],
        RadioTech::Nr5gNsa => vec![
            lte(),
            format!(
                "+CPSI: NR5G_NSA,{},NR5G_BAND{},{},{},{},{}",
                opt(r.nr_pci, ""),
                opt(r.nr_band, ""),
                opt(r.nr_arfcn, ""),
                tenths(r.nr_rsrp_dbm),
                tenths(r.nr_rsrq_db),
                tenths(r.nr_sinr_db)
            ),
        ],
        RadioTech::Nr5gSa => vec![format!(
            "+CPSI: NR5G_SA,Online,{camp},{},NR5G_BAND{},{},{},{},{}",
            opt(r.pci, ""),
            opt(r.band, ""),
            opt(r.earfcn, ""),
            tenths(r.rsrp_dbm),
            tenths(r.rsrq_db),
            tenths(r.sinr_db)
        )],
        RadioTech::Umts => vec![format!(
            "+CPSI: WCDMA,Online,{camp},WCDMA IMT 2000,277,{},0,1.5,62,33,13,500",
            opt(r.earfcn, "")
        )],
        RadioTech::Gsm => vec![format!(
            "+CPSI: GSM,Online,{camp},{} EGSM 900,{},2110,42-42",
            opt(r.earfcn, ""),
            opt(r.rssi_dbm.map(|x| x.round() as i64), "")
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lte_line_has_values_in_tenths() {
        let mut r = Radio::default();
        assert_eq!(
            answer(&mut r, "AT+CPSI?"),
            Some(Answer::line("+CPSI: LTE,Online,440-10,0x1A2B,27447297,123,EUTRAN-BAND3,1500,5,5,-100,-950,-650,12"))
        );
        r.reg_state = 0;
        assert_eq!(
            answer(&mut r, "AT+CPSI?"),
            Some(Answer::line("+CPSI: NO SERVICE,Online"))
        );
    }
}
