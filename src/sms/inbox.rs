//! The SMS inbox: one owner task that moves received messages from the modem into durable
//! storage, then deletes them from the modem.
//!
//! Order is everything: a message is deleted (`AT+CMGD`) only after the sink said it is on disk,
//! so a power cut between the two leaves it on the modem, and the next scan stores it again —
//! the store recognises it (same sender, time stamp and text) and keeps one row. The parts of a
//! concatenated message stay on the modem until the whole message is stored; parts that never
//! come are stored after `concat_timeout` with a marker where each missing part belongs.
//!
//! Inputs: `+CMTI` (stored, then `AT+CMGR`), `+CMT` (routed to us directly; nothing on the modem
//! to delete), a scan with `AT+CMGL=4` at start, after a modem restart or reconnect, after missed
//! URCs and every `rescan_every`. `AT+CPMS`/`AT+CNMI` are applied again after every restart
//! (modem-quirks.md §12: they revert). A full storage at start-up is simply drained: nothing
//! new can arrive until it is (TS 23.040 §10.1, the network holds messages until the modem has
//! room).
//!
//! Must not: delete a message that is not stored; read text mode (PDU only: text mode loses the
//! concatenation header); hold anything but the pending parts in memory.

use std::future::Future;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::parse::{parse_cmgl, parse_cmgr, parse_cpms};
use crate::at::{AtClient, AtError, Lifecycle, LinkState, Urc, UrcCode, UrcKind};
use crate::codec::{decode_pdu_hex, ConcatInfo, Part, Reassembler, SmsPdu};
use crate::limited;

/// A received message, whole (or as much of it as arrived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    pub sender: String,
    pub text: String,
    /// Service-centre time stamp (TP-SCTS) as unix seconds, the earliest of its parts.
    pub sent_at: i64,
    pub received_at: i64,
    pub parts: u8,
    /// False when parts never came (the text marks where).
    pub complete: bool,
    pub iccid: Option<String>,
    pub storage: Option<String>,
    /// Modem index of the first part read, informational.
    pub index: Option<u32>,
}

/// Where received messages go. `save` must resolve `Ok` only once the message is durable (on
/// disk): the inbox deletes it from the modem right after. Saving the same message twice must
/// not make two copies (the inbox re-reads messages after a crash).
pub trait SmsSink: Send + Sync {
    fn save(&self, sms: ReceivedSms) -> impl Future<Output = Result<(), String>> + Send;
}

impl SmsSink for crate::store::StoreHandle {
    fn save(&self, sms: ReceivedSms) -> impl Future<Output = Result<(), String>> + Send {
        use crate::store::{Durable, SmsDirection, SmsRecord};
        let record = SmsRecord {
            t: sms.received_at,
            iccid: sms.iccid,
            direction: SmsDirection::Received,
            peer: sms.sender,
            sent_at: Some(sms.sent_at),
            body: sms.text,
            storage: sms.storage,
            modem_index: sms.index,
        };
        let store = self.clone();
        async move {
            match store.save_sms(record).await {
                Ok(Durable::Committed(_)) => Ok(()),
                // Held in memory only: a power cut would lose it, so it stays on the modem.
                Ok(Durable::Queued { reason, .. }) => {
                    Err(format!("the database is not writable yet ({reason})"))
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct InboxConfig {
    /// Message storage to use for all three `AT+CPMS` memories ("SM" SIM, "ME" modem).
    pub storage: String,
    /// The SIM's ICCID, recorded with each message.
    pub iccid: Option<String>,
    /// How long to wait for the missing parts of a long message.
    pub concat_timeout: Duration,
    /// Scan the storage this often even without URCs (a lost `+CMTI` costs at most this long).
    pub rescan_every: Duration,
}

impl Default for InboxConfig {
    fn default() -> Self {
        InboxConfig {
            storage: "SM".into(),
            iccid: None,
            concat_timeout: Duration::from_secs(10 * 60),
            rescan_every: Duration::from_secs(15 * 60),
        }
    }
}

/// Parts of one long message waiting on the modem, by their indexes.
#[derive(Debug)]
struct Pending {
    sender: String,
    reference: u16,
    total: u8,
    indexes: Vec<u32>,
}

/// The inbox task's state. Build with [`Inbox::new`], then [`Inbox::run`] it.
pub struct Inbox {
    cfg: InboxConfig,
    reassembler: Reassembler,
    pending: Vec<Pending>,
    /// Setup (`CMGF`/`CPMS`/`CNMI`) and a scan are due at `scan_at`.
    scan_due: bool,
    scan_at: Instant,
    backoff: Duration,
    /// A message could not be stored during this scan: the retry time `save_then_delete`
    /// chose, which the end of the scan must keep rather than push out to `rescan_every`.
    store_retry_at: Option<Instant>,
    /// When the last scan finished: SIM-reload signs do not bring the next one closer than
    /// [`RESTART_MIN_GAP`] after it.
    last_scan: Option<Instant>,
}

/// How soon a message the store refused is tried again (a full disk freed, a busy store).
const STORE_RETRY: Duration = Duration::from_secs(30);

/// Groups kept waiting at once; the storage holds 10 to a few dozen messages anyway.
const MAX_GROUPS: usize = 16;
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long after a restart sign the inbox waits for the rest of the burst.
const RESTART_SETTLE: Duration = Duration::from_secs(1);
/// A modem repeating SIM-ready lines (a flood of `+CPIN: READY`) is scanned at most this often.
const RESTART_MIN_GAP: Duration = Duration::from_secs(10);

impl Inbox {
    pub fn new(cfg: InboxConfig) -> Inbox {
        Inbox {
            cfg,
            reassembler: Reassembler::new(MAX_GROUPS),
            pending: Vec::new(),
            scan_due: true,
            scan_at: Instant::now(),
            backoff: Duration::from_secs(1),
            store_retry_at: None,
            last_scan: None,
        }
    }

    /// Runs until `shutdown` resolves or the engine stops. The command on the wire when
    /// shutdown comes is finished first; nothing is deleted that was not stored.
    pub async fn run<S: SmsSink>(
        mut self,
        at: AtClient,
        sink: S,
        shutdown: impl Future<Output = ()>,
    ) {
        // Subscribe before the first command, so no +CMTI slips between scan and listen.
        let mut urcs = at.subscribe();
        let mut link = at.link_state();
        // The first scan covers the current state; only later changes mean a reconnect.
        link.borrow_and_update();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tokio::pin!(shutdown);
        loop {
            if self.scan_due && Instant::now() >= self.scan_at {
                self.setup_and_scan(&at, &sink).await;
            }
            tokio::select! {
                // Stop between messages, never between storing and deleting one.
                _ = &mut shutdown => return,
                // New messages, and restarts that reset CPMS/CNMI.
                r = urcs.recv() => match r {
                    Ok(urc) => self.on_urc(&at, &sink, urc).await,
                    Err(RecvError::Lagged(n)) => {
                        limited!(warn, "inbox.lagged", "missed {n} unsolicited codes; scanning the SMS storage");
                        self.scan_now();
                    }
                    Err(RecvError::Closed) => return,
                },
                // A reconnect (USB reset): the modem may have restarted behind our back.
                c = link.changed() => {
                    if c.is_err() {
                        return;
                    }
                    if *link.borrow_and_update() == LinkState::Connected {
                        self.scan_now();
                    }
                }
                // Long messages whose parts stopped coming; the periodic rescan.
                _ = tick.tick() => self.expire(&at, &sink).await,
            }
        }
    }

    /// Schedules setup and a scan shortly. Restart signs come in bursts (`RDY`, `+CPIN: READY`,
    /// `SMS DONE`, the engine's re-initialised link), so a scan already due within the settle
    /// time serves them all instead of one scan each.
    fn scan_now(&mut self) {
        self.scan_by(Instant::now() + RESTART_SETTLE);
    }

    /// The SIM or its SMS storage (re)loaded at `now`: scan after the burst settles, but not
    /// sooner than [`RESTART_MIN_GAP`] after the last scan (a flood of such lines must not
    /// become a scan a second).
    fn sim_reloaded(&mut self, now: Instant) {
        let settle = now + RESTART_SETTLE;
        let at = match self.last_scan {
            Some(t) => settle.max(t + RESTART_MIN_GAP),
            None => settle,
        };
        self.scan_by(at);
    }

    /// A scan is due at `at` at the latest.
    fn scan_by(&mut self, at: Instant) {
        if !self.scan_due || self.scan_at > at {
            self.scan_due = true;
            self.scan_at = at;
        }
    }

    async fn setup_and_scan<S: SmsSink>(&mut self, at: &AtClient, sink: &S) {
        match self.try_setup_and_scan(at, sink).await {
            Ok(()) => self.scanned(Instant::now()),
            Err(e) => {
                tracing::warn!(
                    "cannot read the SMS storage: {e}; retrying in {}s",
                    self.backoff.as_secs()
                );
                self.scan_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// A scan finished: the next is due after `rescan_every`, or sooner when a message could
    /// not be stored (it stays on the modem until it is).
    fn scanned(&mut self, now: Instant) {
        self.last_scan = Some(now);
        self.scan_due = true;
        let rescan = now + self.cfg.rescan_every;
        self.scan_at = match self.store_retry_at.take() {
            Some(retry) => retry.min(rescan),
            None => rescan,
        };
        self.backoff = Duration::from_secs(1);
    }

    /// The store refused a message: scan again after [`STORE_RETRY`].
    fn store_failed(&mut self, now: Instant) {
        let retry = now + STORE_RETRY;
        self.scan_due = true;
        self.scan_at = retry;
        self.store_retry_at = Some(self.store_retry_at.map_or(retry, |r| r.min(retry)));
    }

    async fn try_setup_and_scan<S: SmsSink>(
        &mut self,
        at: &AtClient,
        sink: &S,
    ) -> Result<(), AtError> {
        at.run("AT+CMGF=0").await?;
        let m = &self.cfg.storage;
        let cpms = at.run(&format!("AT+CPMS=\"{m}\",\"{m}\",\"{m}\"")).await?;
        if let Some((used, total)) = cpms.value("+CPMS:").and_then(parse_cpms) {
            if total > 0 && used >= total {
                limited!(warn, "inbox.full", "the modem's SMS storage is full ({used}/{total}); storing and deleting them now");
            }
        }
        // <mt>=1: store, then +CMTI (TS 27.005 §3.4.1). Some modems refuse <mode>=2.
        if let Err(e) = at.run("AT+CNMI=2,1,0,0,0").await {
            if !e.is_modem_refusal() {
                return Err(e);
            }
            if let Err(e) = at.run("AT+CNMI=1,1,0,0,0").await {
                limited!(
                    warn,
                    "inbox.cnmi_refused",
                    "modem refused new-message indications ({e}); relying on scans every {}s",
                    self.cfg.rescan_every.as_secs()
                );
            }
        }
        let listed = at.run("AT+CMGL=4").await?;
        for m in parse_cmgl(&listed.lines) {
            // 2/3: messages stored to send (drafts): the user's, not ours to delete.
            if m.stat <= 1 {
                self.on_stored(at, sink, m.index, &m.pdu).await;
            }
        }
        Ok(())
    }

    async fn on_urc<S: SmsSink>(&mut self, at: &AtClient, sink: &S, urc: Urc) {
        match &urc.kind {
            UrcKind::NewSms { index, .. } => self.on_new(at, sink, *index).await,
            UrcKind::Plain(UrcCode::Cmt) => self.on_routed(at, sink, &urc).await,
            // A `+CMTI` we could not read: the scan finds the message.
            UrcKind::Unreadable(UrcCode::Cmti) => {
                limited!(
                    warn,
                    "inbox.bad_cmti",
                    "unreadable new-message indication {:?}; scanning the SMS storage",
                    urc.line
                );
                self.scan_now();
            }
            _ => {}
        }
        // One table says which lines mean the modem or its SIM restarted (`at::urc::TABLE`).
        // A boot needs nothing here: the engine initialises the port again and then announces
        // `Connected` (once per burst of restart signs), which schedules the scan. A SIM reload
        // keeps the port's settings, so only this inbox hears of it.
        if urc.lifecycle() == Lifecycle::SimReady {
            limited!(
                info,
                "inbox.sim_ready",
                "SIM or SMS storage reloaded ({}); applying SMS settings again",
                urc.line
            );
            self.sim_reloaded(Instant::now());
        }
    }

    /// `+CMTI`: read the message at `index`.
    async fn on_new<S: SmsSink>(&mut self, at: &AtClient, sink: &S, index: u32) {
        match at.run(&format!("AT+CMGR={index}")).await {
            Ok(resp) => match parse_cmgr(&resp.lines) {
                Some((stat, pdu)) if stat <= 1 => self.on_stored(at, sink, index, &pdu).await,
                Some(_) => {}
                None => {
                    limited!(
                        warn,
                        "inbox.cmgr_no_pdu",
                        "AT+CMGR={index} gave no PDU: {:?}",
                        resp.lines
                    )
                }
            },
            // Already gone (read by a scan and deleted): nothing to do.
            Err(e) if e.is_modem_refusal() => {
                limited!(debug, "inbox.cmgr_refused", "AT+CMGR={index}: {e}")
            }
            Err(e) => {
                limited!(
                    warn,
                    "inbox.cmgr_failed",
                    "cannot read new message {index}: {e}; it is read at the next scan"
                );
                self.scan_at = Instant::now() + self.backoff;
                self.scan_due = true;
            }
        }
    }

    /// `+CMT`: a message routed to us with its PDU; nothing on the modem to delete.
    async fn on_routed<S: SmsSink>(&mut self, at: &AtClient, sink: &S, urc: &Urc) {
        match urc.pdu.as_deref().map(decode_pdu_hex) {
            Some(Ok(SmsPdu::Deliver(d))) => {
                let part = Part {
                    sender: d.sender,
                    concat: d.user_data.concat,
                    text: d.user_data.text,
                    timestamp: d.timestamp,
                };
                self.on_part(at, sink, part, None).await;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                limited!(
                    warn,
                    "inbox.bad_cmt",
                    "undecodable message routed by the modem: {e}"
                )
            }
            None => limited!(
                warn,
                "inbox.cmt_no_pdu",
                "{:?} came without its PDU line",
                urc.line
            ),
        }
    }

    /// A message read from the modem at `index`.
    async fn on_stored<S: SmsSink>(&mut self, at: &AtClient, sink: &S, index: u32, pdu: &str) {
        let part = match decode_pdu_hex(pdu) {
            Ok(SmsPdu::Deliver(d)) => Part {
                sender: d.sender,
                concat: d.user_data.concat,
                text: d.user_data.text,
                timestamp: d.timestamp,
            },
            Ok(SmsPdu::StatusReport(r)) => Part {
                sender: r.recipient.clone(),
                concat: None,
                text: format!(
                    "delivery report for message {} to {}: status {}",
                    r.message_reference, r.recipient, r.status
                ),
                timestamp: r.timestamp,
            },
            // A sent copy: not a received message.
            Ok(SmsPdu::Submit(_)) => return,
            // Keep it rather than lose it: the raw PDU is stored as the text. Time stamp 0, not
            // "now": re-reading it after a crash must give the same record (the store's key).
            Err(e) => Part {
                sender: "unknown".into(),
                concat: None,
                text: format!("[undecodable message: {e}] {pdu}"),
                timestamp: 0,
            },
        };
        self.on_part(at, sink, part, Some(index)).await;
    }

    async fn on_part<S: SmsSink>(
        &mut self,
        at: &AtClient,
        sink: &S,
        part: Part,
        index: Option<u32>,
    ) {
        let now = unix_now();
        let Some(c) = part.concat.filter(|c| c.total > 1) else {
            let sms = self.received(part.sender, part.text, part.timestamp, 1, true, index);
            self.save_then_delete(at, sink, sms, index.into_iter().collect())
                .await;
            return;
        };
        if let Some(i) = index {
            self.remember(&part.sender, c, i);
        }
        if let Some(whole) = self.reassembler.push(part, now) {
            let indexes = self.forget(&whole.sender, c.reference, c.total);
            let first = indexes.first().copied();
            let sms = self.received(
                whole.sender,
                whole.text,
                whole.timestamp,
                whole.parts,
                true,
                first,
            );
            self.save_then_delete(at, sink, sms, indexes).await;
        }
    }

    fn remember(&mut self, sender: &str, c: ConcatInfo, index: u32) {
        let found = self
            .pending
            .iter_mut()
            .find(|p| p.sender == sender && p.reference == c.reference && p.total == c.total);
        match found {
            Some(p) if !p.indexes.contains(&index) => p.indexes.push(index),
            Some(_) => {}
            None => self.pending.push(Pending {
                sender: sender.to_string(),
                reference: c.reference,
                total: c.total,
                indexes: vec![index],
            }),
        }
    }

    fn forget(&mut self, sender: &str, reference: u16, total: u8) -> Vec<u32> {
        match self
            .pending
            .iter()
            .position(|p| p.sender == sender && p.reference == reference && p.total == total)
        {
            Some(i) => self.pending.swap_remove(i).indexes,
            None => Vec::new(),
        }
    }

    /// Stores long messages whose parts stopped coming, then deletes their parts.
    async fn expire<S: SmsSink>(&mut self, at: &AtClient, sink: &S) {
        let timeout = i64::try_from(self.cfg.concat_timeout.as_secs()).unwrap_or(i64::MAX);
        for inc in self.reassembler.expire(unix_now(), timeout) {
            tracing::warn!(
                "message from {} is missing part(s) {:?} of {}; storing what arrived",
                inc.sender,
                inc.missing,
                inc.total
            );
            let indexes = self.forget(&inc.sender, inc.reference, inc.total);
            let first = indexes.first().copied();
            let sms = self.received(inc.sender, inc.text, inc.timestamp, inc.total, false, first);
            self.save_then_delete(at, sink, sms, indexes).await;
        }
    }

    fn received(
        &self,
        sender: String,
        text: String,
        sent_at: i64,
        parts: u8,
        complete: bool,
        index: Option<u32>,
    ) -> ReceivedSms {
        ReceivedSms {
            sender,
            text,
            sent_at,
            received_at: unix_now(),
            parts,
            complete,
            iccid: self.cfg.iccid.clone(),
            storage: index.map(|_| self.cfg.storage.clone()),
            index,
        }
    }

    /// The one rule of this module: delete only what the sink has made durable.
    async fn save_then_delete<S: SmsSink>(
        &mut self,
        at: &AtClient,
        sink: &S,
        sms: ReceivedSms,
        indexes: Vec<u32>,
    ) {
        let sender = sms.sender.clone();
        if let Err(e) = sink.save(sms).await {
            tracing::warn!("could not store the message from {sender}: {e}; it stays on the modem and is tried again");
            self.store_failed(Instant::now());
            return;
        }
        tracing::info!("stored a message from {sender}");
        for i in indexes {
            if let Err(e) = at.run(&format!("AT+CMGD={i}")).await {
                // Stored already; the next scan reads it again and the store keeps one copy.
                tracing::warn!("stored message {i} could not be deleted from the modem: {e}");
            }
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_the_store_refused_during_a_scan_is_retried_after_30s_not_after_the_rescan() {
        // Issue 13: the scan's success path used to overwrite the retry time, so a message
        // that met a full disk stayed on the modem for `rescan_every` (15 min; 833 s measured).
        let mut inbox = Inbox::new(InboxConfig::default());
        let now = Instant::now();
        inbox.store_failed(now);
        inbox.scanned(now + Duration::from_secs(2));
        assert!(inbox.scan_due);
        assert_eq!(inbox.scan_at, now + STORE_RETRY);
        // The retry is used once; the scan after it goes back to the normal period.
        let later = now + Duration::from_secs(31);
        inbox.scanned(later);
        assert_eq!(inbox.scan_at, later + inbox.cfg.rescan_every);
    }

    #[test]
    fn sim_reload_lines_scan_soon_but_a_flood_of_them_at_most_every_ten_seconds() {
        let mut inbox = Inbox::new(InboxConfig::default());
        let t0 = Instant::now();
        inbox.scanned(t0);
        // Right after a scan: not before RESTART_MIN_GAP.
        inbox.sim_reloaded(t0 + Duration::from_millis(100));
        assert_eq!(inbox.scan_at, t0 + RESTART_MIN_GAP);
        // More of the same change nothing.
        for ms in (200..5_000).step_by(100) {
            inbox.sim_reloaded(t0 + Duration::from_millis(ms));
        }
        assert_eq!(inbox.scan_at, t0 + RESTART_MIN_GAP);
        // Long after the last scan: after the settle time.
        let later = t0 + Duration::from_secs(60);
        inbox.scanned(later - Duration::from_secs(30));
        inbox.sim_reloaded(later);
        assert_eq!(inbox.scan_at, later + RESTART_SETTLE);
    }

    #[test]
    fn parts_of_one_message_share_a_pending_group_without_duplicate_indexes() {
        let mut inbox = Inbox::new(InboxConfig::default());
        let c = ConcatInfo {
            reference: 7,
            total: 2,
            seq: 1,
        };
        inbox.remember("1234", c, 3);
        inbox.remember("1234", ConcatInfo { seq: 2, ..c }, 4);
        inbox.remember("1234", c, 3);
        inbox.remember("5678", c, 5);
        assert_eq!(inbox.forget("1234", 7, 2), [3, 4]);
        assert_eq!(inbox.forget("1234", 7, 2), Vec::<u32>::new());
        assert_eq!(inbox.forget("5678", 7, 2), [5]);
    }
}
