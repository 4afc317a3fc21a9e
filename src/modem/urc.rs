//! Unsolicited result codes: which lines are URCs, what they say, and — for the lines that
//! look the same as an answer (`+CREG: 1,…` vs `+CREG: 0,1`) — whether the line belongs to the
//! command on the wire.
//!
//! Pure; the AT engine calls [`is_unsolicited`] to route a line and [`classify`] to type it.
//! This module must not decide policy (what to do about a URC); it only names it.

use super::generic::{parse_reg_answer, parse_reg_urc, RegKind, RegReport};
use super::huawei::{parse_hcsq, parse_rssi_urc};
use super::model::Signal;
use super::quectel::{parse_qind, Qind};
use super::{after_prefix, fields, opt_int};

/// A typed unsolicited result code.
#[derive(Debug, Clone, PartialEq)]
pub enum Urc {
    /// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]` (TS 27.007 §7.2).
    Creg(RegReport),
    /// `+CGREG: …` (§10.1.19).
    Cgreg(RegReport),
    /// `+CEREG: …` (§10.1.22).
    Cereg(RegReport),
    /// `+C5GREG: …` (§10.1.70).
    C5greg(RegReport),
    /// `+CMTI: "ME",1` — a new SMS stored (TS 27.005 §3.4.1).
    Cmti {
        mem: String,
        index: u32,
    },
    /// `+CMT: …` header of a routed SMS; the PDU/text follows on the next line.
    Cmt {
        header: String,
    },
    /// `+CUSD: <m>[,<str>,<dcs>]` (TS 27.007 §7.15); text left encoded as received.
    Cusd {
        status: u8,
        text: Option<String>,
        dcs: Option<u16>,
    },
    Ring,
    /// Huawei `^RSSI: <n>` (CSQ scale) as dBm.
    HuaweiRssi(Option<f64>),
    /// Huawei `^HCSQ: …` periodic signal report.
    HuaweiHcsq(Signal),
    /// Huawei `^MODE: <sysmode>[,<submode>]`.
    HuaweiMode {
        sysmode: Option<u8>,
        submode: Option<u16>,
    },
    /// Huawei `^BOOT: …` heartbeat.
    HuaweiBoot,
    /// Quectel `+QIND: …` (`"csq",24,99`, `SMS DONE`, `PB DONE`, `"act","LTE"`, …).
    Qind(Qind),
    /// Quectel `RDY`: the modem (re)started; re-initialise.
    Rdy,
    /// Quectel `+QUSIM: <n>`: the SIM was (re)loaded.
    Qusim(Option<u8>),
    /// `+CPIN: READY` arriving unprompted after boot or a SIM restart.
    CpinReady,
    /// A URC we recognise as one but do not type (`+CPIN: NOT READY`, `^DSFLOWRPT: …`, …).
    Other(String),
}

impl Urc {
    /// Periodic status reports that nobody needs to act on (see `huawei::is_noise`).
    pub fn is_noise(&self) -> bool {
        match self {
            Urc::HuaweiRssi(_) | Urc::HuaweiHcsq(_) | Urc::HuaweiMode { .. } | Urc::HuaweiBoot => {
                true
            }
            Urc::Other(line) => super::huawei::is_noise(line),
            _ => false,
        }
    }
}

/// Prefixes (before the colon) of every URC we know. Bare words are listed separately.
const PREFIXES: &[&str] = &[
    "+CREG",
    "+CGREG",
    "+CEREG",
    "+C5GREG",
    "+CMTI",
    "+CMT",
    "+CDSI",
    "+CDS",
    "+CBM",
    "+CUSD",
    "+CRING",
    "+CLIP",
    "+CIEV",
    "+CGEV",
    "+CTZV",
    "+CTZE",
    "+CTZEU",
    "+QIND",
    "+QUSIM",
    "+QNITZ",
    "+QSTAT",
    "+CPIN",
    // Huawei's periodic status reports are in `huawei::NOISE`, checked as well.
    "^NDISSTAT",
    "^CEND",
    "^CONN",
    "^ORIG",
    "^CONF",
    "+PACSP",
];
const WORDS: &[&str] = &["RING", "RDY", "POWERED DOWN", "+PACSP0", "+PACSP1"];

/// True when `line` has the shape of a URC we know. Routing (answer or URC?) is the AT
/// layer's job (`at::urc::is_unsolicited`); this only types what it routed here.
fn is_urc_prefix(line: &str) -> bool {
    let t = line.trim();
    WORDS.iter().any(|w| t.eq_ignore_ascii_case(w))
        || PREFIXES.iter().any(|p| after_prefix(t, p).is_some())
        || super::huawei::is_noise(t)
}

/// Types a line the engine has decided is unsolicited. `None` when it is not a URC at all.
pub fn classify(line: &str) -> Option<Urc> {
    if !is_urc_prefix(line) {
        return None;
    }
    let t = line.trim();
    let other = || Some(Urc::Other(t.to_string()));
    if t.eq_ignore_ascii_case("RING") {
        return Some(Urc::Ring);
    }
    if t.eq_ignore_ascii_case("RDY") {
        return Some(Urc::Rdy);
    }
    for kind in RegKind::ALL {
        if after_prefix(t, kind.prefix()).is_some() {
            // A URC in answer form (`+CREG: 2,1,…` from modems that always send <n>) is
            // accepted too: the engine only calls us for lines it routed as unsolicited.
            let Ok(r) = parse_reg_urc(t).or_else(|_| parse_reg_answer(t)) else {
                return other();
            };
            return Some(match kind {
                RegKind::Creg => Urc::Creg(r),
                RegKind::Cgreg => Urc::Cgreg(r),
                RegKind::Cereg => Urc::Cereg(r),
                RegKind::C5greg => Urc::C5greg(r),
            });
        }
    }
    if let Some(body) = after_prefix(t, "+CMTI") {
        let f = fields(body);
        let index = opt_int(f.get(1))
            .ok()
            .flatten()
            .and_then(|i| u32::try_from(i).ok());
        return match (f.first(), index) {
            (Some(mem), Some(index)) => Some(Urc::Cmti {
                mem: mem.to_string(),
                index,
            }),
            _ => other(),
        };
    }
    if let Some(body) = after_prefix(t, "+CMT") {
        return Some(Urc::Cmt {
            header: body.to_string(),
        });
    }
    if let Some(body) = after_prefix(t, "+CUSD") {
        return cusd(body).or_else(other);
    }
    if let Some(u) = vendor(t) {
        return Some(u);
    }
    if let Some(body) = after_prefix(t, "+CPIN") {
        if body.trim_matches('"').eq_ignore_ascii_case("READY") {
            return Some(Urc::CpinReady);
        }
    }
    other()
}

/// Huawei `^…` and Quectel `+QIND`/`+QUSIM` reports; `Other` for a recognised but unreadable one.
fn vendor(t: &str) -> Option<Urc> {
    let other = || Some(Urc::Other(t.to_string()));
    if after_prefix(t, "^RSSI").is_some() {
        return parse_rssi_urc(t).ok().map(Urc::HuaweiRssi).or_else(other);
    }
    if after_prefix(t, "^HCSQ").is_some() {
        return parse_hcsq(t).ok().map(Urc::HuaweiHcsq).or_else(other);
    }
    if let Some(body) = after_prefix(t, "^MODE") {
        let f = fields(body);
        let sysmode = opt_int(f.first())
            .ok()
            .flatten()
            .and_then(|v| u8::try_from(v).ok());
        let submode = opt_int(f.get(1))
            .ok()
            .flatten()
            .and_then(|v| u16::try_from(v).ok());
        return Some(Urc::HuaweiMode { sysmode, submode });
    }
    if after_prefix(t, "^BOOT").is_some() {
        return Some(Urc::HuaweiBoot);
    }
    if after_prefix(t, "+QIND").is_some() {
        return parse_qind(t).ok().map(Urc::Qind).or_else(other);
    }
    if let Some(body) = after_prefix(t, "+QUSIM") {
        let n = opt_int(fields(body).first())
            .ok()
            .flatten()
            .and_then(|v| u8::try_from(v).ok());
        return Some(Urc::Qusim(n));
    }
    None
}

fn cusd(body: &str) -> Option<Urc> {
    let f = fields(body);
    let status = opt_int(f.first()).ok()??;
    let status = u8::try_from(status).ok()?;
    let text = f.get(1).map(|s| s.to_string());
    let dcs = opt_int(f.get(2))
        .ok()
        .flatten()
        .and_then(|d| u16::try_from(d).ok());
    Some(Urc::Cusd { status, text, dcs })
}

#[cfg(test)]
mod tests {
    //! Lines: modem-quirks.md items 1, 3, 10, 13, 14; TS 27.005/27.007 examples.
    use super::super::model::RegState;
    use super::*;
    use proptest::prelude::*;

    /// Routing is the AT layer's; these cases check it against the lines this module types.
    fn is_unsolicited(line: &str, pending: Option<&str>) -> bool {
        let cmd = pending.and_then(|p| crate::at::Command::new(p).ok());
        crate::at::urc::is_unsolicited(line, cmd.as_ref())
    }

    #[test]
    fn a_reg_line_is_a_urc_unless_its_query_is_pending() {
        assert!(is_unsolicited("+CREG: 1,\"8BE3\",\"2BAF\"", None));
        assert!(is_unsolicited("+CREG: 0,1", None));
        assert!(!is_unsolicited(
            "+CREG: 2,1,\"8BE3\",\"2BAF\"",
            Some("AT+CREG?")
        ));
        assert!(!is_unsolicited("+CREG: 0,1", Some("at+creg?")));
        assert!(is_unsolicited("+CEREG: 1", Some("AT+CREG?")));
    }

    #[test]
    fn a_reg_line_that_can_only_be_a_urc_stays_one_even_during_its_query() {
        assert!(is_unsolicited("+CREG: 1", Some("AT+CREG?")));
        assert!(is_unsolicited(
            "+CREG: 5,\"17E0\",\"00359D48\",6",
            Some("AT+CREG?")
        ));
    }

    #[test]
    fn answers_to_other_commands_are_never_urcs() {
        assert!(!is_unsolicited("+CSQ: 24,99", Some("AT+CSQ")));
        assert!(!is_unsolicited("+CPIN: READY", Some("AT+CPIN?")));
        assert!(!is_unsolicited(
            "+ICCID: 89811000221524672214",
            Some("AT+CICCID")
        ));
        assert!(!is_unsolicited("+COPS: 0,2,\"44010\",7", Some("AT+COPS?")));
    }

    #[test]
    fn urcs_racing_a_set_command_are_still_urcs() {
        assert!(is_unsolicited(
            "+CUSD: 0,\"Balance 100\",15",
            Some("AT+CUSD=1,\"*100#\",15")
        ));
        assert!(is_unsolicited("+CPIN: READY", Some("AT+CPIN=\"1234\"")));
        assert!(is_unsolicited("+CMTI: \"ME\",1", Some("AT+CSQ")));
        assert!(is_unsolicited("^RSSI: 24", Some("AT+CSQ")));
        assert!(!is_unsolicited(
            "^HCSQ: \"LTE\",30,19,66,0",
            Some("AT^HCSQ?")
        ));
    }

    #[test]
    fn classify_types_each_known_urc() {
        let Some(Urc::Creg(r)) = classify("+CREG: 5,\"17E0\",\"00359D48\",6") else {
            panic!("creg")
        };
        assert_eq!((r.state, r.cell_id), (RegState::Roaming, Some(0x0035_9D48)));
        assert!(matches!(classify("+CEREG: 1"), Some(Urc::Cereg(_))));
        assert_eq!(
            classify("+CMTI: \"ME\",1"),
            Some(Urc::Cmti {
                mem: "ME".into(),
                index: 1
            })
        );
        assert_eq!(
            classify("+CMT: ,23"),
            Some(Urc::Cmt {
                header: ",23".into()
            })
        );
        assert_eq!(
            classify("+CUSD: 2,\"Balance:633,100r\",15"),
            Some(Urc::Cusd {
                status: 2,
                text: Some("Balance:633,100r".into()),
                dcs: Some(15)
            })
        );
        assert_eq!(
            classify("+CUSD: 0"),
            Some(Urc::Cusd {
                status: 0,
                text: None,
                dcs: None
            })
        );
        assert_eq!(classify("RING"), Some(Urc::Ring));
        assert_eq!(classify("RDY"), Some(Urc::Rdy));
        assert_eq!(classify("+QUSIM: 1"), Some(Urc::Qusim(Some(1))));
        assert_eq!(classify("+QIND: SMS DONE"), Some(Urc::Qind(Qind::SmsDone)));
        assert_eq!(classify("+CPIN: READY"), Some(Urc::CpinReady));
        assert_eq!(classify("^RSSI: 24"), Some(Urc::HuaweiRssi(Some(-65.0))));
        assert_eq!(
            classify("^MODE: 7,17"),
            Some(Urc::HuaweiMode {
                sysmode: Some(7),
                submode: Some(17)
            })
        );
        assert_eq!(classify("^BOOT:24760455,0,0,0,72"), Some(Urc::HuaweiBoot));
        assert!(matches!(
            classify("^HCSQ: LTE,33,40,135,11"),
            Some(Urc::HuaweiHcsq(_))
        ));
        assert_eq!(classify("+CSQ: 24,99"), None);
    }

    #[test]
    fn unreadable_but_recognised_urcs_become_other_and_noise_is_flagged() {
        assert_eq!(classify("+CREG: x"), Some(Urc::Other("+CREG: x".into())));
        assert_eq!(
            classify("+CPIN: NOT READY"),
            Some(Urc::Other("+CPIN: NOT READY".into()))
        );
        assert!(classify("^DSFLOWRPT:0000,0,0").is_some_and(|u| u.is_noise()));
        assert!(classify("^HCSQ: NOSERVICE").is_some_and(|u| u.is_noise()));
        assert!(!classify("RING").is_some_and(|u| u.is_noise()));
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic_the_urc_functions(s in "\\PC{0,80}", p in prop::sample::select(PREFIXES.to_vec()), cmd in "\\PC{0,30}") {
            for line in [format!("{p}: {s}"), format!("{p}:{s}"), s.clone()] {
                let _ = classify(&line);
                let _ = is_unsolicited(&line, Some(&cmd));
                let _ = is_unsolicited(&line, None);
            }
        }
    }
}
