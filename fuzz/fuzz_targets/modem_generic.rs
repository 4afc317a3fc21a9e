//! The generic (TS 27.007) reply parsers in `modem::generic`, the URC typing in `modem::urc`
//! and `at::urc`, final result codes, and the SMS and USSD line parsers, fed arbitrary reply
//! lines. Invariant: every parser returns a value or an error; none panics. `decode at` (the
//! CLI's dispatcher over the same parsers) must refuse or answer, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simkeep::at::command::{parse_final, Command};
use simkeep::modem::generic as g;

/// Lines as the driver hands them to a parser: split, trimmed, empties dropped.
fn lines(text: &str) -> Vec<String> {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .take(64)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = lines(&text);
    let _ = simkeep::cli::decode::decode_at_json(&lines);
    let _ = g::parse_imei(&lines);
    let _ = g::parse_imsi(&lines);
    let _ = g::iccid_text(&lines);
    let _ = g::parse_iccid(&lines);
    let _ = g::parse_cnum(&lines);
    let _ = g::parse_info_text(&lines, "+CGMI");
    let _ = simkeep::sms::parse::parse_cmgl(&lines);
    let _ = simkeep::sms::parse::parse_cmgr(&lines);
    for prefix in ["+CSQ", "+CESQ", "+COPS", "+CREG"] {
        let _ = g::first_line(&lines, prefix, "fuzz");
    }
    let pending = Command::new("AT+CEREG?").ok();
    let set = Command::new("AT+CUSD=1,\"*100#\",15").ok();
    for line in &lines {
        let l = line.as_str();
        let _ = g::parse_cpin(l);
        let _ = g::sim_state_from_error(l);
        let _ = g::normalise_iccid(l, l);
        let _ = g::unswap_iccid(l);
        let _ = g::parse_operator_id(l);
        if let Ok(c) = g::parse_cops(l) {
            let _ = (c.tech(), c.numeric(), c.name());
        }
        let _ = g::decode_ucs2_hex(l);
        if let Ok(r) = g::parse_reg_answer(l) {
            let _ = r.tech();
        }
        if let Ok(r) = g::parse_reg_urc(l) {
            let _ = r.tech();
        }
        let _ = g::parse_csq(l);
        let _ = g::parse_cesq(l);
        let _ = simkeep::modem::urc::classify(l);
        let _ = simkeep::at::urc::Urc::new(l, None).is_noise();
        let _ = simkeep::at::urc::is_unsolicited(l, None);
        let _ = simkeep::at::urc::is_unsolicited(l, pending.as_ref());
        let _ = simkeep::at::urc::is_unsolicited(l, set.as_ref());
        let _ = simkeep::at::urc::has_pdu_line(l);
        let _ = parse_final(l);
        let _ = simkeep::at::command::reply_prefix(l);
        let _ = simkeep::at::command::timeout_for(l);
        let _ = Command::new(l);
        let _ = simkeep::sms::parse::parse_cmgs(l);
        let _ = simkeep::sms::parse::parse_cpms(l);
        let _ = simkeep::at::urc::parse_cusd(l);
        let _ = simkeep::modem::model::home_network(l);
    }
});
