//! USSD decoding (`codec::ussd`): the `<str>` of a `+CUSD:` reply as packed GSM-7 hex, UCS2 hex,
//! 8-bit hex or plain text, with any dcs; the modem charsets (`AT+CSCS`); GSM-7 and UCS2
//! underneath; and the `+CUSD:` line parser in front of them.
//!
//! Input: byte 0 is the dcs (or none when it is 0xFF), the rest is the payload. Invariants: no
//! panic; GSM-7 text (a code that passes `validate_ussd_code`
//! among it) packs and unpacks to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simkeep::codec::ussd::{decode_quoted, pack_ussd, unpack_ussd, Charset};
use simkeep::codec::{decode_ussd_reply, encode_ussd_request, gsm7, ucs2, UssdEncoding};

fuzz_target!(|data: &[u8]| {
    let Some((&d, rest)) = data.split_first() else {
        return;
    };
    let dcs = (d != 0xFF).then_some(d);
    let payload = String::from_utf8_lossy(rest);
    let _ = decode_ussd_reply(&payload, dcs);
    let _ = simkeep::cli::decode::decode_ussd_json(&payload, dcs);
    let _ = simkeep::codec::ussd::dcs_alphabet(d);
    let _ = unpack_ussd(rest);
    let _ = gsm7::decode(rest);
    let _ = gsm7::unpack(rest, d % 8, rest.len().saturating_mul(8) / 7);
    let _ = ucs2::decode(rest);
    let _ = ucs2::from_hex(&payload);
    for cs in [Charset::Gsm, Charset::Ira, Charset::Ucs2, Charset::Hex] {
        let _ = cs.decode(&payload);
        let _ = decode_quoted(&payload, cs);
    }
    let _ = Charset::from_cscs(&payload);
    if let Some(c) = simkeep::at::urc::parse_cusd(&payload) {
        if let Some(t) = c.text {
            let _ = decode_ussd_reply(&t, c.dcs);
        }
    }
    // Any GSM-7 text packs and unpacks to itself, except a final '@' or CR: those are what the
    // padding of the last octet looks like (TS 23.038 §6.1.2.3.1), and are documented as dropped.
    if gsm7::is_gsm7(&payload) && !payload.ends_with(['@', '\r']) && payload.len() <= 1024 {
        if let Ok(packed) = pack_ussd(&payload) {
            assert_eq!(
                unpack_ussd(&packed),
                payload,
                "GSM-7 text did not round-trip"
            );
        }
    }
    if simkeep::codec::validate_ussd_code(&payload).is_ok() {
        if let Ok(packed) = pack_ussd(&payload) {
            assert_eq!(
                unpack_ussd(&packed),
                payload,
                "packed USSD code did not round-trip"
            );
        }
        for enc in [
            UssdEncoding::Gsm7Hex,
            UssdEncoding::Ucs2Hex,
            UssdEncoding::Text,
        ] {
            let _ = encode_ussd_request(&payload, enc);
        }
    }
});
