//! A whole poll's replies (`modem::Replies`) read by every vendor profile: identity, SIM,
//! registration, signal and the vendor's own radio reports, plus profile detection from the
//! `AT+CGMI`/`AT+CGMM` answers.
//!
//! Input: text lines. A line starting with `AT` names the command the following lines answer
//! (filed under the declared query that reads with it; other commands are skipped);
//! an `ERROR`/`+CME ERROR`/`+CMS ERROR` line makes that command fail; `OK` is skipped; every
//! other line is a reply line. Invariant: no panic for any replies under any profile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simkeep::at::command::{parse_final, Final};
use simkeep::modem::profile::Query;
use simkeep::modem::{Profile, Replies};

/// The declared query whose read command is `line`, across every profile.
fn query_for(line: &str) -> Option<Query> {
    Profile::ALL
        .iter()
        .flat_map(|p| p.queries())
        .map(|d| d.query)
        .find(|q| q.spec().read.eq_ignore_ascii_case(line))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut replies = Replies::new();
    let mut current: Option<(Query, String, Result<Vec<String>, String>)> = None;
    let mut cgmi = String::new();
    let mut cgmm = String::new();
    for line in text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(256)
    {
        if line.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("AT")) {
            if let Some((q, _, outcome)) = current.take() {
                replies.insert(q, outcome);
            }
            current = query_for(line).map(|q| (q, line.to_string(), Ok(Vec::new())));
            continue;
        }
        let Some((_, cmd, outcome)) = current.as_mut() else {
            continue;
        };
        match parse_final(line) {
            Some(Final::Ok) => {}
            Some(_) => *outcome = Err(line.to_string()),
            None => {
                if let Ok(lines) = outcome {
                    lines.push(line.to_string());
                }
                if cmd.eq_ignore_ascii_case("AT+CGMI") {
                    cgmi = line.to_string();
                } else if cmd.eq_ignore_ascii_case("AT+CGMM") {
                    cgmm = line.to_string();
                }
            }
        }
    }
    if let Some((q, _, outcome)) = current.take() {
        replies.insert(q, outcome);
    }
    let _ = Profile::detect(&cgmi, &cgmm);
    let _ = Profile::from_config(&cgmm);
    for p in Profile::ALL {
        let _ = p.build_identity(&replies);
        let _ = p.build_sim(&replies);
        let _ = p.build_registration(&replies);
        let _ = p.build_signal(&replies);
        let _ = p.vendor_reports(&replies);
        let _ = p.build_counters(&replies);
    }
});
