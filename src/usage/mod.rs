//! Usage accounting: how much data the SIM has left, as the carrier counts it and as the router
//! counts it, per billing cycle in the carrier's time zone, with a forecast of when it runs out.
//!
//! Must not: do I/O (except `counters::read_iface_counters`, two sysfs files), use tokio or
//! tracing, or read the clock — time comes in as `i64` unix seconds. Everything here is pure so
//! the daemon, the CLI and the tests share it.
//!
//! Map: `units` (sizes), `fold` + `carrier` (the carrier's reply), `counters` (local counters),
//! `civil` + `tz` + `tzdata` + `cycle` (billing cycles), `forecast` (burn rate), `plan` (config →
//! plan), `estimator` (combining it all per SIM).

pub mod carrier;
#[cfg(test)]
mod carrier_real_tests;
pub mod civil;
pub mod counters;
pub mod cycle;
pub mod estimator;
pub mod fold;
pub mod forecast;
pub mod plan;
pub mod tz;
pub mod tzdata;
pub mod tzfile;
pub mod units;

pub use carrier::{CarrierError, CarrierReading, CarrierRules, DecimalMark, RuleError};
pub use counters::{read_iface_counters, CounterTracker, IfaceCounters, Traffic, TrafficTracker};
pub use cycle::{cycle_bounds, Cycle};
pub use estimator::{Estimator, EstimatorConfig, Source, UsageReport, UsageState};
pub use fold::fold_compat;
pub use forecast::BurnWindow;
pub use plan::{Plan, PlanError, RawPlan, RawTime};
pub use tz::{TimeZone, TzError};
pub use units::{format_size, parse_size, UnitBase};
