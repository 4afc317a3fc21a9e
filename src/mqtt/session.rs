//! One connection to the broker, from CONNECT to the first failure: it announces the device
//! (availability, discovery, state), keeps the state current, publishes the stored events at
//! QoS 1 in order, answers commands, and pings. The caller (`mqtt::run`) reconnects.
//!
//! One `select!` owns the socket; each branch says why it is there. Writes happen outside the
//! branches (reads are `read_buf`, which is cancel-safe), each capped by [`IO_TIMEOUT`].
//!
//! It must not: hold more than [`MAX_INFLIGHT`] unacknowledged events or a packet larger than
//! [`MAX_PACKET`], put the password in an error, or act on a command when commands are off.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::command;
use super::ha::{self, Identity, Topics};
use super::packet::{self, Incoming, PacketError};
use crate::agent::status::{unix_now, Status};
use crate::agent::topup::Control;
use crate::config::MqttConfig;
use crate::store::StoreHandle;

/// Connect, TLS handshake, CONNACK, and each write must finish within this.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// We ping after this long; the broker drops us after 1.5× it without a packet (§3.1.2.10).
pub const KEEPALIVE_SECS: u16 = 60;
/// Events published and not yet acknowledged, at most.
pub const MAX_INFLIGHT: usize = 16;
/// Largest packet accepted from the broker (commands and HA's status are a few bytes).
pub const MAX_PACKET: usize = 64 * 1024;
/// How often the store is asked for new events.
const EVENT_POLL: Duration = Duration::from_secs(1);
/// Store-event kind holding the id of the last event the broker acknowledged.
pub const CURSOR_EVENT: &str = crate::store::MQTT_CURSOR_EVENT;

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("cannot reach the MQTT broker {addr}: {cause}")]
    Connect { addr: String, cause: String },
    #[error("TLS with the MQTT broker {addr} failed: {cause}")]
    Tls { addr: String, cause: String },
    #[error("the MQTT broker {addr} refused the connection: {reason}")]
    Refused { addr: String, reason: &'static str },
    #[error("the MQTT broker {addr} did not answer in time ({what})")]
    Timeout { addr: String, what: &'static str },
    #[error("the MQTT broker {addr} closed the connection")]
    Closed { addr: String },
    #[error("MQTT broker {addr}: {source}")]
    Packet { addr: String, source: PacketError },
    #[error("talking to the MQTT broker {addr} failed: {cause}")]
    Io { addr: String, cause: String },
    #[error("mqtt.{key} cannot be used: {cause}")]
    Config { key: &'static str, cause: String },
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What the session shares with the task across reconnects.
pub struct Shared {
    pub cfg: MqttConfig,
    pub status: watch::Receiver<Status>,
    pub control: mpsc::Sender<Control>,
    pub store: StoreHandle,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The last event id the broker acknowledged (persisted in the store).
    pub acked: i64,
    /// Events older than this are not published (first start, or a very long outage).
    pub floor: i64,
    /// Replies to commands without an id are numbered from this.
    pub replies: u64,
    /// When the cursor was last written at once (see [`persist_cursor`]).
    pub cursor_synced: Option<Instant>,
}

/// How the session ended.
pub enum End {
    /// Shutdown: `offline` was published and DISCONNECT sent.
    Stopped,
    /// The connection failed after it had been up (so the backoff starts again from 1 s).
    Lost(MqttError),
}

struct Conn {
    io: Box<dyn Io>,
    addr: String,
    rbuf: Vec<u8>,
    next_id: u16,
}

impl Conn {
    async fn send(&mut self, bytes: &[u8]) -> Result<(), MqttError> {
        match tokio::time::timeout(IO_TIMEOUT, self.io.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(MqttError::Io {
                addr: self.addr.clone(),
                cause: e.to_string(),
            }),
            Err(_) => Err(MqttError::Timeout {
                addr: self.addr.clone(),
                what: "writing",
            }),
        }
    }

    fn packet_id(&mut self) -> u16 {
        // Packet ids are 1..=65535 (§2.3.1): 0 is not allowed.
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        self.next_id
    }

    fn packet_err(&self, source: PacketError) -> MqttError {
        MqttError::Packet {
            addr: self.addr.clone(),
            source,
        }
    }

    async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        retain: bool,
    ) -> Result<(), MqttError> {
        let b = packet::publish(topic, payload, 0, retain, None).map_err(|e| self.packet_err(e))?;
        self.send(&b).await
    }

    /// The next whole packet already in the buffer, if any.
    fn take_packet(&mut self) -> Result<Option<Incoming>, MqttError> {
        match packet::decode(&self.rbuf, MAX_PACKET) {
            Ok(Some((p, used))) => {
                self.rbuf.drain(..used);
                Ok(Some(p))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(self.packet_err(e)),
        }
    }

    /// Reads more bytes; cancel-safe (nothing is lost if another branch wins).
    async fn fill(&mut self) -> Result<(), MqttError> {
        self.rbuf.reserve(4096);
        match self.io.read_buf(&mut self.rbuf).await {
            Ok(0) => Err(MqttError::Closed {
                addr: self.addr.clone(),
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(MqttError::Io {
                addr: self.addr.clone(),
                cause: e.to_string(),
            }),
        }
    }
}

/// TCP (and TLS for mqtts://) to the broker.
async fn dial(cfg: &MqttConfig) -> Result<Conn, MqttError> {
    let addr = format!("{}:{}", cfg.url.host, cfg.url.port);
    let tcp = tokio::time::timeout(
        IO_TIMEOUT,
        tokio::net::TcpStream::connect((cfg.url.host.as_str(), cfg.url.port)),
    )
    .await
    .map_err(|_| MqttError::Timeout {
        addr: addr.clone(),
        what: "connecting",
    })?
    .map_err(|e| MqttError::Connect {
        addr: addr.clone(),
        cause: e.to_string(),
    })?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if cfg.url.tls {
        let tls =
            crate::carrier_api::tls::client_config(cfg.ca_file.as_deref()).map_err(|cause| {
                MqttError::Config {
                    key: "ca_file",
                    cause,
                }
            })?;
        // The shared config offers ALPN http/1.1; an MQTT broker wants none (or its own).
        let mut tls = (*tls).clone();
        tls.alpn_protocols.clear();
        let name = rustls::pki_types::ServerName::try_from(cfg.url.host.clone()).map_err(|_| {
            MqttError::Config {
                key: "url",
                cause: format!("{:?} is not a valid TLS server name", cfg.url.host),
            }
        })?;
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
        let s = tokio::time::timeout(IO_TIMEOUT, connector.connect(name, tcp))
            .await
            .map_err(|_| MqttError::Timeout {
                addr: addr.clone(),
                what: "TLS handshake",
            })?
            .map_err(|e| MqttError::Tls {
                addr: addr.clone(),
                cause: e.to_string(),
            })?;
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    Ok(Conn {
        io,
        addr,
        rbuf: Vec::new(),
        next_id: 0,
    })
}

/// One unacknowledged event.
struct Inflight {
    packet: u16,
    event: i64,
    acked: bool,
}

/// Connects and runs until `stop` fires or the connection fails. `Err` when it never got up.
pub async fn run(
    sh: &mut Shared,
    device_id: &str,
    stop: &mut oneshot::Receiver<()>,
) -> Result<End, MqttError> {
    let prefix = sh.cfg.topic_prefix.replace("{device_id}", device_id);
    let discovery = sh.cfg.discovery_prefix.clone();
    let topics = Topics {
        prefix: &prefix,
        discovery: &discovery,
        device_id,
    };
    let client_id = sh
        .cfg
        .client_id
        .clone()
        .unwrap_or_else(|| format!("simkeep-{device_id}"));
    let availability = topics.availability();
    let mut c = dial(&sh.cfg).await?;
    let hello = packet::connect(&packet::Connect {
        client_id: &client_id,
        keepalive_secs: KEEPALIVE_SECS,
        // The backlog lives in our store, not in a broker session.
        clean_session: true,
        will: Some(packet::Will {
            topic: &availability,
            payload: b"offline",
            qos: 1,
            retain: true,
        }),
        username: sh.username.as_deref(),
        password: sh.password.as_deref().map(str::as_bytes),
    })
    .map_err(|e| c.packet_err(e))?;
    c.send(&hello).await?;
    let ack = tokio::time::timeout(IO_TIMEOUT, async {
        loop {
            if let Some(p) = c.take_packet()? {
                return Ok::<_, MqttError>(p);
            }
            c.fill().await?;
        }
    })
    .await
    .map_err(|_| MqttError::Timeout {
        addr: c.addr.clone(),
        what: "CONNACK",
    })??;
    match ack {
        Incoming::ConnAck { code: 0, .. } => {}
        Incoming::ConnAck { code, .. } => {
            return Err(MqttError::Refused {
                addr: c.addr.clone(),
                reason: packet::connack_reason(code),
            })
        }
        _ => {
            return Err(c.packet_err(PacketError::Malformed {
                kind: "CONNACK",
                why: "the first packet was not a CONNACK",
            }))
        }
    }
    tracing::info!(
        "mqtt: connected to {} as {client_id}; topics under {prefix}/",
        c.addr
    );
    let end = connected(sh, &mut c, &topics, stop).await;
    Ok(match end {
        Ok(()) => End::Stopped,
        Err(e) => End::Lost(e),
    })
}

/// The session once CONNACK said yes.
async fn connected(
    sh: &mut Shared,
    c: &mut Conn,
    t: &Topics<'_>,
    stop: &mut oneshot::Receiver<()>,
) -> Result<(), MqttError> {
    let ha_status = format!("{}/status", t.discovery);
    let commands = t.command("+");
    let sub_id = c.packet_id();
    let sub =
        packet::subscribe(sub_id, &[&ha_status, &commands], 0).map_err(|e| c.packet_err(e))?;
    c.send(&sub).await?;
    c.publish(&t.availability(), b"online", true).await?;
    let mut identity = Identity::from_status(&sh.status.borrow());
    announce(sh, c, t, &identity).await?;
    let mut last_state = publish_state(sh, c, t).await?;
    let mut inflight: VecDeque<Inflight> = VecDeque::new();
    // Everything not acknowledged is sent again on a new connection, in order.
    let mut sent = sh.acked;
    let mut cursor_dirty = false;
    let mut state_tick = tokio::time::interval(sh.cfg.interval);
    state_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    state_tick.reset();
    let mut event_tick = tokio::time::interval(EVENT_POLL);
    let keepalive = Duration::from_secs(u64::from(KEEPALIVE_SECS));
    let mut ping_tick = tokio::time::interval_at(Instant::now() + keepalive / 2, keepalive / 2);
    let mut ping_sent: Option<Instant> = None;
    loop {
        while let Some(p) = c.take_packet()? {
            match p {
                Incoming::PubAck(id) => {
                    if let Some(f) = inflight.iter_mut().find(|f| f.packet == id) {
                        f.acked = true;
                    }
                    advance(sh, &mut inflight, &mut cursor_dirty);
                }
                Incoming::PingResp => ping_sent = None,
                Incoming::Publish(p) => {
                    if let Some(id) = p.id {
                        c.send(&packet::puback(id)).await?;
                    }
                    if p.topic == ha_status {
                        // HA restarted and forgot every entity: announce again (HA docs).
                        if p.payload == b"online" {
                            announce(sh, c, t, &identity).await?;
                            last_state = publish_state(sh, c, t).await?;
                        }
                    } else if let Some(name) = p.topic.strip_prefix(&t.command("")) {
                        on_command(sh, c, t, name, &p.payload).await?;
                    }
                }
                Incoming::SubAck { codes, .. } if codes.contains(&0x80) => {
                    tracing::warn!("mqtt: the broker refused a subscription (its ACL?); Home Assistant restarts or commands may be missed");
                }
                Incoming::ConnAck { .. } | Incoming::SubAck { .. } | Incoming::Other(_) => {}
            }
        }
        tokio::select! {
            biased;
            // Shutdown: say offline ourselves (DISCONNECT suppresses the will) and go.
            _ = &mut *stop => {
                persist_cursor(sh, &mut cursor_dirty);
                c.publish(&t.availability(), b"offline", true).await?;
                c.send(&packet::DISCONNECT).await?;
                let _ = c.io.shutdown().await;
                return Ok(());
            }
            // Bytes from the broker: acks, pings, HA's status, commands.
            r = c.fill() => r?,
            // The agent published a new status: the state document, if it changed; the
            // discovery configs, if the modem's identity changed (first poll, a new modem).
            changed = sh.status.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let now_id = Identity::from_status(&sh.status.borrow());
                if now_id != identity {
                    identity = now_id;
                    announce(sh, c, t, &identity).await?;
                }
                let doc = ha::without_ages(&ha::state(&sh.status.borrow(), unix_now()));
                if doc != last_state {
                    last_state = publish_state(sh, c, t).await?;
                }
            }
            // The state at least every mqtt.interval, so a late subscriber and the balance
            // age are never older than that.
            _ = state_tick.tick() => last_state = publish_state(sh, c, t).await?,
            // New events in the store, while there is room in flight.
            _ = event_tick.tick() => {
                persist_cursor(sh, &mut cursor_dirty);
                let room = MAX_INFLIGHT.saturating_sub(inflight.len());
                if room > 0 {
                    sent = publish_events(sh, c, t, sent, room, &mut inflight).await?;
                    advance(sh, &mut inflight, &mut cursor_dirty);
                }
            }
            // Keepalive: a broker that stopped answering is a lost connection.
            _ = ping_tick.tick() => {
                if ping_sent.is_some_and(|at| at.elapsed() >= keepalive / 2) {
                    return Err(MqttError::Timeout { addr: c.addr.clone(), what: "PINGREQ" });
                }
                c.send(&packet::PINGREQ).await?;
                ping_sent.get_or_insert_with(Instant::now);
            }
        }
    }
}

/// The cursor is written at once at most this often; in between it rides with the store's
/// telemetry batch.
const CURSOR_SYNC_EVERY: Duration = Duration::from_secs(15 * 60);

/// Records the acknowledged cursor in the store (one record per poll round at most). The first
/// of a run, and then one every [`CURSOR_SYNC_EVERY`], is written at once; the others ride with
/// the telemetry batch, replacing each other. Each event published would otherwise cost a synced
/// write, and a flapping modem publishes many; the price of a power cut is that the broker gets
/// up to that many minutes of events again (QoS 1 is at-least-once anyway).
fn persist_cursor(sh: &mut Shared, dirty: &mut bool) {
    if std::mem::take(dirty) {
        tracing::debug!("mqtt: the broker has every event up to #{}", sh.acked);
        let now = unix_now();
        let detail = sh.acked.to_string();
        let due = sh
            .cursor_synced
            .is_none_or(|at| at.elapsed() >= CURSOR_SYNC_EVERY);
        let r = if due {
            sh.cursor_synced = Some(Instant::now());
            sh.store.event(now, CURSOR_EVENT, &detail)
        } else {
            sh.store.event_latest(now, CURSOR_EVENT, &detail)
        };
        if let Err(e) = r {
            tracing::warn!("mqtt: cannot record which events were published: {e}");
        }
    }
}

async fn announce(
    sh: &Shared,
    c: &mut Conn,
    t: &Topics<'_>,
    id: &Identity,
) -> Result<(), MqttError> {
    for (topic, payload) in ha::discovery(t, id, env!("CARGO_PKG_VERSION"), sh.cfg.allow_commands) {
        c.publish(&topic, &payload, true).await?;
    }
    Ok(())
}

/// Publishes the state (retained) and returns it without the clock-driven fields.
async fn publish_state(sh: &Shared, c: &mut Conn, t: &Topics<'_>) -> Result<Value, MqttError> {
    let doc = ha::state(&sh.status.borrow(), unix_now());
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
    c.publish(&t.state(), &bytes, true).await?;
    Ok(ha::without_ages(&doc))
}

/// Publishes up to `room` stored events after `sent`, QoS 1; returns the new `sent`.
async fn publish_events(
    sh: &Shared,
    c: &mut Conn,
    t: &Topics<'_>,
    sent: i64,
    room: usize,
    inflight: &mut VecDeque<Inflight>,
) -> Result<i64, MqttError> {
    let limit = u32::try_from(room).unwrap_or(1);
    let rows = match sh.store.events_after(sent, sh.floor, limit).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("mqtt: events unreadable for now: {e}");
            return Ok(sent);
        }
    };
    let mut sent = sent;
    for (id, ev) in rows {
        sent = id;
        let Some(&name) = crate::notify::event::EVENT_NAMES
            .iter()
            .find(|n| **n == ev.kind)
        else {
            // Not one of the agent's events (bookkeeping rows): nothing to publish.
            inflight.push_back(Inflight {
                packet: 0,
                event: id,
                acked: true,
            });
            continue;
        };
        let mut doc = json!({
            "id": id,
            "event": name,
            "time": crate::usage::civil::utc_string(ev.t),
            "text": ev.detail,
        });
        // Attention events are stored as "code: message".
        if name.starts_with("attention_") {
            if let Some((code, text)) = ev.detail.split_once(": ") {
                doc["code"] = json!(code);
                doc["text"] = json!(text);
            }
        }
        let packet_id = c.packet_id();
        let bytes = packet::publish(
            &format!("{}/event/{name}", t.prefix),
            &serde_json::to_vec(&doc).unwrap_or_default(),
            1,
            false,
            Some(packet_id),
        )
        .map_err(|e| c.packet_err(e))?;
        c.send(&bytes).await?;
        inflight.push_back(Inflight {
            packet: packet_id,
            event: id,
            acked: false,
        });
    }
    Ok(sent)
}

/// Moves the acknowledged cursor over the leading run of acknowledged events, so a restart
/// never skips one the broker did not take.
fn advance(sh: &mut Shared, inflight: &mut VecDeque<Inflight>, dirty: &mut bool) {
    while inflight.front().is_some_and(|f| f.acked) {
        if let Some(f) = inflight.pop_front() {
            sh.acked = f.event;
            // Skipped bookkeeping rows (packet 0) move the cursor in memory only: writing it
            // for them would add a row that is itself skipped, once a second forever.
            if f.packet != 0 {
                *dirty = true;
            }
        }
    }
}

async fn on_command(
    sh: &mut Shared,
    c: &mut Conn,
    t: &Topics<'_>,
    name: &str,
    payload: &[u8],
) -> Result<(), MqttError> {
    let parsed = command::parse(name, payload);
    let named = match &parsed {
        Ok(p) => p.id.clone(),
        Err(_) => command::loose_id(payload),
    };
    let id = match named {
        Some(id) => id,
        None => {
            sh.replies = sh.replies.wrapping_add(1);
            format!("{}-{}", unix_now(), sh.replies)
        }
    };
    let answer = match parsed {
        _ if !sh.cfg.allow_commands => {
            Err("commands over MQTT are off; set mqtt.allow_commands = true to allow them".into())
        }
        Err(e) => Err(e),
        Ok(p) => {
            tracing::info!(command = name, id = %id, "mqtt: command received");
            command::run(&sh.control, p.command).await
        }
    };
    if let Err(e) = &answer {
        tracing::info!(command = name, id = %id, "mqtt: command not done: {e}");
    }
    let doc = command::reply(&id, &answer);
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
    c.publish(&format!("{}/reply/{id}", t.prefix), &bytes, false)
        .await
}
