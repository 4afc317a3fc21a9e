//! `simkeep at LINE`: one AT command and its answer. Through the running agent when there is
//! one (`cli::run` asks it first), else straight on the port with one blocking exchange: lock,
//! open, write the line, read until its final result code, close. No async runtime, no engine
//! task: for one command they cost more than the exchange, and `simkeep at` should be as quick
//! as sms_tool, the C tool OpenWrt ships for this (scripts/at-vs-smstool.sh).
//!
//! Only the user's line goes out (no `ATE0`/`AT+CMEE=1`): the digester skips the echo a freshly
//! powered modem still has on, and the modem's own error form is shown. Must not: send anything
//! that did not pass `Command::new`, or wait past the command's timeout.

use std::time::{Duration, Instant};

use crate::at::command::final_to_result;
use crate::at::digest::{Digested, Digester};
use crate::at::lock::PortLock;
use crate::at::port::BlockingTty;
use crate::at::{AtError, Command, EngineConfig, Response};

/// The user's line as a command, with `--timeout` seconds if given. Checked before anything
/// touches the agent or the port: a bad line is the user's mistake.
pub fn command(line: &str, timeout: Option<u64>) -> Result<Command, AtError> {
    let cmd = Command::new(line)?;
    Ok(match timeout {
        Some(t) => cmd.with_timeout(Duration::from_secs(t)),
        None => cmd,
    })
}

/// Prints the reply lines and `OK`, or the JSON object.
pub fn print(line: &str, lines: &[String], json: bool) {
    if json {
        println!("{}", serde_json::json!({ "command": line, "lines": lines }));
        return;
    }
    for l in lines {
        println!("{l}");
    }
    println!("OK");
}

/// Sends `cmd` on the port `e` names and reads its answer. The errors are the engine's, so a
/// one-shot command fails the same way whichever path it took (exit codes by kind).
pub fn exchange(e: &EngineConfig, cmd: &Command) -> Result<Response, AtError> {
    let port = e.port.display().to_string();
    let down = |cause: String| AtError::NotConnected {
        port: port.clone(),
        cause,
    };
    let _lock = match &e.lock_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|err| {
                down(format!(
                    "cannot create lock directory {}: {err}",
                    dir.display()
                ))
            })?;
            Some(PortLock::acquire(dir, &e.port).map_err(|err| down(err.to_string()))?)
        }
        None => None,
    };
    let tty = BlockingTty::open(&e.port, e.baud).map_err(|err| down(err.to_string()))?;
    talk(&tty, cmd, &port)
}

/// Write, then read until the digester has the command's final result code.
fn talk(tty: &BlockingTty, cmd: &Command, port: &str) -> Result<Response, AtError> {
    let deadline = Instant::now() + cmd.timeout();
    let lost = |cause: String| AtError::Disconnected {
        command: cmd.line().to_string(),
        port: port.to_string(),
        cause,
    };
    let mut wire = Vec::with_capacity(cmd.line().len() + 1);
    wire.extend_from_slice(cmd.line().as_bytes());
    wire.push(b'\r');
    tty.write_all(&wire, deadline)
        .map_err(|err| lost(format!("write failed: {err}")))?;
    let mut digest = Digester::new();
    digest.begin(cmd.clone());
    let mut buf = [0u8; 512];
    loop {
        while let Some(d) = digest.pop() {
            match d {
                Digested::Done { lines, result } => {
                    return final_to_result(result, cmd.line(), port).map(|()| Response { lines })
                }
                Digested::Prompt => {
                    // Body then Ctrl-Z (TS 27.005 §3.5.1); without a body, ESC cancels.
                    let mut body = Vec::new();
                    match cmd.payload() {
                        Some(p) => {
                            body.extend_from_slice(p.as_bytes());
                            body.push(0x1a);
                        }
                        None => body.push(0x1b),
                    }
                    tty.write_all(&body, deadline)
                        .map_err(|err| lost(format!("write failed: {err}")))?;
                }
                // URCs, noise and the late answer of someone else's command are not ours.
                _ => {}
            }
        }
        match tty.read(&mut buf, deadline) {
            Ok(Some(0)) => {
                return Err(lost(
                    "the port closed (modem unplugged or reset?)".to_string(),
                ))
            }
            Ok(Some(n)) => digest.push(buf.get(..n).unwrap_or_default()),
            Ok(None) => {
                return Err(AtError::Timeout {
                    command: cmd.line().to_string(),
                    after: cmd.timeout(),
                    port: port.to_string(),
                })
            }
            Err(err) => {
                return Err(lost(format!(
                    "read failed: {err} (modem unplugged or reset?)"
                )))
            }
        }
    }
}
