//! UCS2 as SMS and AT commands use it — really UTF-16 big-endian, so characters outside the BMP
//! (emoji) travel as surrogate pairs (TS 23.038 §6.2.3, TS 27.007 §5.5 "UCS2") — and the hex
//! helpers shared by the codec.
//!
//! Pure; never panics. Decoding is lossy by design: a lone surrogate or a dangling odd byte
//! becomes U+FFFD instead of failing, because a modem reply with one bad unit is still worth
//! reading.

use thiserror::Error;

/// Why a hex string could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HexError {
    #[error("hex string has odd length {len}: every byte needs two hex digits")]
    OddLength { len: usize },
    #[error("hex string has {found:?} at position {index}: only 0-9 and A-F are allowed")]
    NotHex { index: usize, found: char },
}

/// Encodes text as UTF-16BE bytes.
pub fn encode(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Number of UTF-16 code units `text` takes (a surrogate pair counts 2).
pub fn unit_count(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Decodes UTF-16BE bytes; lone surrogates and a trailing odd byte become U+FFFD.
pub fn decode(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|p| {
        u16::from_be_bytes([
            p.first().copied().unwrap_or(0),
            p.get(1).copied().unwrap_or(0),
        ])
    });
    let mut out: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if bytes.len() % 2 == 1 {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// Whether `bytes` is well-formed UTF-16BE (even length, every surrogate paired).
pub fn is_well_formed(bytes: &[u8]) -> bool {
    if bytes.len() % 2 == 1 {
        return false;
    }
    let units = bytes.chunks_exact(2).map(|p| {
        u16::from_be_bytes([
            p.first().copied().unwrap_or(0),
            p.get(1).copied().unwrap_or(0),
        ])
    });
    char::decode_utf16(units).all(|r| r.is_ok())
}

/// Upper-case hex, two digits per byte, as AT commands expect.
pub fn to_hex(bytes: &[u8]) -> String {
    // Indexes below are b >> 4 and b & 0x0F, both < 16.
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    out
}

/// Parses hex (either case, no separators, no whitespace) into bytes.
pub fn from_hex(hex: &str) -> Result<Vec<u8>, HexError> {
    // Check the characters first so a stray non-ASCII character is reported as such, not as
    // an odd length.
    if let Some((index, found)) = hex
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(HexError::NotHex { index, found });
    }
    let raw = hex.as_bytes();
    if raw.len() % 2 == 1 {
        return Err(HexError::OddLength { len: raw.len() });
    }
    Ok(raw
        .chunks_exact(2)
        .map(|p| {
            let hi = p.first().copied().map_or(0, nibble);
            let lo = p.get(1).copied().map_or(0, nibble);
            (hi << 4) | lo
        })
        .collect())
}

/// Whether `s` is non-empty, of even length and all hex digits.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn nibble(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cyrillic_text_encodes_as_in_the_modemmanager_creator_test() {
        // ModemManager src/tests/test-sms-part-3gpp.c test_create_pdu_ucs2_*: "Да" → 0414 0430.
        assert_eq!(to_hex(&encode("Да з")), "0414043000200437");
        assert_eq!(decode(&from_hex("0442043504410442").unwrap()), "тест");
    }

    #[test]
    fn emoji_travel_as_a_surrogate_pair() {
        assert_eq!(to_hex(&encode("😀")), "D83DDE00");
        assert_eq!(unit_count("a😀"), 3);
        assert_eq!(decode(&from_hex("D83DDE00").unwrap()), "😀");
    }

    #[test]
    fn lone_surrogates_and_odd_bytes_become_replacement_characters() {
        assert_eq!(decode(&[0xD8, 0x3D, 0x00, 0x41]), "\u{FFFD}A");
        assert_eq!(decode(&[0xDE, 0x00]), "\u{FFFD}");
        assert_eq!(decode(&[0x00, 0x41, 0x00]), "A\u{FFFD}");
        assert!(!is_well_formed(&[0xD8, 0x3D]));
        assert!(is_well_formed(&[0xD8, 0x3D, 0xDE, 0x00]));
    }

    #[test]
    fn bad_hex_is_reported_with_what_was_wrong() {
        assert_eq!(from_hex("ABC"), Err(HexError::OddLength { len: 3 }));
        assert_eq!(
            from_hex("0G"),
            Err(HexError::NotHex {
                index: 1,
                found: 'G'
            })
        );
        assert_eq!(
            from_hex("é0"),
            Err(HexError::NotHex {
                index: 0,
                found: 'é'
            })
        );
        assert!(from_hex("ABC")
            .unwrap_err()
            .to_string()
            .contains("odd length 3"));
        assert_eq!(from_hex("aBcD").unwrap(), [0xAB, 0xCD]);
        assert_eq!(from_hex("").unwrap(), Vec::<u8>::new());
    }

    proptest! {
        #[test]
        fn any_text_round_trips_through_utf16be(text in any::<String>()) {
            let bytes = encode(&text);
            prop_assert_eq!(bytes.len(), unit_count(&text) * 2);
            prop_assert_eq!(decode(&bytes), text);
        }

        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn arbitrary_strings_never_panic_the_decoders(s in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = from_hex(&s);
            let _ = decode(&bytes);
            let _ = is_well_formed(&bytes);
        }
    }
}
