//! The carrier's own figure: parsing a balance reply (USSD or SMS text) into remaining bytes with
//! configurable rules — regexes with named groups `amount` and `unit`, first matching rule wins.
//!
//! Must not: send anything, decode PDUs/UCS2 (the codec layer hands us text), or guess a unit
//! when there is none (a money balance like `Balance:633,100r` is not data and does not match).
//!
//! Rules run on `fold_compat(text)`, so ASCII rules also match full-width replies
//! (`１，２３４．５ＭＢ`). Amounts cope with thousands separators and decimal commas; which of `,`
//! and `.` is the decimal mark is decided per `DecimalMark` (see `parse_amount`).

use super::fold::fold_compat;
use super::units::{unit_multiplier, Decimal, UnitBase};
use serde::{Deserialize, Serialize};

/// Text longer than this is cut before matching: balance replies are at most a few concatenated
/// SMS (TS 23.040 §9.2.3.24.1 allows 255 parts, real replies use 1–3), and it bounds regex time.
const MAX_TEXT_BYTES: usize = 8 * 1024;
/// How much of an unmatched reply an error message quotes.
const QUOTE_CHARS: usize = 120;

/// Which character separates decimals in the carrier's replies (`usage.carrier.decimal_mark`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecimalMark {
    /// Decide from the text: see `parse_amount`.
    #[default]
    Auto,
    /// `1,234.5` (English, Chinese, Japanese carriers).
    Point,
    /// `1.234,5` / `1 234,5` (most of continental Europe, Russia, Latin America).
    Comma,
}

/// The carrier's figure as parsed from one reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierReading {
    pub remaining_bytes: u64,
    /// The part of the (folded) reply the rule matched, for the log and `simkeep usage`.
    pub matched_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("usage.carrier.{rule} is not a valid regex ({cause}); check brackets and escapes, e.g. '(?P<amount>[0-9.,]+)\\s*(?P<unit>[KMGT]?B)'")]
    BadRegex { rule: String, cause: String },
    #[error("usage.carrier.{rule} has no named group (?P<{group}>...); every rule needs both `amount` and `unit`")]
    MissingGroup { rule: String, group: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    #[error("no carrier rule matched the reply {text:?}; add a rule to usage.carrier.rules that matches it")]
    NoMatch { text: String },
    #[error("usage.carrier.{rule} matched {matched:?} but the amount {amount:?} is not a number; tighten the `amount` group or set usage.carrier.decimal_mark")]
    BadAmount {
        rule: String,
        matched: String,
        amount: String,
    },
    #[error("usage.carrier.{rule} matched {matched:?} but the unit {unit:?} is unknown; use B, KB, MB, GB, TB (or 兆, ギガ, ГБ, Go)")]
    UnknownUnit {
        rule: String,
        matched: String,
        unit: String,
    },
    #[error("usage.carrier.{rule} matched {matched:?}, which is more than 16 EiB; the rule is probably matching the wrong number")]
    TooLarge { rule: String, matched: String },
    /// An error, help text or offer ("Unknown command. Send CXLL … or KTLL1G for 1GB"): the
    /// figures in it are prices and pack sizes, never what is left.
    #[error("the carrier's reply {text:?} is not a balance report (it reads as an error or help text); no reading recorded — check usage.carrier.sms_text or usage.carrier.ussd")]
    NotABalance { text: String },
}

/// Phrases of a carrier's "I did not understand" reply. Such a reply often lists the
/// keywords and pack sizes on offer (`KTLL1G for 1GB`), which any rule could take for a
/// balance; money decisions rest on the reading, so the whole reply is refused.
/// Texts: China Mobile 10086 (`您发送的指令有误。查询流量请发送CXLL，订购1GB…`), carriers.md §2.4.
const NOT_A_BALANCE: &[&str] = &[
    "unknown command",
    "invalid command",
    "wrong command",
    "incorrect command",
    "command not recognised",
    "command not recognized",
    "not a valid command",
    "unknown keyword",
    "invalid keyword",
    "invalid request",
    "unknown request",
    "service unavailable",
    "指令有误",
    "指令错误",
    "无法识别",
    "無法識別",
    "不能识别",
    "无效指令",
    "无效的指令",
    "コマンドが正しくありません",
    "неверная команда",
    "неизвестная команда",
    "commande inconnue",
    "commande invalide",
    "unbekannter befehl",
];

/// Words that, right before an amount, make it an offer (`buy 1GB`, `订购1GB`), not a balance.
/// Checked for the built-in rules only; an owner's rule is taken as written.
const OFFER_WORDS: &[&str] = &[
    "buy",
    "purchase",
    "subscribe",
    "order",
    "send",
    "text",
    "dial",
    "订购",
    "購買",
    "购买",
    "办理",
    "發送",
    "发送",
    "回复",
    "купить",
    "подключить",
    "acheter",
];

/// Is `text` an error or help reply rather than a balance report (see [`NOT_A_BALANCE`])?
pub fn is_not_a_balance(text: &str) -> bool {
    let lower = text.to_lowercase();
    NOT_A_BALANCE.iter().any(|p| lower.contains(p))
}

/// `usage.carrier.sms_text` goes out as an SMS after the modem's `>` prompt, like any other:
/// 1–160 characters (one message), and no control characters (CR/LF would end the line,
/// Ctrl-Z (0x1A) sends early and ESC (0x1B) cancels).
pub fn validate_query_sms(text: &str) -> Result<(), String> {
    let n = text.chars().count();
    if n == 0 || n > 160 {
        return Err(format!(
            "the balance query must be 1 to 160 characters (one SMS), not {n}"
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the control character {c:?} is not allowed (CR, LF, Ctrl-Z and ESC would end or cancel the message)"
        ));
    }
    Ok(())
}

/// Units after an amount. Letters alone (`M`, `G`) and CJK/Cyrillic/French spellings are
/// included because carriers write `剩余500M`, `500兆`, `1,5 ГБ`, `2 Go`. ASCII units must end at
/// a word boundary so `100 Minutes` and `5 Mbps` do not read as megabytes.
const UNIT_ANY: &str = r"(?P<unit>(?:[KMGT]i?B(?:ytes?|s)?|[KMGT]o|[KMGT]|Bytes?|octets?|B)\b|[КМГТкмгт][Бб]|兆字节|兆字節|兆|吉字节|吉字節|吉|千字节|太字节|字节|ギガバイト|ギガ|メガバイト|メガ|キロバイト|キロ|テラバイト|テラ|バイト)";
/// Units for the unanchored fallback rule: only unambiguous byte units, no bare letters (a bare
/// `5G` is a network generation far more often than five gigabytes).
const UNIT_BYTES: &str = r"(?P<unit>(?:[KMGT]i?B(?:ytes?|s)?|Bytes?)\b|[КМГТкмгт][Бб]|兆字节|兆|吉字节|千字节|ギガバイト|ギガ|メガバイト|メガ)";
/// An amount: digit groups with `,` `.` or space separators (`1,234.5`, `1.234,5`, `1 234,5`),
/// or plain digits with an optional fraction (`1.25`, `2,5`).
const AMOUNT: &str = r"(?P<amount>\d{1,3}(?:[ ,.]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)";
/// Words that introduce the remaining amount. ASCII words need a word boundary (`rest` must not
/// match in `interest`); CJK words have none to offer. Sources for the wordings: see the tests.
const LABEL_BEFORE: &str = r"(?:\b(?:remaining|left|balance|available|rest|restant|reste|restvolumen|verbleibend|saldo|sisa|quedan)\b|剩余|剩餘|余量|可用|残り|残量|残容量|잔여|남은|осталось|Осталось|остаток|Остаток)";
/// Words that follow the amount: `500MB left`, `2 Go restants`, `1GB übrig`.
const LABEL_AFTER: &str = r"(?:\b(?:remaining|left|restants?|übrig|verbleibend)\b|剩余|残り)";

/// The rules used when `usage.carrier.rules` is empty, in order.
pub fn default_rules() -> Vec<String> {
    vec![
        // 1: a label, then the amount within 40 non-digit characters (剩余流量1.25GB,
        //    残りデータ量:500MB, Remaining data: 1,234.5 MB, rest 334.54 Mb).
        format!(r"(?i){LABEL_BEFORE}[^0-9]{{0,40}}?{AMOUNT}\s*{UNIT_ANY}"),
        // 2: the amount, then a label (You have 500MB left).
        format!(r"(?i){AMOUNT}\s*{UNIT_ANY}[^0-9]{{0,20}}?{LABEL_AFTER}"),
        // 3: any amount with an explicit byte unit (１，２３４．５ＭＢ, Data Bundle = 11.49mb).
        format!(r"(?i){AMOUNT}\s*{UNIT_BYTES}"),
    ]
}

#[derive(Clone)]
struct Rule {
    name: String,
    re: regex_lite::Regex,
}

/// Compiled carrier rules for one SIM's carrier.
#[derive(Clone)]
pub struct CarrierRules {
    rules: Vec<Rule>,
    base: UnitBase,
    mark: DecimalMark,
    /// The built-in rules are loose (they must serve unknown carriers), so their matches are
    /// checked for a "used" word next to the amount; an owner's rules are taken as written.
    defaults: bool,
    /// `2G386.52M`: a second, smaller amount glued to the first (China Mobile).
    compound: Option<regex_lite::Regex>,
    /// Finds `2G386` so the default rules can see `G` as a unit (a space goes in between).
    glued: Option<regex_lite::Regex>,
}

impl std::fmt::Debug for CarrierRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.rules.iter().map(|r| r.name.as_str()).collect();
        f.debug_struct("CarrierRules")
            .field("rules", &names)
            .field("base", &self.base)
            .field("mark", &self.mark)
            .field("defaults", &self.defaults)
            .finish()
    }
}

impl CarrierRules {
    /// Compiles `patterns` (named `rules[0]`, `rules[1]`, … in errors); an empty list means
    /// `default_rules()`.
    pub fn new(
        patterns: &[String],
        base: UnitBase,
        mark: DecimalMark,
    ) -> Result<CarrierRules, RuleError> {
        let defaults;
        let (patterns, prefix) = if patterns.is_empty() {
            defaults = default_rules();
            (defaults.as_slice(), "default_rules")
        } else {
            (patterns, "rules")
        };
        let mut rules = Vec::with_capacity(patterns.len());
        for (i, pattern) in patterns.iter().enumerate() {
            let name = format!("{prefix}[{i}]");
            let re = regex_lite::Regex::new(pattern).map_err(|e| RuleError::BadRegex {
                rule: name.clone(),
                cause: e.to_string(),
            })?;
            for group in ["amount", "unit"] {
                if !re.capture_names().flatten().any(|n| n == group) {
                    return Err(RuleError::MissingGroup { rule: name, group });
                }
            }
            rules.push(Rule { name, re });
        }
        Ok(CarrierRules {
            rules,
            base,
            mark,
            defaults: prefix == "default_rules",
            compound: compound_re(),
            glued: regex_lite::Regex::new(r"(\d)([KMGTkmgt])(\d)").ok(),
        })
    }

    /// Parses a reply: fold, then the first rule that matches decides.
    pub fn parse(&self, text: &str) -> Result<CarrierReading, CarrierError> {
        let mut folded = fold_compat(truncate(text, MAX_TEXT_BYTES));
        if is_not_a_balance(&folded) {
            return Err(CarrierError::NotABalance {
                text: quote(&folded),
            });
        }
        if let (true, Some(glued)) = (self.defaults, &self.glued) {
            folded = glued.replace_all(&folded, "$1$2 $3").into_owned();
        }
        for rule in &self.rules {
            // The first match that is not a "used" figure or an offer (default rules only).
            let Some(caps) = rule.re.captures_iter(&folded).find(|c| {
                let a = c.name("amount").map_or(0..0, |m| m.range());
                !(self.defaults
                    && (mentions_used(&folded, a.start, a.end) || is_offer(&folded, a.start)))
            }) else {
                continue;
            };
            let whole = caps.get(0).map_or(0..0, |m| m.range());
            let mut matched = caps.get(0).map_or("", |m| m.as_str()).to_owned();
            let amount = caps.name("amount").map_or("", |m| m.as_str());
            let unit = caps.name("unit").map_or("", |m| m.as_str());
            let value = parse_amount(amount, self.mark).ok_or_else(|| CarrierError::BadAmount {
                rule: rule.name.clone(),
                matched: matched.clone(),
                amount: amount.to_owned(),
            })?;
            let mult =
                unit_multiplier(unit, self.base).ok_or_else(|| CarrierError::UnknownUnit {
                    rule: rule.name.clone(),
                    matched: matched.clone(),
                    unit: unit.to_owned(),
                })?;
            let mut remaining_bytes = value.times(mult).ok_or_else(|| CarrierError::TooLarge {
                rule: rule.name.clone(),
                matched: matched.clone(),
            })?;
            if let Some((extra, text)) = self.compound_tail(&folded[whole.end..], mult) {
                remaining_bytes = remaining_bytes.saturating_add(extra);
                matched.push_str(text);
            }
            return Ok(CarrierReading {
                remaining_bytes,
                matched_text: matched,
            });
        }
        Err(CarrierError::NoMatch {
            text: quote(&folded),
        })
    }
}

impl CarrierRules {
    /// `2G386.52M`: a smaller amount right after the matched one is part of the same figure.
    fn compound_tail<'t>(&self, after: &'t str, first_mult: u64) -> Option<(u64, &'t str)> {
        let caps = self.compound.as_ref()?.captures(after)?;
        let mult = unit_multiplier(caps.name("unit")?.as_str(), self.base)?;
        if mult >= first_mult {
            return None; // `1GB 2GB` is two figures, not one
        }
        let value = parse_amount(caps.name("amount")?.as_str(), self.mark)?;
        Some((value.times(mult)?, caps.get(0)?.as_str()))
    }
}

fn compound_re() -> Option<regex_lite::Regex> {
    // A constant pattern (a test checks it compiles); `None` would only skip the compound step.
    regex_lite::Regex::new(&format!(r"(?i)^\s*{AMOUNT}\s*{UNIT_ANY}")).ok()
}

/// Words that mark a figure as used, not left: within a few characters of the amount.
const USED_WORDS: &[&str] = &[
    "已用",
    "已使用",
    "使用量",
    "使用済",
    "used",
    "verbraucht",
    "consumed",
    "использовано",
    "израсходовано",
];

/// Does a "used" word stand just before (up to 12 characters) or after (up to 32: `4545.94 MB
/// Datenvolumen verbraucht`) the amount?
fn mentions_used(text: &str, start: usize, end: usize) -> bool {
    let before: String = text[..start]
        .chars()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = text[end..].chars().take(32).collect();
    let near = format!("{before}|{after}").to_lowercase();
    USED_WORDS.iter().any(|w| near.contains(w))
}

/// Is the amount starting at `start` an offer or a keyword rather than a figure? Either an
/// offer word stands within 12 characters before it (`BUY 1GB`, `订购1GB`), or it is glued to
/// ASCII letters (`KTLL1G`: a keyword to text, not one gigabyte).
fn is_offer(text: &str, start: usize) -> bool {
    let Some(head) = text.get(..start) else {
        return false;
    };
    if head
        .chars()
        .next_back()
        .is_some_and(|c| c.is_ascii_alphabetic())
    {
        return true;
    }
    // The last 12 characters; word boundaries are judged on the whole text, so a window
    // that starts inside `border` does not see an `order`.
    let from = head
        .char_indices()
        .rev()
        .take(12)
        .last()
        .map_or(head.len(), |(i, _)| i);
    let lower = head.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII; fall back to the whole head then.
    let from = if lower.len() == head.len() { from } else { 0 };
    OFFER_WORDS.iter().any(|w| {
        lower.match_indices(w).any(|(i, _)| {
            if i < from {
                return false;
            }
            // ASCII words must stand alone: `order` is not in `border`, `text` not in `context`.
            let ascii = w.is_ascii();
            let left_ok = !ascii
                || lower[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
            let right_ok = !ascii
                || lower[i + w.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric());
            left_ok && right_ok
        })
    })
}

/// Parses an amount as carriers write it. Spaces and apostrophes are thousands separators
/// (`1 234`, Swiss `1'234`). With `DecimalMark::Auto`:
/// - both `,` and `.` present: the last one is the decimal mark (`1,234.5`, `1.234,5`);
/// - one kind repeated: it groups thousands (`1,234,567`);
/// - a single `,` followed by exactly three digits, after 1–3 digits not starting with 0: groups
///   thousands (`633,100` → 633100, the English reading); any other single `,` is decimal
///   (`2,5`, `0,500`);
/// - a single `.` is decimal (`1.25`, `1.234`).
///
/// Carriers whose `1,234` means 1.234 set `DecimalMark::Comma`. Groups after a thousands
/// separator must have exactly three digits, so `1,2,3` is refused rather than read as 123.
pub fn parse_amount(raw: &str, mark: DecimalMark) -> Option<Decimal> {
    let s: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '\'' | '\u{2019}'))
        .collect();
    let commas = s.matches(',').count();
    let dots = s.matches('.').count();
    let (decimal, group) = match mark {
        DecimalMark::Point => (Some('.'), Some(',')),
        DecimalMark::Comma => (Some(','), Some('.')),
        DecimalMark::Auto => match (commas, dots) {
            (0, 0) => (None, None),
            (c, d) if c > 0 && d > 0 => {
                if s.rfind(',') > s.rfind('.') {
                    (Some(','), Some('.'))
                } else {
                    (Some('.'), Some(','))
                }
            }
            (c, 0) if c > 1 => (None, Some(',')),
            (0, d) if d > 1 => (None, Some('.')),
            (1, 0) => {
                let (int, frac) = s.split_once(',').unwrap_or((&s, ""));
                let grouping =
                    frac.len() == 3 && (1..=3).contains(&int.len()) && !int.starts_with('0');
                if grouping {
                    (None, Some(','))
                } else {
                    (Some(','), None)
                }
            }
            _ => (Some('.'), None),
        },
    };
    let (int_part, frac_part) = match decimal {
        Some(d) => {
            let mut it = s.splitn(2, d);
            let int = it.next().unwrap_or("");
            let frac = it.next().unwrap_or("");
            if frac.contains(d) {
                return None;
            }
            (int, frac)
        }
        None => (s.as_str(), ""),
    };
    let int_digits = match group {
        Some(g) if int_part.contains(g) => {
            let mut groups = int_part.split(g);
            let first = groups.next().unwrap_or("");
            if first.is_empty() || first.len() > 3 {
                return None;
            }
            let mut digits = first.to_owned();
            for rest in groups {
                if rest.len() != 3 {
                    return None;
                }
                digits.push_str(rest);
            }
            digits
        }
        _ => int_part.to_owned(),
    };
    Decimal::from_parts(&int_digits, frac_part)
}

/// `s` cut to at most `max` bytes on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// The first `QUOTE_CHARS` characters of a reply, with `…` when cut.
fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE_CHARS).collect();
    if s.chars().nth(QUOTE_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[path = "carrier_tests.rs"]
mod tests;
