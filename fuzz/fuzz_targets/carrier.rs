//! Carrier balance replies (`usage::carrier`): the built-in rules under every decimal mark and
//! unit base, an owner's own rule, and the amount and size readers under them.
//!
//! Input: byte 0 picks the decimal mark (bits 0-1), the unit base (bit 2) and, with bit 3, an
//! owner rule: then the first line of the rest is the rule's regex and the remainder the reply.
//! Invariants: no panic (amount × unit is checked, never wraps); an error or help reply is
//! never a reading.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use simkeep::usage::carrier::{is_not_a_balance, parse_amount};
use simkeep::usage::{fold_compat, format_size, parse_size, CarrierRules, DecimalMark, UnitBase};

const MARKS: [DecimalMark; 3] = [DecimalMark::Auto, DecimalMark::Point, DecimalMark::Comma];

/// The built-in rules, compiled once per (mark, base): compiling is the slow part.
fn defaults(mark: usize, base: usize) -> &'static CarrierRules {
    static RULES: OnceLock<Vec<CarrierRules>> = OnceLock::new();
    let all = RULES.get_or_init(|| {
        let mut v = Vec::new();
        for m in MARKS {
            for b in [UnitBase::Decimal, UnitBase::Binary] {
                v.push(CarrierRules::new(&[], b, m).expect("built-in rules compile"));
            }
        }
        v
    });
    &all[mark * 2 + base]
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mark = (sel & 3) as usize % 3;
    let base = ((sel >> 2) & 1) as usize;
    let text = String::from_utf8_lossy(rest);
    if sel & 8 != 0 {
        let (pattern, reply) = text.split_once('\n').unwrap_or((&text, ""));
        let unit_base = [UnitBase::Decimal, UnitBase::Binary][base];
        if pattern.len() <= 256 {
            if let Ok(rules) = CarrierRules::new(&[pattern.to_string()], unit_base, MARKS[mark]) {
                let _ = rules.parse(reply);
            }
        }
        return;
    }
    let reading = defaults(mark, base).parse(&text);
    if is_not_a_balance(&text) {
        assert!(reading.is_err(), "help text read as a balance: {reading:?}");
    }
    let _ = parse_amount(&text, MARKS[mark]);
    let _ = fold_compat(&text);
    let unit_base = [UnitBase::Decimal, UnitBase::Binary][base];
    if let Ok(n) = parse_size(&text, unit_base) {
        let _ = format_size(n, unit_base);
    }
});
