//! Exact money: a decimal with at most two places, kept as whole minor units (cents) in an `i64`.
//!
//! Prices and budgets come from the owner's config as `4.99`, `"4.99"` or `10000`; they are
//! compared and summed exactly. Must not: use floating point for arithmetic (a TOML float is
//! accepted only when its shortest written form has at most two decimals, and is then parsed as
//! text), or overflow silently — every sum is checked.

use std::fmt;

/// An amount of money in minor units (1/100 of the currency unit). Never negative when it comes
/// from [`Money::parse`] or [`Money::from_toml`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Largest accepted amount: 10^15 currency units, far above any top-up price, and small enough
/// that a sum of thousands of them still fits an `i64`.
const MAX_MINOR: i64 = 100_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "{input:?} is not an amount: write a number with at most 2 decimals, e.g. 4.99 or 10000"
    )]
    NotANumber { input: String },
    #[error("{input:?} has more than 2 decimals: write e.g. 4.99")]
    TooPrecise { input: String },
    #[error("{input:?} is negative: an amount must be 0 or more")]
    Negative { input: String },
    #[error("{input:?} is too large")]
    TooLarge { input: String },
    #[error("an amount must be a number or a string such as \"4.99\", not {found}")]
    WrongType { found: &'static str },
}

impl Money {
    pub const ZERO: Money = Money(0);

    /// `minor` cents (or whatever the currency's 1/100 unit is).
    pub const fn from_minor(minor: i64) -> Money {
        Money(minor)
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// Parses `10000`, `4.99`, `4.5`, `0.30`, `7.` (ASCII digits, at most one `.`, at most two
    /// decimals; surrounding spaces ignored).
    pub fn parse(input: &str) -> Result<Money, MoneyError> {
        let s = input.trim();
        let err = |f: fn(String) -> MoneyError| f(input.chars().take(40).collect());
        if s.starts_with('-') {
            return Err(err(|input| MoneyError::Negative { input }));
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(err(|input| MoneyError::NotANumber { input }));
        }
        // Trailing zeros beyond two places say nothing ("4.990" is 4.99).
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(err(|input| MoneyError::TooPrecise { input }));
        }
        let too_large = || err(|input| MoneyError::TooLarge { input });
        let mut minor: i64 = 0;
        for b in int.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(too_large)?;
            if minor > MAX_MINOR {
                return Err(too_large());
            }
        }
        let mut cents = 0i64;
        for (i, b) in frac.bytes().enumerate() {
            let place = if i == 0 { 10 } else { 1 };
            cents += i64::from(b - b'0') * place;
        }
        let total = minor
            .checked_mul(100)
            .and_then(|m| m.checked_add(cents))
            .filter(|m| *m <= MAX_MINOR)
            .ok_or_else(too_large)?;
        Ok(Money(total))
    }

    /// An amount as written in the TOML config: an integer, a string, or a float whose shortest
    /// written form has at most two decimals (`4.99` yes, `4.999` no).
    pub fn from_toml(value: &toml::Value) -> Result<Money, MoneyError> {
        match value {
            toml::Value::Integer(n) => Money::parse(&n.to_string()),
            toml::Value::String(s) => Money::parse(s),
            // Rust prints an f64 in its shortest round-trip form, so 4.99 prints "4.99" even
            // though the binary value is 4.9900000000000002131…; that text is what the owner wrote.
            toml::Value::Float(f) if f.is_finite() => Money::parse(&f.to_string()),
            toml::Value::Float(f) => Err(MoneyError::NotANumber {
                input: f.to_string(),
            }),
            toml::Value::Boolean(_) => Err(MoneyError::WrongType {
                found: "true/false",
            }),
            toml::Value::Datetime(_) => Err(MoneyError::WrongType { found: "a date" }),
            toml::Value::Array(_) => Err(MoneyError::WrongType { found: "a list" }),
            toml::Value::Table(_) => Err(MoneyError::WrongType { found: "a table" }),
        }
    }
}

/// A TOML value as the owner wrote it, for messages (toml's own printer is a feature we leave
/// out): `30`, `4.99`, `"4.99"`, `true`, `a list`.
pub fn toml_shown(v: &toml::Value) -> String {
    match v {
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// `10000`, `4.99`, `4.50`, `0.05`: whole amounts without decimals, others with exactly two.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (units, cents) = (abs / 100, abs % 100);
        if cents == 0 {
            write!(f, "{sign}{units}")
        } else {
            write!(f, "{sign}{units}.{cents:02}")
        }
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_as_owners_write_them() {
        for (text, minor) in [
            ("10000", 1_000_000),
            ("4.99", 499),
            ("4.5", 450),
            ("0.30", 30),
            ("0.05", 5),
            ("7.", 700),
            (".5", 50),
            (" 30 ", 3000),
            ("4.990", 499),
            ("0", 0),
        ] {
            assert_eq!(Money::parse(text), Ok(Money::from_minor(minor)), "{text}");
        }
    }

    #[test]
    fn bad_amounts_say_what_is_wrong() {
        assert!(matches!(
            Money::parse("4.999"),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse("-1"),
            Err(MoneyError::Negative { .. })
        ));
        assert!(matches!(
            Money::parse(""),
            Err(MoneyError::NotANumber { .. })
        ));
        assert!(matches!(
            Money::parse("."),
            Err(MoneyError::NotANumber { .. })
        ));
        assert!(matches!(
            Money::parse("4,99"),
            Err(MoneyError::NotANumber { .. })
        ));
        assert!(matches!(
            Money::parse("1e3"),
            Err(MoneyError::NotANumber { .. })
        ));
        assert!(matches!(
            Money::parse("€5"),
            Err(MoneyError::NotANumber { .. })
        ));
        assert!(matches!(
            Money::parse("99999999999999999999999"),
            Err(MoneyError::TooLarge { .. })
        ));
        let msg = Money::parse("4.999").unwrap_err().to_string();
        assert!(
            msg.contains("\"4.999\"") && msg.contains("2 decimals"),
            "{msg}"
        );
    }

    #[test]
    fn toml_integers_strings_and_short_floats_are_accepted() {
        let v: toml::Table =
            toml::from_str("a = 30\nb = \"4.99\"\nc = 4.99\nd = 4.999\ne = true\nf = 0.1\n")
                .unwrap();
        assert_eq!(Money::from_toml(&v["a"]), Ok(Money::from_minor(3000)));
        assert_eq!(Money::from_toml(&v["b"]), Ok(Money::from_minor(499)));
        assert_eq!(Money::from_toml(&v["c"]), Ok(Money::from_minor(499)));
        assert_eq!(Money::from_toml(&v["f"]), Ok(Money::from_minor(10)));
        assert!(matches!(
            Money::from_toml(&v["d"]),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert_eq!(
            Money::from_toml(&v["e"]).unwrap_err().to_string(),
            "an amount must be a number or a string such as \"4.99\", not true/false"
        );
    }

    #[test]
    fn display_is_what_the_owner_wrote() {
        assert_eq!(Money::from_minor(499).to_string(), "4.99");
        assert_eq!(Money::from_minor(450).to_string(), "4.50");
        assert_eq!(Money::from_minor(5).to_string(), "0.05");
        assert_eq!(Money::from_minor(1_000_000).to_string(), "10000");
        assert_eq!(Money::from_minor(-250).to_string(), "-2.50");
        assert_eq!(
            Money::from_minor(i64::MIN).to_string(),
            "-92233720368547758.08"
        );
    }

    #[test]
    fn sums_are_checked() {
        assert_eq!(
            Money::from_minor(i64::MAX).checked_add(Money::from_minor(1)),
            None
        );
        assert_eq!(
            Money::from_minor(250).checked_add(Money::from_minor(499)),
            Some(Money::from_minor(749))
        );
    }

    proptest! {
        #[test]
        fn display_parses_back(minor in 0i64..=MAX_MINOR) {
            let m = Money::from_minor(minor);
            prop_assert_eq!(Money::parse(&m.to_string()), Ok(m));
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = Money::parse(&s);
        }

        #[test]
        fn floats_with_two_places_mean_what_they_say(units in 0i64..10_000_000, cents in 0i64..100) {
            let text = format!("{units}.{cents:02}");
            let f: f64 = text.parse().unwrap();
            prop_assert_eq!(Money::from_toml(&toml::Value::Float(f)), Ok(Money::from_minor(units * 100 + cents)));
        }
    }
}
