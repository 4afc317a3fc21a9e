//! The one-shot `simkeep --port P at LINE` without clap. Building clap's whole command tree
//! (every subcommand, argument and help text) is most of the instructions such a run executes
//! (1.1 M of 1.5 M on x86_64 musl), which made it slower than sms_tool, the C tool OpenWrt
//! scripts call in a loop. This recognises only that command's plain shape; anything else —
//! another option, `--help`, a line starting with `-`, a second line — returns `None` and goes
//! to clap as before, so the accepted language and every message stay clap's.

use std::ffi::OsString;
use std::path::PathBuf;

use super::args::{Cli, Cmd, DEFAULT_CONFIG};

/// `argv` (program name first) as a [`Cli`], when it is `[--port P] [--lock-dir D]
/// [--config C] at [--json] [--timeout N] LINE` in any order clap would also accept; else
/// `None`.
pub fn quick_at(argv: &[OsString]) -> Option<Cli> {
    let mut args = argv.iter().skip(1).map(|a| a.to_str());
    let mut port = None;
    let mut lock_dir = None;
    let mut config = None;
    let mut seen_at = false;
    let mut json = false;
    let mut timeout = None;
    let mut line: Option<String> = None;
    while let Some(a) = args.next() {
        let a = a?;
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (a, None),
        };
        // Clap refuses an empty value for any of these options ("a value is required").
        let mut value = || -> Option<String> {
            let v = match inline {
                Some(v) => v.to_string(),
                None => args.next()??.to_string(),
            };
            (!v.is_empty()).then_some(v)
        };
        match name {
            "--port" | "-p" => set_once(&mut port, value()?)?,
            "--lock-dir" => set_once(&mut lock_dir, value()?)?,
            "--config" | "-c" => set_once(&mut config, value()?)?,
            "--json" if seen_at && inline.is_none() && !json => json = true,
            "--timeout" if seen_at => set_once(&mut timeout, value()?.parse::<u64>().ok()?)?,
            "at" if !seen_at && inline.is_none() => seen_at = true,
            _ if seen_at && line.is_none() && !a.starts_with('-') && !a.is_empty() => {
                line = Some(a.to_string())
            }
            _ => return None,
        }
    }
    if !seen_at {
        return None;
    }
    Some(Cli {
        config: PathBuf::from(config.unwrap_or_else(|| DEFAULT_CONFIG.to_string())),
        port: port.map(PathBuf::from),
        lock_dir: lock_dir.map(PathBuf::from),
        verbose: 0,
        quiet: false,
        command: Cmd::At {
            command: line?,
            timeout,
            json,
        },
    })
}

fn set_once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    if slot.is_some() {
        return None; // clap decides what a repeated option means
    }
    *slot = Some(v);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn argv(s: &[&str]) -> Vec<OsString> {
        std::iter::once("simkeep")
            .chain(s.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// Whatever the quick path accepts, clap reads the same way.
    #[test]
    fn what_the_quick_path_takes_clap_reads_the_same() {
        for s in [
            &["--port", "/dev/ttyUSB2", "at", "AT+CSQ"][..],
            &["-p", "/dev/ttyUSB2", "at", "AT+CSQ"],
            &[
                "--port=/dev/ttyUSB2",
                "--lock-dir",
                "/var/lock",
                "at",
                "AT+CSQ",
            ],
            &["at", "--port", "/dev/ttyUSB2", "AT+QENG=\"servingcell\""],
            &[
                "--port",
                "/dev/ttyUSB2",
                "at",
                "--json",
                "--timeout",
                "5",
                "AT+COPS=?",
            ],
            &["--port", "/dev/ttyUSB2", "at", "AT+CSQ", "--timeout=9"],
            &["-c", "/tmp/c.toml", "at", "ATI"],
            &["at", "AT"],
        ] {
            let quick = quick_at(&argv(s)).unwrap_or_else(|| panic!("{s:?} not taken"));
            let clap = Cli::try_parse_from(argv(s)).unwrap();
            assert_eq!(format!("{quick:?}"), format!("{clap:?}"), "{s:?}");
        }
    }

    /// Anything else goes to clap, which owns help, errors and every other command.
    #[test]
    fn anything_else_goes_to_clap() {
        for s in [
            &["--port", "/dev/ttyUSB2", "info"][..],
            &["--port", "/dev/ttyUSB2", "at"],
            &["--port", "/dev/ttyUSB2", "at", "--help"],
            &["--port", "/dev/ttyUSB2", "at", "AT+CSQ", "AT+CREG?"],
            &["-v", "--port", "/dev/ttyUSB2", "at", "AT+CSQ"],
            &[
                "--port",
                "/dev/ttyUSB2",
                "--port",
                "/dev/ttyUSB3",
                "at",
                "AT",
            ],
            &["--port", "/dev/ttyUSB2", "at", "--timeout", "soon", "AT"],
            &["--port", "/dev/ttyUSB2", "at", "-AT"],
            &["--port", "", "at", "AT"],
            &["--port=", "at", "AT"],
            &["--port", "/dev/ttyUSB2", "--lock-dir", "", "at", "AT"],
            &["-c", "", "--port", "/dev/ttyUSB2", "at", "AT"],
            &["--port"],
            &["decode", "at", "+CSQ: 1,2"],
            &[],
        ] {
            assert!(quick_at(&argv(s)).is_none(), "{s:?} taken");
        }
    }
}
