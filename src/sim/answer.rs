//! What a simulated modem says back to one command line: the contract between the simulator
//! framework (`sim::engine`: echo, framing, faults, lifecycle) and the pure answer functions
//! (`sim::generic` for TS 27.007 commands, `sim::vendors::*` for vendor commands).

/// The answer to one AT command line, before framing. The framework adds `\r\n` framing,
/// turns `Error` into `ERROR` or `+CME ERROR: <n>` depending on `AT+CMEE`, and appends `OK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Information lines (may be empty), followed by the final `OK`.
    Ok(Vec<String>),
    /// Information lines already framed by the vendor's own quirks (e.g. a final result the
    /// vendor prints instead of `OK`); the framework sends exactly these lines and nothing more.
    Raw(Vec<String>),
    /// A `+CME ERROR` with this numeric code (TS 27.007 §9.2), or plain `ERROR` when CMEE=0.
    CmeError(u16),
    /// Plain `ERROR`: unknown command or bad syntax.
    Error,
    /// The `> ` prompt (TS 27.005 `AT+CMGS`): the framework collects the body up to Ctrl-Z
    /// (ESC cancels) and hands it to `Carrier::payload`.
    Prompt,
}

impl Answer {
    /// A single information line followed by `OK`.
    pub fn line(text: impl Into<String>) -> Self {
        Answer::Ok(vec![text.into()])
    }
}
