//! Glue between the poller and the usage model: feeds each poll's counters into the
//! [`Estimator`](crate::usage::Estimator), hands telemetry to the store (which batches it to
//! spare the flash), keeps the estimator's state across restarts, and turns carrier replies into
//! readings. No SQL here (that is `store`), no parsing rules (that is `usage`).

use crate::config::UsageConfig;
use crate::modem::driver::Snapshot;
use crate::store::{BalanceReading, SignalSample, StoreHandle, UsageSample};
use crate::usage::{
    read_iface_counters, CarrierReading, Estimator, Traffic, UsageReport, UsageState,
};

/// Usage bookkeeping owned by the poll loop.
pub struct Accounting {
    cfg: Option<UsageConfig>,
    est: Estimator,
    store: StoreHandle,
    /// The SIM whose saved state was already loaded (once per start).
    restored: bool,
    last_iface_error: Option<String>,
    last_carrier_query: Option<i64>,
    /// The last balance reading written to the store: (ICCID, when, bytes left).
    last_recorded: Option<(String, i64, Option<u64>)>,
}

/// Balance readings are synced to flash at most this often per SIM, unless the figure rose (a
/// top-up landed) or the SIM changed: a carrier API read every 15 minutes would otherwise sync
/// 96 times a day. Every reading still reaches the estimator.
const BALANCE_RECORD_EVERY: i64 = 3600;

impl Accounting {
    pub fn new(cfg: Option<UsageConfig>, store: StoreHandle) -> Self {
        let est_cfg = cfg.as_ref().map(|c| c.estimator).unwrap_or_default();
        Self {
            cfg,
            est: Estimator::new(est_cfg),
            store,
            restored: false,
            last_iface_error: None,
            last_carrier_query: None,
            last_recorded: None,
        }
    }

    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    pub fn config(&self) -> Option<&UsageConfig> {
        self.cfg.as_ref()
    }

    /// One poll's worth of bookkeeping. `modem_traffic` is the modem's own counter reading (with
    /// a generation that changes when the modem restarted), when the profile has one.
    pub async fn on_poll(
        &mut self,
        snap: &Snapshot,
        modem_traffic: Option<(Traffic, u64)>,
        now: i64,
    ) -> Option<UsageReport> {
        self.record_signal(snap, now);
        let iccid = snap.sim.iccid.clone()?;
        let cfg = self.cfg.clone()?;
        if !self.restored {
            self.restored = true;
            self.restore(&iccid).await;
        }
        if self.est.active_sim() != Some(iccid.as_str()) {
            self.est.activate_sim(&iccid, cfg.plan.clone(), now);
        }
        // One usage sample per poll for the history (the modem's counter when it has one, else
        // the interface's): a second row per poll would cost flash for a figure nobody charts.
        let mut sample: Option<(Traffic, &str)> = None;
        if let Some(iface) = &cfg.interface {
            match read_iface_counters(&cfg.sysfs_root, iface) {
                Ok(c) => {
                    self.last_iface_error = None;
                    self.est.observe_interface(&c, now);
                    sample = Some((c.traffic, "interface"));
                }
                Err(e) => {
                    let msg = e.to_string();
                    if self.last_iface_error.as_deref() != Some(msg.as_str()) {
                        tracing::warn!("usage: {msg}");
                        self.last_iface_error = Some(msg);
                    }
                }
            }
        }
        if let Some((t, generation)) = modem_traffic {
            self.est.observe_modem(t, Some(generation), now);
            sample = Some((t, "modem"));
        }
        if let Some((t, source)) = sample {
            self.record_usage(&iccid, t, source, now);
        }
        self.save_state(&iccid, now);
        self.est.report(now)
    }

    /// Loads the estimator state saved with this SIM (it holds every SIM seen until then).
    async fn restore(&mut self, iccid: &str) {
        match self.store.sim_state(iccid).await {
            Ok(Some(json)) => match serde_json::from_str::<UsageState>(&json) {
                Ok(state) => {
                    let est_cfg = self.cfg.as_ref().map(|c| c.estimator).unwrap_or_default();
                    self.est = Estimator::from_state(est_cfg, state);
                    tracing::info!(iccid, "usage counts restored from the store");
                }
                Err(e) => {
                    tracing::warn!(iccid, "saved usage state unreadable ({e}); starting fresh")
                }
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(iccid, "cannot read saved usage state: {e}"),
        }
    }

    fn save_state(&self, iccid: &str, now: i64) {
        match serde_json::to_string(self.est.state()) {
            // Buffered by the store until its next flush: no flash write per poll.
            Ok(json) => {
                if let Err(e) = self.store.save_sim_state(iccid, now, json) {
                    tracing::debug!("usage state not saved: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot encode usage state: {e}"),
        }
    }

    fn record_signal(&self, snap: &Snapshot, now: i64) {
        let s = &snap.signal;
        let sample = SignalSample {
            t: now,
            rssi_dbm: s.rssi_dbm.map(|v| v.round() as i32),
            rsrp_dbm: s.rsrp_dbm.map(|v| v.round() as i32),
            rsrq_db: s.rsrq_db.map(|v| v as f32),
            sinr_db: s.sinr_db.map(|v| v as f32),
            band: s.band.map(|b| b.to_string()),
            tech: snap
                .registration
                .tech
                .and_then(|t| serde_json::to_value(t).ok())
                .and_then(|v| v.as_str().map(String::from)),
        };
        if let Err(e) = self.store.record_signal(sample) {
            tracing::debug!("signal sample not stored: {e}");
        }
    }

    fn record_usage(&self, iccid: &str, t: Traffic, source: &str, now: i64) {
        let sample = UsageSample {
            t: now,
            iccid: iccid.to_string(),
            rx_bytes: t.rx_bytes,
            tx_bytes: t.tx_bytes,
            source: source.into(),
        };
        if let Err(e) = self.store.record_usage(sample) {
            tracing::debug!("usage sample not stored: {e}");
        }
    }

    /// Is it time to ask the carrier for the balance?
    pub fn carrier_due(&self, now: i64) -> bool {
        let Some(c) = self.cfg.as_ref().and_then(|c| c.carrier.as_ref()) else {
            return false;
        };
        let every = i64::try_from(c.interval.as_secs()).unwrap_or(i64::MAX);
        self.last_carrier_query
            .is_none_or(|t| now.saturating_sub(t) >= every)
    }

    pub fn carrier_asked(&mut self, now: i64) {
        self.last_carrier_query = Some(now);
    }

    /// Parses the carrier's reply, records it durably (the raw text too, so better rules can
    /// re-read it later) and feeds it to the estimator.
    pub async fn carrier_reply(
        &mut self,
        iccid: &str,
        text: &str,
        now: i64,
    ) -> Option<CarrierReading> {
        let rules = &self.cfg.as_ref()?.carrier.as_ref()?.rules;
        let parsed = rules.parse(text);
        let remaining = parsed.as_ref().ok().map(|r| r.remaining_bytes);
        let reading = BalanceReading {
            t: now,
            iccid: iccid.to_string(),
            remaining_bytes: remaining,
            raw_text: text.to_string(),
        };
        self.record_balance(reading).await;
        match parsed {
            Ok(r) => {
                self.est.record_carrier(&r, now);
                tracing::info!(
                    remaining_bytes = r.remaining_bytes,
                    "carrier balance: {}",
                    r.matched_text
                );
                Some(r)
            }
            Err(e) => {
                tracing::warn!("carrier reply not understood: {e}");
                None
            }
        }
    }

    /// A figure from the carrier's API (already in bytes): recorded and fed to the estimator
    /// like a parsed reply.
    pub async fn carrier_bytes(&mut self, iccid: &str, remaining: u64, now: i64) {
        let reading = BalanceReading {
            t: now,
            iccid: iccid.to_string(),
            remaining_bytes: Some(remaining),
            raw_text: format!("api: {remaining} bytes"),
        };
        self.record_balance(reading).await;
        let r = CarrierReading {
            remaining_bytes: remaining,
            matched_text: format!("{remaining} bytes (carrier API)"),
        };
        self.est.record_carrier(&r, now);
        tracing::info!(remaining_bytes = remaining, "carrier balance from its API");
    }

    /// Writes a reading to the store when it is news (see [`BALANCE_RECORD_EVERY`]).
    async fn record_balance(&mut self, reading: BalanceReading) {
        let news = match &self.last_recorded {
            None => true,
            Some((iccid, t, left)) => {
                iccid != &reading.iccid
                    || reading.t.saturating_sub(*t) >= BALANCE_RECORD_EVERY
                    || reading.remaining_bytes > *left
                    || (left.is_some() && reading.remaining_bytes.is_none())
            }
        };
        if !news {
            return;
        }
        self.last_recorded = Some((reading.iccid.clone(), reading.t, reading.remaining_bytes));
        if let Err(e) = self.store.record_balance(reading).await {
            tracing::warn!("balance reading not stored: {e}");
        }
    }

    pub fn report(&self, now: i64) -> Option<UsageReport> {
        self.est.report(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    /// The balance readings in the store, straight from the file.
    fn rows(path: &std::path::Path) -> Vec<(i64, Option<i64>)> {
        let c = rusqlite::Connection::open(path).unwrap();
        let mut st = c
            .prepare("SELECT t, remaining_bytes FROM carrier_balance ORDER BY t")
            .unwrap();
        let out = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn balance_readings_reach_flash_hourly_unless_a_top_up_landed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut sc = StoreConfig::new(path.clone());
        sc.exclusive = false;
        let store = StoreHandle::start(sc).unwrap();
        let mut acc = Accounting::new(None, store.clone());
        let sim = "8981100022152467221";
        // Recent times: the store prunes old history.
        let t0 = super::super::status::unix_now() - 10 * 3600;
        // Every 15 minutes for an hour, the line using data: one row.
        for (i, left) in [900u64, 850, 800, 750].into_iter().enumerate() {
            acc.carrier_bytes(sim, left, t0 + 900 * i as i64).await;
        }
        // A top-up landed: recorded at once.
        acc.carrier_bytes(sim, 5_000, t0 + 2_800).await;
        // An hour after the last row: recorded again.
        acc.carrier_bytes(sim, 4_900, t0 + 2_900).await;
        acc.carrier_bytes(sim, 4_800, t0 + 2_800 + 3_600).await;
        store.shutdown().await.unwrap();
        assert_eq!(
            rows(&path),
            vec![
                (t0, Some(900)),
                (t0 + 2_800, Some(5_000)),
                (t0 + 6_400, Some(4_800))
            ]
        );
    }
}
