//! The digester: bytes from the modem in, what they are out — the answer to the command on the
//! wire, an unsolicited result code, the SMS prompt, or noise. Pure: no I/O, no timers, no
//! channels; the engine feeds it what it reads and acts on what comes out, so every framing rule
//! is tested here chunk by chunk without a port.
//!
//! Rules it keeps (each seen on real modems; see shared/reference/modem-quirks.md):
//! - the echo of the command (still on after a modem reset) is skipped;
//! - URCs arriving inside a response (`+CMTI` between `+CEREG:` and `OK`) go out as URCs, not as
//!   reply lines; a line is a reply line only when it carries the command's own prefix;
//! - a `+CMT:`/`+CDS:` header and the PDU line after it are one URC;
//! - a `+CUSD:` whose quoted text spans lines is joined until its quotes balance (capped);
//! - a final result code with no command on the wire (the `OK` of a command that timed out) is
//!   reported as late and is no URC — except `NO CARRIER`, which modems also send unsolicited.
//!
//! Must not: block, allocate in proportion to garbage (the framer bounds lines, a response
//! keeps at most `MAX_LINES` lines), or lose the order of what the modem said.

use std::collections::VecDeque;

use super::command::{parse_final, Command, Final};
use super::framer::{Frame, Framer};
use super::urc::{self, Urc};

/// Reply lines kept for one response; a modem that spews more without a final code is cut.
pub const MAX_LINES: usize = 1024;
/// A `+CUSD:` text joined across lines is cut at this many bytes.
const MAX_JOINED: usize = 2048;

/// What the bytes amounted to, one item at a time, in the order the modem sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Digested {
    /// The command on the wire finished: its reply lines and final result code.
    Done { lines: Vec<String>, result: Final },
    /// The modem asks for the SMS body (`> `) for the command on the wire.
    Prompt,
    /// An unsolicited result code.
    Urc(Urc),
    /// A final result code with no command on the wire.
    LateFinal(String),
    /// A `> ` prompt with no command on the wire.
    UnexpectedPrompt,
    /// Bytes that were no usable line (escaped for the log).
    Noise(String),
}

/// The command on the wire and what it has answered so far.
#[derive(Debug)]
struct Pending {
    cmd: Command,
    lines: Vec<String>,
    cut: bool,
}

/// Bytes → [`Digested`]. See the module comment for the rules.
#[derive(Debug, Default)]
pub struct Digester {
    framer: Framer,
    frames: VecDeque<Frame>,
    pending: Option<Pending>,
    /// A `+CMT:`/`+CDS:` header whose PDU line comes next.
    pdu_header: Option<String>,
    /// A `+CUSD:` whose quoted text continues on the next line.
    partial_urc: Option<String>,
}

impl Digester {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes as read from the port, in any chunking.
    pub fn push(&mut self, bytes: &[u8]) {
        let mut out = Vec::new();
        self.framer.push(bytes, &mut out);
        self.frames.extend(out);
    }

    /// `cmd` has just been written: the lines that follow answer it.
    pub fn begin(&mut self, cmd: Command) {
        self.pending = Some(Pending {
            cmd,
            lines: Vec::new(),
            cut: false,
        });
    }

    /// The command on the wire was given up (timeout, port lost): its final code, should it
    /// still come, is late.
    pub fn abandon(&mut self) {
        self.pending = None;
    }

    /// True while a command waits for its final result code.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// The next thing the modem said, or `None` until more bytes are pushed.
    pub fn pop(&mut self) -> Option<Digested> {
        loop {
            let line = match self.frames.pop_front()? {
                Frame::Line(l) => l,
                Frame::Prompt if self.pending.is_some() => return Some(Digested::Prompt),
                Frame::Prompt => return Some(Digested::UnexpectedPrompt),
                Frame::Noise(n) => return Some(Digested::Noise(n)),
            };
            match self.continuation(&line) {
                Some(Some(done)) => return Some(Digested::Urc(done)),
                Some(None) => continue,
                None => {}
            }
            let Some(p) = self.pending.as_mut() else {
                // A stray final code (e.g. OK to a command that already timed out) is no URC.
                if parse_final(&line).is_some() && line != "NO CARRIER" {
                    return Some(Digested::LateFinal(line));
                }
                match self.urc_line(line) {
                    Some(u) => return Some(Digested::Urc(u)),
                    None => continue,
                }
            };
            if p.lines.is_empty() && line.eq_ignore_ascii_case(p.cmd.line()) {
                continue; // echo (still on after a modem reset)
            }
            if let Some(result) = parse_final(&line) {
                let lines = self.pending.take().map(|p| p.lines).unwrap_or_default();
                return Some(Digested::Done { lines, result });
            }
            if urc::is_unsolicited(&line, Some(&p.cmd)) {
                match self.urc_line(line) {
                    Some(u) => return Some(Digested::Urc(u)),
                    None => continue,
                }
            }
            if p.lines.len() < MAX_LINES {
                p.lines.push(line);
            } else if !p.cut {
                p.cut = true;
                return Some(Digested::Noise(format!(
                    "reply to {} longer than {MAX_LINES} lines; the rest is dropped",
                    p.cmd.line()
                )));
            }
        }
    }

    /// Lines that belong to a URC already started: the PDU after `+CMT:`, or the rest of a
    /// `+CUSD:` whose quoted text spans lines. `Some(Some(urc))` completes one, `Some(None)`
    /// took the line and waits for more, `None` is not a continuation.
    fn continuation(&mut self, line: &str) -> Option<Option<Urc>> {
        if let Some(header) = self.pdu_header.take() {
            return Some(Some(Urc::new(header, Some(line.to_string()))));
        }
        let mut partial = self.partial_urc.take()?;
        partial.push('\n');
        partial.push_str(line);
        if quotes_balanced(&partial) || partial.len() > MAX_JOINED {
            return Some(Some(Urc::new(partial, None)));
        }
        self.partial_urc = Some(partial);
        Some(None)
    }

    /// A line that is a URC: whole, or the start of one that continues.
    fn urc_line(&mut self, line: String) -> Option<Urc> {
        let spec = urc::lookup(&line);
        if spec.is_some_and(|s| s.pdu) {
            self.pdu_header = Some(line);
            return None;
        }
        if spec.is_some_and(|s| s.code == urc::Code::Cusd) && !quotes_balanced(&line) {
            self.partial_urc = Some(line);
            return None;
        }
        Some(Urc::with_spec(line, None, spec))
    }
}

fn quotes_balanced(s: &str) -> bool {
    s.chars().filter(|&c| c == '"').count() % 2 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        Command::new(line).unwrap()
    }

    /// Everything `bytes` amount to with `line` on the wire, fed in the given chunks.
    fn digest(line: Option<&str>, chunks: &[&[u8]]) -> Vec<Digested> {
        let mut d = Digester::new();
        if let Some(l) = line {
            d.begin(cmd(l));
        }
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            while let Some(x) = d.pop() {
                out.push(x);
            }
        }
        out
    }

    fn urc(line: &str) -> Digested {
        Digested::Urc(Urc::new(line, None))
    }

    fn done(lines: &[&str]) -> Digested {
        Digested::Done {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            result: Final::Ok,
        }
    }

    #[test]
    fn echo_is_skipped_and_the_answer_collected() {
        let out = digest(Some("AT+CSQ"), &[b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"]);
        assert_eq!(out, vec![done(&["+CSQ: 20,99"])]);
    }

    #[test]
    fn a_urc_inside_a_response_is_a_urc() {
        // Quectel RM500Q: +CMTI between +CEREG and OK (modem-quirks.md §13).
        let out = digest(
            Some("AT+CEREG?"),
            &[b"\r\n+CEREG: 2,1,\"1A2D\",\"1A2D001\",7\r\n\r\n+CMTI: \"SM\",3\r\n\r\nOK\r\n"],
        );
        assert_eq!(
            out,
            vec![
                urc("+CMTI: \"SM\",3"),
                done(&["+CEREG: 2,1,\"1A2D\",\"1A2D001\",7"])
            ]
        );
    }

    #[test]
    fn a_cusd_spanning_lines_is_joined_and_a_cmt_takes_its_pdu() {
        let out = digest(
            None,
            &[b"\r\n+CUSD: 1,\"Balance: 5 EUR\r\n1. Buy 1GB\r\n2. Exit\",15\r\n\r\n+CMT: ,24\r\n0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B\r\n"],
        );
        assert_eq!(
            out,
            vec![
                urc("+CUSD: 1,\"Balance: 5 EUR\n1. Buy 1GB\n2. Exit\",15"),
                Digested::Urc(Urc::new(
                    "+CMT: ,24",
                    Some(
                        "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B"
                            .into()
                    ),
                )),
            ]
        );
    }

    #[test]
    fn a_late_final_is_no_urc_but_no_carrier_is() {
        let out = digest(None, &[b"\r\nOK\r\n\r\nNO CARRIER\r\n\r\nRDY\r\n"]);
        assert_eq!(
            out,
            vec![
                Digested::LateFinal("OK".into()),
                urc("NO CARRIER"),
                urc("RDY")
            ]
        );
        assert!(Urc::new("RDY", None).is_restart());
    }

    #[test]
    fn an_abandoned_command_leaves_its_final_late() {
        let mut d = Digester::new();
        d.begin(cmd("AT+COPS=?"));
        d.push(b"\r\n+COPS: (1,\"A\",\"A\",\"00101\",7)");
        assert_eq!(d.pop(), None);
        d.abandon();
        d.push(b"\r\n\r\nOK\r\n");
        assert_eq!(d.pop(), Some(urc("+COPS: (1,\"A\",\"A\",\"00101\",7)")));
        assert_eq!(d.pop(), Some(Digested::LateFinal("OK".into())));
    }

    #[test]
    fn the_sms_prompt_belongs_to_the_command_on_the_wire() {
        let out = digest(Some("AT+CMGS=23"), &[b"\r\n> "]);
        assert_eq!(out, vec![Digested::Prompt]);
        let out = digest(None, &[b"\r\n> "]);
        assert_eq!(out, vec![Digested::UnexpectedPrompt]);
    }

    #[test]
    fn a_runaway_response_is_cut() {
        let mut d = Digester::new();
        d.begin(cmd("AT+CSQ"));
        for _ in 0..(MAX_LINES + 10) {
            d.push(b"+CSQ: 1,1\r\n");
        }
        d.push(b"OK\r\n");
        let mut out = Vec::new();
        while let Some(x) = d.pop() {
            out.push(x);
        }
        assert!(
            matches!(out.first(), Some(Digested::Noise(_))),
            "{:?}",
            out.first()
        );
        match out.last() {
            Some(Digested::Done { lines, .. }) => assert_eq!(lines.len(), MAX_LINES),
            other => panic!("{other:?}"),
        }
    }

    /// The golden transcripts (real modem output, tests/transcripts/): each exchange.
    fn transcripts() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for text in [
            include_str!("../../tests/transcripts/quectel/rm500q-nsa.at"),
            include_str!("../../tests/transcripts/huawei/e3372-lte.at"),
            include_str!("../../tests/transcripts/simcom/sim7600-lte.at"),
        ] {
            for line in text.lines() {
                if let Some(c) = line.strip_prefix("> ") {
                    out.push((c.to_string(), Vec::new()));
                } else if let (Some(bytes), Some(last)) = (line.strip_prefix("< "), out.last_mut())
                {
                    let unescaped = bytes.replace("\\r", "\r").replace("\\n", "\n");
                    last.1.extend_from_slice(unescaped.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn every_split_of_every_golden_transcript_digests_the_same() {
        let all = transcripts();
        assert!(all.len() > 20, "{} exchanges", all.len());
        for (line, reply) in all {
            let whole = digest(Some(&line), &[&reply]);
            assert!(
                matches!(whole.last(), Some(Digested::Done { .. })),
                "{line}: {whole:?}"
            );
            for cut in 0..=reply.len() {
                let (a, b) = reply.split_at(cut);
                assert_eq!(digest(Some(&line), &[a, b]), whole, "{line} split at {cut}");
            }
            // One byte at a time, too.
            let bytes: Vec<&[u8]> = reply.chunks(1).collect();
            assert_eq!(digest(Some(&line), &bytes), whole, "{line} byte by byte");
        }
    }

    #[test]
    fn random_chunking_and_interleaved_urcs_change_nothing() {
        use proptest::prelude::*;
        let all = transcripts();
        let urcs: [&[u8]; 4] = [
            b"\r\n+CMTI: \"SM\",3\r\n",
            b"\r\n^RSSI: 17\r\n",
            b"\r\n+QIND: \"csq\",20,99\r\n",
            b"\r\n+CUSD: 0,\"a\r\nb\",15\r\n",
        ];
        proptest!(ProptestConfig::with_cases(200), |(
            pick in 0..all.len(),
            cuts in proptest::collection::vec(1usize..40, 1..20),
            before in 0usize..4,
        )| {
            let (line, reply) = &all[pick];
            // A URC before the answer arrives, then the answer in random pieces.
            let mut stream = urcs[before].to_vec();
            stream.extend_from_slice(reply);
            let whole = digest(Some(line), &[&stream]);
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut rest: &[u8] = &stream;
            for c in cuts {
                if rest.is_empty() { break; }
                let (a, b) = rest.split_at(c.min(rest.len()));
                chunks.push(a);
                rest = b;
            }
            chunks.push(rest);
            prop_assert_eq!(digest(Some(line), &chunks), whole.clone());
            let ends_done = matches!(whole.last(), Some(Digested::Done { .. }));
            let starts_urc = matches!(whole.first(), Some(Digested::Urc(_)));
            prop_assert!(ends_done, "ends with the answer: {:?}", whole);
            prop_assert!(starts_urc, "starts with the URC: {:?}", whole);
        });
    }
}
