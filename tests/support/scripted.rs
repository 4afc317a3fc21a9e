//! A scripted modem on a real pty: answers each command line with the exact bytes a real modem
//! printed (from a transcript file), `ERROR` for anything the transcript does not have. Unlike
//! the simulator it has no model behind it, so real-world framing (`\r\r\n`, URCs mid-response,
//! missing spaces) reaches the engine byte for byte.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A parsed transcript: `> COMMAND` lines, each followed by `< BYTES` lines (with `\r`, `\n`
/// escapes) that are the modem's reply, and `= key.path value` expectations.
pub struct Transcript {
    pub replies: HashMap<String, Vec<u8>>,
    pub expect: Vec<(String, String)>,
}

pub fn load(path: &Path) -> Transcript {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut replies: HashMap<String, Vec<u8>> = HashMap::new();
    let mut expect = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("> ") {
            current = Some(cmd.to_string());
            replies.entry(cmd.to_string()).or_default();
        } else if let Some(bytes) = line.strip_prefix("< ") {
            let cmd = current
                .clone()
                .unwrap_or_else(|| panic!("reply before any command in {}", path.display()));
            replies.entry(cmd).or_default().extend(unescape(bytes));
        } else if let Some(e) = line.strip_prefix("= ") {
            let (k, v) = e.split_once(' ').unwrap_or((e, ""));
            expect.push((k.to_string(), v.trim().to_string()));
        }
    }
    Transcript { replies, expect }
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('\\') => out.push(b'\\'),
            Some(other) => panic!("unknown escape \\{other}"),
            None => out.push(b'\\'),
        }
    }
    out
}

/// Serves `t` on a new pty in a thread; returns the slave's path. Echo is off (as after `ATE0`);
/// `ATE0`, `AT+CMEE=1` and `AT` answer `OK` unless the transcript says otherwise.
pub fn serve(t: Transcript) -> PathBuf {
    let (master, slave, path) = simkeep::at::port::open_pty().expect("pty");
    let mut io = std::fs::File::from(master);
    std::thread::spawn(move || {
        let _keep_slave_open = slave;
        let mut line = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = match io.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                if b != b'\r' {
                    line.push(b);
                    continue;
                }
                let cmd = String::from_utf8_lossy(&line).trim().to_string();
                line.clear();
                let reply = match t.replies.get(&cmd) {
                    Some(r) => r.clone(),
                    None if ["ATE0", "AT+CMEE=1", "AT"].contains(&cmd.as_str())
                        || cmd.starts_with("AT+CREG=")
                        || cmd.starts_with("AT+CEREG=")
                        || cmd.starts_with("AT+C5GREG=")
                        || cmd.starts_with("AT+CGREG=")
                        || cmd.starts_with("AT+COPS=3")
                        || cmd.starts_with("AT^CURC") =>
                    {
                        b"\r\nOK\r\n".to_vec()
                    }
                    None => b"\r\nERROR\r\n".to_vec(),
                };
                if io.write_all(&reply).is_err() {
                    return;
                }
            }
        }
    });
    path
}
