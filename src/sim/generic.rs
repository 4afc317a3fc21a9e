//! TS 27.007 answers of the simulated modem: identity, SIM, operator, registration and signal,
//! encoded from the [`Radio`] values with the spec's formulas run backwards, so that the
//! parsers in `modem::generic` read back what was set.
//!
//! Pure: a command line in, an [`Answer`] out (plus the few state changes set commands make
//! in the `Radio`). Echo, framing, `+CMEE`, faults belong to `sim::engine`.

use super::answer::Answer;
use super::radio::{Radio, RadioTech, SimCard};

/// Identity strings of a modem that does not pretend to be a vendor's.
pub const GENERIC_MANUFACTURER: &str = "simkeep";
pub const GENERIC_MODEL: &str = "SIM-LTE";
pub const GENERIC_REVISION: &str = "SIM-1.0";

/// Upper-cases outside double quotes and trims: `at+cops=3,2` → `AT+COPS=3,2`.
pub fn norm(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut quoted = false;
    for c in cmd.trim().chars() {
        if c == '"' {
            quoted = !quoted;
        }
        out.push(if quoted { c } else { c.to_ascii_uppercase() });
    }
    out
}

/// Runs `one` for each command of a `;`-concatenated line (`AT+COPS=3,2;+COPS?`), each given
/// with its `AT` prefix, and joins the information lines. The first failure is the answer,
/// as on a real modem; `None` (unknown command) anywhere → `None`.
pub fn answer_each(cmd: &str, mut one: impl FnMut(&str) -> Option<Answer>) -> Option<Answer> {
    let n = norm(cmd);
    if !n.contains(';') {
        return one(&n);
    }
    let body = n.strip_prefix("AT")?;
    let mut lines = Vec::new();
    for part in split_outside_quotes(body) {
        match one(&format!("AT{}", part.trim()))? {
            Answer::Ok(mut l) => lines.append(&mut l),
            other => return Some(other),
        }
    }
    Some(Answer::Ok(lines))
}

fn split_outside_quotes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

/// `value` unless empty, else `default`.
pub fn or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() {
        default
    } else {
        value
    }
}

/// A number or the vendor's unknown marker.
pub fn opt<T: std::fmt::Display>(v: Option<T>, unknown: &str) -> String {
    v.map_or_else(|| unknown.to_string(), |x| x.to_string())
}

/// An index from a value: `round((v − offset) × scale)` clamped to `0..=max`, or `unknown`.
pub fn index(v: Option<f64>, offset: f64, scale: f64, max: i64, unknown: i64) -> i64 {
    match v {
        Some(x) => (((x - offset) * scale).round() as i64).clamp(0, max),
        None => unknown,
    }
}

/// UCS2 hex of a string (`"Mo"` → `"004D006F"`), as modems print with `AT+CSCS="UCS2"`.
pub fn ucs2_hex(s: &str) -> String {
    s.encode_utf16().map(|u| format!("{u:04X}")).collect()
}

/// The `+CME ERROR` code a SIM command gets when the SIM is not usable (TS 27.007 §9.2).
pub fn sim_error(radio: &Radio, pin_ok_needed: bool) -> Option<Answer> {
    match radio.sim {
        SimCard::NotInserted => Some(Answer::CmeError(10)),
        SimCard::Busy => Some(Answer::CmeError(14)),
        SimCard::PinRequired if pin_ok_needed => Some(Answer::CmeError(11)),
        SimCard::PukRequired if pin_ok_needed => Some(Answer::CmeError(12)),
        _ => None,
    }
}

/// TS 27.007 `<AcT>` of the radio's technology.
pub fn act(tech: RadioTech) -> u8 {
    match tech {
        RadioTech::Gsm => 0,
        RadioTech::Umts => 2,
        RadioTech::Lte => 7,
        RadioTech::Nr5gNsa => 13,
        RadioTech::Nr5gSa => 11,
    }
}

/// Answers the TS 27.007 commands; `None` for anything else (the engine says `ERROR`).
/// `cmd` is one command with its `AT` prefix, e.g. `AT+CSQ`.
/// `+CCLK: "yy/MM/dd,hh:mm:ss±zz"` (TS 27.007 §8.15): UTC (zone +00) when the modem heard the
/// network's time, else the power-up default real modems show until NITZ arrives.
fn cclk(nitz_offset: Option<i64>) -> String {
    let Some(offset) = nitz_offset else {
        return "+CCLK: \"80/01/06,00:00:05+00\"".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    // "2026-12-02T03:59:44Z" → "26/12/02,03:59:44+00"
    let iso = crate::usage::civil::utc_string(now.saturating_add(offset));
    let (date, time) = iso.split_once('T').unwrap_or(("1980-01-06", "00:00:00Z"));
    let date = date.get(2..).unwrap_or("80-01-06").replace('-', "/");
    format!("+CCLK: \"{date},{}+00\"", time.trim_end_matches('Z'))
}

pub fn answer_generic(radio: &mut Radio, cmd: &str) -> Option<Answer> {
    let c = norm(cmd);
    let line = |s: String| Some(Answer::line(s));
    match c.as_str() {
        "ATI" => Some(Answer::Ok(vec![
            or(&radio.manufacturer, GENERIC_MANUFACTURER).to_string(),
            or(&radio.model, GENERIC_MODEL).to_string(),
            format!("Revision: {}", or(&radio.revision, GENERIC_REVISION)),
        ])),
        "AT+CGMI" | "AT+GMI" => line(or(&radio.manufacturer, GENERIC_MANUFACTURER).into()),
        "AT+CGMM" | "AT+GMM" => line(or(&radio.model, GENERIC_MODEL).into()),
        "AT+CGMR" | "AT+GMR" => line(or(&radio.revision, GENERIC_REVISION).into()),
        "AT+CGSN" | "AT+GSN" => line(radio.imei.clone()),
        "AT+CIMI" => sim_error(radio, true).or_else(|| line(radio.imsi.clone())),
        "AT+CCID" | "AT+ICCID" => {
            sim_error(radio, false).or_else(|| line(format!("+CCID: {}", radio.iccid)))
        }
        "AT+CPIN?" => cpin(radio),
        "AT+CNUM" => sim_error(radio, true).or_else(|| Some(cnum(radio))),
        "AT+COPS?" => line(cops(radio)),
        "AT+CSQ" => line(format!("+CSQ: {},99", csq_index(radio.rssi_dbm))),
        "AT+CCLK?" => line(cclk(radio.nitz_offset)),
        "AT+CESQ" => line(cesq(radio)),
        "AT+CSCS?" => line(format!(
            "+CSCS: \"{}\"",
            if radio.ucs2 { "UCS2" } else { "IRA" }
        )),
        "AT+CREG?" => line(reg_answer(radio, "+CREG", radio.creg_n)),
        "AT+CGREG?" => line(reg_answer(radio, "+CGREG", radio.cgreg_n)),
        "AT+CEREG?" => line(reg_answer(radio, "+CEREG", radio.cereg_n)),
        "AT+C5GREG?" => line(reg_answer(radio, "+C5GREG", radio.c5greg_n)),
        _ => set_command(radio, &c),
    }
}

fn set_command(radio: &mut Radio, c: &str) -> Option<Answer> {
    let ok = || Some(Answer::Ok(vec![]));
    if let Some(arg) = c.strip_prefix("AT+CPIN=") {
        return Some(enter_pin(radio, arg.trim_matches('"')));
    }
    if let Some(arg) = c.strip_prefix("AT+CSCS=") {
        radio.ucs2 = arg.trim_matches('"').eq_ignore_ascii_case("UCS2");
        return ok();
    }
    if let Some(arg) = c.strip_prefix("AT+COPS=") {
        let mut f = arg.split(',');
        if let (Some("3"), Some(fmt)) = (f.next(), f.next()) {
            match fmt.parse::<u8>() {
                Ok(v @ 0..=2) => radio.cops_format = v,
                _ => return Some(Answer::Error),
            }
        }
        return ok();
    }
    for (prefix, max) in [
        ("AT+CREG=", 3),
        ("AT+CGREG=", 3),
        ("AT+CEREG=", 5),
        ("AT+C5GREG=", 2),
    ] {
        let Some(arg) = c.strip_prefix(prefix) else {
            continue;
        };
        let slot = match prefix {
            "AT+CREG=" => &mut radio.creg_n,
            "AT+CGREG=" => &mut radio.cgreg_n,
            "AT+CEREG=" => &mut radio.cereg_n,
            _ => &mut radio.c5greg_n,
        };
        return match arg.parse::<u8>() {
            Ok(n) if n <= max => {
                *slot = n;
                ok()
            }
            _ => Some(Answer::Error),
        };
    }
    None
}

fn cpin(radio: &Radio) -> Option<Answer> {
    Some(match radio.sim {
        SimCard::Ready => Answer::line("+CPIN: READY"),
        SimCard::PinRequired => Answer::line("+CPIN: SIM PIN"),
        SimCard::PukRequired => Answer::line("+CPIN: SIM PUK"),
        SimCard::NotInserted => Answer::CmeError(10),
        SimCard::Busy => Answer::CmeError(14),
    })
}

/// `AT+CPIN="<pin>"`: a wrong PIN costs one attempt; the last one blocks the SIM (PUK).
fn enter_pin(radio: &mut Radio, pin: &str) -> Answer {
    match radio.sim {
        SimCard::PinRequired if pin == radio.pin => {
            radio.sim = SimCard::Ready;
            radio.pin_attempts = 3;
            Answer::Ok(vec![])
        }
        SimCard::PinRequired => {
            radio.pin_attempts = radio.pin_attempts.saturating_sub(1);
            if radio.pin_attempts == 0 {
                radio.sim = SimCard::PukRequired;
            }
            Answer::CmeError(16)
        }
        SimCard::NotInserted => Answer::CmeError(10),
        SimCard::Busy => Answer::CmeError(14),
        SimCard::PukRequired => Answer::CmeError(12),
        SimCard::Ready => Answer::CmeError(3),
    }
}

fn cnum(radio: &Radio) -> Answer {
    if radio.msisdn.is_empty() {
        return Answer::Ok(vec![]);
    }
    let ton = if radio.msisdn.starts_with('+') {
        145
    } else {
        129
    };
    Answer::line(format!("+CNUM: \"\",\"{}\",{ton}", radio.msisdn))
}

fn cops(radio: &Radio) -> String {
    if !radio.registered() {
        return "+COPS: 0".into();
    }
    let oper = match radio.cops_format {
        2 => format!("{}{}", radio.mcc, radio.mnc),
        _ => radio.operator.clone(),
    };
    let oper = if radio.ucs2 { ucs2_hex(&oper) } else { oper };
    format!(
        "+COPS: 0,{},\"{oper}\",{}",
        radio.cops_format,
        act(radio.tech)
    )
}

/// `+CSQ` index (TS 27.007 §8.5): −113 + 2n dBm.
pub fn csq_index(rssi: Option<f64>) -> i64 {
    index(rssi, -113.0, 0.5, 31, 99)
}

fn cesq(radio: &Radio) -> String {
    let lte = radio.tech.is_lte_anchor();
    let rxlev = if radio.tech == RadioTech::Gsm {
        index(radio.rssi_dbm, -111.0, 1.0, 63, 99)
    } else {
        99
    };
    let (rsrq, rsrp) = if lte {
        (
            index(radio.rsrq_db, -20.0, 2.0, 34, 255),
            index(radio.rsrp_dbm, -141.0, 1.0, 97, 255),
        )
    } else {
        (255, 255)
    };
    let nr = match radio.tech {
        RadioTech::Nr5gSa => Some((radio.rsrq_db, radio.rsrp_dbm, radio.sinr_db)),
        RadioTech::Nr5gNsa => Some((radio.nr_rsrq_db, radio.nr_rsrp_dbm, radio.nr_sinr_db)),
        _ => None,
    };
    match nr {
        None => format!("+CESQ: {rxlev},99,255,255,{rsrq},{rsrp}"),
        Some((q, p, s)) => format!(
            "+CESQ: {rxlev},99,255,255,{rsrq},{rsrp},{},{},{}",
            index(q, -43.5, 2.0, 127, 255),
            index(p, -157.0, 1.0, 126, 255),
            index(s, -23.5, 2.0, 127, 255)
        ),
    }
}

/// `+CxREG: <n>,<stat>[,<area>,<ci>,<AcT>]`. Each domain reports the stat only where the radio
/// really is: CS/GPRS on 2G/3G/LTE, EPS on LTE/NSA, 5GS on SA; elsewhere "not registered".
fn reg_answer(radio: &Radio, prefix: &str, n: u8) -> String {
    let here = match prefix {
        "+CEREG" => radio.tech.is_lte_anchor(),
        "+C5GREG" => radio.tech == RadioTech::Nr5gSa,
        _ => radio.tech != RadioTech::Nr5gSa,
    };
    let stat = if here { radio.reg_state } else { 0 };
    let registered = here && radio.registered();
    if n < 2 || !registered {
        return format!("{prefix}: {n},{stat}");
    }
    let (area, cell) = match prefix {
        "+C5GREG" => (
            format!("{:06X}", radio.tac),
            format!("{:09X}", radio.cell_id),
        ),
        "+CEREG" => (
            format!("{:04X}", radio.tac),
            format!("{:07X}", radio.cell_id),
        ),
        _ => (
            format!("{:04X}", radio.tac & 0xFFFF),
            format!("{:08X}", radio.cell_id),
        ),
    };
    format!(
        "{prefix}: {n},{stat},\"{area}\",\"{cell}\",{}",
        act(radio.tech)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(r: &mut Radio, cmd: &str) -> Option<Answer> {
        answer_each(cmd, |c| answer_generic(r, c))
    }

    #[test]
    fn identity_and_sim_answers_use_the_radio() {
        let mut r = Radio::default();
        assert_eq!(
            ask(&mut r, "at+cgmi"),
            Some(Answer::line(GENERIC_MANUFACTURER))
        );
        assert_eq!(
            ask(&mut r, "AT+CIMI"),
            Some(Answer::line("440101234567890"))
        );
        assert_eq!(ask(&mut r, "AT+CPIN?"), Some(Answer::line("+CPIN: READY")));
        r.sim = SimCard::NotInserted;
        assert_eq!(ask(&mut r, "AT+CPIN?"), Some(Answer::CmeError(10)));
        assert_eq!(ask(&mut r, "AT+CCID"), Some(Answer::CmeError(10)));
    }

    #[test]
    fn a_wrong_pin_costs_an_attempt_and_the_third_blocks_the_sim() {
        let mut r = Radio {
            sim: SimCard::PinRequired,
            ..Radio::default()
        };
        for _ in 0..2 {
            assert_eq!(ask(&mut r, "AT+CPIN=\"0000\""), Some(Answer::CmeError(16)));
        }
        assert_eq!(r.sim, SimCard::PinRequired);
        assert_eq!(ask(&mut r, "AT+CPIN=\"1234\""), Some(Answer::Ok(vec![])));
        assert_eq!(r.sim, SimCard::Ready);
        r.sim = SimCard::PinRequired;
        for _ in 0..3 {
            let _ = ask(&mut r, "AT+CPIN=\"9999\"");
        }
        assert_eq!(r.sim, SimCard::PukRequired);
    }

    #[test]
    fn creg_n_changes_the_answer_form() {
        let mut r = Radio::default();
        assert_eq!(ask(&mut r, "AT+CEREG?"), Some(Answer::line("+CEREG: 0,1")));
        assert_eq!(ask(&mut r, "AT+CEREG=2"), Some(Answer::Ok(vec![])));
        assert_eq!(
            ask(&mut r, "AT+CEREG?"),
            Some(Answer::line("+CEREG: 2,1,\"1A2B\",\"1A2D001\",7"))
        );
        assert_eq!(
            ask(&mut r, "AT+C5GREG?"),
            Some(Answer::line("+C5GREG: 0,0"))
        );
        assert_eq!(ask(&mut r, "AT+CEREG=9"), Some(Answer::Error));
    }

    #[test]
    fn concatenated_cops_sets_the_format_then_reads() {
        let mut r = Radio::default();
        assert_eq!(
            ask(&mut r, "AT+COPS=3,2;+COPS?"),
            Some(Answer::line("+COPS: 0,2,\"44010\",7"))
        );
        assert_eq!(
            ask(&mut r, "AT+COPS=3,0;+COPS?"),
            Some(Answer::line("+COPS: 0,0,\"NTT DOCOMO\",7"))
        );
        r.ucs2 = true;
        assert_eq!(
            ask(&mut r, "AT+COPS?"),
            Some(Answer::line(
                "+COPS: 0,0,\"004E0054005400200044004F0043004F004D004F\",7"
            ))
        );
    }

    #[test]
    fn signal_indices_follow_the_spec_and_unknown_is_99_or_255() {
        let mut r = Radio::default();
        assert_eq!(ask(&mut r, "AT+CSQ"), Some(Answer::line("+CSQ: 24,99")));
        assert_eq!(
            ask(&mut r, "AT+CESQ"),
            Some(Answer::line("+CESQ: 99,99,255,255,20,46"))
        );
        r.rsrp_dbm = None;
        r.rssi_dbm = None;
        assert_eq!(ask(&mut r, "AT+CSQ"), Some(Answer::line("+CSQ: 99,99")));
        assert_eq!(
            ask(&mut r, "AT+CESQ"),
            Some(Answer::line("+CESQ: 99,99,255,255,20,255"))
        );
    }

    #[test]
    fn unknown_commands_are_left_to_the_engine() {
        let mut r = Radio::default();
        assert_eq!(ask(&mut r, "AT+FOO"), None);
        assert_eq!(ask(&mut r, "AT+CSQ;+FOO"), None);
    }
}
