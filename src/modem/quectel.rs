//! Quectel replies: `AT+QENG="servingcell"` (LTE, WCDMA, GSM, NR5G-SA one-line and the
//! multi-line NR5G-NSA form), `AT+QCSQ`, `AT+QNWINFO`, `+QIND` URCs. ICCID (`+QCCID`) is read
//! by the generic ICCID parser.
//!
//! Pure; layouts follow the Quectel EC2x and RG50xQ/RM5xxQ "AT Commands Manual" sections on
//! `AT+QENG` (Engineering Mode), `AT+QCSQ` and `AT+QNWINFO`. Field positions move between
//! layouts, so each layout has its own reader; `-` means unknown and gives `None`.

use super::cell_fields::{bad, int, uint};
use super::model::{round1, NrSignal, RadioReport, Signal, Tech};
use super::profile::{Declared, Feeds, Params, Query, Rate, Reads, Spec, CELL, GENERIC, QUICK};
use super::{after_prefix, fields, opt_hex, opt_int, plausible, to_u32, ParseError};
use crate::usage::Traffic;

// ------------------------------------------------------------------ profile declaration

/// Quectel (EC2x, EG2x, EM0x/EM1x, RM5xx, RG5xx, BG9x): what differs from the 3GPP profile.
pub const PARAMS: Params = Params {
    maker: "quectel",
    models: &[
        "EC2", "EG0", "EG2", "EP0", "RM5", "RG5", "BG9", "EM0", "EM1", "EM12", "EM16",
    ],
    iccid: Some(Query::QuectelIccid),
    cell: &[
        Declared::new(
            Query::QuectelServingCell,
            Rate::EveryPoll,
            Feeds::RegistrationAndSignal,
        ),
        Declared::new(Query::QuectelSignal, Rate::EveryPoll, Feeds::Signal),
        // Band and channel: they change on handover, and the read is one short line.
        Declared::new(Query::QuectelNetworkInfo, Rate::EveryPoll, Feeds::Signal),
    ],
    counters: Some(Query::QuectelDataCounters),
    ..GENERIC
};

/// `AT+QCCID` answers `+QCCID: <iccid>`, read by the generic ICCID parser.
pub const ICCID: Spec = Spec::one("AT+QCCID", QUICK, Reads::Iccid(super::generic::parse_iccid));
/// EC25 manual: `AT+QENG` max response time 300 ms; see [`CELL`].
pub const SERVING_CELL: Spec = Spec::one(
    "AT+QENG=\"servingcell\"",
    CELL,
    Reads::Cell(|l| parse_qeng(l).ok()),
);
pub const SIGNAL: Spec = Spec::one(
    "AT+QCSQ",
    QUICK,
    Reads::Cell(|l| {
        parse_qcsq(l).ok().map(|signal| RadioReport {
            signal,
            ..RadioReport::default()
        })
    }),
);
pub const NETWORK_INFO: Spec =
    Spec::one("AT+QNWINFO", QUICK, Reads::Cell(|l| parse_qnwinfo(l).ok()));
/// `+QGDCNT: <sent>,<received>` since the last reset of the counters.
pub const DATA_COUNTERS: Spec = Spec::one("AT+QGDCNT?", QUICK, Reads::Counters(counters));

fn counters(lines: &[String]) -> Option<Traffic> {
    crate::usage::counters::parse_qgdcnt(&lines.join("\n")).ok()
}

const QENG: &str = "+QENG";

/// `AT+QENG="servingcell"`. Accepts, one per reply:
/// - `+QENG: "servingcell","SEARCH"` (no cell) and `"LIMSRV"` (limited service),
/// - `+QENG: "servingcell",<state>,"LTE",<is_tdd>,<mcc>,<mnc>,<cellid>,<pcid>,<earfcn>,<band>,
///   <ul_bw>,<dl_bw>,<tac>,<rsrp>,<rsrq>,<rssi>,<sinr>…`,
/// - `+QENG: "servingcell",<state>,"WCDMA",<mcc>,<mnc>,<lac>,<cellid>,<uarfcn>,<psc>,<rac>,<rscp>…`,
/// - `+QENG: "servingcell",<state>,"GSM",<mcc>,<mnc>,<lac>,<cellid>,<bsic>,<arfcn>,<band>,<rxlev>…`,
/// - `+QENG: "servingcell",<state>,"NR5G-SA",<duplex>,<mcc>,<mnc>,<cellid>,<pcid>,<tac>,<arfcn>,
///   <band>,<dl_bw>,<rsrp>,<rsrq>,<sinr>…`,
/// - NSA over several lines: `+QENG: "servingcell",<state>`, `+QENG: "LTE",<is_tdd>,<mcc>,…`,
///   `+QENG: "NR5G-NSA",<mcc>,<mnc>,<pcid>,<rsrp>,<sinr>,<rsrq>[,<arfcn>,<band>…]`.
pub fn parse_qeng(lines: &[String]) -> Result<RadioReport, ParseError> {
    let mut report = RadioReport::default();
    let mut seen_serving = false;
    for line in lines {
        let Some(body) = after_prefix(line, QENG) else {
            continue;
        };
        let f = fields(body);
        let tag = f.first().copied().unwrap_or("");
        if tag.eq_ignore_ascii_case("servingcell") {
            seen_serving = true;
            let state = f.get(1).copied().unwrap_or("");
            report.in_service = match state.to_ascii_uppercase().as_str() {
                "NOCONN" | "CONNECT" => Some(true),
                "SEARCH" | "LIMSRV" => Some(false),
                _ => return Err(ParseError::malformed("serving cell", line, "unknown state")),
            };
            match f.get(2).copied() {
                None => {}
                Some("LTE") => lte(&mut report, &f, 3, line)?,
                Some("NR5G-SA") => nr_sa(&mut report, &f, line)?,
                Some("WCDMA") => wcdma(&mut report, &f, line)?,
                Some("GSM") => gsm(&mut report, &f, line)?,
                Some(_) => {
                    return Err(ParseError::malformed(
                        "serving cell",
                        line,
                        "unknown access technology",
                    ))
                }
            }
        } else if tag == "LTE" {
            lte(&mut report, &f, 1, line)?;
        } else if tag == "NR5G-NSA" {
            nr_nsa(&mut report, &f, line)?;
        }
    }
    if !seen_serving && report.tech.is_none() {
        return Err(ParseError::Missing {
            what: "serving cell",
        });
    }
    Ok(report)
}

fn hex(f: &[&str], i: usize, line: &str) -> Result<Option<u64>, ParseError> {
    opt_hex(f.get(i)).map_err(|_| bad(line, "a hex field holds text"))
}

fn hex32(f: &[&str], i: usize, line: &str) -> Result<Option<u32>, ParseError> {
    hex(f, i, line)?
        .map(u32::try_from)
        .transpose()
        .map_err(|_| bad(line, "area code is out of range"))
}

fn digits(f: &[&str], i: usize, line: &str) -> Result<Option<String>, ParseError> {
    match f.get(i).copied() {
        None => Ok(None),
        Some(s) if super::is_unknown_marker(s) => Ok(None),
        Some(s) if s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(s.to_string())),
        Some(_) => Err(bad(line, "MCC/MNC is not 1-3 digits")),
    }
}

fn dbm(f: &[&str], i: usize, line: &str, lo: f64, hi: f64) -> Result<Option<f64>, ParseError> {
    Ok(plausible(int(f, i, line)?.map(|v| v as f64), lo, hi))
}

/// LTE fields starting at `at` (`is_tdd`): on the one-line form at 3, on the NSA line at 1.
fn lte(r: &mut RadioReport, f: &[&str], at: usize, line: &str) -> Result<(), ParseError> {
    if f.len() < at + 14 {
        return Err(bad(line, "LTE line is truncated"));
    }
    if r.tech.is_none() {
        r.tech = Some(Tech::Lte);
    }
    r.mcc = digits(f, at + 1, line)?;
    r.mnc = digits(f, at + 2, line)?;
    r.cell_id = hex(f, at + 3, line)?;
    r.signal.pci = uint(f, at + 4, line)?;
    r.signal.earfcn = uint(f, at + 5, line)?;
    r.signal.band = uint(f, at + 6, line)?;
    r.tac = hex32(f, at + 9, line)?;
    r.signal.rsrp_dbm = dbm(f, at + 10, line, -156.0, -30.0)?;
    r.signal.rsrq_db = dbm(f, at + 11, line, -43.5, 20.0)?;
    r.signal.rssi_dbm = dbm(f, at + 12, line, -130.0, 0.0)?;
    // SINR: reported as v with dB = v/5*10 - 20, i.e. 2v - 20 over 0..=25 (modem-quirks.md
    // item 4, as EC2x/RM5xx tools read it). Values outside that range stay unknown.
    r.signal.sinr_db = int(f, at + 13, line)?
        .filter(|v| (0..=25).contains(v))
        .map(|v| (2 * v - 20) as f64);
    Ok(())
}

fn nr_sa(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 15 {
        return Err(bad(line, "NR5G-SA line is truncated"));
    }
    r.tech = Some(Tech::Nr5gSa);
    r.mcc = digits(f, 4, line)?;
    r.mnc = digits(f, 5, line)?;
    r.cell_id = hex(f, 6, line)?;
    r.signal.pci = uint(f, 7, line)?;
    r.tac = hex32(f, 8, line)?;
    r.signal.earfcn = uint(f, 9, line)?;
    r.signal.band = uint(f, 10, line)?;
    r.signal.rsrp_dbm = dbm(f, 12, line, -156.0, -30.0)?;
    r.signal.rsrq_db = dbm(f, 13, line, -43.5, 20.0)?;
    r.signal.sinr_db = dbm(f, 14, line, -23.0, 40.0)?;
    Ok(())
}

fn nr_nsa(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 7 {
        return Err(bad(line, "NR5G-NSA line is truncated"));
    }
    r.tech = Some(Tech::Nr5gNsa);
    r.signal.nr = Some(NrSignal {
        rsrp_dbm: dbm(f, 4, line, -156.0, -30.0)?,
        // NR SINR is in dB here; one RM500Q firmware prints e.g. 180 (not a dB figure):
        // outside −23…40 dB it is left unknown rather than reported wrong.
        sinr_db: dbm(f, 5, line, -23.0, 40.0)?,
        rsrq_db: dbm(f, 6, line, -43.5, 20.0)?,
        arfcn: uint(f, 7, line)?,
        band: uint(f, 8, line)?,
    });
    Ok(())
}

fn wcdma(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 11 {
        return Err(bad(line, "WCDMA line is truncated"));
    }
    r.tech = Some(Tech::Umts);
    r.mcc = digits(f, 3, line)?;
    r.mnc = digits(f, 4, line)?;
    r.tac = hex32(f, 5, line)?;
    r.cell_id = hex(f, 6, line)?;
    r.signal.earfcn = uint(f, 7, line)?;
    Ok(())
}

fn gsm(r: &mut RadioReport, f: &[&str], line: &str) -> Result<(), ParseError> {
    if f.len() < 11 {
        return Err(bad(line, "GSM line is truncated"));
    }
    r.tech = Some(Tech::Gsm);
    r.mcc = digits(f, 3, line)?;
    r.mnc = digits(f, 4, line)?;
    r.tac = hex32(f, 5, line)?;
    r.cell_id = hex(f, 6, line)?;
    r.signal.earfcn = uint(f, 8, line)?;
    r.signal.rssi_dbm = dbm(f, 10, line, -130.0, 0.0)?;
    Ok(())
}

/// `AT+QCSQ` (one line per RAT; NSA gives an LTE and an NR5G line):
/// `+QCSQ: "NOSERVICE"`, `"GSM",<rssi>`, `"WCDMA",<rssi>,<rscp>,<ecio>`,
/// `"LTE",<rssi>,<rsrp>,<sinr>,<rsrq>`, `"NR5G",<rsrp>,<sinr>,<rsrq>`.
/// LTE SINR is in 1/5 dB over 0…250 (dB = v/5 − 20, Quectel manual `AT+QCSQ` notes);
/// NR5G SINR is in dB.
pub fn parse_qcsq(lines: &[String]) -> Result<Signal, ParseError> {
    let mut s = Signal::default();
    let mut lte_seen = false;
    let mut nr: Option<NrSignal> = None;
    let mut any = false;
    for line in lines {
        let Some(body) = after_prefix(line, "+QCSQ") else {
            continue;
        };
        any = true;
        let f = fields(body);
        let q = |i: usize, lo: f64, hi: f64| -> Result<Option<f64>, ParseError> {
            let v = opt_int(f.get(i))
                .map_err(|_| ParseError::malformed("signal", line, "a numeric field holds text"))?;
            Ok(plausible(v.map(|x| x as f64), lo, hi))
        };
        let need = |n: usize| {
            if f.len() < n {
                Err(ParseError::malformed("signal", line, "line is truncated"))
            } else {
                Ok(())
            }
        };
        match f.first().copied().unwrap_or("") {
            "NOSERVICE" => {}
            "GSM" | "WCDMA" | "TDSCDMA" => {
                need(2)?;
                s.rssi_dbm = q(1, -130.0, 0.0)?;
            }
            "LTE" | "CAT-M" | "CAT-NB" => {
                need(5)?;
                lte_seen = true;
                s.rssi_dbm = q(1, -130.0, 0.0)?;
                s.rsrp_dbm = q(2, -156.0, -30.0)?;
                s.sinr_db = opt_int(f.get(3))
                    .map_err(|_| ParseError::malformed("signal", line, "SINR holds text"))?
                    .filter(|v| (0..=250).contains(v))
                    .map(|v| round1(v as f64 / 5.0 - 20.0));
                s.rsrq_db = q(4, -43.5, 20.0)?;
            }
            "NR5G" => {
                need(4)?;
                nr = Some(NrSignal {
                    rsrp_dbm: q(1, -156.0, -30.0)?,
                    sinr_db: q(2, -23.0, 40.0)?,
                    rsrq_db: q(3, -43.5, 20.0)?,
                    ..NrSignal::default()
                });
            }
            _ => return Err(ParseError::malformed("signal", line, "unknown system mode")),
        }
    }
    if !any {
        return Err(ParseError::Missing { what: "+QCSQ" });
    }
    match (lte_seen, nr) {
        (true, nr) => s.nr = nr,
        (false, Some(n)) => {
            s.rsrp_dbm = n.rsrp_dbm;
            s.sinr_db = n.sinr_db;
            s.rsrq_db = n.rsrq_db;
        }
        (false, None) => {}
    }
    Ok(s)
}

/// `AT+QNWINFO`: `+QNWINFO: <act>,<oper>,<band>,<channel>`, e.g.
/// `+QNWINFO: "FDD LTE","44010","LTE BAND 1",100` — on NSA a second `"TDD NR5G"` line — or
/// `+QNWINFO: No Service`.
pub fn parse_qnwinfo(lines: &[String]) -> Result<RadioReport, ParseError> {
    let mut r = RadioReport::default();
    let mut any = false;
    for line in lines {
        let Some(body) = after_prefix(line, "+QNWINFO") else {
            continue;
        };
        any = true;
        let f = fields(body);
        let act = f.first().copied().unwrap_or("").to_ascii_uppercase();
        if act.contains("NO SERVICE") {
            r.in_service = Some(false);
            continue;
        }
        let bad = |reason| ParseError::malformed("network info", line, reason);
        if f.len() < 4 {
            return Err(bad("line is truncated"));
        }
        let band = band_number(f.get(2).copied().unwrap_or(""));
        let channel = to_u32(opt_int(f.get(3)).map_err(|_| bad("channel is not a number"))?)
            .map_err(|_| bad("channel out of range"))?;
        let oper = f.get(1).copied().unwrap_or("");
        if (5..=6).contains(&oper.len()) && oper.bytes().all(|b| b.is_ascii_digit()) {
            r.mcc = oper.get(..3).map(str::to_string);
            r.mnc = oper.get(3..).map(str::to_string);
        }
        r.in_service = Some(true);
        if act.contains("NR5G") {
            if r.tech == Some(Tech::Lte) {
                r.tech = Some(Tech::Nr5gNsa);
                let nr = r.signal.nr.get_or_insert_with(NrSignal::default);
                nr.band = band;
                nr.arfcn = channel;
            } else {
                r.tech = Some(Tech::Nr5gSa);
                r.signal.band = band;
                r.signal.earfcn = channel;
            }
            continue;
        }
        r.tech = Some(qnwinfo_tech(&act).ok_or_else(|| bad("unknown access technology"))?);
        r.signal.band = band;
        r.signal.earfcn = channel;
    }
    if !any {
        return Err(ParseError::Missing { what: "+QNWINFO" });
    }
    Ok(r)
}

fn qnwinfo_tech(act: &str) -> Option<Tech> {
    if act.contains("LTE") {
        Some(Tech::Lte)
    } else if ["WCDMA", "HSPA", "HSDPA", "HSUPA", "TDSCDMA", "UMTS"]
        .iter()
        .any(|t| act.contains(t))
    {
        Some(Tech::Umts)
    } else if ["GSM", "GPRS", "EDGE"].iter().any(|t| act.contains(t)) {
        Some(Tech::Gsm)
    } else {
        None
    }
}

/// A Quectel `+QIND` report (EC2x/RM5xx manual § AT+QINDCFG).
#[derive(Debug, Clone, PartialEq)]
pub enum Qind {
    /// `+QIND: "csq",<rssi>,<ber>` — RSSI on the `+CSQ` scale, as dBm.
    Csq(Option<f64>),
    /// `+QIND: SMS DONE`: SMS storage is initialised (SMS commands work from now on).
    SmsDone,
    /// `+QIND: PB DONE`: phonebook initialised.
    PbDone,
    /// `+QIND: "smsfull","SM"`: that message storage is full.
    SmsFull(String),
    /// `+QIND: "act","LTE"`: the access technology changed.
    Act(String),
    /// Anything else (`"FOTA",…`), payload as received.
    Other(String),
}

/// Types a `+QIND:` line.
pub fn parse_qind(line: &str) -> Result<Qind, ParseError> {
    let body = after_prefix(line, "+QIND")
        .ok_or_else(|| ParseError::malformed("indication", line, "expected +QIND:"))?;
    let f = fields(body);
    let tag = f.first().copied().unwrap_or("").to_ascii_lowercase();
    Ok(match tag.as_str() {
        "sms done" => Qind::SmsDone,
        "pb done" => Qind::PbDone,
        "csq" => {
            let rssi = f.get(1).copied().unwrap_or("");
            let ber = f.get(2).copied().unwrap_or("99");
            Qind::Csq(super::generic::parse_csq(&format!("+CSQ: {rssi},{ber}"))?)
        }
        "smsfull" => Qind::SmsFull(f.get(1).copied().unwrap_or("").to_string()),
        "act" => Qind::Act(f.get(1).copied().unwrap_or("").to_string()),
        _ => Qind::Other(body.to_string()),
    })
}

/// The number at the end of a band name: `"LTE BAND 3"` → 3, `"NR5G BAND 78"` → 78,
/// `"NR N78"` → 78 (modem-quirks.md item 5), `"EUTRAN-BAND40"` → 40, `"B66"` → 66. Only a
/// number after `BAND`, `B` or `N` counts: `"WCDMA 2100"` names a frequency, not a band.
pub fn band_number(text: &str) -> Option<u32> {
    let t = text.trim();
    let head = t.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = t.get(head.len()..)?;
    if digits.is_empty() || digits.len() > 3 {
        return None;
    }
    let h = head.trim_end().to_ascii_uppercase();
    let mut rev = h.chars().rev();
    let letter_tag = matches!(rev.next(), Some('B' | 'N'))
        && !rev.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !(h.ends_with("BAND") || letter_tag) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
#[path = "quectel_tests.rs"]
mod tests;
