//! TEMPORARY STUB by the lead (interface only); the helper doing issue 4 replaces this file.
//! The virtual carrier behind the simulated modem: balance, USSD menus, short-code SMS, and the
//! modem's SMS storage.
use std::time::Duration;

use super::answer::Answer;
use super::radio::Radio;
use super::vendors::Personality;

/// What the carrier says to one command: the immediate answer, plus URC lines to send later.
pub struct Reply {
    pub answer: Answer,
    pub later: Vec<(Duration, String)>,
}

#[derive(Debug, Default)]
pub struct Carrier {}

impl Carrier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles SMS/USSD/storage commands; `None` = not a carrier command.
    pub fn command(&mut self, _p: Personality, _radio: &mut Radio, _cmd: &str) -> Option<Reply> {
        None
    }

    /// The body typed after the `> ` prompt that `cmd` (AT+CMGS=…) opened.
    pub fn payload(&mut self, _p: Personality, _radio: &mut Radio, _cmd: &str, _body: &str) -> Reply {
        Reply { answer: Answer::Error, later: vec![] }
    }

    /// Test/CLI control: `Err(None)` = unknown key; `Ok(urcs)` may schedule URCs (a new SMS).
    pub fn set(&mut self, _key: &str, _value: &str) -> Result<Vec<(Duration, String)>, Option<String>> {
        Err(None)
    }
}
