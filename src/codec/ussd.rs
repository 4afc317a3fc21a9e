//! USSD strings for `AT+CUSD` (TS 27.007 §7.15): encoding requests the way different modems
//! want them, decoding replies whatever the modem did to them, and reading quoted strings in the
//! character set chosen with `AT+CSCS` (TS 27.007 §5.5).
//!
//! Pure, total functions: a reply always decodes to some text (the payload itself when nothing
//! better fits). Reply decoding looks at the content, not only the dcs, because modems mislabel
//! it (modem-quirks.md items 8-10: UCS2 hex labelled dcs 7 or 15, ASCII hex labelled 0, replies
//! already decoded).

use super::gsm7::{self, Gsm7Error};
use super::ucs2;
use super::Alphabet;

/// dcs for a GSM-7 request: "language unspecified" (TS 23.038 §5, CBS coding group 0000).
pub const DCS_GSM7: u8 = 15;
/// dcs for a UCS2 request: general data coding, UCS2 (TS 23.038 §5, 0100 1000).
pub const DCS_UCS2: u8 = 72;

/// How to put a request on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UssdEncoding {
    /// The code as typed (most modems, in `AT+CSCS="GSM"` or `"IRA"`).
    Text,
    /// Packed GSM-7 in hex, as Huawei modems want (`*#123#` → `AA514C361B01`).
    Gsm7Hex,
    /// UCS2 hex, for modems in `AT+CSCS="UCS2"`.
    Ucs2Hex,
}

/// The `<str>` and `<dcs>` of `AT+CUSD=1,<str>,<dcs>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdRequest {
    pub payload: String,
    pub dcs: u8,
}

/// Encodes a request string (validate it first with `validate::validate_ussd_code`).
pub fn encode_ussd_request(code: &str, encoding: UssdEncoding) -> Result<UssdRequest, Gsm7Error> {
    Ok(match encoding {
        UssdEncoding::Text => UssdRequest {
            payload: code.to_string(),
            dcs: DCS_GSM7,
        },
        UssdEncoding::Gsm7Hex => UssdRequest {
            payload: ucs2::to_hex(&pack_ussd(code)?),
            dcs: DCS_GSM7,
        },
        UssdEncoding::Ucs2Hex => UssdRequest {
            payload: ucs2::to_hex(&ucs2::encode(code)),
            dcs: DCS_UCS2,
        },
    })
}

/// Packs text as GSM-7 for USSD/CBS. When the last octet would end in 7 spare bits, a CR fills
/// them so the receiver does not read an '@'; a wanted final CR on an octet boundary gets a
/// second CR (TS 23.038 §6.1.2.3.1).
pub fn pack_ussd(text: &str) -> Result<Vec<u8>, Gsm7Error> {
    let mut septets = gsm7::encode(text)?;
    let n = septets.len();
    if n % 8 == 7 || (n % 8 == 0 && septets.last() == Some(&gsm7::CR)) {
        septets.push(gsm7::CR);
    }
    Ok(gsm7::pack(&septets, 0))
}

/// Unpacks USSD GSM-7, dropping the padding septet from a whole number of 7-octet groups: a CR
/// (the spec's padding) or a 0 from senders that pad with zero bits.
pub fn unpack_ussd(octets: &[u8]) -> String {
    let mut septets = gsm7::unpack(octets, 0, usize::MAX);
    if septets.len() % 8 == 0 && matches!(septets.last(), Some(&gsm7::CR) | Some(&0)) {
        septets.pop();
    }
    gsm7::decode(&septets)
}

/// What the dcs of a reply claims (TS 23.038 §5, CBS data coding scheme); `None` for groups
/// that say nothing about the alphabet.
pub fn dcs_alphabet(dcs: u8) -> Option<Alphabet> {
    let by_bits = |d: u8| match (d >> 2) & 0x03 {
        0b01 => Alphabet::Eight,
        0b10 => Alphabet::Ucs2,
        _ => Alphabet::Gsm7,
    };
    match dcs >> 4 {
        0x0 | 0x2 | 0x3 => Some(Alphabet::Gsm7),
        0x1 => Some(if dcs & 0x0F == 1 {
            Alphabet::Ucs2
        } else {
            Alphabet::Gsm7
        }),
        0x4..=0x7 | 0x9 => Some(by_bits(dcs)),
        0xF => Some(if dcs & 0x04 != 0 {
            Alphabet::Eight
        } else {
            Alphabet::Gsm7
        }),
        _ => None,
    }
}

/// Decodes the `<str>` of a `+CUSD` reply (quotes already removed).
///
/// Text that is not hex comes back unchanged (the modem decoded it already), and so does text
/// made only of decimal digits or only of A-F letters unless the dcs says UCS2 — "1234" or
/// "CAFE" are far likelier to be words than hex. Otherwise each reading that can apply (UCS2,
/// 8-bit/ASCII, packed GSM-7) is scored by how much of it looks like text, and the best wins;
/// the dcs only breaks near-ties.
pub fn decode_ussd_reply(payload: &str, dcs: Option<u8>) -> String {
    let hex = payload.trim_matches(|c: char| c.is_ascii_whitespace());
    let hint = dcs.and_then(dcs_alphabet);
    let Ok(bytes) = ucs2::from_hex(hex) else {
        return payload.to_string();
    };
    if bytes.is_empty() {
        return payload.to_string();
    }
    if hint == Some(Alphabet::Ucs2) && bytes.len() % 2 == 0 && ucs2::is_well_formed(&bytes) {
        return ucs2::decode(&bytes);
    }
    let all_digits = hex.bytes().all(|b| b.is_ascii_digit());
    let all_letters = hex.bytes().all(|b| b.is_ascii_alphabetic());
    if (all_digits && !is_latin_ucs2(&bytes)) || all_letters {
        return payload.to_string();
    }
    let mut best: Option<(f32, String)> = None;
    let mut consider = |alphabet: Alphabet, text: Option<String>| {
        let Some(text) = text else { return };
        let bonus = if hint == Some(alphabet) { 0.05 } else { 0.0 };
        let score = text_score(&text) + bonus;
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, text));
        }
    };
    // Order matters on equal scores: the first reading wins. ASCII text read as UCS2 looks
    // like CJK ideographs, which score as well as real text, so ASCII goes first.
    consider(Alphabet::Eight, latin_text(&bytes));
    let ucs2_ok = bytes.len() % 2 == 0 && ucs2::is_well_formed(&bytes);
    consider(Alphabet::Ucs2, ucs2_ok.then(|| ucs2::decode(&bytes)));
    consider(Alphabet::Gsm7, Some(unpack_ussd(&bytes)));
    match best {
        Some((score, text)) if score >= 0.75 => text,
        _ => payload.to_string(),
    }
}

/// UCS2 whose every unit is a printable Latin-1 character (00xx): the clear signature of
/// UCS2-encoded Latin text such as "00310032".
fn is_latin_ucs2(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.len() % 2 == 0
        && bytes
            .chunks_exact(2)
            .all(|u| matches!(u, [0, lo] if *lo >= 0x20 && *lo != 0x7F))
}

/// Bytes read as Latin-1 when every one is printable or common whitespace. Very short readings
/// without a space or lower-case letter are not offered: the UCS2 of one ideograph ("4E2D",
/// 中) would otherwise read as "N-".
fn latin_text(bytes: &[u8]) -> Option<String> {
    let ok = |b: u8| matches!(b, b'\n' | b'\r' | b'\t' | 0x20..=0x7E | 0xA0..=0xFF);
    let wordy = bytes.len() >= 6 || bytes.iter().any(|b| *b == b' ' || b.is_ascii_lowercase());
    (wordy && bytes.iter().all(|b| ok(*b))).then(|| bytes.iter().map(|b| char::from(*b)).collect())
}

/// How much a decoded reading looks like ordinary text, 0.0-1.0: the mean of per-character
/// weights. Garbage from a wrong reading is full of '@', accented Latin and Greek capitals
/// (GSM-7 of UCS2 bytes) or control characters, so those weigh less than plain letters.
fn text_score(text: &str) -> f32 {
    let (mut sum, mut total) = (0u32, 0u32);
    for c in text.chars() {
        total = total.saturating_add(1);
        sum = sum.saturating_add(char_weight(c));
    }
    if total == 0 {
        return 0.0;
    }
    // Both counts are bounded by the payload length; f32 is ample for a ratio.
    sum as f32 / (total as f32 * 10.0)
}

/// Weight of one character in tenths.
fn char_weight(c: char) -> u32 {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | ' ' | '\n' | '\r' => 10,
        '.' | ',' | ':' | ';' | '!' | '?' | '-' | '%' | '(' | ')' | '/' | '\'' | '"' | '*'
        | '#' | '+' => 10,
        _ if c.is_ascii_punctuation() => 5,
        '\u{A1}'..='\u{BF}' | '€' => 5,
        // Latin-1, Latin Extended, IPA, Greek: real but also what mis-decoding produces.
        '\u{C0}'..='\u{3FF}' if c.is_alphanumeric() => 7,
        '\u{2010}'..='\u{2027}' | '\u{3000}'..='\u{303F}' | '\u{1F300}'..='\u{1FAFF}' => 10,
        _ if c.is_alphanumeric() => 10,
        _ => 0,
    }
}

/// Character sets of `AT+CSCS` (TS 27.007 §5.5) that simkeep understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// GSM 7-bit default alphabet, one unpacked septet per character on the line.
    Gsm,
    /// International reference alphabet (ASCII).
    Ira,
    /// UCS2 as 4 hex digits per UTF-16 unit.
    Ucs2,
    /// Two hex digits per character code of the modem's alphabet (read as GSM septets).
    Hex,
}

impl Charset {
    /// Parses the name `AT+CSCS?` returns (`+CSCS: "UCS2"`), quotes allowed, any case.
    pub fn from_cscs(name: &str) -> Option<Charset> {
        match name.trim().trim_matches('"').to_ascii_uppercase().as_str() {
            "GSM" => Some(Charset::Gsm),
            "IRA" => Some(Charset::Ira),
            "UCS2" => Some(Charset::Ucs2),
            "HEX" => Some(Charset::Hex),
            _ => None,
        }
    }

    /// Decodes a string field in this charset. Something that does not fit the charset (e.g. a
    /// plain "311480" operator code while in UCS2, modem-quirks.md item 7) comes back unchanged.
    pub fn decode(self, s: &str) -> String {
        match self {
            Charset::Ira => s.to_string(),
            Charset::Gsm => decode_gsm_line(s),
            Charset::Ucs2 => match ucs2::from_hex(s) {
                Ok(b) if !b.is_empty() && b.len() % 2 == 0 => ucs2::decode(&b),
                _ => s.to_string(),
            },
            Charset::Hex => match ucs2::from_hex(s) {
                Ok(b) if !b.is_empty() => gsm7::decode(&b),
                _ => s.to_string(),
            },
        }
    }
}

/// Characters below U+0080 are septet values; anything else is passed through (some modems
/// send UTF-8 even in "GSM" mode).
fn decode_gsm_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run: Vec<u8> = Vec::new();
    for c in s.chars() {
        match u8::try_from(u32::from(c)).ok().filter(|b| *b < 0x80) {
            Some(b) => run.push(b),
            None => {
                out.push_str(&gsm7::decode(&run));
                run.clear();
                out.push(c);
            }
        }
    }
    out.push_str(&gsm7::decode(&run));
    out
}

/// Decodes a quoted AT string field (`"..."`; unquoted is accepted) in `charset`.
pub fn decode_quoted(s: &str, charset: Charset) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(s);
    charset.decode(inner)
}

#[cfg(test)]
#[path = "ussd_tests.rs"]
mod tests;
