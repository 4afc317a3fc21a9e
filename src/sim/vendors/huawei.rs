//! Huawei E3372 / ME909 answers: `AT^HCSQ?`, `AT^SYSINFOEX`, `AT^MONSC`, `AT^ICCID?` (in the
//! digit-pair-swapped form some firmware prints), `AT^CURC`, and the periodic `^RSSI`/`^HCSQ`/
//! `^MODE`/`^BOOT` noise while `^CURC` is on.
//!
//! Pure. Encodings invert `modem::huawei` (ME909s AT spec § ^HCSQ): RSSI v = dBm + 121,
//! RSRP v = dBm + 141, SINR v = (dB + 20.2) × 5, RSRQ v = (dB + 20) × 2, 255 unknown.

use super::super::answer::Answer;
use super::super::generic::{csq_index, index, opt, sim_error};
use super::super::radio::{Radio, RadioTech};

pub fn answer(radio: &mut Radio, c: &str) -> Option<Answer> {
    match c {
        "AT^HCSQ?" => Some(Answer::line(hcsq(radio))),
        "AT^SYSINFOEX" => Some(Answer::line(sysinfoex(radio))),
        "AT^MONSC" => Some(Answer::line(monsc(radio))),
        "AT^ICCID?" => Some(
            sim_error(radio, false)
                .unwrap_or_else(|| Answer::line(format!("^ICCID: {}", swapped(&radio.iccid)))),
        ),
        "AT^CURC?" => Some(Answer::line(format!("^CURC: {}", u8::from(radio.curc)))),
        "AT^CURC=0" => {
            radio.curc = false;
            Some(Answer::Ok(vec![]))
        }
        "AT^CURC=1" => {
            radio.curc = true;
            Some(Answer::Ok(vec![]))
        }
        _ => None,
    }
}

/// EF_ICCID as stored: F-padded to even length, each digit pair swapped (TS 102 221 §13.2).
fn swapped(iccid: &str) -> String {
    let mut padded = iccid.to_string();
    if padded.len() % 2 == 1 {
        padded.push('F');
    }
    padded
        .as_bytes()
        .chunks(2)
        .flat_map(|p| {
            [
                p.get(1).copied().unwrap_or(b'F'),
                p.first().copied().unwrap_or(b'F'),
            ]
        })
        .map(char::from)
        .collect()
}

fn hcsq(r: &Radio) -> String {
    if !r.registered() {
        return "^HCSQ: \"NOSERVICE\"".into();
    }
    let rssi = index(r.rssi_dbm, -121.0, 1.0, 96, 255);
    match r.tech {
        RadioTech::Gsm => format!("^HCSQ: \"GSM\",{rssi}"),
        RadioTech::Umts => format!("^HCSQ: \"WCDMA\",{rssi},{rssi},58"),
        // The E3372 has no NR: on an NSA/SA radio it reports what an LTE modem would see.
        _ => format!(
            "^HCSQ: \"LTE\",{rssi},{},{},{}",
            index(r.rsrp_dbm, -141.0, 1.0, 97, 255),
            index(r.sinr_db, -20.2, 5.0, 251, 255),
            index(r.rsrq_db, -20.0, 2.0, 34, 255)
        ),
    }
}

fn sysinfoex(r: &Radio) -> String {
    if !r.registered() {
        return "^SYSINFOEX:0,0,0,1,,0,,0,".into();
    }
    let roam = u8::from(matches!(r.reg_state, 5 | 7 | 10));
    let (mode, name, sub, subname) = match r.tech {
        RadioTech::Gsm => (1, "GSM", 3, "EDGE"),
        RadioTech::Umts => (3, "WCDMA", 41, "HSPA+"),
        _ => (6, "LTE", 101, "LTE"),
    };
    // Unquoted names, as ModemManager's test data shows E3372 firmware printing them.
    format!("^SYSINFOEX:2,3,{roam},1,,{mode},{name},{sub},{subname}")
}

fn monsc(r: &Radio) -> String {
    if !r.registered() || !matches!(r.tech, RadioTech::Lte | RadioTech::Nr5gNsa) {
        return "^MONSC: NONE".into();
    }
    let whole = |v: Option<f64>| opt(v.map(|x| x.round() as i64), "");
    format!(
        "^MONSC: LTE,{},{},{},{:X},{},{:X},{},{},{}",
        r.mcc,
        r.mnc,
        opt(r.earfcn, ""),
        r.cell_id,
        opt(r.pci.map(|p| format!("{p:X}")), ""),
        r.tac,
        whole(r.rsrp_dbm),
        whole(r.rsrq_db),
        whole(r.rssi_dbm)
    )
}

/// Periodic reports of the E3372 while `^CURC` is on.
pub fn noise(r: &Radio) -> Vec<String> {
    if !r.curc {
        return Vec::new();
    }
    let mode = match r.tech {
        RadioTech::Gsm => "^MODE: 3,3",
        RadioTech::Umts => "^MODE: 5,7",
        _ => "^MODE: 7,17",
    };
    vec![
        format!("^RSSI: {}", csq_index(r.rssi_dbm)),
        hcsq(r),
        mode.to_string(),
        "^BOOT:24760455,0,0,0,72".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iccid_comes_out_pair_swapped_like_the_buggy_firmware() {
        assert_eq!(swapped("8981100022152467221"), "981801002251427622F1");
    }

    #[test]
    fn hcsq_encodes_each_index() {
        let r = Radio::default();
        assert_eq!(hcsq(&r), "^HCSQ: \"LTE\",56,46,161,20");
        let r = Radio {
            rsrp_dbm: None,
            ..Radio::default()
        };
        assert_eq!(hcsq(&r), "^HCSQ: \"LTE\",56,255,161,20");
    }

    #[test]
    fn curc_off_silences_the_noise() {
        let mut r = Radio::default();
        assert_eq!(noise(&r).len(), 4);
        assert_eq!(answer(&mut r, "AT^CURC=0"), Some(Answer::Ok(vec![])));
        assert!(noise(&r).is_empty());
    }
}
