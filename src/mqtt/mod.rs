//! MQTT: the agent's state, events and Home Assistant discovery on the owner's broker, over a
//! small MQTT 3.1.1 client of our own ([`packet`] pure, [`session`] one connection) on tokio
//! TCP or tokio-rustls (`mqtts://`).
//!
//! Why not rumqttc: it brings its own TLS stack selection, a request channel and a state
//! machine for QoS 2 and MQTT 5 we do not use; the part we need (CONNECT with will, PUBLISH
//! QoS 0/1 with PUBACK tracking, SUBSCRIBE, PING, reconnect) is ~600 lines here and reuses the
//! rustls config the carrier API already links, so it adds tens of KiB, not hundreds.
//!
//! Topics, under `mqtt.topic_prefix` (`simkeep/<IMEI>` by default):
//! - `availability`: `online` (retained) once connected; `offline` as the last will and on stop.
//! - `state`: the flat state document ([`ha::state`]), retained, on change and every
//!   `mqtt.interval`.
//! - `event/<name>`: each agent event, QoS 1, in order. Events come from the store (the notify
//!   task records every one there first), so an outage or a restart loses none: the id of the
//!   last one the broker acknowledged is kept in the store too.
//! - `command/topup_now`, `command/auto_topup` in; `reply/<id>` out ([`command`]).
//! - `<discovery_prefix>/<component>/simkeep_<device>_<key>/config`: HA discovery, retained,
//!   again whenever HA says `online` on `<discovery_prefix>/status`.
//!
//! It must not: block or slow the agent (it only reads the status `watch` and the store, and
//! sends on the same bounded control channel as the HTTP API), log a password, or keep more
//! than [`session::MAX_INFLIGHT`] events in memory.

pub mod command;
pub mod ha;
pub mod packet;
pub mod session;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::agent::status::{unix_now, Status};
use crate::agent::topup::Control;
use crate::config::MqttConfig;
use crate::secrets::Secrets;
use crate::store::StoreHandle;
use session::{End, MqttError, Shared};

/// First retry after this; doubled per failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Events older than this are not sent after an outage (a broker away for weeks would get a
/// flood nobody wants); the store keeps them.
const MAX_BACKLOG_SECS: i64 = 7 * 86_400;
/// On the very first start (no cursor yet), events this recent are still sent.
const FIRST_START_SECS: i64 = 60;
/// How long shutdown waits for `offline` to go out.
const STOP_CAP: Duration = Duration::from_secs(2);

/// The running task; the agent stops it at shutdown.
pub struct MqttTask {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl MqttTask {
    /// Publishes `offline`, disconnects, and ends (aborted after [`STOP_CAP`]).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        crate::task::join_within(self.handle, STOP_CAP).await;
    }
}

/// Starts the task for `[mqtt]`. `control` is the channel the HTTP API uses for top-ups.
pub fn start(
    cfg: MqttConfig,
    status: watch::Receiver<Status>,
    control: mpsc::Sender<Control>,
    store: StoreHandle,
    secrets: &Secrets,
) -> MqttTask {
    let (stop, stopped) = oneshot::channel();
    let vars = crate::template::SimVars::default();
    let render = |t: &Option<crate::template::Template>, key: &str| {
        t.as_ref()
            .and_then(|t| match t.render(&vars.with(secrets)) {
                Ok(v) => Some(v),
                Err(e) => {
                    // The template error names the secret, never its value.
                    tracing::error!("mqtt.{key}: {e}; connecting without it");
                    None
                }
            })
    };
    let shared = Shared {
        username: render(&cfg.username, "username"),
        password: render(&cfg.password, "password"),
        cfg,
        status,
        control,
        store,
        acked: 0,
        floor: 0,
        replies: 0,
        cursor_synced: None,
    };
    let handle = tokio::spawn(run(shared, stopped));
    MqttTask { stop, handle }
}

async fn run(mut sh: Shared, mut stop: oneshot::Receiver<()>) {
    let started = unix_now();
    match sh.store.last_event(session::CURSOR_EVENT).await {
        Ok(Some(e)) => sh.acked = e.detail.trim().parse().unwrap_or(0),
        // No cursor yet: only what happened since this start.
        _ => sh.floor = started.saturating_sub(FIRST_START_SECS),
    }
    let mut backoff = BACKOFF_MIN;
    let mut last_error = String::new();
    loop {
        let Some(device_id) = device_id(&mut sh, &mut stop).await else {
            return;
        };
        sh.floor = sh.floor.max(unix_now().saturating_sub(MAX_BACKLOG_SECS));
        let err = match session::run(&mut sh, &device_id, &mut stop).await {
            Ok(End::Stopped) => return,
            Ok(End::Lost(e)) => {
                // It was up: start the backoff again from the bottom.
                backoff = BACKOFF_MIN;
                e
            }
            Err(e) => e,
        };
        let msg = err.to_string();
        // Once per distinct failure, not once per retry.
        if msg != last_error {
            tracing::warn!(
                "mqtt: {msg}; retrying with backoff (up to {}s)",
                BACKOFF_MAX.as_secs()
            );
            last_error = msg;
        }
        if matches!(err, MqttError::Config { .. }) {
            backoff = BACKOFF_MAX;
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// `mqtt.device_id`, or the modem's IMEI once a poll has read it. `None` at shutdown.
async fn device_id(sh: &mut Shared, stop: &mut oneshot::Receiver<()>) -> Option<String> {
    if let Some(d) = &sh.cfg.device_id {
        return Some(d.clone());
    }
    let mut told = false;
    loop {
        let imei = ha::Identity::from_status(&sh.status.borrow()).imei;
        // Only the characters a topic and an HA unique id take safely.
        if let Some(id) = imei
            .map(|i| {
                i.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            })
            .filter(|i| !i.is_empty())
        {
            return Some(id);
        }
        if !told {
            tracing::info!(
                "mqtt: waiting for the modem's IMEI to name this device (or set mqtt.device_id)"
            );
            told = true;
        }
        tokio::select! {
            _ = &mut *stop => return None,
            changed = sh.status.changed() => if changed.is_err() { return None },
        }
    }
}
