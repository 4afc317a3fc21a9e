//! simkeep: keeps a prepaid SIM in an LTE/5G router alive.
//!
//! Layers, bottom up: `at` (bytes → frames → command results and URCs, one task owning the
//! port), `modem` (typed replies and the modem model, vendor profiles), `codec` (GSM-7, UCS2,
//! SMS PDU, USSD), then the daemon with its HTTP status port, and the CLI. `sim` is a modem
//! simulator on a pseudo-terminal for tests and demos.

pub mod accounting;
pub mod app;
pub mod at;
pub mod balance;
pub mod cli;
pub mod codec;
pub mod config;
pub mod daemon;
#[cfg(feature = "sim")]
pub mod demo;
pub mod history;
pub mod http;
pub mod modem;
pub mod report;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sms;
pub mod status;
pub mod store;
pub mod usage;
pub mod ussd;
