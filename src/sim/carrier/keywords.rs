//! The carrier's SMS services: keywords texted to a service number, answered by SMS.
//! SimCarrier's own short code 1234 (`BAL`, `BUY 1GB`, `BUY 5GB`) and China Mobile's 10086
//! (`CXLL` data query, `KTLL1G` 1GB add-on — carriers.md §2.4). Keywords are matched without
//! regard to case or surrounding spaces, as the carriers do.
//!
//! Pure: the answer is queued on the `Shop` as a notice; `Carrier` delivers it. Must not touch
//! the SMS storage.

use std::time::Duration;

use super::receipts::{self, KEYWORD_1GB, KEYWORD_NUMBER, KEYWORD_QUERY};
use super::shop::{Product, Sale, Shop};
use super::texts::{self, Lang, SHORT_CODE};

/// The 1GB add-on bought with `KTLL1G` (China Mobile's 10元 1GB 流量加油包).
const ADDON_1GB: Product = Product {
    name: KEYWORD_1GB,
    price: 10,
    currency: "CNY",
    mb: 1024,
    instant: false,
};

/// A whole SMS the subscriber sent to `dest`; `delay`: how long the service takes to answer.
pub fn on_sms(dest: &str, text: &str, shop: &mut Shop, lang: Lang, delay: Duration) {
    let dest = dest.trim_start_matches('+');
    let cmd = text.trim().to_ascii_uppercase();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if dest == SHORT_CODE {
        let reply = match words.as_slice() {
            ["BAL"] => Some(texts::sms_balance(lang, shop.balance_mb())),
            ["BUY", size @ ("1GB" | "5GB")] => {
                let (gb, price) = if *size == "1GB" { (1, 500) } else { (5, 2000) };
                let pack = Product {
                    name: if gb == 1 { "BUY 1GB" } else { "BUY 5GB" },
                    price,
                    currency: "JPY",
                    mb: gb * 1024,
                    instant: true,
                };
                match shop.buy(&pack) {
                    Sale::Refused => Some(receipts::simcarrier_refused(lang, gb)),
                    Sale::Sold { lost: true, .. } => None,
                    Sale::Sold { claimed_mb, .. } => {
                        Some(texts::sms_receipt(lang, gb, price, claimed_mb))
                    }
                }
            }
            _ => Some(texts::sms_help(lang)),
        };
        if let Some(r) = reply {
            shop.notify(SHORT_CODE, r, delay);
        }
    } else if dest == KEYWORD_NUMBER {
        let (reply, delay) = match words.as_slice() {
            [k] if *k == KEYWORD_QUERY => (
                Some(receipts::keyword_query(lang, shop.balance_mb())),
                delay,
            ),
            [k] if *k == KEYWORD_1GB => match shop.buy(&ADDON_1GB) {
                Sale::Refused => (Some(receipts::keyword_refused(lang)), delay),
                Sale::Sold { lost: true, .. } => (None, delay),
                // The receipt comes with the credit, not before it.
                Sale::Sold { .. } => (
                    Some(receipts::keyword_receipt(lang)),
                    delay.max(shop.receipt_delay()),
                ),
            },
            _ => (Some(receipts::keyword_help(lang)), delay),
        };
        if let Some(r) = reply {
            shop.notify(KEYWORD_NUMBER, r, delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(shop: &mut Shop, dest: &str, text: &str, lang: Lang) -> Vec<(String, String)> {
        on_sms(dest, text, shop, lang, Duration::from_millis(150));
        shop.take_notices()
            .into_iter()
            .map(|n| (n.sender, n.text))
            .collect()
    }

    #[test]
    fn ktll1g_buys_1gb_with_a_receipt_in_the_carriers_language() {
        for (lang, word) in [
            (Lang::Zh, "成功"),
            (Lang::Ja, "完了しました"),
            (Lang::En, "successfully"),
        ] {
            let mut shop = Shop::default();
            let got = reply(&mut shop, "10086", " ktll1g ", lang);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].0, "10086");
            assert!(
                got[0].1.contains(word) && got[0].1.contains("1GB"),
                "{got:?}"
            );
            assert_eq!(shop.charge_count(), 1);
            assert_eq!(shop.charges()[0].mb, 1024);
            shop.advance(Duration::from_secs(1));
            assert_eq!(shop.balance_mb(), 500 + 1024);
        }
    }

    #[test]
    fn without_funds_the_keyword_is_refused_and_nothing_is_charged() {
        let mut shop = Shop::default();
        shop.set("funds", "insufficient").unwrap();
        let got = reply(&mut shop, "+10086", "KTLL1G", Lang::Zh);
        assert!(got[0].1.contains("余额不足"));
        let got = reply(&mut shop, "1234", "BUY 1GB", Lang::En);
        assert!(got[0].1.contains("insufficient balance"));
        assert_eq!(shop.charge_count(), 0);
    }

    #[test]
    fn the_old_short_code_still_buys_at_once_and_counts_the_charge() {
        let mut shop = Shop::default();
        let got = reply(&mut shop, "1234", "buy 5gb", Lang::En);
        assert_eq!(
            got[0],
            (
                "1234".to_string(),
                texts::sms_receipt(Lang::En, 5, 2000, 500 + 5120)
            )
        );
        assert_eq!((shop.charge_count(), shop.balance_mb()), (1, 500 + 5120));
    }

    #[test]
    fn a_lost_reply_charges_silently_and_other_numbers_get_nothing() {
        let mut shop = Shop::default();
        shop.set("reply", "lost").unwrap();
        assert!(reply(&mut shop, "10086", "KTLL1G", Lang::Ja).is_empty());
        assert_eq!(shop.charge_count(), 1);
        assert!(reply(&mut shop, "+819011112222", "KTLL1G", Lang::Ja).is_empty());
        assert_eq!(shop.charge_count(), 1);
        let help = reply(&mut shop, "10086", "hello", Lang::En);
        assert!(help[0].1.contains("Unknown command"));
        let query = reply(&mut shop, "10086", "cxll", Lang::Zh);
        assert!(query[0].1.contains("剩余500MB"), "{query:?}");
    }
}
