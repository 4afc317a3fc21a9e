//! Every key the config file knows, with its type, its default and one line of help: what
//! `simkeep config get|set|unset|init` and the plain-words error messages work from.
//!
//! Must not: validate values beyond their TOML type (that is `Config::parse`'s job, which every
//! edit goes through before it is written), or know anything about files.

/// The TOML type a key takes, and so how `config set KEY VALUE` writes VALUE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string, written as given.
    Text,
    /// A string that is a secret when not a `${secret:NAME}` template: never printed.
    Secret,
    /// A duration string with a unit (`"30s"`).
    Duration,
    /// A size string (`"20GB"`) or, for the top-up threshold, a percentage.
    Size,
    /// A whole number.
    Int,
    /// true or false.
    Bool,
    /// An amount: a number with at most 2 decimals (written as a number).
    Money,
    /// A date and time string or Unix seconds.
    Time,
    /// A list of strings: edited in the file, not with `config set`.
    List,
}

impl Kind {
    /// What a value of this kind looks like, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Kind::Text | Kind::Secret => "a string, e.g. \"/dev/ttyUSB2\"",
            Kind::Duration => "a duration with a unit, e.g. \"30s\", \"15m\", \"6h\" or \"7d\"",
            Kind::Size => "a size, e.g. \"500MB\" or \"20GB\"",
            Kind::Int => "a whole number, e.g. 1",
            Kind::Bool => "true or false",
            Kind::Money => "an amount, e.g. 10 or 4.99",
            Kind::Time => "a date and time, e.g. \"2026-11-01 09:30\"",
            Kind::List => "a list of strings, e.g. ['first', 'second']",
        }
    }
}

/// One key: its dotted name (`carrier_api.*.timeout` stands for every `[carrier_api.NAME]`),
/// its kind, its default as TOML text (`None`: unset means off, or derived), and help.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

const fn k(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    help: &'static str,
) -> Key {
    Key {
        name,
        kind,
        default,
        help,
    }
}

use Kind::*;

/// Every key, in the order `config init` writes them.
pub const KEYS: &[Key] = &[
    k(
        "modem.port",
        Text,
        Some("\"/dev/ttyUSB2\""),
        "the modem's AT port, or a stable link to it",
    ),
    k("modem.baud", Int, Some("115200"), "9600 to 921600"),
    k(
        "modem.poll_interval",
        Duration,
        Some("\"30s\""),
        "how often to read signal and registration (1s to 1d)",
    ),
    k(
        "modem.lock_dir",
        Text,
        Some("\"/var/lock\""),
        "UUCP lock files, shared with sms_tool, comgt, minicom",
    ),
    k(
        "modem.profile",
        Text,
        Some("\"auto\""),
        "auto | generic | quectel | huawei | simcom | sierra | fibocom",
    ),
    k(
        "modem.pin",
        Secret,
        None,
        "the SIM PIN (4 to 8 digits); sent once per SIM, never retried",
    ),
    k(
        "store.path",
        Text,
        Some("\"/etc/simkeep/simkeep.db\""),
        "the SQLite store; its directory must exist or be creatable",
    ),
    k(
        "store.flush_interval",
        Duration,
        Some("\"15m\""),
        "telemetry is batched in RAM this long (1s to 1d); SMS and balances sync at once",
    ),
    k(
        "http.listen",
        Text,
        Some("\"127.0.0.1:8787\""),
        "the local API (address:port); \"\" turns it off",
    ),
    k(
        "http.token_file",
        Text,
        None,
        "the API token for writes (default: api-token beside the store)",
    ),
    k(
        "http.allow_raw_at",
        Bool,
        Some("false"),
        "let POST /api/v1/at (and `simkeep at` while the agent runs) send raw AT lines",
    ),
    k(
        "usage.interface",
        Text,
        None,
        "the WAN interface whose kernel counters count the SIM's traffic, e.g. \"wwan0\"",
    ),
    k(
        "usage.sysfs_root",
        Text,
        Some("\"/sys/class/net\""),
        "where the interface counters are",
    ),
    k(
        "usage.quota",
        Size,
        None,
        "the plan's data per cycle, e.g. \"20GB\"",
    ),
    k(
        "usage.cycle",
        Text,
        Some("\"monthly\""),
        "monthly | daily | fixed",
    ),
    k(
        "usage.reset_day",
        Int,
        Some("1"),
        "monthly: the day the cycle turns (31: last day of shorter months)",
    ),
    k(
        "usage.fixed_days",
        Int,
        None,
        "fixed: the pack's length in days, from activated",
    ),
    k(
        "usage.activated",
        Time,
        None,
        "fixed: when the pack started, e.g. \"2026-11-01 09:30\"",
    ),
    k(
        "usage.timezone",
        Text,
        None,
        "IANA name or POSIX TZ string: cycles turn at the carrier's midnight (default: the router's zone, /etc/TZ, else UTC)",
    ),
    k(
        "usage.unit_base",
        Int,
        Some("1024"),
        "what the carrier means by \"MB\": 1000 or 1024",
    ),
    k(
        "usage.modem_counters",
        Bool,
        Some("true"),
        "also read the modem's own data counters",
    ),
    k(
        "usage.carrier.ussd",
        Text,
        None,
        "the balance code, e.g. \"*100#\"",
    ),
    k(
        "usage.carrier.sms_to",
        Text,
        None,
        "or ask by SMS: the number to text",
    ),
    k(
        "usage.carrier.sms_text",
        Text,
        None,
        "the text to send it, e.g. \"BAL\"",
    ),
    k(
        "usage.carrier.interval",
        Duration,
        Some("\"6h\""),
        "how often to ask the carrier (at least 1m)",
    ),
    k(
        "usage.carrier.max_age",
        Duration,
        None,
        "how long the carrier's figure wins over the counters",
    ),
    k(
        "usage.carrier.rules",
        List,
        None,
        "regexes with (?P<amount>) and (?P<unit>) for the reply",
    ),
    k(
        "usage.carrier.decimal_mark",
        Text,
        Some("\"auto\""),
        "auto | point | comma",
    ),
    k(
        "usage.carrier.api",
        Text,
        None,
        "read the balance from this [carrier_api.NAME] instead",
    ),
    k(
        "usage.carrier.url",
        Text,
        None,
        "the API path, e.g. \"/v1/sims/${sim.iccid}/quota/data\"",
    ),
    k(
        "usage.carrier.remaining",
        Text,
        None,
        "dot path to the number in the JSON reply",
    ),
    k("usage.carrier.unit", Text, None, "its unit, e.g. \"MB\""),
    k(
        "alerts.data_low",
        Size,
        None,
        "warn below this much data left: a size or \"10%\" of the quota (default: the top-up threshold, else 10 %)",
    ),
    k(
        "alerts.rsrp_below",
        Int,
        Some("-110"),
        "warn when RSRP stays below this, in dBm",
    ),
    k(
        "alerts.roaming_expected",
        Bool,
        Some("false"),
        "true: roaming is normal for this SIM, do not warn",
    ),
    k(
        "topup.enabled",
        Bool,
        Some("false"),
        "buy data automatically (needs a [[topup.flow]])",
    ),
    k(
        "topup.dry_run",
        Bool,
        Some("false"),
        "decide and log, send nothing",
    ),
    k(
        "topup.threshold",
        Size,
        None,
        "top up below this, e.g. \"500MB\" or \"10%\"",
    ),
    k(
        "topup.horizon",
        Duration,
        None,
        "also when the forecast runs out within this",
    ),
    k("topup.max_per_cycle", Int, Some("1"), "1 to 100"),
    k(
        "topup.max_spend_per_cycle",
        Money,
        None,
        "spending cap per cycle",
    ),
    k("topup.currency", Text, None, "a short code such as \"EUR\""),
    k(
        "topup.cooldown",
        Duration,
        Some("\"1h\""),
        "at least 1m between attempts",
    ),
    k(
        "topup.iccids",
        List,
        None,
        "allow-list of SIMs; empty: the SIM seen when enabled",
    ),
    k(
        "topup.trigger_sms",
        List,
        None,
        "regexes for carrier warnings that mean act now",
    ),
    k(
        "topup.trust_clock",
        Bool,
        Some("false"),
        "trust the wall clock without NTP/NITZ evidence",
    ),
    k(
        "secrets.path",
        Text,
        None,
        "NAME = \"value\" file (mode 0600) for ${secret:NAME}",
    ),
    k(
        "carrier_api.*.base_url",
        Text,
        None,
        "the API's https:// base URL",
    ),
    k(
        "carrier_api.*.auth",
        Text,
        None,
        "oauth2 | bearer | basic | none",
    ),
    k(
        "carrier_api.*.token_url",
        Text,
        None,
        "oauth2: relative to base_url, or absolute",
    ),
    k(
        "carrier_api.*.token_style",
        Text,
        Some("\"form\""),
        "oauth2: form | json",
    ),
    k("carrier_api.*.client_id", Secret, None, "oauth2 client id"),
    k(
        "carrier_api.*.client_secret",
        Secret,
        None,
        "oauth2 client secret: use ${secret:NAME}",
    ),
    k(
        "carrier_api.*.token",
        Secret,
        None,
        "bearer token: use ${secret:NAME}",
    ),
    k("carrier_api.*.username", Secret, None, "basic auth user"),
    k(
        "carrier_api.*.password",
        Secret,
        None,
        "basic auth password: use ${secret:NAME}",
    ),
    k(
        "carrier_api.*.ca_file",
        Text,
        None,
        "CA bundle (default: /etc/ssl/certs/ca-certificates.crt)",
    ),
    k(
        "carrier_api.*.timeout",
        Duration,
        Some("\"30s\""),
        "1s to 10m",
    ),    // [mqtt] defaults are given in the help, not as defaults: the table needs `url`, so a
    // default written alone would not load (every_listed_default_is_the_loaders_default).
    k(
        "mqtt.url",
        Text,
        None,
        "the broker: mqtt://host:1883 or mqtts://host:8883 (TLS)",
    ),
    k(
        "mqtt.username",
        Secret,
        None,
        "broker user, e.g. \"${secret:mqtt_user}\"",
    ),
    k(
        "mqtt.password",
        Secret,
        None,
        "broker password, e.g. \"${secret:mqtt_password}\"",
    ),
    k(
        "mqtt.topic_prefix",
        Text,
        None,
        "topics start with this (default \"simkeep/{device_id}\")",
    ),
    k(
        "mqtt.discovery_prefix",
        Text,
        None,
        "Home Assistant discovery prefix (default \"homeassistant\")",
    ),
    k(
        "mqtt.interval",
        Duration,
        None,
        "publish the state at least this often, 5s to 1d (default \"60s\")",
    ),
    k(
        "mqtt.allow_commands",
        Bool,
        None,
        "true: accept top-up commands over MQTT (default false)",
    ),
    k(
        "mqtt.client_id",
        Text,
        None,
        "MQTT client id (default simkeep-<device_id>)",
    ),
    k(
        "mqtt.device_id",
        Text,
        None,
        "device id in topics and Home Assistant (default: the modem's IMEI)",
    ),
    k(
        "mqtt.ca_file",
        Text,
        None,
        "CA for mqtts:// (default: the system bundle)",
    ),
];

/// The file `simkeep config init` writes: every key, commented, with its default or an example.
pub const EXAMPLE: &str = include_str!("example.toml");

/// The key named `dotted`, matching `carrier_api.NAME.x` to `carrier_api.*.x`.
pub fn find(dotted: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| matches(k.name, dotted))
}

fn matches(pattern: &str, dotted: &str) -> bool {
    let (p, d): (Vec<&str>, Vec<&str>) =
        (pattern.split('.').collect(), dotted.split('.').collect());
    p.len() == d.len()
        && p.iter()
            .zip(&d)
            .all(|(p, d)| !d.is_empty() && (*p == "*" || p == d))
}

/// Up to 5 known keys that look like `dotted` (for "unknown key" messages): the same table, a
/// close spelling, or a key with the same last part.
pub fn close_to(dotted: &str) -> Vec<&'static str> {
    let last = dotted.rsplit('.').next().unwrap_or(dotted);
    let table = dotted.split('.').next().unwrap_or(dotted);
    let mut scored: Vec<(usize, &'static str)> = KEYS
        .iter()
        .filter_map(|k| {
            let klast = k.name.rsplit('.').next().unwrap_or(k.name);
            let d = distance(dotted, k.name)
                .min(distance(last, klast).saturating_add(1))
                .min(if k.name.starts_with(table) {
                    4
                } else {
                    usize::MAX
                });
            (d <= 4).then_some((d, k.name))
        })
        .collect();
    scored.sort();
    // A near miss (a typo) is the answer on its own; otherwise offer the neighbours.
    let limit = match scored.first() {
        Some((d, _)) if *d <= 2 => 2,
        _ => usize::MAX,
    };
    scored
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(5)
        .map(|(_, n)| n)
        .collect()
}

/// Levenshtein distance, in chars; keys are short so the quadratic table is fine. An owner's
/// unknown key can be any length, though (an 8 KB one took 3 s under the fuzzer, against every
/// known key twice): the distance is at least the difference in length, and past 4 no caller
/// cares, so such pairs return that bound without the table.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let gap = a.chars().count().abs_diff(b.len());
    if gap > 4 {
        return gap;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i.saturating_add(1)];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j].saturating_add(usize::from(ca != *cb));
            let del = prev[j.saturating_add(1)].saturating_add(1);
            let ins = cur[j].saturating_add(1);
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_api_keys_match_any_api_name() {
        assert_eq!(
            find("carrier_api.main.timeout").map(|k| k.kind),
            Some(Duration)
        );
        assert!(find("carrier_api..timeout").is_none());
        assert!(find("carrier_api.main").is_none());
    }

    #[test]
    fn a_misspelt_key_suggests_the_right_one_first() {
        assert_eq!(
            close_to("modem.pol_interval").first(),
            Some(&"modem.poll_interval")
        );
        assert_eq!(
            close_to("poll_interval").first(),
            Some(&"modem.poll_interval")
        );
        assert!(close_to("zzzzzzzzzzz").is_empty());
    }

    #[test]
    fn a_huge_unknown_key_gets_no_suggestion_without_the_full_table() {
        // Found by fuzz/fuzz_targets/config.rs: a long unknown key was compared cell by cell
        // with every known key (linear in its length, times ~10,000); now the length gap
        // settles it. Unfixed, this case takes tens of seconds in a debug build.
        let huge = format!("usage.{}", "x".repeat(200_000));
        assert!(close_to(&huge).iter().all(|k| k.starts_with("usage.")));
        assert_eq!(distance(&"x".repeat(200_000), "abc"), 199_997);
        assert_eq!(distance("kitten", "sitting"), 3, "exact below the bound");
        assert_eq!(distance("modem.poll_interval", "poll_interval"), 6);
    }

    /// The defaults the table prints are the ones `Config::parse` applies: writing a default in
    /// the file must load the same config as leaving the key out.
    #[test]
    fn every_listed_default_is_the_loaders_default() {
        let base = "[usage]\nquota = \"1GB\"\n[usage.carrier]\nussd = \"*100#\"\n[carrier_api.a]\nbase_url = \"https://x.example\"\nauth = \"oauth2\"\ntoken_url = \"/t\"\nclient_id = \"i\"\nclient_secret = \"s\"\n";
        let load = |text: &str| {
            let c = crate::config::Config::parse(text, std::path::Path::new("c.toml"))
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            format!("{c:?}")
        };
        let plain = load(base);
        for key in KEYS {
            let Some(default) = key.default else { continue };
            let name = key.name.replace('*', "a");
            let text = crate::config::edit::set(base, &name, default.trim_matches('"')).unwrap();
            assert_eq!(load(&text), plain, "{name} = {default}");
        }
    }

    #[test]
    fn the_init_example_loads_and_shows_every_key_in_its_table() {
        crate::config::Config::parse(EXAMPLE, std::path::Path::new("example.toml")).unwrap();
        let mut seen = Vec::new();
        let mut table = String::new();
        for line in EXAMPLE.lines() {
            let l = line.trim_start_matches('#').trim();
            if let Some(h) = l.strip_prefix('[') {
                table = h
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .replace("carrier_api.main", "carrier_api.*");
            } else if let Some((k, _)) = l.split_once(" = ") {
                seen.push(format!("{table}.{}", k.trim()));
            }
        }
        for key in KEYS {
            assert!(
                seen.iter().any(|s| s == key.name),
                "{} is missing from example.toml",
                key.name
            );
        }
    }

    #[test]
    fn every_key_has_a_distinct_name_and_some_help() {
        for (i, key) in KEYS.iter().enumerate() {
            assert!(!key.help.is_empty(), "{}", key.name);
            assert!(KEYS[..i].iter().all(|o| o.name != key.name), "{}", key.name);
        }
    }
}
