//! Everything a simulated modem reports, in natural units (dBm, dB, plain numbers), plus the
//! little state AT commands change (`AT+CREG=2`, `AT+COPS=3,2`, `AT^CURC=0`, the PIN counter).
//!
//! Pure data: personalities encode these values into their vendor formats. Signal values are
//! `Option` so a test can make a modem report "unknown" (`rsrp=unknown`). The meaning of the
//! signal fields matches `modem::Signal`: on LTE/NSA the top-level values are the LTE cell and
//! `nr_*` the NR leg; on 5G SA the top-level values are the NR cell.

/// SIM card condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCard {
    Ready,
    PinRequired,
    PukRequired,
    NotInserted,
    Busy,
}

/// Radio access technology the simulated modem is camped on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioTech {
    Gsm,
    Umts,
    Lte,
    Nr5gNsa,
    Nr5gSa,
}

impl RadioTech {
    pub fn is_lte_anchor(self) -> bool {
        matches!(self, RadioTech::Lte | RadioTech::Nr5gNsa)
    }
}

/// The settable state of a simulated modem.
#[derive(Debug, Clone, PartialEq)]
pub struct Radio {
    /// Identity overrides; empty = the personality's own strings.
    pub manufacturer: String,
    pub model: String,
    pub revision: String,
    pub imei: String,
    pub sim: SimCard,
    /// The SIM's PIN and the attempts left before it wants the PUK.
    pub pin: String,
    pub pin_attempts: u8,
    pub iccid: String,
    pub imsi: String,
    /// Own number; empty = the SIM stores none (`+CNUM` answers nothing).
    pub msisdn: String,
    /// The network time the modem heard (NITZ), as seconds from the host clock; `None`: it
    /// heard none and its clock still shows the power-up default (`+CCLK: "80/01/06,…"`).
    pub nitz_offset: Option<i64>,
    /// TS 27.007 `<stat>`: 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming.
    pub reg_state: u8,
    pub tech: RadioTech,
    pub operator: String,
    pub mcc: String,
    pub mnc: String,
    /// TAC (LTE/NR) or LAC (2G/3G).
    pub tac: u32,
    /// Up to 36 bits (NR NCI).
    pub cell_id: u64,
    pub rssi_dbm: Option<f64>,
    pub rsrp_dbm: Option<f64>,
    pub rsrq_db: Option<f64>,
    pub sinr_db: Option<f64>,
    pub band: Option<u32>,
    /// EARFCN on LTE, UARFCN on 3G, ARFCN on GSM, NR-ARFCN on SA.
    pub earfcn: Option<u32>,
    pub pci: Option<u32>,
    pub nr_rsrp_dbm: Option<f64>,
    pub nr_rsrq_db: Option<f64>,
    pub nr_sinr_db: Option<f64>,
    pub nr_band: Option<u32>,
    pub nr_arfcn: Option<u32>,
    pub nr_pci: Option<u32>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// `<n>` of `AT+CREG=`, `AT+CGREG=`, `AT+CEREG=`, `AT+C5GREG=`.
    pub creg_n: u8,
    pub cgreg_n: u8,
    pub cereg_n: u8,
    pub c5greg_n: u8,
    /// `AT+COPS=3,<format>`: 0 long name, 1 short name, 2 numeric.
    pub cops_format: u8,
    /// `AT+CSCS="UCS2"`: strings go out as UCS2 hex.
    pub ucs2: bool,
    /// Huawei periodic URCs on (`AT^CURC=0` turns them off).
    pub curc: bool,
}

impl Default for Radio {
    /// An LTE modem on NTT DOCOMO (440-10), band 3, decent signal, SIM ready.
    fn default() -> Radio {
        Radio {
            manufacturer: String::new(),
            model: String::new(),
            revision: String::new(),
            imei: "356938035643809".into(),
            sim: SimCard::Ready,
            pin: "1234".into(),
            pin_attempts: 3,
            iccid: "8981100022152467221".into(),
            imsi: "440101234567890".into(),
            msisdn: "+819012345678".into(),
            nitz_offset: Some(0),
            reg_state: 1,
            tech: RadioTech::Lte,
            operator: "NTT DOCOMO".into(),
            mcc: "440".into(),
            mnc: "10".into(),
            tac: 0x1A2B,
            cell_id: 0x1A2_D001,
            rssi_dbm: Some(-65.0),
            rsrp_dbm: Some(-95.0),
            rsrq_db: Some(-10.0),
            sinr_db: Some(12.0),
            band: Some(3),
            earfcn: Some(1500),
            pci: Some(123),
            nr_rsrp_dbm: None,
            nr_rsrq_db: None,
            nr_sinr_db: None,
            nr_band: None,
            nr_arfcn: None,
            nr_pci: None,
            rx_bytes: 0,
            tx_bytes: 0,
            creg_n: 0,
            cgreg_n: 0,
            cereg_n: 0,
            c5greg_n: 0,
            cops_format: 0,
            ucs2: false,
            curc: true,
        }
    }
}

impl Radio {
    /// A 5G NSA radio: the default LTE anchor plus an n78 leg.
    pub fn nsa() -> Radio {
        Radio {
            tech: RadioTech::Nr5gNsa,
            nr_rsrp_dbm: Some(-88.0),
            nr_rsrq_db: Some(-11.0),
            nr_sinr_db: Some(18.0),
            nr_band: Some(78),
            nr_arfcn: Some(643_334),
            nr_pci: Some(500),
            ..Radio::default()
        }
    }

    /// True when the modem has service (home or roaming, incl. the "SMS only"/"CSFB" forms).
    pub fn registered(&self) -> bool {
        matches!(self.reg_state, 1 | 5 | 6 | 7 | 9 | 10)
    }

    /// Sets one value by name, as tests and `simkeep sim --set rsrp=-95` say it. Signal values
    /// accept `unknown` (also `-`, `none`) for "the modem does not know".
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "manufacturer" => self.manufacturer = v.into(),
            "model" => self.model = v.into(),
            "revision" => self.revision = v.into(),
            "imei" => self.imei = digits(v, 14, 17)?,
            "sim" => self.sim = sim_card(v)?,
            "pin" => self.pin = digits(v, 4, 8)?,
            "pin_attempts" => self.pin_attempts = int(v)?,
            "iccid" => self.iccid = digits(v, 18, 22)?,
            "imsi" => self.imsi = digits(v, 6, 15)?,
            "msisdn" => self.msisdn = v.into(),
            // `nitz=off`: no network time; `nitz=-10800`: the network's clock 3 h behind ours.
            "nitz" => {
                self.nitz_offset = match v {
                    "off" => None,
                    n => Some(
                        n.parse()
                            .map_err(|_| format!("nitz: off or seconds, not {n:?}"))?,
                    ),
                }
            }
            "reg" | "reg_state" => self.reg_state = reg_state(v)?,
            "tech" => self.tech = tech(v)?,
            "operator" => self.operator = v.into(),
            "mcc" => self.mcc = digits(v, 3, 3)?,
            "mnc" => self.mnc = digits(v, 2, 3)?,
            "tac" | "lac" => {
                self.tac = hex_or_dec(v).and_then(|x| {
                    u32::try_from(x).map_err(|_| "tac has at most 24 bits".to_string())
                })?
            }
            "cell_id" | "cell" => {
                self.cell_id = hex_or_dec(v).and_then(|x| {
                    if x < 1 << 36 {
                        Ok(x)
                    } else {
                        Err("cell_id has at most 36 bits".into())
                    }
                })?
            }
            "rssi" | "rssi_dbm" => self.rssi_dbm = measure(v, -130.0, 0.0)?,
            "rsrp" | "rsrp_dbm" => self.rsrp_dbm = measure(v, -156.0, -30.0)?,
            "rsrq" | "rsrq_db" => self.rsrq_db = measure(v, -43.5, 20.0)?,
            "sinr" | "sinr_db" => self.sinr_db = measure(v, -23.0, 40.0)?,
            "band" => self.band = opt_int(v)?,
            "earfcn" | "arfcn" => self.earfcn = opt_int(v)?,
            "pci" => self.pci = opt_int(v)?,
            "nr_rsrp" | "nr_rsrp_dbm" => self.nr_rsrp_dbm = measure(v, -156.0, -30.0)?,
            "nr_rsrq" | "nr_rsrq_db" => self.nr_rsrq_db = measure(v, -43.5, 20.0)?,
            "nr_sinr" | "nr_sinr_db" => self.nr_sinr_db = measure(v, -23.0, 40.0)?,
            "nr_band" => self.nr_band = opt_int(v)?,
            "nr_arfcn" => self.nr_arfcn = opt_int(v)?,
            "nr_pci" => self.nr_pci = opt_int(v)?,
            "rx_bytes" => self.rx_bytes = int(v)?,
            "tx_bytes" => self.tx_bytes = int(v)?,
            other => {
                return Err(format!(
                    "unknown radio value {other:?}: use one of {}",
                    KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// `set` for a `key=value` string.
    pub fn set_pair(&mut self, pair: &str) -> Result<(), String> {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {pair:?}"))?;
        self.set(k, v)
    }
}

/// The keys `Radio::set` knows, for error messages and `--help`.
pub const KEYS: &[&str] = &[
    "manufacturer",
    "model",
    "revision",
    "imei",
    "sim",
    "pin",
    "pin_attempts",
    "iccid",
    "imsi",
    "msisdn",
    "nitz",
    "reg",
    "tech",
    "operator",
    "mcc",
    "mnc",
    "tac",
    "cell_id",
    "rssi",
    "rsrp",
    "rsrq",
    "sinr",
    "band",
    "earfcn",
    "pci",
    "nr_rsrp",
    "nr_rsrq",
    "nr_sinr",
    "nr_band",
    "nr_arfcn",
    "nr_pci",
    "rx_bytes",
    "tx_bytes",
];

fn is_unknown(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "unknown" | "-" | "none" | "null"
    )
}

fn int<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{v:?} is not a whole number in range"))
}

fn opt_int(v: &str) -> Result<Option<u32>, String> {
    if is_unknown(v) {
        Ok(None)
    } else {
        int(v).map(Some)
    }
}

fn measure(v: &str, lo: f64, hi: f64) -> Result<Option<f64>, String> {
    if is_unknown(v) {
        return Ok(None);
    }
    let x: f64 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
    if !(lo..=hi).contains(&x) {
        return Err(format!("{v} is outside {lo}..{hi}"));
    }
    Ok(Some(x))
}

fn digits(v: &str, min: usize, max: usize) -> Result<String, String> {
    if (min..=max).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(format!("{v:?} must be {min} to {max} digits"))
    }
}

fn hex_or_dec(v: &str) -> Result<u64, String> {
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| format!("{v:?} is not a number (decimal, or hex with 0x)"))
}

fn sim_card(v: &str) -> Result<SimCard, String> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "ready" => SimCard::Ready,
        "pin" | "pin_required" => SimCard::PinRequired,
        "puk" | "puk_required" => SimCard::PukRequired,
        "absent" | "none" | "not_inserted" => SimCard::NotInserted,
        "busy" => SimCard::Busy,
        _ => return Err(format!("sim {v:?}: use ready, pin, puk, absent or busy")),
    })
}

fn reg_state(v: &str) -> Result<u8, String> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "home" => 1,
        "roaming" => 5,
        "searching" => 2,
        "denied" => 3,
        "none" | "not_registered" => 0,
        "unknown" => 4,
        n => match n.parse::<u8>() {
            Ok(x @ 0..=11) => x,
            _ => {
                return Err(format!(
                    "reg {v:?}: use home, roaming, searching, denied, none, unknown or 0-11"
                ))
            }
        },
    })
}

fn tech(v: &str) -> Result<RadioTech, String> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "gsm" | "2g" => RadioTech::Gsm,
        "umts" | "wcdma" | "3g" => RadioTech::Umts,
        "lte" | "4g" => RadioTech::Lte,
        "nsa" | "nr5g_nsa" => RadioTech::Nr5gNsa,
        "sa" | "nr5g_sa" => RadioTech::Nr5gSa,
        _ => {
            return Err(format!(
                "tech {v:?}: use gsm, umts, lte, nr5g_nsa or nr5g_sa"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_assignments_never_panic(k in prop::sample::select(KEYS.to_vec()), v in "\\PC{0,24}") {
            let mut r = Radio::default();
            let _ = r.set(k, &v);
            let _ = r.set_pair(&v);
        }
    }

    #[test]
    fn set_parses_numbers_hex_and_unknown() {
        let mut r = Radio::default();
        r.set("rsrp", "-95.5").unwrap();
        r.set("tac", "0x1F00").unwrap();
        r.set("cell_id", "0x100072000").unwrap();
        r.set("sinr", "unknown").unwrap();
        r.set_pair("tech=nr5g_sa").unwrap();
        assert_eq!(
            (r.rsrp_dbm, r.tac, r.cell_id, r.sinr_db, r.tech),
            (Some(-95.5), 0x1F00, 0x1_0007_2000, None, RadioTech::Nr5gSa)
        );
    }

    #[test]
    fn set_rejects_bad_keys_and_values_with_a_useful_message() {
        let mut r = Radio::default();
        assert!(r.set("rsrpp", "-95").unwrap_err().contains("use one of"));
        assert!(r.set("rsrp", "loud").is_err());
        assert!(r.set("rsrp", "-10").is_err());
        assert!(r.set("cell_id", "0x1000000000").is_err());
        assert!(r.set("sim", "maybe").unwrap_err().contains("ready, pin"));
        assert!(r.set_pair("rsrp").is_err());
        assert_eq!(r, Radio::default());
    }
}
