//! Modem knowledge: typed parsers for TS 27.007 and vendor replies, vendor profiles, the modem
//! model (identity, SIM, registration, signal), URC classification and the SIM/PIN decision.
//!
//! Everything here is pure: reply lines in, typed values out. No I/O, no tokio, no tracing —
//! the driver (`driver.rs`) runs what each profile declares ([`profile::Query`]) and hands the
//! lines over in a [`Replies`]. Parsers never panic and never guess: an unknown value is
//! `None`, an odd line is a [`ParseError`] that carries the line.

pub mod driver;
pub mod fibocom;
pub mod generic;
pub mod huawei;
pub mod model;
pub mod profile;
pub mod quectel;
pub mod sierra;
pub mod sim_gate;
pub mod sim_wait;
pub mod simcom;
pub mod urc;

pub use model::{
    ModemIdentity, NrSignal, RadioReport, RegState, Registration, Signal, SimInfo, SimState, Tech,
};
pub use profile::{Profile, Query};

/// A reply line we could not read. Carries the line, escaped and cut to a sane length, so a log
/// shows exactly what the modem sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("could not read {what} from modem reply \"{line}\": {reason}")]
    Malformed {
        what: &'static str,
        line: String,
        reason: &'static str,
    },
    #[error("modem reply has no {what} line")]
    Missing { what: &'static str },
}

impl ParseError {
    pub(crate) fn malformed(what: &'static str, line: &str, reason: &'static str) -> ParseError {
        ParseError::Malformed {
            what,
            line: escape(line),
            reason,
        }
    }
}

/// Escapes control and non-ASCII characters and keeps at most 120 characters of the line.
pub fn escape(line: &str) -> String {
    let mut out = String::new();
    for (i, c) in line.chars().enumerate() {
        if i >= 120 {
            out.push_str("...");
            break;
        }
        out.extend(c.escape_default());
    }
    out
}

/// What a query got back: its information lines (without echo and the final `OK`), or the
/// final error line (`ERROR`, `+CME ERROR: 10`, ...).
pub type Outcome = Result<Vec<String>, String>;

/// What the driver collected for one poll, filed by [`Query`] (what was asked), not by the
/// command text that went on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replies {
    entries: Vec<(Query, Outcome)>,
}

impl Replies {
    pub fn new() -> Replies {
        Replies::default()
    }

    /// Records the outcome of `query`; a later insert for the same query replaces it.
    pub fn insert(&mut self, query: Query, outcome: Outcome) {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == query) {
            slot.1 = outcome;
        } else {
            self.entries.push((query, outcome));
        }
    }

    /// The information lines of a query that ended in `OK`.
    pub fn get(&self, query: Query) -> Option<&[String]> {
        match self.outcome(query)? {
            Ok(lines) => Some(lines.as_slice()),
            Err(_) => None,
        }
    }

    /// The final error line of a query that failed.
    pub fn error(&self, query: Query) -> Option<&str> {
        match self.outcome(query)? {
            Ok(_) => None,
            Err(e) => Some(e.as_str()),
        }
    }

    /// The recorded outcome of `query`, lines or error, as it was inserted.
    pub fn outcome(&self, query: Query) -> Option<&Outcome> {
        self.entries
            .iter()
            .find(|(k, _)| *k == query)
            .map(|(_, v)| v)
    }
}

// ---------------------------------------------------------------- shared field helpers

/// The text after `prefix` and its colon (the AT layer's reading, shared).
pub(crate) use crate::at::urc::after_colon as after_prefix;

/// Splits on commas outside double quotes; trims each field and removes its quotes.
pub(crate) fn fields(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(clean(body.get(start..i).unwrap_or("")));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(clean(body.get(start..).unwrap_or("")));
    out
}

fn clean(field: &str) -> &str {
    let f = field.trim();
    let f = f.strip_prefix('"').unwrap_or(f);
    let f = f.strip_suffix('"').unwrap_or(f);
    f.trim()
}

/// Markers modems print for "no value": empty, `-`, `--`, `---`.
pub(crate) fn is_unknown_marker(field: &str) -> bool {
    matches!(field.trim(), "" | "-" | "--" | "---")
}

/// A decimal integer field: `Ok(None)` for an unknown marker, `Err` for anything else that is
/// not a number. Leading zeros and a `+` sign are accepted.
pub(crate) fn opt_int(field: Option<&&str>) -> Result<Option<i64>, ()> {
    let Some(f) = field else { return Ok(None) };
    if is_unknown_marker(f) {
        return Ok(None);
    }
    let f = f.trim();
    let digits = f.strip_prefix('+').unwrap_or(f);
    if digits.len() > 18 {
        return Err(());
    }
    digits.parse::<i64>().map(Some).map_err(|_| ())
}

/// A hexadecimal field (`8BE3`, `0x21F9`, `"01A2D001"`): `Ok(None)` for an unknown marker.
pub(crate) fn opt_hex(field: Option<&&str>) -> Result<Option<u64>, ()> {
    let Some(f) = field else { return Ok(None) };
    if is_unknown_marker(f) {
        return Ok(None);
    }
    let f = f.trim();
    let f = f
        .strip_prefix("0x")
        .or_else(|| f.strip_prefix("0X"))
        .unwrap_or(f);
    if f.is_empty() || f.len() > 16 {
        return Err(());
    }
    u64::from_str_radix(f, 16).map(Some).map_err(|_| ())
}

/// Narrows an integer to `u32`, treating out-of-range as malformed.
pub(crate) fn to_u32(v: Option<i64>) -> Result<Option<u32>, ()> {
    match v {
        None => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| ()),
    }
}

/// Field readers for the vendor serving-cell parsers (Quectel `+QENG`, SIMCom `+CPSI`): errors
/// name the line, so a log shows exactly which reply could not be read.
pub(crate) mod cell_fields {
    use super::{opt_int, to_u32, ParseError};

    pub(crate) fn bad(line: &str, reason: &'static str) -> ParseError {
        ParseError::malformed("serving cell", line, reason)
    }

    /// Field `i` as an integer; an unknown marker is `None`, text is an error.
    pub(crate) fn int(f: &[&str], i: usize, line: &str) -> Result<Option<i64>, ParseError> {
        opt_int(f.get(i)).map_err(|_| bad(line, "a numeric field holds text"))
    }

    pub(crate) fn uint(f: &[&str], i: usize, line: &str) -> Result<Option<u32>, ParseError> {
        to_u32(int(f, i, line)?).map_err(|_| bad(line, "a field is out of range"))
    }
}

/// A value in a physically plausible range, else unknown: firmware sometimes prints
/// placeholders such as 255 or −32768 where the manual promises a measurement.
pub(crate) fn plausible(v: Option<f64>, lo: f64, hi: f64) -> Option<f64> {
    v.filter(|x| (lo..=hi).contains(x)).map(model::round1)
}

/// The first line of `lines` starting with `prefix` (case-insensitive), with its body.
pub(crate) fn find_body<'a>(lines: &'a [String], prefix: &str) -> Option<(&'a str, &'a str)> {
    lines
        .iter()
        .find_map(|l| after_prefix(l, prefix).map(|b| (l.as_str(), b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_filed_by_query_and_a_later_answer_replaces_an_earlier_one() {
        let mut r = Replies::new();
        r.insert(Query::QuectelServingCell, Ok(vec!["x".into()]));
        r.insert(Query::Csq, Err("+CME ERROR: 10".into()));
        assert_eq!(
            r.get(Query::QuectelServingCell),
            Some(&["x".to_string()][..])
        );
        assert_eq!(r.get(Query::Csq), None);
        assert_eq!(r.error(Query::Csq), Some("+CME ERROR: 10"));
        r.insert(Query::Csq, Ok(vec!["+CSQ: 24,99".into()]));
        assert_eq!(r.error(Query::Csq), None);
        assert_eq!(r.get(Query::Csq).map(<[String]>::len), Some(1));
        assert_eq!(r.outcome(Query::Cesq), None);
    }

    #[test]
    fn fields_split_outside_quotes_and_trim() {
        assert_eq!(
            fields(r#" 2,1, "1F00", 79D903 ,"a,b""#),
            vec!["2", "1", "1F00", "79D903", "a,b"]
        );
    }

    #[test]
    fn after_prefix_accepts_missing_space_and_any_case() {
        assert_eq!(after_prefix("+CREG:002,001", "+CREG"), Some("002,001"));
        assert_eq!(after_prefix("+creg: 1", "+CREG"), Some("1"));
        assert_eq!(after_prefix("+CREGX: 1", "+CREG"), None);
    }

    #[test]
    fn escape_makes_control_bytes_visible() {
        assert_eq!(escape("a\r\u{0}é"), "a\\r\\u{0}\\u{e9}");
    }
}
