//! Tests for the carrier: the TS 27.005 answers and the short-code/USSD services, driven the way
//! the framework drives them.

use super::*;
use crate::codec::{decode_ussd_reply, encode_submit, SubmitOptions};
use proptest::prelude::*;
use std::time::Duration;

fn ask(c: &mut Carrier, cmd: &str) -> Reply {
    let mut r = Radio::default();
    c.command(Personality::Generic, &mut r, cmd)
        .expect("a carrier command")
}

fn lines(r: &Reply) -> Vec<String> {
    match &r.answer {
        Answer::Ok(l) | Answer::Raw(l) => l.clone(),
        other => vec![format!("{other:?}")],
    }
}

fn send(c: &mut Carrier, dest: &str, text: &str) -> Vec<Reply> {
    let mut r = Radio::default();
    let parts = encode_submit(dest, text, &SubmitOptions::default()).unwrap();
    parts
        .iter()
        .map(|p| {
            let cmd = format!("AT+CMGS={}", p.tpdu_len);
            assert_eq!(ask(c, &cmd).answer, Answer::Prompt);
            c.payload(Personality::Generic, &mut r, &cmd, &p.hex)
        })
        .collect()
}

#[test]
fn bal_to_the_short_code_sends_a_two_part_reply_announced_with_cmti() {
    let mut c = Carrier::new();
    let replies = send(&mut c, "1234", "BAL");
    assert_eq!(lines(&replies[0]), ["+CMGS: 1"]);
    let urcs: Vec<&str> = replies[0].later.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(urcs, ["+CMTI: \"SM\",1", "+CMTI: \"SM\",2"]);
    assert!(c.set("check_received", "BAL").is_ok());
    assert!(c.set("check_stored", "2").is_ok());
    let read = lines(&ask(&mut c, "AT+CMGR=1"));
    assert!(read[0].starts_with("+CMGR: 0,,"), "{read:?}");
}

#[test]
fn a_full_storage_holds_messages_at_the_network_until_a_delete() {
    let mut c = Carrier::new();
    for i in 0..12 {
        let urcs = c
            .set("deliver_sms", &format!("SimCarrier|notice {i}"))
            .unwrap();
        assert_eq!(urcs.len(), usize::from(i < 10));
    }
    assert_eq!(
        lines(&ask(&mut c, "AT+CPMS?")),
        ["+CPMS: \"SM\",10,10,\"SM\",10,10,\"SM\",10,10"]
    );
    assert_eq!(lines(&ask(&mut c, "AT+CMGW=20")), ["+CMS ERROR: 322"]);
    let freed = ask(&mut c, "AT+CMGD=4");
    assert_eq!(
        freed
            .later
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>(),
        ["+CMTI: \"SM\",4"]
    );
    assert_eq!(lines(&ask(&mut c, "AT+CMGL=4")).len(), 20);
}

#[test]
fn direct_delivery_routes_the_pdu_with_cmt() {
    let mut c = Carrier::new();
    ask(&mut c, "AT+CNMI=2,2,0,0,0");
    let urcs = c.set("deliver_sms", "1234|hello").unwrap();
    assert!(urcs[0].1.starts_with("+CMT: ,"), "{urcs:?}");
    assert!(c.set("check_stored", "0").is_ok());
}

#[test]
fn a_wrong_cmgs_length_is_cms_304_and_sms_error_fails_the_next_send() {
    let mut c = Carrier::new();
    let mut r = Radio::default();
    let p = &encode_submit("1234", "BAL", &SubmitOptions::default()).unwrap()[0];
    let bad = c.payload(Personality::Generic, &mut r, "AT+CMGS=99", &p.hex);
    assert_eq!(bad.answer, Answer::CmeError(304));
    c.set("sms_error", "500").unwrap();
    assert_eq!(send(&mut c, "1234", "BAL")[0].answer, Answer::CmeError(500));
}

#[test]
fn chinese_balance_query_by_ussd_comes_back_as_ucs2() {
    let mut c = Carrier::new();
    c.set("lang", "zh").unwrap();
    let r = ask(&mut c, "AT+CUSD=1,\"*100#\",15");
    assert_eq!(r.answer, Answer::Ok(vec![]));
    let line = &r.later[0].1;
    assert!(line.ends_with(",72"), "{line}");
    let hex = line.split('"').nth(1).unwrap();
    assert_eq!(
        decode_ussd_reply(hex, Some(72)),
        "您的流量余额为500MB，有效期至2026年12月31日。"
    );
}

#[test]
fn huawei_refuses_plain_ussd_and_answers_packed_hex() {
    let mut c = Carrier::new();
    let mut r = Radio::default();
    let p = Personality::HuaweiE3372;
    assert_eq!(
        c.command(p, &mut r, "AT+CUSD=1,\"*100#\",15")
            .unwrap()
            .answer,
        Answer::Error
    );
    // *100# packed (TS 23.038 §6.1.2.3.1).
    let packed =
        crate::codec::encode_ussd_request("*100#", crate::codec::UssdEncoding::Gsm7Hex).unwrap();
    let reply = c
        .command(p, &mut r, &format!("AT+CUSD=1,\"{}\",15", packed.payload))
        .unwrap();
    let line = &reply.later[0].1;
    let hex = line.split('"').nth(1).unwrap();
    assert!(crate::codec::ucs2::is_hex(hex), "{line}");
    assert_eq!(
        decode_ussd_reply(hex, Some(15)),
        "Balance: 500 MB, valid until 2026-12-31."
    );
}

#[test]
fn silent_ussd_answers_ok_and_nothing_else_and_cancel_is_ok() {
    let mut c = Carrier::new();
    c.set("ussd", "silent").unwrap();
    let r = ask(&mut c, "AT+CUSD=1,\"*100#\",15");
    assert!(r.later.is_empty());
    assert_eq!(ask(&mut c, "AT+CUSD=2").answer, Answer::Ok(vec![]));
}

#[test]
fn unknown_keys_and_bad_values_are_reported() {
    let mut c = Carrier::new();
    assert_eq!(c.set("rsrp", "-90"), Err(None));
    assert!(matches!(c.set("lang", "fr"), Err(Some(m)) if m.contains("en, zh or ja")));
    assert!(c.set("check_received", "nothing").is_err());
}

proptest! {
    #[test]
    fn arbitrary_commands_and_bodies_never_panic(
        cmd in "AT\\+C(MG[FSWRLD]|PMS|NMI|SMP|USD)[=?]?\\PC{0,30}",
        body in "(\\PC{0,60}|[0-9A-F]{0,200})",
    ) {
        let mut c = Carrier::new();
        let mut r = Radio::default();
        for p in [Personality::Generic, Personality::HuaweiE3372] {
            let _ = c.command(p, &mut r, &cmd);
            let _ = c.payload(p, &mut r, &cmd, &body);
            let _ = c.payload(p, &mut r, "AT+CMGS=20", &body);
        }
        let _ = c.set("deliver_sms", &body);
        let _ = c.set("deliver_sms", &format!("1234|{body}"));
    }

    #[test]
    fn arbitrary_control_values_and_sales_never_panic(
        value in "\\PC{0,20}",
        menu in "[0-9]{1,3}",
    ) {
        let mut c = Carrier::new();
        for key in ["funds", "credit", "credit_delay_ms", "reply", "warn_at_mb", "drain_mb",
                    "menu_order", "ussd", "check_charges", "check_balance_mb"] {
            let _ = c.set(key, &value);
        }
        let _ = c.set("drain_mb", "18446744073709551615");
        let _ = c.set("credit_delay_ms", "18446744073709551615");
        let _ = ask(&mut c, "AT+CUSD=1,\"*149*01#\",15");
        for _ in 0..4 {
            let _ = ask(&mut c, &format!("AT+CUSD=1,\"{menu}\",15"));
        }
        let _ = send(&mut c, "10086", "KTLL1G");
        c.advance(Duration::MAX);
    }
}

/// The text of a `+CUSD: <m>,"<str>",<dcs>` line, and `<m>`.
fn cusd(line: &str) -> (u8, String) {
    let rest = line.strip_prefix("+CUSD: ").expect("a +CUSD line");
    let status = rest.get(..1).and_then(|s| s.parse().ok()).expect("status");
    let text = rest.split('"').nth(1).unwrap_or("");
    let dcs = rest.rsplit(',').next().and_then(|d| d.parse().ok());
    (status, decode_ussd_reply(text, dcs))
}

/// The network's `+CUSD:` answer (status, text), if any, and the other URCs that follow.
type UssdOutcome = (Option<(u8, String)>, Vec<(Duration, String)>);

/// Sends a USSD string; the `+CUSD:` answer the network sends later (if any) and the other URCs.
fn ussd(c: &mut Carrier, s: &str) -> UssdOutcome {
    let r = ask(c, &format!("AT+CUSD=1,\"{s}\",15"));
    assert_eq!(r.answer, Answer::Ok(vec![]));
    let mut answer = None;
    let mut rest = Vec::new();
    for (d, l) in r.later {
        if l.starts_with("+CUSD:") {
            answer = Some(cusd(&l));
        } else {
            rest.push((d, l));
        }
    }
    (answer, rest)
}

/// The number of the menu line that contains `item`, as a flow's `choose` picks it.
fn pick(menu: &str, item: &str) -> String {
    menu.lines()
        .find_map(|l| {
            let (n, t) = l.split_once(". ")?;
            t.contains(item).then(|| n.to_string())
        })
        .unwrap_or_else(|| panic!("{item:?} is not in {menu:?}"))
}

/// Walks `*149*01#` → Internet → Monthly → 4920MB → Airtime by text; the last answer and URCs.
fn buy_4920(c: &mut Carrier) -> UssdOutcome {
    let (first, _) = ussd(c, "*149*01#");
    let mut menu = first.expect("the main menu").1;
    for item in ["Internet", "Monthly", "Tsh 10000 = 4920MB"] {
        let (a, _) = ussd(c, &pick(&menu, item));
        let (status, text) = a.expect("a menu");
        assert_eq!(status, 1, "{text}");
        menu = text;
    }
    assert!(menu.contains("M-Pesa"), "{menu}");
    ussd(c, &pick(&menu, "Airtime"))
}

/// Sender and text of stored message `i`, read in text mode.
fn read_text(c: &mut Carrier, i: u32) -> (String, String) {
    ask(c, "AT+CMGF=1");
    let l = lines(&ask(c, &format!("AT+CMGR={i}")));
    ask(c, "AT+CMGF=0");
    let sender = l[0].split('"').nth(3).unwrap_or("").to_string();
    (sender, l.get(1).cloned().unwrap_or_default())
}

#[test]
fn the_vodacom_menu_bought_by_text_confirms_then_credits_and_sends_the_receipt() {
    let mut c = Carrier::new();
    c.set("menu_order", "shuffle").unwrap();
    let (done, urcs) = buy_4920(&mut c);
    let (status, text) = done.expect("a confirmation");
    assert_eq!(status, 0);
    assert!(
        text.contains("received") && text.contains("4920MB"),
        "{text}"
    );
    // The receipt is announced with the credit, after the default 300 ms.
    assert_eq!(urcs.len(), 1, "{urcs:?}");
    assert_eq!(
        urcs[0],
        (shop::DEFAULT_CREDIT_DELAY, "+CMTI: \"SM\",1".into())
    );
    assert!(c.set("check_charges", "1").is_ok());
    assert!(c.set("check_balance_mb", "500").is_ok(), "not credited yet");
    c.advance(Duration::from_millis(299));
    assert!(c.set("check_balance_mb", "500").is_ok());
    c.advance(Duration::from_millis(300));
    assert!(c.set("check_balance_mb", "5420").is_ok());
    let (sender, receipt) = read_text(&mut c, 1);
    assert_eq!(sender, "Vodacom");
    assert_eq!(receipt, vodacom::receipt_sms(10_000, 4920));
    let (balance, _) = ussd(&mut c, "*100#");
    assert_eq!(balance.unwrap().1, texts::ussd_balance(Lang::En, 5420));
    let (charges, n) = c.charges();
    assert_eq!(
        (n, charges[0].price, charges[0].currency, charges[0].mb),
        (1, 10_000, "TZS", 4920)
    );
}

#[test]
fn insufficient_funds_refuse_the_menu_purchase_and_charge_nothing() {
    let mut c = Carrier::new();
    c.set("funds", "insufficient").unwrap();
    let (done, urcs) = buy_4920(&mut c);
    assert!(done.unwrap().1.contains("insufficient airtime balance"));
    assert_eq!(urcs.len(), 1, "the refusal SMS");
    assert!(read_text(&mut c, 1).1.contains("insufficient balance"));
    assert!(c.set("check_charges", "0").is_ok());
    let err = c.set("check_charges", "1").unwrap_err().unwrap();
    assert!(err.contains("charged 0 times"), "{err}");
}

#[test]
fn a_lost_reply_leaves_ok_without_an_answer_but_charges_and_credits() {
    let mut c = Carrier::new();
    c.set("reply", "lost").unwrap();
    c.set("credit_delay_ms", "50").unwrap();
    let (done, urcs) = buy_4920(&mut c);
    assert_eq!(done, None);
    assert!(urcs.is_empty(), "no receipt: {urcs:?}");
    c.advance(Duration::from_millis(60));
    assert!(c.set("check_charges", "1").is_ok());
    assert!(c.set("check_balance_mb", "5420").is_ok());
}

#[test]
fn a_carrier_that_never_credits_still_confirms_and_sends_the_receipt() {
    let mut c = Carrier::new();
    c.set("credit", "never").unwrap();
    let (done, urcs) = buy_4920(&mut c);
    assert!(done.unwrap().1.contains("received"));
    assert_eq!(urcs.len(), 1);
    c.advance(Duration::from_secs(3600));
    assert!(c.set("check_charges", "1").is_ok());
    assert!(c.set("check_balance_mb", "500").is_ok());
}

#[test]
fn ussd_error_refuses_at_the_modem_and_nothing_is_charged() {
    let mut c = Carrier::new();
    c.set("ussd", "error").unwrap();
    let r = ask(&mut c, "AT+CUSD=1,\"*149*01#\",15");
    assert_eq!(r.answer, Answer::CmeError(100));
    assert!(r.later.is_empty());
    assert_eq!(ask(&mut c, "AT+CUSD=2").answer, Answer::Ok(vec![]));
    c.set("ussd", "normal").unwrap();
    assert!(ussd(&mut c, "*149*01#").0.is_some());
    assert!(c.set("check_charges", "0").is_ok());
}

#[test]
fn ktll1g_by_sms_charges_and_the_chinese_receipt_comes_with_the_credit() {
    let mut c = Carrier::new();
    c.set("lang", "zh").unwrap();
    let replies = send(&mut c, "10086", "KTLL1G");
    let urcs = &replies[0].later;
    assert!(!urcs.is_empty());
    assert!(
        urcs.iter().all(|(d, _)| *d >= shop::DEFAULT_CREDIT_DELAY),
        "{urcs:?}"
    );
    assert!(c.set("check_charges", "1").is_ok());
    assert!(c.set("check_received", "KTLL1G").is_ok());
    let text: String = (1..=u32::try_from(urcs.len()).unwrap())
        .map(|i| read_text(&mut c, i).1)
        .collect();
    assert_eq!(text, receipts::keyword_receipt(Lang::Zh));
    assert!(text.contains("成功") && text.contains("1GB"));
    assert_eq!(read_text(&mut c, 1).0, "10086");
}

#[test]
fn draining_sends_each_warning_once_in_the_carriers_language() {
    let mut c = Carrier::new();
    c.set("lang", "ja").unwrap();
    let urcs = c.set("drain_mb", "1").unwrap();
    assert_eq!(urcs, [(Duration::ZERO, "+CMTI: \"SM\",1".to_string())]);
    assert!(read_text(&mut c, 1).1.contains("500MBを下回りました"));
    assert!(
        c.set("drain_mb", "1").unwrap().is_empty(),
        "once per crossing"
    );
    assert!(c.set("check_balance_mb", "498").is_ok());
    c.set("lang", "en").unwrap();
    let urcs = c.set("drain_mb", "1000").unwrap();
    assert_eq!(urcs.len(), 2, "100 MB and 0 MB: {urcs:?}");
    assert!(read_text(&mut c, 3)
        .1
        .contains("You have used all your data"));
    assert!(c.set("drain_mb", "lots").is_err());
    // Setting the balance outright warns no one.
    c.set("balance_mb", "50").unwrap();
    assert!(c.set("check_stored", "3").is_ok());
}

#[test]
fn the_old_products_still_answer_at_once_and_now_count_as_charges() {
    let mut c = Carrier::new();
    let (a, _) = ussd(&mut c, "*123*1#");
    assert_eq!(a.unwrap().1, texts::ussd_topped_up(Lang::En, 1, 1524));
    send(&mut c, "1234", "BUY 1GB");
    assert!(c.set("check_balance_mb", "2548").is_ok());
    assert!(c.set("check_charges", "2").is_ok());
}
