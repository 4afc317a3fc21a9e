//! Sierra Wireless (EM7455/MC7455, EM7565, EM919x) `AT!GSTATUS?`: a multi-line block of
//! `Label: value` pairs, two per line, separated by runs of spaces or tabs, whose set of labels
//! changes with firmware (`RSSI (dBm):` vs `PCC RxM RSSI:`, optional NR5G rows).
//!
//! Pure. Labels and layouts from the "AirPrime EM74xx/MC74xx AT Command Reference" (§ !GSTATUS)
//! and ModemManager's `mm-broadband-modem-mbim-sierra.c` sample. `---`/`--` mean unknown.

use super::model::{NrSignal, RadioReport, Tech};
use super::profile::{Declared, Feeds, Params, Query, Rate, Reads, Spec, CELL, GENERIC, QUICK};
use super::quectel::band_number;
use super::{is_unknown_marker, ParseError};

// ------------------------------------------------------------------ profile declaration

/// Sierra Wireless EM/MC 73xx–91xx: what differs from the 3GPP profile.
pub const PARAMS: Params = Params {
    maker: "sierra",
    models: &["EM74", "MC74", "EM75", "EM91", "MC73", "EM73"],
    iccid: Some(Query::SierraIccid),
    cell: &[Declared::new(
        Query::SierraStatus,
        Rate::EveryPoll,
        Feeds::RegistrationAndSignal,
    )],
    ..GENERIC
};

/// `AT!ICCID?` answers `!ICCID: <iccid>`.
pub const ICCID: Spec = Spec::one(
    "AT!ICCID?",
    QUICK,
    Reads::Iccid(super::generic::parse_iccid),
);
pub const STATUS: Spec = Spec::one("AT!GSTATUS?", CELL, Reads::Cell(|l| parse_gstatus(l).ok()));

/// Every label we split on, including ones whose values we ignore: an unlisted label would
/// otherwise run into the previous value.
const LABELS: &[&str] = &[
    "Current Time:",
    "Temperature:",
    "Reset Counter:",
    "Bootup Time:",
    "Mode:",
    "System mode:",
    "PS state:",
    "LTE band:",
    "LTE bw:",
    "LTE Rx chan:",
    "LTE Tx chan:",
    "LTE CA state:",
    "LTE Scell band:",
    "LTE Scell bw:",
    "LTE Scell chan:",
    "EMM state:",
    "RRC state:",
    "IMS reg state:",
    "IMS mode:",
    "IMS Srv State:",
    "PCC RxM RSSI:",
    "PCC RxM RSRP:",
    "PCC RxD RSSI:",
    "PCC RxD RSRP:",
    "SCC RxM RSSI:",
    "SCC RxM RSRP:",
    "SCC RxD RSSI:",
    "SCC RxD RSRP:",
    "RSSI (dBm):",
    "RSRP (dBm):",
    "Tx Power:",
    "PCC Tx Power:",
    "TAC:",
    "RSRQ (dB):",
    "Cell ID:",
    "LTE Cell ID:",
    "Physical Cell ID:",
    "SINR (dB):",
    "NR5G band:",
    "NR5G bw:",
    "NR5G Rx chan:",
    "NR5G Tx chan:",
    "NR5G RSRP (dBm):",
    "NR5G RSRQ (dB):",
    "NR5G SINR (dB):",
    "Modem Mitigate Level:",
    "ModemProc Mitigate Level:",
    "PCC LNA state:",
    "WCDMA band:",
    "WCDMA channel:",
    "GMM (PS) state:",
    "MM (CS) state:",
    "RxM RSSI C0:",
    "RxD RSSI C0:",
    "LTE SSC1 state:",
    "LTE SSC2 state:",
    "LTE SSC3 state:",
    "LTE SSC4 state:",
];

/// Splits one line into `(label, value)` pairs. Where labels overlap (`RSRP (dBm):` inside
/// `NR5G RSRP (dBm):`) the longer one wins.
fn pairs(line: &str) -> Vec<(&'static str, &str)> {
    let mut hits: Vec<(usize, usize, &'static str)> = Vec::new();
    for label in LABELS {
        let mut from = 0;
        while let Some(pos) = line.get(from..).and_then(|rest| rest.find(label)) {
            let start = from + pos;
            hits.push((start, start + label.len(), label));
            from = start + label.len();
        }
    }
    hits.sort_by_key(|h| (h.0, std::cmp::Reverse(h.1)));
    let mut kept: Vec<(usize, usize, &'static str)> = Vec::new();
    for h in hits {
        if kept.last().is_some_and(|k| h.0 < k.1) {
            continue; // inside a longer label that starts earlier or at the same place
        }
        kept.push(h);
    }
    let mut out = Vec::new();
    for (i, (_, end, label)) in kept.iter().enumerate() {
        let stop = kept.get(i + 1).map_or(line.len(), |n| n.0);
        let value = line.get(*end..stop).unwrap_or("").trim();
        out.push((*label, value));
    }
    out
}

/// `AT!GSTATUS?` reply lines → radio report. Example (EM7455, LTE):
/// ```text
/// !GSTATUS:
/// Current Time:  4306      Temperature: 35
/// System mode:   LTE        PS state:    Attached
/// LTE band:      B66        LTE bw:      20 MHz
/// LTE Rx chan:   66486      LTE Tx chan: 132272
/// PCC RxM RSSI:  -87        PCC RxM RSRP:  -119
/// Tx Power:      --         TAC:         550d (21773)
/// RSRQ (dB):     -11.6      Cell ID:     00a51b02 (10820354)
/// SINR (dB):     12.2
/// ```
pub fn parse_gstatus(lines: &[String]) -> Result<RadioReport, ParseError> {
    let block = Block::read(lines)?;
    let mut r = RadioReport::default();
    let mode = block
        .first("System mode:")
        .map(|(m, _)| m.to_ascii_uppercase())
        .unwrap_or_default();
    r.tech = match mode.as_str() {
        "LTE" => Some(Tech::Lte),
        "WCDMA" | "UMTS" | "HSPA" | "HSPA+" | "HSDPA" | "HSUPA" => Some(Tech::Umts),
        "GSM" | "GPRS" | "EDGE" => Some(Tech::Gsm),
        "NR5G" | "NR" => Some(Tech::Nr5gSa),
        "ENDC" => Some(Tech::Nr5gNsa),
        _ => None,
    };
    if let Some((emm, _)) = block.first("EMM state:") {
        r.in_service = Some(emm == "Registered");
    }
    r.signal.band = block.band("LTE band:");
    r.signal.earfcn = block.whole("LTE Rx chan:")?;
    r.signal.rssi_dbm = block.num("PCC RxM RSSI:")?.or(block.num("RSSI (dBm):")?);
    r.signal.rsrp_dbm = block.num("PCC RxM RSRP:")?.or(block.num("RSRP (dBm):")?);
    r.signal.rsrq_db = block.num("RSRQ (dB):")?;
    r.signal.sinr_db = block.num("SINR (dB):")?;
    r.signal.pci = block.whole("Physical Cell ID:")?;
    r.tac = block.hex("TAC:")?.and_then(|t| u32::try_from(t).ok());
    r.cell_id = block.hex("Cell ID:")?.or(block.hex("LTE Cell ID:")?);
    let nr = NrSignal {
        band: block.band("NR5G band:"),
        arfcn: block.whole("NR5G Rx chan:")?,
        rsrp_dbm: block.num("NR5G RSRP (dBm):")?,
        rsrq_db: block.num("NR5G RSRQ (dB):")?,
        sinr_db: block.num("NR5G SINR (dB):")?,
    };
    if !nr.is_empty() {
        if r.tech == Some(Tech::Lte) {
            r.tech = Some(Tech::Nr5gNsa);
        }
        r.signal.nr = Some(nr);
    }
    Ok(r)
}

/// The `(label, value, line)` triples of a reply; the first occurrence of a label wins (the
/// older layout repeats `RSRP (dBm):` for the second antenna).
struct Block<'a> {
    map: Vec<(&'static str, &'a str, &'a str)>,
}

impl<'a> Block<'a> {
    fn read(lines: &'a [String]) -> Result<Block<'a>, ParseError> {
        let mut map: Vec<(&'static str, &'a str, &'a str)> = Vec::new();
        for line in lines {
            for (label, value) in pairs(line) {
                if !map.iter().any(|(l, _, _)| *l == label) {
                    map.push((label, value, line.as_str()));
                }
            }
        }
        if map.is_empty() {
            return Err(ParseError::Missing { what: "!GSTATUS" });
        }
        Ok(Block { map })
    }

    /// First word of the value, with its line; `None` for an absent or unknown (`--`) value.
    fn first(&self, label: &str) -> Option<(&'a str, &'a str)> {
        let (_, v, line) = self.map.iter().find(|(l, _, _)| *l == label)?;
        let tok = v.split_whitespace().next().unwrap_or("");
        (!is_unknown_marker(tok)).then_some((tok, *line))
    }

    fn band(&self, label: &str) -> Option<u32> {
        band_number(self.first(label)?.0)
    }

    fn num(&self, label: &str) -> Result<Option<f64>, ParseError> {
        let Some((tok, line)) = self.first(label) else {
            return Ok(None);
        };
        tok.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && x.abs() < 1000.0)
            .map(Some)
            .ok_or_else(|| ParseError::malformed("status", line, "a measurement is not a number"))
    }

    fn whole(&self, label: &str) -> Result<Option<u32>, ParseError> {
        let Some((tok, line)) = self.first(label) else {
            return Ok(None);
        };
        tok.parse::<u32>()
            .map(Some)
            .map_err(|_| ParseError::malformed("status", line, "a channel or id is not a number"))
    }

    fn hex(&self, label: &str) -> Result<Option<u64>, ParseError> {
        let Some((tok, line)) = self.first(label) else {
            return Ok(None);
        };
        u64::from_str_radix(tok, 16)
            .map(Some)
            .map_err(|_| ParseError::malformed("status", line, "an id is not hex"))
    }
}

#[cfg(test)]
mod tests {
    //! Blocks: an EM7455 on AT&T (public bring-up notes), ModemManager's EM7565/EM919x sample,
    //! an MC7304 sample with the older `RSSI (dBm):` labels.
    use super::*;
    use proptest::prelude::*;

    fn v(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    const EM7455: &str = "!GSTATUS: \nCurrent Time:  4306\t\tTemperature: 35\nReset Counter: 2\t\tMode:        ONLINE         \nSystem mode:   LTE        \tPS state:    Attached     \nLTE band:      B66    \t\tLTE bw:      20 MHz  \nLTE Rx chan:   66486\t\tLTE Tx chan: 132272\nLTE SSC1 state:NOT ASSIGNED\nEMM state:     Registered     \tNormal Service \nRRC state:     RRC Idle       \nIMS reg state: No Srv  \t\t\n\nPCC RxM RSSI:  -87\t\tPCC RxM RSRP:  -119\nPCC RxD RSSI:  -55\t\tPCC RxD RSRP:  -86\nTx Power:      --\t\tTAC:         550d (21773)\nRSRQ (dB):     -11.6\t\tCell ID:     00a51b02 (10820354)\nSINR (dB):     12.2";

    #[test]
    fn em7455_block_gives_band_channel_signal_and_ids() {
        let r = parse_gstatus(&v(EM7455)).unwrap();
        assert_eq!((r.tech, r.in_service), (Some(Tech::Lte), Some(true)));
        let s = &r.signal;
        assert_eq!((s.band, s.earfcn), (Some(66), Some(66486)));
        assert_eq!(
            (s.rssi_dbm, s.rsrp_dbm, s.rsrq_db, s.sinr_db),
            (Some(-87.0), Some(-119.0), Some(-11.6), Some(12.2))
        );
        assert_eq!((r.tac, r.cell_id), (Some(0x550d), Some(0x00a5_1b02)));
    }

    #[test]
    fn older_labels_take_the_first_rsrp_of_the_main_antenna() {
        let r = parse_gstatus(&v("!GSTATUS: \nSystem mode:   LTE              PS state:    Attached\nLTE band:      B3               LTE bw:      20 MHz\nLTE Rx chan:   1550             LTE Tx chan: 19550\nRSSI (dBm):    -76              Tx Power:    0\nRSRP (dBm):    -107             TAC:         4F3B (20283)\nRSRQ (dB):     -9               Cell ID:     004ED30C (5165836)\nSINR (dB):      9.6")).unwrap();
        assert_eq!(
            (r.signal.rssi_dbm, r.signal.rsrp_dbm, r.signal.sinr_db),
            (Some(-76.0), Some(-107.0), Some(9.6))
        );
        assert_eq!(r.tac, Some(0x4F3B));
    }

    #[test]
    fn nr5g_rows_with_dashes_stay_unknown_and_do_not_clash_with_lte_labels() {
        let r = parse_gstatus(&v("System mode:   LTE              PS state:    Attached\nPCC RxM RSSI:  -46              PCC RxM RSRP:  -72\nRSRQ (dB):     -6.0             Cell ID:     01a2d001 (27447297)\nSINR (dB):     25.4\nNR5G band:       ---            NR5G bw:         ---\nNR5G RSRP (dBm): ---            NR5G RSRQ (dB):  ---\nNR5G SINR (dB):  ---")).unwrap();
        assert_eq!(
            (r.tech, r.signal.nr.clone(), r.signal.rsrp_dbm),
            (Some(Tech::Lte), None, Some(-72.0))
        );
        let r = parse_gstatus(&v("System mode:   LTE\nPCC RxM RSRP:  -80\nNR5G band:       n78            NR5G bw:         100 MHz\nNR5G Rx chan:    636666\nNR5G RSRP (dBm): -91            NR5G RSRQ (dB):  -11\nNR5G SINR (dB):  17.5")).unwrap();
        let nr = r.signal.nr.unwrap();
        assert_eq!(
            (r.tech, nr.band, nr.arfcn, nr.rsrp_dbm, nr.sinr_db),
            (
                Some(Tech::Nr5gNsa),
                Some(78),
                Some(636666),
                Some(-91.0),
                Some(17.5)
            )
        );
    }

    #[test]
    fn wcdma_block_gives_the_tech_only() {
        let r = parse_gstatus(&v("!GSTATUS: \nSystem mode:   WCDMA            PS state:    Attached\nWCDMA band:    WCDMA 2100\nWCDMA channel: 10737\nGMM (PS) state:REGISTERED       NORMAL SERVICE")).unwrap();
        assert_eq!((r.tech, r.signal.rsrp_dbm), (Some(Tech::Umts), None));
    }

    #[test]
    fn garbage_values_and_empty_replies_are_errors() {
        assert!(parse_gstatus(&v("RSRP (dBm):    abc")).is_err());
        assert!(parse_gstatus(&v("TAC:         zz12 (1)")).is_err());
        assert!(parse_gstatus(&v("nothing here")).is_err());
        assert!(parse_gstatus(&[]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic_gstatus(a in "\\PC{0,120}", pick in 0usize..60) {
            let label = LABELS.get(pick).copied().unwrap_or("");
            let _ = parse_gstatus(&[a.clone(), format!("{label}{a}"), format!("{a}{label}")]);
        }
    }
}
