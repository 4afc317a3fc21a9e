//! A SIM's data plan: quota, billing cycle, the carrier's time zone and what it means by "MB".
//! Built from the raw `[usage]` config values by a validating constructor whose errors name the
//! config key, so the owner knows which line to fix.
//!
//! Must not: read files or the environment (the config module hands us the raw values).

use super::civil::{Date, SECS_PER_DAY};
use super::cycle::Cycle;
use super::tz::{TimeZone, TzError};
use super::units::{parse_size, SizeError, UnitBase};
use serde::{Deserialize, Serialize};

/// A validated plan. Serialisable so per-SIM state can be persisted with the plan it counted
/// against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The allowance per cycle; `None` when only the carrier's figure is known.
    pub quota_bytes: Option<u64>,
    pub cycle: Cycle,
    pub tz: TimeZone,
    pub unit_base: UnitBase,
}

/// An activation time as written in the config: unix seconds, or a local date/time in the
/// carrier's zone (`2026-11-01`, `2026-11-01 09:30`, `2026-11-01T09:30:00+09:00`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RawTime {
    Unix(i64),
    Text(String),
}

/// The raw `[usage]` plan keys, as the config file has them (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RawPlan {
    pub quota: Option<String>,
    pub cycle: Option<String>,
    pub reset_day: Option<i64>,
    pub fixed_days: Option<i64>,
    pub activated: Option<RawTime>,
    pub timezone: Option<String>,
    pub unit_base: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{key}: {source}")]
    Quota { key: String, source: SizeError },
    #[error("{key} = {value:?} is not a cycle: use \"monthly\", \"daily\" or \"fixed\"")]
    UnknownCycle { key: String, value: String },
    #[error("{key} = {value} is not a day of the month: use 1 to 31 (31 resets on the last day of shorter months)")]
    ResetDay { key: String, value: i64 },
    #[error("{key} = {value:?}: a fixed pack needs its length in days, 1 to 3660")]
    FixedDays { key: String, value: Option<i64> },
    #[error("{key} = {value:?}: {problem}; write unix seconds or a local time like \"2026-11-01 09:30\"")]
    Activated {
        key: String,
        value: String,
        problem: &'static str,
    },
    #[error("{key}: {source}")]
    Timezone { key: String, source: TzError },
    #[error("{key} = {value}: use 1000 or 1024 (what the carrier means by \"MB\")")]
    UnitBase { key: String, value: i64 },
}

impl Plan {
    /// Validates raw config values. `section` names the config table in errors (`"usage"`, or
    /// `"usage.sims.8981…"` for a per-SIM plan). Defaults: monthly on day 1, UTC, base 1024.
    pub fn from_raw(raw: &RawPlan, section: &str) -> Result<Plan, PlanError> {
        let key = |k: &str| format!("{section}.{k}");
        let unit_base = match raw.unit_base {
            None => UnitBase::Binary,
            Some(v) => UnitBase::from_number(v).ok_or_else(|| PlanError::UnitBase {
                key: key("unit_base"),
                value: v,
            })?,
        };
        // Unset: the router's own zone (/etc/TZ); a name: the machine's zoneinfo, then the table.
        let tz = super::tzfile::resolve(raw.timezone.as_deref()).map_err(|source| {
            PlanError::Timezone {
                key: key("timezone"),
                source,
            }
        })?;
        let quota_bytes = match raw.quota.as_deref() {
            None => None,
            Some(q) => Some(parse_size(q, unit_base).map_err(|source| PlanError::Quota {
                key: key("quota"),
                source,
            })?),
        };
        let cycle = match raw.cycle.as_deref().map(str::trim).unwrap_or("monthly") {
            "monthly" => {
                let day = raw.reset_day.unwrap_or(1);
                let reset_day = u8::try_from(day)
                    .ok()
                    .filter(|d| (1..=31).contains(d))
                    .ok_or_else(|| PlanError::ResetDay {
                        key: key("reset_day"),
                        value: day,
                    })?;
                Cycle::Monthly { reset_day }
            }
            "daily" => Cycle::Daily,
            "fixed" => fixed_cycle(raw, &tz, section)?,
            other => {
                return Err(PlanError::UnknownCycle {
                    key: key("cycle"),
                    value: other.to_owned(),
                })
            }
        };
        Ok(Plan {
            quota_bytes,
            cycle,
            tz,
            unit_base,
        })
    }
}

/// The `fixed` cycle's keys: `fixed_days` and `activated` (local time in `tz`).
fn fixed_cycle(raw: &RawPlan, tz: &TimeZone, section: &str) -> Result<Cycle, PlanError> {
    let key = |k: &str| format!("{section}.{k}");
    let days = raw
        .fixed_days
        .and_then(|d| u32::try_from(d).ok())
        .filter(|d| (1..=3660).contains(d))
        .ok_or_else(|| PlanError::FixedDays {
            key: key("fixed_days"),
            value: raw.fixed_days,
        })?;
    let Some(t) = &raw.activated else {
        return Err(PlanError::Activated {
            key: key("activated"),
            value: String::new(),
            problem: "a fixed pack needs its activation time",
        });
    };
    let activated = parse_time(t, tz).map_err(|problem| PlanError::Activated {
        key: key("activated"),
        value: match t {
            RawTime::Unix(n) => n.to_string(),
            RawTime::Text(s) => s.clone(),
        },
        problem,
    })?;
    Ok(Cycle::Fixed { days, activated })
}

/// Unix seconds of a configured time; text without an offset is local time in `tz`.
fn parse_time(t: &RawTime, tz: &TimeZone) -> Result<i64, &'static str> {
    const RANGE: &str = "the time is out of range";
    let s = match t {
        RawTime::Unix(n) if (0..=1 << 40).contains(n) => return Ok(*n),
        RawTime::Unix(_) => return Err(RANGE),
        RawTime::Text(s) => s.trim(),
    };
    let cut = s.len().min(10);
    let (Some(date), Some(rest)) = (s.get(..cut), s.get(cut..)) else {
        return Err("not a date");
    };
    let num = |part: Option<&str>, len: usize| -> Result<u32, &'static str> {
        let p = part
            .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("not a date")?;
        p.parse::<u32>().map_err(|_| "not a date")
    };
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next(), 4)?,
        num(parts.next(), 2)?,
        num(parts.next(), 2)?,
    );
    let date = Date::new(i64::from(y), m, d).ok_or("no such day")?;
    let rest = rest.strip_prefix(['T', ' ']).unwrap_or(rest);
    // Split off an offset: `Z`, `+09:00`, `-0300`.
    let (clock, offset) = match rest.find(['Z', '+', '-']) {
        Some(i) => (
            rest.get(..i).unwrap_or(""),
            Some(rest.get(i..).unwrap_or("")),
        ),
        None => (rest, None),
    };
    let mut secs_of_day = 0i64;
    if !clock.is_empty() {
        let mut hms = clock.split(':');
        let h = num(hms.next(), 2)?;
        let mi = num(hms.next(), 2)?;
        let sec = match hms.next() {
            None => 0,
            Some(p) => num(Some(p), 2)?,
        };
        if h > 23 || mi > 59 || sec > 59 || hms.next().is_some() {
            return Err("not a time of day");
        }
        secs_of_day = i64::from(h * 3600 + mi * 60 + sec);
    }
    let local = date.to_days() * SECS_PER_DAY + secs_of_day;
    match offset {
        None => Ok(tz.local_to_utc(local)),
        Some("Z") => Ok(local),
        Some(o) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let digits: String = o
                .get(1..)
                .unwrap_or("")
                .chars()
                .filter(|c| *c != ':')
                .collect();
            let hh = num(digits.get(..2), 2)?;
            let mm = num(digits.get(2..), 2)?;
            if hh > 14 || mm > 59 {
                return Err("bad UTC offset");
            }
            Ok(local - sign * i64::from(hh * 3600 + mm * 60))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw() -> RawPlan {
        RawPlan::default()
    }

    #[test]
    fn the_issue_config_builds_a_plan() {
        let r = RawPlan {
            quota: Some("20GB".into()),
            cycle: Some("monthly".into()),
            reset_day: Some(1),
            fixed_days: Some(30),
            timezone: Some("Asia/Tokyo".into()),
            unit_base: Some(1024),
            ..raw()
        };
        let p = Plan::from_raw(&r, "usage").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.quota_bytes, Some(21_474_836_480));
        assert_eq!(p.cycle, Cycle::Monthly { reset_day: 1 });
        assert_eq!(p.tz.spec(), "Asia/Tokyo");
        assert_eq!(p.unit_base, UnitBase::Binary);
    }

    #[test]
    fn defaults_are_monthly_day_one_utc_binary() {
        let p = Plan::from_raw(&raw(), "usage").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p,
            Plan {
                quota_bytes: None,
                cycle: Cycle::Monthly { reset_day: 1 },
                tz: TimeZone::utc(),
                unit_base: UnitBase::Binary
            }
        );
    }

    #[test]
    fn fixed_packs_take_local_activation_times() {
        let r = RawPlan {
            cycle: Some("fixed".into()),
            fixed_days: Some(30),
            timezone: Some("Asia/Tokyo".into()),
            activated: Some(RawTime::Text("2024-06-01 09:00".into())),
            ..raw()
        };
        let p = Plan::from_raw(&r, "usage").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p.cycle,
            Cycle::Fixed {
                days: 30,
                activated: 1_717_200_000
            }
        );
        let tz = TimeZone::utc();
        assert_eq!(
            parse_time(&RawTime::Text("2024-06-01T09:00:00+09:00".into()), &tz),
            Ok(1_717_200_000)
        );
        assert_eq!(
            parse_time(&RawTime::Text("2024-06-01T00:00Z".into()), &tz),
            Ok(1_717_200_000)
        );
        assert_eq!(
            parse_time(&RawTime::Text("2024-06-01".into()), &tz),
            Ok(1_717_200_000)
        );
        assert_eq!(
            parse_time(&RawTime::Unix(1_717_200_000), &tz),
            Ok(1_717_200_000)
        );
    }

    #[test]
    fn every_error_names_its_key() {
        let cases: Vec<(RawPlan, &str)> = vec![
            (
                RawPlan {
                    quota: Some("lots".into()),
                    ..raw()
                },
                "usage.quota",
            ),
            (
                RawPlan {
                    cycle: Some("weekly".into()),
                    ..raw()
                },
                "usage.cycle",
            ),
            (
                RawPlan {
                    reset_day: Some(32),
                    ..raw()
                },
                "usage.reset_day",
            ),
            (
                RawPlan {
                    reset_day: Some(0),
                    ..raw()
                },
                "usage.reset_day",
            ),
            (
                RawPlan {
                    cycle: Some("fixed".into()),
                    ..raw()
                },
                "usage.fixed_days",
            ),
            (
                RawPlan {
                    cycle: Some("fixed".into()),
                    fixed_days: Some(30),
                    ..raw()
                },
                "usage.activated",
            ),
            (
                RawPlan {
                    cycle: Some("fixed".into()),
                    fixed_days: Some(30),
                    activated: Some(RawTime::Text("2024-02-30".into())),
                    ..raw()
                },
                "usage.activated",
            ),
            (
                RawPlan {
                    timezone: Some("Mars/Base".into()),
                    ..raw()
                },
                "usage.timezone",
            ),
            (
                RawPlan {
                    unit_base: Some(1000 * 1000),
                    ..raw()
                },
                "usage.unit_base",
            ),
        ];
        for (r, key) in cases {
            let msg = Plan::from_raw(&r, "usage")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(msg.starts_with(key), "{key}: {msg}");
        }
    }

    #[test]
    fn raw_plans_deserialise_from_toml_like_json() {
        let r: RawPlan = serde_json::from_str(r#"{"quota":"20GB","cycle":"fixed","fixed_days":30,"activated":"2026-11-01","unit_base":1000}"#)
            .unwrap_or_default();
        assert_eq!(r.activated, Some(RawTime::Text("2026-11-01".into())));
        let r: RawPlan = serde_json::from_str(r#"{"activated":1700000000}"#).unwrap_or_default();
        assert_eq!(r.activated, Some(RawTime::Unix(1_700_000_000)));
    }

    #[test]
    fn plans_round_trip_through_serde() {
        let r = RawPlan {
            quota: Some("1.5GiB".into()),
            timezone: Some("Europe/Berlin".into()),
            ..raw()
        };
        let p = Plan::from_raw(&r, "usage").unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&p).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Plan>(&json).ok(), Some(p));
    }

    proptest! {
        #[test]
        fn arbitrary_activation_text_never_panics(s in "\\PC{0,30}") {
            let _ = parse_time(&RawTime::Text(s), &TimeZone::utc());
        }

        #[test]
        fn date_like_activation_text_never_panics(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]?[0-9:]{0,8}[Z+-]?[0-9:]{0,5}") {
            let _ = parse_time(&RawTime::Text(s), &TimeZone::parse("Europe/Berlin").unwrap_or_else(|_| TimeZone::utc()));
        }
    }
}
