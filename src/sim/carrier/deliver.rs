//! SMS-DELIVER PDUs as the simulated network hands them to the modem (TS 23.040 §9.2.2.1), in
//! the `<pdu>` form `+CMGR`/`+CMGL`/`+CMT` print (SMSC address first, TS 27.005 §3.1).
//!
//! Built from the codec's pieces (GSM-7 packing, UCS2, splitting), so what the carrier sends is
//! what a real network would: alphanumeric senders GSM-7 packed, concatenated parts with an
//! 8-bit reference UDH and fill bits. Pure; the time stamp comes in as seconds of a fixed day.

use crate::codec::concat::{choose_alphabet, split_text};
use crate::codec::gsm7;
use crate::codec::ucs2;
use crate::codec::Alphabet;

/// The carrier's service centre (written before each PDU as a modem prints it).
pub const SMSC: &str = "+819031000000";

/// The day every simulated time stamp falls on (2026-11-27, JST), as swapped BCD YY MM DD.
const DAY_BCD: [u8; 3] = [0x62, 0x11, 0x72];
/// JST, +9 h = 36 quarter hours, swapped BCD (TS 23.040 §9.2.3.11).
const TZ_JST: u8 = 0x63;
/// Unix time of 2026-11-27 00:00 JST (2026-11-26 15:00 UTC).
#[cfg(test)]
pub const DAY_START_UNIX: i64 = 1_795_705_200;

/// One message to deliver, cut into the PDUs that carry it (hex, SMSC first) with the TPDU
/// length `+CMGR`/`+CMT` announce.
pub fn encode_deliver(
    sender: &str,
    text: &str,
    second_of_day: u32,
    reference: u8,
) -> Result<Vec<(String, usize)>, String> {
    let alphabet = choose_alphabet(text, false);
    let chunks = split_text(text, alphabet).map_err(|e| e.to_string())?;
    let total =
        u8::try_from(chunks.len()).map_err(|_| "text too long for 255 parts".to_string())?;
    let smsc = smsc_field(SMSC);
    let address = sender_field(sender)?;
    let mut out = Vec::with_capacity(chunks.len());
    for (seq, chunk) in (1..=total).zip(&chunks) {
        let header = (total > 1).then(|| vec![5u8, 0x00, 3, reference, total, seq]);
        // TP-MTI 00, TP-MMS (bit 2) set: no more messages waiting; TP-UDHI (bit 6) with a header.
        let first = 0x04 | if header.is_some() { 0x40 } else { 0 };
        let dcs = if alphabet == Alphabet::Gsm7 {
            0x00
        } else {
            0x08
        };
        let (udl, ud) = user_data(alphabet, chunk, header)?;
        let mut tpdu = vec![first];
        tpdu.extend_from_slice(&address);
        tpdu.extend_from_slice(&[0x00, dcs]);
        tpdu.extend_from_slice(&scts(second_of_day));
        tpdu.push(udl);
        tpdu.extend(ud);
        let mut pdu = smsc.clone();
        pdu.extend_from_slice(&tpdu);
        out.push((ucs2::to_hex(&pdu), tpdu.len()));
    }
    Ok(out)
}

fn user_data(
    alphabet: Alphabet,
    text: &str,
    header: Option<Vec<u8>>,
) -> Result<(u8, Vec<u8>), String> {
    let header = header.unwrap_or_default();
    let (len, ud) = if alphabet == Alphabet::Gsm7 {
        let septets = gsm7::encode(text).map_err(|e| e.to_string())?;
        // The first septet starts on a septet boundary after the header (TS 23.040 §9.2.3.24).
        let header_bits = header.len() * 8;
        let header_septets = header_bits.div_ceil(7);
        let fill = u8::try_from(header_septets * 7 - header_bits).unwrap_or(0);
        let mut ud = header;
        ud.extend(gsm7::pack(&septets, fill));
        (header_septets + septets.len(), ud)
    } else {
        let mut ud = header;
        ud.extend(ucs2::encode(text));
        (ud.len(), ud)
    };
    let udl = u8::try_from(len).map_err(|_| format!("user data of {len} does not fit one part"))?;
    Ok((udl, ud))
}

/// Swapped-BCD digits, `F`-padded (TS 23.040 §9.1.2.3).
fn semi_octets(digits: &str) -> Vec<u8> {
    let d: Vec<u8> = digits
        .bytes()
        .map(|b| b.wrapping_sub(b'0') & 0x0F)
        .collect();
    d.chunks(2)
        .map(|c| match c {
            [a, b] => (b << 4) | a,
            [a] => 0xF0 | a,
            _ => 0xFF,
        })
        .collect()
}

fn smsc_field(number: &str) -> Vec<u8> {
    let digits = number.trim_start_matches('+');
    let value = semi_octets(digits);
    let mut out = vec![u8::try_from(value.len() + 1).unwrap_or(0), 0x91];
    out.extend(value);
    out
}

/// TP-OA: digits (international with `+`, else "unknown" type) or an alphanumeric sender packed
/// as GSM-7 with the length in useful semi-octets (TS 23.040 §9.1.2.5).
fn sender_field(sender: &str) -> Result<Vec<u8>, String> {
    let digits = sender.strip_prefix('+').unwrap_or(sender);
    if !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let toa = if sender.starts_with('+') { 0x91 } else { 0x81 };
        let mut out = vec![u8::try_from(digits.len()).unwrap_or(0), toa];
        out.extend(semi_octets(digits));
        return Ok(out);
    }
    let septets = gsm7::encode(sender).map_err(|e| e.to_string())?;
    if septets.is_empty() || septets.len() > 11 {
        return Err(format!("sender {sender:?} must be 1 to 11 GSM characters"));
    }
    let packed = gsm7::pack(&septets, 0);
    let useful = (septets.len() * 7).div_ceil(4);
    let mut out = vec![u8::try_from(useful).unwrap_or(0), 0xD0];
    out.extend(packed);
    Ok(out)
}

/// TP-SCTS for a second of the simulated day (TS 23.040 §9.2.3.11).
fn scts(second_of_day: u32) -> [u8; 7] {
    let s = second_of_day % 86_400;
    let bcd = |n: u32| -> u8 {
        let n = u8::try_from(n % 100).unwrap_or(0);
        ((n % 10) << 4) | (n / 10)
    };
    let [y, m, d] = DAY_BCD;
    [
        y,
        m,
        d,
        bcd(s / 3600),
        bcd(s % 3600 / 60),
        bcd(s % 60),
        TZ_JST,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_pdu_hex, SmsPdu};

    fn deliver(hex: &str) -> crate::codec::Deliver {
        match decode_pdu_hex(hex) {
            Ok(SmsPdu::Deliver(d)) => d,
            other => panic!("not a deliver: {other:?}"),
        }
    }

    #[test]
    fn a_short_gsm_message_from_a_short_code_decodes_back() {
        let parts = encode_deliver("1234", "Balance: 500 MB", 3661, 1).unwrap();
        assert_eq!(parts.len(), 1);
        let (hex, len) = &parts[0];
        assert_eq!(hex.len() / 2 - 8, *len, "smsc prefix is 8 octets");
        let d = deliver(hex);
        assert_eq!(d.sender, "1234");
        assert_eq!(d.user_data.text, "Balance: 500 MB");
        assert_eq!(d.smsc.as_deref(), Some(SMSC));
        assert_eq!(d.tz_minutes, 540);
        assert_eq!(d.timestamp, DAY_START_UNIX + 3661);
    }

    #[test]
    fn an_alphanumeric_sender_is_gsm7_packed() {
        let d = deliver(&encode_deliver("SimCarrier", "hi", 0, 1).unwrap()[0].0);
        assert_eq!(d.sender, "SimCarrier");
        assert_eq!(d.sender_toa, 0xD0);
    }

    #[test]
    fn long_chinese_text_becomes_two_ucs2_parts_with_one_reference() {
        let text = "您的余额为500MB。".repeat(8);
        let parts = encode_deliver("1234", &text, 10, 77).unwrap();
        assert_eq!(parts.len(), 2);
        let mut joined = String::new();
        for (i, (hex, _)) in parts.iter().enumerate() {
            let d = deliver(hex);
            let c = d.user_data.concat.unwrap();
            assert_eq!((c.reference, c.total, usize::from(c.seq)), (77, 2, i + 1));
            joined.push_str(&d.user_data.text);
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn long_gsm_text_uses_fill_bits_after_the_header() {
        let text = "x".repeat(200);
        let parts = encode_deliver("+8190", &text, 0, 5).unwrap();
        let joined: String = parts
            .iter()
            .map(|(h, _)| deliver(h).user_data.text)
            .collect();
        assert_eq!(joined, text);
    }
}
