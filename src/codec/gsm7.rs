//! GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1, §6.2.1.1), and the
//! septet packing used in SMS user data and USSD strings (TS 23.038 §6.1.2.1, TS 23.040 §9.2.3.24).
//!
//! Pure functions on slices: no I/O, never panics on any input. Decoding is total (unknown septets
//! become U+FFFD or the spec's fallback character); encoding refuses characters outside the
//! alphabet and names the first one.

use thiserror::Error;

/// The escape septet that introduces a character from the extension table (TS 23.038 §6.2.1.1).
pub const ESC: u8 = 0x1B;

/// Carriage return: the padding septet for USSD/CBS when 7 spare bits remain (TS 23.038 §6.1.2.3.1).
pub const CR: u8 = 0x0D;

/// The basic table, indexed by septet value. 0x1B (escape) is never decoded through this table.
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table entries defined for the default language (TS 23.038 §6.2.1.1).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// A character that has no GSM 7-bit representation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("character {ch:?} (U+{code:04X}) at position {index} is not in the GSM 7-bit alphabet: send the text as UCS2 instead", code = u32::from(*.ch))]
pub struct Gsm7Error {
    /// The first character that cannot be encoded.
    pub ch: char,
    /// Its position in the text, counted in characters.
    pub index: usize,
}

/// Septets for one character: `[c]`, `[ESC, c]`, or `None` when it is not in the alphabet.
pub fn char_septets(c: char) -> Option<([u8; 2], usize)> {
    if let Some(i) = basic_index(c) {
        return Some(([i, 0], 1));
    }
    EXTENSION
        .iter()
        .find(|(_, e)| *e == c)
        .map(|(code, _)| ([ESC, *code], 2))
}

fn basic_index(c: char) -> Option<u8> {
    // Letters and digits sit at their ASCII positions; this fast path covers most text.
    if c.is_ascii_alphanumeric() {
        return u8::try_from(u32::from(c)).ok();
    }
    // The escape slot displays as a space but must never be produced from a space.
    BASIC
        .iter()
        .enumerate()
        .find(|(i, b)| **b == c && *i != usize::from(ESC))
        .and_then(|(i, _)| u8::try_from(i).ok())
}

/// Encodes text to unpacked septets (one per byte, escape pairs included).
pub fn encode(text: &str) -> Result<Vec<u8>, Gsm7Error> {
    let mut out = Vec::with_capacity(text.len());
    for (index, ch) in text.chars().enumerate() {
        let (septets, n) = char_septets(ch).ok_or(Gsm7Error { ch, index })?;
        out.extend_from_slice(septets.get(..n).unwrap_or(&[]));
    }
    Ok(out)
}

/// Whether every character of `text` is in the default alphabet or its extension table.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| char_septets(c).is_some())
}

/// Number of septets `text` takes (an extension character counts 2).
pub fn septet_count(text: &str) -> Result<usize, Gsm7Error> {
    let mut total = 0usize;
    for (index, ch) in text.chars().enumerate() {
        let (_, n) = char_septets(ch).ok_or(Gsm7Error { ch, index })?;
        total = total.saturating_add(n);
    }
    Ok(total)
}

/// Decodes unpacked septets to text. Values above 0x7F become U+FFFD. An escape followed by a code
/// the extension table does not define shows the basic-table character (TS 23.038 §6.2.1.1); a
/// double escape or a trailing escape shows a space, as the spec asks for the reserved 0x1B 0x1B.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().copied();
    while let Some(s) = iter.next() {
        if s != ESC {
            out.push(basic_char(s));
            continue;
        }
        match iter.next() {
            None | Some(ESC) => out.push(' '),
            Some(code) => out.push(
                EXTENSION
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map_or_else(|| basic_char(code), |(_, ch)| *ch),
            ),
        }
    }
    out
}

fn basic_char(s: u8) -> char {
    BASIC.get(usize::from(s)).copied().unwrap_or('\u{FFFD}')
}

/// Whether a septet value maps to a character (used by content sniffing in `ussd`).
pub fn is_defined_septet(s: u8) -> bool {
    usize::from(s) < BASIC.len()
}

/// Packs septets into octets, least significant bit first (TS 23.038 §6.1.2.1.1). `fill_bits`
/// zero bits come first: this is the padding after a user data header that keeps the first
/// septet on a septet boundary counted from the start of the user data (TS 23.040 §9.2.3.24).
/// Only the low 7 bits of each septet are used.
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = usize::from(fill_bits);
    let bits = fill.saturating_add(septets.len().saturating_mul(7));
    let mut out = vec![0u8; bits.div_ceil(8)];
    for (i, s) in septets.iter().enumerate() {
        let bit = fill.saturating_add(i.saturating_mul(7));
        let (idx, shift) = (bit / 8, bit % 8);
        let v = u16::from(s & 0x7F) << shift;
        let [lo, hi] = v.to_le_bytes();
        if let Some(o) = out.get_mut(idx) {
            *o |= lo;
        }
        if let Some(o) = out.get_mut(idx.saturating_add(1)) {
            *o |= hi;
        }
    }
    out
}

/// Unpacks up to `count` septets from `octets`, skipping `fill_bits` leading bits. Stops early
/// when the octets run out, so the result may be shorter than `count`.
pub fn unpack(octets: &[u8], fill_bits: u8, count: usize) -> Vec<u8> {
    let fill = usize::from(fill_bits);
    let available = octets.len().saturating_mul(8).saturating_sub(fill) / 7;
    let n = count.min(available);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let bit = fill.saturating_add(i.saturating_mul(7));
        let (idx, shift) = (bit / 8, bit % 8);
        let lo = octets.get(idx).copied().unwrap_or(0);
        let hi = octets.get(idx.saturating_add(1)).copied().unwrap_or(0);
        let v = u16::from_le_bytes([lo, hi]) >> shift;
        let [low, _] = v.to_le_bytes();
        out.push(low & 0x7F);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hellohello_packs_to_the_classic_example() {
        // The "hellohello" user data of the widely quoted dreamfabric SMS tutorial PDU, also used
        // by ModemManager's test_pdu3 (src/tests/test-sms-part-3gpp.c).
        let septets = encode("hellohello").unwrap();
        assert_eq!(
            pack(&septets, 0),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(decode(&unpack(&pack(&septets, 0), 0, 10)), "hellohello");
    }

    #[test]
    fn extension_characters_take_an_escape_and_count_two_septets() {
        let text = "€[]{}\\~^|\u{0C}";
        let septets = encode(text).unwrap();
        assert_eq!(septets.len(), 20);
        assert!(septets.chunks(2).all(|p| p.first() == Some(&ESC)));
        assert_eq!(septet_count(text).unwrap(), 20);
        assert_eq!(decode(&septets), text);
        assert_eq!(encode("€").unwrap(), [0x1B, 0x65]);
    }

    #[test]
    fn basic_table_specials_map_to_their_spec_positions() {
        assert_eq!(
            encode("@£$¥Δ_¤¡§¿à").unwrap(),
            [0, 1, 2, 3, 0x10, 0x11, 0x24, 0x40, 0x5F, 0x60, 0x7F]
        );
        assert_eq!(decode(&[0x1C, 0x1D, 0x1E, 0x1F]), "ÆæßÉ");
    }

    #[test]
    fn encoding_names_the_first_unencodable_character() {
        let err = encode("abc€ç😀").unwrap_err();
        assert_eq!(err, Gsm7Error { ch: 'ç', index: 4 });
        assert!(err.to_string().contains("U+00E7"));
        assert!(!is_gsm7("tschüß ok ç"));
        assert!(is_gsm7("Grüße {€}"));
    }

    #[test]
    fn unknown_extension_code_shows_the_basic_character() {
        // TS 23.038 §6.2.1.1: an undefined extension code displays the basic-table character.
        assert_eq!(decode(&[ESC, 0x41]), "A");
        assert_eq!(decode(&[ESC, ESC, 0x41]), " A");
        assert_eq!(decode(&[0x41, ESC]), "A ");
        assert_eq!(decode(&[0x80, 0xFF]), "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn fill_bits_shift_the_first_septet() {
        // One fill bit after a 6-octet concatenation header: 'A' (0x41) starts at bit 1.
        assert_eq!(pack(&[0x41], 1), [0x82]);
        assert_eq!(unpack(&[0x82], 1, 1), [0x41]);
        assert_eq!(pack(&[0x7F], 6), [0xC0, 0x1F]);
        assert_eq!(unpack(&[0xC0, 0x1F], 6, 5), [0x7F]);
    }

    proptest! {
        #[test]
        fn pack_then_unpack_returns_the_septets_for_every_fill_offset(
            septets in proptest::collection::vec(0u8..128, 0..200),
            fill in 0u8..8,
        ) {
            let packed = pack(&septets, fill);
            prop_assert_eq!(unpack(&packed, fill, septets.len()), septets);
        }

        #[test]
        fn unpack_and_decode_never_panic(octets in proptest::collection::vec(any::<u8>(), 0..64), fill in any::<u8>(), count in any::<usize>()) {
            let s = unpack(&octets, fill, count);
            let _ = decode(&s);
            let _ = decode(&octets);
            let _ = pack(&octets, fill);
        }

        #[test]
        fn encodable_text_round_trips(text in "[@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !-~¡ÄÖÑÜ§¿äöñüà€\n\r]{0,80}") {
            // Printable ASCII except backtick is in the alphabet (backtick is not).
            let text: String = text.chars().filter(|c| *c != '`').collect();
            let septets = encode(&text).unwrap();
            prop_assert_eq!(septets.len(), septet_count(&text).unwrap());
            prop_assert_eq!(decode(&septets), text);
        }
    }
}
