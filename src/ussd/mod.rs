//! USSD (TS 27.007 §7.15, TS 22.090): sessions over AT ([`session`]). The `+CUSD:` line is
//! read in `at::urc` with the other URCs; `simkeep ussd` lives in `cli::ussd`. Encoding and decoding of the strings is `codec::ussd`.
//!
//! Must not: send a code that is not `[0-9*#+]`, or run two sessions on one modem at once.

pub mod session;

pub use session::{UssdClient, UssdError, UssdReply, UssdSession, UssdStatus};
