//! Sierra Wireless EM7455 answers: `AT!GSTATUS?` (the multi-line status block, labels and
//! tab layout as the EM74xx firmware prints them) and `AT!ICCID?`.
//!
//! Pure. Values print as the firmware does: whole dBm for RSSI/RSRP, one decimal for RSRQ and
//! SINR, TAC and cell id in hex with the decimal in brackets, `--` unknown.

use super::super::answer::Answer;
use super::super::generic::{opt, sim_error};
use super::super::radio::{Radio, RadioTech};

pub fn answer(radio: &mut Radio, c: &str) -> Option<Answer> {
    match c {
        "AT!GSTATUS?" => Some(Answer::Ok(gstatus(radio))),
        "AT!ICCID?" => Some(
            sim_error(radio, false)
                .unwrap_or_else(|| Answer::line(format!("!ICCID: {}", radio.iccid))),
        ),
        _ => None,
    }
}

fn gstatus(r: &Radio) -> Vec<String> {
    let whole = |v: Option<f64>| opt(v.map(|x| x.round() as i64), "--");
    let tenth = |v: Option<f64>| v.map_or_else(|| "--".to_string(), |x| format!("{x:.1}"));
    let mode = match (r.registered(), r.tech) {
        (false, _) => "No service",
        (true, RadioTech::Gsm) => "GSM",
        (true, RadioTech::Umts) => "WCDMA",
        // The EM7455 is an LTE modem: on an NR radio it sees the LTE side only.
        (true, _) => "LTE",
    };
    let mut out = vec![
        "!GSTATUS: ".to_string(),
        "Current Time:  4306\t\tTemperature: 35".to_string(),
        "Reset Counter: 2\t\tMode:        ONLINE         ".to_string(),
        format!("System mode:   {mode}        \tPS state:    Attached     "),
    ];
    if mode == "LTE" {
        out.extend([
            format!(
                "LTE band:      B{}    \t\tLTE bw:      20 MHz  ",
                opt(r.band, "--")
            ),
            format!(
                "LTE Rx chan:   {}\t\tLTE Tx chan: 19500",
                opt(r.earfcn, "--")
            ),
            "EMM state:     Registered     \tNormal Service ".to_string(),
            "RRC state:     RRC Idle       ".to_string(),
            "IMS reg state: No Srv  \t\t".to_string(),
            String::new(),
            format!(
                "PCC RxM RSSI:  {}\t\tPCC RxM RSRP:  {}",
                whole(r.rssi_dbm),
                whole(r.rsrp_dbm)
            ),
            "PCC RxD RSSI:  -55\t\tPCC RxD RSRP:  -86".to_string(),
            format!(
                "Tx Power:      --\t\tTAC:         {:04x} ({})",
                r.tac, r.tac
            ),
            format!(
                "RSRQ (dB):     {}\t\tCell ID:     {:08x} ({})",
                tenth(r.rsrq_db),
                r.cell_id,
                r.cell_id
            ),
            format!("SINR (dB):     {}", tenth(r.sinr_db)),
        ]);
    } else if mode == "No service" {
        out.push("EMM state:     Deregistered   \tNo Service ".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lte_block_carries_band_channel_and_ids() {
        let mut r = Radio::default();
        let Some(Answer::Ok(lines)) = answer(&mut r, "AT!GSTATUS?") else {
            panic!("no answer")
        };
        assert!(lines.contains(&"LTE band:      B3    \t\tLTE bw:      20 MHz  ".to_string()));
        assert!(
            lines.contains(&"RSRQ (dB):     -10.0\t\tCell ID:     01a2d001 (27447297)".to_string())
        );
    }
}
