//! TP-UDL/TP-UD: the user data header (TS 23.040 §9.2.3.24) and the text after it, in GSM-7
//! with fill bits, UCS2, or 8-bit data.
//!
//! Pure. The length octet and the header length are checked against the octets that are really
//! there; a lie gives a typed error, never a panic or a read past the end.

use super::address::Reader;
use super::dcs::{Alphabet, Dcs};
use super::pdu::PduError;
use super::{gsm7, ucs2};

/// IEI of the concatenation element with an 8-bit reference (TS 23.040 §9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of the concatenation element with a 16-bit reference (TS 23.040 §9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;

/// Where a part sits in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConcatInfo {
    /// Reference shared by all parts (8- or 16-bit on the wire).
    pub reference: u16,
    /// Number of parts, 1..=255.
    pub total: u8,
    /// This part's number, 1..=total.
    pub seq: u8,
}

/// A user-data-header element other than concatenation, kept raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationElement {
    pub iei: u8,
    pub data: Vec<u8>,
}

/// Decoded user data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserData {
    /// The text for GSM-7 and UCS2; empty for 8-bit data.
    pub text: String,
    /// The octets after the header for 8-bit (and compressed) data; empty otherwise.
    pub data: Vec<u8>,
    /// Concatenation info when the header carries a valid element.
    pub concat: Option<ConcatInfo>,
    /// Every other header element, in order.
    pub other_ies: Vec<InformationElement>,
}

/// Reads TP-UDL and TP-UD. For GSM-7 the length counts septets (header and fill included), for
/// the other alphabets octets (TS 23.040 §9.2.3.16). Octets beyond what the length needs are
/// ignored, as modems sometimes pad.
pub(super) fn read_user_data(
    r: &mut Reader<'_>,
    udhi: bool,
    dcs: &Dcs,
) -> Result<UserData, PduError> {
    let udl = r.u8("TP-UDL")?;
    let rest = r.rest();
    let needed = match dcs.alphabet {
        Alphabet::Gsm7 => (usize::from(udl) * 7).div_ceil(8),
        _ => usize::from(udl),
    };
    let ud = rest.get(..needed).ok_or(PduError::UserDataLength {
        udl,
        needed,
        available: rest.len(),
    })?;
    let (header_octets, concat, other_ies) = if udhi {
        read_header(ud)?
    } else {
        (0, None, Vec::new())
    };
    let body = ud.get(header_octets..).unwrap_or(&[]);
    let mut out = UserData {
        concat,
        other_ies,
        ..UserData::default()
    };
    match dcs.alphabet {
        Alphabet::Gsm7 => {
            // The header is followed by fill bits up to the next septet boundary.
            let header_bits = header_octets * 8;
            let header_septets = header_bits.div_ceil(7);
            let fill = u8::try_from(header_septets * 7 - header_bits).unwrap_or(0);
            let count =
                usize::from(udl)
                    .checked_sub(header_septets)
                    .ok_or(PduError::BadUdhLength {
                        udhl: ud.first().copied().unwrap_or(0),
                        available: usize::from(udl),
                    })?;
            out.text = gsm7::decode(&gsm7::unpack(body, fill, count));
        }
        Alphabet::Ucs2 => out.text = ucs2::decode(body),
        Alphabet::Eight => out.data = body.to_vec(),
    }
    Ok(out)
}

/// Parses the header at the start of `ud`; returns its size including the length octet.
fn read_header(
    ud: &[u8],
) -> Result<(usize, Option<ConcatInfo>, Vec<InformationElement>), PduError> {
    let udhl = *ud.first().ok_or(PduError::BadUdhLength {
        udhl: 0,
        available: 0,
    })?;
    let available = ud.len().saturating_sub(1);
    let mut elements = ud
        .get(1..=usize::from(udhl))
        .ok_or(PduError::BadUdhLength { udhl, available })?;
    let mut concat = None;
    let mut others = Vec::new();
    while let [iei, len, tail @ ..] = elements {
        let data = tail
            .get(..usize::from(*len))
            .ok_or(PduError::BadUdhElement {
                iei: *iei,
                declared: *len,
                available: tail.len(),
            })?;
        elements = tail.get(usize::from(*len)..).unwrap_or(&[]);
        match (concat, parse_concat(*iei, data)) {
            (None, Some(c)) => concat = Some(c),
            _ => others.push(InformationElement {
                iei: *iei,
                data: data.to_vec(),
            }),
        }
    }
    if let [iei] = elements {
        return Err(PduError::BadUdhElement {
            iei: *iei,
            declared: 0,
            available: 0,
        });
    }
    Ok((usize::from(udhl) + 1, concat, others))
}

/// A concatenation element, or `None` when it is not one or is invalid: TS 23.040 §9.2.3.24.1
/// says to ignore the element when the part number is 0 or beyond the total.
fn parse_concat(iei: u8, data: &[u8]) -> Option<ConcatInfo> {
    let (reference, total, seq) = match (iei, data) {
        (IEI_CONCAT_8, [r, t, s]) => (u16::from(*r), *t, *s),
        (IEI_CONCAT_16, [hi, lo, t, s]) => (u16::from_be_bytes([*hi, *lo]), *t, *s),
        _ => return None,
    };
    (total >= 1 && seq >= 1 && seq <= total).then_some(ConcatInfo {
        reference,
        total,
        seq,
    })
}

/// The header bytes (length octet included) for a concatenated part; 8-bit reference when it
/// fits, 16-bit otherwise.
pub(super) fn concat_header(c: ConcatInfo) -> Vec<u8> {
    match u8::try_from(c.reference) {
        Ok(r) => vec![5, IEI_CONCAT_8, 3, r, c.total, c.seq],
        Err(_) => {
            let [hi, lo] = c.reference.to_be_bytes();
            vec![6, IEI_CONCAT_16, 4, hi, lo, c.total, c.seq]
        }
    }
}

/// Encodes text (already short enough for one part) into (TP-UDL, TP-UD).
pub(super) fn encode_user_data(
    alphabet: Alphabet,
    text: &str,
    concat: Option<ConcatInfo>,
) -> Result<(u8, Vec<u8>), PduError> {
    let header = concat.map(concat_header).unwrap_or_default();
    let (len, ud, max) = match alphabet {
        Alphabet::Gsm7 => {
            let septets = gsm7::encode(text)?;
            let header_bits = header.len() * 8;
            let header_septets = header_bits.div_ceil(7);
            let fill = u8::try_from(header_septets * 7 - header_bits).unwrap_or(0);
            let mut ud = header;
            ud.extend(gsm7::pack(&septets, fill));
            (header_septets.saturating_add(septets.len()), ud, 160)
        }
        Alphabet::Ucs2 | Alphabet::Eight => {
            let mut ud = header;
            match alphabet {
                Alphabet::Ucs2 => ud.extend(ucs2::encode(text)),
                _ => ud.extend_from_slice(text.as_bytes()),
            }
            (ud.len(), ud, 140)
        }
    };
    let udl = u8::try_from(len).ok().filter(|l| usize::from(*l) <= max);
    let udl = udl.ok_or(PduError::UserDataTooLong { len, max })?;
    Ok((udl, ud))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(udhi: bool, dcs: u8, bytes: &[u8]) -> Result<UserData, PduError> {
        read_user_data(&mut Reader::new(bytes), udhi, &Dcs::decode(dcs))
    }

    #[test]
    fn sixteen_bit_reference_header_is_understood() {
        // ModemManager test_pdu_udhi (KPN NL welcome): 06 08 04 0010 02 01, no fill bits.
        let ud = read(
            true,
            0x00,
            &[0x08, 0x06, 0x08, 0x04, 0x00, 0x10, 0x02, 0x01, 0x00],
        )
        .unwrap();
        assert_eq!(
            ud.concat,
            Some(ConcatInfo {
                reference: 0x10,
                total: 2,
                seq: 1
            })
        );
        assert_eq!(ud.text, "");
    }

    #[test]
    fn other_elements_are_kept_raw_and_invalid_concat_is_ignored() {
        // Port addressing (IEI 0x05) plus a concat element claiming part 3 of 2.
        let bytes = [
            0x0C, 0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x01, 0x02, 0x03,
        ];
        let ud = read(true, 0x04, &bytes).unwrap();
        assert_eq!(ud.concat, None);
        assert_eq!(ud.other_ies.len(), 2);
        assert_eq!(
            ud.other_ies.first(),
            Some(&InformationElement {
                iei: 0x05,
                data: vec![0x0B, 0x84, 0x23, 0xF0]
            })
        );
    }

    #[test]
    fn header_longer_than_the_user_data_is_a_typed_error() {
        assert_eq!(
            read(true, 0x04, &[0x03, 0x09, 0x00, 0x03]),
            Err(PduError::BadUdhLength {
                udhl: 9,
                available: 2
            })
        );
        assert_eq!(
            read(true, 0x04, &[0x04, 0x03, 0x00, 0x05, 0x01]),
            Err(PduError::BadUdhElement {
                iei: 0x00,
                declared: 5,
                available: 1
            })
        );
        // GSM-7: a 6-octet header needs 7 septets, but the length says 5.
        assert!(matches!(
            read(true, 0x00, &[0x05, 0x05, 0x00, 0x03, 1, 2, 1]),
            Err(PduError::BadUdhLength { .. })
        ));
        assert_eq!(
            read(true, 0x04, &[0x00]),
            Err(PduError::BadUdhLength {
                udhl: 0,
                available: 0
            })
        );
    }

    #[test]
    fn length_byte_larger_than_the_data_is_a_typed_error() {
        assert_eq!(
            read(false, 0x08, &[0x04, 0x00, 0x41]),
            Err(PduError::UserDataLength {
                udl: 4,
                needed: 4,
                available: 2
            })
        );
    }

    #[test]
    fn gsm7_with_header_round_trips_at_every_header_size() {
        for reference in [7u16, 0x1234] {
            let c = ConcatInfo {
                reference,
                total: 3,
                seq: 2,
            };
            let (udl, ud) = encode_user_data(Alphabet::Gsm7, "Grüße {€}", Some(c)).unwrap();
            let mut bytes = vec![udl];
            bytes.extend(ud);
            let back = read(true, 0x00, &bytes).unwrap();
            assert_eq!((back.text.as_str(), back.concat), ("Grüße {€}", Some(c)));
        }
    }
}
