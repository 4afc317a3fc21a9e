//! Edits of the config text for `simkeep config get|set|unset|show`, with `toml_edit` so that the
//! owner's comments, blank lines, key order and quoting survive every edit.
//!
//! Pure text in, text out. Must not: write files, or decide whether a value is valid beyond its
//! TOML type — the caller loads the edited text with `Config::parse` before writing anything.

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use super::keys::{self, Key, Kind};

/// An edit refused before any file is touched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Syntax(String),
    #[error("unknown key {key}{}", suggest(.close))]
    UnknownKey {
        key: String,
        close: Vec<&'static str>,
    },
    #[error("{key} takes {expected}, not {given:?}")]
    BadValue {
        key: String,
        expected: &'static str,
        given: String,
    },
    #[error("{key} is a list: edit it in the config file")]
    List { key: String },
    #[error("{key}: {at} is {found} in the file, not a table; fix the file first")]
    NotATable {
        key: String,
        at: String,
        found: &'static str,
    },
}

fn suggest(close: &[&str]) -> String {
    if close.is_empty() {
        "; see `simkeep config init` for every key".into()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

/// The known key `name`, or the refusal that lists close ones.
pub fn known(name: &str) -> Result<&'static Key, EditError> {
    if name == "topup.flow" || name.starts_with("topup.flow.") {
        return Err(EditError::List {
            key: "topup.flow".into(),
        });
    }
    if name == "notify" || name.starts_with("notify.") {
        return Err(EditError::List {
            key: "notify".into(),
        });
    }
    keys::find(name).ok_or_else(|| EditError::UnknownKey {
        key: name.to_string(),
        close: keys::close_to(name),
    })
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>().map_err(|e| {
        // toml_edit's message spans several lines with a caret; keep its first plain line.
        let msg = e
            .message()
            .lines()
            .next()
            .unwrap_or("not valid TOML")
            .to_string();
        EditError::Syntax(format!("the file is not valid TOML ({msg}); fix it first"))
    })
}

/// The value of `name` as the file writes it (`"30s"`, `115200`), or `None` when unset.
pub fn get(text: &str, name: &str) -> Result<Option<String>, EditError> {
    known(name)?;
    let doc = parse(text)?;
    let mut item = doc.as_item();
    for part in name.split('.') {
        match item.get(part) {
            Some(i) => item = i,
            None => return Ok(None),
        }
    }
    Ok(item.as_value().map(shown))
}

/// A value printed as TOML without the spaces and comment around it.
fn shown(v: &Value) -> String {
    v.clone().decorated("", "").to_string()
}

/// The text with `name` set to `given`, typed by the key's kind. A value already there keeps
/// its trailing comment; a new key goes at the end of its table (created when missing).
pub fn set(text: &str, name: &str, given: &str) -> Result<String, EditError> {
    let key = known(name)?;
    let mut value = typed(key, name, given)?;
    let mut doc = parse(text)?;
    let (parents, leaf) = split(name);
    let table = table_at(doc.as_table_mut(), &parents, name, true)?
        .ok_or_else(|| EditError::Syntax(format!("{name}: no table to put it in")))?;
    if let Some(old) = table.get_mut(leaf) {
        if let Some(old_value) = old.as_value() {
            *value.decor_mut() = old_value.decor().clone();
        }
        *old = Item::Value(value);
    } else {
        table.insert(leaf, Item::Value(value));
    }
    Ok(doc.to_string())
}

/// The text without `name`; `None` when it was not set (nothing to change). Tables stay, even
/// when emptied: they are the owner's layout.
pub fn unset(text: &str, name: &str) -> Result<Option<String>, EditError> {
    known(name)?;
    let mut doc = parse(text)?;
    let (parents, leaf) = split(name);
    let Some(table) = table_at(doc.as_table_mut(), &parents, name, false)? else {
        return Ok(None);
    };
    Ok(table.remove(leaf).map(|_| doc.to_string()))
}

/// The file for `config show`: secret values (the PIN, API credentials not written as
/// `${secret:NAME}`) replaced by `"<hidden>"`, everything else as written.
pub fn redacted(text: &str) -> Result<String, EditError> {
    let mut doc = parse(text)?;
    hide(doc.as_table_mut(), "");
    Ok(doc.to_string())
}

fn hide(table: &mut dyn TableLike, prefix: &str) {
    for (k, item) in table.iter_mut() {
        let name = if prefix.is_empty() {
            k.get().to_string()
        } else {
            format!("{prefix}.{}", k.get())
        };
        match item {
            Item::ArrayOfTables(a) => a.iter_mut().for_each(|t| hide(t, &name)),
            Item::Value(Value::Array(a)) => a.iter_mut().for_each(|v| match v {
                Value::InlineTable(t) => hide(t, &name),
                v => hide_value(v, &name),
            }),
            Item::Value(Value::InlineTable(t)) => hide(t, &name),
            Item::Table(t) => hide(t, &name),
            Item::Value(v) => hide_value(v, &name),
            Item::None => {}
        }
    }
}

/// Replaces `v` with `"<hidden>"` when `name` holds a credential written literally: a Secret
/// key, or a header of a top-up HTTP step (`Authorization = "Bearer …"`).
fn hide_value(v: &mut Value, name: &str) {
    let secret = keys::find(name).is_some_and(|key| key.kind == Kind::Secret)
        || name.starts_with("topup.flow.steps.headers.")
        || name == "notify.token"
        || name.starts_with("notify.headers.");
    if secret && !v.as_str().is_some_and(|s| s.contains("${secret:")) {
        let decor = v.decor().clone();
        *v = Value::from("<hidden>");
        *v.decor_mut() = decor;
    }
}

fn split(name: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = name.split('.').collect();
    let leaf = parts.pop().unwrap_or(name);
    (parts, leaf)
}

/// The table at `path`, created (as implicit tables, so no empty headers appear) when `create`.
fn table_at<'a>(
    root: &'a mut Table,
    path: &[&str],
    name: &str,
    create: bool,
) -> Result<Option<&'a mut dyn TableLike>, EditError> {
    let mut cur: &mut dyn TableLike = root;
    for (i, part) in path.iter().enumerate() {
        if cur.get(part).is_none() {
            if !create {
                return Ok(None);
            }
            let mut t = Table::new();
            t.set_implicit(true);
            cur.insert(part, Item::Table(t));
        }
        let Some(item) = cur.get_mut(part) else {
            return Ok(None);
        };
        let found = item.type_name();
        cur = item
            .as_table_like_mut()
            .ok_or_else(|| EditError::NotATable {
                key: name.to_string(),
                at: path[..=i].join("."),
                found,
            })?;
    }
    Ok(Some(cur))
}

/// `given` as the TOML value the key's kind wants.
fn typed(key: &Key, name: &str, given: &str) -> Result<Value, EditError> {
    let bad = || EditError::BadValue {
        key: name.to_string(),
        expected: key.kind.example(),
        given: given.to_string(),
    };
    let g = given.trim();
    Ok(match key.kind {
        Kind::List => return Err(EditError::List { key: name.into() }),
        Kind::Bool => match g {
            "true" => Value::from(true),
            "false" => Value::from(false),
            _ => return Err(bad()),
        },
        Kind::Int => Value::from(g.parse::<i64>().map_err(|_| bad())?),
        Kind::Money => match g.parse::<i64>() {
            Ok(n) => Value::from(n),
            // Written as a string: Money reads "4.99" exactly, a float only nearly.
            Err(_) if g.parse::<f64>().is_ok_and(f64::is_finite) => Value::from(g),
            Err(_) => return Err(bad()),
        },
        // Unix seconds stay a number; anything else is a date string.
        Kind::Time => match g.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(given),
        },
        Kind::Text | Kind::Secret | Kind::Duration | Kind::Size => Value::from(given),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "# my router\n[modem]\nport = \"/dev/ttyUSB2\"   # the EC25\npoll_interval = \"30s\"  # keep it slow\n\n# history\n[store]\npath = '/tmp/x.db'\n";

    #[test]
    fn set_keeps_every_comment_and_the_value_comment() {
        let out = set(OWNER, "modem.poll_interval", "5s").unwrap();
        assert_eq!(out, OWNER.replace("\"30s\"", "\"5s\""));
    }

    #[test]
    fn set_types_the_value_by_key() {
        let out = set(OWNER, "modem.baud", "9600").unwrap();
        assert!(out.contains("baud = 9600\n"), "{out}");
        let out = set(OWNER, "topup.enabled", "true").unwrap();
        assert!(out.ends_with("[topup]\nenabled = true\n"), "{out}");
        let out = set(OWNER, "topup.max_spend_per_cycle", "4.99").unwrap();
        assert!(out.contains("max_spend_per_cycle = \"4.99\""), "{out}");
        let err = set(OWNER, "topup.enabled", "yes").unwrap_err().to_string();
        assert_eq!(err, "topup.enabled takes true or false, not \"yes\"");
        let err = set(OWNER, "modem.baud", "fast").unwrap_err().to_string();
        assert!(err.contains("a whole number"), "{err}");
    }

    #[test]
    fn nested_tables_are_created_without_empty_headers() {
        let out = set("", "carrier_api.main.timeout", "20s").unwrap();
        assert_eq!(out, "[carrier_api.main]\ntimeout = \"20s\"\n");
        let out = set("[usage]\nquota = \"1GB\"\n", "usage.carrier.ussd", "*100#").unwrap();
        assert_eq!(
            out,
            "[usage]\nquota = \"1GB\"\n\n[usage.carrier]\nussd = \"*100#\"\n"
        );
    }

    #[test]
    fn keys_inside_inline_and_dotted_tables_are_found() {
        let text = "usage = { quota = \"1GB\" }\n";
        assert_eq!(
            get(text, "usage.quota").unwrap().as_deref(),
            Some("\"1GB\"")
        );
        let out = set(text, "usage.quota", "2GB").unwrap();
        assert_eq!(out, "usage = { quota = \"2GB\" }\n");
        let dotted = "[usage]\ncarrier.ussd = \"*100#\"\n";
        assert_eq!(
            get(dotted, "usage.carrier.ussd").unwrap().as_deref(),
            Some("\"*100#\"")
        );
    }

    #[test]
    fn unset_removes_only_the_key() {
        let out = unset(OWNER, "modem.poll_interval").unwrap().unwrap();
        assert_eq!(
            out,
            OWNER.replace("poll_interval = \"30s\"  # keep it slow\n", "")
        );
        assert_eq!(unset(OWNER, "modem.baud").unwrap(), None);
        assert_eq!(unset(OWNER, "usage.quota").unwrap(), None);
    }

    #[test]
    fn unknown_keys_and_lists_are_refused_with_help() {
        let err = set(OWNER, "modem.pol_interval", "5s")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown key modem.pol_interval; did you mean modem.poll_interval"),
            "{err}"
        );
        let err = set(OWNER, "topup.iccids", "1").unwrap_err().to_string();
        assert_eq!(err, "topup.iccids is a list: edit it in the config file");
        let err = set(OWNER, "topup.flow.name", "x").unwrap_err().to_string();
        assert_eq!(err, "topup.flow is a list: edit it in the config file");
        let err = set("modem = 3\n", "modem.baud", "9600")
            .unwrap_err()
            .to_string();
        assert!(err.contains("modem is integer"), "{err}");
    }

    #[test]
    fn show_hides_literal_secrets_but_not_templates() {
        let text = "[modem]\npin = \"1234\" # sim\n[carrier_api.main]\nclient_secret = \"${secret:cs}\"\ntoken = \"abc\"\n";
        let out = redacted(text).unwrap();
        assert!(!out.contains("1234") && !out.contains("abc"), "{out}");
        assert!(out.contains("pin = \"<hidden>\" # sim"), "{out}");
        assert!(out.contains("${secret:cs}"), "{out}");
        let flow = "[[topup.flow]]\nsteps = [\n  { http = \"POST\", headers = { Authorization = \"Bearer abc\", X-Key = \"${secret:k}\" } },\n]\n";
        let out = redacted(flow).unwrap();
        assert!(!out.contains("abc") && out.contains("${secret:k}"), "{out}");
        assert!(out.contains("Authorization = \"<hidden>\""), "{out}");
    }

    #[test]
    fn broken_toml_is_refused_in_one_line() {
        let err = set("[modem\n", "modem.baud", "9600")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the file is not valid TOML") && !err.contains('\n'),
            "{err}"
        );
    }
}
