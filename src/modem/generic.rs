//! TS 27.007 reply parsers: identity (+CGMI/+CGMM/+CGMR/+CGSN), SIM (+CPIN?, +CIMI, ICCID
//! forms, +CNUM), operator (+COPS?), registration (+CREG/+CGREG/+CEREG/+C5GREG answers and
//! URCs) and signal (+CSQ, +CESQ).
//!
//! Pure functions over reply lines. They must not guess: unknown markers (99, 255, empty) give
//! `None`, and a line of the wrong shape gives a [`ParseError`], never a made-up number.

use super::model::{round1, RegState, SimState, Tech};
use super::{after_prefix, fields, find_body, is_unknown_marker, opt_hex, opt_int, ParseError};

// ---------------------------------------------------------------- identity

/// The text of a `+CGMI`/`+CGMM`/`+CGMR` reply. Accepts the bare form (`Quectel`) and the
/// prefixed one (`+CGMI: "Fibocom"`); `prefix` is e.g. `"+CGMI"`. Blank → `None`.
pub fn parse_info_text(lines: &[String], prefix: &str) -> Option<String> {
    let line = lines.iter().map(|l| l.trim()).find(|l| !l.is_empty())?;
    let body = after_prefix(line, prefix).unwrap_or(line);
    let body = body.trim().trim_matches('"').trim();
    if body.is_empty() {
        None
    } else {
        Some(body.chars().take(120).collect())
    }
}

/// IMEI from `AT+CGSN`: `356938035643809` or `+CGSN: "356938035643809"` (14–17 digits, so an
/// IMEISV passes too).
pub fn parse_imei(lines: &[String]) -> Result<String, ParseError> {
    let text = parse_info_text(lines, "+CGSN").ok_or(ParseError::Missing { what: "IMEI" })?;
    let text = after_prefix(&text, "IMEI")
        .unwrap_or(&text)
        .trim()
        .to_string();
    if (14..=17).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text)
    } else {
        Err(ParseError::malformed(
            "IMEI",
            &text,
            "expected 14 to 17 digits",
        ))
    }
}

// ---------------------------------------------------------------- SIM

/// `+CPIN: <code>` (TS 27.007 §8.3). `SIM PIN2`/`SIM PUK2` only lock PIN2-protected functions
/// (fixed dialling), so the SIM is usable: `Ready`. `PH-…` codes are device/network
/// personalisation locks that need the owner, not the SIM PIN: `Error`.
pub fn parse_cpin(line: &str) -> Result<SimState, ParseError> {
    let body = after_prefix(line, "+CPIN")
        .ok_or_else(|| ParseError::malformed("SIM state", line, "expected +CPIN:"))?;
    let code = body.trim_matches('"').trim().to_ascii_uppercase();
    Ok(match code.as_str() {
        "READY" | "SIM PIN2" | "SIM PUK2" => SimState::Ready,
        "SIM PIN" => SimState::PinRequired,
        "SIM PUK" => SimState::PukRequired,
        "NOT INSERTED" | "SIM NOT INSERTED" | "NO SIM" => SimState::NotInserted,
        "NOT READY" | "SIM BUSY" => SimState::Busy,
        c if c.starts_with("PH-") || c.starts_with("PH ") => SimState::Error,
        _ => {
            return Err(ParseError::malformed(
                "SIM state",
                line,
                "unknown +CPIN code",
            ))
        }
    })
}

/// SIM state implied by the error a SIM command returned (TS 27.007 §9.2.1: 10 SIM not
/// inserted, 11 PIN required, 12 PUK required, 13 SIM failure, 14 SIM busy, 15 SIM wrong).
/// Verbose (`+CME ERROR: SIM not inserted`) and numeric forms; anything else → `None`.
pub fn sim_state_from_error(error_line: &str) -> Option<SimState> {
    let body = after_prefix(error_line, "+CME ERROR")?.to_ascii_lowercase();
    Some(match body.as_str() {
        "10" | "sim not inserted" => SimState::NotInserted,
        "11" | "sim pin required" => SimState::PinRequired,
        "12" | "sim puk required" => SimState::PukRequired,
        "13" | "15" | "sim failure" | "sim wrong" => SimState::Error,
        "14" | "sim busy" => SimState::Busy,
        _ => return None,
    })
}

/// IMSI from `AT+CIMI`: 6–15 digits, bare or as `+CIMI: 440101234567890`.
pub fn parse_imsi(lines: &[String]) -> Result<String, ParseError> {
    let text = parse_info_text(lines, "+CIMI").ok_or(ParseError::Missing { what: "IMSI" })?;
    if (6..=15).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text)
    } else {
        Err(ParseError::malformed(
            "IMSI",
            &text,
            "expected 6 to 15 digits",
        ))
    }
}

const ICCID_PREFIXES: &[&str] = &["+CCID", "+ICCID", "^ICCID", "+QCCID", "!ICCID", "ICCID"];

/// The raw ICCID text of any of the reply forms: `+CCID: 898110…`, `+CCID: "898110…"`,
/// `+ICCID: …` (SIMCom, Fibocom), `+QCCID: …` (Quectel), `^ICCID: …` (Huawei), bare digits.
/// Returns the text as printed (upper-cased, quotes removed), before any vendor fix-up.
pub fn iccid_text(lines: &[String]) -> Result<String, ParseError> {
    let line = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .ok_or(ParseError::Missing { what: "ICCID" })?;
    let body = ICCID_PREFIXES
        .iter()
        .find_map(|p| after_prefix(line, p))
        .unwrap_or(line);
    Ok(body.trim().trim_matches('"').trim().to_ascii_uppercase())
}

/// Checks an ICCID (ITU-T E.118) and returns it as the SIM prints it on its card:
/// - a raw EF_ICCID dump (each digit pair swapped, TS 102 221 §13.2: `98…`, 20 nibbles) is
///   swapped back first — a real ICCID starts with the telecom industry identifier 89, so
///   the prefix alone decides;
/// - the `F` padding some SIMs leave at the end is dropped;
/// - it must start with 89 (E.118 §4: the ISO/IEC 7812 major industry identifier for
///   telecommunications), and be 18–20 characters (E.118 allows at most 20; 18-digit ICCIDs
///   without a check digit are still in circulation, so we accept one more than
///   ModemManager's 19–20);
/// - after the 6-character issuer prefix, hex digits A–F are accepted: China Mobile issues
///   ICCIDs such as `898602F9091830030220` that use the spare BCD nibble values.
pub fn normalise_iccid(text: &str, line: &str) -> Result<String, ParseError> {
    let bad = |reason| ParseError::malformed("ICCID", line, reason);
    let unswapped = unswap_iccid(text);
    let digits = unswapped.trim_end_matches(['F', 'f']).to_ascii_uppercase();
    if !digits.is_ascii() || !(18..=20).contains(&digits.len()) {
        return Err(bad("expected 18 to 20 digits"));
    }
    // ASCII and at least 18 bytes long, so byte 6 is a character boundary.
    let (issuer, account) = digits.split_at(6);
    if !issuer.bytes().all(|b| b.is_ascii_digit())
        || !account.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(bad(
            "expected digits (hex digits only after the issuer prefix)",
        ));
    }
    if !digits.starts_with("89") {
        return Err(bad("an ICCID starts with 89 (ITU-T E.118)"));
    }
    Ok(digits)
}

/// Swaps each digit pair back when the text is a raw EF_ICCID dump: 20 nibbles starting with
/// 98 (see [`normalise_iccid`]). Anything else is returned unchanged.
pub fn unswap_iccid(text: &str) -> String {
    if !text.starts_with("98") || text.len() != 20 || !text.is_ascii() {
        return text.to_string();
    }
    text.as_bytes()
        .chunks(2)
        .flat_map(|p| match p {
            [a, b] => [*b, *a],
            _ => [b'F', b'F'],
        })
        .map(char::from)
        .collect()
}

/// ICCID from a generic or vendor reply (see [`iccid_text`]), validated.
pub fn parse_iccid(lines: &[String]) -> Result<String, ParseError> {
    let text = iccid_text(lines)?;
    normalise_iccid(&text, &text)
}

/// Own number from `+CNUM: [<alpha>],<number>,<type>[,…]` lines (TS 27.007 §7.1). Many SIMs
/// store none: `Ok(None)`. The first non-empty number wins.
pub fn parse_cnum(lines: &[String]) -> Result<Option<String>, ParseError> {
    for line in lines {
        let Some(body) = after_prefix(line, "+CNUM") else {
            continue;
        };
        let f = fields(body);
        let number = f
            .get(1)
            .ok_or_else(|| ParseError::malformed("own number", line, "missing number field"))?;
        if number.is_empty() {
            continue;
        }
        if number.len() > 24 || !number.bytes().all(|b| b.is_ascii_digit() || b == b'+') {
            return Err(ParseError::malformed(
                "own number",
                line,
                "number is not digits",
            ));
        }
        return Ok(Some(number.to_string()));
    }
    Ok(None)
}

// ---------------------------------------------------------------- operator

/// `+COPS?` answer (TS 27.007 §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cops {
    pub mode: u8,
    /// 0 long alphanumeric, 1 short alphanumeric, 2 numeric.
    pub format: Option<u8>,
    pub oper: Option<String>,
    pub act: Option<u8>,
}

impl Cops {
    pub fn tech(&self) -> Option<Tech> {
        self.act.and_then(Tech::from_act)
    }

    /// MCC and MNC when `oper` is in numeric format (`"44010"`, `"310260"`); see
    /// [`parse_operator_id`].
    pub fn numeric(&self) -> Option<(String, String)> {
        if self.format != Some(2) {
            return None;
        }
        parse_operator_id(self.oper.as_deref()?).ok()
    }

    /// The operator name when `oper` is alphanumeric.
    pub fn name(&self) -> Option<&str> {
        match self.format {
            Some(0) | Some(1) => self.oper.as_deref(),
            _ => None,
        }
    }
}

/// A numeric operator id (PLMN, TS 23.003 §2.2 / ITU-T E.212): 3-digit MCC then a 2- or
/// 3-digit MNC, digits only. MCC 000 is refused: E.212 assigns no country to it, and a modem
/// printing it has not read a real network.
pub fn parse_operator_id(id: &str) -> Result<(String, String), ParseError> {
    let bad = |reason| ParseError::malformed("operator id", id, reason);
    if !(5..=6).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected 5 or 6 digits (MCC and MNC)"));
    }
    let (mcc, mnc) = id.split_at(3);
    if mcc == "000" {
        return Err(bad("MCC 000 does not exist"));
    }
    Ok((mcc.to_string(), mnc.to_string()))
}

/// `+COPS: 0,0,"NTT DOCOMO",7`, `+COPS: 0,2,"44010",7`, `+COPS: 0` (not registered),
/// UCS2-hex names (`"0044004F0043004F004D004F"`, modem-quirks.md item 7) decoded.
pub fn parse_cops(line: &str) -> Result<Cops, ParseError> {
    let body = after_prefix(line, "+COPS")
        .ok_or_else(|| ParseError::malformed("operator", line, "expected +COPS:"))?;
    if body.starts_with('(') {
        return Err(ParseError::malformed(
            "operator",
            line,
            "this is an AT+COPS=? list",
        ));
    }
    let f = fields(body);
    let bad = |reason| ParseError::malformed("operator", line, reason);
    let num = |i: usize| -> Result<Option<u8>, ParseError> {
        let v = opt_int(f.get(i)).map_err(|_| bad("field is not a number"))?;
        v.map(|n| u8::try_from(n).map_err(|_| bad("field out of range")))
            .transpose()
    };
    let mode = num(0)?.ok_or_else(|| bad("missing mode"))?;
    let format = num(1)?;
    if format.is_some_and(|x| x > 2) || mode > 4 {
        return Err(bad("mode or format out of range"));
    }
    let oper = f
        .get(2)
        .filter(|s| !s.is_empty())
        .map(|s| decode_oper(s, format));
    let act = num(3)?;
    Ok(Cops {
        mode,
        format,
        oper,
        act,
    })
}

fn decode_oper(text: &str, format: Option<u8>) -> String {
    match decode_ucs2_hex(text) {
        // A numeric operator must decode to digits; a plain "311480" stays as it is.
        Some(d) if format == Some(2) && d.bytes().all(|b| b.is_ascii_digit()) => d,
        Some(d) if format != Some(2) && !text.bytes().all(|b| b.is_ascii_digit()) => d,
        _ => text.to_string(),
    }
}

/// Decodes a UCS2 hex string (`"004D006F"` → `"Mo"`). Only strings of ≥ 2 code units made of
/// hex digits qualify, and the result must be printable (no controls, no lone surrogates,
/// no private use): a plain name rarely looks like that, a real UCS2 name always does.
pub fn decode_ucs2_hex(text: &str) -> Option<String> {
    if text.len() < 8 || text.len() % 4 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let units = (0..text.len() / 4)
        .map(|i| u16::from_str_radix(text.get(i * 4..i * 4 + 4)?, 16).ok())
        .collect::<Option<Vec<u16>>>()?;
    let mut out = String::new();
    for c in char::decode_utf16(units) {
        let c = c.ok()?;
        if c.is_control() || ('\u{E000}'..='\u{F8FF}').contains(&c) {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

// ---------------------------------------------------------------- registration

/// Which registration command a report belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegKind {
    /// `+CREG` circuit switched (TS 27.007 §7.2).
    Creg,
    /// `+CGREG` GPRS (§10.1.19).
    Cgreg,
    /// `+CEREG` EPS (§10.1.22).
    Cereg,
    /// `+C5GREG` 5GS (§10.1.70).
    C5greg,
}

impl RegKind {
    pub const ALL: [RegKind; 4] = [
        RegKind::C5greg,
        RegKind::Cereg,
        RegKind::Cgreg,
        RegKind::Creg,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            RegKind::Creg => "+CREG",
            RegKind::Cgreg => "+CGREG",
            RegKind::Cereg => "+CEREG",
            RegKind::C5greg => "+C5GREG",
        }
    }

    /// The query command whose answer has this prefix.
    pub fn query(self) -> &'static str {
        match self {
            RegKind::Creg => "AT+CREG?",
            RegKind::Cgreg => "AT+CGREG?",
            RegKind::Cereg => "AT+CEREG?",
            RegKind::C5greg => "AT+C5GREG?",
        }
    }

    fn of_line(line: &str) -> Option<(RegKind, &str)> {
        RegKind::ALL
            .iter()
            .find_map(|k| after_prefix(line, k.prefix()).map(|b| (*k, b)))
    }
}

/// One registration report, answer or URC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegReport {
    pub kind: RegKind,
    /// The URC mode `<n>` (answers only).
    pub n: Option<u8>,
    pub state: RegState,
    /// LAC (2G/3G) or TAC (LTE/NR).
    pub area: Option<u32>,
    pub cell_id: Option<u64>,
    pub act: Option<u8>,
}

impl RegReport {
    pub fn tech(&self) -> Option<Tech> {
        self.act.and_then(Tech::from_act)
    }
}

/// Answer to `AT+CxREG?`: `<n>,<stat>[,<lac>,<ci>[,<AcT>…]]`. Handles the 2-, 4- and 5-field
/// forms, leading zeros (`+CREG:002,001,"18d8","ffff"`), stray spaces, two-digit stat, 36-bit
/// NR cell ids and extra vendor fields (ignored; an unreadable AcT becomes `None`). Two vendor
/// shapes are read the way ModemManager reads them:
/// - a routing-area code inserted before the cell id (`+CEREG: 2,1, 1F00, 20 ,79D903 ,7`):
///   the cell is 0x79D903, never the RAC 0x20;
/// - an unreadable area (`+CREG: 2,1,  0 5, 2715`): the state stands, the area is unknown.
pub fn parse_reg_answer(line: &str) -> Result<RegReport, ParseError> {
    let (kind, body) = RegKind::of_line(line).ok_or_else(|| {
        ParseError::malformed("registration", line, "expected +CREG/+CGREG/+CEREG/+C5GREG")
    })?;
    let f = raw_fields(body);
    let bad = |reason| ParseError::malformed("registration", line, reason);
    if f.len() < 2 || f.len() == 3 {
        return Err(bad("an answer has <n>,<stat>[,<area>,<cell>…]"));
    }
    let n = small(f.first()).ok_or_else(|| bad("<n> is not 0-5"))?;
    if n > 5 {
        return Err(bad("<n> is not 0-5"));
    }
    let stat = small(f.get(1)).ok_or_else(|| bad("<stat> is not a number"))?;
    let state = RegState::from_stat(stat).ok_or_else(|| bad("<stat> out of range"))?;
    let tail = read_tail(&f, 2);
    Ok(RegReport {
        kind,
        n: Some(n),
        state,
        area: tail.area,
        cell_id: tail.cell,
        act: tail.act,
    })
}

/// URC form: `+CREG: <stat>[,<lac>,<ci>[,<AcT>…]]` (`+CREG: 1`, `+CREG: 1,8BE3,2BAF`,
/// `+CREG: 5,"17E0","00359D48",6`). Two fields cannot be a URC (that is an answer).
///
/// Some modems send the answer form `<n>,<stat>,…` unsolicited (`+CREG: 2,5,"0502","0404736D"`,
/// `+CGREG: 2,1, 81ED, 1A9CEB`). Read stat-first, such a line puts the cell id where the AcT
/// belongs; an AcT that is not a TS 27.007 §7.3 value (a small unquoted decimal) therefore
/// fails this reading, so callers fall back to [`parse_reg_answer`] instead of reporting
/// "searching, LAC 0x5, cell 0x502".
pub fn parse_reg_urc(line: &str) -> Result<RegReport, ParseError> {
    let (kind, body) = RegKind::of_line(line).ok_or_else(|| {
        ParseError::malformed(
            "registration URC",
            line,
            "expected +CREG/+CGREG/+CEREG/+C5GREG",
        )
    })?;
    let f = raw_fields(body);
    let bad = |reason| ParseError::malformed("registration URC", line, reason);
    if f.len() == 2 {
        return Err(bad("two fields is the answer form <n>,<stat>"));
    }
    let stat = small(f.first()).ok_or_else(|| bad("<stat> is not a number"))?;
    let state = RegState::from_stat(stat).ok_or_else(|| bad("<stat> out of range"))?;
    let tail = read_tail(&f, 1);
    if tail.act_unreadable {
        return Err(bad(
            "<AcT> is not an access technology (an answer-form line?)",
        ));
    }
    Ok(RegReport {
        kind,
        n: None,
        state,
        area: tail.area,
        cell_id: tail.cell,
        act: tail.act,
    })
}

/// Reads a registration line into stripped fields, remembering which were quoted: an AcT is
/// never quoted, an area or cell id often is.
fn raw_fields(body: &str) -> Vec<RawField<'_>> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(RawField::new(body.get(start..i).unwrap_or("")));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(RawField::new(body.get(start..).unwrap_or("")));
    out
}

/// One comma-separated field: its text without quotes and spaces, and whether it was quoted.
#[derive(Debug, Clone, Copy)]
struct RawField<'a> {
    text: &'a str,
    quoted: bool,
}

impl<'a> RawField<'a> {
    fn new(raw: &'a str) -> Self {
        let t = raw.trim();
        let quoted = t.starts_with('"');
        RawField {
            text: t.trim_matches('"').trim(),
            quoted,
        }
    }
}

/// What follows `<stat>`: area, cell and AcT.
struct Tail {
    area: Option<u32>,
    cell: Option<u64>,
    act: Option<u8>,
    /// An AcT field is present, not an unknown marker, and not an access technology.
    act_unreadable: bool,
}

/// `<area>,<cell>[,<AcT>]` from index `at`. A routing-area code (one byte, 1–2 hex digits)
/// inserted between area and cell is skipped when the field after it is the cell and the one
/// after that a valid AcT (ModemManager `test_cereg2_novatel_lte_*`,
/// `test_cereg2_multidigit_stat_with_rac_*`).
/// An area or cell that is not hex is unknown (`None`), never a guess.
fn read_tail(f: &[RawField<'_>], at: usize) -> Tail {
    let act_ok = |i: usize| f.get(i).and_then(|x| act_value(*x));
    let act_slot_bad = f
        .get(at + 2)
        .is_some_and(|x| !is_unknown_marker(x.text) && act_value(*x).is_none());
    let rac_form = act_slot_bad
        && f.get(at + 1).is_some_and(|r| {
            (1..=2).contains(&r.text.len()) && r.text.bytes().all(|b| b.is_ascii_hexdigit())
        })
        && act_ok(at + 3).is_some();
    let (cell_i, act_i) = if rac_form {
        (at + 2, at + 3)
    } else {
        (at + 1, at + 2)
    };
    let hex = |i: usize| opt_hex(f.get(i).map(|x| &x.text)).ok().flatten();
    Tail {
        area: hex(at).and_then(|a| u32::try_from(a).ok()),
        // 36 bits is the widest cell identity (NR NCI, TS 38.413 §9.3.1.7).
        cell: hex(cell_i).filter(|c| *c < 1 << 36),
        act: act_ok(act_i),
        act_unreadable: !rac_form && act_slot_bad,
    }
}

/// `<AcT>` (TS 27.007 §7.3): an unquoted decimal 0…16 (16 = satellite NG-RAN, Rel-17).
fn act_value(f: RawField<'_>) -> Option<u8> {
    if f.quoted || f.text.is_empty() || f.text.len() > 3 {
        return None;
    }
    if !f.text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    f.text.parse::<u8>().ok().filter(|v| *v <= 16)
}

fn small(field: Option<&RawField<'_>>) -> Option<u8> {
    opt_int(field.map(|x| &x.text))
        .ok()?
        .and_then(|v| u8::try_from(v).ok())
}

// ---------------------------------------------------------------- signal

/// `+CSQ: <rssi>,<ber>` → RSSI in dBm (TS 27.007 §8.5): 0 ≤ −113, 1 = −111, 2…30 = −109…−53,
/// 31 ≥ −51, 99 unknown; 100…191 is the TD-SCDMA range (−116…−25). `Ok(None)` when unknown.
pub fn parse_csq(line: &str) -> Result<Option<f64>, ParseError> {
    let body = after_prefix(line, "+CSQ")
        .ok_or_else(|| ParseError::malformed("signal quality", line, "expected +CSQ:"))?;
    let f = fields(body);
    let bad = |reason| ParseError::malformed("signal quality", line, reason);
    if f.len() != 2 {
        return Err(bad("expected <rssi>,<ber>"));
    }
    let v = opt_int(f.first())
        .map_err(|_| bad("<rssi> is not a number"))?
        .ok_or_else(|| bad("missing <rssi>"))?;
    Ok(Some(match v {
        0..=31 => (v * 2 - 113) as f64,
        99 => return Ok(None),
        100..=191 => (v - 216) as f64,
        _ => return Err(bad("<rssi> out of range")),
    }))
}

/// `+CESQ` values in dBm/dB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cesq {
    pub rssi_dbm: Option<f64>,
    pub rsrp_dbm: Option<f64>,
    pub rsrq_db: Option<f64>,
    pub nr_rsrp_dbm: Option<f64>,
    pub nr_rsrq_db: Option<f64>,
    pub nr_sinr_db: Option<f64>,
}

/// `+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>[,<ss_rsrq>,<ss_rsrp>,<ss_sinr>]`
/// (TS 27.007 §8.69). Each index maps to the lower edge of its 3GPP reporting range:
/// rxlev n → −111+n dBm (TS 45.008 §8.1.4), rsrq n → −20+n/2 dB and rsrp n → −141+n dBm
/// (TS 36.133 §9.1.4/§9.1.7), ss_rsrq n → −43.5+n/2, ss_rsrp n → −157+n, ss_sinr n → −23.5+n/2
/// (TS 38.133 §10.1.6/§10.1.11/§10.1.16). 99/255 = unknown.
pub fn parse_cesq(line: &str) -> Result<Cesq, ParseError> {
    let body = after_prefix(line, "+CESQ")
        .ok_or_else(|| ParseError::malformed("extended signal quality", line, "expected +CESQ:"))?;
    let f = fields(body);
    let bad = |reason| ParseError::malformed("extended signal quality", line, reason);
    if f.len() != 6 && f.len() != 9 {
        return Err(bad("expected 6 or 9 fields"));
    }
    let idx = |i: usize, max: i64, unknown: i64| -> Result<Option<f64>, ParseError> {
        match opt_int(f.get(i)).map_err(|_| bad("field is not a number"))? {
            None => Ok(None),
            Some(v) if v == unknown => Ok(None),
            Some(v) if (0..=max).contains(&v) => Ok(Some(v as f64)),
            Some(_) => Err(bad("index out of range")),
        }
    };
    Ok(Cesq {
        rssi_dbm: idx(0, 63, 99)?.map(|n| n - 111.0),
        rsrq_db: idx(4, 34, 255)?.map(|n| round1(n / 2.0 - 20.0)),
        rsrp_dbm: idx(5, 97, 255)?.map(|n| n - 141.0),
        nr_rsrq_db: idx(6, 127, 255)?.map(|n| round1(n / 2.0 - 43.5)),
        nr_rsrp_dbm: idx(7, 126, 255)?.map(|n| n - 157.0),
        nr_sinr_db: idx(8, 127, 255)?.map(|n| round1(n / 2.0 - 23.5)),
    })
}

/// First `+CSQ`/`+CESQ`/… line in a reply, for callers holding the whole reply.
pub fn first_line<'a>(
    lines: &'a [String],
    prefix: &str,
    what: &'static str,
) -> Result<&'a str, ParseError> {
    find_body(lines, prefix)
        .map(|(l, _)| l)
        .ok_or(ParseError::Missing { what })
}

#[cfg(test)]
#[path = "generic_tests.rs"]
mod tests;
