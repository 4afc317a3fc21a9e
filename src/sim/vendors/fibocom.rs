//! Fibocom L850 answers: `AT+GTCCINFO?` in the L8-family sectioned layout (`LTE service
//! cell:` titles; NR rows when the radio is on NR, as FM150/FM350 print them) and `AT+ICCID`.
//!
//! Pure. Row layout and indices invert `modem::fibocom`: LTE band 100+n, NR band 5000+n,
//! LTE RSRP −141+v, RSRQ −20+v/2, SINR whole dB; NR SS-RSRP −157+v, SS-RSRQ −43.5+v/2,
//! SS-SINR −23.5+v/2; 255 unknown.

use super::super::answer::Answer;
use super::super::generic::{index, opt, sim_error};
use super::super::radio::{Radio, RadioTech};

pub fn answer(radio: &mut Radio, c: &str) -> Option<Answer> {
    match c {
        "AT+GTCCINFO?" => Some(Answer::Ok(gtccinfo(radio))),
        "AT+ICCID" => Some(
            sim_error(radio, false)
                .unwrap_or_else(|| Answer::line(format!("+ICCID: {}", radio.iccid))),
        ),
        _ => None,
    }
}

fn lte_row(r: &Radio) -> String {
    let rsrp = index(r.rsrp_dbm, -141.0, 1.0, 97, 255);
    format!(
        "1,4,{},{},{:X},{:09X},{},{},{},50,{},{rsrp},{rsrp},{}",
        r.mcc,
        r.mnc,
        r.tac,
        r.cell_id,
        opt(r.earfcn, ""),
        opt(r.pci, ""),
        opt(r.band.map(|b| b + 100), ""),
        opt(r.sinr_db.map(|x| x.round() as i64), "255"),
        index(r.rsrq_db, -20.0, 2.0, 34, 255)
    )
}

/// `ids` = Some((tac, cell)) on SA; NSA's NR row carries all-F ids.
fn nr_row(
    r: &Radio,
    v: (Option<f64>, Option<f64>, Option<f64>),
    band: Option<u32>,
    arfcn: Option<u32>,
    pci: Option<u32>,
    ids: Option<(u32, u64)>,
) -> String {
    let (rsrp, rsrq, sinr) = v;
    let rsrp = index(rsrp, -157.0, 1.0, 126, 255);
    let (plmn, tac, cell) = match ids {
        Some((t, c)) => (
            format!("{},{}", r.mcc, r.mnc),
            format!("{t:X}"),
            format!("{c:09X}"),
        ),
        None => (
            ",".to_string(),
            "FFFFFFF".to_string(),
            "00FFFFFFF".to_string(),
        ),
    };
    format!(
        "1,9,{plmn},{tac},{cell},{},{},{},400,{},{rsrp},{rsrp},{}",
        opt(arfcn, ""),
        opt(pci, ""),
        opt(band.map(|b| b + 5000), ""),
        index(sinr, -23.5, 2.0, 127, 255),
        index(rsrq, -43.5, 2.0, 127, 255)
    )
}

fn gtccinfo(r: &Radio) -> Vec<String> {
    let mut out = vec!["+GTCCINFO:".to_string()];
    if !r.registered() {
        return out;
    }
    match r.tech {
        RadioTech::Lte | RadioTech::Nr5gNsa => {
            out.push("LTE service cell:".into());
            out.push(lte_row(r));
            if r.tech == RadioTech::Nr5gNsa {
                out.push("NR service cell:".into());
                out.push(nr_row(
                    r,
                    (r.nr_rsrp_dbm, r.nr_rsrq_db, r.nr_sinr_db),
                    r.nr_band,
                    r.nr_arfcn,
                    r.nr_pci,
                    None,
                ));
            }
            out.push("LTE neighbor cell:".into());
            out.push("2,4,,,FFFF,00FFFFFFF,6300,207,,42,42,15".into());
        }
        RadioTech::Nr5gSa => {
            out.push("NR service cell:".into());
            out.push(nr_row(
                r,
                (r.rsrp_dbm, r.rsrq_db, r.sinr_db),
                r.band,
                r.earfcn,
                r.pci,
                Some((r.tac, r.cell_id)),
            ));
        }
        // 2G/3G rows are not part of this command on the L850: the table stays empty.
        RadioTech::Umts | RadioTech::Gsm => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lte_service_row_encodes_band_and_indices() {
        let mut r = Radio::default();
        let Some(Answer::Ok(lines)) = answer(&mut r, "AT+GTCCINFO?") else {
            panic!("no answer")
        };
        assert_eq!(
            lines[2],
            "1,4,440,10,1A2B,001A2D001,1500,123,103,50,12,46,46,20"
        );
    }
}
