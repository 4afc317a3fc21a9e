//! Vendor profiles: which vendor a modem is, which AT lines to run for it, and how to combine
//! its vendor replies with the TS 27.007 ones into the modem model.
//!
//! Pure. The rule for combining: the vendor's serving-cell command wins (it is the most
//! precise source), the generic replies fill whatever it left unknown. A reply that does not
//! parse contributes nothing (the field stays `None`); it never aborts the whole model.

use super::generic::{
    parse_cesq, parse_cnum, parse_cops, parse_cpin, parse_csq, parse_iccid, parse_imei, parse_imsi,
    parse_info_text, parse_reg_answer, sim_state_from_error, Cops, RegKind, RegReport,
};
use super::model::{
    fill, home_network, ModemIdentity, NrSignal, RadioReport, RegState, Registration, Signal,
    SimInfo, Tech,
};
use super::{after_prefix, fibocom, huawei, quectel, sierra, simcom, Replies};

/// A modem family with its own commands and quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Generic,
    Quectel,
    Huawei,
    Simcom,
    Sierra,
    Fibocom,
}

/// `modem.profile` named something we do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown modem.profile {value:?}: use one of auto, generic, quectel, huawei, simcom, sierra, fibocom")]
pub struct ProfileError {
    pub value: String,
}

/// `AT+COPS=3,<format>;+COPS?` sets the format and reads in one line, so one poll gets both
/// the numeric PLMN and the name; the alphanumeric one runs last and stays the modem's format.
/// The driver keeps the numeric format set (see [`COPS_FORMAT_NUMERIC`] in the init commands)
/// and asks `AT+COPS?` alone each poll, filing the answer under `COPS_NUMERIC`; it asks for the
/// name (`COPS_NAME`) only when the PLMN changes.
pub const COPS_NUMERIC: &str = "AT+COPS=3,2;+COPS?";
pub const COPS_NAME: &str = "AT+COPS=3,0;+COPS?";
/// `AT+COPS=3,2`: `+COPS?` answers with the numeric PLMN from now on (TS 27.007 §7.3).
pub const COPS_FORMAT_NUMERIC: &str = "AT+COPS=3,2";

/// With `<n>`=2 the `+CxREG?` answers carry the area code and cell id (TS 27.007 §7.2).
const GENERIC_INIT: &[&str] = &[
    "AT+CREG=2",
    "AT+CGREG=2",
    "AT+CEREG=2",
    "AT+C5GREG=2",
    COPS_FORMAT_NUMERIC,
];

macro_rules! info_list {
    ($($vendor:expr),*) => {
        &["AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN", "AT+CPIN?", "AT+CIMI", $($vendor,)* "AT+CCID",
          "AT+CNUM", COPS_NUMERIC, COPS_NAME, "AT+C5GREG?", "AT+CEREG?", "AT+CGREG?", "AT+CREG?"]
    };
}

impl Profile {
    pub const ALL: [Profile; 6] = [
        Profile::Generic,
        Profile::Quectel,
        Profile::Huawei,
        Profile::Simcom,
        Profile::Sierra,
        Profile::Fibocom,
    ];

    /// Lower-case name as used in config and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Generic => "generic",
            Profile::Quectel => "quectel",
            Profile::Huawei => "huawei",
            Profile::Simcom => "simcom",
            Profile::Sierra => "sierra",
            Profile::Fibocom => "fibocom",
        }
    }

    /// Vendor from the `AT+CGMI` and `AT+CGMM` (or `ATI`) text; unknown → `Generic`.
    /// Model names are a second chance for firmware that prints a chipset vendor
    /// ("Qualcomm") or nothing useful as manufacturer.
    pub fn detect(cgmi: &str, cgmm: &str) -> Profile {
        let maker = cgmi.to_ascii_lowercase();
        let model = cgmm.to_ascii_uppercase();
        let by_maker = [
            ("quectel", Profile::Quectel),
            ("huawei", Profile::Huawei),
            ("simcom", Profile::Simcom),
            ("sierra", Profile::Sierra),
            ("fibocom", Profile::Fibocom),
        ];
        if let Some((_, p)) = by_maker.iter().find(|(k, _)| maker.contains(k)) {
            return *p;
        }
        let by_model: [(&[&str], Profile); 5] = [
            (
                &[
                    "EC2", "EG0", "EG2", "EP0", "RM5", "RG5", "BG9", "EM0", "EM1", "EM12", "EM16",
                ],
                Profile::Quectel,
            ),
            (
                &["E3372", "E3276", "ME909", "ME906", "MS2131", "MS2372"],
                Profile::Huawei,
            ),
            (&["SIM7", "SIM8"], Profile::Simcom),
            (
                &["EM74", "MC74", "EM75", "EM91", "MC73", "EM73"],
                Profile::Sierra,
            ),
            (
                &["L850", "L860", "FM150", "FM350", "NL668", "FG150"],
                Profile::Fibocom,
            ),
        ];
        by_model
            .iter()
            .find(|(keys, _)| keys.iter().any(|k| model.contains(k)))
            .map_or(Profile::Generic, |(_, p)| *p)
    }

    /// `modem.profile` from config: `"auto"` → `None` (detect), a profile name → that profile.
    pub fn from_config(value: &str) -> Result<Option<Profile>, ProfileError> {
        let v = value.trim().to_ascii_lowercase();
        if v == "auto" {
            return Ok(None);
        }
        Profile::ALL
            .iter()
            .find(|p| p.name() == v)
            .map(|p| Some(*p))
            .ok_or_else(|| ProfileError {
                value: value.to_string(),
            })
    }

    /// Run once per connection, after echo/CMEE set-up. Refusals are harmless.
    pub fn init_commands(&self) -> &'static [&'static str] {
        match self {
            Profile::Huawei => &[
                "AT+CREG=2",
                "AT+CGREG=2",
                "AT+CEREG=2",
                "AT+C5GREG=2",
                COPS_FORMAT_NUMERIC,
                huawei::CURC_OFF,
            ],
            _ => GENERIC_INIT,
        }
    }

    /// Identity, SIM and registration: vendor commands first, then the generic fallbacks.
    pub fn info_commands(&self) -> &'static [&'static str] {
        match self {
            Profile::Generic => info_list!(),
            Profile::Quectel => info_list!("AT+QCCID", "AT+QENG=\"servingcell\""),
            Profile::Huawei => info_list!("AT^ICCID?", "AT^SYSINFOEX", "AT^MONSC"),
            Profile::Simcom => info_list!("AT+CICCID", "AT+CPSI?"),
            Profile::Sierra => info_list!("AT!ICCID?", "AT!GSTATUS?"),
            Profile::Fibocom => info_list!("AT+ICCID", "AT+GTCCINFO?"),
        }
    }

    /// Identity, SIM, registration and signal in one list, each command once (the vendor's
    /// serving-cell command feeds both registration and signal), in the order they go out.
    pub fn poll_commands(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for c in self.info_commands().iter().chain(self.signal_commands()) {
            if !out.contains(c) {
                out.push(c);
            }
        }
        out
    }

    /// Signal: the vendor's serving-cell command(s), then `AT+CESQ` and `AT+CSQ`.
    pub fn signal_commands(&self) -> &'static [&'static str] {
        match self {
            Profile::Generic => &["AT+CESQ", "AT+CSQ"],
            Profile::Quectel => &[
                "AT+QENG=\"servingcell\"",
                "AT+QCSQ",
                "AT+QNWINFO",
                "AT+CESQ",
                "AT+CSQ",
            ],
            Profile::Huawei => &["AT^HCSQ?", "AT^MONSC", "AT^SYSINFOEX", "AT+CESQ", "AT+CSQ"],
            Profile::Simcom => &["AT+CPSI?", "AT+CESQ", "AT+CSQ"],
            Profile::Sierra => &["AT!GSTATUS?", "AT+CESQ", "AT+CSQ"],
            Profile::Fibocom => &["AT+GTCCINFO?", "AT+CESQ", "AT+CSQ"],
        }
    }

    /// The vendor serving-cell reports found in `replies`, most precise first.
    pub fn vendor_reports(&self, r: &Replies) -> Vec<RadioReport> {
        let signal_only = |s: Signal| RadioReport {
            signal: s,
            ..RadioReport::default()
        };
        let mut out = Vec::new();
        match self {
            Profile::Generic => {}
            Profile::Quectel => {
                out.extend(
                    r.get("AT+QENG=\"servingcell\"")
                        .and_then(|l| quectel::parse_qeng(l).ok()),
                );
                out.extend(
                    r.get("AT+QCSQ")
                        .and_then(|l| quectel::parse_qcsq(l).ok())
                        .map(signal_only),
                );
                out.extend(
                    r.get("AT+QNWINFO")
                        .and_then(|l| quectel::parse_qnwinfo(l).ok()),
                );
            }
            Profile::Huawei => {
                let hcsq =
                    first_with(r, "AT^HCSQ?", "^HCSQ").and_then(|l| huawei::parse_hcsq(l).ok());
                out.extend(hcsq.map(signal_only));
                out.extend(
                    first_with(r, "AT^MONSC", "^MONSC").and_then(|l| huawei::parse_monsc(l).ok()),
                );
                if let Some(sys) = first_with(r, "AT^SYSINFOEX", "^SYSINFOEX")
                    .and_then(|l| huawei::parse_sysinfoex(l).ok())
                {
                    out.push(RadioReport {
                        tech: sys.tech(),
                        in_service: sys.in_service(),
                        ..RadioReport::default()
                    });
                }
            }
            Profile::Simcom => {
                out.extend(r.get("AT+CPSI?").and_then(|l| simcom::parse_cpsi(l).ok()))
            }
            Profile::Sierra => out.extend(
                r.get("AT!GSTATUS?")
                    .and_then(|l| sierra::parse_gstatus(l).ok()),
            ),
            Profile::Fibocom => out.extend(
                r.get("AT+GTCCINFO?")
                    .and_then(|l| fibocom::parse_gtccinfo(l).ok()),
            ),
        }
        out
    }

    /// All vendor reports folded into one (earlier ones win).
    fn vendor(&self, r: &Replies) -> RadioReport {
        let mut merged = RadioReport::default();
        for rep in self.vendor_reports(r) {
            fill(&mut merged.tech, rep.tech);
            fill(&mut merged.in_service, rep.in_service);
            fill(&mut merged.mcc, rep.mcc);
            fill(&mut merged.mnc, rep.mnc);
            fill(&mut merged.tac, rep.tac);
            fill(&mut merged.cell_id, rep.cell_id);
            merged.signal.fill_from(&rep.signal);
        }
        merged
    }

    pub fn build_identity(&self, r: &Replies) -> ModemIdentity {
        let text = |cmd: &str, prefix: &str| r.get(cmd).and_then(|l| parse_info_text(l, prefix));
        ModemIdentity {
            manufacturer: text("AT+CGMI", "+CGMI"),
            model: text("AT+CGMM", "+CGMM"),
            revision: text("AT+CGMR", "+CGMR"),
            imei: r.get("AT+CGSN").and_then(|l| parse_imei(l).ok()),
        }
    }

    pub fn build_sim(&self, r: &Replies) -> SimInfo {
        let state = match r.get("AT+CPIN?") {
            Some(lines) => lines.iter().find_map(|l| parse_cpin(l).ok()),
            None => r.error("AT+CPIN?").and_then(sim_state_from_error),
        };
        let vendor_iccid = match self {
            Profile::Generic => None,
            Profile::Quectel => r.get("AT+QCCID").and_then(|l| parse_iccid(l).ok()),
            Profile::Huawei => r.get("AT^ICCID?").and_then(|l| huawei::parse_iccid(l).ok()),
            Profile::Simcom => r.get("AT+CICCID").and_then(|l| parse_iccid(l).ok()),
            Profile::Sierra => r.get("AT!ICCID?").and_then(|l| parse_iccid(l).ok()),
            Profile::Fibocom => r.get("AT+ICCID").and_then(|l| parse_iccid(l).ok()),
        };
        let iccid = vendor_iccid.or_else(|| r.get("AT+CCID").and_then(|l| parse_iccid(l).ok()));
        let imsi = r.get("AT+CIMI").and_then(|l| parse_imsi(l).ok());
        let home = imsi.as_deref().and_then(home_network);
        SimInfo {
            state,
            iccid,
            imsi,
            msisdn: r.get("AT+CNUM").and_then(|l| parse_cnum(l).ok()).flatten(),
            home_mcc: home.as_ref().map(|h| h.0.clone()),
            home_mnc: home.map(|h| h.1),
        }
    }

    pub fn build_registration(&self, r: &Replies) -> Registration {
        let vendor = self.vendor(r);
        let reports: Vec<RegReport> = RegKind::ALL
            .iter()
            .filter_map(|k| {
                r.get(k.query())?
                    .iter()
                    .find_map(|l| parse_reg_answer(l).ok())
            })
            .collect();
        // 5GS, then EPS, then GPRS, then CS: the first that says registered describes the
        // serving network; failing that, the first answer at all.
        let chosen = reports
            .iter()
            .find(|x| x.state.is_registered())
            .or_else(|| reports.first());
        let cops: Vec<Cops> = [COPS_NUMERIC, COPS_NAME, "AT+COPS?"]
            .iter()
            .filter_map(|c| r.get(c)?.iter().find_map(|l| parse_cops(l).ok()))
            .collect();
        let numeric = cops.iter().find_map(Cops::numeric);
        // Legacy domains say "not registered" on LTE/NR (modem-quirks.md item 2:
        // `+CREG: 2,0` next to `+COPS: 0,0,"T-Mobile",11`). When no domain says registered
        // but the modem names the operator it is on, home or roaming is unknown — not "no".
        let camped = cops.iter().any(|c| c.oper.is_some() && c.act.is_some());
        let state = match chosen.map(|c| c.state) {
            Some(s) if s.is_registered() => Some(s),
            _ if camped => Some(RegState::Unknown),
            other => other,
        };
        let mut reg = Registration {
            state,
            tech: vendor.tech,
            operator: cops.iter().find_map(|c| c.name().map(str::to_string)),
            // The registered PLMN as COPS prints it keeps MCC/MNC zero-padded; vendor
            // cell reports sometimes drop the zeros ("1","01" for 001/01).
            mcc: numeric.as_ref().map(|n| n.0.clone()),
            mnc: numeric.map(|n| n.1),
            tac: vendor.tac,
            cell_id: vendor.cell_id,
        };
        fill(&mut reg.tech, cops.iter().find_map(Cops::tech));
        fill(&mut reg.tech, chosen.and_then(RegReport::tech));
        fill(&mut reg.mcc, vendor.mcc);
        fill(&mut reg.mnc, vendor.mnc);
        fill(&mut reg.tac, chosen.and_then(|c| c.area));
        fill(&mut reg.cell_id, chosen.and_then(|c| c.cell_id));
        reg
    }

    pub fn build_signal(&self, r: &Replies) -> Signal {
        let vendor = self.vendor(r);
        let mut s = vendor.signal;
        if let Some(c) = r
            .get("AT+CESQ")
            .and_then(|l| l.iter().find_map(|x| parse_cesq(x).ok()))
        {
            let nr = NrSignal {
                rsrp_dbm: c.nr_rsrp_dbm,
                rsrq_db: c.nr_rsrq_db,
                sinr_db: c.nr_sinr_db,
                ..NrSignal::default()
            };
            let sa = vendor.tech == Some(Tech::Nr5gSa)
                || (vendor.tech.is_none() && c.rsrp_dbm.is_none());
            let mut generic = Signal {
                rssi_dbm: c.rssi_dbm,
                rsrp_dbm: c.rsrp_dbm,
                rsrq_db: c.rsrq_db,
                ..Signal::default()
            };
            if sa {
                fill(&mut generic.rsrp_dbm, nr.rsrp_dbm);
                fill(&mut generic.rsrq_db, nr.rsrq_db);
                fill(&mut generic.sinr_db, nr.sinr_db);
            } else if !nr.is_empty() {
                generic.nr = Some(nr);
            }
            s.fill_from(&generic);
        }
        // +CSQ only stands in for RSSI where nothing better exists; on LTE it often says 99.
        let csq = first_with(r, "AT+CSQ", "+CSQ")
            .and_then(|l| parse_csq(l).ok())
            .flatten();
        fill(&mut s.rssi_dbm, csq);
        s.with_quality()
    }
}

/// The first line of a command's reply that carries `prefix`.
fn first_with<'a>(r: &'a Replies, cmd: &str, prefix: &str) -> Option<&'a str> {
    r.get(cmd)?
        .iter()
        .find(|l| after_prefix(l, prefix).is_some())
        .map(String::as_str)
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
