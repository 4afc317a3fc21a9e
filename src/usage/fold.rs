//! `fold_compat`: the part of Unicode NFKC (UAX #15) that matters for carrier balance messages,
//! so one ASCII rule matches `１，２３４．５ＭＢ` as well as `1,234.5MB`.
//!
//! Must not: pull in Unicode tables (flash is tight; unicode-normalization would add ~250 KB), or
//! change text that NFKC would leave alone — except where noted, every mapping here is exactly
//! NFKC's (checked against Python's `unicodedata.normalize("NFKC", ...)` in the tests).
//!
//! Covered (UnicodeData.txt decomposition types `<wide>`, `<narrow>`, `<noBreak>`, `<square>`,
//! `<compat>`, `<small>`):
//! - full-width ASCII U+FF01–FF5E → U+0021–007E (digits, letters, `，．：（）％`);
//! - ideographic space U+3000 and the no-break/fixed-width spaces U+00A0, U+2000–200A, U+202F,
//!   U+205F → U+0020 (French and Russian carriers group thousands with U+00A0 / U+202F);
//! - half-width katakana and CJK punctuation U+FF61–FF9F → full-width, composing ﾞ/ﾟ with the
//!   kana before them (`ﾃﾞｰﾀ` → `データ`), as feature-phone-era Japanese SMS use them;
//! - squared units ㎅ ㎆ ㎇ (U+3385–3387 → KB MB GB) and ㌐ ㌔ ㍋ (U+3310, 3314, 334B → ギガ
//!   キロ メガ);
//! - small form variants ﹐﹒﹕ (U+FE50, FE52, FE55) and full-width signs ￠￡￢￤￥￦.
//!
//! Not covered: Hangul jamo, ligatures, super/subscripts, circled numbers, Arabic-Indic digits (not
//! NFKC either), and canonical composition beyond the kana marks.

/// Full-width forms of U+FF61..=U+FF9F (half-width katakana block), in order.
const HALFWIDTH_KANA: [u16; 63] = [
    0x3002, 0x300C, 0x300D, 0x3001, 0x30FB, 0x30F2, 0x30A1, 0x30A3, 0x30A5, 0x30A7, 0x30A9, 0x30E3,
    0x30E5, 0x30E7, 0x30C3, 0x30FC, 0x30A2, 0x30A4, 0x30A6, 0x30A8, 0x30AA, 0x30AB, 0x30AD, 0x30AF,
    0x30B1, 0x30B3, 0x30B5, 0x30B7, 0x30B9, 0x30BB, 0x30BD, 0x30BF, 0x30C1, 0x30C4, 0x30C6, 0x30C8,
    0x30CA, 0x30CB, 0x30CC, 0x30CD, 0x30CE, 0x30CF, 0x30D2, 0x30D5, 0x30D8, 0x30DB, 0x30DE, 0x30DF,
    0x30E0, 0x30E1, 0x30E2, 0x30E4, 0x30E6, 0x30E8, 0x30E9, 0x30EA, 0x30EB, 0x30EC, 0x30ED, 0x30EF,
    0x30F3, 0x3099, 0x309A,
];

const VOICED_MARK: char = '\u{3099}';
const SEMI_VOICED_MARK: char = '\u{309A}';

/// Compatibility-folds `text` (see the module comment for what is covered).
pub fn fold_compat(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match map_char(c) {
            Mapped::One(m) if m == VOICED_MARK || m == SEMI_VOICED_MARK => {
                // Canonical composition: a kana followed by a (half-width) sound mark.
                let composed = out.chars().last().and_then(|prev| compose(prev, m));
                match composed {
                    Some(k) => {
                        out.pop();
                        out.push(k);
                    }
                    None => out.push(m),
                }
            }
            Mapped::One(m) => out.push(m),
            Mapped::Str(s) => out.push_str(s),
        }
    }
    out
}

enum Mapped {
    One(char),
    Str(&'static str),
}

fn map_char(c: char) -> Mapped {
    let code = u32::from(c);
    let one = |v: u32| Mapped::One(char::from_u32(v).unwrap_or(c));
    match code {
        // Full-width ASCII: a fixed distance of 0xFEE0 from ASCII.
        0xFF01..=0xFF5E => one(code - 0xFEE0),
        0x3000 | 0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F => Mapped::One(' '),
        0xFF61..=0xFF9F => {
            let idx = usize::try_from(code - 0xFF61).unwrap_or(usize::MAX);
            HALFWIDTH_KANA
                .get(idx)
                .map_or(Mapped::One(c), |&k| one(u32::from(k)))
        }
        0x3385 => Mapped::Str("KB"),
        0x3386 => Mapped::Str("MB"),
        0x3387 => Mapped::Str("GB"),
        0x3310 => Mapped::Str("ギガ"),
        0x3314 => Mapped::Str("キロ"),
        0x334B => Mapped::Str("メガ"),
        0xFE50 => Mapped::One(','),
        0xFE52 => Mapped::One('.'),
        0xFE55 => Mapped::One(':'),
        0xFFE0 => Mapped::One('\u{A2}'),
        0xFFE1 => Mapped::One('\u{A3}'),
        0xFFE2 => Mapped::One('\u{AC}'),
        0xFFE4 => Mapped::One('\u{A6}'),
        0xFFE5 => Mapped::One('\u{A5}'),
        0xFFE6 => Mapped::One('\u{20A9}'),
        _ => Mapped::One(c),
    }
}

/// The precomposed katakana for `base` + sound `mark`, if Unicode has one.
fn compose(base: char, mark: char) -> Option<char> {
    let b = u32::from(base);
    let is_ha_row = matches!(b, 0x30CF | 0x30D2 | 0x30D5 | 0x30D8 | 0x30DB);
    let composed = if mark == VOICED_MARK {
        match b {
            // カ…チ (every other code point), ツ テ ト, and the ハ row: voiced form is the next one.
            0x30AB..=0x30C1 if (b - 0x30AB) % 2 == 0 => b + 1,
            0x30C4 | 0x30C6 | 0x30C8 => b + 1,
            _ if is_ha_row => b + 1,
            0x30A6 => 0x30F4, // ウ → ヴ
            0x30EF => 0x30F7, // ワ → ヷ
            0x30F2 => 0x30FA, // ヲ → ヺ
            _ => return None,
        }
    } else if is_ha_row {
        b + 2 // ハ → パ
    } else {
        return None;
    };
    char::from_u32(composed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (input, expected) pairs; every expected string is Python 3.12
    /// `unicodedata.normalize("NFKC", input)` output.
    const NFKC_CASES: &[(&str, &str)] = &[
        ("１，２３４．５ＭＢ", "1,234.5MB"),
        ("残りデータ量：５００ＭＢ", "残りデータ量:500MB"),
        ("剩余流量\u{3000}１．２５ＧＢ", "剩余流量 1.25GB"),
        ("ﾃﾞｰﾀ残量 1.5GB", "データ残量 1.5GB"),
        ("ﾊﾟｹｯﾄ", "パケット"),
        ("ｳﾞｧ", "ヴァ"),
        ("残り\u{3386}", "残りMB"),
        ("３\u{3310}", "3ギガ"),
        ("1\u{202F}234,5\u{A0}Mo", "1 234,5 Mo"),
        ("（５００ＭＢ）", "(500MB)"),
        ("￥１，０００", "¥1,000"),
        ("plain ascii 1.5 GB", "plain ascii 1.5 GB"),
        ("剩余流量1.25GB", "剩余流量1.25GB"),
        ("ﾟ", "\u{309A}"),
        ("ｱﾞ", "ア\u{3099}"),
        ("１﹐２３４﹒５", "1,234.5"),
    ];

    #[test]
    fn folding_matches_nfkc_on_carrier_text() {
        for (input, want) in NFKC_CASES {
            assert_eq!(fold_compat(input), *want, "{input}");
        }
    }

    #[test]
    fn whole_full_width_ascii_block_maps_to_ascii() {
        for code in 0xFF01u32..=0xFF5E {
            let c = char::from_u32(code).unwrap_or(' ');
            let folded = fold_compat(&c.to_string());
            assert_eq!(
                folded.chars().map(u32::from).collect::<Vec<_>>(),
                vec![code - 0xFEE0]
            );
        }
    }

    #[test]
    fn text_nfkc_leaves_alone_is_unchanged() {
        for s in ["、。「」", "Осталось 1,5 ГБ", "剩余流量", "\u{200B}"] {
            assert_eq!(fold_compat(s), s);
        }
    }

    proptest! {
        #[test]
        fn folding_arbitrary_text_never_panics_and_keeps_ascii(s in "\\PC{0,60}") {
            let folded = fold_compat(&s);
            if s.is_ascii() {
                prop_assert_eq!(folded, s);
            }
        }
    }
}
