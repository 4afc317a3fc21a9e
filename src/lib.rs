//! simkeep: keeps a prepaid SIM in an LTE/5G router alive.
//!
//! Layers, bottom up: `at` (bytes → frames → command results and URCs, one task owning the
//! port), `modem` (typed replies and the modem model, vendor profiles), then policy and the
//! daemon. `sim` is a modem simulator on a pseudo-terminal for tests and demos.

pub mod at;
pub mod codec;
pub mod config;
#[cfg(feature = "sim")]
pub mod sim;
