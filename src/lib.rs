//! simkeep: keeps a prepaid SIM in an LTE/5G router alive.
//!
//! Layers, bottom up: `at` (bytes → frames → command results and URCs, one task owning the
//! port), `modem` (typed replies and the modem model, vendor profiles), `codec` (GSM-7, UCS2,
//! SMS PDU, USSD), `sms`/`ussd` (sessions over AT), `usage` (counters, cycles, carrier replies),
//! `store` (SQLite). Above them three rooms that never import each other upward: `agent` (the
//! daemon), `api` (its HTTP server and the client the CLI uses), `cli` (the commands); `error`
//! sits below all three. `sim` is a modem simulator on a pseudo-terminal for tests and demos.

pub mod agent;
pub mod api;
pub mod at;
pub mod carrier_api;
pub mod cli;
pub mod codec;
pub mod config;
pub mod error;
pub mod modem;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod notify;
pub mod secrets;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sms;
pub mod store;
pub mod task;
pub mod template;
pub mod topup;
pub mod usage;
pub mod ussd;
