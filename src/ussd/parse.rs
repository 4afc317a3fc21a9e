//! The `+CUSD:` line (TS 27.007 §7.15): `+CUSD: <m>[,<str>[,<dcs>]]`.
//!
//! Pure and total. Shapes accepted (modem-quirks.md §9–10): `+CUSD: 0,"Balance:633,100r",15`
//! (commas inside the quotes), `+CUSD: 2,"Balance:633,100r"` (no dcs), `+CUSD: 0,""`,
//! `+CUSD: 4` (no text), `+CUSD: 1,"1. Buy\n2. Exit",15` (the engine joins a text that spans
//! lines with `\n`), `+CUSD:1,"00200044",72` (no space), and an unquoted text some modems send.
//! The parser lives in `at::urc` beside the URC table; these tests pin it from the USSD side.

// One parse of `+CUSD:` for the engine (which types every URC once) and for callers holding a
// line (`simkeep decode ussd`); it lives with the URC table in `at::urc`.
pub use crate::at::urc::{parse_cusd, Cusd};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(status: u8, text: Option<&str>, dcs: Option<u8>) -> Option<Cusd> {
        Some(Cusd {
            status,
            text: text.map(str::to_string),
            dcs,
        })
    }

    #[test]
    fn real_reply_shapes() {
        // modem-quirks.md §10 (decimal comma inside the quotes, status 2 with text).
        assert_eq!(
            parse_cusd("+CUSD: 2,\"Balance:633,100r\""),
            c(2, Some("Balance:633,100r"), None)
        );
        assert_eq!(
            parse_cusd("+CUSD: 0,\"Balance:633,100r\",15"),
            c(0, Some("Balance:633,100r"), Some(15))
        );
        // §9: UCS2 with dcs 72 and a ZTE reply labelled 7.
        assert_eq!(
            parse_cusd("+CUSD: 0,\"0414043B044F\",72"),
            c(0, Some("0414043B044F"), Some(72))
        );
        assert_eq!(
            parse_cusd("+CUSD:1,\"00200044\",7"),
            c(1, Some("00200044"), Some(7))
        );
        assert_eq!(parse_cusd("+CUSD: 0,\"\""), c(0, Some(""), None));
        assert_eq!(parse_cusd("+CUSD: 4"), c(4, None, None));
        assert_eq!(
            parse_cusd("+CUSD: 1,\"1. Buy\n2. Exit\",15"),
            c(1, Some("1. Buy\n2. Exit"), Some(15))
        );
        assert_eq!(
            parse_cusd("+CUSD: 0,Balance 5,15"),
            c(0, Some("Balance 5"), Some(15))
        );
        assert_eq!(parse_cusd("+CUSD: x"), None);
        assert_eq!(parse_cusd("+CREG: 1"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic(s in "\\PC*") {
            let _ = parse_cusd(&s);
            let _ = parse_cusd(&format!("+CUSD: {s}"));
        }
    }
}
