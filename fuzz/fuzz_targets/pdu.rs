//! SMS PDU decoding (`codec::pdu`) and reassembly (`codec::concat`).
//!
//! Input: the raw octets (decoded with and without an SMSC prefix) and, read as text, one PDU
//! in hex per line as `+CMGL`/`+CMT` print them; the parts that decode are fed to a reassembler
//! (a few groups, parts out of order, duplicates, time moving on). Text that is valid UTF-8 is
//! also sent through `encode_submit` and must decode and reassemble to the same text.
//! Invariants: no panic; the reassembler holds at most its group cap; the round trip is exact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simkeep::codec::{
    decode_pdu, decode_pdu_hex, decode_tpdu, encode_submit, Part, Reassembler, SmsPdu,
    SubmitOptions,
};

const MAX_GROUPS: usize = 4;

fn touch(p: &SmsPdu) {
    let _ = (p.text(), p.concat());
    if let SmsPdu::StatusReport(s) = p {
        let _ = s.outcome();
    }
    if let SmsPdu::Submit(s) = p {
        let _ = s.validity.duration_secs();
    }
}

fn round_trip(text: &str, force_ucs2: bool) {
    let opts = SubmitOptions {
        concat_reference: 7,
        force_ucs2,
        ..SubmitOptions::default()
    };
    let Ok(parts) = encode_submit("+4917012345678", text, &opts) else {
        return; // too long for 255 parts: refused, not a bug
    };
    let mut r = Reassembler::new(MAX_GROUPS);
    let mut done = Vec::new();
    for p in &parts {
        assert_eq!(p.hex.len(), (p.tpdu_len + 1) * 2, "length byte vs hex");
        let decoded = match decode_pdu_hex(&p.hex) {
            Ok(SmsPdu::Submit(s)) => s,
            other => panic!("our own SUBMIT {} decoded as {other:?}", p.hex),
        };
        done.extend(r.push(
            Part {
                sender: decoded.destination,
                concat: decoded.user_data.concat,
                text: decoded.user_data.text,
                timestamp: 0,
            },
            0,
        ));
    }
    let got = done.first().map(|c| c.text.as_str());
    assert_eq!(
        got,
        Some(text),
        "encode → decode → reassemble changed the text"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = decode_pdu(data) {
        touch(&p);
    }
    if let Ok(p) = decode_tpdu(data) {
        touch(&p);
    }
    let text = String::from_utf8_lossy(data);
    let mut r = Reassembler::new(MAX_GROUPS);
    for (now, line) in text.lines().take(32).enumerate() {
        let now = now as i64 * 60;
        let _ = simkeep::cli::decode::decode_pdu_json(line);
        let Ok(p) = decode_pdu_hex(line) else {
            continue;
        };
        touch(&p);
        let sender = match &p {
            SmsPdu::Deliver(d) => d.sender.clone(),
            SmsPdu::Submit(s) => s.destination.clone(),
            SmsPdu::StatusReport(s) => s.recipient.clone(),
        };
        let part = Part {
            sender,
            concat: p.concat(),
            text: p.text().to_string(),
            timestamp: now,
        };
        let _ = r.push(part, now);
        assert!(r.pending() <= MAX_GROUPS, "{} groups held", r.pending());
        let _ = r.expire(now, 120);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if s.len() <= 2048 {
            round_trip(s, false);
            round_trip(s, true);
        }
    }
});
