//! Concatenated SMS (TS 23.040 §9.2.3.24.1): splitting outgoing text into parts, and putting
//! received parts back together.
//!
//! Pure: time comes in as `i64` unix seconds; memory is bounded by a cap on pending groups.
//! Splitting never cuts a GSM-7 escape pair or a UTF-16 surrogate pair (both would turn into
//! garbage on the handset).

use super::dcs::Alphabet;
use super::gsm7::{self, Gsm7Error};
use super::userdata::ConcatInfo;

/// Septets in a single GSM-7 message (140 octets × 8 / 7).
pub const GSM7_SINGLE: usize = 160;
/// Septets per part once a 6-octet concatenation header (7 septets with fill) takes its room.
pub const GSM7_PER_PART: usize = 153;
/// UTF-16 units in a single UCS2 message (140 octets / 2).
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 units per part after the 6-octet header ((140 - 6) / 2).
pub const UCS2_PER_PART: usize = 67;

/// GSM-7 when every character fits and UCS2 is not forced, UCS2 otherwise.
pub fn choose_alphabet(text: &str, force_ucs2: bool) -> Alphabet {
    if !force_ucs2 && gsm7::is_gsm7(text) {
        Alphabet::Gsm7
    } else {
        Alphabet::Ucs2
    }
}

/// Splits text into the parts to send in `alphabet` (GSM-7 or UCS2; 8-bit is treated as UCS2).
/// Always returns at least one part (an empty text gives one empty part).
pub fn split_text(text: &str, alphabet: Alphabet) -> Result<Vec<String>, Gsm7Error> {
    let cost = |index: usize, c: char| -> Result<usize, Gsm7Error> {
        match alphabet {
            Alphabet::Gsm7 => gsm7::char_septets(c)
                .map(|(_, n)| n)
                .ok_or(Gsm7Error { ch: c, index }),
            _ => Ok(c.len_utf16()),
        }
    };
    let (single, per_part) = match alphabet {
        Alphabet::Gsm7 => (GSM7_SINGLE, GSM7_PER_PART),
        _ => (UCS2_SINGLE, UCS2_PER_PART),
    };
    let mut total = 0usize;
    for (i, c) in text.chars().enumerate() {
        total = total.saturating_add(cost(i, c)?);
    }
    if total <= single {
        return Ok(vec![text.to_string()]);
    }
    let mut parts = Vec::with_capacity(total / per_part + 1);
    let mut current = String::new();
    let mut used = 0usize;
    for (i, c) in text.chars().enumerate() {
        let n = cost(i, c)?;
        // A whole character moves to the next part rather than being cut in two.
        if used.saturating_add(n) > per_part {
            parts.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(c);
        used = used.saturating_add(n);
    }
    parts.push(current);
    Ok(parts)
}

/// One received message or part, as the reassembler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub sender: String,
    /// `None` for a message that is not concatenated.
    pub concat: Option<ConcatInfo>,
    pub text: String,
    /// Service-centre time stamp (unix seconds).
    pub timestamp: i64,
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    pub sender: String,
    pub text: String,
    /// Earliest time stamp among its parts.
    pub timestamp: i64,
    pub parts: u8,
}

/// A message whose parts stopped coming; `text` has a marker where each missing part belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    pub sender: String,
    pub reference: u16,
    pub total: u8,
    /// Missing part numbers, ascending.
    pub missing: Vec<u8>,
    pub text: String,
    pub timestamp: i64,
}

/// The marker put into an incomplete message in place of a part that never came.
pub fn missing_marker(seq: u8, total: u8) -> String {
    format!("[part {seq}/{total} missing]")
}

#[derive(Debug)]
struct Group {
    sender: String,
    reference: u16,
    total: u8,
    parts: Vec<Option<String>>,
    timestamp: i64,
    last_seen: i64,
}

impl Group {
    fn into_incomplete(self) -> Incomplete {
        let mut missing = Vec::new();
        let mut text = String::new();
        for (seq, part) in (1..=self.total).zip(self.parts) {
            match part {
                Some(t) => text.push_str(&t),
                None => {
                    missing.push(seq);
                    text.push_str(&missing_marker(seq, self.total));
                }
            }
        }
        Incomplete {
            sender: self.sender,
            reference: self.reference,
            total: self.total,
            missing,
            text,
            timestamp: self.timestamp,
        }
    }
}

/// Collects parts keyed by (sender, reference, total). Out-of-order and duplicate parts are
/// fine (the first copy of a part wins); groups that stop growing are handed back by `expire`.
/// At most `max_groups` groups are pending: a new group beyond that evicts the one idle longest,
/// which the next `expire` call returns with the others.
#[derive(Debug)]
pub struct Reassembler {
    groups: Vec<Group>,
    evicted: Vec<Incomplete>,
    max_groups: usize,
}

impl Reassembler {
    /// `max_groups` below 1 is taken as 1.
    pub fn new(max_groups: usize) -> Self {
        Reassembler {
            groups: Vec::new(),
            evicted: Vec::new(),
            max_groups: max_groups.max(1),
        }
    }

    /// Number of groups waiting for parts.
    pub fn pending(&self) -> usize {
        self.groups.len()
    }

    /// Adds a part; returns the message once every part is there (at once for a single part).
    pub fn push(&mut self, part: Part, now: i64) -> Option<Complete> {
        let Some(c) = part
            .concat
            .filter(|c| c.total > 1 && c.seq >= 1 && c.seq <= c.total)
        else {
            return Some(Complete {
                sender: part.sender,
                text: part.text,
                timestamp: part.timestamp,
                parts: 1,
            });
        };
        let pos = self.groups.iter().position(|g| {
            g.reference == c.reference && g.total == c.total && g.sender == part.sender
        });
        let idx = match pos {
            Some(i) => i,
            None => self.open_group(&part.sender, c, part.timestamp, now),
        };
        let group = self.groups.get_mut(idx)?;
        group.last_seen = now;
        group.timestamp = group.timestamp.min(part.timestamp);
        if let Some(slot @ None) = group.parts.get_mut(usize::from(c.seq - 1)) {
            *slot = Some(part.text);
        }
        if group.parts.iter().any(Option::is_none) {
            return None;
        }
        let g = self.groups.swap_remove(idx);
        let text: String = g.parts.into_iter().flatten().collect();
        Some(Complete {
            sender: g.sender,
            text,
            timestamp: g.timestamp,
            parts: g.total,
        })
    }

    fn open_group(&mut self, sender: &str, c: ConcatInfo, timestamp: i64, now: i64) -> usize {
        if self.groups.len() >= self.max_groups {
            let oldest = self
                .groups
                .iter()
                .enumerate()
                .min_by_key(|(_, g)| g.last_seen)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                let g = self.groups.swap_remove(i);
                self.evicted.push(g.into_incomplete());
                if self.evicted.len() > self.max_groups {
                    self.evicted.remove(0);
                }
            }
        }
        self.groups.push(Group {
            sender: sender.to_string(),
            reference: c.reference,
            total: c.total,
            parts: vec![None; usize::from(c.total)],
            timestamp,
            last_seen: now,
        });
        self.groups.len() - 1
    }

    /// Hands back groups that got no new part for `timeout_secs`, plus any evicted for room.
    pub fn expire(&mut self, now: i64, timeout_secs: i64) -> Vec<Incomplete> {
        let mut out = std::mem::take(&mut self.evicted);
        let mut i = 0;
        while let Some(g) = self.groups.get(i) {
            if now.saturating_sub(g.last_seen) >= timeout_secs {
                out.push(self.groups.swap_remove(i).into_incomplete());
            } else {
                i += 1;
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "concat_tests.rs"]
mod tests;
