//! The `+CUSD:` line (TS 27.007 §7.15): `+CUSD: <m>[,<str>[,<dcs>]]`.
//!
//! Pure and total. Shapes accepted (modem-quirks.md §9–10): `+CUSD: 0,"Balance:633,100r",15`
//! (commas inside the quotes), `+CUSD: 2,"Balance:633,100r"` (no dcs), `+CUSD: 0,""`,
//! `+CUSD: 4` (no text), `+CUSD: 1,"1. Buy\n2. Exit",15` (the engine joins a text that spans
//! lines with `\n`), `+CUSD:1,"00200044",72` (no space), and an unquoted text some modems send.

/// A parsed `+CUSD:` line; the text still encoded as the modem sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cusd {
    pub status: u8,
    pub text: Option<String>,
    pub dcs: Option<u8>,
}

pub fn parse_cusd(line: &str) -> Option<Cusd> {
    let rest = line.strip_prefix("+CUSD:")?.trim_start();
    let (status, rest) = match rest.split_once(',') {
        Some((s, r)) => (s, Some(r)),
        None => (rest, None),
    };
    let status = status.trim().parse().ok()?;
    let Some(rest) = rest.map(str::trim) else {
        return Some(Cusd {
            status,
            text: None,
            dcs: None,
        });
    };
    let (text, tail) = match rest.strip_prefix('"') {
        Some(inner) => match inner.rfind('"') {
            Some(end) => (inner.get(..end)?, inner.get(end + 1..)?),
            // An unterminated quote: take everything after it as the text.
            None => (inner, ""),
        },
        None => match rest.rsplit_once(',') {
            Some((t, d)) if d.trim().parse::<u8>().is_ok() => (t, d),
            _ => (rest, ""),
        },
    };
    let dcs = tail.trim().trim_start_matches(',').trim().parse().ok();
    Some(Cusd {
        status,
        text: Some(text.to_string()),
        dcs,
    })
}

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
