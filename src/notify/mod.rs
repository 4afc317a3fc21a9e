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
