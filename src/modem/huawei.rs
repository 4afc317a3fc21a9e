//! Huawei (HiSilicon Balong: E3372, ME909s, ME906s) replies: `AT^HCSQ?` and its URC,
//! `AT^SYSINFOEX`, `AT^MONSC` (serving cell), `AT^ICCID?` with the digit-pair-swapped
//! firmware bug, and which `^` URCs are periodic noise (`AT^CURC` turns them down).
//!
//! Pure. Conversions follow the Huawei ME909s "AT Command Interface Specification"
//! (§ ^HCSQ, ^SYSINFOEX, ^MONSC) as ModemManager's huawei plugin reads them.

pub use super::generic::unswap_iccid;
use super::generic::{iccid_text, normalise_iccid};
use super::model::{round1, RadioReport, Signal, Tech};
use super::profile::{Declared, Feeds, Params, Query, Rate, Reads, Spec, UssdText, CELL, QUICK};
use super::{after_prefix, fields, opt_hex, opt_int, plausible, to_u32, ParseError};
use crate::usage::Traffic;

// ------------------------------------------------------------------ profile declaration

/// Huawei HiSilicon sticks and modules: what differs from the 3GPP profile.
pub const PARAMS: Params = Params {
    maker: "huawei",
    // Every model here also wants USSD packed (below); ME906 was missing from the old USSD list.
    models: &["E3372", "E3276", "ME909", "ME906", "MS2131", "MS2372"],
    init: &[CURC_OFF],
    iccid: Some(Query::HuaweiIccid),
    cell: &[
        Declared::new(Query::HuaweiSignal, Rate::EveryPoll, Feeds::Signal),
        Declared::new(
            Query::HuaweiServingCell,
            Rate::EveryPoll,
            Feeds::RegistrationAndSignal,
        ),
        Declared::new(
            Query::HuaweiSystemInfo,
            Rate::EveryPoll,
            Feeds::RegistrationAndSignal,
        ),
    ],
    counters: Some(Query::HuaweiDataCounters),
    // modem-quirks.md §8: `AT+CUSD=1,"*100#",15` is refused as text; ModemManager's huawei
    // plugin packs it too.
    ussd: UssdText::PackedGsm7,
};

/// `AT^ICCID?`: `^ICCID: <iccid>`, digit pairs swapped on some firmware (see [`parse_iccid`]).
pub const ICCID: Spec = Spec::one("AT^ICCID?", QUICK, Reads::Iccid(parse_iccid));
pub const SIGNAL: Spec = Spec::one(
    "AT^HCSQ?",
    QUICK,
    Reads::Cell(|l| {
        let signal = parse_hcsq(super::profile::first_with(l, "^HCSQ")?).ok()?;
        Some(RadioReport {
            signal,
            ..RadioReport::default()
        })
    }),
);
pub const SERVING_CELL: Spec = Spec::one(
    "AT^MONSC",
    CELL,
    Reads::Cell(|l| parse_monsc(super::profile::first_with(l, "^MONSC")?).ok()),
);
/// Only technology and service state: the rest of `^SYSINFOEX` is in the 27.007 answers.
pub const SYSTEM_INFO: Spec = Spec::one(
    "AT^SYSINFOEX",
    QUICK,
    Reads::Cell(|l| {
        let sys = parse_sysinfoex(super::profile::first_with(l, "^SYSINFOEX")?).ok()?;
        Some(RadioReport {
            tech: sys.tech(),
            in_service: sys.in_service(),
            ..RadioReport::default()
        })
    }),
);
/// `^DSFLOWQRY`: six hex fields; the totals since the counters were last cleared.
pub const DATA_COUNTERS: Spec = Spec::one("AT^DSFLOWQRY", QUICK, Reads::Counters(counters));

fn counters(lines: &[String]) -> Option<Traffic> {
    crate::usage::counters::parse_dsflowqry(&lines.join("\n"))
        .ok()
        .map(|f| f.total)
}

/// Command that stops the periodic `^RSSI`/`^HCSQ`/`^MODE`/`^DSFLOWRPT`/… reports. Supported
/// by E3372/ME909s firmware; on firmware that rejects it the noise is merely filtered.
pub const CURC_OFF: &str = "AT^CURC=0";

/// `^HCSQ: <sysmode>[,<v1>[,<v2>[,<v3>[,<v4>]]]]`, answer or URC, quoted or not:
/// `^HCSQ:"LTE",30,19,66,0`, `^HCSQ: LTE,33,40,135,11`, `^HCSQ: NOSERVICE`,
/// `^HCSQ: "GSM",50`, `^HCSQ: "WCDMA",30,30,58`. Index → value (255 = unknown):
/// RSSI −121+v dBm (0…96), RSRP −141+v dBm (0…97), SINR −20.2+v/5 dB (0…251),
/// RSRQ −20+v/2 dB (0…34). On WCDMA the 2nd value is RSCP, not reported here.
pub fn parse_hcsq(line: &str) -> Result<Signal, ParseError> {
    let body = after_prefix(line, "^HCSQ")
        .ok_or_else(|| ParseError::malformed("signal", line, "expected ^HCSQ:"))?;
    let f = fields(body);
    let bad = |reason| ParseError::malformed("signal", line, reason);
    let idx = |i: usize, max: i64| -> Result<Option<f64>, ParseError> {
        match opt_int(f.get(i)).map_err(|_| bad("a value holds text"))? {
            None | Some(255) => Ok(None),
            Some(v) if (0..=max).contains(&v) => Ok(Some(v as f64)),
            Some(_) => Err(bad("index out of range")),
        }
    };
    let need = |n: usize| {
        if f.len() < n {
            Err(bad("line is truncated"))
        } else {
            Ok(())
        }
    };
    let mut s = Signal::default();
    match f.first().map(|m| m.to_ascii_uppercase()).as_deref() {
        Some("NOSERVICE") => {}
        Some("GSM") | Some("WCDMA") | Some("TD-SCDMA") => {
            need(2)?;
            s.rssi_dbm = idx(1, 96)?.map(|v| v - 121.0);
        }
        Some("LTE") => {
            need(5)?;
            s.rssi_dbm = idx(1, 96)?.map(|v| v - 121.0);
            s.rsrp_dbm = idx(2, 97)?.map(|v| v - 141.0);
            s.sinr_db = idx(3, 251)?.map(|v| round1(v / 5.0 - 20.2));
            s.rsrq_db = idx(4, 34)?.map(|v| round1(v / 2.0 - 20.0));
        }
        _ => return Err(bad("unknown system mode")),
    }
    Ok(s)
}

/// `^SYSINFOEX: <srv_status>,<srv_domain>,<roam_status>,<sim_state>,<lock_state>,<sysmode>,
/// <sysmode_name>,<submode>,<submode_name>`; fields may be empty
/// (`^SYSINFOEX:2,4,5,1,,3,WCDMA,41,HSPA+`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysInfoEx {
    /// 0 no service, 1 restricted, 2 valid, 3 restricted regional, 4 power saving.
    pub service: Option<u8>,
    pub roaming: Option<bool>,
    /// 0 invalid, 1 valid, 255 not present, others: partly invalid.
    pub sim_state: Option<u8>,
    /// 0 none, 1 GSM, 2 CDMA, 3 WCDMA, 4 TD-SCDMA, 5 WiMAX, 6 LTE.
    pub sysmode: Option<u8>,
    pub submode: Option<u16>,
}

impl SysInfoEx {
    pub fn tech(&self) -> Option<Tech> {
        match self.sysmode? {
            1 => Some(Tech::Gsm),
            3 | 4 => Some(Tech::Umts),
            6 => Some(Tech::Lte),
            _ => None,
        }
    }

    pub fn in_service(&self) -> Option<bool> {
        self.service.map(|s| s == 2)
    }
}

pub fn parse_sysinfoex(line: &str) -> Result<SysInfoEx, ParseError> {
    let body = after_prefix(line, "^SYSINFOEX")
        .ok_or_else(|| ParseError::malformed("system info", line, "expected ^SYSINFOEX:"))?;
    let f = fields(body);
    let bad = |reason| ParseError::malformed("system info", line, reason);
    if f.len() < 6 {
        return Err(bad("line is truncated"));
    }
    let num = |i: usize| -> Result<Option<i64>, ParseError> {
        opt_int(f.get(i)).map_err(|_| bad("a numeric field holds text"))
    };
    let byte = |i: usize| -> Result<Option<u8>, ParseError> {
        num(i)?
            .map(|v| u8::try_from(v).map_err(|_| bad("field out of range")))
            .transpose()
    };
    let roaming = match num(2)? {
        Some(0) => Some(false),
        Some(1) => Some(true),
        _ => None,
    };
    Ok(SysInfoEx {
        service: byte(0)?,
        roaming,
        sim_state: byte(3)?,
        sysmode: byte(5)?,
        submode: num(7)?
            .map(|v| u16::try_from(v).map_err(|_| bad("submode out of range")))
            .transpose()?,
    })
}

/// `AT^MONSC` serving cell (Huawei firmware prints `"^MONSC: LTE,%s,%u,%X,%X,%X,%d,%d,%d"`):
/// `^MONSC: LTE,<mcc>,<mnc>,<earfcn>,<cell_id hex>,<pci hex>,<tac hex>,<rsrp>,<rsrq>,<rssi>`,
/// `^MONSC: NR,<mcc>,<mnc>,<arfcn>,<scs>,<cell_id hex>,<pci hex>,<tac hex>,<rsrp>,<rsrq>,<sinr>`,
/// `^MONSC: NONE`. Values are already dBm/dB.
pub fn parse_monsc(line: &str) -> Result<RadioReport, ParseError> {
    let body = after_prefix(line, "^MONSC")
        .ok_or_else(|| ParseError::malformed("serving cell", line, "expected ^MONSC:"))?;
    let f = fields(body);
    let bad = |reason| ParseError::malformed("serving cell", line, reason);
    let int = |i: usize| opt_int(f.get(i)).map_err(|_| bad("a numeric field holds text"));
    let hex = |i: usize| opt_hex(f.get(i)).map_err(|_| bad("a hex field holds text"));
    let plmn = |i: usize| -> Option<String> {
        f.get(i)
            .filter(|s| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .map(|s| s.to_string())
    };
    let mut r = RadioReport::default();
    let (rat, base) = match f.first().map(|s| s.to_ascii_uppercase()).as_deref() {
        Some("NONE") => {
            r.in_service = Some(false);
            return Ok(r);
        }
        Some("LTE") => (Tech::Lte, 0),
        Some("NR") => (Tech::Nr5gSa, 1),
        _ => return Err(bad("unknown access technology")),
    };
    if f.len() < 10 + base {
        return Err(bad("line is truncated"));
    }
    r.tech = Some(rat);
    r.in_service = Some(true);
    r.mcc = plmn(1);
    r.mnc = plmn(2);
    r.signal.earfcn = to_u32(int(3)?).map_err(|_| bad("channel out of range"))?;
    r.cell_id = hex(4 + base)?.filter(|c| *c < 1 << 36);
    r.signal.pci = hex(5 + base)?.and_then(|p| u32::try_from(p).ok());
    r.tac = hex(6 + base)?.and_then(|t| u32::try_from(t).ok());
    r.signal.rsrp_dbm = plausible(int(7 + base)?.map(|v| v as f64), -156.0, -30.0);
    r.signal.rsrq_db = plausible(int(8 + base)?.map(|v| v as f64), -43.5, 20.0);
    if rat == Tech::Lte {
        r.signal.rssi_dbm = plausible(int(9)?.map(|v| v as f64), -130.0, 0.0);
    } else {
        r.signal.sinr_db = plausible(int(10)?.map(|v| v as f64), -23.0, 40.0);
    }
    Ok(r)
}

/// `^ICCID: <iccid>` from `AT^ICCID?`. Some firmware prints the raw EF_ICCID bytes, i.e. each
/// digit pair swapped (`98810000...` for `89180000...`), because EF_ICCID is stored
/// nibble-swapped BCD (TS 102 221 §13.2). Every ICCID starts with the telecom industry
/// identifier 89 (ITU-T E.118), so a reply starting with 98 is swapped back.
/// The generic parser does the swap (any vendor's `+CCID` can print the raw dump); this stays
/// as the Huawei entry point.
pub fn parse_iccid(lines: &[String]) -> Result<String, ParseError> {
    let text = iccid_text(lines)?;
    normalise_iccid(&text, &text)
}

/// Luhn (mod 10) check over a digit string, check digit last.
pub fn luhn_ok(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// `^RSSI: <n>` — the same 0…31/99 scale as `+CSQ` (TS 27.007 §8.5).
pub fn parse_rssi_urc(line: &str) -> Result<Option<f64>, ParseError> {
    let body = after_prefix(line, "^RSSI")
        .ok_or_else(|| ParseError::malformed("RSSI report", line, "expected ^RSSI:"))?;
    super::generic::parse_csq(&format!("+CSQ: {body},99"))
}

#[cfg(test)]
#[path = "huawei_tests.rs"]
mod tests;
