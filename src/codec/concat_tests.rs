//! Tests for `concat`: splitting rules from TS 23.040/23.038 and ModemManager's text-split
//! tests (src/tests/test-sms-part-3gpp.c), and reassembly under loss, reordering and duplication.

use super::*;

fn part(sender: &str, reference: u16, total: u8, seq: u8, text: &str) -> Part {
    Part {
        sender: sender.into(),
        concat: Some(ConcatInfo {
            reference,
            total,
            seq,
        }),
        text: text.into(),
        timestamp: 1000 + i64::from(seq),
    }
}

#[test]
fn one_hundred_sixty_gsm7_characters_fit_one_part_and_one_more_needs_two() {
    // ModemManager test_text_split_max_single_pdu / test_text_split_two_pdu.
    let digits = "0123456789".repeat(16);
    assert_eq!(
        split_text(&digits, Alphabet::Gsm7).unwrap(),
        [digits.as_str()]
    );
    let longer = format!("{digits}0");
    let parts = split_text(&longer, Alphabet::Gsm7).unwrap();
    assert_eq!(parts.iter().map(String::len).collect::<Vec<_>>(), [153, 8]);
    assert_eq!(parts.concat(), longer);
}

#[test]
fn seventy_ucs2_units_fit_one_part_and_seventy_one_need_two() {
    // ModemManager test_text_split_max_single_pdu_ucs2 / test_text_split_two_pdu_ucs2.
    let seventy = "你好".repeat(35);
    assert_eq!(split_text(&seventy, Alphabet::Ucs2).unwrap().len(), 1);
    let parts = split_text(&format!("{seventy}好"), Alphabet::Ucs2).unwrap();
    assert_eq!(parts, ["你好".repeat(33) + "你", "好你好好".to_string()]);
}

#[test]
fn an_escape_pair_is_never_split() {
    // 152 plain septets then '€' (2 septets): the euro must move whole to part 2.
    let text = "a".repeat(152) + "€" + &"b".repeat(10);
    let parts = split_text(&text, Alphabet::Gsm7).unwrap();
    assert_eq!(parts.first().map(String::len), Some(152));
    assert!(parts.get(1).is_some_and(|p| p.starts_with('€')));
}

#[test]
fn extension_characters_count_two_toward_the_single_part_limit() {
    let text = "€".repeat(80);
    assert_eq!(split_text(&text, Alphabet::Gsm7).unwrap().len(), 1);
    assert_eq!(
        split_text(&format!("{text}a"), Alphabet::Gsm7)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn alphabet_choice_falls_back_to_ucs2() {
    assert_eq!(choose_alphabet("Hello {€}", false), Alphabet::Gsm7);
    assert_eq!(choose_alphabet("Hello", true), Alphabet::Ucs2);
    assert_eq!(choose_alphabet("Привет", false), Alphabet::Ucs2);
    assert!(split_text("Привет", Alphabet::Gsm7).is_err());
}

#[test]
fn parts_in_any_order_with_duplicates_reassemble_once() {
    let mut r = Reassembler::new(8);
    assert_eq!(r.push(part("+1", 7, 3, 3, "C"), 10), None);
    assert_eq!(r.push(part("+1", 7, 3, 1, "A"), 11), None);
    assert_eq!(
        r.push(part("+1", 7, 3, 3, "X"), 12),
        None,
        "duplicate ignored"
    );
    let done = r.push(part("+1", 7, 3, 2, "B"), 13).unwrap();
    assert_eq!(
        (done.text.as_str(), done.parts, done.timestamp),
        ("ABC", 3, 1001)
    );
    assert_eq!(r.pending(), 0);
    assert!(r.expire(1_000_000, 1).is_empty());
}

#[test]
fn same_reference_from_different_senders_stays_apart() {
    let mut r = Reassembler::new(8);
    assert_eq!(r.push(part("+1", 7, 2, 1, "a1"), 0), None);
    assert_eq!(r.push(part("+2", 7, 2, 2, "b2"), 0), None);
    assert_eq!(
        r.push(part("+1", 7, 2, 2, "a2"), 0).map(|c| c.text),
        Some("a1a2".into())
    );
    assert_eq!(r.pending(), 1);
}

#[test]
fn single_messages_pass_straight_through() {
    let mut r = Reassembler::new(1);
    let p = Part {
        sender: "InternetSMS".into(),
        concat: None,
        text: "hi".into(),
        timestamp: 5,
    };
    assert_eq!(
        r.push(p, 0).map(|c| (c.text, c.parts)),
        Some(("hi".into(), 1))
    );
}

#[test]
fn parts_that_never_come_are_marked_when_the_group_expires() {
    let mut r = Reassembler::new(8);
    assert_eq!(r.push(part("+1", 9, 3, 2, "middle"), 100), None);
    assert!(r.expire(159, 60).is_empty(), "not yet timed out");
    let gone = r.expire(160, 60);
    assert_eq!(gone.len(), 1);
    let g = gone.first().unwrap();
    assert_eq!(g.missing, [1, 3]);
    assert_eq!(g.text, "[part 1/3 missing]middle[part 3/3 missing]");
    assert_eq!(r.pending(), 0);
}

#[test]
fn pending_groups_are_capped_and_the_evicted_one_is_reported() {
    let mut r = Reassembler::new(2);
    assert_eq!(r.push(part("+1", 1, 2, 1, "old"), 0), None);
    assert_eq!(r.push(part("+1", 2, 2, 1, "mid"), 5), None);
    assert_eq!(r.push(part("+1", 3, 2, 1, "new"), 9), None);
    assert_eq!(r.pending(), 2);
    let out = r.expire(10, 3600);
    assert_eq!(out.iter().map(|i| i.reference).collect::<Vec<_>>(), [1]);
    // A late part of the evicted group starts a fresh group instead of panicking.
    assert_eq!(r.push(part("+1", 1, 2, 2, "late"), 11), None);
}

#[test]
fn wild_times_do_not_overflow() {
    let mut r = Reassembler::new(2);
    assert_eq!(r.push(part("+1", 1, 2, 1, "x"), i64::MIN), None);
    assert_eq!(r.expire(i64::MAX, i64::MAX).len(), 1);
    assert_eq!(r.push(part("+1", 1, 2, 1, "x"), i64::MAX), None);
    assert!(r.expire(i64::MIN, 0).is_empty());
}

proptest::proptest! {
    #[test]
    fn arbitrary_part_streams_never_panic_and_stay_bounded(
        parts in proptest::collection::vec((0u8..3, any_concat(), -5i64..5), 0..200),
        cap in 0usize..5,
    ) {
        let mut r = Reassembler::new(cap);
        for (i, (sender, concat, dt)) in parts.into_iter().enumerate() {
            let now = i64::try_from(i).unwrap_or(0).saturating_mul(10).saturating_add(dt);
            let p = Part { sender: sender.to_string(), concat, text: "x".into(), timestamp: now };
            let _ = r.push(p, now);
            proptest::prop_assert!(r.pending() <= cap.max(1));
            if i % 17 == 0 {
                let _ = r.expire(now, 30);
            }
        }
    }
}

fn any_concat() -> impl proptest::strategy::Strategy<Value = Option<ConcatInfo>> {
    use proptest::prelude::*;
    proptest::option::of(
        (0u16..4, any::<u8>(), any::<u8>()).prop_map(|(reference, total, seq)| ConcatInfo {
            reference,
            total: total % 5,
            seq: seq % 6,
        }),
    )
}
