//! Quectel EC25 / RM520N answers: `AT+QENG="servingcell"` (LTE, NR5G-SA one line, NR5G-NSA
//! three lines, WCDMA, GSM, SEARCH), `AT+QCSQ`, `AT+QNWINFO`, `AT+QCCID`.
//!
//! Pure. Formats per the Quectel EC2x/RM5xx AT manuals (§ QENG, QCSQ, QNWINFO, QCCID); values
//! encoded with the inverse of `modem::quectel`'s rules: LTE QENG SINR as (dB + 20) / 2,
//! QCSQ LTE SINR in 1/5 dB over 0…250 (dB + 20) × 5, everything else whole dBm/dB; `-` unknown.

use super::super::answer::Answer;
use super::super::generic::{index, opt, sim_error};
use super::super::radio::{Radio, RadioTech};

/// Whole dBm/dB or `-`.
fn whole(v: Option<f64>) -> String {
    opt(v.map(|x| x.round() as i64), "-")
}

pub fn answer(radio: &mut Radio, c: &str) -> Option<Answer> {
    match c.to_ascii_uppercase().as_str() {
        "AT+QCCID" => Some(sim_error(radio, false).unwrap_or_else(|| {
            // Quectel pads a 19-digit ICCID with F to 20 characters.
            let pad = if radio.iccid.len() % 2 == 1 { "F" } else { "" };
            Answer::line(format!("+QCCID: {}{pad}", radio.iccid))
        })),
        "AT+QENG=\"SERVINGCELL\"" => Some(Answer::Ok(qeng(radio))),
        "AT+QCSQ" => Some(Answer::Ok(qcsq(radio))),
        "AT+QNWINFO" => Some(Answer::Ok(qnwinfo(radio))),
        _ => None,
    }
}

fn lte_tail(r: &Radio) -> String {
    let sinr = opt(r.sinr_db.map(|_| index(r.sinr_db, -20.0, 0.5, 25, 0)), "-");
    format!(
        "{},{},{:X},{},{},{},5,5,{:X},{},{},{},{sinr},15,-,-",
        r.mcc,
        r.mnc,
        r.cell_id,
        opt(r.pci, "-"),
        opt(r.earfcn, "-"),
        opt(r.band, "-"),
        r.tac,
        whole(r.rsrp_dbm),
        whole(r.rsrq_db),
        whole(r.rssi_dbm)
    )
}

fn qeng(r: &Radio) -> Vec<String> {
    if !r.registered() {
        return vec!["+QENG: \"servingcell\",\"SEARCH\"".into()];
    }
    let head = "+QENG: \"servingcell\",\"NOCONN\"";
    match r.tech {
        RadioTech::Lte => vec![format!("{head},\"LTE\",\"FDD\",{}", lte_tail(r))],
        RadioTech::Nr5gNsa => vec![
            head.to_string(),
            format!("+QENG: \"LTE\",\"FDD\",{}", lte_tail(r)),
            format!(
                "+QENG:\"NR5G-NSA\",{},{},{},{},{},{},{},{},12,1",
                r.mcc,
                r.mnc,
                opt(r.nr_pci, "-"),
                whole(r.nr_rsrp_dbm),
                whole(r.nr_sinr_db),
                whole(r.nr_rsrq_db),
                opt(r.nr_arfcn, "-"),
                opt(r.nr_band, "-")
            ),
        ],
        RadioTech::Nr5gSa => vec![format!(
            "{head},\"NR5G-SA\",\"TDD\", {},{},{:X},{},{:X},{},{},12,{},{},{},1,-",
            r.mcc,
            r.mnc,
            r.cell_id,
            opt(r.pci, "-"),
            r.tac,
            opt(r.earfcn, "-"),
            opt(r.band, "-"),
            whole(r.rsrp_dbm),
            whole(r.rsrq_db),
            whole(r.sinr_db)
        )],
        RadioTech::Umts => vec![format!(
            "{head},\"WCDMA\",{},{},{:X},{:X},{},311,1,{},-6,-,-,-,-,-",
            r.mcc,
            r.mnc,
            r.tac,
            r.cell_id,
            opt(r.earfcn, "-"),
            whole(r.rssi_dbm)
        )],
        RadioTech::Gsm => vec![format!(
            "{head},\"GSM\",{},{},{:X},{:X},20,{},0,{},0,-,-,-,-,-",
            r.mcc,
            r.mnc,
            r.tac,
            r.cell_id,
            opt(r.earfcn, "-"),
            whole(r.rssi_dbm)
        )],
    }
}

fn qcsq(r: &Radio) -> Vec<String> {
    if !r.registered() {
        return vec!["+QCSQ: \"NOSERVICE\"".into()];
    }
    let lte = || {
        let sinr = opt(r.sinr_db.map(|_| index(r.sinr_db, -20.0, 5.0, 250, 0)), "-");
        format!(
            "+QCSQ: \"LTE\",{},{},{sinr},{}",
            whole(r.rssi_dbm),
            whole(r.rsrp_dbm),
            whole(r.rsrq_db)
        )
    };
    let nr = |p, s, q| format!("+QCSQ: \"NR5G\",{},{},{}", whole(p), whole(s), whole(q));
    match r.tech {
        RadioTech::Lte => vec![lte()],
        RadioTech::Nr5gNsa => vec![lte(), nr(r.nr_rsrp_dbm, r.nr_sinr_db, r.nr_rsrq_db)],
        RadioTech::Nr5gSa => vec![nr(r.rsrp_dbm, r.sinr_db, r.rsrq_db)],
        RadioTech::Umts => vec![format!(
            "+QCSQ: \"WCDMA\",{},{},-6",
            whole(r.rssi_dbm),
            whole(r.rssi_dbm)
        )],
        RadioTech::Gsm => vec![format!("+QCSQ: \"GSM\",{}", whole(r.rssi_dbm))],
    }
}

fn qnwinfo(r: &Radio) -> Vec<String> {
    if !r.registered() {
        return vec!["+QNWINFO: No Service".into()];
    }
    let plmn = format!("{}{}", r.mcc, r.mnc);
    let line = |act: &str, band: String, ch: Option<u32>| {
        format!("+QNWINFO: \"{act}\",\"{plmn}\",\"{band}\",{}", opt(ch, "-"))
    };
    let lte = || {
        line(
            "FDD LTE",
            format!("LTE BAND {}", opt(r.band, "-")),
            r.earfcn,
        )
    };
    match r.tech {
        RadioTech::Lte => vec![lte()],
        RadioTech::Nr5gNsa => vec![
            lte(),
            line(
                "TDD NR5G",
                format!("NR5G BAND {}", opt(r.nr_band, "-")),
                r.nr_arfcn,
            ),
        ],
        RadioTech::Nr5gSa => vec![line(
            "TDD NR5G",
            format!("NR5G BAND {}", opt(r.band, "-")),
            r.earfcn,
        )],
        RadioTech::Umts => vec![line("WCDMA", "WCDMA 2100".into(), r.earfcn)],
        RadioTech::Gsm => vec![line("GSM", "GSM 900".into(), r.earfcn)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lte_servingcell_line_has_the_ec25_layout() {
        let mut r = Radio::default();
        let a = answer(&mut r, "AT+QENG=\"servingcell\"");
        assert_eq!(
            a,
            Some(Answer::line("+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",440,10,1A2D001,123,1500,3,5,5,1A2B,-95,-10,-65,16,15,-,-"))
        );
    }

    #[test]
    fn nsa_servingcell_is_three_lines_and_search_is_one() {
        let mut r = Radio::nsa();
        let Some(Answer::Ok(lines)) = answer(&mut r, "AT+QENG=\"servingcell\"") else {
            panic!("no answer")
        };
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[2],
            "+QENG:\"NR5G-NSA\",440,10,500,-88,18,-11,643334,78,12,1"
        );
        r.reg_state = 2;
        assert_eq!(
            answer(&mut r, "AT+QENG=\"servingcell\""),
            Some(Answer::line("+QENG: \"servingcell\",\"SEARCH\""))
        );
    }

    #[test]
    fn unknown_values_print_as_dashes() {
        let mut r = Radio {
            sinr_db: None,
            rsrp_dbm: None,
            ..Radio::default()
        };
        let Some(Answer::Ok(lines)) = answer(&mut r, "AT+QCSQ") else {
            panic!("no answer")
        };
        assert_eq!(lines, vec!["+QCSQ: \"LTE\",-65,-,-,-10".to_string()]);
    }
}
