//! SMS over AT (TS 27.005): sending in PDU mode with a text-mode fallback ([`send`]), the inbox
//! task that moves received messages into the store before deleting them from the modem
//! ([`inbox`]). The `simkeep sms` commands live in `cli::sms`.
//!
//! PDUs are built and read by `codec`; AT lines are parsed in [`parse`]. Must not: splice message
//! text into an AT command line (it only ever travels as the payload after the `> ` prompt), or
//! delete a message from the modem before it is durably stored.

pub mod error;
pub mod inbox;
pub mod parse;
pub mod send;

pub use error::SmsError;
pub use inbox::{Inbox, InboxConfig, ReceivedSms, SmsSink};
pub use send::{send_sms, Sent};
