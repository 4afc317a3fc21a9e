//! Simulator personalities: each answers like one real modem model — its identity strings,
//! its vendor commands in the vendor's own format, its unprompted URC noise — and falls back
//! to the TS 27.007 answers of `sim::generic` for the rest.
//!
//! Pure. Vendor encoders run the parsers' formulas backwards (cited in each file), so a value
//! set in the [`Radio`] comes back out of `modem::profile` unchanged where the format can carry
//! it. They must not do I/O or timing (the engine does).

pub mod fibocom;
pub mod huawei;
pub mod quectel;
pub mod sierra;
pub mod simcom;

use super::answer::Answer;
use super::generic::{answer_each, answer_generic, norm};
use super::radio::Radio;

/// A simulated modem model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Personality {
    Generic,
    QuectelEc25,
    QuectelRm520n,
    HuaweiE3372,
    SimcomSim7600,
    SierraEm7455,
    FibocomL850,
}

impl Personality {
    const ALL: [Personality; 7] = [
        Personality::Generic,
        Personality::QuectelEc25,
        Personality::QuectelRm520n,
        Personality::HuaweiE3372,
        Personality::SimcomSim7600,
        Personality::SierraEm7455,
        Personality::FibocomL850,
    ];

    pub fn all() -> &'static [Personality] {
        &Self::ALL
    }

    /// The name used on the command line (`--personality quectel-ec25`).
    pub fn name(&self) -> &'static str {
        match self {
            Personality::Generic => "generic",
            Personality::QuectelEc25 => "quectel-ec25",
            Personality::QuectelRm520n => "quectel-rm520n",
            Personality::HuaweiE3372 => "huawei-e3372",
            Personality::SimcomSim7600 => "simcom-sim7600",
            Personality::SierraEm7455 => "sierra-em7455",
            Personality::FibocomL850 => "fibocom-l850",
        }
    }

    pub fn from_name(name: &str) -> Option<Personality> {
        let n = name.trim().to_ascii_lowercase();
        Self::ALL.iter().copied().find(|p| p.name() == n)
    }

    /// What `AT+CGMI` prints on the real modem (without any `+CGMI:` prefix).
    pub fn manufacturer(&self) -> &'static str {
        match self {
            Personality::Generic => super::generic::GENERIC_MANUFACTURER,
            Personality::QuectelEc25 | Personality::QuectelRm520n => "Quectel",
            Personality::HuaweiE3372 => "huawei",
            Personality::SimcomSim7600 => "SIMCOM INCORPORATED",
            Personality::SierraEm7455 => "Sierra Wireless, Incorporated",
            Personality::FibocomL850 => "Fibocom",
        }
    }

    /// What `AT+CGMM` prints on the real modem.
    pub fn model(&self) -> &'static str {
        match self {
            Personality::Generic => super::generic::GENERIC_MODEL,
            Personality::QuectelEc25 => "EC25",
            Personality::QuectelRm520n => "RM520N-GL",
            Personality::HuaweiE3372 => "E3372",
            Personality::SimcomSim7600 => "SIMCOM_SIM7600E-H",
            Personality::SierraEm7455 => "EM7455",
            Personality::FibocomL850 => "L850",
        }
    }

    /// What `AT+CGMR` prints (a plausible firmware of that model).
    pub fn revision(&self) -> &'static str {
        match self {
            Personality::Generic => super::generic::GENERIC_REVISION,
            Personality::QuectelEc25 => "EC25EFAR06A06M4G",
            Personality::QuectelRm520n => "RM520NGLAAR01A07M4G",
            Personality::HuaweiE3372 => "22.315.01.00.00",
            Personality::SimcomSim7600 => "LE20B04SIM7600M22",
            Personality::SierraEm7455 => "SWI9X30C_02.33.03.00",
            Personality::FibocomL850 => "18500.5001.00.01.27.12",
        }
    }

    /// A radio preset that fits the model: the 5G modem starts on NSA, the others on LTE.
    pub fn default_radio(&self) -> Radio {
        match self {
            Personality::QuectelRm520n => Radio::nsa(),
            _ => Radio::default(),
        }
    }

    /// Answers one command line (may be `;`-concatenated). `None` = unknown command.
    pub fn answer(&self, radio: &mut Radio, cmd: &str) -> Option<Answer> {
        answer_each(cmd, |one| self.answer_one(radio, one))
    }

    fn answer_one(&self, radio: &mut Radio, cmd: &str) -> Option<Answer> {
        let c = norm(cmd);
        let with = |v: &str, p: &'static str| {
            if v.is_empty() {
                p.to_string()
            } else {
                v.to_string()
            }
        };
        let identity = match c.as_str() {
            "AT+CGMI" | "AT+GMI" => Some(with(&radio.manufacturer, self.manufacturer())),
            "AT+CGMM" | "AT+GMM" => Some(with(&radio.model, self.model())),
            "AT+CGMR" | "AT+GMR" => Some(with(&radio.revision, self.revision())),
            _ => None,
        };
        let vendor = match self {
            Personality::Generic => None,
            Personality::QuectelEc25 | Personality::QuectelRm520n => quectel::answer(radio, &c),
            Personality::HuaweiE3372 => huawei::answer(radio, &c),
            Personality::SimcomSim7600 => simcom::answer(radio, &c),
            Personality::SierraEm7455 => sierra::answer(radio, &c),
            Personality::FibocomL850 => fibocom::answer(radio, &c),
        };
        if vendor.is_some() {
            return vendor;
        }
        if let Some(text) = identity {
            return Some(Answer::line(self.identity_line(&c, text)));
        }
        if c == "ATI" {
            return Some(Answer::Ok(vec![
                with(&radio.manufacturer, self.manufacturer()),
                with(&radio.model, self.model()),
                format!("Revision: {}", with(&radio.revision, self.revision())),
            ]));
        }
        answer_generic(radio, &c)
    }

    /// Fibocom prefixes and quotes identity answers (`+CGMI: "Fibocom"`), SIMCom prefixes
    /// `+CGMR:`; the others print the bare text.
    fn identity_line(&self, cmd: &str, text: String) -> String {
        match (self, cmd) {
            (Personality::FibocomL850, c) => format!("{}: \"{text}\"", c.trim_start_matches("AT")),
            (Personality::SimcomSim7600, "AT+CGMR") => format!("+CGMR: {text}"),
            _ => text,
        }
    }

    /// URCs this model prints unprompted (Huawei's periodic reports while `^CURC` is on).
    pub fn noise(&self, radio: &Radio) -> Vec<String> {
        match self {
            Personality::HuaweiE3372 => huawei::noise(radio),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_command_lines_never_panic_any_personality(cmd in "(AT|at)?[-+^!A-Za-z0-9=?,;\"]{0,40}", tech in 0usize..5) {
            for p in Personality::all() {
                let mut r = p.default_radio();
                let t = ["gsm", "umts", "lte", "nsa", "sa"][tech];
                r.set("tech", t).unwrap();
                let _ = p.answer(&mut r, &cmd);
                let _ = p.noise(&r);
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_none() {
        for p in Personality::all() {
            assert_eq!(Personality::from_name(p.name()), Some(*p));
        }
        assert_eq!(Personality::from_name("nokia-3310"), None);
    }

    #[test]
    fn identity_answers_use_each_vendors_format() {
        let mut r = Radio::default();
        assert_eq!(
            Personality::FibocomL850.answer(&mut r, "AT+CGMI"),
            Some(Answer::line("+CGMI: \"Fibocom\""))
        );
        assert_eq!(
            Personality::QuectelEc25.answer(&mut r, "AT+CGMM"),
            Some(Answer::line("EC25"))
        );
        assert_eq!(
            Personality::SimcomSim7600.answer(&mut r, "AT+CGMR"),
            Some(Answer::line("+CGMR: LE20B04SIM7600M22"))
        );
        r.model = "EG25".into();
        assert_eq!(
            Personality::QuectelEc25.answer(&mut r, "at+cgmm"),
            Some(Answer::line("EG25"))
        );
    }

    #[test]
    fn vendor_personalities_still_answer_generic_commands() {
        for p in Personality::all() {
            let mut r = p.default_radio();
            assert_eq!(
                p.answer(&mut r, "AT+CPIN?"),
                Some(Answer::line("+CPIN: READY")),
                "{p:?}"
            );
            assert_eq!(p.answer(&mut r, "AT+NOPE"), None, "{p:?}");
        }
    }
}
