//! Bytes → frames: the pure half of the AT layer.
//!
//! Modems frame their output with `\r\n`, but real ones also send `\r\r\n` (SIMCom), bare `\n`,
//! the SMS prompt `> ` with no line ending at all, NULs after a USB reset and non-UTF-8 line
//! noise. The framer turns whatever arrives, in whatever chunks, into [`Frame`]s. It does no I/O
//! and never decides what a line *means* — that is the engine's job (response vs URC).

/// Longest line we keep; longer runs (a modem spewing binary) are reported as noise.
pub const MAX_LINE: usize = 4096;

/// One unit of modem output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete, non-empty text line without its line ending.
    Line(String),
    /// The `> ` prompt that asks for an SMS body (TS 27.005 §3.5.1), sent without a line ending.
    Prompt,
    /// Bytes that were not a usable line (invalid UTF-8, control characters, overlong). The text
    /// is escaped for logging.
    Noise(String),
}

/// Incremental line splitter. Feed it reads with [`Framer::push`].
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk of bytes and appends every frame it completes to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Frame>) {
        for &b in bytes {
            match b {
                b'\r' | b'\n' => self.end_line(out),
                // NUL shows up after USB resets and on noisy lines: drop it silently.
                0 => {}
                _ => {
                    if self.buf.len() >= MAX_LINE {
                        out.push(Frame::Noise(format!(
                            "line longer than {MAX_LINE} bytes dropped: {}…",
                            escape_bytes(&self.buf[..64])
                        )));
                        self.buf.clear();
                    }
                    self.buf.push(b);
                }
            }
        }
        // The prompt is the only frame that is not terminated by a line ending.
        if self.buf == b"> " || self.buf == b">" {
            self.buf.clear();
            out.push(Frame::Prompt);
        }
    }

    /// Drops any half-received line (after a reconnect the old bytes mean nothing).
    pub fn reset(&mut self) {
        self.buf.clear();
    }

    fn end_line(&mut self, out: &mut Vec<Frame>) {
        if self.buf.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut self.buf);
        out.extend(classify_line(raw));
    }
}

fn classify_line(raw: Vec<u8>) -> Option<Frame> {
    let frame = match String::from_utf8(raw) {
        Ok(text) => {
            let trimmed = text.trim();
            if trimmed.is_empty() {
                // e.g. the space of a `> ` prompt that arrived after its `>`.
                return None;
            }
            // Replies are printable text; control characters mean line noise (or a baud
            // mismatch), which we must not hand to a parser as if it were a reply.
            if trimmed.chars().any(|c| c.is_control() && c != '\t') {
                return Some(Frame::Noise(escape_bytes(trimmed.as_bytes())));
            }
            Frame::Line(trimmed.to_string())
        }
        Err(e) => Frame::Noise(escape_bytes(e.as_bytes())),
    };
    Some(frame)
}

/// Escapes bytes for a log line or an error message: printable ASCII stays, the rest is `\xNN`
/// (or `\r`, `\n`), so control characters from a modem never reach a terminal raw.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// [`escape_bytes`] for text: non-ASCII printable characters are kept (operator names, CJK).
pub fn escape_text(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' => s.push_str("\\r"),
            '\n' => s.push_str("\\n"),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => s.push_str(&format!("\\x{:02x}", c as u32)),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut f = Framer::new();
        let mut out = Vec::new();
        f.push(input, &mut out);
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.to_string())
    }

    #[test]
    fn final_ok_and_urc_in_one_read_are_two_lines() {
        // modem-quirks.md §13: `\r\nOK\r\n\r\n+CMTI: "ME",1\r\n` arrives in one read.
        assert_eq!(
            frames(b"\r\nOK\r\n\r\n+CMTI: \"ME\",1\r\n"),
            vec![line("OK"), line("+CMTI: \"ME\",1")]
        );
    }

    #[test]
    fn simcom_double_carriage_return_is_one_line_ending() {
        assert_eq!(
            frames(b"\r\r\n+CSQ: 20,99\r\r\n\r\r\nOK\r\r\n"),
            vec![line("+CSQ: 20,99"), line("OK")]
        );
    }

    #[test]
    fn sms_prompt_without_line_ending_is_a_prompt() {
        assert_eq!(frames(b"\r\n> "), vec![Frame::Prompt]);
    }

    #[test]
    fn echo_line_ends_with_bare_carriage_return() {
        assert_eq!(
            frames(b"AT+CSQ\r\r\n+CSQ: 99,99\r\n\r\nOK\r\n"),
            vec![line("AT+CSQ"), line("+CSQ: 99,99"), line("OK")]
        );
    }

    #[test]
    fn invalid_utf8_and_control_bytes_become_noise_not_lines() {
        let out = frames(b"\xff\xfe\x01garbage\r\nOK\r\n");
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[0], Frame::Noise(n) if n.contains("\\xff")));
        assert_eq!(out[1], line("OK"));
    }

    #[test]
    fn nul_bytes_are_dropped() {
        assert_eq!(frames(b"\0\0O\0K\r\n"), vec![line("OK")]);
    }

    #[test]
    fn overlong_line_is_reported_as_noise_and_framing_recovers() {
        let mut input = vec![b'A'; MAX_LINE + 10];
        input.extend_from_slice(b"\r\nOK\r\n");
        let out = frames(&input);
        assert!(matches!(&out[0], Frame::Noise(_)));
        assert_eq!(out.last(), Some(&line("OK")));
    }

    #[test]
    fn utf8_operator_name_survives() {
        assert_eq!(
            frames("+COPS: 0,0,\"ドコモ\",7\r\n".as_bytes()),
            vec![line("+COPS: 0,0,\"ドコモ\",7")]
        );
    }

    #[test]
    fn escape_bytes_shows_control_characters() {
        assert_eq!(
            escape_bytes(b"\"\r\nAT+CFUN=0\x1a"),
            "\"\\r\\nAT+CFUN=0\\x1a"
        );
    }

    proptest! {
        #[test]
        fn any_split_of_a_transcript_gives_the_same_frames(split in 0usize..60) {
            let input: &[u8] = b"\r\n+CREG: 2,1,\"8BE3\",\"2BAF\"\r\n\r\n+CSQ: 20,99\r\r\n\r\nOK\r\n> ";
            let split = split.min(input.len());
            let mut f = Framer::new();
            let mut out = Vec::new();
            f.push(&input[..split], &mut out);
            f.push(&input[split..], &mut out);
            // Byte-at-a-time must agree too.
            let mut g = Framer::new();
            let mut one = Vec::new();
            for b in input { g.push(std::slice::from_ref(b), &mut one); }
            prop_assert_eq!(&out, &frames(input));
            prop_assert_eq!(&one, &frames(input));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut f = Framer::new();
            let mut out = Vec::new();
            f.push(&bytes, &mut out);
            for fr in out {
                if let Frame::Line(l) = fr { prop_assert!(!l.contains('\r') && !l.contains('\n')); }
            }
        }
    }
}
