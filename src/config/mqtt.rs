//! `[mqtt]`: the broker simkeep publishes its state, events and Home Assistant discovery to.
//!
//! ```toml
//! [mqtt]
//! url = "mqtts://broker.example:8883"   # mqtt:// (1883) or mqtts:// (8883, rustls)
//! username = "${secret:mqtt_user}"
//! password = "${secret:mqtt_password}"
//! topic_prefix = "simkeep/{device_id}"  # device_id defaults to the IMEI
//! discovery_prefix = "homeassistant"
//! interval = "60s"
//! allow_commands = false
//! ```
//!
//! It must not: read the secrets file (the MQTT task renders `${secret:NAME}` when it connects),
//! echo a value that may be a literal password, or accept a topic a broker would refuse or read
//! as a wildcard (`+`, `#`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::template::Template;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMqtt {
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    topic_prefix: Option<String>,
    discovery_prefix: Option<String>,
    interval: Option<String>,
    allow_commands: Option<bool>,
    client_id: Option<String>,
    device_id: Option<String>,
    ca_file: Option<String>,
}

/// `[mqtt]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub url: MqttUrl,
    pub username: Option<Template>,
    pub password: Option<Template>,
    /// May hold `{device_id}`.
    pub topic_prefix: String,
    pub discovery_prefix: String,
    /// The state document is published at least this often.
    pub interval: Duration,
    pub allow_commands: bool,
    /// Default: `simkeep-<device_id>`.
    pub client_id: Option<String>,
    /// Default: the modem's IMEI.
    pub device_id: Option<String>,
    pub ca_file: Option<PathBuf>,
}

/// `mqtt://host[:port]` or `mqtts://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

pub const DEFAULT_TOPIC_PREFIX: &str = "simkeep/{device_id}";
pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Longest topic prefix: HA's unique ids and our topics are built on it, and brokers cap
/// topics at 64 KiB; a prefix this long is a mistake.
const MAX_PREFIX: usize = 128;

impl MqttUrl {
    /// Parses `mqtt://host[:port]` / `mqtts://host[:port]`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<MqttUrl, String> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err("use mqtt://host:1883 or mqtts://host:8883".into());
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '@', '?', '#', ' ']) {
            return Err(
                "only a host and port: credentials go in username/password, no path".into(),
            );
        }
        let (host, port) = match rest.rsplit_once(':') {
            // `[::1]:1883`; a bare IPv6 address without brackets is ambiguous.
            Some((h, p)) if !h.contains(':') || (h.starts_with('[') && h.ends_with(']')) => {
                let port: u16 = p
                    .parse()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535"))?;
                (h, port)
            }
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        Ok(MqttUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

/// A topic level or prefix: no wildcards, no NUL, no empty level (`a//b`), not starting with
/// `$` (brokers reserve `$SYS`).
fn check_topic(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_PREFIX {
        return Err(format!("use 1 to {MAX_PREFIX} characters"));
    }
    if s.contains(['+', '#', '\0']) || s.chars().any(char::is_control) {
        return Err("must not contain +, # or control characters (MQTT wildcards)".into());
    }
    if s.starts_with('$') || s.starts_with('/') || s.ends_with('/') || s.contains("//") {
        return Err("must not start with $ or /, end with /, or have an empty level (//)".into());
    }
    Ok(())
}

/// A device id or client id: it ends up in topics and Home Assistant unique ids.
pub fn check_id(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 64 {
        return Err("use 1 to 64 characters".into());
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("use only letters, digits, '_' and '-'".into());
    }
    Ok(())
}

/// Every `${secret:NAME}` `[mqtt]` uses, with its key (for `check-config`).
pub fn secret_uses(m: &MqttConfig) -> Vec<(String, String)> {
    [
        ("mqtt.username", &m.username),
        ("mqtt.password", &m.password),
    ]
    .into_iter()
    .filter_map(|(k, t)| t.as_ref().map(|t| (k, t)))
    .flat_map(|(k, t)| {
        t.secret_names()
            .map(move |n| (k.to_string(), n.to_string()))
    })
    .collect()
}

pub fn mqtt_config(
    raw: &RawMqtt,
    has_secrets: bool,
    path: &str,
) -> Result<MqttConfig, ConfigError> {
    let bad = |key: &str, value: &str, reason: &str| ConfigError::Value {
        path: path.to_string(),
        key: format!("mqtt.{key}"),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let url_s = raw.url.as_deref().ok_or_else(|| {
        bad(
            "url",
            "",
            "missing: e.g. url = \"mqtt://192.168.1.2:1883\" (or mqtts://…:8883)",
        )
    })?;
    let url = MqttUrl::parse(url_s).map_err(|e| bad("url", url_s, &e))?;
    let template = |key: &str, v: &Option<String>| -> Result<Option<Template>, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        // Never echo the value: it may be a literal password.
        let t = Template::parse(v).map_err(|_| {
            bad(
                key,
                "<hidden>",
                "not a valid template; use ${secret:NAME} or plain text",
            )
        })?;
        if t.has_secrets() && !has_secrets {
            return Err(bad(
                key,
                "<hidden>",
                "uses ${secret:…} but there is no [secrets] path",
            ));
        }
        Ok(Some(t))
    };
    let username = template("username", &raw.username)?;
    let password = template("password", &raw.password)?;
    if password.is_some() && username.is_none() {
        return Err(bad(
            "password",
            "<hidden>",
            "a password needs a username (MQTT 3.1.1 sends none without one)",
        ));
    }
    let topic_prefix = raw
        .topic_prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_TOPIC_PREFIX.into());
    check_topic(&topic_prefix.replace("{device_id}", "x"))
        .map_err(|e| bad("topic_prefix", &topic_prefix, &e))?;
    if topic_prefix.contains(['{', '}'])
        && topic_prefix.replace("{device_id}", "").contains(['{', '}'])
    {
        return Err(bad(
            "topic_prefix",
            &topic_prefix,
            "the only placeholder is {device_id}",
        ));
    }
    let discovery_prefix = raw
        .discovery_prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_DISCOVERY_PREFIX.into());
    check_topic(&discovery_prefix).map_err(|e| bad("discovery_prefix", &discovery_prefix, &e))?;
    let interval = match &raw.interval {
        Some(s) => super::duration_in(s, Duration::from_secs(5), Duration::from_secs(86_400))
            .map_err(|e| bad("interval", s, &e))?,
        None => DEFAULT_INTERVAL,
    };
    for (key, v) in [("client_id", &raw.client_id), ("device_id", &raw.device_id)] {
        if let Some(v) = v {
            check_id(v).map_err(|e| bad(key, v, &e))?;
        }
    }
    let ca_file = raw.ca_file.as_ref().map(PathBuf::from);
    if ca_file.is_some() && !url.tls {
        return Err(bad(
            "ca_file",
            raw.ca_file.as_deref().unwrap_or(""),
            "only used with an mqtts:// url",
        ));
    }
    Ok(MqttConfig {
        url,
        username,
        password,
        topic_prefix,
        discovery_prefix,
        interval,
        allow_commands: raw.allow_commands.unwrap_or(false),
        client_id: raw.client_id.clone(),
        device_id: raw.device_id.clone(),
        ca_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn parse(body: &str) -> Result<Config, String> {
        Config::parse(&format!("[mqtt]\n{body}"), Path::new("c.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_issues_example_loads_with_its_defaults() {
        let text = "[secrets]\npath = \"/etc/simkeep/secrets\"\n[mqtt]\nurl = \"mqtts://broker.example:8883\"\nusername = \"${secret:mqtt_user}\"\npassword = \"${secret:mqtt_password}\"\ntopic_prefix = \"simkeep/{device_id}\"\ndiscovery_prefix = \"homeassistant\"\ninterval = \"60s\"\nallow_commands = false\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        let m = c.mqtt.clone().unwrap();
        assert_eq!(
            m.url,
            MqttUrl {
                tls: true,
                host: "broker.example".into(),
                port: 8883
            }
        );
        assert_eq!(m.interval, Duration::from_secs(60));
        assert!(!m.allow_commands);
        assert_eq!(
            c.secret_uses(),
            [
                ("mqtt.username".to_string(), "mqtt_user".to_string()),
                ("mqtt.password".to_string(), "mqtt_password".to_string())
            ]
        );
        let d = parse("url = \"mqtt://10.0.0.2\"").unwrap().mqtt.unwrap();
        assert_eq!((d.url.port, d.url.tls), (1883, false));
        assert_eq!(d.topic_prefix, DEFAULT_TOPIC_PREFIX);
        assert_eq!(d.discovery_prefix, "homeassistant");
    }

    #[test]
    fn urls_are_parsed_as_brokers_write_them() {
        let p = |s: &str| MqttUrl::parse(s);
        assert_eq!(p("mqtt://[::1]:1884").unwrap().host, "::1");
        assert_eq!(p("mqtts://b.example/").unwrap().port, 8883);
        assert!(p("tcp://b:1883").unwrap_err().contains("mqtt://"));
        assert!(p("mqtt://u:pw@b:1883").unwrap_err().contains("username"));
        assert!(p("mqtt://b:0").unwrap_err().contains("port"));
        assert!(p("mqtt://b:99999").unwrap_err().contains("port"));
        assert!(p("mqtt://").unwrap_err().contains("host"));
    }

    #[test]
    fn bad_values_name_the_key_and_never_echo_a_password() {
        let e = parse("url = \"mqtt://b\"\ntopic_prefix = \"a/+/b\"").unwrap_err();
        assert!(
            e.contains("mqtt.topic_prefix") && e.contains("wildcard"),
            "{e}"
        );
        let e = parse("url = \"mqtt://b\"\ndiscovery_prefix = \"$SYS\"").unwrap_err();
        assert!(e.contains("mqtt.discovery_prefix"), "{e}");
        let e = parse("url = \"mqtt://b\"\ninterval = \"1s\"").unwrap_err();
        assert!(e.contains("mqtt.interval") && e.contains("5s"), "{e}");
        let e = parse("url = \"mqtt://b\"\ndevice_id = \"a/b\"").unwrap_err();
        assert!(e.contains("mqtt.device_id"), "{e}");
        let e = parse("url = \"mqtt://b\"\npassword = \"hunter2\"").unwrap_err();
        assert!(e.contains("mqtt.password") && !e.contains("hunter2"), "{e}");
        let e = parse("url = \"mqtt://b\"\nusername = \"${secret:u}\"").unwrap_err();
        assert!(e.contains("[secrets]"), "{e}");
        let e = parse("url = \"mqtt://b\"\ntopic_prefix = \"x/{imei}\"").unwrap_err();
        assert!(e.contains("{device_id}"), "{e}");
        let e = parse("url = \"mqtt://b\"\nca_file = \"/x.pem\"").unwrap_err();
        assert!(e.contains("mqtts://"), "{e}");
        let e = parse("port = 1883").unwrap_err();
        assert!(e.contains("port"), "{e}");
        let e = parse("username = \"u\"").unwrap_err();
        assert!(e.contains("mqtt.url"), "{e}");
    }
}
