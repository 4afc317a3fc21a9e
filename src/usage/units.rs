//! Byte sizes for people: `"20GB"`, `"500 MB"`, `"1.5GiB"`, `"0"` → bytes, bytes → `"1.25 GB"`,
//! plus the unit names carriers write (`兆`, `ギガ`, `ГБ`, `Go`) for the carrier-reply parser.
//!
//! Must not: use floating point for amounts (a quota must come out exact: 1.5 GiB is exactly
//! 1,610,612,736 bytes), or panic on overflow — every product is checked.
//!
//! KB/MB/GB/TB mean 1000ⁿ or 1024ⁿ depending on the carrier (`usage.unit_base`); KiB/MiB/GiB/TiB
//! are always 1024ⁿ (IEC 80000-13). Carriers use `Mb`, `mb`, `M` for megabytes, never megabits,
//! in balance replies, so case is ignored.

use serde::{Deserialize, Serialize};

/// What a carrier (or the owner's config) means by "KB": 1000 or 1024 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum UnitBase {
    Decimal,
    Binary,
}

impl UnitBase {
    /// 1000 → `Decimal`, 1024 → `Binary`, anything else `None`.
    pub fn from_number(n: i64) -> Option<UnitBase> {
        match n {
            1000 => Some(UnitBase::Decimal),
            1024 => Some(UnitBase::Binary),
            _ => None,
        }
    }

    pub fn factor(self) -> u64 {
        match self {
            UnitBase::Decimal => 1000,
            UnitBase::Binary => 1024,
        }
    }
}

impl TryFrom<u32> for UnitBase {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, Self::Error> {
        UnitBase::from_number(i64::from(n))
            .ok_or_else(|| format!("unit_base must be 1000 or 1024, not {n}"))
    }
}

impl From<UnitBase> for u32 {
    fn from(b: UnitBase) -> u32 {
        match b {
            UnitBase::Decimal => 1000,
            UnitBase::Binary => 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("empty size: write a number with a unit, e.g. \"20GB\" or \"500 MB\"")]
    Empty,
    #[error(
        "size {input:?} does not start with a number: write e.g. \"20GB\", \"1.5 GiB\" or \"0\""
    )]
    BadNumber { input: String },
    #[error(
        "size {input:?} has an unknown unit {unit:?}: use B, KB, MB, GB, TB or KiB, MiB, GiB, TiB"
    )]
    UnknownUnit { input: String, unit: String },
    #[error("size {input:?} is too large (more than 16 EiB)")]
    TooLarge { input: String },
}

/// An exact non-negative decimal: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: u128,
    pub scale: u32,
}

/// At most this many fractional digits are kept (more are cut off; no carrier sends them).
const MAX_SCALE: u32 = 18;
/// At most this many integer digits: beyond 10^24 no byte count fits in a u64 anyway.
const MAX_INT_DIGITS: usize = 24;

impl Decimal {
    /// Parses `123`, `1.5`, `.5`, `7.`; ASCII digits and at most one `.`, nothing else.
    pub fn parse_plain(s: &str) -> Option<Decimal> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        Decimal::from_parts(int, frac)
    }

    /// Builds a decimal from an integer digit string and a fractional digit string.
    pub fn from_parts(int: &str, frac: &str) -> Option<Decimal> {
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let int = int.trim_start_matches('0');
        if int.len() > MAX_INT_DIGITS {
            return None;
        }
        let mut mantissa: u128 = 0;
        let mut scale = 0u32;
        for b in int.bytes() {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(u128::from(b - b'0'))?;
        }
        for b in frac.bytes().take(MAX_SCALE as usize) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(u128::from(b - b'0'))?;
            scale += 1;
        }
        Some(Decimal { mantissa, scale })
    }

    /// `self × multiplier`, rounded to the nearest byte (halves up); `None` if above u64.
    pub fn times(self, multiplier: u64) -> Option<u64> {
        let product = self.mantissa.checked_mul(u128::from(multiplier))?;
        let div = 10u128.checked_pow(self.scale)?;
        let rounded = product.checked_add(div / 2)? / div;
        u64::try_from(rounded).ok()
    }
}

/// Bytes per `unit` (ASCII case ignored, surrounding spaces ignored), or `None` if unknown.
/// An empty unit means bytes.
pub fn unit_multiplier(unit: &str, base: UnitBase) -> Option<u64> {
    let lower = unit.trim().to_lowercase();
    let (power, binary) = match lower.as_str() {
        // Bytes; `o`/`octets` is French, `байт` Russian.
        "" | "b" | "byte" | "bytes" | "o" | "octet" | "octets" | "字节" | "字節" | "バイト"
        | "байт" => (0, false),
        "k" | "kb" | "kbs" | "kbyte" | "kbytes" | "ko" | "кб" | "千字节" | "キロ"
        | "キロバイト" => (1, false),
        // 兆 is the colloquial Chinese "MB" (China Mobile replies "剩余...500兆"); in Japanese 兆 is
        // 10^12 but never appears after a data amount.
        "m" | "mb" | "mbs" | "mbyte" | "mbytes" | "mo" | "мб" | "兆" | "兆字节" | "兆字節"
        | "メガ" | "メガバイト" => (2, false),
        "g" | "gb" | "gbs" | "gbyte" | "gbytes" | "go" | "гб" | "吉" | "吉字节" | "吉字節"
        | "ギガ" | "ギガバイト" => (3, false),
        "t" | "tb" | "tbs" | "tbyte" | "tbytes" | "to" | "тб" | "太字节" | "テラ"
        | "テラバイト" => (4, false),
        "kib" => (1, true),
        "mib" => (2, true),
        "gib" => (3, true),
        "tib" => (4, true),
        _ => return None,
    };
    let factor = if binary { 1024 } else { base.factor() };
    factor.checked_pow(power)
}

/// Parses a configured size such as `"20GB"`, `"500 MB"`, `"1.5GiB"`, `"0"` (bytes when no unit).
pub fn parse_size(input: &str, base: UnitBase) -> Result<u64, SizeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(SizeError::Empty);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let amount = Decimal::parse_plain(num).ok_or_else(|| SizeError::BadNumber {
        input: input.to_owned(),
    })?;
    let mult = unit_multiplier(unit, base).ok_or_else(|| SizeError::UnknownUnit {
        input: input.to_owned(),
        unit: unit.trim().to_owned(),
    })?;
    amount.times(mult).ok_or_else(|| SizeError::TooLarge {
        input: input.to_owned(),
    })
}

/// `bytes` for people, two decimals at most: `"1.25 GB"` (base 1000, SI symbols: `kB`, `MB`,
/// `GB`) or `"1.25 GiB"` (base 1024, IEC names, so that the text parses back to the same value).
/// One base per plan, never both: every size the owner reads goes through here.
pub fn format_size(bytes: u64, base: UnitBase) -> String {
    let names: [&str; 5] = match base {
        UnitBase::Decimal => ["B", "kB", "MB", "GB", "TB"],
        UnitBase::Binary => ["B", "KiB", "MiB", "GiB", "TiB"],
    };
    let factor = u128::from(base.factor());
    let value = u128::from(bytes);
    let mut unit = 1u128;
    let mut idx = 0;
    while idx + 1 < names.len() && value >= unit * factor {
        unit *= factor;
        idx += 1;
    }
    // Hundredths, rounded half up.
    let hundredths = (value * 100 + unit / 2) / unit;
    let (int, frac) = (hundredths / 100, hundredths % 100);
    let name = names.get(idx).copied().unwrap_or("B");
    match frac {
        0 => format!("{int} {name}"),
        f if f % 10 == 0 => format!("{int}.{} {name}", f / 10),
        f => format!("{int}.{f:02} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use UnitBase::{Binary, Decimal as Dec};

    #[test]
    fn config_sizes_parse_in_either_base() {
        assert_eq!(parse_size("20GB", Dec), Ok(20_000_000_000));
        assert_eq!(parse_size("20GB", Binary), Ok(21_474_836_480));
        assert_eq!(parse_size("500 MB", Dec), Ok(500_000_000));
        assert_eq!(parse_size("1.5GiB", Dec), Ok(1_610_612_736));
        assert_eq!(parse_size("0", Binary), Ok(0));
        assert_eq!(parse_size("1024", Dec), Ok(1024));
        assert_eq!(parse_size(" 2 tb ", Dec), Ok(2_000_000_000_000));
        assert_eq!(parse_size("0.5KB", Binary), Ok(512));
        assert_eq!(parse_size(".5 MiB", Dec), Ok(524_288));
        assert!(parse_size("16EiB-ish", Dec).is_err());
    }

    #[test]
    fn bad_sizes_name_the_input() {
        assert_eq!(parse_size("", Dec), Err(SizeError::Empty));
        assert_eq!(
            parse_size("GB", Dec),
            Err(SizeError::BadNumber { input: "GB".into() })
        );
        assert_eq!(
            parse_size("1.2.3GB", Dec),
            Err(SizeError::BadNumber {
                input: "1.2.3GB".into()
            })
        );
        assert_eq!(
            parse_size("20 GiGs", Dec),
            Err(SizeError::UnknownUnit {
                input: "20 GiGs".into(),
                unit: "GiGs".into()
            })
        );
        assert_eq!(
            parse_size("20000000 TB", Binary),
            Err(SizeError::TooLarge {
                input: "20000000 TB".into()
            })
        );
        let msg = parse_size("-5GB", Dec)
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default();
        assert!(msg.contains("\"-5GB\""), "{msg}");
    }

    #[test]
    fn carrier_unit_spellings_are_known() {
        for (unit, want) in [
            ("兆", 1_048_576),
            ("ギガ", 1_073_741_824),
            ("ГБ", 1_073_741_824),
            ("Go", 1_073_741_824),
            ("Mb", 1_048_576),
            ("m", 1_048_576),
            ("KiB", 1024),
            ("bytes", 1),
            ("", 1),
        ] {
            assert_eq!(unit_multiplier(unit, Binary), Some(want), "{unit}");
        }
        assert_eq!(unit_multiplier("GB", Dec), Some(1_000_000_000));
        assert_eq!(unit_multiplier("GiB", Dec), Some(1_073_741_824));
        assert_eq!(unit_multiplier("min", Dec), None);
    }

    #[test]
    fn decimals_round_to_the_nearest_byte() {
        let d = |s: &str| {
            Decimal::parse_plain(s).unwrap_or(Decimal {
                mantissa: 0,
                scale: 0,
            })
        };
        assert_eq!(d("1.25").times(1_073_741_824), Some(1_342_177_280));
        assert_eq!(d("0.1").times(1_048_576), Some(104_858)); // 104857.6
        assert_eq!(d("18446744073709551615").times(1), Some(u64::MAX));
        assert_eq!(d("18446744073709551616").times(1), None);
        assert_eq!(Decimal::parse_plain("."), None);
        assert_eq!(Decimal::parse_plain("1,5"), None);
    }

    #[test]
    fn sizes_format_for_people() {
        assert_eq!(format_size(0, Dec), "0 B");
        assert_eq!(format_size(999, Dec), "999 B");
        assert_eq!(format_size(1_250_000_000, Dec), "1.25 GB");
        assert_eq!(format_size(1_342_177_280, Binary), "1.25 GiB");
        assert_eq!(format_size(500_000_000, Dec), "500 MB");
        assert_eq!(format_size(1_500_000, Dec), "1.5 MB");
        assert_eq!(format_size(1_500, Dec), "1.5 kB");
        assert_eq!(format_size(1_536, Binary), "1.5 KiB");
        assert_eq!(format_size(u64::MAX, Dec), "18446744.07 TB");
    }

    proptest! {
        #[test]
        fn arbitrary_size_text_never_panics(s in "\\PC{0,30}", bin in any::<bool>()) {
            let _ = parse_size(&s, if bin { Binary } else { Dec });
        }

        #[test]
        fn formatted_sizes_parse_back_within_rounding(bytes in any::<u64>(), bin in any::<bool>()) {
            let base = if bin { Binary } else { Dec };
            let text = format_size(bytes, base);
            let back = parse_size(&text, base);
            prop_assert!(back.is_ok(), "{text}");
            let back = back.unwrap_or(0);
            // Two decimals of the chosen unit: error at most half a hundredth of it.
            let unit = text.split(' ').nth(1).and_then(|u| unit_multiplier(u, base)).unwrap_or(1);
            prop_assert!(back.abs_diff(bytes) <= unit / 200 + 1, "{bytes} -> {text} -> {back}");
        }
    }
}
