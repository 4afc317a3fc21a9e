//! SMS and USSD through the real AT engine and a real pty, against the simulated modem and its
//! virtual carrier (`sim::carrier`): sending, the inbox's store-before-delete, a power cut
//! between the two, a full storage, USSD on generic and Huawei modems, menus, silence, and
//! injection attempts.

#[path = "support/carrier.rs"]
mod carrier_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use carrier_support::{
    db_path, eventually_async, first_scan_done, spawn_inbox, spawn_inbox_with, start_store,
    stored_texts, PowerCutAfterStore,
};
use simkeep::codec::concat::missing_marker;
use simkeep::codec::{encode_ussd_request, UssdEncoding};
use simkeep::error::ExitKind;
use simkeep::sim::carrier::texts::{self, Lang};
use simkeep::sim::{Fault, Personality};
use simkeep::sms::{send_sms, InboxConfig, SmsError};
use simkeep::ussd::{UssdClient, UssdError, UssdStatus};
use support::{eventually, Rig};
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(10);

fn count(seen: &[String], line: &str) -> usize {
    seen.iter().filter(|l| l.as_str() == line).count()
}

#[tokio::test(flavor = "current_thread")]
async fn a_two_part_ucs2_sms_reaches_the_carrier_whole() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let text = "你好！请帮我查一下这个月的流量还剩多少，谢谢。我下个月想换成更大的套餐，\
                有什么推荐吗？另外，国际漫游的费用是怎么计算的？周末之前回复我就可以了。";
    assert!(text.encode_utf16().count() > 70, "must need two UCS2 parts");
    let sent = send_sms(&at, "+819011112222", text).await.unwrap();
    assert_eq!(sent.references.len(), 2);
    assert!(!sent.text_mode);
    rig.sim.set("check_received", text).unwrap();
    let seen = rig.sim.commands_seen();
    assert!(
        seen.iter().filter(|l| l.starts_with("AT+CMGS=")).count() == 2,
        "{seen:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_chinese_two_part_reply_arriving_out_of_order_is_reassembled_stored_and_deleted() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.set("lang", "zh").unwrap();
    rig.sim.set("reply_order", "reverse").unwrap();
    let store = start_store(rig.dir.path());
    let inbox = spawn_inbox(&at, store.clone());
    // The inbox's first scan has run once CMGL was seen.
    assert!(first_scan_done(&rig).await);
    send_sms(&at, "1234", "BAL").await.unwrap();
    let expected = texts::sms_balance(Lang::Zh, 500);
    assert!(
        eventually_async(WAIT, || async {
            stored_texts(&store).await == [expected.clone()]
        })
        .await,
        "stored: {:?}",
        stored_texts(&store).await
    );
    assert!(eventually(WAIT, || rig.sim.set("check_stored", "0").is_ok()).await);
    inbox.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_message_missing_a_part_is_stored_marked_after_the_timeout_and_deleted() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.set("lang", "ja").unwrap();
    rig.sim.set("lose_part", "2").unwrap();
    let store = start_store(rig.dir.path());
    let cfg = InboxConfig {
        concat_timeout: Duration::from_secs(1),
        ..InboxConfig::default()
    };
    let inbox = spawn_inbox_with(&at, store.clone(), cfg);
    assert!(first_scan_done(&rig).await);
    send_sms(&at, "1234", "BAL").await.unwrap();
    // Part 1 waits on the modem for its partner, not deleted yet.
    assert!(eventually(WAIT, || rig.sim.set("check_stored", "1").is_ok()).await);
    assert!(stored_texts(&store).await.is_empty());
    let full = texts::sms_balance(Lang::Ja, 500);
    let first: String = full.chars().take(67).collect();
    let expected = format!("{first}{}", missing_marker(2, 2));
    assert!(
        eventually_async(WAIT, || async {
            stored_texts(&store).await == [expected.clone()]
        })
        .await,
        "stored: {:?}",
        stored_texts(&store).await
    );
    assert!(eventually(WAIT, || rig.sim.set("check_stored", "0").is_ok()).await);
    inbox.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_power_cut_between_store_and_delete_loses_and_duplicates_nothing() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let store = start_store(rig.dir.path());
    let stored = Arc::new(Notify::new());
    let sink = PowerCutAfterStore {
        store: store.clone(),
        stored: stored.clone(),
    };
    let inbox = spawn_inbox(&at, sink);
    assert!(first_scan_done(&rig).await);
    rig.sim
        .set("deliver_sms", "SimCarrier|Your plan renews tomorrow.")
        .unwrap();
    tokio::time::timeout(WAIT, stored.notified())
        .await
        .expect("the message is stored");
    inbox.kill().await;
    // Stored, still on the modem, never deleted.
    assert_eq!(stored_texts(&store).await, ["Your plan renews tomorrow."]);
    rig.sim.set("check_stored", "1").unwrap();
    assert!(!rig
        .sim
        .commands_seen()
        .iter()
        .any(|l| l.starts_with("AT+CMGD")));

    // Power back: the new inbox reads it again, the store keeps one copy, the modem is emptied.
    let inbox = spawn_inbox(&at, store.clone());
    assert!(eventually(WAIT, || rig.sim.set("check_stored", "0").is_ok()).await);
    assert_eq!(stored_texts(&store).await, ["Your plan renews tomorrow."]);
    inbox.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_storage_at_start_up_is_drained_without_loss() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    // 12 messages for a 10-slot storage: the network holds two until there is room.
    for i in 1..=12 {
        rig.sim
            .set("deliver_sms", &format!("SimCarrier|notice {i}"))
            .unwrap();
    }
    let cpms = at.run("AT+CPMS?").await.unwrap();
    assert_eq!(
        cpms.lines,
        ["+CPMS: \"SM\",10,10,\"SM\",10,10,\"SM\",10,10"]
    );
    let store = start_store(rig.dir.path());
    let inbox = spawn_inbox(&at, store.clone());
    let mut want: Vec<String> = (1..=12).map(|i| format!("notice {i}")).collect();
    want.sort();
    assert!(
        eventually_async(WAIT, || async {
            let mut got = stored_texts(&store).await;
            got.sort();
            got == want
        })
        .await,
        "stored: {:?}",
        stored_texts(&store).await
    );
    assert!(eventually(WAIT, || rig.sim.set("check_stored", "0").is_ok()).await);
    inbox.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn direct_delivery_with_cmt_is_stored_too() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let store = start_store(rig.dir.path());
    let inbox = spawn_inbox(&at, store.clone());
    assert!(first_scan_done(&rig).await);
    at.run("AT+CNMI=2,2,0,0,0").await.unwrap();
    rig.sim
        .set("deliver_sms", "1234|routed straight to you")
        .unwrap();
    assert!(
        eventually_async(WAIT, || async {
            stored_texts(&store).await == ["routed straight to you"]
        })
        .await
    );
    rig.sim.set("check_stored", "0").unwrap();
    inbox.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn sms_settings_are_applied_again_after_a_modem_restart() {
    let rig = Rig::new(Personality::QuectelEc25);
    let at = rig.engine().await;
    let store = start_store(rig.dir.path());
    let inbox = spawn_inbox(&at, store.clone());
    let cnmi = "AT+CNMI=2,1,0,0,0";
    assert!(
        eventually(WAIT, || count(&rig.sim.commands_seen(), cnmi) == 1).await,
        "{:?}",
        rig.sim.commands_seen()
    );
    rig.sim.fault(Fault::Reboot);
    assert!(
        eventually(WAIT, || count(&rig.sim.commands_seen(), cnmi) == 2).await,
        "{:?}",
        rig.sim.commands_seen()
    );
    assert_eq!(
        count(&rig.sim.commands_seen(), "AT+CPMS=\"SM\",\"SM\",\"SM\""),
        2
    );
    inbox.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn text_mode_is_used_when_the_modem_refuses_pdu_mode_and_cms_errors_are_reported() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.set("pdu", "off").unwrap();
    let sent = send_sms(&at, "1234", "BAL").await.unwrap();
    assert!(sent.text_mode);
    rig.sim.set("check_received", "BAL").unwrap();
    rig.sim.set("pdu", "on").unwrap();
    rig.sim.set("sms_error", "500").unwrap();
    match send_sms(&at, "1234", "BAL").await {
        Err(SmsError::Refused {
            code: Some(500),
            part: 1,
            ..
        }) => {}
        other => panic!("expected +CMS ERROR: 500, got {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ussd_balance_query_on_a_generic_modem() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let client = UssdClient::detect(at.clone()).await;
    let text = client.query("*100#").await.unwrap();
    assert_eq!(text, texts::ussd_balance(Lang::En, 500));
    assert!(rig
        .sim
        .commands_seen()
        .contains(&"AT+CUSD=1,\"*100#\",15".to_string()));
}

#[tokio::test(flavor = "current_thread")]
async fn ussd_balance_query_on_a_huawei_stick_uses_packed_hex_both_ways() {
    let rig = Rig::new(Personality::HuaweiE3372);
    let at = rig.engine().await;
    rig.sim.set("lang", "ja").unwrap();
    let client = UssdClient::detect(at.clone()).await;
    let text = client.query("*100#").await.unwrap();
    assert_eq!(text, texts::ussd_balance(Lang::Ja, 500));
    let packed = encode_ussd_request("*100#", UssdEncoding::Gsm7Hex).unwrap();
    let seen = rig.sim.commands_seen();
    assert!(
        seen.contains(&format!("AT+CUSD=1,\"{}\",15", packed.payload)),
        "{seen:?}"
    );
    assert!(
        !seen.contains(&"AT+CUSD=1,\"*100#\",15".to_string()),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_guessing_plain_text_on_a_huawei_falls_back_to_packed_hex() {
    let rig = Rig::new(Personality::HuaweiE3372);
    let at = rig.engine().await;
    let client = UssdClient::new(at.clone(), false);
    assert_eq!(
        client.query("*100#").await.unwrap(),
        texts::ussd_balance(Lang::En, 500)
    );
    // It remembers: the second query goes packed at once.
    client.query("*100#").await.unwrap();
    assert_eq!(count(&rig.sim.commands_seen(), "AT+CUSD=1,\"*100#\",15"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_two_level_menu_with_replies_buys_data() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let client = UssdClient::new(at.clone(), false);
    let (mut session, first) = client.start("*123#").await.unwrap();
    assert_eq!(first.status, UssdStatus::Menu);
    assert_eq!(first.text, "1. Buy data\n2. Balance\n0. Exit");
    assert_eq!(session.reply("1").await.unwrap().status, UssdStatus::Menu);
    let confirm = session.reply("2").await.unwrap();
    assert_eq!(confirm.text, texts::menu_confirm(Lang::En, 5, 2000));
    let done = session.reply("1").await.unwrap();
    assert_eq!(done.status, UssdStatus::Done);
    assert_eq!(
        done.text,
        texts::ussd_topped_up(Lang::En, 5, 500 + 5 * 1024)
    );
    assert!(!session.is_open());
    drop(session);
    // The CLI handler walks the same menu from --reply values.
    let replies = ["1".to_string(), "1".to_string(), "1".to_string()];
    simkeep::cli::ussd::ussd(&at, "*123#", &replies, Some("generic"), false)
        .await
        .unwrap();
    let balance = client.query("*100#").await.unwrap();
    assert_eq!(balance, texts::ussd_balance(Lang::En, 500 + 6 * 1024));
}

#[tokio::test(flavor = "current_thread")]
async fn an_answer_before_ok_is_not_lost() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.set("ussd_urc", "before").unwrap();
    let client = UssdClient::new(at.clone(), false);
    assert_eq!(
        client.query("*100#").await.unwrap(),
        texts::ussd_balance(Lang::En, 500)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_silent_session_times_out_and_is_cancelled() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim.set("ussd", "silent").unwrap();
    let client = UssdClient::new(at.clone(), false).with_timeout(Duration::from_millis(500));
    match client.query("*100#").await {
        Err(UssdError::Timeout { code, .. }) => assert_eq!(code, "*100#"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let seen = rig.sim.commands_seen();
    let req = seen
        .iter()
        .position(|l| l == "AT+CUSD=1,\"*100#\",15")
        .unwrap();
    assert!(seen.iter().skip(req).any(|l| l == "AT+CUSD=2"), "{seen:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_menu_left_open_is_cancelled_before_the_next_session() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let client = UssdClient::new(at.clone(), false);
    let (session, _) = client.start("*123#").await.unwrap();
    drop(session);
    assert_eq!(
        client.query("*100#").await.unwrap(),
        texts::ussd_balance(Lang::En, 500)
    );
    let seen = rig.sim.commands_seen();
    let cancel = seen
        .iter()
        .position(|l| l == "AT+CUSD=2")
        .expect("cancelled");
    let next = seen
        .iter()
        .position(|l| l == "AT+CUSD=1,\"*100#\",15")
        .unwrap();
    assert!(cancel < next, "{seen:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_ussd_code_carrying_a_second_command_never_reaches_the_modem() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    let evil = "*100#\"\r\nAT+CFUN=0";
    let client = UssdClient::new(at.clone(), false);
    assert!(matches!(
        client.query(evil).await,
        Err(UssdError::Invalid(_))
    ));
    let err = simkeep::cli::ussd::ussd(&at, evil, &[], None, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ExitKind::Config);
    assert!(err.message.contains("0-9 * # +"), "{}", err.message);
    let err = simkeep::cli::ussd::ussd(&at, "*123#", &[evil.to_string()], None, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ExitKind::Config);
    let err = simkeep::cli::sms::sms_send(&at, "1234\r\nAT+CFUN=0", "hi", false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ExitKind::Config);
    at.run("AT").await.unwrap();
    let seen = rig.sim.commands_seen();
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("CFUN") || l.contains("CUSD") || l.contains("CMGS")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_cli_lists_reads_and_deletes_on_the_modem_and_in_the_store() {
    let rig = Rig::new(Personality::Generic);
    let at = rig.engine().await;
    rig.sim
        .set("deliver_sms", "SimCarrier|hello from the carrier")
        .unwrap();
    simkeep::cli::sms::sms_list_modem(&at, true).await.unwrap();
    simkeep::cli::sms::sms_read_modem(&at, 1, false)
        .await
        .unwrap();
    let err = simkeep::cli::sms::sms_read_modem(&at, 7, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ExitKind::ModemRefused, "{}", err.message);
    simkeep::cli::sms::sms_delete_modem(&at, 1, false)
        .await
        .unwrap();
    rig.sim.set("check_stored", "0").unwrap();

    rig.sim
        .set("deliver_sms", "SimCarrier|kept in the store")
        .unwrap();
    let store = start_store(rig.dir.path());
    let inbox = spawn_inbox(&at, store.clone());
    assert!(eventually_async(WAIT, || async { stored_texts(&store).await.len() == 1 }).await);
    inbox.stop().await;
    store.shutdown().await.unwrap();
    drop(store);
    let path = db_path(rig.dir.path());
    simkeep::cli::sms::sms_list_store(&path, true)
        .await
        .unwrap();
    simkeep::cli::sms::sms_read_store(&path, 1, false)
        .await
        .unwrap();
    simkeep::cli::sms::sms_delete_store(&path, 1).await.unwrap();
    let err = simkeep::cli::sms::sms_read_store(&path, 1, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ExitKind::Failure);
    let err = simkeep::cli::sms::sms_list_store(&rig.dir.path().join("nope.db"), false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ExitKind::Config);
}
