//! SMS PDUs (3GPP TS 23.040 §9.2.2): decoding SMS-DELIVER, SMS-SUBMIT and SMS-STATUS-REPORT as
//! the modem prints them in PDU mode (+CMGR, +CMGL, +CMT, +CDS: SMSC address first, TS 27.005
//! §3.1 `<pdu>`), and the error type shared by the PDU code.
//!
//! Pure: no I/O; every length is checked, so any input gives a value or a `PduError`.
//! Encoding SMS-SUBMIT lives in `submit`.

use thiserror::Error;

use super::address::{decode_scts, read_smsc, read_tp_address, Reader};
use super::dcs::Dcs;
use super::gsm7::Gsm7Error;
use super::ucs2::{self, HexError};
use super::userdata::{read_user_data, ConcatInfo, UserData};

/// Why a PDU could not be decoded or encoded. Variants carry the offending values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PduError {
    #[error("pdu is not valid hex: {0}")]
    Hex(#[from] HexError),
    #[error("pdu is truncated: {field} needs {needed} octet(s) at offset {offset} but the pdu has only {len} octets — was the modem line cut?")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        len: usize,
    },
    #[error("user data length byte {udl} needs {needed} octets but only {available} follow — the pdu is cut or its TP-UDL is wrong")]
    UserDataLength {
        udl: u8,
        needed: usize,
        available: usize,
    },
    #[error("user data header length {udhl} does not fit in the {available} octets/septets of user data")]
    BadUdhLength { udhl: u8, available: usize },
    #[error("user data header element {iei:#04x} declares {declared} octets but only {available} remain in the header")]
    BadUdhElement {
        iei: u8,
        declared: u8,
        available: usize,
    },
    #[error("{field} length {len} is larger than the maximum {max}")]
    BadAddressLength {
        field: &'static str,
        len: u8,
        max: u8,
    },
    #[error(
        "address {value:?} cannot be encoded: use '+' and up to 20 digits (or digits, '*', '#')"
    )]
    BadAddress { value: String },
    #[error("{field} {octets:02X?} is not a valid semi-octet time stamp")]
    BadTimestamp {
        field: &'static str,
        octets: [u8; 7],
    },
    #[error("first octet {first_octet:#04x} has reserved message type 3; only DELIVER, SUBMIT and STATUS-REPORT are decoded")]
    UnsupportedType { first_octet: u8 },
    #[error("user data of {len} is longer than the {max} one part can carry")]
    UserDataTooLong { len: usize, max: usize },
    #[error("text needs {parts} parts; at most 255 can be concatenated — shorten it")]
    TooManyParts { parts: usize },
    #[error(transparent)]
    Gsm7(#[from] Gsm7Error),
}

/// TP-VP, the validity period of a SUBMIT (TS 23.040 §9.2.3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityPeriod {
    /// TP-VPF 00: no validity period (the SMSC default applies).
    None,
    /// TP-VPF 10: one octet, see [`ValidityPeriod::relative_secs`].
    Relative(u8),
    /// TP-VPF 11: an absolute time in TP-SCTS format.
    Absolute { timestamp: i64, tz_minutes: i16 },
    /// TP-VPF 01: the seven enhanced-format octets (TS 23.040 §9.2.3.12.3), kept raw.
    Enhanced([u8; 7]),
}

impl ValidityPeriod {
    /// Seconds a relative TP-VP octet stands for (TS 23.040 §9.2.3.12.1).
    pub fn relative_secs(vp: u8) -> u32 {
        let v = u32::from(vp);
        match vp {
            0..=143 => (v + 1) * 5 * 60,
            144..=167 => 12 * 3600 + (v - 143) * 30 * 60,
            168..=196 => (v - 166) * 86_400,
            _ => (v - 192) * 7 * 86_400,
        }
    }

    /// The duration for relative and enhanced-relative forms; `None` for none, absolute, and
    /// enhanced forms without a duration.
    pub fn duration_secs(&self) -> Option<u32> {
        match self {
            ValidityPeriod::None | ValidityPeriod::Absolute { .. } => None,
            ValidityPeriod::Relative(vp) => Some(Self::relative_secs(*vp)),
            ValidityPeriod::Enhanced(raw) => enhanced_secs(raw),
        }
    }
}

/// Enhanced format: functionality octet (bit 7 extension, bit 6 single shot, bits 2-0 format),
/// then the period: 001 relative octet, 010 integer seconds, 011 semi-octet hh mm ss.
fn enhanced_secs(raw: &[u8; 7]) -> Option<u32> {
    let [fi, a, b, c, ..] = *raw;
    if fi & 0x80 != 0 {
        return None; // extension octets present: format not understood
    }
    let bcd = |x: u8| u32::from(x & 0x0F) * 10 + u32::from(x >> 4);
    match fi & 0x07 {
        0b001 => Some(ValidityPeriod::relative_secs(a)),
        0b010 => Some(u32::from(a)),
        0b011 => Some(bcd(a) * 3600 + bcd(b) * 60 + bcd(c)),
        _ => None,
    }
}

/// A received message (SMS-DELIVER, TS 23.040 §9.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// SMSC that relayed it, as printed by the modem before the TPDU.
    pub smsc: Option<String>,
    /// '+' and digits for international senders, digits otherwise, text for alphanumeric ones.
    pub sender: String,
    /// Sender's type-of-address octet (0x91 international, 0xD0 alphanumeric, …).
    pub sender_toa: u8,
    pub pid: u8,
    pub dcs: Dcs,
    /// Service-centre time stamp as unix seconds (UTC).
    pub timestamp: i64,
    /// The SMSC's offset from UTC in minutes.
    pub tz_minutes: i16,
    /// TP-MMS clear: the SMSC has more messages for us.
    pub more_messages: bool,
    /// TP-SRI: the sender asked for a status report.
    pub status_report_indication: bool,
    pub reply_path: bool,
    pub user_data: UserData,
}

/// A message we (or the phone) sent, as stored in the modem (SMS-SUBMIT, TS 23.040 §9.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    pub smsc: Option<String>,
    pub message_reference: u8,
    pub destination: String,
    pub destination_toa: u8,
    pub pid: u8,
    pub dcs: Dcs,
    pub validity: ValidityPeriod,
    /// TP-SRR: a status report was requested.
    pub status_report_request: bool,
    pub reject_duplicates: bool,
    pub reply_path: bool,
    pub user_data: UserData,
}

/// What happened to a sent message (SMS-STATUS-REPORT, TS 23.040 §9.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub smsc: Option<String>,
    /// TP-MR of the SUBMIT this reports on (as returned by `+CMGS: <mr>`).
    pub message_reference: u8,
    pub recipient: String,
    pub recipient_toa: u8,
    /// When the SMSC received the SUBMIT (unix seconds UTC) and its zone.
    pub timestamp: i64,
    pub tz_minutes: i16,
    /// TP-DT: when the status was reached (unix seconds UTC) and its zone.
    pub discharge_time: i64,
    pub discharge_tz_minutes: i16,
    /// TP-ST raw value (TS 23.040 §9.2.3.15).
    pub status: u8,
}

/// TP-ST grouped as TS 23.040 §9.2.3.15 groups it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// 0x00-0x1F: transaction completed (0x00 = received by the recipient).
    Completed,
    /// 0x20-0x3F: temporary error, the SMSC is still trying.
    Pending,
    /// 0x40-0x7F and reserved values: permanent error, or the SMSC stopped trying.
    Failed,
}

impl StatusReport {
    pub fn outcome(&self) -> DeliveryOutcome {
        match self.status {
            0x00..=0x1F => DeliveryOutcome::Completed,
            0x20..=0x3F => DeliveryOutcome::Pending,
            _ => DeliveryOutcome::Failed,
        }
    }
}

/// Any decoded PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsPdu {
    Deliver(Deliver),
    Submit(Submit),
    StatusReport(StatusReport),
}

impl SmsPdu {
    /// The text, for DELIVER and SUBMIT; empty for status reports and 8-bit data.
    pub fn text(&self) -> &str {
        match self {
            SmsPdu::Deliver(d) => &d.user_data.text,
            SmsPdu::Submit(s) => &s.user_data.text,
            SmsPdu::StatusReport(_) => "",
        }
    }

    /// Concatenation info, when this is one part of a longer message.
    pub fn concat(&self) -> Option<ConcatInfo> {
        match self {
            SmsPdu::Deliver(d) => d.user_data.concat,
            SmsPdu::Submit(s) => s.user_data.concat,
            SmsPdu::StatusReport(_) => None,
        }
    }
}

/// Decodes a PDU line as +CMGR/+CMGL/+CMT print it: hex, starting with the SMSC address.
/// Surrounding whitespace (a trailing CR) is ignored.
pub fn decode_pdu_hex(hex: &str) -> Result<SmsPdu, PduError> {
    decode_pdu(&ucs2::from_hex(
        hex.trim_matches(|c: char| c.is_ascii_whitespace()),
    )?)
}

/// Decodes PDU octets that start with the SMSC address (length 0 = none).
pub fn decode_pdu(bytes: &[u8]) -> Result<SmsPdu, PduError> {
    let mut r = Reader::new(bytes);
    let smsc = read_smsc(&mut r)?.map(|a| a.number);
    decode_tpdu_from(&mut r, smsc)
}

/// Decodes a bare TPDU (no SMSC prefix), e.g. from modems that omit it.
pub fn decode_tpdu(bytes: &[u8]) -> Result<SmsPdu, PduError> {
    decode_tpdu_from(&mut Reader::new(bytes), None)
}

fn decode_tpdu_from(r: &mut Reader<'_>, smsc: Option<String>) -> Result<SmsPdu, PduError> {
    let first = r.u8("first octet")?;
    // TP-MTI in bits 1-0 (TS 23.040 §9.2.3.1). 01 from the SMSC would be SUBMIT-REPORT, but
    // modems only hand us those inside +CMGS answers, never as stored messages, so 01 is SUBMIT.
    match first & 0x03 {
        0b00 => decode_deliver(r, first, smsc).map(SmsPdu::Deliver),
        0b01 => decode_submit(r, first, smsc).map(SmsPdu::Submit),
        0b10 => decode_status_report(r, first, smsc).map(SmsPdu::StatusReport),
        _ => Err(PduError::UnsupportedType { first_octet: first }),
    }
}

fn decode_deliver(
    r: &mut Reader<'_>,
    first: u8,
    smsc: Option<String>,
) -> Result<Deliver, PduError> {
    let sender = read_tp_address(r, "TP-OA")?;
    let pid = r.u8("TP-PID")?;
    let dcs = Dcs::decode(r.u8("TP-DCS")?);
    let (timestamp, tz_minutes) = decode_scts(r.array7("TP-SCTS")?, "TP-SCTS")?;
    let user_data = read_user_data(r, first & 0x40 != 0, &dcs)?;
    Ok(Deliver {
        smsc,
        sender: sender.number,
        sender_toa: sender.toa,
        pid,
        dcs,
        timestamp,
        tz_minutes,
        more_messages: first & 0x04 == 0,
        status_report_indication: first & 0x20 != 0,
        reply_path: first & 0x80 != 0,
        user_data,
    })
}

fn decode_submit(r: &mut Reader<'_>, first: u8, smsc: Option<String>) -> Result<Submit, PduError> {
    let message_reference = r.u8("TP-MR")?;
    let dest = read_tp_address(r, "TP-DA")?;
    let pid = r.u8("TP-PID")?;
    let dcs = Dcs::decode(r.u8("TP-DCS")?);
    // TP-VPF, bits 4-3 (TS 23.040 §9.2.3.3).
    let validity = match (first >> 3) & 0x03 {
        0b00 => ValidityPeriod::None,
        0b10 => ValidityPeriod::Relative(r.u8("TP-VP")?),
        0b01 => ValidityPeriod::Enhanced(r.array7("TP-VP")?),
        _ => {
            let (timestamp, tz_minutes) = decode_scts(r.array7("TP-VP")?, "TP-VP")?;
            ValidityPeriod::Absolute {
                timestamp,
                tz_minutes,
            }
        }
    };
    let user_data = read_user_data(r, first & 0x40 != 0, &dcs)?;
    Ok(Submit {
        smsc,
        message_reference,
        destination: dest.number,
        destination_toa: dest.toa,
        pid,
        dcs,
        validity,
        status_report_request: first & 0x20 != 0,
        reject_duplicates: first & 0x04 != 0,
        reply_path: first & 0x80 != 0,
        user_data,
    })
}

fn decode_status_report(
    r: &mut Reader<'_>,
    _first: u8,
    smsc: Option<String>,
) -> Result<StatusReport, PduError> {
    let message_reference = r.u8("TP-MR")?;
    let recipient = read_tp_address(r, "TP-RA")?;
    let (timestamp, tz_minutes) = decode_scts(r.array7("TP-SCTS")?, "TP-SCTS")?;
    let (discharge_time, discharge_tz_minutes) = decode_scts(r.array7("TP-DT")?, "TP-DT")?;
    let status = r.u8("TP-ST")?;
    // Optional TP-PI and the fields it announces follow; nothing we act on, so they are skipped.
    Ok(StatusReport {
        smsc,
        message_reference,
        recipient: recipient.number,
        recipient_toa: recipient.toa,
        timestamp,
        tz_minutes,
        discharge_time,
        discharge_tz_minutes,
        status,
    })
}

#[cfg(test)]
#[path = "pdu_tests.rs"]
mod tests;
