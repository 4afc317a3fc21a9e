//! Commands as they go on the wire, final result codes as they come back, and the errors a
//! command can end in.
//!
//! A [`Command`] is checked when it is built: no control characters and one `AT` command per
//! line, so text from HTTP, the CLI or a config file can never smuggle a `\r`, a Ctrl-Z or a
//! second command onto the serial line. Parameters (USSD codes, numbers) are validated by their
//! own builders before they get here; this is the last line of defence.

use std::fmt;
use std::time::Duration;

use super::framer::escape_text;

/// Default time a modem gets to finish a command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One AT command line (without the trailing `\r`), plus what it needs on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    line: String,
    timeout: Duration,
    /// Body sent after the `> ` prompt (SMS PDU or text), terminated by Ctrl-Z by the engine.
    payload: Option<String>,
}

impl Command {
    /// Builds a command, with the timeout real modems need for it (see [`timeout_for`]).
    pub fn new(line: impl Into<String>) -> Result<Self, InvalidCommand> {
        let line = line.into();
        check_line(&line)?;
        let timeout = timeout_for(&line);
        Ok(Self {
            line,
            timeout,
            payload: None,
        })
    }

    /// A command that expects the `> ` prompt and then `payload` (TS 27.005 `AT+CMGS`). The
    /// payload may not contain Ctrl-Z or ESC, which would end or cancel it early.
    pub fn with_payload(
        line: impl Into<String>,
        payload: impl Into<String>,
    ) -> Result<Self, InvalidCommand> {
        let mut cmd = Self::new(line)?;
        let payload = payload.into();
        if let Some(c) = payload
            .chars()
            .find(|c| matches!(c, '\u{1a}' | '\u{1b}' | '\0'))
        {
            return Err(InvalidCommand {
                line: quote_cut(&payload),
                reason: format!("the message body contains the control character {:?}", c),
            });
        }
        cmd.payload = Some(payload);
        Ok(cmd)
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn line(&self) -> &str {
        &self.line
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn payload(&self) -> Option<&str> {
        self.payload.as_deref()
    }

    /// The prefix its information lines start with: `AT+CSQ` → `+CSQ:`, `AT^HCSQ?` → `^HCSQ:`,
    /// `AT!GSTATUS?` → `!GSTATUS:`. `None` for basic commands such as `ATI`.
    pub fn reply_prefix(&self) -> Option<String> {
        reply_prefix(&self.line)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

/// See [`Command::reply_prefix`].
pub fn reply_prefix(line: &str) -> Option<String> {
    let rest = line.get(2..)?;
    let first = rest.chars().next()?;
    if !matches!(first, '+' | '^' | '$' | '!' | '%' | '*' | '#') {
        return None;
    }
    let name_len = rest
        .char_indices()
        .skip(1)
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    Some(format!("{}:", rest[..name_len].to_ascii_uppercase()))
}

/// Timeouts that real modems need (TS 27.007 leaves them to the implementation; these come
/// from the vendor manuals' "maximum response time" rows).
pub fn timeout_for(line: &str) -> Duration {
    let upper = line.to_ascii_uppercase();
    if upper.starts_with("AT+COPS=?") {
        // Quectel EC25 manual: "180 s, determined by network"; real scans take ~75 s and more.
        Duration::from_secs(180)
    } else if upper.starts_with("AT+COPS") || upper.starts_with("AT+CFUN") {
        Duration::from_secs(30)
    } else if upper.starts_with("AT+CUSD") {
        // The OK comes quickly; the answer arrives later as a +CUSD URC with its own timeout.
        Duration::from_secs(30)
    } else if upper.starts_with("AT+CMGS") || upper.starts_with("AT+CMSS") {
        Duration::from_secs(60)
    } else if upper.starts_with("AT+CMGL")
        || upper.starts_with("AT+CMGD")
        || upper.starts_with("AT+CPMS")
    {
        Duration::from_secs(15)
    } else {
        DEFAULT_TIMEOUT
    }
}

fn check_line(line: &str) -> Result<(), InvalidCommand> {
    let bad = |reason: String| InvalidCommand {
        line: quote_cut(line),
        reason,
    };
    if !line.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("AT")) {
        return Err(bad("an AT command starts with \"AT\"".into()));
    }
    if line.len() > 512 {
        return Err(bad(format!(
            "it is {} bytes long; modems accept at most 512",
            line.len()
        )));
    }
    if let Some(c) = line.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(bad(format!(
            "it contains {:?}; only printable ASCII may go on the command line",
            c
        )));
    }
    // A `;` outside quotes chains a second command (V.250 §5.2.1); we send one at a time.
    let mut in_quotes = false;
    for c in line.chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                return Err(bad(
                    "it chains commands with ';'; send one command at a time".into(),
                ))
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err(bad("it has an unterminated quoted string".into()));
    }
    Ok(())
}

/// How much of a refused line an error quotes: enough to recognise it, never a screenful (a
/// 5,000-character paste came back whole before).
const QUOTE_CHARS: usize = 60;

/// `text` escaped for a message inside double quotes (controls, `\` and `"` escaped) and cut
/// to [`QUOTE_CHARS`] characters, saying the full length when cut.
fn quote_cut(text: &str) -> String {
    let escaped = escape_text(text).replace('"', "\\\"");
    if escaped.chars().count() <= QUOTE_CHARS {
        return escaped;
    }
    let head: String = escaped.chars().take(QUOTE_CHARS).collect();
    format!("{head}…[{} characters in all]", text.chars().count())
}

/// A command line that was refused before it reached the modem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused to send \"{line}\" to the modem: {reason}")]
pub struct InvalidCommand {
    /// The line, escaped.
    pub line: String,
    pub reason: String,
}

/// How a command ended, as the modem said it (V.250 §5.7.1, TS 27.007 §9.2, TS 27.005 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    Ok,
    Error,
    /// `+CME ERROR: <n>` or `+CME ERROR: <text>` (text when `AT+CMEE=2`, or an empty text).
    Cme(ErrorCode),
    Cms(ErrorCode),
    /// `NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE`: call results.
    Call(String),
    /// Non-standard errors real modems print: `COMMAND NOT SUPPORT`, `MODEM ERROR: 5`.
    Vendor(String),
}

/// The numeric or textual code of a `+CME ERROR`/`+CMS ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    Number(u16),
    Text(String),
}

impl ErrorCode {
    pub fn number(&self) -> Option<u16> {
        match self {
            ErrorCode::Number(n) => Some(*n),
            ErrorCode::Text(_) => None,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Number(n) => match cme_meaning(*n) {
                Some(m) => write!(f, "{n} ({m})"),
                None => write!(f, "{n}"),
            },
            ErrorCode::Text(t) if t.is_empty() => f.write_str("(no text)"),
            ErrorCode::Text(t) => f.write_str(&escape_text(t)),
        }
    }
}

/// Meanings of the CME codes a user is most likely to meet (TS 27.007 §9.2.1).
fn cme_meaning(n: u16) -> Option<&'static str> {
    Some(match n {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        12 => "SIM PUK required",
        13 => "SIM failure",
        14 => "SIM busy",
        15 => "SIM wrong",
        16 => "incorrect password",
        30 => "no network service",
        50 => "incorrect parameters",
        100 => "unknown",
        _ => return None,
    })
}

/// Recognises a final result code. Everything else is an information line or a URC.
pub fn parse_final(line: &str) -> Option<Final> {
    let l = line.trim();
    match l {
        "OK" => return Some(Final::Ok),
        "ERROR" => return Some(Final::Error),
        "NO CARRIER" | "BUSY" | "NO ANSWER" | "NO DIALTONE" => {
            return Some(Final::Call(l.to_string()))
        }
        "COMMAND NOT SUPPORT" | "TOO MANY PARAMETERS" => return Some(Final::Vendor(l.to_string())),
        _ => {}
    }
    if let Some(rest) = l.strip_prefix("+CME ERROR:") {
        return Some(Final::Cme(error_code(rest)));
    }
    if let Some(rest) = l.strip_prefix("+CMS ERROR:") {
        return Some(Final::Cms(error_code(rest)));
    }
    if l.starts_with("MODEM ERROR:") {
        return Some(Final::Vendor(l.to_string()));
    }
    None
}

fn error_code(rest: &str) -> ErrorCode {
    let t = rest.trim();
    match t.parse::<u16>() {
        Ok(n) => ErrorCode::Number(n),
        Err(_) => ErrorCode::Text(t.to_string()),
    }
}

/// What a successful command returned: its information lines, without echo and without `OK`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub lines: Vec<String>,
}

impl Response {
    /// The first line starting with `prefix`, with the prefix and following spaces removed.
    pub fn value(&self, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix).map(str::trim_start))
    }
}

/// Why a command did not give a [`Response`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum AtError {
    #[error(transparent)]
    Invalid(#[from] InvalidCommand),
    #[error("modem answered {command} with ERROR on {port}")]
    Error { command: String, port: String },
    #[error("modem answered {command} with +CME ERROR: {code} on {port}")]
    Cme {
        command: String,
        code: ErrorCode,
        port: String,
    },
    #[error("modem answered {command} with +CMS ERROR: {code} on {port}")]
    Cms {
        command: String,
        code: ErrorCode,
        port: String,
    },
    #[error("modem answered {command} with {result} on {port}")]
    Other {
        command: String,
        result: String,
        port: String,
    },
    #[error("modem did not answer {command} within {}s on {port} — is another program using the port?", .after.as_secs())]
    Timeout {
        command: String,
        after: Duration,
        port: String,
    },
    #[error("modem on {port} is not connected ({cause}); simkeep keeps retrying")]
    NotConnected { port: String, cause: String },
    #[error("modem on {port} went away while {command} was running ({cause})")]
    Disconnected {
        command: String,
        port: String,
        cause: String,
    },
    #[error("the AT engine has stopped")]
    EngineStopped,
}

impl AtError {
    /// The CME code, if the modem gave one: callers act on 10 (no SIM), 14 (SIM busy) and such.
    pub fn cme(&self) -> Option<&ErrorCode> {
        match self {
            AtError::Cme { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The modem answered, but said no (as opposed to not answering at all).
    pub fn is_modem_refusal(&self) -> bool {
        matches!(
            self,
            AtError::Error { .. }
                | AtError::Cme { .. }
                | AtError::Cms { .. }
                | AtError::Other { .. }
        )
    }

    /// The final line the modem printed, for error paths that want to keep it (e.g. `Replies`).
    pub fn final_line(&self) -> String {
        match self {
            AtError::Error { .. } => "ERROR".into(),
            AtError::Cme { code, .. } => format!("+CME ERROR: {}", code_raw(code)),
            AtError::Cms { code, .. } => format!("+CMS ERROR: {}", code_raw(code)),
            AtError::Other { result, .. } => result.clone(),
            other => other.to_string(),
        }
    }
}

fn code_raw(code: &ErrorCode) -> String {
    match code {
        ErrorCode::Number(n) => n.to_string(),
        ErrorCode::Text(t) => t.clone(),
    }
}

/// Maps a final result to `Ok(())` or the matching error.
pub fn final_to_result(f: Final, command: &str, port: &str) -> Result<(), AtError> {
    let command = command.to_string();
    let port = port.to_string();
    match f {
        Final::Ok => Ok(()),
        Final::Error => Err(AtError::Error { command, port }),
        Final::Cme(code) => Err(AtError::Cme {
            command,
            code,
            port,
        }),
        Final::Cms(code) => Err(AtError::Cms {
            command,
            code,
            port,
        }),
        Final::Call(result) | Final::Vendor(result) => Err(AtError::Other {
            command,
            result,
            port,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_long_line_is_quoted_cut_and_says_its_length() {
        let long = format!("AT+{}\"\r", "X".repeat(5_000));
        let e = Command::new(long).unwrap_err().to_string();
        assert!(e.len() < 200, "{} bytes: {e}", e.len());
        assert!(e.contains("[5005 characters in all]"), "{e}");
        assert!(e.starts_with("refused to send \"AT+XXX"), "{e}");
        // A quote in the line cannot end the quoted part of the message early.
        let e = Command::new("AT+CUSD=1,\"*100#").unwrap_err().to_string();
        assert!(e.contains(r#""AT+CUSD=1,\"*100#""#), "{e}");
        let e = Command::with_payload("AT+CMGS=20", "x".repeat(300) + "\u{1a}")
            .unwrap_err()
            .to_string();
        assert!(e.len() < 250, "{e}");
    }
    use proptest::prelude::*;

    #[test]
    fn a_ussd_code_carrying_a_second_command_is_refused() {
        let err = Command::new("AT+CUSD=1,\"*100#\"\r\nAT+CFUN=0").unwrap_err();
        assert!(err.reason.contains("'\\r'"), "{err}");
        assert!(err.to_string().contains("\\r\\nAT+CFUN=0"), "{err}");
    }

    #[test]
    fn semicolon_chaining_is_refused_but_allowed_inside_quotes() {
        assert!(Command::new("AT+CSQ;+CFUN=0").is_err());
        assert!(Command::new("AT+CUSD=1,\"*100;#\",15").is_ok());
    }

    #[test]
    fn ctrl_z_in_a_payload_is_refused() {
        assert!(Command::with_payload("AT+CMGS=12", "0011\u{1a}AT+CFUN=0").is_err());
    }

    #[test]
    fn lines_not_starting_with_at_are_refused() {
        assert!(Command::new("+CSQ").is_err());
        assert!(Command::new("at+csq").is_ok());
    }

    #[test]
    fn slow_commands_get_longer_timeouts() {
        assert_eq!(
            Command::new("AT+COPS=?").unwrap().timeout(),
            Duration::from_secs(180)
        );
        assert_eq!(
            Command::new("AT+CMGS=23").unwrap().timeout(),
            Duration::from_secs(60)
        );
        assert_eq!(Command::new("AT+CSQ").unwrap().timeout(), DEFAULT_TIMEOUT);
    }

    #[test]
    fn reply_prefixes_of_vendor_commands() {
        assert_eq!(reply_prefix("AT+CSQ").as_deref(), Some("+CSQ:"));
        assert_eq!(reply_prefix("AT^HCSQ?").as_deref(), Some("^HCSQ:"));
        assert_eq!(
            reply_prefix("AT+QENG=\"servingcell\"").as_deref(),
            Some("+QENG:")
        );
        assert_eq!(reply_prefix("AT!GSTATUS?").as_deref(), Some("!GSTATUS:"));
        assert_eq!(reply_prefix("at+creg?").as_deref(), Some("+CREG:"));
        assert_eq!(reply_prefix("ATI"), None);
    }

    #[test]
    fn final_result_codes_real_modems_print() {
        assert_eq!(parse_final("OK"), Some(Final::Ok));
        assert_eq!(
            parse_final("+CME ERROR: 14"),
            Some(Final::Cme(ErrorCode::Number(14)))
        );
        assert_eq!(
            parse_final("+CME ERROR: SIM busy"),
            Some(Final::Cme(ErrorCode::Text("SIM busy".into())))
        );
        // modem-quirks.md §13: an empty CME text exists.
        assert_eq!(
            parse_final("+CME ERROR: "),
            Some(Final::Cme(ErrorCode::Text(String::new())))
        );
        assert_eq!(
            parse_final("+CMS ERROR: 500"),
            Some(Final::Cms(ErrorCode::Number(500)))
        );
        assert_eq!(
            parse_final("NO CARRIER"),
            Some(Final::Call("NO CARRIER".into()))
        );
        assert_eq!(
            parse_final("COMMAND NOT SUPPORT"),
            Some(Final::Vendor("COMMAND NOT SUPPORT".into()))
        );
        assert_eq!(
            parse_final("MODEM ERROR: 5"),
            Some(Final::Vendor("MODEM ERROR: 5".into()))
        );
        assert_eq!(parse_final("+CSQ: 20,99"), None);
        assert_eq!(parse_final("OKAY"), None);
    }

    #[test]
    fn cme_error_message_names_command_code_meaning_and_port() {
        let e = final_to_result(Final::Cme(ErrorCode::Number(14)), "AT+CIMI", "/dev/ttyUSB2")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "modem answered AT+CIMI with +CME ERROR: 14 (SIM busy) on /dev/ttyUSB2"
        );
    }

    proptest! {
        #[test]
        fn any_accepted_command_is_one_printable_line(s in "\\PC{0,40}") {
            if let Ok(c) = Command::new(format!("AT{s}")) {
                prop_assert!(c.line().chars().all(|c| (' '..='~').contains(&c)));
            }
        }

        #[test]
        fn parse_final_never_panics(s in "\\PC*") {
            let _ = parse_final(&s);
        }
    }
}
