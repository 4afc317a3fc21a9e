//! The modem model the rest of simkeep reads: identity, SIM, registration and signal.
//!
//! Every field the modem did not report is `None` (JSON `null`); nothing here invents a value.
//! This module only holds data and small pure derivations (home network from the IMSI, the
//! 0–100 quality figure). It must not parse modem text: that lives in `generic` and the
//! vendor files.

use serde::Serialize;

/// `modem` object: who made the modem and what it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModemIdentity {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub revision: Option<String>,
    pub imei: Option<String>,
}

/// What `+CPIN?` (or the error it returned) says about the SIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SimState {
    Ready,
    PinRequired,
    PukRequired,
    NotInserted,
    Busy,
    Error,
}

/// `sim` object. `home_mcc`/`home_mnc` come from the IMSI (see [`home_network`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimInfo {
    pub state: Option<SimState>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub msisdn: Option<String>,
    pub home_mcc: Option<String>,
    pub home_mnc: Option<String>,
}

/// Registration state, from the 27.007 `<stat>` values (§7.2, §10.1.19, §10.1.22) or a
/// vendor's equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegState {
    Home,
    Roaming,
    Searching,
    Denied,
    NotRegistered,
    Unknown,
}

impl RegState {
    /// TS 27.007 §7.2 `<stat>`: 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown,
    /// 5 roaming, 6/7 "SMS only" home/roaming, 8 emergency only, 9/10 "CSFB not preferred"
    /// home/roaming, 11 emergency bearer services only.
    pub fn from_stat(stat: u8) -> Option<RegState> {
        Some(match stat {
            0 => RegState::NotRegistered,
            1 | 6 | 9 => RegState::Home,
            2 => RegState::Searching,
            3 => RegState::Denied,
            4 | 8 | 11 => RegState::Unknown,
            5 | 7 | 10 => RegState::Roaming,
            _ => return None,
        })
    }

    /// Home or roaming: the modem has service.
    pub fn is_registered(self) -> bool {
        matches!(self, RegState::Home | RegState::Roaming)
    }
}

/// Radio access technology in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tech {
    Gsm,
    Umts,
    Lte,
    #[serde(rename = "nr5g_nsa")]
    Nr5gNsa,
    #[serde(rename = "nr5g_sa")]
    Nr5gSa,
}

impl Tech {
    /// TS 27.007 §7.3 `<AcT>`: 0 GSM, 1 GSM Compact, 2 UTRAN, 3 GSM w/EGPRS, 4 UTRAN w/HSDPA,
    /// 5 UTRAN w/HSUPA, 6 UTRAN w/HSDPA+HSUPA, 7 E-UTRAN, 8 EC-GSM-IoT, 9 E-UTRAN NB-S1,
    /// 10 E-UTRA connected to a 5GCN, 11 NR connected to a 5GCN, 12 NG-RAN,
    /// 13 E-UTRA-NR dual connectivity (EN-DC, i.e. 5G NSA).
    pub fn from_act(act: u8) -> Option<Tech> {
        Some(match act {
            0 | 1 | 3 | 8 => Tech::Gsm,
            2 | 4 | 5 | 6 => Tech::Umts,
            7 | 9 | 10 => Tech::Lte,
            11 | 12 => Tech::Nr5gSa,
            13 => Tech::Nr5gNsa,
            _ => return None,
        })
    }

    /// LTE or NR: signal is described by RSRP/RSRQ/SINR rather than RSSI alone.
    pub fn is_lte_or_nr(self) -> bool {
        matches!(self, Tech::Lte | Tech::Nr5gNsa | Tech::Nr5gSa)
    }
}

/// `registration` object. `tac` is the LAC on 2G/3G, the TAC on LTE/NR (24 bits).
/// `cell_id` is u64 because a 5G NCI has 36 bits (modem-quirks.md item 6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Registration {
    pub state: Option<RegState>,
    pub tech: Option<Tech>,
    pub operator: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub tac: Option<u32>,
    pub cell_id: Option<u64>,
}

/// The NR leg of a 5G NSA (EN-DC) connection, reported alongside the LTE anchor.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NrSignal {
    pub rsrp_dbm: Option<f64>,
    pub rsrq_db: Option<f64>,
    pub sinr_db: Option<f64>,
    pub band: Option<u32>,
    pub arfcn: Option<u32>,
}

impl NrSignal {
    pub fn is_empty(&self) -> bool {
        *self == NrSignal::default()
    }
}

/// `signal` object. On LTE and NSA the top-level fields describe the LTE (anchor) cell and
/// `nr` the NR leg; on 5G SA the top-level fields describe the NR cell and `nr` is `None`.
/// `earfcn` holds the UARFCN on 3G and the NR-ARFCN on SA. Values are rounded to 0.1.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Signal {
    pub rssi_dbm: Option<f64>,
    pub rsrp_dbm: Option<f64>,
    pub rsrq_db: Option<f64>,
    pub sinr_db: Option<f64>,
    pub band: Option<u32>,
    pub earfcn: Option<u32>,
    pub pci: Option<u32>,
    pub quality_pct: Option<u8>,
    pub nr: Option<NrSignal>,
}

impl Signal {
    /// Fill every `None` field of `self` from `other` (vendor values win, generic fill gaps).
    pub fn fill_from(&mut self, other: &Signal) {
        fill(&mut self.rssi_dbm, other.rssi_dbm);
        fill(&mut self.rsrp_dbm, other.rsrp_dbm);
        fill(&mut self.rsrq_db, other.rsrq_db);
        fill(&mut self.sinr_db, other.sinr_db);
        fill(&mut self.band, other.band);
        fill(&mut self.earfcn, other.earfcn);
        fill(&mut self.pci, other.pci);
        match (&mut self.nr, &other.nr) {
            (Some(mine), Some(theirs)) => {
                fill(&mut mine.rsrp_dbm, theirs.rsrp_dbm);
                fill(&mut mine.rsrq_db, theirs.rsrq_db);
                fill(&mut mine.sinr_db, theirs.sinr_db);
                fill(&mut mine.band, theirs.band);
                fill(&mut mine.arfcn, theirs.arfcn);
            }
            (None, Some(theirs)) => self.nr = Some(theirs.clone()),
            _ => {}
        }
    }

    /// Sets `quality_pct` from the other fields (see [`quality_pct`]).
    pub fn with_quality(mut self) -> Signal {
        self.quality_pct = quality_pct(self.rsrp_dbm, self.sinr_db, self.rssi_dbm);
        self
    }
}

/// What one vendor serving-cell command told us: a bit of registration and a bit of signal.
/// Internal to the modem layer (not serialised); profiles merge it into the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RadioReport {
    pub tech: Option<Tech>,
    /// Vendor's own word on service: `Some(false)` for "searching"/"no service" states.
    pub in_service: Option<bool>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub tac: Option<u32>,
    pub cell_id: Option<u64>,
    pub signal: Signal,
}

pub(crate) fn fill<T: Clone>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// Rounds to one decimal so that JSON shows `-20.2 + 32.2` as `12.0`, not `12.000000000000004`.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A 0–100 figure for humans. Each input maps linearly and is clamped:
/// RSRP −120 dBm → 0 … −80 dBm → 100 (the usual "poor … excellent" LTE thresholds);
/// SINR −5 dB → 0 … +25 dB → 100; RSSI (2G/3G, when there is no RSRP) −110 dBm → 0 … −60 → 100.
/// With both RSRP and SINR the lower of the two wins: a strong but noisy cell is not good.
/// Nothing known → `None`.
pub fn quality_pct(
    rsrp_dbm: Option<f64>,
    sinr_db: Option<f64>,
    rssi_dbm: Option<f64>,
) -> Option<u8> {
    let scale =
        |v: f64, lo: f64, hi: f64| -> f64 { ((v - lo) / (hi - lo) * 100.0).clamp(0.0, 100.0) };
    let rsrp = rsrp_dbm.map(|v| scale(v, -120.0, -80.0));
    let sinr = sinr_db.map(|v| scale(v, -5.0, 25.0));
    let pct = match (rsrp, sinr) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => scale(rssi_dbm?, -110.0, -60.0),
    };
    // `pct` is clamped to 0..=100, so the cast cannot truncate.
    Some(pct.round() as u8)
}

/// MCCs whose operators use 3-digit MNCs (ITU-T E.212 list, as also tabulated by Android's
/// `MccTable` and libphonenumber's carrier data): North America (302, 310–316), India (405,
/// partly), Mexico (334), a few Caribbean/Latin American states (338, 342, 344, 346, 348, 352,
/// 354, 356, 358, 360, 365, 376, 722, 732), Guam (310/311 already), Malaysia (502 has both).
/// 2-digit is the default everywhere else, Japan (440/441) included.
const THREE_DIGIT_MNC_MCCS: &[&str] = &[
    "302", "310", "311", "312", "313", "314", "315", "316", "334", "338", "342", "344", "346",
    "348", "352", "354", "356", "358", "360", "365", "376", "405", "708", "722", "732", "750",
];

/// Home MCC/MNC from an IMSI: MCC is the first 3 digits, the MNC 2 or 3 digits depending on
/// the country (3GPP TS 23.003 §2.2; the length is not encoded in the IMSI itself, so a table
/// is needed — the exact answer lives in EF_AD on the SIM, which we do not read).
pub fn home_network(imsi: &str) -> Option<(String, String)> {
    if imsi.len() < 6 || !imsi.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mcc = imsi.get(..3)?;
    let mnc_len = if THREE_DIGIT_MNC_MCCS.contains(&mcc) {
        3
    } else {
        2
    };
    let mnc = imsi.get(3..3 + mnc_len)?;
    Some((mcc.to_string(), mnc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_japanese_imsi_has_a_two_digit_mnc() {
        assert_eq!(
            home_network("440101234567890"),
            Some(("440".into(), "10".into()))
        );
    }

    #[test]
    fn a_us_imsi_has_a_three_digit_mnc() {
        assert_eq!(
            home_network("310260123456789"),
            Some(("310".into(), "260".into()))
        );
        assert_eq!(
            home_network("311480000000001"),
            Some(("311".into(), "480".into()))
        );
    }

    #[test]
    fn a_non_numeric_imsi_gives_no_home_network() {
        assert_eq!(home_network("44010ABC"), None);
        assert_eq!(home_network("4401"), None);
    }

    #[test]
    fn quality_takes_the_worse_of_rsrp_and_sinr() {
        assert_eq!(quality_pct(Some(-80.0), Some(-5.0), None), Some(0));
        assert_eq!(quality_pct(Some(-100.0), Some(25.0), None), Some(50));
        assert_eq!(quality_pct(None, None, Some(-85.0)), Some(50));
        assert_eq!(quality_pct(None, None, None), None);
        assert_eq!(quality_pct(Some(-200.0), None, None), Some(0));
    }

    #[test]
    fn enums_serialise_in_the_documented_lower_case_names() {
        let j = serde_json::to_string(&(
            Tech::Nr5gNsa,
            Tech::Nr5gSa,
            SimState::PinRequired,
            RegState::NotRegistered,
        ))
        .unwrap();
        assert_eq!(
            j,
            r#"["nr5g_nsa","nr5g_sa","pin_required","not_registered"]"#
        );
    }

    #[test]
    fn unknown_signal_fields_serialise_as_null() {
        let j = serde_json::to_string(&Signal::default()).unwrap();
        assert!(j.contains(r#""rsrp_dbm":null"#), "{j}");
        assert!(j.contains(r#""nr":null"#), "{j}");
    }
}
