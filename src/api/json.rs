//! JSON documents the server sends and the CLI prints: one shape for each, whichever side
//! produced it (the CLI renders the store's rows with these when no daemon runs).

use serde_json::{json, Value};

use crate::store::{Event, SignalSample, SmsDirection, StoredSms, UsageSample, UssdSession};
use crate::usage::civil::utc_string;

/// Usage history rows, with the bytes used since the previous sample of the same SIM and
/// source (`null` for the first one seen). The CLI's store fallback and the API share this.
pub fn usage_json(samples: &[UsageSample]) -> Value {
    let mut deltas = UsageDeltas::default();
    Value::Array(samples.iter().map(|s| deltas.row(s)).collect())
}

/// Remembers the last counter per (SIM, source) to turn cumulative counters into bytes used
/// per sample interval. A counter that went down (modem restart) counts from zero.
#[derive(Default)]
pub struct UsageDeltas {
    last: std::collections::HashMap<(String, String), u64>,
}

impl UsageDeltas {
    pub fn row(&mut self, s: &UsageSample) -> Value {
        let total = s.rx_bytes.saturating_add(s.tx_bytes);
        let key = (s.iccid.clone(), s.source.clone());
        let used =
            self.last
                .insert(key, total)
                .map(|prev| if total >= prev { total - prev } else { total });
        json!({"at": utc_string(s.t), "iccid": s.iccid, "rx_bytes": s.rx_bytes,
               "tx_bytes": s.tx_bytes, "used_bytes": used, "source": s.source})
    }
}

pub fn signal_json(samples: &[SignalSample]) -> Value {
    Value::Array(samples.iter().map(signal_row).collect())
}

/// One signal sample; `band` is a number everywhere (as in status).
pub fn signal_row(s: &SignalSample) -> Value {
    json!({"at": utc_string(s.t), "rssi_dbm": s.rssi_dbm, "rsrp_dbm": s.rsrp_dbm,
           "rsrq_db": s.rsrq_db, "sinr_db": s.sinr_db, "band": band_number(s.band.as_deref()),
           "tech": s.tech})
}

/// The stored band text (`"3"`, older rows `"B3"`/`"n78"`) as the number status uses.
fn band_number(b: Option<&str>) -> Option<u16> {
    b?.trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
}

/// One stored message: `GET /api/v1/sms` and `simkeep sms list --json` print the same.
pub fn sms_json(s: &StoredSms) -> Value {
    let dir = match s.sms.direction {
        SmsDirection::Received => "received",
        SmsDirection::Sent => "sent",
    };
    json!({"id": s.id.0, "direction": dir, "peer": s.sms.peer,
           "sent_at": s.sms.sent_at.map(utc_string), "stored_at": utc_string(s.sms.t),
           "text": s.sms.body, "iccid": s.sms.iccid})
}

pub fn ussd_json(u: &UssdSession) -> Value {
    json!({"started_at": utc_string(u.t_start), "ended_at": u.t_end.map(utc_string),
           "iccid": u.iccid, "request": u.request, "response": u.response, "status": u.status})
}

pub fn event_json(e: &Event) -> Value {
    json!({"at": utc_string(e.t), "kind": e.kind, "detail": e.detail})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(t: i64, rx: u64, tx: u64) -> UsageSample {
        UsageSample {
            t,
            iccid: "8981100000000000000".into(),
            rx_bytes: rx,
            tx_bytes: tx,
            source: "modem".into(),
        }
    }

    #[test]
    fn usage_rows_carry_bytes_per_interval_and_survive_a_counter_reset() {
        let v = usage_json(&[usage(0, 100, 10), usage(30, 300, 20), usage(60, 5, 1)]);
        let used: Vec<Value> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["used_bytes"].clone())
            .collect();
        assert_eq!(used, vec![Value::Null, json!(210), json!(6)]);
        assert_eq!(v[0]["at"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn band_is_a_number_in_history() {
        let s = SignalSample {
            t: 0,
            rssi_dbm: None,
            rsrp_dbm: Some(-95),
            rsrq_db: None,
            sinr_db: None,
            band: Some("3".into()),
            tech: Some("LTE".into()),
        };
        assert_eq!(signal_row(&s)["band"], json!(3));
        assert_eq!(band_number(Some("n78")), Some(78));
        assert_eq!(band_number(Some("?")), None);
    }
}
