//! JSON documents the server sends and the CLI prints: one shape for each, whichever side
//! produced it (the CLI renders the store's rows with these when no daemon runs).

use serde_json::{json, Value};

use crate::store::{Event, SignalSample, SmsDirection, StoredSms, UsageSample, UssdSession};
use crate::usage::civil::utc_string;

pub fn usage_json(samples: &[UsageSample]) -> Value {
    Value::Array(
        samples
            .iter()
            .map(|s| json!({"t": s.t, "iccid": s.iccid, "rx_bytes": s.rx_bytes, "tx_bytes": s.tx_bytes, "source": s.source}))
            .collect(),
    )
}

pub fn signal_json(samples: &[SignalSample]) -> Value {
    Value::Array(
        samples
            .iter()
            .map(|s| {
                json!({"t": s.t, "rssi_dbm": s.rssi_dbm, "rsrp_dbm": s.rsrp_dbm, "rsrq_db": s.rsrq_db,
                       "sinr_db": s.sinr_db, "band": s.band, "tech": s.tech})
            })
            .collect(),
    )
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
