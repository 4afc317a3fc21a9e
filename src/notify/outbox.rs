//! The delivery task: the one owner of the outbox. It records each event the agent emits (the
//! event and the deliveries it owes, in one synced transaction), then delivers what is due, in
//! order per channel, retrying failures with exponential backoff (1 s doubling to 1 h, or the
//! channel's own `retry_after`) — across restarts, since the schedule is in the store.
//!
//! At-least-once: a row is deleted only after its channel said yes, so a crash between the two
//! sends that one again. The agent never waits for any of this: it `try_send`s on a bounded
//! channel and counts what did not fit.
//!
//! State changes that are neither money nor messages (modem lost/back, attention raised/cleared: [`AgentEvent::rides_with_telemetry`]) are different: the
//! event rides with the store's telemetry batch and its deliveries are held here, in memory
//! ([`MAX_HELD`] at most), retried with the same backoff, and written to the outbox only if
//! still owed when the task stops. A flapping modem would otherwise cost a synced commit per
//! change (issue 13: 83 MB a day). The price: a power cut loses those notifications.
//! Within a channel the held deliveries go after the stored ones that are due, and wait while
//! the channel fails.
//!
//! It must not: block the agent, hold more than [`MAX_OUTBOX_ROWS`] rows (the store drops the
//! oldest non-critical first and this task counts them), or log a secret.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::deliver::{DeliverError, Deliverer, Message};
use super::event::AgentEvent;
use crate::agent::status::Counters;
use crate::config::NotifyConfig;
use crate::store::{Event, OutboxEvent, OutboxRow, StoreHandle};

/// Events waiting for the task; the agent's `try_send` drops (and counts) beyond this.
pub const QUEUE: usize = 64;
/// Deliveries kept at most (the oldest non-critical go first).
pub const MAX_OUTBOX_ROWS: u64 = 1000;
/// Deliveries held in memory at most (the oldest go first, counted).
pub const MAX_HELD: usize = 64;
/// Rows read per round.
const BATCH: u32 = 32;
/// First retry after this; doubled per failed attempt.
const BACKOFF_BASE_SECS: i64 = 1;
/// Retries are never further apart than this.
const BACKOFF_CAP_SECS: i64 = 3600;
/// Look at the outbox at least this often (a store that was unavailable, a clock step).
const RECHECK: Duration = Duration::from_secs(60);
/// How long shutdown waits for the delivery in progress before aborting it (safe: the row stays).
const STOP_CAP: Duration = Duration::from_millis(500);

/// The agent's side: cheap to clone, never blocks.
#[derive(Clone, Default)]
pub struct Notifier {
    tx: Option<mpsc::Sender<AgentEvent>>,
    /// `notifications_dropped` counts what did not fit (exported in `/metrics`).
    counters: Arc<Counters>,
}

impl Notifier {
    /// A notifier that drops everything (one-shot commands, tests without a store).
    pub fn disabled() -> Notifier {
        Notifier::default()
    }

    /// Hands the event to the delivery task without waiting. When its queue is full the event
    /// is dropped and counted: the agent loop must never stall on a slow channel.
    pub fn emit(&self, e: AgentEvent) {
        let Some(tx) = &self.tx else { return };
        if let Err(err) = tx.try_send(e) {
            Counters::bump(&self.counters.notifications_dropped);
            let n = Counters::get(&self.counters.notifications_dropped);
            let name = match &err {
                mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e.name,
            };
            tracing::warn!(
                event = name,
                dropped = n,
                "event not recorded: the notification queue is full or stopped"
            );
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        Counters::get(&self.counters.notifications_dropped)
    }
}

/// The running task; stop it before the AT engine (it may hold a client for SMS channels).
pub struct NotifyTask {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl NotifyTask {
    /// Stops after the delivery in progress, or aborts it after [`STOP_CAP`] (its row stays in
    /// the outbox and is sent after the restart).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        crate::task::join_within(self.handle, STOP_CAP).await;
    }
}

/// Starts the delivery task. With no channels it still records every event in the store.
pub fn start(
    channels: Vec<NotifyConfig>,
    store: StoreHandle,
    deliverer: Deliverer,
    counters: Arc<Counters>,
) -> (Notifier, NotifyTask) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (stop, stopped) = oneshot::channel();
    let task = Outbox {
        channels,
        store,
        deliverer,
        failing: Vec::new(),
        held: std::collections::VecDeque::new(),
        next_held_id: -1,
        counters: counters.clone(),
    };
    let handle = tokio::spawn(task.run(rx, stopped));
    (
        Notifier {
            tx: Some(tx),
            counters,
        },
        NotifyTask { stop, handle },
    )
}

struct Outbox {
    channels: Vec<NotifyConfig>,
    store: StoreHandle,
    deliverer: Deliverer,
    /// Channels whose last attempt failed (to log "delivered again" once).
    failing: Vec<String>,
    /// Deliveries of events that rode with the telemetry batch, oldest first. Their ids are
    /// negative, so they are never mistaken for outbox rows.
    held: std::collections::VecDeque<OutboxRow>,
    next_held_id: i64,
    counters: Arc<Counters>,
}

fn now() -> i64 {
    crate::agent::status::unix_now()
}

/// Seconds before the next try after `attempts` failures (1, 2, 4, … 3600).
pub fn backoff_secs(attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    BACKOFF_BASE_SECS
        .saturating_mul(1i64 << exp)
        .min(BACKOFF_CAP_SECS)
}

impl Outbox {
    async fn run(mut self, mut rx: mpsc::Receiver<AgentEvent>, mut stopped: oneshot::Receiver<()>) {
        loop {
            let wake = self.deliver_due(&mut rx).await;
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                ev = rx.recv() => match ev {
                    Some(e) => self.record(e).await,
                    None => break,
                },
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        // What is still queued goes to the store (quick, local): recorded, sent after restart.
        while let Ok(e) = rx.try_recv() {
            self.record(e).await;
        }
        self.keep_held().await;
    }

    /// Writes the deliveries still held in memory to the outbox, so they are sent after the
    /// restart like the others.
    async fn keep_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let rows: Vec<OutboxRow> = self.held.drain(..).collect();
        let n = rows.len();
        if let Err(e) = self.store.outbox_keep(rows).await {
            tracing::warn!("{n} notifications not kept for after the restart: {e}");
        }
    }

    /// Holds one delivery in memory, dropping the oldest when full.
    fn hold(&mut self, mut row: OutboxRow) {
        if self.held.len() >= MAX_HELD {
            self.held.pop_front();
            Counters::bump(&self.counters.notifications_dropped);
            tracing::warn!(
                dropped = Counters::get(&self.counters.notifications_dropped),
                "notifications waiting in memory ({MAX_HELD}): the oldest dropped"
            );
        }
        row.id = self.next_held_id;
        self.next_held_id = self.next_held_id.saturating_sub(1);
        self.held.push_back(row);
    }

    fn wants(c: &NotifyConfig, e: &AgentEvent) -> bool {
        e.level >= c.min_level && (c.events.is_empty() || c.events.iter().any(|f| e.matches(f)))
    }

    /// Records the event and the deliveries it owes.
    async fn record(&mut self, e: AgentEvent) {
        let channels: Vec<String> = self
            .channels
            .iter()
            .filter(|c| Self::wants(c, &e))
            .map(|c| c.name.clone())
            .collect();
        let detail = match &e.code {
            Some(code) => format!("{code}: {}", e.text),
            None => e.text.clone(),
        };
        let ev = Event {
            t: e.time,
            kind: e.name.to_string(),
            detail,
        };
        if e.rides_with_telemetry() {
            if let Err(err) = self.store.event_batched(ev.t, &ev.kind, &ev.detail) {
                tracing::warn!(event = e.name, "event not recorded: {err}");
            }
            let payload = e.to_json();
            let t = now();
            for channel in channels {
                self.hold(OutboxRow {
                    id: 0,
                    event_id: 0,
                    channel,
                    level: e.level.rank(),
                    payload: payload.clone(),
                    attempts: 0,
                    next_at: t,
                    last_error: None,
                });
            }
            return;
        }
        let add = OutboxEvent {
            event: ev.clone(),
            level: e.level.rank(),
            payload: e.to_json(),
            channels,
            now: now(),
            max_rows: MAX_OUTBOX_ROWS,
        };
        match self.store.outbox_enqueue(add).await {
            Ok(a) if a.dropped > 0 => {
                Counters::add(&self.counters.notifications_dropped, a.dropped);
                tracing::warn!(
                    dropped = Counters::get(&self.counters.notifications_dropped),
                    "notification outbox full ({MAX_OUTBOX_ROWS} rows): oldest deliveries dropped"
                );
            }
            Ok(_) => {}
            Err(err) => {
                // The event still goes to the store's own retried queue; its deliveries are lost.
                tracing::warn!(
                    event = e.name,
                    "notifications for this event not queued: {err}"
                );
                if let Err(err) = self.store.event(ev.t, &ev.kind, &ev.detail) {
                    tracing::warn!(event = e.name, "event not recorded: {err}");
                }
            }
        }
    }

    /// Delivers every due row; returns when to look again. New events are recorded between
    /// deliveries, so a slow channel delays the store by one delivery at most.
    async fn deliver_due(&mut self, rx: &mut mpsc::Receiver<AgentEvent>) -> Instant {
        // Channels that failed this time: their later rows, stored or held, wait.
        let mut blocked: Vec<String> = Vec::new();
        // Each round either deletes or defers every row it reads, so this ends; the bound is a
        // guard against a store that will not delete.
        for _ in 0..64 {
            let rows = match self.store.outbox_due(now(), BATCH).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("notification outbox unreadable: {e}");
                    return Instant::now() + RECHECK;
                }
            };
            if rows.iter().all(|r| blocked.contains(&r.channel)) {
                break;
            }
            self.deliver_rows(rows, &mut blocked, rx).await;
        }
        // Then the held ones that are due (a snapshot: each is delivered or deferred once).
        let t = now();
        let due: Vec<OutboxRow> = self
            .held
            .iter()
            .filter(|r| r.next_at <= t && !blocked.contains(&r.channel))
            .cloned()
            .collect();
        self.deliver_rows(due, &mut blocked, rx).await;
        let stored = self.store.outbox_next_at().await.ok().flatten();
        let held = self.held.iter().map(|r| r.next_at).min();
        let next = match stored.into_iter().chain(held).min() {
            Some(t) => Duration::from_secs(u64::try_from(t.saturating_sub(now())).unwrap_or(0)),
            None => RECHECK,
        };
        Instant::now() + next.min(RECHECK)
    }

    /// Delivers `rows` in order, skipping channels in `blocked` and adding those that fail;
    /// events the agent emits meanwhile are recorded between deliveries.
    async fn deliver_rows(
        &mut self,
        rows: Vec<OutboxRow>,
        blocked: &mut Vec<String>,
        rx: &mut mpsc::Receiver<AgentEvent>,
    ) {
        for row in rows {
            while let Ok(e) = rx.try_recv() {
                self.record(e).await;
            }
            if blocked.contains(&row.channel) {
                continue;
            }
            if !self.deliver(&row).await {
                blocked.push(row.channel.clone());
            }
        }
    }

    /// One delivery; false when the channel failed (its later rows wait).
    async fn deliver(&mut self, row: &OutboxRow) -> bool {
        let Some(ch) = self
            .channels
            .iter()
            .find(|c| c.name == row.channel)
            .cloned()
        else {
            // The channel was removed from the config: nobody to deliver to.
            tracing::info!(channel = %row.channel, "dropping a notification for a channel no longer configured");
            self.delete(row).await;
            return true;
        };
        let msg = Message::from_json(&row.payload);
        match self.deliverer.send(&ch, &msg).await {
            Ok(answer) => {
                if let Some(i) = self.failing.iter().position(|c| *c == ch.name) {
                    self.failing.swap_remove(i);
                    tracing::info!(channel = %ch.name, "notifications delivered again");
                }
                tracing::debug!(channel = %ch.name, event = %msg.event, %answer, "notification delivered");
                self.delete(row).await;
                true
            }
            Err(DeliverError::GiveUp { cause }) => {
                tracing::warn!(channel = %ch.name, event = %msg.event, "notification dropped: {cause}");
                self.delete(row).await;
                true
            }
            Err(DeliverError::Retry { cause, retry_after }) => {
                let attempts = row.attempts.saturating_add(1);
                let wait = retry_after
                    .map(|d| {
                        i64::try_from(d.as_secs())
                            .unwrap_or(BACKOFF_CAP_SECS)
                            .clamp(1, BACKOFF_CAP_SECS)
                    })
                    .unwrap_or_else(|| backoff_secs(attempts));
                tracing::warn!(
                    channel = %ch.name, event = %msg.event, attempts,
                    "notification not delivered: {cause}; next try in {wait}s"
                );
                if !self.failing.contains(&ch.name) {
                    self.failing.push(ch.name.clone());
                }
                // +1: `now` is whole seconds, so this never retries before `wait` has passed
                // (a 429's retry_after is a promise not to come back sooner).
                let next = now().saturating_add(wait).saturating_add(1);
                if row.id < 0 {
                    if let Some(h) = self.held.iter_mut().find(|h| h.id == row.id) {
                        h.attempts = attempts;
                        h.next_at = next;
                        h.last_error = Some(cause.to_string());
                    }
                    // Later held rows of this channel wait behind it, as stored ones do.
                    for h in self.held.iter_mut().filter(|h| h.channel == ch.name) {
                        h.next_at = h.next_at.max(next);
                    }
                    return false;
                }
                if let Err(e) = self
                    .store
                    .outbox_defer(row.id, &ch.name, next, &cause)
                    .await
                {
                    tracing::warn!("notification retry not recorded: {e}");
                }
                false
            }
        }
    }

    async fn delete(&mut self, row: &OutboxRow) {
        if row.id < 0 {
            self.held.retain(|h| h.id != row.id);
            return;
        }
        if let Err(e) = self.store.outbox_delete(row.id).await {
            // It will be sent again (at-least-once), which beats losing it.
            tracing::warn!("delivered notification not removed from the outbox: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn emit_never_waits_and_counts_what_did_not_fit() {
        let (tx, mut rx) = mpsc::channel(2);
        let n = Notifier {
            tx: Some(tx),
            counters: Arc::default(),
        };
        for i in 0..5 {
            n.emit(AgentEvent::modem_back(i));
        }
        assert_eq!(n.dropped(), 3);
        assert_eq!(rx.recv().await.map(|e| e.time), Some(0));
        assert_eq!(rx.recv().await.map(|e| e.time), Some(1));
        Notifier::disabled().emit(AgentEvent::modem_back(0));
    }

    #[test]
    fn backoff_doubles_from_one_second_to_an_hour() {
        let got: Vec<i64> = (1..=4).map(backoff_secs).collect();
        assert_eq!(got, [1, 2, 4, 8]);
        assert_eq!(backoff_secs(12), 2048);
        assert_eq!(backoff_secs(13), 3600);
        assert_eq!(backoff_secs(u32::MAX), 3600);
        assert_eq!(backoff_secs(0), 1);
    }
}
