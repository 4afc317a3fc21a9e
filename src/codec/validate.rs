//! Validation of user-supplied USSD codes and phone numbers before they go into an AT command.
//!
//! A code or number ends up inside `AT+CUSD=1,"<code>",15` or `AT+CMGS`, so anything beyond
//! the allowed characters could inject a command (`"\r\nAT+CFUN=0` would switch the radio off).
//! Pure; errors show the input escaped (Rust debug form, capped in length) and never echo raw
//! control characters into logs or HTTP answers.

use thiserror::Error;

/// Longest USSD string: 182 characters (TS 23.038 §6.1.2.3 / TS 22.090 §2).
pub const MAX_USSD_LEN: usize = 182;
/// Longest number accepted (the 20 semi-octets a TP address holds, TS 23.040 §9.1.2.5).
pub const MAX_NUMBER_DIGITS: usize = 20;
/// Longest alphanumeric sender/short code (11 GSM-7 characters, TS 23.040 §9.1.2.5).
pub const MAX_ALPHANUMERIC_LEN: usize = 11;

/// Longest part of the input an error message shows.
const SHOWN_CHARS: usize = 64;

/// A rejected code or number. `input` holds the input escaped and cut to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidateError {
    #[error("ussd code {input} is not allowed: use 1 to 182 of the characters 0-9 * # +, e.g. \"*100#\"")]
    UssdCode { input: String },
    #[error("phone number {input} is not allowed: use an optional + and 1 to 20 digits, e.g. \"+491701234567\"")]
    PhoneNumber { input: String },
    #[error("phone number {input} is not allowed: use an optional + and 1 to 20 digits, or 1 to 11 letters and digits for a short code, e.g. \"Vodafone\"")]
    PhoneOrShortCode { input: String },
}

/// Rust debug form (quotes, `\r`, `\n`, `\"`, `\u{..}` escapes) of at most 64 characters.
fn shown(input: &str) -> String {
    let mut cut: String = input.chars().take(SHOWN_CHARS).collect();
    let longer = cut.len() < input.len();
    cut = format!("{cut:?}");
    if longer {
        cut.push('…');
    }
    cut
}

/// Accepts `[0-9*#+]{1,182}`.
pub fn validate_ussd_code(code: &str) -> Result<(), ValidateError> {
    let ok = !code.is_empty()
        && code.len() <= MAX_USSD_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(ValidateError::UssdCode { input: shown(code) })
    }
}

/// Accepts `+?[0-9]{1,20}`, or when `allow_alphanumeric`, also 1 to 11 ASCII letters and digits.
pub fn validate_phone_number(number: &str, allow_alphanumeric: bool) -> Result<(), ValidateError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if !digits.is_empty()
        && digits.len() <= MAX_NUMBER_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok(());
    }
    if !allow_alphanumeric {
        return Err(ValidateError::PhoneNumber {
            input: shown(number),
        });
    }
    if !number.is_empty()
        && number.len() <= MAX_ALPHANUMERIC_LEN
        && number.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Ok(());
    }
    Err(ValidateError::PhoneOrShortCode {
        input: shown(number),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_codes_are_accepted() {
        for code in ["*100#", "*#123#", "#", "*135*1*2#", "+", &"1".repeat(182)] {
            assert_eq!(validate_ussd_code(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn an_injected_at_command_is_refused_and_shown_escaped() {
        let err = validate_ussd_code("\"\r\nAT+CFUN=0").unwrap_err();
        assert_eq!(
            err,
            ValidateError::UssdCode {
                input: "\"\\\"\\r\\nAT+CFUN=0\"".into()
            }
        );
        let msg = err.to_string();
        assert!(msg.contains(r#""\"\r\nAT+CFUN=0""#), "{msg}");
        assert!(!msg.contains('\r') && !msg.contains('\n'), "{msg}");
        assert!(msg.contains("0-9 * # +"), "{msg}");
    }

    #[test]
    fn empty_too_long_and_foreign_codes_are_refused() {
        assert!(validate_ussd_code("").is_err());
        assert!(validate_ussd_code(&"1".repeat(183)).is_err());
        assert!(validate_ussd_code("*100# ").is_err());
        assert!(validate_ussd_code("*1００#").is_err());
        let long = validate_ussd_code(&"x".repeat(500))
            .unwrap_err()
            .to_string();
        assert!(long.len() < 300 && long.contains('…'), "{long}");
    }

    #[test]
    fn numbers_follow_the_plus_and_digits_rule() {
        for n in ["+491701234567", "1002", "+1", &"9".repeat(20)] {
            assert_eq!(validate_phone_number(n, false), Ok(()), "{n}");
        }
        for n in [
            "",
            "+",
            "++1",
            "+49 170",
            "49-170",
            &"9".repeat(21),
            "InternetSMS",
            "1\r\nAT",
        ] {
            assert!(
                matches!(
                    validate_phone_number(n, false),
                    Err(ValidateError::PhoneNumber { .. })
                ),
                "{n}"
            );
        }
    }

    #[test]
    fn short_codes_need_permission() {
        assert_eq!(validate_phone_number("InternetSMS", true), Ok(()));
        assert_eq!(validate_phone_number("Vodafone", true), Ok(()));
        let err = validate_phone_number("Internet SMS", true).unwrap_err();
        assert_eq!(
            err,
            ValidateError::PhoneOrShortCode {
                input: "\"Internet SMS\"".into()
            }
        );
        assert!(validate_phone_number("ABCDEFGHIJKL", true).is_err());
        assert!(validate_phone_number("Telekom\u{0}", true)
            .unwrap_err()
            .to_string()
            .contains("\\0"));
    }

    proptest! {
        #[test]
        fn errors_never_contain_control_characters(s in any::<String>(), alnum in any::<bool>()) {
            for e in [validate_ussd_code(&s).err(), validate_phone_number(&s, alnum).err()].into_iter().flatten() {
                prop_assert!(!e.to_string().chars().any(|c| c.is_control()));
            }
        }

        #[test]
        fn accepted_codes_are_exactly_the_allowed_pattern(s in "[0-9*#+a\r\n]{0,190}") {
            let expected = !s.is_empty() && s.len() <= 182 && s.chars().all(|c| c.is_ascii_digit() || "*#+".contains(c));
            prop_assert_eq!(validate_ussd_code(&s).is_ok(), expected);
        }
    }
}
