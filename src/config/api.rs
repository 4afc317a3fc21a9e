//! `[secrets]`, `[carrier_api.NAME]` and the API keys of `[usage.carrier]` (`api`, `url`,
//! `remaining`, `unit`): raw serde structs → validated [`ApiConfig`]s and [`ApiBalance`].
//!
//! It must not: read the secrets file (parsing stays pure; the agent loads it with
//! [`super::Config::load_secrets`]), or accept a template, URL or auth combination that would
//! only fail later, in the middle of a top-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use crate::carrier_api::{ApiConfig, Auth, TokenStyle, Url};
use crate::template::Template;

/// `[secrets]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    pub path: Option<String>,
}

/// `[carrier_api.NAME]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCarrierApi {
    pub base_url: Option<String>,
    pub auth: Option<String>,
    pub token_url: Option<String>,
    pub token_style: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<String>,
    pub timeout: Option<String>,
}

/// `[usage.carrier]` reading the balance from an API, validated.
#[derive(Debug, Clone)]
pub struct ApiBalance {
    /// A `[carrier_api.NAME]`.
    pub api: String,
    pub url: Template,
    /// Dot path to the number in the JSON reply (`volume`, `data.remaining`).
    pub remaining: String,
    /// Bytes per unit of that number (`MB` with `[usage] unit_base`).
    pub unit_bytes: u64,
}

impl super::Config {
    /// The secrets named by `[secrets] path`, or none when the table is absent.
    pub fn load_secrets(&self) -> Result<crate::secrets::Secrets, crate::secrets::SecretsError> {
        match &self.secrets_path {
            Some(p) => crate::secrets::Secrets::load(p),
            None => Ok(crate::secrets::Secrets::empty()),
        }
    }

    /// Every `${secret:NAME}` the config uses, with the key that uses it (for `check-config`).
    pub fn secret_uses(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for a in &self.apis {
            for n in a.secret_names() {
                out.push((format!("carrier_api.{}", a.name), n.to_string()));
            }
        }
        if let Some(b) = self
            .usage
            .as_ref()
            .and_then(|u| u.carrier.as_ref())
            .and_then(|c| c.api.as_ref())
        {
            for n in b.url.secret_names() {
                out.push(("usage.carrier.url".into(), n.to_string()));
            }
        }
        out.extend(super::notify::secret_uses(&self.notify));
        out.extend(self.mqtt.iter().flat_map(super::mqtt::secret_uses));
        for f in &self.topup.flows {
            for (i, step) in f.steps.iter().enumerate() {
                if let super::Step::Http {
                    url, headers, body, ..
                } = step
                {
                    let key = format!("topup.flow \"{}\" step {}", f.name, i + 1);
                    let mut texts: Vec<&super::TemplateText> = vec![url];
                    texts.extend(headers.iter().map(|(_, v)| v));
                    if let super::HttpBody::Form(fields) = body {
                        texts.extend(fields.iter().map(|(_, v)| v));
                    }
                    for t in texts {
                        for n in t.template().secret_names() {
                            out.push((key.clone(), n.to_string()));
                        }
                    }
                }
            }
        }
        out
    }
}

fn bad(path: &str, key: String, value: &str, reason: &str) -> ConfigError {
    ConfigError::Value {
        path: path.to_string(),
        key,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// `[secrets] path`.
pub(super) fn secrets_path(
    raw: Option<&RawSecrets>,
    path: &str,
) -> Result<Option<PathBuf>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.path.as_deref() {
        Some(p) if Path::new(p).is_absolute() => Ok(Some(PathBuf::from(p))),
        Some(p) => Err(bad(
            path,
            "secrets.path".into(),
            p,
            "use an absolute path, e.g. /etc/simkeep/secrets.toml",
        )),
        None => Err(bad(
            path,
            "secrets.path".into(),
            "",
            "name the secrets file, e.g. path = \"/etc/simkeep/secrets.toml\" (mode 0600)",
        )),
    }
}

/// All `[carrier_api.NAME]` tables, in name order.
pub(super) fn carrier_apis(
    raw: &BTreeMap<String, RawCarrierApi>,
    have_secrets: bool,
    path: &str,
) -> Result<Vec<ApiConfig>, ConfigError> {
    raw.iter()
        .map(|(name, r)| carrier_api(name, r, have_secrets, path))
        .collect()
}

fn carrier_api(
    name: &str,
    r: &RawCarrierApi,
    have_secrets: bool,
    path: &str,
) -> Result<ApiConfig, ConfigError> {
    let key = |k: &str| format!("carrier_api.{name}.{k}");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(bad(
            path,
            format!("carrier_api.{name:?}"),
            name,
            "API names may use letters, digits, '_' and '-'",
        ));
    }
    let base_s = r
        .base_url
        .as_deref()
        .ok_or_else(|| bad(path, key("base_url"), "", "set the API's https:// base URL"))?;
    let base = Url::parse(base_s).map_err(|e| bad(path, key("base_url"), base_s, &e))?;
    if base.target.contains('?') {
        return Err(bad(
            path,
            key("base_url"),
            base_s,
            "the base URL may not have a ?query",
        ));
    }
    // A template in an auth key: parsed now, and its secrets need a [secrets] file.
    let template =
        |k: &str, v: &Option<String>, needed_by: &str| -> Result<Template, ConfigError> {
            let text = v.as_deref().ok_or_else(|| {
                bad(
                    path,
                    key(k),
                    "",
                    &format!("auth = \"{needed_by}\" needs {k}"),
                )
            })?;
            // A credential written literally (not `${secret:NAME}`) is never echoed: neither
            // the value nor a template error that would quote it.
            let literal_secret = super::keys::find(&key(k))
                .is_some_and(|d| d.kind == super::keys::Kind::Secret)
                && !text.contains("${secret:");
            let t = Template::parse(text).map_err(|e| {
                if literal_secret {
                    bad(
                        path,
                        key(k),
                        "<hidden>",
                        "is not a valid template: keep it in the secrets file as ${secret:NAME}",
                    )
                } else {
                    bad(path, key(k), text, &e.to_string())
                }
            })?;
            if t.has_secrets() && !have_secrets {
                return Err(bad(
                    path,
                    key(k),
                    text,
                    "uses ${secret:...} but there is no [secrets] path = \"...\"",
                ));
            }
            Ok(t)
        };
    let auth_s = r.auth.as_deref().ok_or_else(|| {
        bad(
            path,
            key("auth"),
            "",
            "set auth = \"oauth2\", \"bearer\", \"basic\" or \"none\"",
        )
    })?;
    let used: &[&str] = match auth_s {
        "none" => &[],
        "bearer" => &["token"],
        "basic" => &["username", "password"],
        "oauth2" => &["token_url", "token_style", "client_id", "client_secret"],
        other => {
            return Err(bad(
                path,
                key("auth"),
                other,
                "use oauth2 (client credentials), bearer, basic or none",
            ))
        }
    };
    // A key the chosen auth ignores is a mistake worth saying out loud (a token set with
    // auth = "oauth2" would silently not be sent).
    let present = [
        ("token_url", r.token_url.is_some()),
        ("token_style", r.token_style.is_some()),
        ("client_id", r.client_id.is_some()),
        ("client_secret", r.client_secret.is_some()),
        ("token", r.token.is_some()),
        ("username", r.username.is_some()),
        ("password", r.password.is_some()),
    ];
    if let Some((k, _)) = present.iter().find(|(k, p)| *p && !used.contains(k)) {
        return Err(bad(
            path,
            key(k),
            "",
            &format!("not used with auth = \"{auth_s}\""),
        ));
    }
    let auth = match auth_s {
        "none" => Auth::None,
        "bearer" => Auth::Bearer {
            token: template("token", &r.token, "bearer")?,
        },
        "basic" => Auth::Basic {
            username: template("username", &r.username, "basic")?,
            password: template("password", &r.password, "basic")?,
        },
        _ => {
            let token_url = r.token_url.clone().ok_or_else(|| {
                bad(
                    path,
                    key("token_url"),
                    "",
                    "auth = \"oauth2\" needs token_url, e.g. \"/oauth/token\"",
                )
            })?;
            base.join(&token_url)
                .map_err(|e| bad(path, key("token_url"), &token_url, &e))?;
            let style_s = r.token_style.as_deref().unwrap_or("form");
            let style = TokenStyle::parse(style_s).ok_or_else(|| {
                bad(
                    path,
                    key("token_style"),
                    style_s,
                    "use form (client_id/client_secret as form fields) or json (1NCE)",
                )
            })?;
            Auth::OAuth2 {
                token_url,
                client_id: template("client_id", &r.client_id, "oauth2")?,
                client_secret: template("client_secret", &r.client_secret, "oauth2")?,
                style,
            }
        }
    };
    let ca_file = match r.ca_file.as_deref() {
        None => None,
        Some(p) if Path::new(p).is_absolute() => Some(PathBuf::from(p)),
        Some(p) => {
            return Err(bad(
                path,
                key("ca_file"),
                p,
                "use an absolute path to a PEM file of CA certificates",
            ))
        }
    };
    let timeout_s = r.timeout.clone().unwrap_or_else(|| "30s".into());
    let timeout = super::duration_in(&timeout_s, Duration::from_secs(1), Duration::from_secs(600))
        .map_err(|e| bad(path, key("timeout"), &timeout_s, &e))?;
    Ok(ApiConfig {
        name: name.to_string(),
        base_url: base_s.to_string(),
        auth,
        ca_file,
        timeout,
    })
}

/// The API half of `[usage.carrier]`: `None` when `api` is not set.
pub(super) fn api_balance(
    c: &super::RawCarrier,
    apis: &[String],
    have_secrets: bool,
    unit_base: crate::usage::UnitBase,
    path: &str,
) -> Result<Option<ApiBalance>, ConfigError> {
    let Some(api) = &c.api else {
        for (k, set) in [
            ("url", c.url.is_some()),
            ("remaining", c.remaining.is_some()),
            ("unit", c.unit.is_some()),
        ] {
            if set {
                return Err(bad(
                    path,
                    format!("usage.carrier.{k}"),
                    "",
                    "only used with api = \"NAME\" (a [carrier_api.NAME])",
                ));
            }
        }
        return Ok(None);
    };
    if !apis.contains(api) {
        return Err(bad(
            path,
            "usage.carrier.api".into(),
            api,
            &if apis.is_empty() {
                "there is no [carrier_api.NAME] table".to_string()
            } else {
                format!(
                    "name one of the [carrier_api.*] tables: {}",
                    apis.join(", ")
                )
            },
        ));
    }
    if c.ussd.is_some() || c.sms_to.is_some() {
        return Err(bad(
            path,
            "usage.carrier.api".into(),
            api,
            "read the balance either by api or by ussd/sms_to, not both",
        ));
    }
    let url_s = c.url.as_deref().ok_or_else(|| {
        bad(
            path,
            "usage.carrier.url".into(),
            "",
            "api needs the balance URL, e.g. \"/v1/sims/${sim.iccid}/quota/data\"",
        )
    })?;
    let url = Template::parse(url_s)
        .map_err(|e| bad(path, "usage.carrier.url".into(), url_s, &e.to_string()))?;
    if url.has_secrets() && !have_secrets {
        return Err(bad(
            path,
            "usage.carrier.url".into(),
            url_s,
            "uses ${secret:...} but there is no [secrets] path = \"...\"",
        ));
    }
    let remaining = c.remaining.clone().unwrap_or_default();
    if remaining.is_empty() || remaining.split('.').any(str::is_empty) {
        return Err(bad(
            path,
            "usage.carrier.remaining".into(),
            &remaining,
            "give the dot path to the number in the reply, e.g. \"volume\" or \"data.remaining\"",
        ));
    }
    // No default unit: a MB figure read as bytes would look like an empty SIM and buy data.
    let unit_s = c.unit.as_deref().ok_or_else(|| {
        bad(
            path,
            "usage.carrier.unit".into(),
            "",
            "api needs the unit of that number, e.g. \"MB\" (1NCE, Airalo) or \"B\"",
        )
    })?;
    let unit_bytes = crate::usage::units::unit_multiplier(unit_s, unit_base).ok_or_else(|| {
        bad(
            path,
            "usage.carrier.unit".into(),
            unit_s,
            "use B, KB, MB, GB, TB or KiB, MiB, GiB, TiB",
        )
    })?;
    Ok(Some(ApiBalance {
        api: api.clone(),
        url,
        remaining,
        unit_bytes,
    }))
}

#[cfg(test)]
mod tests {
    use crate::carrier_api::{Auth, TokenStyle};
    use crate::config::{Config, ConfigError};
    use std::path::Path;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/simkeep/config.toml"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    /// The keys exactly as the issue writes them.
    const ISSUE: &str = r#"
[secrets]
path = "/etc/simkeep/secrets.toml"

[carrier_api.main]
base_url = "https://api.1nce.com/management-api"
auth = "oauth2"
token_url = "/oauth/token"
client_id = "${secret:client_id}"
client_secret = "${secret:client_secret}"
ca_file = "/etc/simkeep/carrier-ca.pem"
timeout = "30s"

[usage]
unit_base = 1000
[usage.carrier]
api = "main"
url = "/v1/sims/${sim.iccid}/quota/data"
remaining = "volume"
unit = "MB"
interval = "15m"
"#;

    #[test]
    fn a_literal_password_that_is_a_broken_template_is_not_echoed() {
        let msg = err("[carrier_api.a]\nbase_url = \"https://x.example\"\nauth = \"basic\"\nusername = \"u\"\npassword = \"hun${ter2\"\n");
        assert!(
            msg.contains("carrier_api.a.password") && !msg.contains("ter2"),
            "{msg}"
        );
    }

    #[test]
    fn the_issue_example_loads() {
        let c = parse(ISSUE).unwrap();
        assert_eq!(
            c.secrets_path.as_deref(),
            Some(Path::new("/etc/simkeep/secrets.toml"))
        );
        assert_eq!(c.apis.len(), 1);
        let a = &c.apis[0];
        assert_eq!(a.name, "main");
        assert_eq!(a.timeout, Duration::from_secs(30));
        assert_eq!(
            a.ca_file.as_deref(),
            Some(Path::new("/etc/simkeep/carrier-ca.pem"))
        );
        match &a.auth {
            Auth::OAuth2 {
                token_url, style, ..
            } => {
                assert_eq!(token_url, "/oauth/token");
                assert_eq!(*style, TokenStyle::Form);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(a.secret_names(), ["client_id", "client_secret"]);
        let carrier = c.usage.unwrap().carrier.unwrap();
        let b = carrier.api.unwrap();
        assert_eq!(b.api, "main");
        assert_eq!(b.url.as_str(), "/v1/sims/${sim.iccid}/quota/data");
        assert_eq!(b.remaining, "volume");
        assert_eq!(b.unit_bytes, 1_000_000);
        assert_eq!(carrier.interval, Duration::from_secs(900));
        assert!(carrier.ussd.is_none());
    }

    #[test]
    fn bearer_basic_and_none_load() {
        let c = parse(
            "[secrets]\npath = \"/s.toml\"\n\
             [carrier_api.a]\nbase_url = \"https://a.example\"\nauth = \"bearer\"\ntoken = \"${secret:t}\"\n\
             [carrier_api.b]\nbase_url = \"https://b.example\"\nauth = \"basic\"\nusername = \"u\"\npassword = \"${secret:p}\"\n\
             [carrier_api.c]\nbase_url = \"https://c.example\"\nauth = \"none\"\n",
        )
        .unwrap();
        let names: Vec<_> = c.apis.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(matches!(c.apis[0].auth, Auth::Bearer { .. }));
        assert!(matches!(c.apis[1].auth, Auth::Basic { .. }));
        assert!(matches!(c.apis[2].auth, Auth::None));
        assert_eq!(
            c.secret_uses(),
            [
                ("carrier_api.a".to_string(), "t".to_string()),
                ("carrier_api.b".to_string(), "p".to_string())
            ]
        );
    }

    #[test]
    fn the_json_token_style_is_accepted_for_1nce() {
        let c = parse(&ISSUE.replace("timeout = \"30s\"", "token_style = \"json\"")).unwrap();
        assert!(matches!(
            c.apis[0].auth,
            Auth::OAuth2 {
                style: TokenStyle::Json,
                ..
            }
        ));
    }

    #[test]
    fn mistakes_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "base_url = \"https://api.1nce.com/management-api\"",
                "base_url = \"http://api.1nce.com\"",
                "carrier_api.main.base_url",
            ),
            (
                "auth = \"oauth2\"",
                "auth = \"oauth\"",
                "carrier_api.main.auth",
            ),
            (
                "client_id = \"${secret:client_id}\"",
                "client_id = \"${secret:client_id\"",
                "carrier_api.main.client_id",
            ),
            (
                "client_id = \"${secret:client_id}\"",
                "client_id = \"${sim.iccd}\"",
                "carrier_api.main.client_id",
            ),
            (
                "token_url = \"/oauth/token\"\n",
                "",
                "carrier_api.main.token_url",
            ),
            (
                "timeout = \"30s\"",
                "timeout = \"0s\"",
                "carrier_api.main.timeout",
            ),
            (
                "timeout = \"30s\"",
                "token = \"x\"",
                "carrier_api.main.token",
            ),
            (
                "ca_file = \"/etc/simkeep/carrier-ca.pem\"",
                "ca_file = \"ca.pem\"",
                "carrier_api.main.ca_file",
            ),
            ("api = \"main\"", "api = \"other\"", "usage.carrier.api"),
            (
                "url = \"/v1/sims/${sim.iccid}/quota/data\"",
                "url = \"/v1/sims/${iccid}/quota/data\"",
                "usage.carrier.url",
            ),
            (
                "remaining = \"volume\"",
                "remaining = \"data..x\"",
                "usage.carrier.remaining",
            ),
            ("unit = \"MB\"\n", "", "usage.carrier.unit"),
            ("unit = \"MB\"", "unit = \"parsecs\"", "usage.carrier.unit"),
            (
                "path = \"/etc/simkeep/secrets.toml\"",
                "path = \"secrets.toml\"",
                "secrets.path",
            ),
        ];
        for (from, to, key) in cases {
            assert!(ISSUE.contains(from), "{from}");
            let msg = err(&ISSUE.replace(from, to));
            assert!(msg.contains(key), "{to:?} → {msg}");
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
    }

    #[test]
    fn a_secret_template_without_a_secrets_file_is_refused() {
        let text = ISSUE.replace("[secrets]\npath = \"/etc/simkeep/secrets.toml\"\n", "");
        let msg = err(&text);
        assert!(
            msg.contains("carrier_api.main.client_id") && msg.contains("[secrets]"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_in_the_new_tables() {
        assert!(err(&ISSUE.replace("timeout = \"30s\"", "timeot = \"30s\"")).contains("timeot"));
        assert!(err("[secrets]\npaht = \"/x\"\n").contains("paht"));
    }

    #[test]
    fn api_and_ussd_together_or_api_keys_without_api_are_refused() {
        let msg = err(&ISSUE.replace("api = \"main\"", "api = \"main\"\nussd = \"*100#\""));
        assert!(msg.contains("not both"), "{msg}");
        let msg = err("[usage.carrier]\nussd = \"*100#\"\nunit = \"MB\"\n");
        assert!(
            msg.contains("usage.carrier.unit") && msg.contains("api"),
            "{msg}"
        );
    }

    #[test]
    fn a_config_without_the_new_tables_has_no_apis() {
        let c = parse("").unwrap();
        assert!(c.apis.is_empty() && c.secrets_path.is_none());
        assert!(c.load_secrets().unwrap().names().next().is_none());
    }
}
