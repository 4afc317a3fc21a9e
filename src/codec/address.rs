//! The small fixed-format fields of an SMS PDU: a bounds-checked reader, addresses in
//! semi-octets or packed GSM-7 (TS 23.040 §9.1.2.3, §9.1.2.5; the SMSC part per TS 24.011
//! §8.2.5.1), and service-centre time stamps (TS 23.040 §9.2.3.11).
//!
//! Pure; every read is checked, so a short or lying PDU gives a typed error, never a panic.

use super::gsm7;
use super::pdu::PduError;

/// Reads octets from a PDU and names the field that ran out.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, PduError> {
        Ok(self.take(1, field)?.first().copied().unwrap_or(0))
    }

    pub(super) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], PduError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.bytes.get(self.pos..e)) {
            Some(s) => {
                self.pos = end.unwrap_or(self.pos);
                Ok(s)
            }
            None => Err(PduError::Truncated {
                field,
                offset: self.pos,
                needed: n,
                len: self.bytes.len(),
            }),
        }
    }

    pub(super) fn array7(&mut self, field: &'static str) -> Result<[u8; 7], PduError> {
        let s = self.take(7, field)?;
        let mut out = [0u8; 7];
        out.iter_mut().zip(s).for_each(|(o, b)| *o = *b);
        Ok(out)
    }

    pub(super) fn rest(&mut self) -> &'a [u8] {
        let s = self.bytes.get(self.pos..).unwrap_or(&[]);
        self.pos = self.bytes.len();
        s
    }
}

/// Type-of-address octet for international numbers (TON 001, NPI 0001 ISDN/E.164).
pub const TOA_INTERNATIONAL: u8 = 0x91;
/// Type-of-address octet for numbers of unknown type (TON 000, NPI 0001), the default for
/// numbers without '+'.
pub const TOA_UNKNOWN: u8 = 0x81;
/// Type-of-address octet for alphanumeric senders (TON 101, NPI 0000).
pub const TOA_ALPHANUMERIC: u8 = 0xD0;

/// Most digits a TP address holds: 10 octets of semi-octets (TS 23.040 §9.1.2.5).
const MAX_TP_DIGITS: u8 = 20;
/// Most octets of an RP (SMSC) address including its type octet (TS 24.011 §8.2.5.1).
const MAX_SMSC_OCTETS: u8 = 11;

/// A decoded address and the raw type-of-address octet it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Digits with a leading '+' when international; the text for alphanumeric senders.
    pub number: String,
    /// The type-of-address octet: TON in bits 6-4, numbering plan in bits 3-0.
    pub toa: u8,
}

fn is_alphanumeric_toa(toa: u8) -> bool {
    (toa >> 4) & 0x07 == 0b101
}

fn is_international_toa(toa: u8) -> bool {
    (toa >> 4) & 0x07 == 0b001
}

/// Decodes a TP address (TP-OA, TP-DA, TP-RA): length in useful semi-octets, type, value.
pub(super) fn read_tp_address(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<Address, PduError> {
    let len = r.u8(field)?;
    if len > MAX_TP_DIGITS {
        return Err(PduError::BadAddressLength {
            field,
            len,
            max: MAX_TP_DIGITS,
        });
    }
    let toa = r.u8(field)?;
    let value = r.take(usize::from(len).div_ceil(2), field)?;
    Ok(Address {
        number: address_text(toa, value, usize::from(len)),
        toa,
    })
}

/// Decodes the SMSC prefix that +CMGR/+CMGL/+CMT print before the TPDU. `None` when its length
/// is 0 (the modem's default SMSC).
pub(super) fn read_smsc(r: &mut Reader<'_>) -> Result<Option<Address>, PduError> {
    let field = "SMSC address";
    let len = r.u8(field)?;
    if len == 0 {
        return Ok(None);
    }
    if len > MAX_SMSC_OCTETS {
        return Err(PduError::BadAddressLength {
            field,
            len,
            max: MAX_SMSC_OCTETS,
        });
    }
    let toa = r.u8(field)?;
    let value = r.take(usize::from(len - 1), field)?;
    let digits = value.len().saturating_mul(2);
    Ok(Some(Address {
        number: address_text(toa, value, digits),
        toa,
    }))
}

fn address_text(toa: u8, value: &[u8], semi_octets: usize) -> String {
    if is_alphanumeric_toa(toa) {
        // TS 23.040 §9.1.2.5: alphanumeric addresses are GSM-7 packed; the length counts the
        // semi-octets in use, so the septet count is len*4/7 ("InternetSMS": 20 → 11).
        let count = semi_octets.saturating_mul(4) / 7;
        return gsm7::decode(&gsm7::unpack(value, 0, count));
    }
    let mut out = String::with_capacity(semi_octets.saturating_add(1));
    if is_international_toa(toa) {
        out.push('+');
    }
    out.push_str(&semi_octets_to_digits(value, semi_octets));
    out
}

/// Digits from swapped semi-octets (low nibble first); stops at the F filler or `max` digits.
/// TS 23.040 §9.1.2.3: A-E are '*', '#', 'a', 'b', 'c'.
pub(super) fn semi_octets_to_digits(value: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(max);
    for nib in value.iter().flat_map(|b| [b & 0x0F, b >> 4]).take(max) {
        let c = match nib {
            0..=9 => char::from(b'0' + nib),
            0x0A => '*',
            0x0B => '#',
            0x0C => 'a',
            0x0D => 'b',
            0x0E => 'c',
            _ => break,
        };
        out.push(c);
    }
    out
}

/// Swapped semi-octets for a digit string, padded with F; `None` on a character that has no
/// semi-octet code.
fn digits_to_semi_octets(digits: &str) -> Option<Vec<u8>> {
    let nibbles: Option<Vec<u8>> = digits
        .chars()
        .map(|c| match c {
            '0'..='9' => u8::try_from(u32::from(c) - u32::from('0')).ok(),
            '*' => Some(0x0A),
            '#' => Some(0x0B),
            _ => None,
        })
        .collect();
    Some(
        nibbles?
            .chunks(2)
            .map(|p| {
                let lo = p.first().copied().unwrap_or(0x0F);
                let hi = p.get(1).copied().unwrap_or(0x0F);
                (hi << 4) | lo
            })
            .collect(),
    )
}

/// Encodes a destination as a TP address: '+' means international (0x91), otherwise unknown
/// type (0x81). Length octet counts digits (TS 23.040 §9.1.2.5).
pub(super) fn encode_tp_address(number: &str) -> Result<Vec<u8>, PduError> {
    let (toa, digits) = split_plus(number);
    let bad = || PduError::BadAddress {
        value: number.to_string(),
    };
    let len = u8::try_from(digits.chars().count()).map_err(|_| bad())?;
    if len == 0 || len > MAX_TP_DIGITS {
        return Err(bad());
    }
    let mut out = vec![len, toa];
    out.extend(digits_to_semi_octets(digits).ok_or_else(bad)?);
    Ok(out)
}

/// Encodes an SMSC prefix; `None` gives "00", which tells the modem to use its stored SMSC.
pub(super) fn encode_smsc(smsc: Option<&str>) -> Result<Vec<u8>, PduError> {
    let Some(number) = smsc else {
        return Ok(vec![0]);
    };
    let (toa, digits) = split_plus(number);
    let bad = || PduError::BadAddress {
        value: number.to_string(),
    };
    let value = digits_to_semi_octets(digits).ok_or_else(bad)?;
    let len = u8::try_from(value.len().saturating_add(1)).map_err(|_| bad())?;
    if digits.is_empty() || len > MAX_SMSC_OCTETS {
        return Err(bad());
    }
    let mut out = vec![len, toa];
    out.extend(value);
    Ok(out)
}

fn split_plus(number: &str) -> (u8, &str) {
    match number.strip_prefix('+') {
        Some(d) => (TOA_INTERNATIONAL, d),
        None => (TOA_UNKNOWN, number),
    }
}

/// Decodes a 7-octet TP-SCTS into (unix seconds UTC, offset from UTC in minutes).
/// Octets are swapped BCD YY MM DD hh mm ss TZ; the time zone is in quarter hours with the sign
/// in bit 3 of its first (low) nibble (TS 23.040 §9.2.3.11). Two-digit years ≥ 90 are 19xx:
/// GSM SMS did not exist before 1990.
pub(super) fn decode_scts(raw: [u8; 7], field: &'static str) -> Result<(i64, i16), PduError> {
    let bad = || PduError::BadTimestamp { field, octets: raw };
    let mut v = [0i64; 6];
    for (slot, b) in v.iter_mut().zip(raw) {
        let (tens, units) = (b & 0x0F, b >> 4);
        if tens > 9 || units > 9 {
            return Err(bad());
        }
        *slot = i64::from(tens * 10 + units);
    }
    let [yy, month, day, hour, minute, second] = v;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let [.., tz_byte] = raw;
    let (tens, units) = (tz_byte & 0x07, tz_byte >> 4);
    if units > 9 {
        return Err(bad());
    }
    let quarters = i16::from(tens * 10 + units);
    let tz_minutes = if tz_byte & 0x08 != 0 {
        -quarters * 15
    } else {
        quarters * 15
    };
    let year = if yy >= 90 { 1900 + yy } else { 2000 + yy };
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Ok((local - i64::from(tz_minutes) * 60, tz_minutes))
}

/// Encodes unix seconds and a zone offset as a TP-SCTS-format absolute validity period.
/// Years outside 1990..=2089 cannot be represented and are clamped by taking the year mod 100.
pub(super) fn encode_scts(unix: i64, tz_minutes: i16) -> [u8; 7] {
    let local = unix.saturating_add(i64::from(tz_minutes).saturating_mul(60));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let quarters = (tz_minutes.unsigned_abs() / 15).min(79);
    let fields = [
        year.rem_euclid(100),
        month,
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
    ];
    let bcd = |n: i64| -> u8 {
        let n = u8::try_from(n.rem_euclid(100)).unwrap_or(0);
        ((n % 10) << 4) | (n / 10)
    };
    let mut out = [0u8; 7];
    out.iter_mut().zip(fields).for_each(|(o, f)| *o = bcd(f));
    let q = u8::try_from(quarters).unwrap_or(0);
    if let Some(tz) = out.last_mut() {
        *tz = ((q % 10) << 4) | (q / 10) | if tz_minutes < 0 { 0x08 } else { 0 };
    }
    out
}

/// Days since 1970-01-01 (the one civil-date implementation is `usage::civil`). Month and day
/// were checked as BCD fields above, so the conversions only guard against the impossible.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    crate::usage::civil::days_from_civil(
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let (y, m, d) = crate::usage::civil::civil_from_days(z);
    (y, i64::from(m), i64::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_with_negative_zone_converts_to_utc() {
        // ModemManager test_pdu1: 11 20 82 11 05 05 0A is 2011-02-28T11:50:50-05:00.
        let (unix, tz) = decode_scts([0x11, 0x20, 0x82, 0x11, 0x05, 0x05, 0x0A], "t").unwrap();
        assert_eq!(tz, -300);
        assert_eq!(unix, 1_298_911_850); // 2011-02-28T16:50:50Z
    }

    #[test]
    fn timestamp_with_positive_zone_converts_to_utc() {
        // ModemManager test_pdu2: 2011-03-29T19:20:04+04:00.
        let (unix, tz) = decode_scts([0x11, 0x30, 0x92, 0x91, 0x02, 0x40, 0x61], "t").unwrap();
        assert_eq!(tz, 240);
        assert_eq!(unix, 1_301_412_004); // 2011-03-29T15:20:04Z
    }

    #[test]
    fn timestamps_round_trip_through_encoding() {
        for (unix, tz) in [
            (1_298_911_850, -300),
            (946_684_800, 0),
            (631_238_400, -720),
            (1_301_412_004, 240),
            (2_000_000_000, 45),
        ] {
            assert_eq!(decode_scts(encode_scts(unix, tz), "t").unwrap(), (unix, tz));
        }
    }

    #[test]
    fn impossible_timestamp_digits_are_rejected() {
        let err = decode_scts([0x11, 0x30, 0x92, 0x91, 0x02, 0x4A, 0x61], "TP-SCTS").unwrap_err();
        assert!(err.to_string().contains("TP-SCTS"), "{err}");
        assert!(decode_scts([0x11, 0x00, 0x92, 0x91, 0x02, 0x40, 0x61], "t").is_err());
    }

    #[test]
    fn addresses_encode_like_modemmanager() {
        // ModemManager test_address_encode_intl / _unknown / _smsc_intl.
        assert_eq!(
            encode_tp_address("+19037029920").unwrap(),
            [0x0B, 0x91, 0x91, 0x30, 0x07, 0x92, 0x29, 0xF0]
        );
        assert_eq!(
            encode_tp_address("9037029920").unwrap(),
            [0x0A, 0x81, 0x09, 0x73, 0x20, 0x99, 0x02]
        );
        assert_eq!(
            encode_smsc(Some("+19037029920")).unwrap(),
            [0x07, 0x91, 0x91, 0x30, 0x07, 0x92, 0x29, 0xF0]
        );
        assert_eq!(encode_smsc(None).unwrap(), [0x00]);
        assert!(encode_tp_address("+49 170").is_err());
        assert!(encode_tp_address("").is_err());
        assert!(encode_tp_address("123456789012345678901").is_err());
    }

    #[test]
    fn semi_octets_stop_at_the_filler_and_map_star_and_hash() {
        assert_eq!(semi_octets_to_digits(&[0x21, 0xF3], 4), "123");
        assert_eq!(semi_octets_to_digits(&[0xBA, 0xDC], 4), "*#ab");
    }

    #[test]
    fn address_longer_than_twenty_digits_is_a_typed_error() {
        let mut r = Reader::new(&[0x30, 0x91, 0x00]);
        let err = read_tp_address(&mut r, "TP-OA").unwrap_err();
        assert_eq!(
            err,
            PduError::BadAddressLength {
                field: "TP-OA",
                len: 0x30,
                max: 20
            }
        );
    }
}
