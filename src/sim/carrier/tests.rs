//! Tests for the carrier: the TS 27.005 answers and the short-code/USSD services, driven the way
//! the framework drives them.

use super::*;
use crate::codec::{decode_ussd_reply, encode_submit, SubmitOptions};
use proptest::prelude::*;

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
}
