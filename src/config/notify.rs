//! `[[notify]]` tables: raw serde structs → validated [`NotifyConfig`]s, one per channel.
//!
//! Every error names `notify[N].key` (N counts from 0, in file order) and says what is allowed.
//! It must not: read the secrets file (the agent renders `${secret:NAME}` when it sends), accept
//! a key that belongs to another kind (a `chat_id` on a webhook is a mistake, not a no-op), or a
//! phone number the modem would be handed unchecked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{parse_duration, ConfigError};
use crate::notify::event::{Level, EVENT_NAMES};
use crate::notify::http::HttpUrl;
use crate::template::Template;

/// `[[notify]]` as written: one flat table, checked per kind below.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub events: Option<Vec<String>>,
    pub min_level: Option<String>,
    pub token: Option<String>,
    pub chat_id: Option<toml::Value>,
    pub url: Option<String>,
    pub server: Option<String>,
    pub topic: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub ca_file: Option<String>,
    pub to: Option<String>,
    pub max_per_day: Option<i64>,
    pub command: Option<Vec<String>>,
    pub timeout: Option<String>,
}

/// One validated channel.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Unique; `kind-N` (N counting from 1 per kind) when not given.
    pub name: String,
    /// Event names or attention codes; empty means every event.
    pub events: Vec<String>,
    pub min_level: Level,
    pub kind: NotifyKind,
}

#[derive(Debug, Clone)]
pub enum NotifyKind {
    /// `POST <url>/bot<token>/sendMessage` with `{"chat_id","text"}`.
    Telegram {
        url: HttpUrl,
        token: Template,
        chat_id: String,
        ca_file: Option<PathBuf>,
    },
    /// `POST <server>/<topic>`, plain-text body, Title/Priority/Tags headers.
    Ntfy {
        url: HttpUrl,
        token: Option<Template>,
        ca_file: Option<PathBuf>,
    },
    /// `POST <url>` with the event as JSON.
    Webhook {
        url: HttpUrl,
        headers: Vec<(String, Template)>,
        ca_file: Option<PathBuf>,
    },
    /// An SMS to the owner through the modem, at most `max_per_day` in any 24 hours.
    Sms { to: String, max_per_day: u32 },
    /// `command[0]` with the other elements as arguments (no shell), event JSON on stdin.
    Exec {
        command: Vec<String>,
        timeout: Duration,
    },
}

impl NotifyKind {
    pub fn name(&self) -> &'static str {
        match self {
            NotifyKind::Telegram { .. } => "telegram",
            NotifyKind::Ntfy { .. } => "ntfy",
            NotifyKind::Webhook { .. } => "webhook",
            NotifyKind::Sms { .. } => "sms",
            NotifyKind::Exec { .. } => "exec",
        }
    }

    /// The templates that may hold `${secret:NAME}`.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            NotifyKind::Telegram { token, .. } => vec![token],
            NotifyKind::Ntfy { token, .. } => token.iter().collect(),
            NotifyKind::Webhook { headers, .. } => headers.iter().map(|(_, v)| v).collect(),
            NotifyKind::Sms { .. } | NotifyKind::Exec { .. } => Vec::new(),
        }
    }
}

const KINDS: &str = "telegram, ntfy, webhook, sms or exec";
const DEFAULT_TELEGRAM: &str = "https://api.telegram.org";
const DEFAULT_SMS_PER_DAY: u32 = 5;
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_CHANNELS: usize = 32;
const MAX_NAME_CHARS: usize = 40;
/// Prefixes of the agent's own event names: a filter starting with one of these that is not an
/// event name is a typo, not an attention code.
const EVENT_PREFIXES: &[&str] = &["agent_", "sms_", "topup_", "sim_", "modem_", "attention_"];

/// Validates every `[[notify]]`. `has_secrets`: a `[secrets] path` is configured.
pub fn notify_configs(
    raw: &[RawNotify],
    has_secrets: bool,
    path: &str,
) -> Result<Vec<NotifyConfig>, ConfigError> {
    if raw.len() > MAX_CHANNELS {
        return Err(bad(
            path,
            "notify".into(),
            &raw.len().to_string(),
            &format!("at most {MAX_CHANNELS} [[notify]] channels"),
        ));
    }
    let mut out: Vec<NotifyConfig> = Vec::with_capacity(raw.len());
    let mut per_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (i, r) in raw.iter().enumerate() {
        let c = one(i, r, has_secrets, path, &mut per_kind)?;
        if out.iter().any(|o| o.name == c.name) {
            return Err(bad(
                path,
                format!("notify[{i}].name"),
                &c.name,
                "another [[notify]] has this name; names must differ",
            ));
        }
        out.push(c);
    }
    Ok(out)
}

fn bad(path: &str, key: String, value: &str, reason: &str) -> ConfigError {
    ConfigError::Value {
        path: path.to_string(),
        key,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn one(
    i: usize,
    r: &RawNotify,
    has_secrets: bool,
    path: &str,
    per_kind: &mut BTreeMap<&'static str, usize>,
) -> Result<NotifyConfig, ConfigError> {
    let key = |k: &str| format!("notify[{i}].{k}");
    let err = |k: &str, v: &str, reason: &str| bad(path, key(k), v, reason);
    let kind_s = r
        .kind
        .as_deref()
        .ok_or_else(|| err("kind", "", &format!("missing: use {KINDS}")))?;
    let required = |k: &str, v: &Option<String>, what: &str| -> Result<String, ConfigError> {
        match v.as_deref() {
            Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
            _ => Err(err(k, "", &format!("missing: {kind_s} needs {what}"))),
        }
    };
    let template = |k: &str, v: &str| -> Result<Template, ConfigError> {
        // Never echo a value that may be a literal secret.
        let t = Template::parse(v).map_err(|e| err(k, "<hidden>", &template_error(&e)))?;
        if t.has_secrets() && !has_secrets {
            return Err(err(
                k,
                "<hidden>",
                "uses ${secret:…} but there is no [secrets] path",
            ));
        }
        Ok(t)
    };
    let url = |k: &str, v: &str| HttpUrl::parse(v).map_err(|e| err(k, v, &e));
    let ca_file = r.ca_file.as_ref().map(PathBuf::from);
    // Keys each kind accepts besides name/kind/events/min_level.
    let (kind, allowed): (NotifyKind, &[&str]) = match kind_s {
        "telegram" => {
            let token = template(
                "token",
                &required("token", &r.token, "token = \"${secret:NAME}\"")?,
            )?;
            let chat_id = match &r.chat_id {
                Some(toml::Value::Integer(n)) => n.to_string(),
                Some(toml::Value::String(s)) if valid_chat_id(s) => s.clone(),
                Some(v) => {
                    return Err(err(
                        "chat_id",
                        &format!("{v:?}"),
                        "use the numeric chat id (e.g. -1001234567890) or @channelname",
                    ))
                }
                None => return Err(err("chat_id", "", "missing: telegram needs chat_id")),
            };
            let base = r.url.as_deref().unwrap_or(DEFAULT_TELEGRAM);
            let u = url("url", base)?;
            // The token is appended at send time; a base with a ?query could not take it.
            u.join("bot0:x/sendMessage")
                .map_err(|e| err("url", base, &e))?;
            let kind = NotifyKind::Telegram {
                url: u,
                token,
                chat_id,
                ca_file,
            };
            (kind, &["token", "chat_id", "url", "ca_file"])
        }
        "ntfy" => {
            let server = required("server", &r.server, "server = \"https://ntfy.sh\"")?;
            let topic = required("topic", &r.topic, "a topic")?;
            if !topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                || topic.len() > 64
            {
                return Err(err(
                    "topic",
                    &topic,
                    "use 1 to 64 letters, digits, '-' or '_' (ntfy's own rule)",
                ));
            }
            let base = url("server", &server)?;
            let full = base.join(&topic).map_err(|e| err("topic", &topic, &e))?;
            let token = r
                .token
                .as_deref()
                .map(|t| template("token", t))
                .transpose()?;
            let kind = NotifyKind::Ntfy {
                url: full,
                token,
                ca_file,
            };
            (kind, &["server", "topic", "token", "ca_file"])
        }
        "webhook" => {
            let u = url("url", &required("url", &r.url, "url = \"https://…\"")?)?;
            let mut headers = Vec::new();
            for (n, v) in r.headers.iter().flatten() {
                let hk = format!("headers.{n}");
                crate::carrier_api::wire::check_header(n, "")
                    .map_err(|e| err(&hk, "<hidden>", &e))?;
                let t = template(&hk, v)?;
                if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                    return Err(err(
                        &hk,
                        "<hidden>",
                        "a header value may not hold CR, LF or NUL",
                    ));
                }
                if n.eq_ignore_ascii_case("content-type") {
                    return Err(err(
                        &hk,
                        "<hidden>",
                        "simkeep sends application/json itself",
                    ));
                }
                headers.push((n.clone(), t));
            }
            let kind = NotifyKind::Webhook {
                url: u,
                headers,
                ca_file,
            };
            (kind, &["url", "headers", "ca_file"])
        }
        "sms" => {
            let to = required("to", &r.to, "to = \"+8190…\" (the owner's number)")?;
            crate::codec::validate_phone_number(&to, false)
                .map_err(|e| err("to", &to, &e.to_string()))?;
            let max = r.max_per_day.unwrap_or(i64::from(DEFAULT_SMS_PER_DAY));
            let max_per_day = u32::try_from(max)
                .ok()
                .filter(|m| (1..=100).contains(m))
                .ok_or_else(|| {
                    err(
                        "max_per_day",
                        &max.to_string(),
                        "use 1 to 100 (each SMS costs money)",
                    )
                })?;
            (NotifyKind::Sms { to, max_per_day }, &["to", "max_per_day"])
        }
        "exec" => {
            let command = r.command.clone().unwrap_or_default();
            let shown = format!("{command:?}");
            match command.first() {
                Some(p) if p.starts_with('/') => {}
                _ => {
                    return Err(err(
                        "command",
                        &shown,
                        "use an argv array starting with an absolute path, e.g. [\"/etc/simkeep/on-event.sh\"] (no shell)",
                    ))
                }
            }
            if command.iter().any(|a| a.contains('\0')) || command.len() > 32 {
                return Err(err("command", &shown, "at most 32 arguments, no NUL"));
            }
            let timeout = match &r.timeout {
                None => DEFAULT_EXEC_TIMEOUT,
                Some(t) => {
                    let d = parse_duration(t).map_err(|e| err("timeout", t, &e))?;
                    if d < Duration::from_secs(1) || d > Duration::from_secs(600) {
                        return Err(err("timeout", t, "use 1s to 10m"));
                    }
                    d
                }
            };
            (
                NotifyKind::Exec { command, timeout },
                &["command", "timeout"],
            )
        }
        other => return Err(err("kind", other, &format!("use {KINDS}"))),
    };
    for (k, present) in [
        ("token", r.token.is_some()),
        ("chat_id", r.chat_id.is_some()),
        ("url", r.url.is_some()),
        ("server", r.server.is_some()),
        ("topic", r.topic.is_some()),
        ("headers", r.headers.is_some()),
        ("ca_file", r.ca_file.is_some()),
        ("to", r.to.is_some()),
        ("max_per_day", r.max_per_day.is_some()),
        ("command", r.command.is_some()),
        ("timeout", r.timeout.is_some()),
    ] {
        if present && !allowed.contains(&k) {
            return Err(err(
                k,
                "",
                &format!(
                    "not a {kind_s} setting; {kind_s} takes {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let events = r.events.clone().unwrap_or_default();
    for (j, e) in events.iter().enumerate() {
        let known = EVENT_NAMES.contains(&e.as_str());
        let code_like = !e.is_empty()
            && e.len() <= 40
            && e.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let typo = EVENT_PREFIXES.iter().any(|p| e.starts_with(p));
        if !known && (!code_like || typo) {
            return Err(err(
                &format!("events[{j}]"),
                e,
                &format!(
                    "not an event name ({}) or an attention code (snake_case, e.g. data_low)",
                    EVENT_NAMES.join(", ")
                ),
            ));
        }
    }
    let lvl = r.min_level.as_deref().unwrap_or("info");
    let min_level =
        Level::parse(lvl).ok_or_else(|| err("min_level", lvl, "use info, warning or critical"))?;
    let n = per_kind.entry(kind.name()).or_insert(0);
    *n = n.saturating_add(1);
    let name = match &r.name {
        Some(s) => {
            let ok = !s.is_empty()
                && s.chars().count() <= MAX_NAME_CHARS
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(err(
                    "name",
                    s,
                    &format!("use 1 to {MAX_NAME_CHARS} letters, digits, '-' or '_'"),
                ));
            }
            s.clone()
        }
        None => format!("{}-{n}", kind.name()),
    };
    Ok(NotifyConfig {
        name,
        events,
        min_level,
        kind,
    })
}

/// A template error without the template's text (it may hold a literal token).
fn template_error(e: &crate::template::TemplateError) -> String {
    use crate::template::TemplateError as E;
    match e {
        E::Unclosed { at, .. } => {
            format!("\"${{\" at byte {at} is not closed with \"}}\"; use ${{secret:NAME}}")
        }
        E::Unknown { name, .. } => format!("unknown placeholder ${{{name}}}; use ${{secret:NAME}}"),
        other => other.to_string(),
    }
}

/// Telegram chat ids are numbers (negative for groups) or `@channelusername`.
fn valid_chat_id(s: &str) -> bool {
    let num = s.strip_prefix('-').unwrap_or(s);
    let numeric = !num.is_empty() && num.len() <= 20 && num.bytes().all(|b| b.is_ascii_digit());
    let handle = s.strip_prefix('@').is_some_and(|h| {
        (4..=32).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    numeric || handle
}

/// Every `${secret:NAME}` the channels use, with the key that uses it (for `check-config`).
pub fn secret_uses(channels: &[NotifyConfig]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in channels {
        for t in c.kind.templates() {
            for n in t.secret_names() {
                out.push((format!("notify \"{}\"", c.name), n.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<NotifyConfig>, String> {
        #[derive(Deserialize)]
        struct W {
            #[serde(default)]
            notify: Vec<RawNotify>,
        }
        let w: W = toml::from_str(text).map_err(|e| e.to_string())?;
        notify_configs(&w.notify, true, "c.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn the_issue_examples_load_with_defaults() {
        let c = parse(
            r#"
[[notify]]
kind = "telegram"
token = "${secret:tg}"
chat_id = -1001234567890
events = ["topup_succeeded", "data_low"]
[[notify]]
kind = "webhook"
url = "https://hooks.example/simkeep"
events = ["sms_received"]
headers = { Authorization = "Bearer ${secret:hook}" }
[[notify]]
kind = "ntfy"
server = "http://ntfy.lan:8080"
topic = "router-flat"
min_level = "warning"
[[notify]]
kind = "sms"
to = "+819012345678"
[[notify]]
kind = "exec"
command = ["/etc/simkeep/on-event.sh", "--json"]
"#,
        )
        .unwrap();
        let names: Vec<_> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["telegram-1", "webhook-1", "ntfy-1", "sms-1", "exec-1"]
        );
        match &c[0].kind {
            NotifyKind::Telegram { url, chat_id, .. } => {
                assert_eq!(url.url.host, "api.telegram.org");
                assert_eq!(chat_id, "-1001234567890");
            }
            k => panic!("{k:?}"),
        }
        match &c[2].kind {
            NotifyKind::Ntfy { url, .. } => {
                assert!(url.plain);
                assert_eq!(
                    (url.url.port, url.url.target.as_str()),
                    (8080, "/router-flat")
                );
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(c[2].min_level, Level::Warning);
        assert!(matches!(c[3].kind, NotifyKind::Sms { max_per_day: 5, .. }));
        assert!(
            matches!(&c[4].kind, NotifyKind::Exec { timeout, .. } if *timeout == Duration::from_secs(30))
        );
        let uses = secret_uses(&c);
        assert!(uses.contains(&("notify \"telegram-1\"".into(), "tg".into())));
        assert!(uses.contains(&("notify \"webhook-1\"".into(), "hook".into())));
    }

    #[test]
    fn errors_name_the_table_and_key() {
        let e = parse("[[notify]]\nkind = \"pager\"").unwrap_err();
        assert!(
            e.contains("notify[0].kind") && e.contains("telegram, ntfy"),
            "{e}"
        );
        let e = parse("[[notify]]\nkind = \"webhook\"\nurl = \"https://x/\"\n[[notify]]\nkind = \"webhook\"\nchat_id = 1\nurl = \"https://x/\"").unwrap_err();
        assert!(
            e.contains("notify[1].chat_id") && e.contains("not a webhook setting"),
            "{e}"
        );
        let e = parse("[[notify]]\nkind = \"sms\"\nto = \"+81 90; AT+CFUN=0\"").unwrap_err();
        assert!(e.contains("notify[0].to"), "{e}");
        let e = parse("[[notify]]\nkind = \"sms\"\nto = \"+8190\"\nmax_per_day = 0").unwrap_err();
        assert!(e.contains("notify[0].max_per_day"), "{e}");
        let e = parse("[[notify]]\nkind = \"exec\"\ncommand = [\"sh -c 'x'\"]").unwrap_err();
        assert!(
            e.contains("notify[0].command") && e.contains("no shell"),
            "{e}"
        );
        let e = parse("[[notify]]\nkind = \"telegram\"\ntoken = \"${secret:tg}\"\nchat_id = 1\nurl = \"https://x/?a=1\"").unwrap_err();
        assert!(e.contains("notify[0].url") && e.contains("query"), "{e}");
        let e = parse("[[notify]]\nkind = \"webhook\"\nurl = \"ftp://x\"").unwrap_err();
        assert!(e.contains("notify[0].url"), "{e}");
        let e = parse(
            "[[notify]]\nkind = \"webhook\"\nurl = \"https://x/\"\nevents = [\"topup_sucess\"]",
        )
        .unwrap_err();
        assert!(e.contains("notify[0].events[0]"), "{e}");
        let e = parse("[[notify]]\nkind = \"telegram\"\ntoken = \"${secret:tg}\"").unwrap_err();
        assert!(
            e.contains("notify[0].chat_id") && e.contains("missing"),
            "{e}"
        );
        let e = parse("[[notify]]\nkind = \"ntfy\"\nserver = \"https://ntfy.sh\"\ntopic = \"a/b\"")
            .unwrap_err();
        assert!(e.contains("notify[0].topic"), "{e}");
        let e = parse("[[notify]]\nname = \"a\"\nkind = \"exec\"\ncommand = [\"/x\"]\n[[notify]]\nname = \"a\"\nkind = \"exec\"\ncommand = [\"/y\"]").unwrap_err();
        assert!(e.contains("notify[1].name"), "{e}");
        let e = parse("[[notify]]\nkind = \"exec\"\ncommand = [\"/x\"]\nmin_level = \"loud\"")
            .unwrap_err();
        assert!(e.contains("notify[0].min_level"), "{e}");
    }

    #[test]
    fn a_literal_token_is_never_echoed_and_secrets_need_a_secrets_file() {
        let e =
            parse("[[notify]]\nkind = \"telegram\"\ntoken = \"123:SECRETVALUE${\"\nchat_id = 1")
                .unwrap_err();
        assert!(!e.contains("SECRETVALUE"), "{e}");
        #[derive(Deserialize)]
        struct W {
            notify: Vec<RawNotify>,
        }
        let w: W = toml::from_str(
            "[[notify]]\nkind = \"telegram\"\ntoken = \"${secret:tg}\"\nchat_id = 1",
        )
        .unwrap();
        let e = notify_configs(&w.notify, false, "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("notify[0].token") && e.contains("[secrets]"),
            "{e}"
        );
    }

    #[test]
    fn attention_codes_are_accepted_as_filters() {
        let c = parse("[[notify]]\nkind = \"exec\"\ncommand = [\"/x\"]\nevents = [\"data_low\", \"signal_weak\", \"modem_lost\"]").unwrap();
        assert_eq!(c[0].events.len(), 3);
    }
}
