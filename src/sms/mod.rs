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

/// A sender matches a number by its trailing digits (`+8610086` ~ `10086`) and a name
/// ("Vodacom") case-insensitively, also inside a longer name ("VODACOM-TZ").
pub fn sender_matches(sender: &str, wanted: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (a, b) = (digits(sender), digits(wanted));
    if !b.is_empty() && b.len() == wanted.trim_start_matches('+').len() {
        let n = a.len().min(b.len()).min(9);
        return n > 0 && a.len() >= n && a[a.len() - n..] == b[b.len() - n..];
    }
    sender.to_lowercase().contains(&wanted.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_match_by_number_tail_or_by_name() {
        assert!(sender_matches("+8610086", "10086"));
        assert!(sender_matches("10086", "10086"));
        assert!(!sender_matches("10010", "10086"));
        assert!(sender_matches("Vodacom", "Vodacom"));
        assert!(sender_matches("VODACOM-TZ", "vodacom"));
        assert!(!sender_matches("M-Pesa", "Vodacom"));
        assert!(sender_matches("1234", "1234"));
        assert!(sender_matches("+819012345678", "09012345678"));
        assert!(!sender_matches("1234", "5678"));
        assert!(!sender_matches("SimCarrier", "1234"));
    }
}
