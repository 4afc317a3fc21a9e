//! Property tests across the codec: what `encode_submit` writes, the decoder and the
//! reassembler must give back unchanged, for any text; GSM-7 septets stay aligned after a user
//! data header of any length.

use super::concat::{Part, Reassembler};
use super::pdu::{decode_pdu_hex, decode_tpdu, SmsPdu};
use super::submit::{encode_submit, SubmitOptions};
use super::ucs2::to_hex;
use super::{gsm7, ucs2};
use proptest::prelude::*;

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 .,€{}\\[\\]~|^\\\\@£$Δ\n]{0,400}",
        "[你好テスト😀🎉а-я ]{0,200}",
        proptest::collection::vec(any::<char>(), 0..300).prop_map(|v| v.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_survives_encode_decode_and_reassembly(
        text in text_strategy(),
        reference in any::<u8>(),
        force_ucs2 in any::<bool>(),
        shuffle in any::<u64>(),
    ) {
        let opts = SubmitOptions { concat_reference: reference, force_ucs2, ..SubmitOptions::default() };
        let parts = encode_submit("+4917012345678", &text, &opts).unwrap();
        let mut decoded = Vec::new();
        for p in &parts {
            prop_assert_eq!(p.hex.len(), (p.tpdu_len + 1) * 2);
            prop_assert!(p.tpdu_len <= 164, "tpdu {} octets", p.tpdu_len);
            let Ok(SmsPdu::Submit(s)) = decode_pdu_hex(&p.hex) else {
                return Err(TestCaseError::fail(format!("{} did not decode as SUBMIT", p.hex)));
            };
            decoded.push(s);
        }
        // Feed the parts in a scrambled order, with the first one twice.
        let n = decoded.len();
        let mut order: Vec<usize> = (0..n).map(|i| (i + (shuffle as usize % n.max(1))) % n.max(1)).collect();
        order.push(0);
        let mut r = Reassembler::new(4);
        let mut done = Vec::new();
        for i in order {
            let Some(s) = decoded.get(i) else { continue };
            let part = Part {
                sender: s.destination.clone(),
                concat: s.user_data.concat,
                text: s.user_data.text.clone(),
                timestamp: 0,
            };
            done.extend(r.push(part, 0));
        }
        // A single-part message is "complete" each time it is pushed.
        let first = done.first().map(|c| c.text.clone());
        prop_assert_eq!(first.as_deref(), Some(text.as_str()));
    }

    #[test]
    fn gsm7_stays_aligned_after_a_header_of_any_length(
        septets in proptest::collection::vec(0u8..128, 0..160),
        header in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        // TS 23.040 §9.2.3.24: after k header octets, fill bits bring the text to a septet
        // boundary; unpacking the whole user data from bit 0 then yields the header septets
        // followed by exactly the text septets.
        let k = header.len();
        let header_septets = (k * 8).div_ceil(7);
        let fill = u8::try_from(header_septets * 7 - k * 8).unwrap();
        prop_assert!(fill <= 6);
        let mut ud = header.clone();
        ud.extend(gsm7::pack(&septets, fill));
        prop_assert_eq!(&gsm7::unpack(ud.get(k..).unwrap(), fill, septets.len()), &septets);
        let all = gsm7::unpack(&ud, 0, header_septets + septets.len());
        prop_assert_eq!(all.get(header_septets..).unwrap(), septets.as_slice());
    }

    #[test]
    fn deliver_with_padding_elements_of_every_size_decodes_its_text(
        text in "[a-zA-Z0-9 .,€{}]{0,120}",
        pad in 0usize..12,
    ) {
        // Concat IE plus a filler IE (IEI 0x70, reserved/kept raw) of `pad` octets: header sizes
        // 6..=19 octets cover every fill-bit count 0..=6.
        let mut udh = vec![0x00, 3, 0x11, 2, 1, 0x70, u8::try_from(pad).unwrap()];
        udh.extend(std::iter::repeat_n(0xAB, pad));
        udh.insert(0, u8::try_from(udh.len()).unwrap());
        let septets = gsm7::encode(&text).unwrap();
        let header_septets = (udh.len() * 8).div_ceil(7);
        let fill = u8::try_from(header_septets * 7 - udh.len() * 8).unwrap();
        let udl = u8::try_from(header_septets + septets.len()).unwrap();
        let mut tpdu = vec![0x40, 4, 0x81, 0x21, 0x43, 0x00, 0x00, 0x52, 0x10, 0x92, 0x21, 0x43, 0x65, 0x00, udl];
        tpdu.extend(&udh);
        tpdu.extend(gsm7::pack(&septets, fill));
        let Ok(SmsPdu::Deliver(d)) = decode_tpdu(&tpdu) else {
            return Err(TestCaseError::fail(format!("{} did not decode", to_hex(&tpdu))));
        };
        prop_assert_eq!(d.user_data.text, text);
        prop_assert_eq!(d.user_data.concat.map(|c| (c.reference, c.total, c.seq)), Some((0x11, 2, 1)));
        prop_assert_eq!(d.user_data.other_ies.first().map(|ie| ie.data.len()), Some(pad));
    }

    #[test]
    fn arbitrary_hex_never_panics_any_decoder(hex in "[0-9a-fA-F]{0,400}") {
        let _ = decode_pdu_hex(&hex);
        let _ = super::ussd::decode_ussd_reply(&hex, None);
        let bytes = ucs2::from_hex(&hex).unwrap_or_default();
        let _ = decode_tpdu(&bytes);
        let _ = ucs2::decode(&bytes);
    }
}
