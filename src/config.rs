//! The TOML config file: raw serde structs (unknown keys refused) → a validated [`Config`].
//!
//! Every error names the key (and line) and says what is allowed, because the owner edits this
//! file over SSH on a router and reads the error in `logread`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod api;
pub mod notify;
pub mod topup;
pub use api::{ApiBalance, RawCarrierApi, RawSecrets};
pub use notify::{NotifyConfig, NotifyKind};
pub use topup::{FlowConfig, HttpBody, Step, TemplateText, Threshold, TopupConfig, TopupError};

/// A config problem, as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {cause}")]
    Read { path: String, cause: String },
    #[error("config {path}: {message}")]
    Syntax { path: String, message: String },
    #[error("config {path}: {key} = {value:?}: {reason}")]
    Value {
        path: String,
        key: String,
        value: String,
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    modem: RawModem,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    http: RawHttp,
    usage: Option<RawUsage>,
    topup: Option<topup::RawTopup>,
    secrets: Option<RawSecrets>,
    #[serde(default)]
    carrier_api: std::collections::BTreeMap<String, RawCarrierApi>,
    #[serde(default)]
    notify: Vec<notify::RawNotify>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModem {
    port: Option<String>,
    baud: Option<u32>,
    poll_interval: Option<String>,
    lock_dir: Option<String>,
    profile: Option<String>,
    pin: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<String>,
    flush_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
    token_file: Option<String>,
}

/// `[usage]` as written; validated into a plan by the usage module.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsage {
    pub interface: Option<String>,
    pub sysfs_root: Option<String>,
    pub quota: Option<String>,
    pub cycle: Option<String>,
    pub reset_day: Option<i64>,
    pub fixed_days: Option<i64>,
    pub activated: Option<crate::usage::RawTime>,
    pub timezone: Option<String>,
    pub unit_base: Option<i64>,
    pub modem_counters: Option<bool>,
    pub carrier: Option<RawCarrier>,
}

/// `[usage.carrier]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCarrier {
    pub ussd: Option<String>,
    pub sms_to: Option<String>,
    pub sms_text: Option<String>,
    pub interval: Option<String>,
    pub max_age: Option<String>,
    pub rules: Option<Vec<String>>,
    pub decimal_mark: Option<String>,
    /// Read the balance from `[carrier_api.NAME]` instead of USSD/SMS.
    pub api: Option<String>,
    pub url: Option<String>,
    pub remaining: Option<String>,
    pub unit: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub modem: ModemConfig,
    pub store: StoreConfig,
    pub http: HttpConfig,
    pub usage: Option<UsageConfig>,
    /// `[topup]`, validated; disabled with defaults when the table is absent.
    pub topup: TopupConfig,
    /// `[secrets] path`: loaded by the agent ([`Config::load_secrets`]), not here.
    pub secrets_path: Option<PathBuf>,
    /// `[carrier_api.NAME]` tables, in name order.
    pub apis: Vec<crate::carrier_api::ApiConfig>,
    /// `[[notify]]` channels, in file order.
    pub notify: Vec<NotifyConfig>,
}

/// `[usage]`, validated.
#[derive(Debug, Clone)]
pub struct UsageConfig {
    pub plan: crate::usage::Plan,
    /// The WAN interface whose kernel counters count the SIM's traffic (`wwan0`).
    pub interface: Option<String>,
    pub sysfs_root: PathBuf,
    /// Read the modem's own counters (Quectel `AT+QGDCNT?`, Huawei `AT^DSFLOWQRY`).
    pub modem_counters: bool,
    pub carrier: Option<CarrierConfig>,
    pub estimator: crate::usage::EstimatorConfig,
}

/// `[usage.carrier]`, validated: how to ask the carrier for the balance.
#[derive(Debug, Clone)]
pub struct CarrierConfig {
    pub ussd: Option<String>,
    pub sms_to: Option<String>,
    pub sms_text: Option<String>,
    pub interval: Duration,
    pub rules: crate::usage::CarrierRules,
    /// The balance comes from a carrier API (`api`, `url`, `remaining`, `unit`).
    pub api: Option<ApiBalance>,
}

#[derive(Clone)]
pub struct ModemConfig {
    pub port: PathBuf,
    pub baud: u32,
    pub poll_interval: Duration,
    pub lock_dir: PathBuf,
    /// The vendor profile named in the config; `None` for `auto` (detected from `AT+CGMI`).
    pub profile: Option<crate::modem::Profile>,
    /// The SIM PIN. Never logged (see the Debug impl).
    pub pin: Option<String>,
}

impl fmt::Debug for ModemConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModemConfig")
            .field("port", &self.port)
            .field("baud", &self.baud)
            .field("poll_interval", &self.poll_interval)
            .field("lock_dir", &self.lock_dir)
            .field("profile", &self.profile)
            .field("pin", &self.pin.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub flush_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `None` when `listen = ""` (HTTP off).
    pub listen: Option<SocketAddr>,
    /// The API token that writes need (created 0600 at first start). Default: `api-token`
    /// beside the store (`/etc/simkeep/api-token` with the default store).
    pub token_file: PathBuf,
}

pub const DEFAULT_PORT: &str = "/dev/ttyUSB2";
pub const DEFAULT_STORE: &str = "/etc/simkeep/simkeep.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
const BAUDS: &[u32] = &[9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            cause: match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ if path.is_dir() => "it is a directory".to_string(),
                _ => e.to_string(),
            },
        })?;
        Self::parse(&text, path)
    }

    /// Validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: p.clone(),
            message: syntax_message(text, &e),
        })?;
        let bad = |key: &str, value: &str, reason: &str| ConfigError::Value {
            path: p.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let m = raw.modem;
        let baud = m.baud.unwrap_or(115_200);
        if !BAUDS.contains(&baud) {
            return Err(bad(
                "modem.baud",
                &baud.to_string(),
                &format!("use one of {BAUDS:?}"),
            ));
        }
        let poll = m.poll_interval.unwrap_or_else(|| "30s".into());
        let poll_interval =
            parse_duration(&poll).map_err(|r| bad("modem.poll_interval", &poll, &r))?;
        if poll_interval < Duration::from_secs(1) {
            return Err(bad("modem.poll_interval", &poll, "must be at least 1s"));
        }
        let port = m.port.unwrap_or_else(|| DEFAULT_PORT.into());
        if port.is_empty() {
            return Err(bad(
                "modem.port",
                &port,
                "name the modem's AT port, e.g. /dev/ttyUSB2",
            ));
        }
        if let Some(pin) = &m.pin {
            if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                // Do not echo the PIN back.
                return Err(bad("modem.pin", "<hidden>", "a SIM PIN is 4 to 8 digits"));
            }
        }
        // The profile names are the modem layer's; `None` means "auto" (detect from AT+CGMI).
        let profile_s = m.profile.unwrap_or_else(|| "auto".into());
        let profile = crate::modem::Profile::from_config(&profile_s).map_err(|_| {
            let names: Vec<&str> = crate::modem::Profile::ALL
                .iter()
                .map(|p| p.name())
                .collect();
            bad(
                "modem.profile",
                &profile_s,
                &format!("use one of auto, {}", names.join(", ")),
            )
        })?;
        let secrets_path = api::secrets_path(raw.secrets.as_ref(), &p)?;
        let apis = api::carrier_apis(&raw.carrier_api, secrets_path.is_some(), &p)?;
        let api_names: Vec<String> = apis.iter().map(|a| a.name.clone()).collect();
        let flush = raw.store.flush_interval.unwrap_or_else(|| "15m".into());
        let flush_interval =
            parse_duration(&flush).map_err(|r| bad("store.flush_interval", &flush, &r))?;
        let listen_s = raw.http.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = if listen_s.is_empty() {
            None
        } else {
            Some(listen_s.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "http.listen",
                    &listen_s,
                    "use address:port, e.g. 127.0.0.1:8787 (\"\" turns HTTP off)",
                )
            })?)
        };
        let usage = raw
            .usage
            .as_ref()
            .map(|u| usage_config(u, &p, &api_names, secrets_path.is_some()))
            .transpose()?;
        // Sizes in [topup] mean what [usage] says "MB" means.
        let unit_base = usage
            .as_ref()
            .map_or(crate::usage::UnitBase::Binary, |u| u.plan.unit_base);
        let topup =
            topup::topup_config(raw.topup.as_ref(), text, unit_base, &api_names).map_err(|e| {
                ConfigError::Syntax {
                    path: p.clone(),
                    message: e.to_string(),
                }
            })?;
        let notify = notify::notify_configs(&raw.notify, secrets_path.is_some(), &p)?;
        let store_path = PathBuf::from(raw.store.path.unwrap_or_else(|| DEFAULT_STORE.into()));
        Ok(Config {
            path: path.to_path_buf(),
            modem: ModemConfig {
                port: PathBuf::from(port),
                baud,
                poll_interval,
                lock_dir: PathBuf::from(m.lock_dir.unwrap_or_else(|| "/var/lock".into())),
                profile,
                pin: m.pin,
            },
            store: StoreConfig {
                path: store_path.clone(),
                flush_interval,
            },
            http: HttpConfig {
                listen,
                token_file: match raw.http.token_file {
                    Some(t) if !t.is_empty() => PathBuf::from(t),
                    _ => store_path
                        .parent()
                        .unwrap_or(Path::new("/etc/simkeep"))
                        .join("api-token"),
                },
            },
            usage,
            topup,
            secrets_path,
            apis,
            notify,
        })
    }

    /// The defaults, talking to `port`: for `--port` use without a config file.
    pub fn for_port(port: &Path) -> Result<Self, ConfigError> {
        let mut c = Self::parse("", Path::new("(defaults)"))?;
        c.modem.port = port.to_path_buf();
        Ok(c)
    }
}

fn usage_config(
    raw: &RawUsage,
    path: &str,
    api_names: &[String],
    have_secrets: bool,
) -> Result<UsageConfig, ConfigError> {
    use crate::usage::{CarrierRules, DecimalMark, EstimatorConfig, Plan, RawPlan};
    let bad = |key: &str, value: &str, reason: String| ConfigError::Value {
        path: path.to_string(),
        key: key.to_string(),
        value: value.to_string(),
        reason,
    };
    let plan_raw = RawPlan {
        quota: raw.quota.clone(),
        cycle: raw.cycle.clone(),
        reset_day: raw.reset_day,
        fixed_days: raw.fixed_days,
        activated: raw.activated.clone(),
        timezone: raw.timezone.clone(),
        unit_base: raw.unit_base,
    };
    // Plan errors already start with the key and carry the value.
    let plan = Plan::from_raw(&plan_raw, "usage").map_err(|e| ConfigError::Syntax {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    let mut estimator = EstimatorConfig::default();
    let carrier = match &raw.carrier {
        None => None,
        Some(c) => {
            if let Some(code) = &c.ussd {
                crate::codec::validate_ussd_code(code)
                    .map_err(|e| bad("usage.carrier.ussd", code, e.to_string()))?;
            }
            if let Some(to) = &c.sms_to {
                crate::codec::validate_phone_number(to, true)
                    .map_err(|e| bad("usage.carrier.sms_to", to, e.to_string()))?;
            }
            let api = api::api_balance(c, api_names, have_secrets, plan.unit_base, path)?;
            if c.ussd.is_none() && c.sms_to.is_none() && api.is_none() {
                return Err(bad(
                    "usage.carrier",
                    "",
                    "set ussd (e.g. \"*100#\"), sms_to and sms_text, or api".into(),
                ));
            }
            if c.sms_to.is_some() && c.sms_text.as_deref().unwrap_or("").is_empty() {
                return Err(bad(
                    "usage.carrier.sms_text",
                    "",
                    "sms_to needs the text to send, e.g. \"BAL\"".into(),
                ));
            }
            let interval_s = c.interval.clone().unwrap_or_else(|| "6h".into());
            let interval = parse_duration(&interval_s)
                .map_err(|r| bad("usage.carrier.interval", &interval_s, r))?;
            if interval < Duration::from_secs(60) {
                // Carriers throttle or bar numbers that hammer their balance service.
                return Err(bad(
                    "usage.carrier.interval",
                    &interval_s,
                    "must be at least 1m".into(),
                ));
            }
            if let Some(age) = &c.max_age {
                let d = parse_duration(age).map_err(|r| bad("usage.carrier.max_age", age, r))?;
                estimator.carrier_max_age_secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            }
            let mark = match c.decimal_mark.as_deref().unwrap_or("auto") {
                "auto" => DecimalMark::Auto,
                "point" => DecimalMark::Point,
                "comma" => DecimalMark::Comma,
                other => {
                    return Err(bad(
                        "usage.carrier.decimal_mark",
                        other,
                        "use auto, point or comma".into(),
                    ))
                }
            };
            let rules = CarrierRules::new(c.rules.as_deref().unwrap_or(&[]), plan.unit_base, mark)
                .map_err(|e| bad("usage.carrier.rules", "", e.to_string()))?;
            Some(CarrierConfig {
                ussd: c.ussd.clone(),
                sms_to: c.sms_to.clone(),
                sms_text: c.sms_text.clone(),
                interval,
                rules,
                api,
            })
        }
    };
    if let Some(iface) = &raw.interface {
        if iface.is_empty() || iface.contains('/') || iface.starts_with('.') {
            return Err(bad(
                "usage.interface",
                iface,
                "name a network interface such as wwan0".into(),
            ));
        }
    }
    Ok(UsageConfig {
        plan,
        interface: raw.interface.clone(),
        sysfs_root: PathBuf::from(
            raw.sysfs_root
                .clone()
                .unwrap_or_else(|| "/sys/class/net".into()),
        ),
        modem_counters: raw.modem_counters.unwrap_or(true),
        carrier,
        estimator,
    })
}

/// One line from a toml error: its message plus the line number.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map(|s| s.matches('\n').count() + 1)
                .unwrap_or(0);
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

/// `"30s"`, `"15m"`, `"6h"`, `"7d"`, `"500ms"`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        "expected a whole number with a unit: 500ms, 30s, 15m, 6h or 7d".to_string()
    })?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(|| "that duration is too long".to_string())
    };
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" | "min" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => Err(format!("unknown unit {other:?}: use ms, s, m, h or d")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/simkeep/config.toml"))
    }

    #[test]
    fn empty_config_gives_router_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.modem.port, PathBuf::from("/dev/ttyUSB2"));
        assert_eq!(c.modem.poll_interval, Duration::from_secs(30));
        assert_eq!(c.store.flush_interval, Duration::from_secs(900));
        assert_eq!(c.http.listen, Some("127.0.0.1:8787".parse().unwrap()));
    }

    #[test]
    fn a_typo_in_a_key_names_the_key_and_the_line() {
        let err = parse("[modem]\nport = \"/dev/ttyUSB2\"\npol_interval = \"30s\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pol_interval"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }

    #[test]
    fn a_bad_duration_names_key_and_value() {
        let msg = parse("[modem]\npoll_interval = \"30 parsecs\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("modem.poll_interval = \"30 parsecs\""),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_pin_is_refused_without_echoing_it() {
        let msg = parse("[modem]\npin = \"12a4\"\n").unwrap_err().to_string();
        assert!(msg.contains("modem.pin") && !msg.contains("12a4"), "{msg}");
    }

    #[test]
    fn the_pin_never_shows_in_debug_output() {
        let c = parse("[modem]\npin = \"1234\"\n").unwrap();
        assert!(!format!("{c:?}").contains("1234"));
    }

    #[test]
    fn an_unknown_profile_lists_the_allowed_ones() {
        let msg = parse("[modem]\nprofile = \"zte\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("huawei") && msg.contains("\"zte\""), "{msg}");
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn http_can_be_turned_off_and_bad_addresses_are_refused() {
        assert_eq!(parse("[http]\nlisten = \"\"\n").unwrap().http.listen, None);
        assert!(parse("[http]\nlisten = \"localhost\"\n").is_err());
    }

    #[test]
    fn usage_section_is_kept_for_the_usage_module() {
        let c = parse(
            "[usage]\nquota = \"20GB\"\nunit_base = 1000\n[usage.carrier]\nussd = \"*100#\"\n",
        )
        .unwrap();
        let u = c.usage.unwrap();
        assert_eq!(u.plan.quota_bytes, Some(20_000_000_000));
        assert_eq!(u.carrier.unwrap().ussd.as_deref(), Some("*100#"));
    }

    #[test]
    fn a_ussd_code_smuggling_a_command_is_refused_at_load() {
        let msg = parse("[usage.carrier]\nussd = \"*100#\\r\\nAT+CFUN=0\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("usage.carrier.ussd") && !msg.contains('\r'),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_carrier_rule_names_the_key() {
        let msg = parse("[usage.carrier]\nussd = \"*100#\"\nrules = ['(?P<amount>[0-9']\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("usage.carrier.rules"), "{msg}");
    }

    #[test]
    fn a_bad_reset_day_names_the_key() {
        let msg = parse("[usage]\nreset_day = 32\n").unwrap_err().to_string();
        assert!(msg.contains("usage.reset_day"), "{msg}");
    }

    #[test]
    fn unknown_keys_in_the_usage_section_are_refused_too() {
        let msg = parse("[usage]\nquotta = \"20GB\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("quotta"), "{msg}");
    }
}
