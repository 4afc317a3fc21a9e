//! TP-DCS, the SMS data coding scheme octet (3GPP TS 23.038 §4): which alphabet the user data
//! uses, the message class, and message-waiting indications.
//!
//! Pure; every one of the 256 values decodes to something. Reserved codings are read as the GSM
//! 7-bit default alphabet, as TS 23.038 §4 tells a receiving entity to do.

/// The alphabet of the user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet, packed septets.
    Gsm7,
    /// 8-bit data: kept as bytes, not decoded as text.
    Eight,
    /// UCS2 (UTF-16BE).
    Ucs2,
}

/// Message class (TS 23.038 §4): 0 flash, 1 ME-specific, 2 SIM-specific, 3 TE-specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageClass {
    Flash,
    Me,
    Sim,
    Te,
}

/// What a message-waiting indication group announces (TS 23.038 §4, groups 1100-1110).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingKind {
    Voicemail,
    Fax,
    Email,
    Other,
}

/// A message-waiting indication carried in the DCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageWaiting {
    /// Indication set (true) or cleared (false).
    pub active: bool,
    pub kind: WaitingKind,
    /// Group 1100 says the handset may discard the message text after updating the indicator.
    pub discard: bool,
}

/// A decoded TP-DCS octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dcs {
    /// The raw octet.
    pub raw: u8,
    pub alphabet: Alphabet,
    pub class: Option<MessageClass>,
    /// Compressed user data (TS 23.042); such text is returned as bytes, not decoded.
    pub compressed: bool,
    pub waiting: Option<MessageWaiting>,
}

impl Dcs {
    /// Interprets a TP-DCS octet.
    pub fn decode(raw: u8) -> Dcs {
        let mut dcs = Dcs {
            raw,
            alphabet: Alphabet::Gsm7,
            class: None,
            compressed: false,
            waiting: None,
        };
        match raw >> 4 {
            // 00xx general data coding, 01xx the same with automatic deletion.
            0x0..=0x7 => {
                dcs.compressed = raw & 0x20 != 0;
                dcs.alphabet = match (raw >> 2) & 0x03 {
                    0b01 => Alphabet::Eight,
                    0b10 => Alphabet::Ucs2,
                    _ => Alphabet::Gsm7,
                };
                if raw & 0x10 != 0 {
                    dcs.class = Some(class_of(raw));
                }
                if dcs.compressed {
                    dcs.alphabet = Alphabet::Eight;
                }
            }
            // 1000-1011 reserved: read as GSM-7.
            0x8..=0xB => {}
            0xC..=0xE => {
                dcs.alphabet = if raw >> 4 == 0xE {
                    Alphabet::Ucs2
                } else {
                    Alphabet::Gsm7
                };
                dcs.waiting = Some(MessageWaiting {
                    active: raw & 0x08 != 0,
                    kind: match raw & 0x03 {
                        0 => WaitingKind::Voicemail,
                        1 => WaitingKind::Fax,
                        2 => WaitingKind::Email,
                        _ => WaitingKind::Other,
                    },
                    discard: raw >> 4 == 0xC,
                });
            }
            // 1111: data coding / message class; bit 2 chooses 8-bit data.
            _ => {
                dcs.alphabet = if raw & 0x04 != 0 {
                    Alphabet::Eight
                } else {
                    Alphabet::Gsm7
                };
                dcs.class = Some(class_of(raw));
            }
        }
        dcs
    }

    /// The general-data-coding octet for sending: uncompressed, with the class bits when a class
    /// is wanted.
    pub fn encode(alphabet: Alphabet, class: Option<MessageClass>) -> u8 {
        let a = match alphabet {
            Alphabet::Gsm7 => 0x00,
            Alphabet::Eight => 0x04,
            Alphabet::Ucs2 => 0x08,
        };
        match class {
            None => a,
            Some(c) => a | 0x10 | class_bits(c),
        }
    }
}

fn class_of(raw: u8) -> MessageClass {
    match raw & 0x03 {
        0 => MessageClass::Flash,
        1 => MessageClass::Me,
        2 => MessageClass::Sim,
        _ => MessageClass::Te,
    }
}

fn class_bits(c: MessageClass) -> u8 {
    match c {
        MessageClass::Flash => 0,
        MessageClass::Me => 1,
        MessageClass::Sim => 2,
        MessageClass::Te => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn general_group_values_give_alphabet_and_class() {
        assert_eq!(Dcs::decode(0x00).alphabet, Alphabet::Gsm7);
        assert_eq!(Dcs::decode(0x00).class, None);
        assert_eq!(Dcs::decode(0x08).alphabet, Alphabet::Ucs2);
        assert_eq!(Dcs::decode(0x04).alphabet, Alphabet::Eight);
        let flash = Dcs::decode(0x10);
        assert_eq!(
            (flash.alphabet, flash.class),
            (Alphabet::Gsm7, Some(MessageClass::Flash))
        );
        let ucs2_sim = Dcs::decode(0x1A);
        assert_eq!(
            (ucs2_sim.alphabet, ucs2_sim.class),
            (Alphabet::Ucs2, Some(MessageClass::Sim))
        );
        // Automatic-deletion group 01xx reads the same low bits.
        assert_eq!(Dcs::decode(0x48).alphabet, Alphabet::Ucs2);
        // Reserved alphabet 11 is GSM-7.
        assert_eq!(Dcs::decode(0x0C).alphabet, Alphabet::Gsm7);
    }

    #[test]
    fn compressed_text_is_treated_as_bytes() {
        let d = Dcs::decode(0x28);
        assert!(d.compressed);
        assert_eq!(d.alphabet, Alphabet::Eight);
    }

    #[test]
    fn group_f_chooses_between_gsm7_and_8bit() {
        // ModemManager test_pdu_dcsf1 (0xF1, GSM-7 class 1) and test_pdu_dcsf_8bit (0xF4).
        let f1 = Dcs::decode(0xF1);
        assert_eq!(
            (f1.alphabet, f1.class),
            (Alphabet::Gsm7, Some(MessageClass::Me))
        );
        assert_eq!(Dcs::decode(0xF4).alphabet, Alphabet::Eight);
    }

    #[test]
    fn message_waiting_groups_carry_the_indication() {
        let vm_on = Dcs::decode(0xC8);
        assert_eq!(
            vm_on.waiting,
            Some(MessageWaiting {
                active: true,
                kind: WaitingKind::Voicemail,
                discard: true
            })
        );
        assert_eq!(vm_on.alphabet, Alphabet::Gsm7);
        let email_off_ucs2 = Dcs::decode(0xE2);
        assert_eq!(email_off_ucs2.alphabet, Alphabet::Ucs2);
        assert_eq!(
            email_off_ucs2
                .waiting
                .map(|w| (w.active, w.kind, w.discard)),
            Some((false, WaitingKind::Email, false))
        );
        assert_eq!(
            Dcs::decode(0xD9).waiting.map(|w| w.kind),
            Some(WaitingKind::Fax)
        );
    }

    #[test]
    fn every_octet_decodes_and_sending_octets_round_trip() {
        for raw in 0..=u8::MAX {
            let _ = Dcs::decode(raw);
        }
        for a in [Alphabet::Gsm7, Alphabet::Eight, Alphabet::Ucs2] {
            for c in [None, Some(MessageClass::Flash), Some(MessageClass::Te)] {
                let d = Dcs::decode(Dcs::encode(a, c));
                assert_eq!((d.alphabet, d.class), (a, c));
            }
        }
    }
}
