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
pub mod edit;
pub mod keys;
pub mod mqtt;
pub mod notify;
mod plain;
pub mod topup;
pub use api::{ApiBalance, RawCarrierApi, RawSecrets};
pub use mqtt::MqttConfig;
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
    #[serde(default)]
    alerts: RawAlerts,
    mqtt: Option<mqtt::RawMqtt>,
}

/// `[alerts]`: when a reading needs the owner's attention (see `agent::attention`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    /// `"500MB"` or `"10%"` of the quota.
    data_low: Option<String>,
    /// dBm, e.g. -110.
    rsrp_below: Option<f64>,
    roaming_expected: Option<bool>,
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
    allow_raw_at: Option<bool>,
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
    pub alerts: crate::agent::attention::AlertsConfig,
    /// `[mqtt]`, when configured.
    pub mqtt: Option<MqttConfig>,
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
    /// `POST /api/v1/at` (raw AT through the API) is refused unless this is true: a raw line
    /// can reconfigure or switch off the modem, which the other endpoints cannot.
    pub allow_raw_at: bool,
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
            message: plain::message(text, &e),
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
            duration_in(&poll, SECOND, DAY).map_err(|r| bad("modem.poll_interval", &poll, &r))?;
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
        let flush_interval = duration_in(&flush, SECOND, DAY)
            .map_err(|r| bad("store.flush_interval", &flush, &r))?;
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
        let mqtt = raw
            .mqtt
            .as_ref()
            .map(|m| mqtt::mqtt_config(m, secrets_path.is_some(), &p))
            .transpose()?;
        let alerts = alerts_config(&raw.alerts, unit_base, &bad)?;
        let store_s = raw.store.path.unwrap_or_else(|| DEFAULT_STORE.into());
        if store_s.trim().is_empty() || store_s.ends_with('/') {
            return Err(bad(
                "store.path",
                &store_s,
                "name the database file, e.g. /etc/simkeep/simkeep.db",
            ));
        }
        let store_path = PathBuf::from(store_s);
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
                allow_raw_at: raw.http.allow_raw_at.unwrap_or(false),
            },
            usage,
            topup,
            secrets_path,
            apis,
            notify,
            alerts,
            mqtt,
        })
    }

    /// What `check-config` adds to loading: the store's directory exists or can be created
    /// (the nearest existing ancestor is a directory this user may write). Looks only; creates
    /// nothing.
    pub fn check_paths(&self) -> Result<(), ConfigError> {
        let bad = |reason: String| ConfigError::Value {
            path: self.path.display().to_string(),
            key: "store.path".into(),
            value: self.store.path.display().to_string(),
            reason,
        };
        let dir = match self.store.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut at = dir;
        loop {
            match std::fs::metadata(at) {
                Ok(m) if m.is_dir() => break,
                Ok(_) => {
                    return Err(bad(format!(
                        "{} is a file, so the directory {} cannot be created",
                        at.display(),
                        dir.display()
                    )))
                }
                // ENOTDIR: a file further up; walking up finds it and says so.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(libc::ENOTDIR) =>
                {
                    match at.parent() {
                        Some(p) if !p.as_os_str().is_empty() => at = p,
                        _ => return Ok(()),
                    }
                }
                Err(e) => return Err(bad(format!("cannot look at {}: {e}", at.display()))),
            }
        }
        if !writable(at) {
            let what = if at == dir {
                format!("cannot write in the directory {}", at.display())
            } else {
                format!(
                    "the directory {} does not exist and cannot be created in {}",
                    dir.display(),
                    at.display()
                )
            };
            return Err(bad(format!("{what} (permission denied)")));
        }
        Ok(())
    }

    /// The defaults, talking to `port`: for `--port` use without a config file.
    pub fn for_port(port: &Path) -> Result<Self, ConfigError> {
        let mut c = Self::parse("", Path::new("(defaults)"))?;
        c.modem.port = port.to_path_buf();
        Ok(c)
    }
}

/// May this process create entries in `dir`? (access(2) answers for the real user, which is
/// who runs `check-config`.)
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access() only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
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
    if let Some(q) = &raw.quota {
        if let Some(reason) = size_needs_unit(q) {
            return Err(bad("usage.quota", q, reason));
        }
    }
    // Plan errors already start with the key and carry the value.
    let plan = Plan::from_raw(&plan_raw, "usage").map_err(|e| ConfigError::Syntax {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    if plan.quota_bytes == Some(0) {
        let q = raw.quota.clone().unwrap_or_default();
        return Err(bad(
            "usage.quota",
            &q,
            "must be more than 0 (leave it out when the plan has no cap)".into(),
        ));
    }
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
            if let Some(t) = c.sms_text.as_deref().filter(|t| !t.is_empty()) {
                crate::usage::carrier::validate_query_sms(t)
                    .map_err(|e| bad("usage.carrier.sms_text", t, e))?;
            }
            let interval_s = c.interval.clone().unwrap_or_else(|| "6h".into());
            // At least 1m: carriers throttle or bar numbers that hammer their balance service.
            let interval = duration_in(&interval_s, MINUTE, 30 * DAY)
                .map_err(|r| bad("usage.carrier.interval", &interval_s, r))?;
            if let Some(age) = &c.max_age {
                let d = duration_in(age, MINUTE, 365 * DAY)
                    .map_err(|r| bad("usage.carrier.max_age", age, r))?;
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

/// `"500ms"`, `"30s"`, `"15m"`, `"6h"`, `"7d"`. A bare number is refused: `"5"` could mean
/// seconds or minutes, and the owner who wrote it should say which.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        "expected a whole number with a unit: 500ms, 30s, 15m, 6h or 7d".to_string()
    })?;
    let too_long = || "that duration is too long".to_string();
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(too_long)
    };
    let d = match unit.trim() {
        "" => return Err(format!("a duration needs a unit: did you mean \"{n}s\"?")),
        "ms" => Ok(Duration::from_millis(n)),
        "s" => secs(1),
        "m" | "min" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => Err(format!("unknown unit {other:?}: use ms, s, m, h or d")),
    }?;
    // Far beyond any interval the agent uses; keeps `Instant + d` from overflowing anywhere.
    if d > Duration::from_secs(10 * 365 * 86_400) {
        return Err(too_long());
    }
    Ok(d)
}

/// `Some(reason)` for a size written without a unit (`"20"`): bytes are never what was meant.
pub(crate) fn size_needs_unit(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("a size needs a unit: did you mean \"{t}MB\"?"))
}

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// A duration within `min..=max`; the refusal says the allowed range.
pub(crate) fn duration_in(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let range = || format!("use {} to {}", human(min), human(max));
    let d = parse_duration(s).map_err(|e| {
        if e.contains("too long") {
            format!("too long: {}", range())
        } else {
            e
        }
    })?;
    if d < min || d > max {
        return Err(range());
    }
    Ok(d)
}

/// `1s`, `1m`, `30d`: the range ends in messages.
fn human(d: Duration) -> String {
    crate::topup::clock::human_secs(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `[alerts]`, validated: sizes in the plan's unit base, RSRP within what modems report.
fn alerts_config(
    raw: &RawAlerts,
    base: crate::usage::UnitBase,
    bad: &dyn Fn(&str, &str, &str) -> ConfigError,
) -> Result<crate::agent::attention::AlertsConfig, ConfigError> {
    let mut a = crate::agent::attention::AlertsConfig::default();
    if let Some(t) = &raw.data_low {
        a.data_low = Some(topup::threshold(t, base).map_err(|r| bad("alerts.data_low", t, &r))?);
    }
    if let Some(r) = raw.rsrp_below {
        // TS 36.133 §9.1.4: reported RSRP spans -140 to -44 dBm.
        if !(-140.0..=-44.0).contains(&r) {
            return Err(bad(
                "alerts.rsrp_below",
                &r.to_string(),
                "RSRP is between -140 and -44 dBm; the default is -110",
            ));
        }
        a.rsrp_below = r;
    }
    a.roaming_expected = raw.roaming_expected.unwrap_or(false);
    Ok(a)
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
    fn alerts_default_and_parse_in_the_plans_units() {
        let c = parse("").unwrap();
        assert_eq!(c.alerts, crate::agent::attention::AlertsConfig::default());
        assert_eq!(c.alerts.rsrp_below, -110.0);
        let c = parse(
            "[usage]\nquota = \"3GB\"\nunit_base = 1000\n[alerts]\ndata_low = \"300MB\"\nrsrp_below = -105\nroaming_expected = true\n",
        )
        .unwrap();
        assert_eq!(c.alerts.data_low, Some(Threshold::Bytes(300_000_000)));
        assert_eq!(c.alerts.rsrp_below, -105.0);
        assert!(c.alerts.roaming_expected);
        let c = parse("[alerts]\ndata_low = \"15%\"\n").unwrap();
        assert_eq!(c.alerts.data_low, Some(Threshold::Percent(1500)));
    }

    #[test]
    fn bad_alert_levels_name_the_key_and_what_is_allowed() {
        let msg = parse("[alerts]\nrsrp_below = -20\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("alerts.rsrp_below = \"-20\"") && msg.contains("-140 and -44"),
            "{msg}"
        );
        let msg = parse("[alerts]\ndata_low = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("alerts.data_low = \"lots\""), "{msg}");
        let msg = parse("[alerts]\nrsrp = -100\n").unwrap_err().to_string();
        assert!(msg.contains("rsrp"), "unknown keys are refused: {msg}");
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
    fn a_duration_without_a_unit_suggests_seconds() {
        let msg = parse("[modem]\npoll_interval = \"5\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(
                "modem.poll_interval = \"5\": a duration needs a unit: did you mean \"5s\"?"
            ),
            "{msg}"
        );
    }

    #[test]
    fn durations_out_of_range_are_clean_errors_with_the_range() {
        for (text, want) in [
            ("[store]\nflush_interval = \"0s\"\n", "store.flush_interval = \"0s\": use 1s to 1d"),
            (
                "[store]\nflush_interval = \"18446744073709551615s\"\n",
                "store.flush_interval = \"18446744073709551615s\": too long: use 1s to 1d",
            ),
            ("[modem]\npoll_interval = \"999ms\"\n", "modem.poll_interval = \"999ms\": use 1s to 1d"),
            ("[modem]\npoll_interval = \"2d\"\n", "use 1s to 1d"),
            ("[usage.carrier]\nussd = \"*100#\"\ninterval = \"30s\"\n", "usage.carrier.interval = \"30s\": use 1m to 30d"),
            ("[usage.carrier]\nussd = \"*100#\"\nmax_age = \"99999999d\"\n", "usage.carrier.max_age"),
            ("[topup]\ncooldown = \"1s\"\n", "topup.cooldown = \"1s\": use 1m to 30d"),
            ("[carrier_api.a]\nbase_url = \"https://x.example\"\nauth = \"none\"\ntimeout = \"0s\"\n", "use 1s to 10m"),
        ] {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains(want), "{text}: {msg}");
        }
    }

    #[test]
    fn sizes_need_a_unit_and_a_quota_more_than_zero() {
        let msg = parse("[usage]\nquota = \"20\"\n").unwrap_err().to_string();
        assert!(
            msg.contains("usage.quota = \"20\": a size needs a unit: did you mean \"20MB\"?"),
            "{msg}"
        );
        let msg = parse("[usage]\nquota = \"0GB\"\n").unwrap_err().to_string();
        assert!(
            msg.contains("usage.quota = \"0GB\": must be more than 0"),
            "{msg}"
        );
        let msg = parse("[usage]\nquota = \"99999999999999999GB\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("more than 16 EiB"), "{msg}");
        let msg = parse("[topup]\nthreshold = \"500\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("topup.threshold = \"500\": a size needs a unit"),
            "{msg}"
        );
    }

    /// The key table `simkeep config` works from lists every field the loader accepts: a key
    /// added to a Raw struct without a line in config/keys.rs (and example.toml) fails here.
    #[test]
    fn the_key_table_knows_every_field_the_loader_accepts() {
        for table in [
            "modem",
            "store",
            "http",
            "usage",
            "usage.carrier",
            "alerts",
            "topup",
            "secrets",
            "carrier_api.a",
        ] {
            let text = format!("[{table}]\nzz_not_a_key = 1\n");
            let err = toml::from_str::<RawConfig>(&text).unwrap_err();
            let msg = err.message().to_string();
            let (_, list) = msg
                .split_once("expected")
                .unwrap_or_else(|| panic!("{msg}"));
            for field in list.split('`').skip(1).step_by(2) {
                let name = format!("{table}.{field}");
                assert!(
                    keys::find(&name).is_some()
                        || ["topup.flow", "usage.carrier"].contains(&name.as_str()),
                    "{name} is missing from config/keys.rs"
                );
            }
        }
    }

    #[test]
    fn an_empty_store_path_is_an_error() {
        let msg = parse("[store]\npath = \"\"\n").unwrap_err().to_string();
        assert!(
            msg.contains("store.path = \"\": name the database file"),
            "{msg}"
        );
    }

    #[test]
    fn a_store_directory_that_cannot_be_created_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, "x").unwrap();
        let text = format!("[store]\npath = \"{}/sub/s.db\"\n", file.display());
        let msg = parse(&text).unwrap().check_paths().unwrap_err().to_string();
        assert!(
            msg.contains("store.path") && msg.contains("is a file"),
            "{msg}"
        );
        // A directory that does not exist yet but can be made is fine.
        let text = format!(
            "[store]\npath = \"{}/new/deeper/s.db\"\n",
            dir.path().display()
        );
        parse(&text).unwrap().check_paths().unwrap();
    }

    #[test]
    fn http_can_be_turned_off_and_bad_addresses_are_refused() {
        assert_eq!(parse("[http]\nlisten = \"\"\n").unwrap().http.listen, None);
        assert!(parse("[http]\nlisten = \"localhost\"\n").is_err());
    }

    #[test]
    fn raw_at_over_the_api_is_off_unless_turned_on() {
        assert!(!parse("").unwrap().http.allow_raw_at);
        assert!(
            parse("[http]\nallow_raw_at = true\n")
                .unwrap()
                .http
                .allow_raw_at
        );
        let e = parse("[http]\nallow_raw_at = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http.allow_raw_at") && e.contains("true or false"),
            "{e}"
        );
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
