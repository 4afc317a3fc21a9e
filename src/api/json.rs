//! JSON documents the server sends and the CLI prints: one shape for each, whichever side
//! produced it (the CLI renders the store's rows with these when no daemon runs).

use serde_json::{json, Value};

use crate::store::{SignalSample, UsageSample};

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
