//! Tests for `pdu`, with real PDUs. Most come from ModemManager's
//! src/tests/test-sms-part-3gpp.c (linux-mobile-broadband/ModemManager), the rest from the
//! widely quoted dreamfabric.com "SMS PDU format" tutorial, or are built by hand from
//! TS 23.040 where no public example exists (marked as such).

use super::super::dcs::{Alphabet, MessageClass};
use super::*;
use proptest::prelude::*;

fn deliver(hex: &str) -> Deliver {
    match decode_pdu_hex(hex) {
        Ok(SmsPdu::Deliver(d)) => d,
        other => panic!("expected a DELIVER, got {other:?}"),
    }
}

fn submit(hex: &str) -> Submit {
    match decode_pdu_hex(hex) {
        Ok(SmsPdu::Submit(s)) => s,
        other => panic!("expected a SUBMIT, got {other:?}"),
    }
}

const MM_PDU1: &str = "07912104442961F4040B916171957291F800001120821105050A6AC8B2BC7C9A83C220F6DB7D2ECB41EDF27C1E3E97411BDE06754FD3D1A0F9BB5D0695F1F4B29B5C2683C6E8B03C3CA697E5F34D6AE303D1D1F2F7DD0D4ABB59A0797D8C0685E7A00028EC26832A960B28EC2683BE6050780EBA97D96C17";
const MM_PDU2_ALPHANUMERIC: &str =
    "07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442";
const MM_PDU3: &str = "07912143658709F1040B918100551512F20000111010214365000AE8329BFD4697D9EC37";
const MM_DCS_F1: &str = "07913306091093F0040485810000F111604231805180A049B7F90D9A1AA5A01668F8769BD3E4B29B9E2EB359A03FC85D06A9C3ED707A0EA2CBC3EE79BB4CA7CBCBA05643617DA7C76990FD4D979741EE77DD5E0ED741ED371D442E83E0E1F9BC0CD281E677D9B84C06C1DF7539E85C9097E520FB9B2E2F83C6EF369C5E064D8D52D0BC2E07DDEF77D7DC2C7799E5A0771D040FCB41F402BB0047BFDD6550B80ECAD966";
const MM_UDHI_16BIT: &str = "07911356131313F64004850120390011609232239180A006080400100201D7327BFD6EB340E2321BF46E83EA7790F59D1E97DBE1341B442F83C465763D3DA797E56537C81D0ECB41AB59CC1693C16031D96C064241E5656838AF03A96230982A269BCD462917C8FA4E8FCBED709A0D7ABBE9F6B0FB5C7683D27350984D4FABC9A0B33C4C4FCF5D20EBFB2D079DCB62793DBD06D9C36E50FB2D4E97D9A0B49B5E96BBCB";
const MM_MULTIPART_1: &str = "07912160130320F5440B916171056429F5000021405291650569A00500034C0201A9E8F41C949E83C2207B599E07B1DFEE33885E9ED341E4F23C7D7697C920FA1B54C697E5E3F4BC0C6AD7D9F434081E96D341E3303C2C4EB3D3F4BC0B94A483E6E8779D4D06CDD1EF3BA80E0785E7A0B7BB0C6A97E7F3F0B9CC02B9DF7450780EA2DFDF2C50780EA2A3CBA0BA9B5C96B3F369F71954768FDFE4B4FB0C9297E1F2F2BCECA6CF41";
const MM_MULTIPART_2: &str = "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D44479741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10";
const MM_STATUS_REPORT: &str = "07914356060013F1065A098136397339F7219011700463802190117004638030";
const MM_SUBMIT_STORED: &str = "002100098136397339F70008224F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60";

#[test]
fn gsm7_deliver_with_extension_characters_decodes_fully() {
    let d = deliver(MM_PDU1);
    assert_eq!(d.smsc.as_deref(), Some("+12404492164"));
    assert_eq!(d.sender, "+16175927198");
    assert_eq!(d.sender_toa, 0x91);
    assert_eq!((d.timestamp, d.tz_minutes), (1_298_911_850, -300));
    assert_eq!(
        d.user_data.text,
        "Here's a longer message [{with some extended characters}] thrown in, such as £ and ΩΠΨ and §¿ as well."
    );
    assert_eq!(d.dcs.alphabet, Alphabet::Gsm7);
    assert!(d.user_data.concat.is_none());
}

#[test]
fn alphanumeric_sender_and_ucs2_text_decode() {
    let d = deliver(MM_PDU2_ALPHANUMERIC);
    assert_eq!(d.sender, "InternetSMS");
    assert_eq!(d.sender_toa, 0xD0);
    assert_eq!(d.smsc.as_deref(), Some("+79037011111"));
    assert_eq!(d.user_data.text, "тест");
    assert_eq!(d.dcs.alphabet, Alphabet::Ucs2);
    assert_eq!((d.timestamp, d.tz_minutes), (1_301_412_004, 240));
}

#[test]
fn national_number_keeps_no_plus_and_mms_flag_is_read() {
    let d = deliver(MM_PDU3);
    assert_eq!(
        (d.sender.as_str(), d.user_data.text.as_str()),
        ("+18005551212", "hellohello")
    );
    assert_eq!(d.timestamp, 1_293_885_296);
    assert!(!d.more_messages);
    // test_pdu3_natl: TOA 0x81 gives no '+'; test_pdu3_mms: first octet 0x00 = more messages.
    let natl = deliver(&MM_PDU3.replacen("040B9181", "000B8181", 1));
    assert_eq!(natl.sender, "18005551212");
    assert!(natl.more_messages);
}

#[test]
fn dreamfabric_deliver_from_1999_decodes() {
    // dreamfabric.com/sms/deliver_fo.html example; TOA 0xC8, year 99 → 1999.
    let d = deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37");
    assert_eq!(d.smsc.as_deref(), Some("+27381000015"));
    assert_eq!(d.sender, "27838890001");
    assert_eq!((d.timestamp, d.tz_minutes), (922_713_419, 120));
    assert_eq!(d.user_data.text, "hellohello");
}

#[test]
fn group_f_class_1_message_decodes() {
    let d = deliver(MM_DCS_F1);
    assert_eq!(d.sender, "1800");
    assert_eq!(d.dcs.class, Some(MessageClass::Me));
    assert_eq!((d.timestamp, d.tz_minutes), (1_308_913_695, 120));
    assert_eq!(
        d.user_data.text,
        "Info SFR - Confidentiel, à ne jamais transmettre -\r\nVoici votre nouveau mot de passe : sw2ced pour gérer votre compte SFR sur www.sfr.fr ou par téléphone au 963"
    );
}

#[test]
fn eight_bit_data_is_returned_as_bytes() {
    // test_pdu3_8bit (DCS 0x04) and test_pdu_dcsf_8bit (DCS 0xF4).
    let data = [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37, 0xDE];
    for dcs in ["04", "F4"] {
        let hex = format!(
            "07912143658709F1040B918100551512F200{dcs}111010214365000AE8329BFD4697D9EC37DE"
        );
        let d = deliver(&hex);
        assert_eq!(d.user_data.data, data);
        assert_eq!(d.user_data.text, "");
    }
}

#[test]
fn sixteen_bit_concat_header_without_fill_bits_decodes() {
    let d = deliver(MM_UDHI_16BIT);
    assert_eq!(d.sender, "1002");
    assert_eq!(
        d.user_data.concat,
        Some(ConcatInfo {
            reference: 0x0010,
            total: 2,
            seq: 1
        })
    );
    assert_eq!(d.timestamp, 1_309_383_139);
    assert_eq!(
        d.user_data.text,
        "Welkom, bel om uw Voicemail te beluisteren naar +31612001233 (PrePay: *100*1233#). Voicemail ontvangen is altijd gratis. Voor gebruik van mobiel interne"
    );
}

#[test]
fn eight_bit_concat_header_with_one_fill_bit_decodes_both_parts() {
    let p1 = deliver(MM_MULTIPART_1);
    let p2 = deliver(MM_MULTIPART_2);
    assert_eq!(
        p1.user_data.concat,
        Some(ConcatInfo {
            reference: 0x4C,
            total: 2,
            seq: 1
        })
    );
    assert_eq!(
        p2.user_data.concat,
        Some(ConcatInfo {
            reference: 0x4C,
            total: 2,
            seq: 2
        })
    );
    assert_eq!(p1.timestamp, 1_335_398_210);
    assert_eq!(
        format!("{}{}", p1.user_data.text, p2.user_data.text),
        "This is a very long test designed to exercise multi part capability. It should show up as one message, not as two, as the underlying encoding represents that the parts are related to one another. "
    );
}

#[test]
fn status_report_decodes_reference_recipient_and_status() {
    let SmsPdu::StatusReport(sr) = decode_pdu_hex(MM_STATUS_REPORT).unwrap() else {
        panic!("expected a status report");
    };
    assert_eq!(sr.smsc.as_deref(), Some("+34656000311"));
    assert_eq!(
        (sr.message_reference, sr.recipient.as_str()),
        (0x5A, "639337937")
    );
    assert_eq!((sr.timestamp, sr.tz_minutes), (1_347_342_036, 120));
    assert_eq!(sr.discharge_time, 1_347_342_036);
    assert_eq!((sr.status, sr.outcome()), (0x30, DeliveryOutcome::Pending));
}

#[test]
fn stored_submit_with_status_report_request_decodes() {
    let s = submit(MM_SUBMIT_STORED);
    assert_eq!(s.smsc, None);
    assert_eq!(s.destination, "639337937");
    assert!(s.status_report_request);
    assert_eq!(s.validity, ValidityPeriod::None);
    assert_eq!(s.user_data.text, "你好你好你好你好你好你好你好你好你");
}

#[test]
fn every_validity_period_format_decodes() {
    // Relative: dreamfabric SUBMIT example, TP-VP 0xAA = 4 days.
    let rel = submit("0011000B916407281553F80000AA0AE8329BFD4697D9EC37");
    assert_eq!(
        (rel.destination.as_str(), rel.validity),
        ("+46708251358", ValidityPeriod::Relative(0xAA))
    );
    assert_eq!(rel.validity.duration_secs(), Some(4 * 86_400));
    assert_eq!(rel.user_data.text, "hellohello");
    // None: ModemManager test_create_pdu_gsm_no_validity.
    let none = submit("0001000B915155661632F400001954747A0E4ACF41F27298CDCE83C6EF371B0481402010");
    assert_eq!(
        (none.validity, none.user_data.text.as_str()),
        (ValidityPeriod::None, "This is really cool ΔΔΔΔΔ")
    );
    // Absolute (hand-built per TS 23.040 §9.2.3.12.2): 2011-01-01 12:34:56 +00.
    let abs = submit("0019000B915155661632F40000111010214365000AE8329BFD4697D9EC37");
    assert_eq!(
        abs.validity,
        ValidityPeriod::Absolute {
            timestamp: 1_293_885_296,
            tz_minutes: 0
        }
    );
    assert_eq!(abs.validity.duration_secs(), None);
    assert_eq!(abs.user_data.text, "hellohello");
    // Enhanced (hand-built per TS 23.040 §9.2.3.12.3): format 010, 60 integer seconds.
    let enh = submit("0009000B915155661632F40000023C00000000000AE8329BFD4697D9EC37");
    assert_eq!(
        enh.validity,
        ValidityPeriod::Enhanced([0x02, 0x3C, 0, 0, 0, 0, 0])
    );
    assert_eq!(enh.validity.duration_secs(), Some(60));
    assert_eq!(enh.user_data.text, "hellohello");
}

#[test]
fn relative_validity_steps_follow_the_spec_table() {
    assert_eq!(ValidityPeriod::relative_secs(0), 300);
    assert_eq!(ValidityPeriod::relative_secs(143), 12 * 3600);
    assert_eq!(ValidityPeriod::relative_secs(167), 24 * 3600);
    assert_eq!(ValidityPeriod::relative_secs(168), 2 * 86_400);
    assert_eq!(ValidityPeriod::relative_secs(255), 63 * 7 * 86_400);
}

#[test]
fn truncated_pdu_names_the_missing_field() {
    let err = decode_pdu_hex("07912143658709F1040B9181005515").unwrap_err();
    assert_eq!(
        err,
        PduError::Truncated {
            field: "TP-OA",
            offset: 11,
            needed: 6,
            len: 15
        }
    );
    assert!(err.to_string().contains("TP-OA"), "{err}");
    assert!(matches!(
        decode_pdu_hex(""),
        Err(PduError::Truncated {
            field: "SMSC address",
            ..
        })
    ));
    assert!(matches!(
        decode_pdu_hex("00"),
        Err(PduError::Truncated {
            field: "first octet",
            ..
        })
    ));
}

#[test]
fn length_byte_larger_than_the_data_is_reported() {
    // ModemManager test_pdu_insufficient_data: TP-UDL 0x0B (11 septets = 10 octets), 9 present.
    let err =
        decode_pdu_hex("07912143658709F1040B918100551512F20000111010214365000BE8329BFD4697D9EC37")
            .unwrap_err();
    assert_eq!(
        err,
        PduError::UserDataLength {
            udl: 11,
            needed: 10,
            available: 9
        }
    );
}

#[test]
fn odd_or_non_hex_input_is_reported() {
    assert_eq!(
        decode_pdu_hex("0791214"),
        Err(PduError::Hex(HexError::OddLength { len: 7 }))
    );
    assert_eq!(
        decode_pdu_hex("07ZZ"),
        Err(PduError::Hex(HexError::NotHex {
            index: 2,
            found: 'Z'
        }))
    );
    // A trailing CR from the modem line is tolerated.
    assert!(decode_pdu_hex(&format!("{MM_PDU3}\r")).is_ok());
}

#[test]
fn bad_udh_length_is_reported() {
    // MM_MULTIPART_2 with its UDHL changed from 05 to 3F.
    let hex = MM_MULTIPART_2.replacen("320500034C0202", "323F00034C0202", 1);
    assert!(matches!(
        decode_pdu_hex(&hex),
        Err(PduError::BadUdhLength { udhl: 0x3F, .. })
    ));
}

#[test]
fn bad_address_length_and_reserved_type_are_reported() {
    assert!(matches!(
        decode_pdu_hex("0C9121436587"),
        Err(PduError::BadAddressLength {
            field: "SMSC address",
            len: 12,
            max: 11
        })
    ));
    assert_eq!(
        decode_pdu_hex("0003"),
        Err(PduError::UnsupportedType { first_octet: 3 })
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_pdu(&bytes);
        let _ = decode_tpdu(&bytes);
    }

    #[test]
    fn arbitrary_strings_never_panic_the_hex_decoder(s in any::<String>(), hex in "[0-9A-F]{0,300}") {
        let _ = decode_pdu_hex(&s);
        let _ = decode_pdu_hex(&hex);
    }

    #[test]
    fn corrupting_one_octet_of_a_real_pdu_never_panics(pos in 0usize..80, v in any::<u8>(), cut in 0usize..200) {
        let mut bytes = ucs2::from_hex(MM_MULTIPART_1).unwrap_or_default();
        if let Some(b) = bytes.get_mut(pos) { *b = v; }
        bytes.truncate(cut);
        let _ = decode_pdu(&bytes);
    }
}
