//! Notifications: the agent's typed events ([`event`]) recorded in the store and delivered to
//! the owner's channels (`[[notify]]`: Telegram, ntfy, webhook, SMS, a local program) through a
//! persistent outbox ([`outbox`]) with retries, by [`deliver`] over the project's own HTTP client.
//!
//! The agent holds a [`Notifier`] and only ever calls `emit` (a `try_send`); everything else
//! happens in the one delivery task. It must not: slow the agent, lose an accepted delivery to
//! a restart, or put a token in a log line or an error.

pub mod deliver;
pub mod event;
pub mod http;
pub mod outbox;

pub use deliver::{DeliverError, Deliverer, Message};
pub use event::{AgentEvent, Level};
pub use outbox::{start, Notifier, NotifyTask};

/// What the agent keeps: the handle it emits on, and the task it stops at shutdown.
pub struct Notifications {
    pub notifier: Notifier,
    task: NotifyTask,
}

impl Notifications {
    /// Starts the delivery task for `cfg.notify`. `at` sends the SMS channels' messages.
    pub fn start(
        cfg: &crate::config::Config,
        store: &crate::store::StoreHandle,
        secrets: crate::secrets::Secrets,
        at: Option<crate::at::AtClient>,
        counters: std::sync::Arc<crate::agent::status::Counters>,
    ) -> Notifications {
        // Only SMS channels need the modem; without one the task holds no AT client.
        let needs_at = cfg
            .notify
            .iter()
            .any(|c| matches!(c.kind, crate::config::NotifyKind::Sms { .. }));
        let at = if needs_at { at } else { None };
        let deliverer = Deliverer::new(secrets, at, Some(store.clone()));
        let (notifier, task) = start(cfg.notify.clone(), store.clone(), deliverer, counters);
        Notifications { notifier, task }
    }

    /// Stops the task (it may hold an AT client, which keeps the engine alive).
    pub async fn stop(self) {
        self.task.stop().await;
    }
}
