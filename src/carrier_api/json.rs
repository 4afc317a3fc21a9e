//! Pure helpers for carrier JSON replies: a dot path (`data.remaining`, `stats.0.data.volume`)
//! into a value, and the number found there as exact decimal text, turned into bytes with
//! integer arithmetic.
//!
//! It must not: go through `f64` for money or byte counts (a float MB figure such as
//! `435.787951` is taken as the digits serde_json prints for it, then scaled exactly), or
//! overflow (results saturate).

use serde_json::Value;

/// The value at `path`: keys separated by `.`; a segment of digits also indexes an array.
/// An empty path is the value itself.
pub fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    let mut cur = value;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(map) => map.get(seg)?,
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The number at `path` as plain decimal text (`"435.787951"`, `"-2"`, `"0.0000015"`): a JSON
/// number, or a string holding one (1NCE's usage history sends `"0.002803"`). Exponents are
/// expanded, so the text has only digits, at most one `.` and maybe a leading `-`.
pub fn json_number_path(value: &Value, path: &str) -> Option<String> {
    let text = match json_path(value, path)? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    plain_decimal(&text)
}

/// Expands `1.5e-7` to `0.00000015`; checks the shape of plain decimals.
fn plain_decimal(text: &str) -> Option<String> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
        return None;
    }
    // Beyond this no count fits a u64 anyway; refuse rather than build huge strings.
    if !(-64..=64).contains(&exp) {
        return None;
    }
    let all: String = format!("{int}{frac}");
    // The position of the decimal point within `all`, after applying the exponent.
    let point = i64::try_from(int.len()).ok()? + i64::from(exp);
    let (int_part, frac_part) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).ok()?);
        ("0".to_string(), format!("{zeros}{all}"))
    } else {
        let p = usize::try_from(point).ok()?;
        if p >= all.len() {
            (format!("{all}{}", "0".repeat(p - all.len())), String::new())
        } else {
            (all[..p].to_string(), all[p..].to_string())
        }
    };
    let int_part = match int_part.trim_start_matches('0') {
        "" => "0",
        s => s,
    };
    let frac_part = frac_part.trim_end_matches('0');
    let sign = if neg && (int_part != "0" || !frac_part.is_empty()) {
        "-"
    } else {
        ""
    };
    Some(if frac_part.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    })
}

/// `decimal × unit_bytes`, rounded down, saturating at `u64::MAX`; a negative amount is 0
/// (a carrier that reports -0.4 MB left has nothing left). `None` if `decimal` is not plain
/// decimal text.
pub fn decimal_to_bytes(decimal: &str, unit_bytes: u64) -> Option<u64> {
    if decimal.starts_with('-') {
        return plain_decimal(decimal).map(|_| 0);
    }
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
        return None;
    }
    let unit = u128::from(unit_bytes);
    let mut whole: u128 = 0;
    for b in int.bytes() {
        whole = match whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u128::from(b - b'0')))
        {
            Some(w) => w,
            None => return Some(u64::MAX),
        };
    }
    let mut total = match whole.checked_mul(unit) {
        Some(t) => t,
        None => return Some(u64::MAX),
    };
    // The fraction: 18 digits keep f·unit below 10^18 · 2^64 < 2^124, exact in u128; digits
    // beyond the 18th change the result by less than unit/10^18 (< 19 bytes).
    let frac = &frac[..frac.len().min(18)];
    if !frac.is_empty() {
        let mut f: u128 = 0;
        for b in frac.bytes() {
            f = f * 10 + u128::from(b - b'0');
        }
        let scale = 10u128.pow(u32::try_from(frac.len()).unwrap_or(18));
        total = total.saturating_add(f * unit / scale);
    }
    Some(u64::try_from(total).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_objects_and_arrays() {
        let v = json!({"data": {"remaining": 767}, "stats": [{"data": {"volume": "0.002803"}}]});
        assert_eq!(json_path(&v, "data.remaining"), Some(&json!(767)));
        assert_eq!(
            json_number_path(&v, "stats.0.data.volume").as_deref(),
            Some("0.002803")
        );
        assert_eq!(json_path(&v, "stats.1"), None);
        assert_eq!(json_path(&v, "data.remaining.x"), None);
        assert_eq!(json_number_path(&v, "data"), None);
        assert_eq!(json_path(&v, ""), Some(&v));
    }

    #[test]
    fn the_1nce_quota_figure_is_read_exactly() {
        let v: Value =
            serde_json::from_str(r#"{"volume": 435.787951, "total_volume": 500}"#).unwrap();
        let d = json_number_path(&v, "volume").unwrap();
        assert_eq!(d, "435.787951");
        assert_eq!(decimal_to_bytes(&d, 1_000_000), Some(435_787_951));
        assert_eq!(decimal_to_bytes(&d, 1_048_576), Some(456_956_786)); // floor(456956786.6...)
    }

    #[test]
    fn exponents_are_expanded() {
        assert_eq!(plain_decimal("1.5e-7").as_deref(), Some("0.00000015"));
        assert_eq!(plain_decimal("1.5E3").as_deref(), Some("1500"));
        assert_eq!(plain_decimal("-0").as_deref(), Some("0"));
        assert_eq!(plain_decimal("007.50").as_deref(), Some("7.5"));
        assert_eq!(plain_decimal("1e999"), None);
        assert_eq!(plain_decimal("abc"), None);
        assert_eq!(plain_decimal("."), None);
    }

    #[test]
    fn bytes_round_down_saturate_and_clamp_negatives() {
        assert_eq!(decimal_to_bytes("0.9999999", 1), Some(0));
        assert_eq!(decimal_to_bytes("-3.5", 1_000_000), Some(0));
        assert_eq!(
            decimal_to_bytes("99999999999999999999999", 1_000_000),
            Some(u64::MAX)
        );
        assert_eq!(decimal_to_bytes("18446744073709551615", 1), Some(u64::MAX));
        assert_eq!(decimal_to_bytes("1.5", u64::MAX), Some(u64::MAX));
        assert_eq!(decimal_to_bytes("0.5", u64::MAX), Some(u64::MAX / 2));
        assert_eq!(decimal_to_bytes("x", 1), None);
    }

    proptest::proptest! {
        #[test]
        fn decimal_scaling_matches_a_u128_oracle(int in 0u64..1_000_000_000, frac in 0u32..1_000_000, unit in 1u64..(1 << 40)) {
            let text = format!("{int}.{frac:06}");
            let expected = (u128::from(int) * 1_000_000 + u128::from(frac)) * u128::from(unit) / 1_000_000;
            let expected = u64::try_from(expected).unwrap_or(u64::MAX);
            proptest::prop_assert_eq!(decimal_to_bytes(&text, unit), Some(expected));
        }
    }
}
