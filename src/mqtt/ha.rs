//! What goes on the wire besides events: the flat state document made from the agent's status,
//! and the Home Assistant MQTT discovery configs that read it.
//!
//! Discovery facts (HA docs, quoted in /work/shared/reference/carriers.md §5): topics are
//! `<discovery_prefix>/<component>/<unique_id>/config`, retained; HA announces itself with
//! `online` on `<discovery_prefix>/status` and wants the configs again then; `signal_strength`
//! takes dB or dBm, `data_size` takes B…, `total_increasing` is a meter that may reset (data
//! used resets each cycle), `measurement` suits data remaining.
//!
//! The state document is flat so every `value_template` is `{{ value_json.KEY }}`: a missing
//! reading is JSON `null`, which the template renders as `None` and HA's MQTT sensor shows as
//! "unknown" (it treats the payload `None` that way), instead of a template error on
//! `value_json.signal.rsrp_dbm` when `signal` is null.
//!
//! It must not: do I/O, or put anything but the status's own figures in the document.

use serde_json::{json, Map, Value};

use crate::agent::status::Status;

/// Who the device is, for the discovery `device` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub imei: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
}

impl Identity {
    pub fn from_status(s: &Status) -> Identity {
        let Some(m) = s.last_poll.as_ref().map(|p| &p.modem) else {
            return Identity::default();
        };
        Identity {
            imei: m.imei.clone(),
            manufacturer: m.manufacturer.clone(),
            model: m.model.clone(),
            firmware: m.revision.clone(),
        }
    }
}

/// The state document. `now` (unix seconds) gives `balance_age_secs`; [`without_ages`] strips
/// the fields that change every second so "publish on change" means a real change.
pub fn state(s: &Status, now: i64) -> Value {
    let signal = s.signal.as_ref();
    let network = s.network.as_ref();
    let usage = s.usage.as_ref();
    let u = |k: &str| usage.and_then(|u| u.get(k)).cloned().unwrap_or(Value::Null);
    let balance_as_of = usage
        .and_then(|u| u.get("carrier_as_of"))
        .and_then(Value::as_str)
        .and_then(crate::usage::civil::parse_utc);
    let topup = s.topup.as_ref();
    let auto = topup.map(|t| t.enabled && !t.paused).unwrap_or(false);
    json!({
        "link": s.link,
        "modem": if s.link == "connected" { "ON" } else { "OFF" },
        "overall": s.overall,
        "stale": s.stale,
        "as_of": s.as_of.map(crate::usage::civil::utc_string),
        "rsrp_dbm": signal.and_then(|g| g.rsrp_dbm),
        "rsrq_db": signal.and_then(|g| g.rsrq_db),
        "sinr_db": signal.and_then(|g| g.sinr_db),
        "rssi_dbm": signal.and_then(|g| g.rssi_dbm),
        "quality_pct": signal.and_then(|g| g.quality_pct),
        "bars": signal.map(|g| g.bars),
        "band": signal.and_then(|g| g.band),
        "operator": network.and_then(|n| n.operator.clone()),
        "tech": network.and_then(|n| n.tech),
        "registration": network.and_then(|n| n.registration),
        "used_bytes": u("used_bytes"),
        "remaining_bytes": u("remaining_bytes"),
        "quota_bytes": u("quota_bytes"),
        "remaining": u("remaining"),
        "runs_out_at": u("runs_out_at"),
        "balance_as_of": u("carrier_as_of"),
        "balance_age_secs": balance_as_of.map(|t| now.saturating_sub(t).max(0)),
        "topup_enabled": topup.map(|t| t.enabled),
        "topup_paused": topup.map(|t| t.paused),
        "auto_topup": if auto { "ON" } else { "OFF" },
        "attention": s.attention.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
    })
}

/// The document minus the fields that move with the clock alone (every poll has a new
/// `as_of`): a change in what remains is worth a message; the rest waits for `mqtt.interval`.
pub fn without_ages(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("balance_age_secs");
        m.remove("as_of");
    }
    v
}

/// Topics the discovery configs point at.
pub struct Topics<'a> {
    pub prefix: &'a str,
    pub discovery: &'a str,
    pub device_id: &'a str,
}

impl Topics<'_> {
    pub fn state(&self) -> String {
        format!("{}/state", self.prefix)
    }
    pub fn availability(&self) -> String {
        format!("{}/availability", self.prefix)
    }
    pub fn command(&self, name: &str) -> String {
        format!("{}/command/{name}", self.prefix)
    }
    fn unique_id(&self, key: &str) -> String {
        format!("simkeep_{}_{key}", self.device_id)
    }
    fn config_topic(&self, component: &str, key: &str) -> String {
        format!(
            "{}/{component}/{}/config",
            self.discovery,
            self.unique_id(key)
        )
    }
}

/// One entity: (component, key, name, extra fields).
type Entity = (&'static str, &'static str, &'static str, Value);

fn entities() -> Vec<Entity> {
    let sig = |unit: &str| {
        json!({"device_class": "signal_strength", "unit_of_measurement": unit,
               "state_class": "measurement", "entity_category": "diagnostic"})
    };
    let data = |state_class: &str| {
        json!({"device_class": "data_size", "unit_of_measurement": "B",
               "state_class": state_class, "suggested_display_precision": 0})
    };
    vec![
        ("sensor", "rsrp_dbm", "RSRP", sig("dBm")),
        ("sensor", "rsrq_db", "RSRQ", sig("dB")),
        ("sensor", "sinr_db", "SINR", sig("dB")),
        ("sensor", "rssi_dbm", "RSSI", sig("dBm")),
        (
            "sensor",
            "quality_pct",
            "Signal quality",
            json!({"unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:signal"}),
        ),
        (
            "sensor",
            "operator",
            "Operator",
            json!({"icon": "mdi:radio-tower"}),
        ),
        (
            "sensor",
            "tech",
            "Technology",
            json!({"icon": "mdi:network"}),
        ),
        (
            "sensor",
            "used_bytes",
            "Data used",
            data("total_increasing"),
        ),
        (
            "sensor",
            "remaining_bytes",
            "Data remaining",
            data("measurement"),
        ),
        (
            "sensor",
            "runs_out_at",
            "Data runs out",
            json!({"device_class": "timestamp"}),
        ),
        (
            "sensor",
            "balance_age_secs",
            "Balance age",
            json!({"device_class": "duration", "unit_of_measurement": "s",
                   "state_class": "measurement", "entity_category": "diagnostic"}),
        ),
        (
            "binary_sensor",
            "modem",
            "Modem link",
            json!({"device_class": "connectivity", "payload_on": "ON", "payload_off": "OFF",
                   "entity_category": "diagnostic"}),
        ),
    ]
}

/// Every discovery config as (topic, payload). `allow_commands`: the button and the switch
/// are announced; otherwise their topics get an empty payload, which removes them from HA
/// (a button that is always refused would only confuse).
pub fn discovery(
    t: &Topics<'_>,
    id: &Identity,
    version: &str,
    allow_commands: bool,
) -> Vec<(String, Vec<u8>)> {
    let mut device = Map::new();
    device.insert(
        "identifiers".into(),
        json!([format!("simkeep_{}", t.device_id)]),
    );
    device.insert("name".into(), json!(format!("simkeep {}", t.device_id)));
    for (k, v) in [
        ("manufacturer", &id.manufacturer),
        ("model", &id.model),
        ("hw_version", &id.firmware),
        ("serial_number", &id.imei),
    ] {
        if let Some(v) = v {
            device.insert(k.into(), json!(v));
        }
    }
    device.insert("sw_version".into(), json!(format!("simkeep {version}")));
    let device = Value::Object(device);
    let common = |key: &str, name: &str| -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        m.insert("unique_id".into(), json!(t.unique_id(key)));
        m.insert("object_id".into(), json!(t.unique_id(key)));
        m.insert("availability_topic".into(), json!(t.availability()));
        m.insert("payload_available".into(), json!("online"));
        m.insert("payload_not_available".into(), json!("offline"));
        m.insert("device".into(), device.clone());
        m.insert(
            "origin".into(),
            json!({"name": "simkeep", "sw_version": version}),
        );
        m
    };
    let mut out = Vec::new();
    for (component, key, name, extra) in entities() {
        let mut m = common(key, name);
        m.insert("state_topic".into(), json!(t.state()));
        m.insert(
            "value_template".into(),
            json!(format!("{{{{ value_json.{key} }}}}")),
        );
        if let Value::Object(e) = extra {
            m.extend(e);
        }
        out.push((t.config_topic(component, key), to_bytes(m)));
    }
    let mut button = common("topup_now", "Top up now");
    button.insert("command_topic".into(), json!(t.command("topup_now")));
    button.insert("payload_press".into(), json!("PRESS"));
    button.insert("icon".into(), json!("mdi:cash-plus"));
    let mut switch = common("auto_topup", "Automatic top-ups");
    switch.insert("command_topic".into(), json!(t.command("auto_topup")));
    switch.insert("state_topic".into(), json!(t.state()));
    switch.insert(
        "value_template".into(),
        json!("{{ value_json.auto_topup }}"),
    );
    switch.insert("payload_on".into(), json!("ON"));
    switch.insert("payload_off".into(), json!("OFF"));
    switch.insert("icon".into(), json!("mdi:autorenew"));
    for (component, key, m) in [
        ("button", "topup_now", button),
        ("switch", "auto_topup", switch),
    ] {
        let payload = if allow_commands {
            to_bytes(m)
        } else {
            Vec::new()
        };
        out.push((t.config_topic(component, key), payload));
    }
    out
}

fn to_bytes(m: Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Topics<'static> {
        Topics {
            prefix: "simkeep/861234",
            discovery: "homeassistant",
            device_id: "861234",
        }
    }

    #[test]
    fn every_config_has_the_keys_home_assistant_requires() {
        let id = Identity {
            imei: Some("861234".into()),
            manufacturer: Some("Quectel".into()),
            model: Some("EC25".into()),
            firmware: Some("EC25EFAR06A06M4G".into()),
        };
        let all = discovery(&topics(), &id, "0.1.0", true);
        assert_eq!(all.len(), 14);
        for (topic, payload) in &all {
            let v: Value = serde_json::from_slice(payload).unwrap();
            let parts: Vec<&str> = topic.split('/').collect();
            assert_eq!(parts.len(), 4, "{topic}");
            assert_eq!((parts[0], parts[3]), ("homeassistant", "config"));
            assert_eq!(v["unique_id"], parts[2]);
            assert_eq!(v["availability_topic"], "simkeep/861234/availability");
            assert_eq!(v["device"]["identifiers"][0], "simkeep_861234");
            assert_eq!(v["device"]["model"], "EC25");
            assert_eq!(v["device"]["sw_version"], "simkeep 0.1.0");
            if parts[1] == "button" {
                assert_eq!(v["command_topic"], "simkeep/861234/command/topup_now");
            } else {
                assert_eq!(v["state_topic"], "simkeep/861234/state");
            }
        }
        let rsrp = all.iter().find(|(t, _)| t.contains("_rsrp_dbm/")).unwrap();
        let v: Value = serde_json::from_slice(&rsrp.1).unwrap();
        assert_eq!(v["device_class"], "signal_strength");
        assert_eq!(v["unit_of_measurement"], "dBm");
        assert_eq!(v["value_template"], "{{ value_json.rsrp_dbm }}");
    }

    #[test]
    fn without_commands_the_button_and_switch_are_removed() {
        let all = discovery(&topics(), &Identity::default(), "0.1.0", false);
        let b = all
            .iter()
            .find(|(t, _)| t.starts_with("homeassistant/button/"))
            .unwrap();
        assert!(b.1.is_empty());
        let s = all
            .iter()
            .find(|(t, _)| t.starts_with("homeassistant/switch/"))
            .unwrap();
        assert!(s.1.is_empty());
    }

    #[test]
    fn an_empty_status_gives_nulls_not_errors() {
        let s = Status::default();
        let v = state(&s, 100);
        assert_eq!(v["rsrp_dbm"], Value::Null);
        assert_eq!(v["modem"], "OFF");
        assert_eq!(v["auto_topup"], "OFF");
        assert_eq!(without_ages(&v).get("balance_age_secs"), None);
    }
}
