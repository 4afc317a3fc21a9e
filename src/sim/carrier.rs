//! The virtual carrier behind the simulated modem, and the modem's SMS side: a data balance in
//! MB that it sells more of like real carriers do, USSD codes and menus, SMS services, replies
//! in English, Chinese or Japanese, and a 10-message SIM storage that fills up like a real one
//! (`+CMS ERROR: 322`, messages held at the network until a slot frees).
//!
//! The framework (`sim::engine`) calls [`Carrier::command`] for every command line before the
//! vendor personality; this file answers the TS 27.005 SMS commands (`+CMGF +CMGS +CMGW +CMGR
//! +CMGL +CMGD +CPMS +CNMI +CSMP +CSCA`) and `+CUSD`, and returns `None` for the rest. URCs that
//! come later (`+CUSD:` after `OK`, `+CMTI:`/`+CMT:` when a reply SMS arrives) go back in
//! [`Reply::later`]. Pure: no I/O, no clock — the engine passes the elapsed time in with
//! [`Carrier::advance`] (delayed credits land by it); SMS time stamps count up from a fixed day.
//!
//! What it sells (every completed purchase is counted as a charge, see `check_charges`):
//! - USSD `*149*01#`: Vodacom-Tanzania-style menu (`vodacom.rs`), English whatever `lang=`:
//!   main menu (…"4. Internet"…) → Internet ("1. Daily", "2. Weekly", "3. Monthly", …,
//!   "10. Next", "00 back") → Monthly ("1. Kasi/30 Days", "2. Tsh 10000 = 4920MB",
//!   "3. Tsh 20000 = 9800MB", "4. Tsh 35000 = 17240MB", "5. Tsh 50000 = 24600MB/60days",
//!   "00 back", "99 Main") → "Tsh 10000 = 4920MB\nPay with:" ("1. M-Pesa", "2. Airtime",
//!   "00 back") → Airtime: `You have received 4920MB valid for 30 days. Tsh 10000 has been
//!   deducted from your airtime. You will receive an SMS confirmation.` (session ends), then
//!   with the credit an SMS from `Vodacom`: `Dear Customer, you have successfully purchased
//!   4920MB Internet bundle for Tsh 10000, valid until 27/12/2026 23:59. Dial *149*01# to buy
//!   more.` M-Pesa charges nothing (it waits for a phone prompt that never comes).
//! - SMS `KTLL1G` to `10086` (China Mobile style, `keywords.rs`): 1GB for CNY 10; receipt from
//!   10086 per `lang=` (zh `…您已成功订购10元1GB流量加油包…`, ja `…1GBデータ追加のご購入が
//!   完了しました…`, en `10086: You have successfully subscribed to the 1GB data add-on…`);
//!   `CXLL` to 10086 answers the data left.
//! - The old SimCarrier products, credited at once: `*123*1#`/`*123*2#`, the `*123#` menu,
//!   `BUY 1GB`/`BUY 5GB` to 1234 (`BAL` → balance); `*100#` → balance.
//!
//! Control keys for [`Carrier::set`] (tests, and `set KEY=VALUE` on `simkeep sim`'s stdin):
//! - `balance_mb=500` sets the balance outright (no warning SMS); `lang=en|zh|ja`;
//!   `deliver_sms=<sender>|<text>`; `reply_order=reverse|in`; `lose_part=<n>` (part n of the
//!   next long message never arrives); `pdu=off|on` (PDU mode refused); `sms_error=<cms code>`
//!   (the next send fails); `ussd_urc=before|after` (the `+CUSD:` before or after `OK`).
//! - `ussd=silent|error|normal`: silent answers `OK` and never the `+CUSD:`; error refuses every
//!   USSD request with `+CME ERROR: 100` (plain `ERROR` without `AT+CMEE=1`) — nothing sent,
//!   nothing charged; `AT+CUSD=2` (cancel) still answers `OK`.
//! - `menu_order=normal|reverse|shuffle`: the order (and numbering) of the `*149*01#` items in
//!   the sessions opened from now on; shuffle gives each session its own order.
//! - `funds=insufficient|ok`: purchases are refused and charge nothing (USSD
//!   `Sorry, you have insufficient airtime balance…` plus an SMS from `Vodacom` `…could not be
//!   completed due to insufficient balance…`; 10086: zh `…余额不足…订购失败…`, ja `…残高不足…`,
//!   en `10086: Sorry, insufficient balance…`).
//! - `credit=never|normal`: purchases are charged and confirmed, receipts and all, but the
//!   balance never rises (the Proximus case, carriers.md §2.4).
//! - `credit_delay_ms=<n>` (default 300): how long after a `*149*01#` or `KTLL1G` purchase the
//!   bundle reaches the balance; its receipt SMS comes then too. The old products ignore it.
//! - `reply=lost|normal`: a purchase is charged and credited but its answer never comes (no
//!   USSD confirmation, no receipt SMS): the charged-but-no-reply case.
//! - `drain_mb=<n>`: traffic uses n MB (not below 0); each warning mark crossed on the way down
//!   sends its SMS once (until the balance is back above the mark).
//! - `warn_at_mb=500,100,0` (the default) | `off`: the marks. Texts: en from `SimCarrier`
//!   `SimCarrier: Less than 500MB of data left on your plan…` / `SimCarrier: You have used all
//!   your data…`; zh from 10086 `…流量剩余不足500MB…` / `…套餐内流量已用完…`; ja from
//!   `SimCarrier` `…データ残量が500MBを下回りました…` / `…今月のデータ容量を使い切りました…`.
//! - Checks (the answer is an error saying what was found instead): `check_received=<text>`
//!   (the carrier got this whole message), `check_stored=<n>` (messages in the modem storage),
//!   `check_charges=<n>` (exactly n purchases were charged; the error lists them),
//!   `check_balance_mb=<n>` (the balance now, credits landed so far).

mod deliver;
mod keywords;
pub mod receipts;
pub mod shop;
mod storage;
pub mod texts;
mod ussd;
pub mod vodacom;

use std::collections::VecDeque;
use std::time::Duration;

use super::answer::Answer;
use super::generic::norm;
use super::radio::Radio;
use super::vendors::Personality;
use crate::codec::{decode_pdu_hex, encode_submit, Part, Reassembler, SmsPdu, SubmitOptions};
use shop::{Shop, WarningTexts};
use storage::{Stat, Storage, Stored};
pub use texts::{Lang, SENDER_NAME, SHORT_CODE};
use ussd::UssdService;
use vodacom::MenuOrder;

/// What the carrier says to one command: the immediate answer, plus URC lines to send later.
pub struct Reply {
    pub answer: Answer,
    pub later: Vec<(Duration, String)>,
}

impl Reply {
    fn now(answer: Answer) -> Reply {
        Reply {
            answer,
            later: Vec::new(),
        }
    }
}

/// How long the network takes to answer a USSD request or deliver a reply SMS.
const USSD_DELAY: Duration = Duration::from_millis(80);
const SMS_DELAY: Duration = Duration::from_millis(150);
/// Gap between the parts of one delivered message.
const PART_GAP: Duration = Duration::from_millis(40);

/// TS 27.005 `+CNMI` `<mt>` after power-up: 1 = store and announce with `+CMTI` (Quectel's
/// default `2,1,0,0,0`).
const DEFAULT_MT: u8 = 1;

/// `ussd=`: how the modem treats USSD requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UssdMode {
    Normal,
    /// `OK`, then never a `+CUSD:`.
    Silent,
    /// `+CME ERROR: 100`: the request never leaves the modem.
    Error,
}

/// The low-data warnings in the carrier's language.
struct Warnings(Lang);

impl WarningTexts for Warnings {
    fn warning(&self, mark: u64) -> (String, String) {
        receipts::warning(self.0, mark)
    }
}

#[derive(Debug)]
pub struct Carrier {
    shop: Shop,
    lang: Lang,
    storage: Storage,
    /// Messages the network could not deliver because the storage was full (TS 23.040 §10.1
    /// memory-capacity-exceeded: the SC retries once the MS has room).
    held: VecDeque<(String, usize)>,
    text_mode: bool,
    /// `+CSMP` `<dcs>` for text-mode sends.
    text_dcs: u8,
    cnmi_mt: u8,
    pdu_refused: bool,
    sms_error: Option<u16>,
    reverse_parts: bool,
    /// The network loses this part of the next long message it delivers.
    lose_part: Option<usize>,
    ussd: UssdService,
    ussd_mode: UssdMode,
    ussd_before_ok: bool,
    /// Whole messages the carrier received from the modem: (destination, text).
    received: Vec<(String, String)>,
    incoming: Reassembler,
    message_ref: u8,
    concat_ref: u8,
    clock: u32,
}

impl Default for Carrier {
    fn default() -> Self {
        Carrier {
            shop: Shop::default(),
            lang: Lang::En,
            storage: Storage::new(),
            held: VecDeque::new(),
            text_mode: false,
            text_dcs: 0,
            cnmi_mt: DEFAULT_MT,
            pdu_refused: false,
            sms_error: None,
            reverse_parts: false,
            lose_part: None,
            ussd: UssdService::default(),
            ussd_mode: UssdMode::Normal,
            ussd_before_ok: false,
            received: Vec::new(),
            incoming: Reassembler::new(8),
            message_ref: 0,
            concat_ref: 0,
            clock: 9 * 3600,
        }
    }
}

impl Carrier {
    pub fn new() -> Self {
        Self::default()
    }

    /// The simulator's clock: `now` is the time since it started. Credits that are due land.
    pub fn advance(&mut self, now: Duration) {
        self.shop.advance(now);
    }

    /// The carrier's billing: every purchase it charged (the last 1000), and how many in all.
    pub fn charges(&self) -> (&[shop::Charge], u64) {
        (self.shop.charges(), self.shop.charge_count())
    }

    /// The modem restarted: settings revert to power-up values (modem-quirks.md §12: the
    /// `+CPMS`/`+CNMI` choice does not survive a reboot); stored messages stay on the SIM.
    pub fn reboot(&mut self) {
        self.text_mode = false;
        self.cnmi_mt = DEFAULT_MT;
        self.ussd.menu = None;
    }

    /// Handles SMS/USSD/storage commands; `None` = not a carrier command.
    pub fn command(&mut self, p: Personality, radio: &mut Radio, cmd: &str) -> Option<Reply> {
        let c = norm(cmd);
        if c.contains(';') {
            return None;
        }
        let ok = |lines: Vec<String>| Some(Reply::now(Answer::Ok(lines)));
        let cms = |n: u16| Some(Reply::now(Answer::Raw(vec![format!("+CMS ERROR: {n}")])));
        if let Some(arg) = c.strip_prefix("AT+CUSD") {
            return Some(self.cusd(p, radio, arg));
        }
        match c.as_str() {
            "AT+CMGF?" => return ok(vec![format!("+CMGF: {}", u8::from(self.text_mode))]),
            "AT+CMGF=?" => return ok(vec!["+CMGF: (0,1)".into()]),
            "AT+CPMS?" => {
                let (u, t) = (self.storage.used(), storage::CAPACITY);
                return ok(vec![format!(
                    "+CPMS: \"SM\",{u},{t},\"SM\",{u},{t},\"SM\",{u},{t}"
                )]);
            }
            "AT+CPMS=?" => {
                return ok(vec![
                    "+CPMS: (\"SM\",\"ME\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")".into(),
                ])
            }
            "AT+CNMI?" => return ok(vec![format!("+CNMI: 2,{},0,0,0", self.cnmi_mt)]),
            "AT+CSCA?" => return ok(vec![format!("+CSCA: \"{}\",145", deliver::SMSC)]),
            _ => {}
        }
        if let Some(arg) = c.strip_prefix("AT+CMGF=") {
            return match arg.trim() {
                "0" if self.pdu_refused => Some(Reply::now(Answer::Error)),
                "0" | "1" => {
                    self.text_mode = arg.trim() == "1";
                    ok(vec![])
                }
                _ => Some(Reply::now(Answer::Error)),
            };
        }
        if let Some(arg) = c.strip_prefix("AT+CPMS=") {
            let mems_ok = arg
                .split(',')
                .all(|m| matches!(m.trim().trim_matches('"'), "SM" | "ME" | "MT"));
            return if mems_ok {
                ok(vec![format!("+CPMS: {}", self.storage.counts())])
            } else {
                cms(302)
            };
        }
        if let Some(arg) = c.strip_prefix("AT+CNMI=") {
            let mt = arg
                .split(',')
                .nth(1)
                .map_or(Ok(0), |v| v.trim().parse::<u8>());
            return match mt {
                Ok(mt @ 0..=3) => {
                    self.cnmi_mt = mt;
                    ok(vec![])
                }
                _ => Some(Reply::now(Answer::Error)),
            };
        }
        if let Some(arg) = c.strip_prefix("AT+CSMP=") {
            self.text_dcs = arg
                .split(',')
                .nth(3)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            return ok(vec![]);
        }
        self.storage_command(&c)
    }

    /// `+CMGR`, `+CMGL`, `+CMGD`, `+CMGS`, `+CMGW` (TS 27.005 §3.4–§3.5).
    fn storage_command(&mut self, c: &str) -> Option<Reply> {
        let ok = |lines: Vec<String>| Some(Reply::now(Answer::Ok(lines)));
        let cms = |n: u16| Some(Reply::now(Answer::Raw(vec![format!("+CMS ERROR: {n}")])));
        if let Some(arg) = c.strip_prefix("AT+CMGR=") {
            let idx = arg.trim().parse::<u32>().unwrap_or(0);
            return match self.storage.read(idx, self.text_mode) {
                Ok(lines) => ok(lines),
                Err(n) => cms(n),
            };
        }
        if let Some(arg) = c.strip_prefix("AT+CMGL") {
            let arg = arg.strip_prefix('=').unwrap_or(if self.text_mode {
                "\"REC UNREAD\""
            } else {
                "0"
            });
            return match self.storage.list(arg, self.text_mode) {
                Ok(lines) => ok(lines),
                Err(n) => cms(n),
            };
        }
        if let Some(arg) = c.strip_prefix("AT+CMGD=") {
            return Some(self.delete(arg));
        }
        if c.starts_with("AT+CMGS=") {
            return Some(Reply::now(Answer::Prompt));
        }
        if c.starts_with("AT+CMGW") {
            return if self.storage.is_full() {
                cms(322)
            } else {
                Some(Reply::now(Answer::Prompt))
            };
        }
        None
    }

    /// The body typed after the `> ` prompt that `cmd` (AT+CMGS=… or AT+CMGW=…) opened.
    pub fn payload(&mut self, _p: Personality, radio: &mut Radio, cmd: &str, body: &str) -> Reply {
        let c = norm(cmd);
        let parsed = if self.text_mode {
            self.text_body(radio, &c, body)
        } else {
            pdu_body(&c, body)
        };
        let (dest, text, concat, pdu) = match parsed {
            Ok(v) => v,
            // 304: invalid PDU mode parameter; 305: invalid text mode parameter (TS 27.005 §3.2.5).
            Err(()) => return Reply::now(Answer::CmeError(if self.text_mode { 305 } else { 304 })),
        };
        if c.starts_with("AT+CMGW") {
            let stored = Stored {
                stat: Stat::Unsent,
                tpdu_len: pdu.len() / 2,
                pdu,
            };
            return match self.storage.put(stored) {
                Some(i) => Reply::now(Answer::line(format!("+CMGW: {i}"))),
                None => Reply::now(Answer::CmeError(322)),
            };
        }
        if let Some(code) = self.sms_error.take() {
            return Reply::now(Answer::CmeError(code));
        }
        self.message_ref = self.message_ref.wrapping_add(1);
        let mr = self.message_ref;
        let part = Part {
            sender: dest,
            concat,
            text,
            timestamp: 0,
        };
        let mut later = Vec::new();
        if let Some(whole) = self.incoming.push(part, 0) {
            keywords::on_sms(
                &whole.sender,
                &whole.text,
                &mut self.shop,
                self.lang,
                SMS_DELAY,
            );
            later = self.flush_notices();
            if self.received.len() >= 100 {
                self.received.remove(0);
            }
            self.received.push((whole.sender, whole.text));
        }
        Reply {
            answer: Answer::line(format!("+CMGS: {mr}")),
            later,
        }
    }

    /// Test/CLI control: `Err(None)` = unknown key; `Ok(urcs)` may schedule URCs (a new SMS).
    pub fn set(
        &mut self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(Duration, String)>, Option<String>> {
        let bad = |what: &str| Err(Some(format!("{key}: expected {what}, got {value:?}")));
        let on_off = |v: &str| match v.trim() {
            "on" | "1" | "true" => Some(true),
            "off" | "0" | "false" => Some(false),
            _ => None,
        };
        match key {
            "balance_mb" => match value.trim().parse() {
                Ok(v) => self.shop.set_balance(v),
                Err(_) => return bad("a whole number of MB"),
            },
            "lang" => match Lang::parse(value) {
                Some(l) => self.lang = l,
                None => return bad("en, zh or ja"),
            },
            "deliver_sms" => {
                let Some((sender, text)) = value.split_once('|') else {
                    return bad("<sender>|<text>");
                };
                return self.deliver(sender, text, Duration::ZERO).map_err(Some);
            }
            "reply_order" => match value.trim() {
                "reverse" => self.reverse_parts = true,
                "in" | "in-order" => self.reverse_parts = false,
                _ => return bad("reverse or in"),
            },
            "lose_part" => match value.trim().parse() {
                Ok(n) => self.lose_part = Some(n),
                Err(_) => return bad("a part number (1 = the first)"),
            },
            "ussd" => match value.trim() {
                "silent" => self.ussd_mode = UssdMode::Silent,
                "error" => self.ussd_mode = UssdMode::Error,
                "normal" => self.ussd_mode = UssdMode::Normal,
                _ => return bad("silent, error or normal"),
            },
            "ussd_urc" => match value.trim() {
                "before" => self.ussd_before_ok = true,
                "after" => self.ussd_before_ok = false,
                _ => return bad("before or after"),
            },
            "pdu" => match on_off(value) {
                Some(v) => self.pdu_refused = !v,
                None => return bad("on or off"),
            },
            "sms_error" => match value.trim().parse() {
                Ok(v) => self.sms_error = Some(v),
                Err(_) => return bad("a +CMS ERROR code"),
            },
            _ => return self.set_sales_or_check(key, value),
        }
        Ok(Vec::new())
    }

    /// The selling keys and the checks (see the module header); `Err(None)`: unknown key.
    fn set_sales_or_check(
        &mut self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(Duration, String)>, Option<String>> {
        let bad = |what: &str| Err(Some(format!("{key}: expected {what}, got {value:?}")));
        match key {
            "drain_mb" => match value.trim().parse() {
                Ok(v) => {
                    self.shop.drain(v, &Warnings(self.lang));
                    return Ok(self.flush_notices());
                }
                Err(_) => return bad("a whole number of MB"),
            },
            "menu_order" => match MenuOrder::parse(value) {
                Some(o) => self.ussd.order = o,
                None => return bad("normal, reverse or shuffle"),
            },
            "check_received" => {
                if !self.received.iter().any(|(_, t)| t == value) {
                    return Err(Some(format!(
                        "the carrier did not receive {value:?}; it received {:?}",
                        self.received
                    )));
                }
            }
            "check_stored" => {
                let used = self.storage.used();
                if value.trim().parse::<usize>().ok() != Some(used) {
                    return Err(Some(format!(
                        "the modem storage holds {used} messages, not {value}"
                    )));
                }
            }
            _ => {
                return match self.shop.set(key, value) {
                    Ok(true) => Ok(Vec::new()),
                    Ok(false) => Err(None),
                    Err(e) => Err(Some(e)),
                }
            }
        }
        Ok(Vec::new())
    }

    /// Delivers the SMS the shop queued (replies, receipts, warnings) to the modem.
    fn flush_notices(&mut self) -> Vec<(Duration, String)> {
        let mut later = Vec::new();
        for n in self.shop.take_notices() {
            // A notice the encoder refuses is dropped, as a network drops what it cannot route.
            later.extend(
                self.deliver(&n.sender, &n.text, n.delay)
                    .unwrap_or_default(),
            );
        }
        later
    }

    fn cusd(&mut self, p: Personality, radio: &Radio, arg: &str) -> Reply {
        let arg = arg.trim();
        if arg == "?" {
            return Reply::now(Answer::line("+CUSD: 1"));
        }
        if arg == "=?" {
            return Reply::now(Answer::line("+CUSD: (0-2)"));
        }
        let Some(params) = arg.strip_prefix('=') else {
            return Reply::now(Answer::Error);
        };
        let mut fields = params.splitn(3, ',');
        let mode = fields.next().map(str::trim).unwrap_or("");
        let text = fields.next().map(|s| s.trim().trim_matches('"'));
        let dcs = fields.next().and_then(|d| d.trim().parse::<u8>().ok());
        match (mode, text) {
            ("2", _) => {
                self.ussd.menu = None;
                return Reply::now(Answer::Ok(vec![]));
            }
            ("0" | "1", None) => return Reply::now(Answer::Ok(vec![])),
            ("0" | "1", Some(_)) => {}
            _ => return Reply::now(Answer::Error),
        }
        if self.ussd_mode == UssdMode::Error {
            // 100: unknown (TS 27.007 §9.2.1), what modems say when the network refuses USSD.
            return Reply::now(Answer::CmeError(100));
        }
        let huawei = p == Personality::HuaweiE3372;
        let Some(request) = ussd::decode_request(text.unwrap_or(""), dcs, huawei, radio.ucs2)
        else {
            return Reply::now(Answer::Error);
        };
        if self.ussd_mode == UssdMode::Silent {
            return Reply::now(Answer::Ok(vec![]));
        }
        let answer = self.ussd.answer(&request, &mut self.shop, self.lang);
        let mut later = self.flush_notices();
        let Some(answer) = answer else {
            // `reply=lost`: charged, but the network's answer never reaches the modem.
            return Reply {
                answer: Answer::Ok(vec![]),
                later,
            };
        };
        let line = ussd::cusd_line(&answer, huawei, radio.ucs2);
        if self.ussd_before_ok {
            return Reply {
                answer: Answer::Raw(vec![line, "OK".into()]),
                later,
            };
        }
        later.insert(0, (USSD_DELAY, line));
        Reply {
            answer: Answer::Ok(vec![]),
            later,
        }
    }

    fn delete(&mut self, arg: &str) -> Reply {
        let mut f = arg.split(',');
        let index = f
            .next()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let flag = f
            .next()
            .and_then(|v| v.trim().parse::<u8>().ok())
            .unwrap_or(0);
        if let Err(n) = self.storage.delete(index, flag) {
            return Reply::now(Answer::Raw(vec![format!("+CMS ERROR: {n}")]));
        }
        // Room again: the service centre retries the messages it held (TS 23.040 §10.1).
        let mut later = Vec::new();
        let mut gap = SMS_DELAY;
        while !self.storage.is_full() {
            let Some((pdu, len)) = self.held.pop_front() else {
                break;
            };
            if let Some(urc) = self.arrive(pdu, len) {
                later.push((gap, urc));
                gap = gap.saturating_add(PART_GAP);
            }
        }
        Reply {
            answer: Answer::Ok(vec![]),
            later,
        }
    }

    /// The network delivers a message to the modem: each part is stored and announced, or
    /// routed directly with `+CMT`, or held while the storage is full.
    fn deliver(
        &mut self,
        sender: &str,
        text: &str,
        delay: Duration,
    ) -> Result<Vec<(Duration, String)>, String> {
        self.concat_ref = self.concat_ref.wrapping_add(1);
        self.clock = self.clock.wrapping_add(1) % 86_400;
        let mut parts = deliver::encode_deliver(sender, text, self.clock, self.concat_ref)?;
        if parts.len() > 1 {
            if let Some(n) = self.lose_part.take().and_then(|n| n.checked_sub(1)) {
                if n < parts.len() {
                    parts.remove(n);
                }
            }
        }
        if self.reverse_parts {
            parts.reverse();
        }
        let mut later = Vec::new();
        let mut at = delay;
        for (pdu, len) in parts {
            if let Some(urc) = self.arrive(pdu, len) {
                later.push((at, urc));
                at = at.saturating_add(PART_GAP);
            }
        }
        Ok(later)
    }

    /// One PDU reaches the modem. TS 27.005 §3.4.1 `<mt>`: 2 routes it straight to the host
    /// (`+CMT: ,<length>` then the PDU); 1 stores it and sends `+CMTI`; 0 stores it silently.
    fn arrive(&mut self, pdu: String, len: usize) -> Option<String> {
        if self.cnmi_mt == 2 {
            return Some(format!("+CMT: ,{len}\r\n{pdu}"));
        }
        if self.storage.is_full() {
            self.held.push_back((pdu, len));
            return None;
        }
        let stored = Stored {
            stat: Stat::Unread,
            pdu,
            tpdu_len: len,
        };
        let index = self.storage.put(stored)?;
        (self.cnmi_mt != 0).then(|| format!("+CMTI: \"SM\",{index}"))
    }

    /// Text mode (TS 27.005 §3.5.1): `AT+CMGS="<da>"`, the body as text, or as UCS2 hex when
    /// `AT+CSCS="UCS2"` and `AT+CSMP=…,8` were set.
    fn text_body(
        &self,
        radio: &Radio,
        c: &str,
        body: &str,
    ) -> Result<(String, String, Option<crate::codec::ConcatInfo>, String), ()> {
        let arg = c.split_once('=').map(|(_, a)| a).ok_or(())?;
        let raw_dest = arg.split(',').next().unwrap_or("").trim().trim_matches('"');
        let dest = if radio.ucs2 {
            crate::codec::Charset::Ucs2.decode(raw_dest)
        } else {
            raw_dest.to_string()
        };
        let text = if radio.ucs2 && self.text_dcs == 8 {
            crate::codec::Charset::Ucs2.decode(body)
        } else {
            body.to_string()
        };
        let pdu = encode_submit(&dest, &text, &SubmitOptions::default())
            .ok()
            .and_then(|p| p.into_iter().next())
            .map(|p| p.hex)
            .unwrap_or_default();
        Ok((dest, text, None, pdu))
    }
}

/// PDU mode: `AT+CMGS=<length>` then the SUBMIT PDU in hex; the length counts the TPDU octets
/// after the SMSC address (TS 27.005 §3.5.1) and must match.
fn pdu_body(
    c: &str,
    body: &str,
) -> Result<(String, String, Option<crate::codec::ConcatInfo>, String), ()> {
    let len: usize = c
        .split_once('=')
        .and_then(|(_, a)| a.trim().parse().ok())
        .ok_or(())?;
    let pdu = decode_pdu_hex(body).map_err(|_| ())?;
    let total = body.trim().len() / 2;
    let smsc_len = crate::codec::ucs2::from_hex(body.get(..2).unwrap_or("00"))
        .ok()
        .and_then(|b| b.first().copied())
        .map_or(0, usize::from);
    if total != len.saturating_add(smsc_len).saturating_add(1) {
        return Err(());
    }
    match pdu {
        SmsPdu::Submit(s) => Ok((
            s.destination,
            s.user_data.text,
            s.user_data.concat,
            body.trim().to_string(),
        )),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests;
