//! The toml/serde error of a config that failed to load, said in plain words that name the
//! dotted key: `line 3: modem.poll_interval = 5: write a duration in quotes with a unit — did you
//! mean "5s"?` instead of `invalid type: integer `5`, expected a string`.
//!
//! serde's message does not carry the key, only a span; the key is found by walking the same
//! text parsed with `toml_edit` (which keeps spans) to the deepest key or value holding that
//! span. Must not: echo a secret value, or show Rust type names, struct names or `[0]` indexes.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::keys::{self, Kind};

/// One line for `e`, raised while loading `text`.
pub fn message(text: &str, e: &toml::de::Error) -> String {
    let raw = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return scrub(&raw);
    };
    let line = text
        .get(..span.start)
        .map_or(0, |s| s.matches('\n').count().saturating_add(1));
    let found = toml_edit::Document::parse(text)
        .ok()
        .and_then(|doc| locate(doc.as_table(), "", &span));
    let plain = match &found {
        Some((key, value_span)) => explain(
            &raw,
            key,
            value_span.as_ref().and_then(|s| text.get(s.clone())),
        ),
        // Not a data error but a syntax one: toml's words, without its code names, and the
        // key or table it stopped at when it says "duplicate key" (its span covers the name).
        None if raw.starts_with("duplicate key") => {
            let at = text
                .get(span.clone())
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 60);
            match at {
                Some(k) => format!("{k} is written twice; keep one"),
                None => "a key or table is written twice; keep one".into(),
            }
        }
        None => scrub(&raw),
    };
    format!("line {line}: {plain}")
}

/// The dotted key (array elements and flows keep their array's name) whose key or value holds
/// `span`, and that value's span.
fn locate(
    table: &dyn TableLike,
    prefix: &str,
    span: &Range<usize>,
) -> Option<(String, Option<Range<usize>>)> {
    for (k, item) in table.iter() {
        let name = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        let key_span = table.key(k).and_then(|key| key.span());
        let holds = |s: &Option<Range<usize>>| {
            s.as_ref().is_some_and(|s| {
                s.start <= span.start && span.start < s.end.max(s.start.saturating_add(1))
            })
        };
        let deeper = match item {
            Item::Table(t) => locate(t, &name, span),
            Item::Value(Value::InlineTable(t)) => locate(t, &name, span),
            Item::Value(Value::Array(a)) => a.iter().find_map(|v| match v {
                Value::InlineTable(t) => locate(t, &name, span),
                _ => None,
            }),
            Item::ArrayOfTables(a) => a.iter().find_map(|t| locate(t, &name, span)),
            _ => None,
        };
        if deeper.is_some() {
            return deeper;
        }
        let value_span = item.span();
        if holds(&key_span) || holds(&value_span) {
            return Some((name, value_span));
        }
    }
    None
}

/// serde's `raw` message about `key` (whose value is written `value`) in plain words.
fn explain(raw: &str, key: &str, value: Option<&str>) -> String {
    let found = keys::find(key);
    // Keys of flows and steps are not in the key table; their names say the kind.
    let kind = found
        .map(|k| k.kind)
        .or_else(|| match key.rsplit('.').next() {
            Some("timeout" | "verify") => Some(Kind::Duration),
            Some("adds") => Some(Kind::Size),
            _ => None,
        });
    let help = found.map_or(String::new(), |k| format!(" ({})", k.help));
    let shown = match (kind, value) {
        (Some(Kind::Secret), _) | (_, None) => "…".to_string(),
        (_, Some(v)) if v.chars().count() > 40 => {
            format!("{}…", v.chars().take(40).collect::<String>())
        }
        (_, Some(v)) => v.to_string(),
    };
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let full = if key.ends_with(field) {
            key.to_string()
        } else {
            format!("{key}.{field}")
        };
        let close = keys::close_to(&full);
        if !close.is_empty() {
            return format!("unknown key {full}; did you mean {}?", close.join(", "));
        }
        let allowed = rest.split_once("expected").map_or(String::new(), |(_, l)| {
            format!(
                "; allowed here: {}",
                l.replace("one of", "").replace('`', "").trim()
            )
        });
        return format!("unknown key {full}{allowed}");
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return format!("{key}: {field} is required");
    }
    let wanted = match kind {
        Some(Kind::Duration) => {
            let hint = value
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .map_or(String::new(), |v| format!(" — did you mean \"{v}s\"?"));
            format!("write a duration in quotes with a unit, e.g. \"30s\", \"15m\" or \"6h\"{hint}")
        }
        Some(Kind::Size) => {
            let hint = value
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .map_or(String::new(), |v| format!(" — did you mean \"{v}MB\"?"));
            format!("write a size in quotes with a unit, e.g. \"500MB\" or \"20GB\"{hint}")
        }
        Some(Kind::Int) if raw.starts_with("invalid value") => format!("out of range{help}"),
        Some(Kind::Int) => format!("use a whole number{help}"),
        Some(k) if raw.starts_with("invalid value") => format!("out of range: use {}", k.example()),
        Some(k) => format!("use {}", k.example()),
        None => expected_in_words(raw),
    };
    format!("{key} = {shown}: {wanted}")
}

/// serde's "expected ..." tail in words an owner reads.
fn expected_in_words(raw: &str) -> String {
    let expected = raw.rsplit_once("expected ").map_or("", |(_, e)| e);
    let words = match expected {
        e if e.contains("string") => "use a string in quotes",
        e if e.contains("i64")
            || e.contains("u32")
            || e.contains("u64")
            || e.contains("integer") =>
        {
            if raw.starts_with("invalid value") {
                "that number is out of range"
            } else {
                "use a whole number"
            }
        }
        e if e.contains("bool") => "use true or false",
        e if e.contains("sequence") => "use a list in brackets, e.g. ['first', 'second']",
        e if e.contains("struct") || e.contains("map") => "use a table",
        _ => return scrub(raw),
    };
    words.to_string()
}

/// A message without serde's code names (`i64`, `struct RawModem`, backticks).
fn scrub(raw: &str) -> String {
    // toml reads numbers past i64 as i128 and says so: "integer 1000… as i128".
    if let Some(rest) = raw.strip_prefix("invalid type: integer ") {
        if let Some((n, _)) = rest.split_once(" as i128") {
            return format!("the number {} is too large", n.trim_matches('`'));
        }
    }
    let mut out = raw.replace('`', "");
    for (code, word) in [
        ("i64", "a whole number"),
        ("u32", "a whole number"),
        ("u64", "a whole number"),
        ("a sequence", "a list"),
        ("a map", "a table"),
    ] {
        out = out.replace(code, word);
    }
    // "struct RawModem" → "a table": drop the word after "struct".
    let mut words: Vec<&str> = Vec::new();
    let mut skip = false;
    for w in out.split(' ') {
        if skip {
            skip = false;
            let tail = w.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
            words.push("a table");
            if !tail.is_empty() {
                words.push(tail);
            }
        } else if w == "struct" {
            skip = true;
        } else {
            words.push(w);
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn err(text: &str) -> String {
        Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string()
    }

    /// No message may show what serde calls things.
    fn plain(msg: &str) {
        for bad in [
            "expected i64",
            "expected u32",
            "invalid type",
            "struct ",
            "[0]",
            "`",
            "sequence",
            "Raw",
        ] {
            assert!(!msg.contains(bad), "{bad:?} leaks in: {msg}");
        }
        assert!(!msg.contains('\n'), "one line: {msg}");
    }

    #[test]
    fn an_integer_duration_names_the_key_and_suggests_seconds() {
        let msg = err("[modem]\npoll_interval = 5\n");
        assert_eq!(
            msg,
            "config c.toml: line 2: modem.poll_interval = 5: write a duration in quotes with a unit, e.g. \"30s\", \"15m\" or \"6h\" — did you mean \"5s\"?"
        );
        plain(&msg);
    }

    #[test]
    fn a_string_where_a_number_goes_says_whole_number() {
        let msg = err("[usage]\nreset_day = \"first\"\n");
        assert!(
            msg.contains("usage.reset_day = \"first\": use a whole number"),
            "{msg}"
        );
        plain(&msg);
        let msg = err("[modem]\nbaud = -1\n");
        assert!(
            msg.contains("modem.baud = -1: out of range (9600 to 921600)"),
            "{msg}"
        );
        plain(&msg);
    }

    #[test]
    fn a_string_where_a_list_goes_names_the_list_not_an_index() {
        let msg = err("[usage.carrier]\nussd = \"*100#\"\nrules = \"(?P<amount>[0-9]+)\"\n");
        assert!(msg.contains("usage.carrier.rules = "), "{msg}");
        assert!(msg.contains("a list of strings"), "{msg}");
        plain(&msg);
        let msg = err("[usage.carrier]\nussd = \"*100#\"\nrules = [1]\n");
        assert!(msg.contains("usage.carrier.rules"), "{msg}");
        plain(&msg);
    }

    #[test]
    fn a_bool_given_as_text_and_a_table_given_as_value() {
        let msg = err("[topup]\nenabled = \"yes\"\n");
        assert!(
            msg.contains("topup.enabled = \"yes\": use true or false"),
            "{msg}"
        );
        plain(&msg);
        let msg = err("modem = 3\n");
        assert!(msg.contains("modem = 3: use a table"), "{msg}");
        plain(&msg);
    }

    #[test]
    fn an_unknown_key_suggests_known_ones() {
        let msg = err("[modem]\nport = \"/dev/ttyUSB2\"\npol_interval = \"30s\"\n");
        assert!(
            msg.contains(
                "line 3: unknown key modem.pol_interval; did you mean modem.poll_interval"
            ),
            "{msg}"
        );
        plain(&msg);
        let msg = err("[[topup.flow]]\nname = \"a\"\nprice = 1\nadds = \"1GB\"\nsteps = [{ ussd = \"*1#\", bogus = 1 }]\n");
        assert!(msg.contains("bogus"), "{msg}");
        plain(&msg);
    }

    #[test]
    fn flow_keys_get_their_kind_from_their_name_and_huge_numbers_are_plain() {
        let flow = "[[topup.flow]]\nname = \"a\"\nprice = 1\nadds = 5\nsteps = [{ ussd = \"*1#\", timeout = 5 }]\n";
        let msg = err(flow);
        assert!(
            msg.contains("topup.flow.adds = 5: write a size in quotes"),
            "{msg}"
        );
        let msg = err(&flow.replace("adds = 5", "adds = \"1GB\""));
        assert!(
            msg.contains("topup.flow.steps.timeout = 5: write a duration")
                && msg.contains("\"5s\""),
            "{msg}"
        );
        let msg = err("[usage]\nunit_base = 1000000000000000000000\n");
        assert!(
            msg.contains("the number 1000000000000000000000 is too large"),
            "{msg}"
        );
        plain(&msg);
    }

    #[test]
    fn a_duplicate_key_or_table_is_named() {
        let msg = err("[modem]\nport = \"x\"\nbaud = 9600\nport = \"y\"\n");
        assert_eq!(
            msg,
            "config c.toml: line 4: port is written twice; keep one"
        );
        let msg = err("[modem]\nport = \"x\"\n[modem]\nbaud = 1\n");
        assert!(
            msg.contains("line 3: ") && msg.contains("modem") && msg.contains("twice"),
            "{msg}"
        );
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_not_echoed() {
        let msg = err("[modem]\npin = 123456\n");
        assert!(
            msg.contains("modem.pin") && !msg.contains("123456"),
            "{msg}"
        );
        plain(&msg);
    }
}
