//! The command line: argument definitions ([`args`]), the dispatch ([`run`]), and one file per
//! command group with its output formatting. It talks to the running daemon through
//! `api::client`, or to the port or the store itself when no daemon runs. Nothing below imports
//! from here.

pub mod args;
pub mod config;
pub mod decode;
#[cfg(feature = "sim")]
pub mod demo;
pub mod history;
pub mod notify;
pub mod quick;
pub mod report;
pub mod run;
pub mod sms;
pub mod status;
pub mod topup;
pub mod ussd;

pub use args::{Cli, Cmd, ConfigCmd, SmsCmd, TopupCmd};
pub use run::{init_logging, run};
