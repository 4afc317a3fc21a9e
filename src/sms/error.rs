//! Errors of the SMS layer. Variants carry the number, part, code or line that failed.

use crate::at::AtError;
use crate::codec::{PduError, ValidateError};

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error(transparent)]
    Invalid(#[from] ValidateError),
    #[error("cannot encode the message to {number}: {source}")]
    Encode { number: String, source: PduError },
    #[error("the modem only sends in text mode, which carries one part: the text has {chars} characters, at most {max} fit — shorten it")]
    TextModeTooLong { chars: usize, max: usize },
    #[error("the network or modem refused part {part} of {total} to {number}: +CMS ERROR: {text} ({})", super::parse::cms_meaning(code.unwrap_or(500)))]
    Refused {
        number: String,
        part: usize,
        total: usize,
        code: Option<u16>,
        text: String,
    },
    #[error("modem answered {command} without a +CMGS message reference (lines: {lines:?})")]
    NoReference { command: String, lines: Vec<String> },
    #[error("no message at index {index} in the modem storage")]
    NoMessage { index: u32 },
    #[error("message {index} in the modem storage is not a readable PDU: {source}")]
    BadPdu { index: u32, source: PduError },
    #[error("could not store a received message: {0}")]
    Store(String),
    #[error(transparent)]
    At(#[from] AtError),
}

impl From<crate::at::command::InvalidCommand> for SmsError {
    fn from(e: crate::at::command::InvalidCommand) -> Self {
        SmsError::At(AtError::Invalid(e))
    }
}
