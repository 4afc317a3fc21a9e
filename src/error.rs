//! The error every command and the daemon end with: one line for the user that names the thing
//! and the cause, and an exit code by kind of failure. It sits below `agent`, `api` and `cli` so
//! that all three can return it without importing each other.

use std::fmt;

use crate::at::AtError;
use crate::config::ConfigError;
use crate::sms::SmsError;
use crate::ussd::UssdError;

/// Exit codes by kind of failure, so scripts can tell a bad config from a dead modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 1: anything else.
    Failure = 1,
    /// 2: bad command line or config.
    Config = 2,
    /// 3: the modem answered with an error.
    ModemRefused = 3,
    /// 4: the modem could not be reached or did not answer.
    Unreachable = 4,
}

/// An error for the user: one line.
#[derive(Debug)]
pub struct AppError {
    pub kind: ExitKind,
    pub message: String,
}

impl AppError {
    pub fn new(kind: ExitKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.kind as i32
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        AppError::new(ExitKind::Config, e.to_string())
    }
}

impl From<AtError> for AppError {
    fn from(e: AtError) -> Self {
        let kind = if e.is_modem_refusal() {
            ExitKind::ModemRefused
        } else if matches!(e, AtError::Invalid(_)) {
            ExitKind::Config
        } else {
            ExitKind::Unreachable
        };
        let message = match e {
            // A one-shot command does not keep retrying: say only why it failed.
            AtError::NotConnected { cause, .. } => cause,
            other => other.to_string(),
        };
        AppError::new(kind, message)
    }
}

impl From<SmsError> for AppError {
    fn from(e: SmsError) -> Self {
        let kind = match &e {
            SmsError::Invalid(_) | SmsError::Encode { .. } | SmsError::TextModeTooLong { .. } => {
                ExitKind::Config
            }
            SmsError::Refused { .. } => ExitKind::ModemRefused,
            SmsError::At(at) => return AppError::from(at.clone()),
            _ => ExitKind::Failure,
        };
        AppError::new(kind, e.to_string())
    }
}

impl From<UssdError> for AppError {
    fn from(e: UssdError) -> Self {
        let kind = match &e {
            UssdError::Invalid(_) | UssdError::Closed { .. } => ExitKind::Config,
            UssdError::NotSupported { .. } | UssdError::Refused { .. } => ExitKind::ModemRefused,
            UssdError::At(at) => return AppError::from(at.clone()),
            _ => ExitKind::Failure,
        };
        AppError::new(kind, e.to_string())
    }
}
