//! The digester (`at::digest`) fed a modem's byte stream in arbitrary chunks, with commands
//! begun and abandoned between chunks.
//!
//! Input: modem bytes, with three bytes taken as script instead of data (modems send them only
//! as line noise, which the framer reports as noise anyway):
//! `0x01 LINE 0x01` begins the command `LINE` (when `Command::new` accepts it), `0x02` abandons
//! the command on the wire,
//! `0x03` ends a read (a chunk boundary). After each read everything digested is popped.
//!
//! Invariants: no panic; a response keeps at most `MAX_LINES` lines of at most `MAX_LINE`
//! bytes; a joined URC stays bounded; what comes out is not larger than a small multiple of
//! what went in; and the same bytes fed one at a time give the same items in the same order
//! (unless a line starts with `>`, which the framer reads as the SMS prompt whenever a read
//! ends right after it — the one place where chunking is allowed to matter).
#![no_main]

use libfuzzer_sys::fuzz_target;
use simkeep::at::command::Command;
use simkeep::at::digest::{Digested, Digester, MAX_LINES};
use simkeep::at::framer::MAX_LINE;

/// A `+CUSD:` joined across lines is cut past 2048 bytes, so at most that plus one line.
const MAX_URC: usize = 2048 + MAX_LINE + 1;

enum Op<'a> {
    Read(&'a [u8]),
    Begin(&'a [u8]),
    Abandon,
}

fn flush<'a>(ops: &mut Vec<Op<'a>>, data: &'a [u8], s: usize, e: usize) {
    if e > s {
        ops.push(Op::Read(&data[s..e]));
    }
}

fn script(data: &[u8]) -> Vec<Op<'_>> {
    let mut ops = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            1 => {
                flush(&mut ops, data, start, i);
                let line = &data[i + 1..];
                let end = line.iter().position(|&b| b == 1).unwrap_or(line.len());
                ops.push(Op::Begin(&line[..end]));
                i += end + 2;
                start = i;
            }
            2 => {
                flush(&mut ops, data, start, i);
                ops.push(Op::Abandon);
                i += 1;
                start = i;
            }
            3 => {
                flush(&mut ops, data, start, i);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    flush(&mut ops, data, start.min(data.len()), data.len());
    ops
}

fn run(ops: &[Op<'_>], bytewise: bool) -> Vec<Digested> {
    let mut d = Digester::new();
    let mut out = Vec::new();
    let drain = |d: &mut Digester, out: &mut Vec<Digested>| {
        while let Some(item) = d.pop() {
            out.push(item);
        }
    };
    for op in ops {
        match op {
            Op::Read(bytes) if bytewise => {
                for b in bytes.iter() {
                    d.push(std::slice::from_ref(b));
                    drain(&mut d, &mut out);
                }
            }
            Op::Read(bytes) => {
                d.push(bytes);
                drain(&mut d, &mut out);
            }
            Op::Begin(line) => {
                // Only what the engine could have sent: `Command::new` refuses the rest.
                if let Ok(cmd) = Command::new(String::from_utf8_lossy(line)) {
                    d.begin(cmd);
                }
            }
            Op::Abandon => d.abandon(),
        }
    }
    out
}

fn size(item: &Digested) -> usize {
    match item {
        Digested::Done { lines, .. } => lines.iter().map(String::len).sum(),
        Digested::Urc(u) => u.line.len() + u.pdu.as_ref().map_or(0, String::len),
        Digested::LateFinal(l) | Digested::Noise(l) => l.len(),
        Digested::Prompt | Digested::UnexpectedPrompt => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let ops = script(data);
    let items = run(&ops, false);
    let mut total = 0usize;
    for item in &items {
        match item {
            Digested::Done { lines, .. } => {
                assert!(lines.len() <= MAX_LINES, "{} reply lines kept", lines.len());
                for l in lines {
                    assert!(l.len() <= MAX_LINE, "reply line of {} bytes", l.len());
                }
            }
            Digested::Urc(u) => {
                assert!(u.line.len() <= MAX_URC, "URC of {} bytes", u.line.len());
                assert!(u.pdu.as_ref().map_or(0, String::len) <= MAX_LINE);
            }
            _ => {}
        }
        total += size(item);
    }
    // Noise is escaped (a byte becomes at most `\xNN`), and each cut reply adds one message.
    let budget = 4 * data.len() + 128 * (items.len() + 1);
    assert!(total <= budget, "{total} bytes out of {} in", data.len());

    if !data.contains(&b'>') {
        let bytewise = run(&ops, true);
        assert_eq!(items, bytewise, "chunking changed what was digested");
    }
});
