//! Encoding SMS-SUBMIT PDUs (TS 23.040 §9.2.2.2) for `AT+CMGS` in PDU mode (TS 27.005 §3.5.1):
//! one PDU per part, each with the SMSC prefix and the TPDU length the command needs.
//!
//! Pure. The text is split by `concat::split_text`, so parts never cut an escape or surrogate
//! pair.

use super::address::{encode_scts, encode_smsc, encode_tp_address};
use super::concat::{choose_alphabet, split_text};
use super::dcs::{Dcs, MessageClass};
use super::pdu::{PduError, ValidityPeriod};
use super::ucs2::to_hex;
use super::userdata::{encode_user_data, ConcatInfo};

/// How to send a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    /// SMSC to use; `None` writes "00" so the modem uses the one stored on the SIM (`AT+CSCA`).
    pub smsc: Option<String>,
    pub validity: ValidityPeriod,
    /// Ask the network for a delivery report (TP-SRR).
    pub request_status_report: bool,
    pub class: Option<MessageClass>,
    /// Reference shared by the parts of one long message; use a new value for each message.
    pub concat_reference: u8,
    /// Send as UCS2 even if the text fits GSM-7.
    pub force_ucs2: bool,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            smsc: None,
            validity: ValidityPeriod::None,
            request_status_report: false,
            class: None,
            concat_reference: 0,
            force_ucs2: false,
        }
    }
}

/// One PDU ready for `AT+CMGS=<tpdu_len>` followed by `<hex>` and Ctrl-Z.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPart {
    /// The whole PDU in hex, SMSC prefix included.
    pub hex: String,
    /// Octets after the SMSC prefix: the length `AT+CMGS` wants (TS 27.005 §3.5.1).
    pub tpdu_len: usize,
}

/// Encodes `text` to `dest` ("+" and digits, or digits) as one or more SUBMIT PDUs.
pub fn encode_submit(
    dest: &str,
    text: &str,
    opts: &SubmitOptions,
) -> Result<Vec<SubmitPart>, PduError> {
    let alphabet = choose_alphabet(text, opts.force_ucs2);
    let chunks = split_text(text, alphabet)?;
    let total = u8::try_from(chunks.len()).map_err(|_| PduError::TooManyParts {
        parts: chunks.len(),
    })?;
    let smsc = encode_smsc(opts.smsc.as_deref())?;
    let address = encode_tp_address(dest)?;
    let dcs = Dcs::encode(alphabet, opts.class);
    let (vpf, vp) = validity_field(&opts.validity);
    let mut parts = Vec::with_capacity(chunks.len());
    for (seq, chunk) in (1..=total).zip(&chunks) {
        let concat = (total > 1).then_some(ConcatInfo {
            reference: u16::from(opts.concat_reference),
            total,
            seq,
        });
        let (udl, ud) = encode_user_data(alphabet, chunk, concat)?;
        // First octet: MTI 01, TP-VPF bits 4-3, TP-SRR bit 5, TP-UDHI bit 6 (TS 23.040 §9.2.2.2).
        let mut first = 0x01 | (vpf << 3);
        if opts.request_status_report {
            first |= 0x20;
        }
        if concat.is_some() {
            first |= 0x40;
        }
        // TP-MR 0: the modem fills in its own reference.
        let mut tpdu = vec![first, 0x00];
        tpdu.extend_from_slice(&address);
        tpdu.extend_from_slice(&[0x00, dcs]);
        tpdu.extend_from_slice(&vp);
        tpdu.push(udl);
        tpdu.extend(ud);
        let mut pdu = smsc.clone();
        pdu.extend_from_slice(&tpdu);
        parts.push(SubmitPart {
            hex: to_hex(&pdu),
            tpdu_len: tpdu.len(),
        });
    }
    Ok(parts)
}

/// TP-VPF bits and TP-VP octets for a validity period (TS 23.040 §9.2.3.3, §9.2.3.12).
fn validity_field(v: &ValidityPeriod) -> (u8, Vec<u8>) {
    match v {
        ValidityPeriod::None => (0b00, Vec::new()),
        ValidityPeriod::Relative(vp) => (0b10, vec![*vp]),
        ValidityPeriod::Enhanced(raw) => (0b01, raw.to_vec()),
        ValidityPeriod::Absolute {
            timestamp,
            tz_minutes,
        } => (0b11, encode_scts(*timestamp, *tz_minutes).to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::pdu::{decode_pdu_hex, SmsPdu};
    use super::*;

    fn opts(validity: ValidityPeriod) -> SubmitOptions {
        SubmitOptions {
            validity,
            ..SubmitOptions::default()
        }
    }

    #[test]
    fn gsm7_pdus_match_modemmanager_byte_for_byte() {
        // ModemManager test_create_pdu_gsm_no_smsc / _gsm_with_smsc / _gsm_3 / _gsm_no_validity
        // (validity "5 minutes" is relative octet 0).
        let text = "Hi there...Tue 17th Jan 2012 05:30.18 pm (GMT+1) ΔΔΔΔΔ";
        let tpdu = "11000B915155551532F400000036C834888E2ECBCB2E978B5A2F8362373A1AA40CBB4132584C0682D57433982B8603C1DB20D4B1495DC552200804028100";
        let p = encode_submit("+15555551234", text, &opts(ValidityPeriod::Relative(0))).unwrap();
        assert_eq!(
            p,
            [SubmitPart {
                hex: format!("00{tpdu}"),
                tpdu_len: tpdu.len() / 2
            }]
        );
        let with_smsc = SubmitOptions {
            smsc: Some("+19037029920".into()),
            ..opts(ValidityPeriod::Relative(0))
        };
        let p = encode_submit("+15555551234", text, &with_smsc).unwrap();
        assert_eq!(
            p.first().map(|p| p.hex.clone()),
            Some(format!("07919130079229F0{tpdu}"))
        );
        assert_eq!(p.first().map(|p| p.tpdu_len), Some(tpdu.len() / 2));
        let p = encode_submit(
            "+15556661234",
            "This is really cool ΔΔΔΔΔ",
            &opts(ValidityPeriod::Relative(0)),
        )
        .unwrap();
        assert_eq!(
            p.first().map(|p| p.hex.as_str()),
            Some("0011000B915155661632F40000001954747A0E4ACF41F27298CDCE83C6EF371B0481402010")
        );
        let p = encode_submit(
            "+15556661234",
            "This is really cool ΔΔΔΔΔ",
            &opts(ValidityPeriod::None),
        )
        .unwrap();
        assert_eq!(
            p.first().map(|p| p.hex.as_str()),
            Some("0001000B915155661632F400001954747A0E4ACF41F27298CDCE83C6EF371B0481402010")
        );
    }

    #[test]
    fn ucs2_pdu_matches_modemmanager_byte_for_byte() {
        // ModemManager test_create_pdu_ucs2_no_smsc.
        let p = encode_submit(
            "+15555551234",
            "Да здравствует король, детка!",
            &opts(ValidityPeriod::Relative(0)),
        )
        .unwrap();
        let expected = "0011000B915155551532F40008003A041404300020043704340440043004320441044204320443043504420020043A043E0440043E043B044C002C0020043404350442043A04300021";
        assert_eq!(
            p,
            [SubmitPart {
                hex: expected.into(),
                tpdu_len: expected.len() / 2 - 1
            }]
        );
    }

    #[test]
    fn dreamfabric_submit_example_is_reproduced() {
        let p = encode_submit(
            "+46708251358",
            "hellohello",
            &opts(ValidityPeriod::Relative(0xAA)),
        )
        .unwrap();
        assert_eq!(
            p.first().map(|p| p.hex.as_str()),
            Some("0011000B916407281553F80000AA0AE8329BFD4697D9EC37")
        );
    }

    #[test]
    fn every_validity_format_and_the_report_flag_survive_a_round_trip() {
        let abs = ValidityPeriod::Absolute {
            timestamp: 1_700_000_000,
            tz_minutes: -90,
        };
        let enh = ValidityPeriod::Enhanced([0x03, 0x21, 0x43, 0x65, 0, 0, 0]);
        for v in [
            ValidityPeriod::None,
            ValidityPeriod::Relative(167),
            abs,
            enh,
        ] {
            let o = SubmitOptions {
                request_status_report: true,
                class: Some(MessageClass::Flash),
                ..opts(v)
            };
            let p = encode_submit("12345", "status?", &o).unwrap();
            let Ok(SmsPdu::Submit(s)) = decode_pdu_hex(&p.first().unwrap().hex) else {
                panic!("not a submit")
            };
            assert_eq!(
                (s.validity, s.status_report_request, s.dcs.class),
                (v, true, Some(MessageClass::Flash))
            );
            assert_eq!(
                (s.destination.as_str(), s.user_data.text.as_str()),
                ("12345", "status?")
            );
        }
        // Enhanced 011: hh mm ss semi-octets 12:34:56.
        assert_eq!(enh.duration_secs(), Some(12 * 3600 + 34 * 60 + 56));
    }

    #[test]
    fn long_chinese_text_takes_two_ucs2_parts_with_a_shared_reference() {
        // 71 characters: one more than a single UCS2 message holds (ModemManager
        // test_text_split_two_pdu_ucs2 uses the same "你好" filler).
        let text = "你好".repeat(35) + "好";
        let o = SubmitOptions {
            concat_reference: 0x42,
            ..SubmitOptions::default()
        };
        let parts = encode_submit("+8613800138000", &text, &o).unwrap();
        assert_eq!(parts.len(), 2);
        let decoded: Vec<SmsPdu> = parts
            .iter()
            .map(|p| decode_pdu_hex(&p.hex).unwrap())
            .collect();
        let texts: Vec<&str> = decoded.iter().map(SmsPdu::text).collect();
        assert_eq!(
            texts.iter().map(|t| t.chars().count()).collect::<Vec<_>>(),
            [67, 4]
        );
        assert_eq!(texts.concat(), text);
        let refs: Vec<_> = decoded
            .iter()
            .filter_map(SmsPdu::concat)
            .map(|c| (c.reference, c.total, c.seq))
            .collect();
        assert_eq!(refs, [(0x42, 2, 1), (0x42, 2, 2)]);
        assert_eq!(parts.first().map(|p| p.tpdu_len), Some(2 + 9 + 2 + 1 + 140));
    }

    #[test]
    fn long_japanese_text_with_emoji_never_splits_a_surrogate_pair() {
        // 66 kana then an emoji (2 units) straddling the 67-unit boundary.
        let text = "あ".repeat(66) + "😀" + &"テスト".repeat(3);
        let parts = encode_submit("+81312345678", &text, &SubmitOptions::default()).unwrap();
        let texts: Vec<String> = parts
            .iter()
            .map(|p| decode_pdu_hex(&p.hex).unwrap().text().to_string())
            .collect();
        assert_eq!(texts.first().map(|t| t.chars().count()), Some(66));
        assert!(texts.get(1).is_some_and(|t| t.starts_with('😀')));
        assert_eq!(texts.concat(), text);
    }

    #[test]
    fn bad_destination_is_a_typed_error() {
        let err = encode_submit("+49 170 1234", "hi", &SubmitOptions::default()).unwrap_err();
        assert_eq!(
            err,
            PduError::BadAddress {
                value: "+49 170 1234".into()
            }
        );
    }

    #[test]
    fn text_needing_more_than_255_parts_is_refused() {
        let err =
            encode_submit("123", &"x".repeat(153 * 256), &SubmitOptions::default()).unwrap_err();
        assert_eq!(err, PduError::TooManyParts { parts: 256 });
    }
}
