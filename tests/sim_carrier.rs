//! The simulator's virtual carrier selling data, driven the way a person at a terminal would:
//! raw AT commands over the real pty, menus answered by reading their text, receipts read back
//! with `AT+CMGR` and decoded from their PDUs. No simkeep AT engine in between, so what is
//! asserted is exactly what any client (the lead's flows, `sms_tool`, minicom) would see.

mod support;

use std::time::Duration;

use simkeep::at::port::RawTty;
use simkeep::codec::{decode_pdu_hex, decode_ussd_reply, SmsPdu};
use simkeep::sim::carrier::texts::Lang;
use simkeep::sim::carrier::{receipts, vodacom};
use simkeep::sim::Personality;
use support::{eventually, Rig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

/// A dumb terminal on the pty: writes command lines, splits what comes back into lines, keeps
/// unsolicited lines (`+CUSD:`, `+CMTI:`) for whoever waits for them.
struct Term {
    io: RawTty,
    buf: Vec<u8>,
    urcs: Vec<String>,
}

fn is_urc(l: &str) -> bool {
    l.starts_with("+CUSD:") || l.starts_with("+CMTI:")
}

fn is_final(l: &str) -> bool {
    l == "OK" || l == "ERROR" || l.starts_with("+CME ERROR:") || l.starts_with("+CMS ERROR:")
}

impl Term {
    async fn open(rig: &Rig) -> Term {
        let io = RawTty::open(&rig.link(), 115_200).expect("open the pty");
        let mut t = Term {
            io,
            buf: Vec::new(),
            urcs: Vec::new(),
        };
        assert_eq!(t.cmd("ATE0").await.last().map(String::as_str), Some("OK"));
        t
    }

    /// Reads more bytes into the buffer (fails the test after `WAIT`).
    async fn fill(&mut self) {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, self.io.read(&mut chunk))
            .await
            .expect("the modem answers in time")
            .expect("read the pty");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The next complete line (empty lines skipped).
    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                let line = String::from_utf8_lossy(&line).trim().to_string();
                if !line.is_empty() {
                    return line;
                }
                continue;
            }
            self.fill().await;
        }
    }

    /// Sends a command; its lines up to and including the final result. URCs are set aside.
    async fn cmd(&mut self, cmd: &str) -> Vec<String> {
        self.io
            .write_all(format!("{cmd}\r").as_bytes())
            .await
            .expect("write");
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            if is_urc(&l) {
                self.urcs.push(l);
                continue;
            }
            let done = is_final(&l);
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// The next unsolicited line starting with `prefix`.
    async fn urc(&mut self, prefix: &str) -> String {
        loop {
            if let Some(i) = self.urcs.iter().position(|u| u.starts_with(prefix)) {
                return self.urcs.remove(i);
            }
            let l = self.line().await;
            assert!(
                is_urc(&l),
                "unexpected line {l:?} while waiting for {prefix}"
            );
            self.urcs.push(l);
        }
    }

    /// `AT+CUSD=1,"<s>",15`: `OK`, then the network's answer (status, decoded text).
    async fn ussd(&mut self, s: &str) -> (u8, String) {
        let r = self.cmd(&format!("AT+CUSD=1,\"{s}\",15")).await;
        assert_eq!(r, ["OK"], "AT+CUSD for {s:?}");
        let line = self.urc("+CUSD:").await;
        let rest = line.trim_start_matches("+CUSD: ");
        let status = rest.get(..1).and_then(|s| s.parse().ok()).expect("status");
        let text = rest.split('"').nth(1).unwrap_or("");
        let dcs = rest.rsplit(',').next().and_then(|d| d.parse().ok());
        (status, decode_ussd_reply(text, dcs))
    }

    /// Sends an SMS in text mode: `AT+CMGS="<to>"`, the `> ` prompt, the text, Ctrl-Z.
    async fn send_sms(&mut self, to: &str, text: &str) {
        assert_eq!(self.cmd("AT+CMGF=1").await, ["OK"]);
        self.io
            .write_all(format!("AT+CMGS=\"{to}\"\r").as_bytes())
            .await
            .expect("write");
        while !self.buf.windows(2).any(|w| w == b"> ") {
            self.fill().await;
        }
        self.buf.clear();
        self.io
            .write_all(format!("{text}\x1a").as_bytes())
            .await
            .expect("write");
        let sent = self.line().await;
        assert!(sent.starts_with("+CMGS: "), "{sent}");
        assert_eq!(self.line().await, "OK");
        assert_eq!(self.cmd("AT+CMGF=0").await, ["OK"]);
    }

    /// Waits for `+CMTI` announcements and reads the messages with `AT+CMGR` (PDU mode) until
    /// one whole message is in: its sender and text.
    async fn receive_sms(&mut self) -> (String, String) {
        let mut parts: Vec<(u8, String)> = Vec::new();
        let sender = loop {
            let cmti = self.urc("+CMTI:").await;
            let index = cmti.rsplit(',').next().expect("an index").to_string();
            let r = self.cmd(&format!("AT+CMGR={index}")).await;
            assert_eq!(r.len(), 3, "{r:?}");
            let Ok(SmsPdu::Deliver(d)) = decode_pdu_hex(&r[1]) else {
                panic!("not an SMS-DELIVER: {r:?}");
            };
            let (seq, total) = d.user_data.concat.map_or((1, 1), |c| (c.seq, c.total));
            parts.push((seq, d.user_data.text));
            if parts.len() == usize::from(total) {
                break d.sender;
            }
        };
        parts.sort();
        (sender, parts.into_iter().map(|(_, t)| t).collect())
    }
}

/// The number of the menu line whose text contains `item`.
fn pick(menu: &str, item: &str) -> String {
    menu.lines()
        .find_map(|l| {
            let (n, text) = l.split_once(". ")?;
            text.contains(item).then(|| n.to_string())
        })
        .unwrap_or_else(|| panic!("{item:?} is not in the menu {menu:?}"))
}

/// `*149*01#` → Internet → Monthly → 4920MB → Airtime, each chosen by its text.
async fn walk_to_airtime(t: &mut Term) -> String {
    let (status, mut menu) = t.ussd(vodacom::CODE).await;
    assert_eq!(status, 1, "{menu}");
    for item in ["Internet", "Monthly", "Tsh 10000 = 4920MB"] {
        let (status, next) = t.ussd(&pick(&menu, item)).await;
        assert_eq!(status, 1, "after {item}: {next}");
        menu = next;
    }
    assert!(
        menu.contains("M-Pesa") && menu.contains("Airtime"),
        "{menu}"
    );
    pick(&menu, "Airtime")
}

#[tokio::test(flavor = "current_thread")]
async fn a_shuffled_vodacom_menu_bought_by_text_confirms_credits_and_sends_a_receipt() {
    let rig = Rig::new(Personality::Generic);
    let mut t = Term::open(&rig).await;
    rig.sim.set("menu_order", "shuffle").unwrap();
    // The items move between sessions: the main menu of two sessions is not the same.
    let (_, first) = t.ussd(vodacom::CODE).await;
    assert_eq!(t.cmd("AT+CUSD=2").await, ["OK"]);
    let (_, second) = t.ussd(vodacom::CODE).await;
    assert_eq!(t.cmd("AT+CUSD=2").await, ["OK"]);
    assert_ne!(first, second);
    assert_eq!(first.lines().count(), 10);

    let airtime = walk_to_airtime(&mut t).await;
    let (status, done) = t.ussd(&airtime).await;
    assert_eq!(status, 0, "{done}");
    assert!(
        done.contains("received") && done.contains("4920MB"),
        "{done}"
    );
    let (sender, receipt) = t.receive_sms().await;
    assert_eq!(sender, "Vodacom");
    assert_eq!(receipt, vodacom::receipt_sms(10_000, 4920));
    rig.sim.set("check_charges", "1").unwrap();
    assert!(eventually(WAIT, || rig.sim.set("check_balance_mb", "5420").is_ok()).await);
    let (_, balance) = t.ussd("*100#").await;
    assert!(balance.contains("5420 MB"), "{balance}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_sms_keyword_buys_1gb_and_the_receipt_is_read_back_in_chinese_and_japanese() {
    let rig = Rig::new(Personality::Generic);
    let mut t = Term::open(&rig).await;
    for (n, lang, word) in [(1, "zh", "成功"), (2, "ja", "完了しました")] {
        rig.sim.set("lang", lang).unwrap();
        t.send_sms(receipts::KEYWORD_NUMBER, receipts::KEYWORD_1GB)
            .await;
        let (sender, text) = t.receive_sms().await;
        assert_eq!(sender, "10086");
        let want = receipts::keyword_receipt(Lang::parse(lang).unwrap());
        assert_eq!(text, want);
        assert!(text.contains(word) && text.contains("1GB"), "{text}");
        rig.sim.set("check_charges", &n.to_string()).unwrap();
    }
    rig.sim.set("check_received", "KTLL1G").unwrap();
    assert!(eventually(WAIT, || rig.sim.set("check_balance_mb", "2548").is_ok()).await);
}

#[tokio::test(flavor = "current_thread")]
async fn refusals_charge_nothing_and_a_lost_reply_charges_without_a_word() {
    let rig = Rig::new(Personality::Generic);
    let mut t = Term::open(&rig).await;
    assert_eq!(t.cmd("AT+CMEE=1").await, ["OK"]);

    rig.sim.set("ussd", "error").unwrap();
    assert_eq!(
        t.cmd("AT+CUSD=1,\"*149*01#\",15").await,
        ["+CME ERROR: 100"]
    );
    rig.sim.set("ussd", "normal").unwrap();

    rig.sim.set("funds", "insufficient").unwrap();
    let airtime = walk_to_airtime(&mut t).await;
    let (status, refused) = t.ussd(&airtime).await;
    assert_eq!(status, 0);
    assert!(refused.contains("insufficient"), "{refused}");
    let (sender, sms) = t.receive_sms().await;
    assert_eq!(sender, "Vodacom");
    assert!(sms.contains("insufficient balance"), "{sms}");
    rig.sim.set("check_charges", "0").unwrap();
    let err = rig.sim.set("check_charges", "1").unwrap_err();
    assert!(err.contains("charged 0 times"), "{err}");

    rig.sim.set("funds", "ok").unwrap();
    rig.sim.set("reply", "lost").unwrap();
    let airtime = walk_to_airtime(&mut t).await;
    assert_eq!(t.cmd(&format!("AT+CUSD=1,\"{airtime}\",15")).await, ["OK"]);
    // Charged and credited (after the 300 ms delay, well past the 80 ms a USSD answer takes)…
    assert!(eventually(WAIT, || rig.sim.set("check_balance_mb", "5420").is_ok()).await);
    rig.sim.set("check_charges", "1").unwrap();
    // …yet neither the confirmation nor a receipt ever reached the terminal.
    assert_eq!(t.cmd("AT").await, ["OK"]);
    assert!(t.urcs.is_empty(), "{:?}", t.urcs);
    assert_eq!(
        t.cmd("AT+CPMS?").await[0],
        "+CPMS: \"SM\",1,10,\"SM\",1,10,\"SM\",1,10"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn traffic_drains_the_balance_and_each_warning_arrives_once() {
    let rig = Rig::new(Personality::Generic);
    let mut t = Term::open(&rig).await;
    rig.sim.set("drain_mb", "300").unwrap();
    let (sender, warning) = t.receive_sms().await;
    assert_eq!(sender, "SimCarrier");
    assert!(
        warning.starts_with("SimCarrier: Less than 500MB of data left"),
        "{warning}"
    );
    rig.sim.set("drain_mb", "10").unwrap();
    rig.sim.set("lang", "zh").unwrap();
    rig.sim.set("drain_mb", "100").unwrap();
    let (sender, all_used) = t.receive_sms().await;
    assert_eq!(sender, "10086");
    // 190 → 90 MB crossed the 100 MB mark; the next drain empties it.
    assert!(all_used.contains("不足100MB"), "{all_used}");
    rig.sim.set("drain_mb", "100").unwrap();
    let (_, empty) = t.receive_sms().await;
    assert!(empty.contains("流量已用完"), "{empty}");
    rig.sim.set("check_balance_mb", "0").unwrap();
    assert_eq!(t.cmd("AT").await, ["OK"]);
    assert!(t.urcs.is_empty(), "no second warning: {:?}", t.urcs);
}
