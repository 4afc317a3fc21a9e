//! The simulated modem's SMS memory: 10 slots, like a typical SIM (modem-quirks.md §12:
//! `+CPMS: ...,"SM",10,10`), read and written with the TS 27.005 §3.5 commands in PDU mode
//! (`AT+CMGF=0`) and text mode (`AT+CMGF=1`).
//!
//! Pure state; answers are lines for the framework. It must not decide when messages arrive
//! (the carrier does) and never panics on a bad index.

use crate::codec::{decode_pdu_hex, SmsPdu};

/// Slots in the simulated SIM storage.
pub const CAPACITY: usize = 10;

/// TS 27.005 §3.1 `<stat>` in PDU mode: 0 received unread, 1 received read, 2 stored unsent,
/// 3 stored sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Unread = 0,
    Read = 1,
    Unsent = 2,
    Sent = 3,
}

impl Stat {
    fn text(self) -> &'static str {
        match self {
            Stat::Unread => "REC UNREAD",
            Stat::Read => "REC READ",
            Stat::Unsent => "STO UNSENT",
            Stat::Sent => "STO SENT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub stat: Stat,
    pub pdu: String,
    pub tpdu_len: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// Index 1..=10 maps to `slots[index - 1]`.
    slots: Vec<Option<Stored>>,
}

impl Storage {
    pub fn new() -> Self {
        Storage {
            slots: vec![None; CAPACITY],
        }
    }

    pub fn used(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    pub fn is_full(&self) -> bool {
        self.used() >= CAPACITY
    }

    /// Stores a message in the lowest free slot; its 1-based index, or `None` when full.
    pub fn put(&mut self, stored: Stored) -> Option<usize> {
        let i = self.slots.iter().position(Option::is_none)?;
        *self.slots.get_mut(i)? = Some(stored);
        Some(i + 1)
    }

    fn slot(&mut self, index: u32) -> Option<&mut Option<Stored>> {
        let i = usize::try_from(index).ok()?.checked_sub(1)?;
        self.slots.get_mut(i)
    }

    /// `AT+CPMS?` / `AT+CPMS=` counts: `<used>,<total>` three times.
    pub fn counts(&self) -> String {
        let (u, t) = (self.used(), CAPACITY);
        format!("{u},{t},{u},{t},{u},{t}")
    }

    /// `AT+CMGR=<index>` (TS 27.005 §3.4.3): reading marks a received message read.
    pub fn read(&mut self, index: u32, text_mode: bool) -> Result<Vec<String>, u16> {
        // 321: invalid memory index (TS 27.005 §3.2.5).
        let slot = self.slot(index).ok_or(321u16)?;
        let m = slot.as_mut().ok_or(321u16)?;
        let before = m.stat;
        if m.stat == Stat::Unread {
            m.stat = Stat::Read;
        }
        Ok(if text_mode {
            let (peer, body) = text_of(&m.pdu);
            vec![
                format!(
                    "+CMGR: \"{}\",\"{peer}\",,\"26/11/27,00:00:00+36\"",
                    before.text()
                ),
                body,
            ]
        } else {
            vec![
                format!("+CMGR: {},,{}", before as u8, m.tpdu_len),
                m.pdu.clone(),
            ]
        })
    }

    /// `AT+CMGL=<stat>` (TS 27.005 §3.4.2): `4`/`"ALL"` lists everything; listing marks read.
    pub fn list(&mut self, arg: &str, text_mode: bool) -> Result<Vec<String>, u16> {
        let want = parse_list_stat(arg)?;
        let mut lines = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(m) = slot else { continue };
            if want.is_some_and(|w| w != m.stat) {
                continue;
            }
            let before = m.stat;
            if m.stat == Stat::Unread {
                m.stat = Stat::Read;
            }
            let index = i + 1;
            if text_mode {
                let (peer, body) = text_of(&m.pdu);
                lines.push(format!(
                    "+CMGL: {index},\"{}\",\"{peer}\",,\"26/11/27,00:00:00+36\"",
                    before.text()
                ));
                lines.push(body);
            } else {
                // No <alpha> field, as most modems print it (modem-quirks.md §11).
                lines.push(format!("+CMGL: {index},{},,{}", before as u8, m.tpdu_len));
                lines.push(m.pdu.clone());
            }
        }
        Ok(lines)
    }

    /// `AT+CMGD=<index>[,<delflag>]` (TS 27.005 §3.5.4). Deleting an empty slot is fine, as on
    /// real modems; an index outside the memory is error 321.
    pub fn delete(&mut self, index: u32, flag: u8) -> Result<(), u16> {
        if flag == 4 {
            self.slots.iter_mut().for_each(|s| *s = None);
            return Ok(());
        }
        let slot = self.slot(index).ok_or(321u16)?;
        *slot = None;
        Ok(())
    }
}

fn parse_list_stat(arg: &str) -> Result<Option<Stat>, u16> {
    let a = arg.trim().trim_matches('"').to_ascii_uppercase();
    Ok(match a.as_str() {
        "" | "4" | "ALL" => None,
        "0" | "REC UNREAD" => Some(Stat::Unread),
        "1" | "REC READ" => Some(Stat::Read),
        "2" | "STO UNSENT" => Some(Stat::Unsent),
        "3" | "STO SENT" => Some(Stat::Sent),
        // 302: operation not allowed (a text-mode name in PDU mode and such).
        _ => return Err(302),
    })
}

/// Sender and text of a stored PDU, for text mode (`AT+CMGF=1`).
fn text_of(pdu: &str) -> (String, String) {
    match decode_pdu_hex(pdu) {
        Ok(SmsPdu::Deliver(d)) => (d.sender, d.user_data.text),
        Ok(SmsPdu::Submit(s)) => (s.destination, s.user_data.text),
        Ok(SmsPdu::StatusReport(r)) => (r.recipient, String::new()),
        Err(_) => (String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Stored {
        Stored {
            stat: Stat::Unread,
            pdu: "00".into(),
            tpdu_len: 0,
        }
    }

    #[test]
    fn the_eleventh_message_does_not_fit() {
        let mut s = Storage::new();
        for i in 1..=10 {
            assert_eq!(s.put(msg()), Some(i));
        }
        assert!(s.is_full());
        assert_eq!(s.put(msg()), None);
        assert_eq!(s.counts(), "10,10,10,10,10,10");
    }

    #[test]
    fn a_freed_slot_is_reused_lowest_first_and_bad_indexes_are_321() {
        let mut s = Storage::new();
        for _ in 0..3 {
            s.put(msg());
        }
        assert_eq!(s.delete(2, 0), Ok(()));
        assert_eq!(s.put(msg()), Some(2));
        assert_eq!(s.delete(0, 0), Err(321));
        assert_eq!(s.delete(11, 0), Err(321));
        assert_eq!(s.read(9, false), Err(321));
    }

    #[test]
    fn reading_marks_a_message_read_and_reports_the_old_state() {
        let mut s = Storage::new();
        s.put(msg());
        assert_eq!(s.read(1, false).unwrap()[0], "+CMGR: 0,,0");
        assert_eq!(s.read(1, false).unwrap()[0], "+CMGR: 1,,0");
        assert_eq!(s.list("0", false).unwrap().len(), 0);
        assert_eq!(s.list("4", false).unwrap().len(), 2);
    }
}
