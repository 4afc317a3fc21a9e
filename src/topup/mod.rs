//! Automatic top-ups: when the SIM runs low, buy more data the way the owner would (a USSD menu, an
//! SMS keyword, a carrier HTTPS API), within the budget the owner set, never paying twice.
//!
//! This module holds the pure parts: exact money ([`money`]), whether the wall clock can be
//! trusted for date-dependent decisions ([`clock`]), and the decision itself ([`policy`]).
//! Must not: do I/O in `money` or `policy` (time and state are passed in), or use floating point
//! for money.

pub mod clock;
pub mod ledger;
pub mod menu;
pub mod money;
pub mod policy;
pub mod runner;

#[cfg(test)]
mod policy_tests;

pub use clock::{evaluate as evaluate_clock, ClockStatus};
pub use money::{Money, MoneyError};
pub use policy::{
    decide, AttemptState, Decision, LedgerView, ManualRequest, Now, PolicyInput, UsageView,
};
