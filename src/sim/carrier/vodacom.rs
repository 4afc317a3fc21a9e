//! The `*149*01#` data-bundle menu, modelled on Vodacom Tanzania's as captured on an OpenWrt
//! router (carriers.md §2.3, 4IceG/luci-app-sms-tool-js#29): main menu → "Internet" →
//! "Daily"/"Weekly"/"Monthly" → priced bundles ("Tsh 10000 = 4920MB") → payment ("M-Pesa",
//! "Airtime") → "You have received …". The main, Internet and Monthly menus are the captured
//! ones; the Daily and Weekly bundles and the payment/confirmation wording are made up in the
//! same style. The texts are English whatever `lang=` says, as captured.
//!
//! `menu_order=` makes the numbered items change order (and so numbering) from one session to
//! the next, as real menus do when offers come and go: a flow that picks by text keeps working,
//! one that picks by position does not. The order is fixed within a session (it comes from the
//! session's seed), so the number the user sees is the number that is understood.
//!
//! Pure: a choice in, the network's answer and the next menu out; buying goes through `Shop`.

use super::receipts::VODACOM_SENDER;
use super::shop::{Product, Sale, Shop};
use super::ussd::NetAnswer;

pub const CODE: &str = "*149*01#";
const CURRENCY: &str = "TZS";
/// The longest USSD string (TS 23.038 §6.1.2.3.1: 160 octets = 182 septets).
pub const MAX_SEPTETS: usize = 182;

/// How menu items are ordered in each session (`menu_order=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MenuOrder {
    #[default]
    Normal,
    Reverse,
    /// A different order in every session.
    Shuffle,
}

impl MenuOrder {
    pub fn parse(v: &str) -> Option<MenuOrder> {
        match v.trim() {
            "normal" => Some(MenuOrder::Normal),
            "reverse" => Some(MenuOrder::Reverse),
            "shuffle" => Some(MenuOrder::Shuffle),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

/// Where the user is in the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Main,
    Internet,
    Bundles(Period),
    /// Paying for bundle `usize` (its index in the period's list).
    Pay(Period, usize),
}

/// An open `*149*01#` session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub level: Level,
    seed: u64,
    order: MenuOrder,
}

const MAIN: [&str; 10] = [
    "North Offers",
    "Just for You",
    "Cheka,SMS&Pindua",
    "Internet",
    "RED Relax",
    "NipigeTafu",
    "Simba&Lifestyle",
    "Tuzo",
    "Roaming & International",
    "Self Service",
];
const INTERNET_AT: usize = 3;

/// "10. Next" stays last, numbered after the others, as a pager does.
const INTERNET: [&str; 9] = [
    "Daily",
    "Weekly",
    "Monthly",
    "Social+Video Bundles",
    "5G Bundles",
    "5G Home Internet",
    "Buy for a friend",
    "Showmax",
    "Buy me a Bundle",
];

/// A bundle line: its label, and (price in Tsh, MB) when it can be bought here.
type Bundle = (&'static str, Option<(u64, u64)>);

const DAILY: [Bundle; 3] = [
    ("Tsh 500 = 250MB/24hrs", Some((500, 250))),
    ("Tsh 1000 = 600MB/24hrs", Some((1000, 600))),
    ("Tsh 2000 = 1536MB/24hrs", Some((2000, 1536))),
];
const WEEKLY: [Bundle; 2] = [
    ("Tsh 3000 = 1200MB/7days", Some((3000, 1200))),
    ("Tsh 5000 = 2400MB/7days", Some((5000, 2400))),
];
const MONTHLY: [Bundle; 5] = [
    ("Kasi/30 Days", None),
    ("Tsh 10000 = 4920MB", Some((10_000, 4920))),
    ("Tsh 20000 = 9800MB", Some((20_000, 9800))),
    ("Tsh 35000 = 17240MB", Some((35_000, 17_240))),
    ("Tsh 50000 = 24600MB/60days", Some((50_000, 24_600))),
];
const PAY: [&str; 2] = ["M-Pesa", "Airtime"];
const PAY_AIRTIME: usize = 1;

fn bundles(p: Period) -> &'static [Bundle] {
    match p {
        Period::Daily => &DAILY,
        Period::Weekly => &WEEKLY,
        Period::Monthly => &MONTHLY,
    }
}

fn labels(level: Level) -> Vec<&'static str> {
    match level {
        Level::Main => MAIN.to_vec(),
        Level::Internet => INTERNET.to_vec(),
        Level::Bundles(p) => bundles(p).iter().map(|b| b.0).collect(),
        Level::Pay(..) => PAY.to_vec(),
    }
}

/// Lines under the numbered items.
fn footer(level: Level) -> &'static [&'static str] {
    match level {
        Level::Main => &[],
        Level::Internet | Level::Pay(..) => &["00 back"],
        Level::Bundles(_) => &["00 back", "99 Main"],
    }
}

/// Text of a session that has ended (status 0: no further action).
fn end(text: impl Into<String>) -> NetAnswer {
    NetAnswer {
        status: 0,
        text: Some(text.into()),
    }
}

fn menu(text: String) -> NetAnswer {
    NetAnswer {
        status: 1,
        text: Some(text),
    }
}

const UNAVAILABLE: &str =
    "Huduma hii haipatikani kwa sasa. This service is not available at the moment.";

/// Opens a session: the main menu. `seed` must differ between sessions for `Shuffle`.
pub fn start(seed: u64, order: MenuOrder) -> (NetAnswer, Session) {
    let s = Session {
        level: Level::Main,
        seed,
        order,
    };
    (menu(render(&s)), s)
}

/// The menu text of the session's level, numbered in the session's order.
pub fn render(s: &Session) -> String {
    let labels = labels(s.level);
    let order = permutation(labels.len(), s.order, s.seed, s.level);
    let mut lines = Vec::with_capacity(labels.len() + 4);
    if let Level::Pay(p, i) = s.level {
        let label = bundles(p).get(i).map_or("", |b| b.0);
        lines.push(format!("{label}\nPay with:"));
    }
    for (n, &k) in order.iter().enumerate() {
        lines.push(format!(
            "{}. {}",
            n + 1,
            labels.get(k).copied().unwrap_or("")
        ));
    }
    if s.level == Level::Internet {
        lines.push(format!("{}. Next", labels.len() + 1));
    }
    lines.extend(footer(s.level).iter().map(|l| l.to_string()));
    lines.join("\n")
}

/// Answers a reply typed while the session is open; the next session state, if still open.
/// `None` answer: the reply is lost (`reply=lost` after a purchase).
pub fn choose(s: Session, input: &str, shop: &mut Shop) -> (Option<NetAnswer>, Option<Session>) {
    let to = |level: Level| {
        let next = Session { level, ..s };
        (Some(menu(render(&next))), Some(next))
    };
    let back = match s.level {
        Level::Main => None,
        Level::Internet => Some(Level::Main),
        Level::Bundles(_) => Some(Level::Internet),
        Level::Pay(p, _) => Some(Level::Bundles(p)),
    };
    match (input, back) {
        ("00", Some(up)) => return to(up),
        ("99", Some(_)) => return to(Level::Main),
        _ => {}
    }
    let labels = labels(s.level);
    let order = permutation(labels.len(), s.order, s.seed, s.level);
    let picked = input
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| order.get(i).copied());
    let Some(k) = picked else {
        // "10. Next" and anything not on the menu.
        if s.level == Level::Internet && input.parse::<usize>().ok() == Some(labels.len() + 1) {
            return (Some(end(UNAVAILABLE)), None);
        }
        return (
            Some(menu(format!(
                "Invalid input, please try again.\n{}",
                render(&s)
            ))),
            Some(s),
        );
    };
    match s.level {
        Level::Main if k == INTERNET_AT => to(Level::Internet),
        Level::Internet => match k {
            0 => to(Level::Bundles(Period::Daily)),
            1 => to(Level::Bundles(Period::Weekly)),
            2 => to(Level::Bundles(Period::Monthly)),
            _ => (Some(end(UNAVAILABLE)), None),
        },
        Level::Bundles(p) => match bundles(p).get(k) {
            Some((_, Some(_))) => to(Level::Pay(p, k)),
            _ => (Some(end(UNAVAILABLE)), None),
        },
        Level::Pay(p, i) => match bundles(p).get(i) {
            Some(&(label, Some((price, mb)))) if k == PAY_AIRTIME => {
                (pay_with_airtime(shop, label, price, mb), None)
            }
            Some(&(_, Some((price, _)))) => (
                Some(end(format!(
                    "Please complete the payment of Tsh {price} on the M-Pesa prompt sent to \
                     your phone."
                ))),
                None,
            ),
            _ => (Some(end(UNAVAILABLE)), None),
        },
        Level::Main => (Some(end(UNAVAILABLE)), None),
    }
}

/// The purchase itself: the confirmation now, the receipt SMS from "Vodacom" with the credit.
fn pay_with_airtime(
    shop: &mut Shop,
    label: &'static str,
    price: u64,
    mb: u64,
) -> Option<NetAnswer> {
    let product = Product {
        name: label,
        price,
        currency: CURRENCY,
        mb,
        instant: false,
    };
    match shop.buy(&product) {
        Sale::Refused => {
            shop.notify(
                VODACOM_SENDER,
                format!(
                    "Dear Customer, your request for {mb}MB bundle could not be completed due to \
                     insufficient balance. Recharge and dial *149*01# to try again."
                ),
                shop.receipt_delay(),
            );
            Some(end(format!(
                "Sorry, you have insufficient airtime balance to buy {label}. Please recharge \
                 and try again."
            )))
        }
        Sale::Sold { lost: true, .. } => None,
        Sale::Sold { lost: false, .. } => {
            shop.notify(VODACOM_SENDER, receipt_sms(price, mb), shop.receipt_delay());
            Some(end(format!(
                "You have received {mb}MB valid for 30 days. Tsh {price} has been deducted from \
                 your airtime. You will receive an SMS confirmation."
            )))
        }
    }
}

/// The receipt SMS from "Vodacom" (one GSM-7 part).
pub fn receipt_sms(price: u64, mb: u64) -> String {
    format!(
        "Dear Customer, you have successfully purchased {mb}MB Internet bundle for Tsh {price}, \
         valid until 27/12/2026 23:59. Dial *149*01# to buy more."
    )
}

/// The order items are shown in: `order[n]` is the item shown as number `n + 1`.
fn permutation(len: usize, order: MenuOrder, seed: u64, level: Level) -> Vec<usize> {
    let mut v: Vec<usize> = (0..len).collect();
    match order {
        MenuOrder::Normal => {}
        MenuOrder::Reverse => v.reverse(),
        MenuOrder::Shuffle => {
            let salt = match level {
                Level::Main => 1,
                Level::Internet => 2,
                Level::Bundles(p) => 3 + p as u64,
                Level::Pay(p, i) => 16 + (p as u64) * 64 + i as u64,
            };
            let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
            // Fisher–Yates with splitmix64: deterministic per (session, menu), no dependency.
            for i in (1..len).rev() {
                let r = splitmix64(&mut state);
                let j = usize::try_from(r % (i as u64 + 1)).unwrap_or(0);
                v.swap(i, j);
            }
            // A shuffle that happens to come out in order would not change anything.
            if v.iter().enumerate().all(|(i, &k)| i == k) {
                v.rotate_left(1.min(len));
            }
        }
    }
    v
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number of the menu line whose text contains `item` — what a flow's `choose` does.
    fn number_of(menu: &str, item: &str) -> String {
        menu.lines()
            .find_map(|l| {
                let (n, text) = l.split_once(". ")?;
                text.contains(item).then(|| n.to_string())
            })
            .unwrap_or_else(|| panic!("{item:?} not in {menu:?}"))
    }

    fn walk(shop: &mut Shop, seed: u64, order: MenuOrder, path: &[&str]) -> NetAnswer {
        let (mut a, mut s) = start(seed, order);
        for item in path {
            let n = number_of(a.text.as_deref().unwrap(), item);
            let (next_a, next_s) = choose(s, &n, shop);
            a = next_a.expect("an answer");
            s = next_s.unwrap_or(s);
        }
        a
    }

    const PATH: [&str; 4] = ["Internet", "Monthly", "Tsh 10000 = 4920MB", "Airtime"];

    #[test]
    fn the_captured_menus_come_first_in_normal_order() {
        let (a, s) = start(1, MenuOrder::Normal);
        assert_eq!(a.status, 1);
        let text = a.text.unwrap();
        assert!(
            text.starts_with("1. North Offers\n2. Just for You\n"),
            "{text}"
        );
        assert!(text.ends_with("10. Self Service"), "{text}");
        let mut shop = Shop::default();
        let (a, s) = choose(s, "4", &mut shop);
        let internet = a.unwrap().text.unwrap();
        assert!(internet.contains("3. Monthly\n") && internet.ends_with("10. Next\n00 back"));
        let (a, _) = choose(s.unwrap(), "3", &mut shop);
        assert_eq!(
            a.unwrap().text.unwrap(),
            "1. Kasi/30 Days\n2. Tsh 10000 = 4920MB\n3. Tsh 20000 = 9800MB\n\
             4. Tsh 35000 = 17240MB\n5. Tsh 50000 = 24600MB/60days\n00 back\n99 Main"
        );
    }

    #[test]
    fn choosing_by_text_buys_in_every_order_and_charges_once() {
        for order in [MenuOrder::Normal, MenuOrder::Reverse, MenuOrder::Shuffle] {
            for seed in 1..20 {
                let mut shop = Shop::default();
                let done = walk(&mut shop, seed, order, &PATH);
                assert_eq!(done.status, 0);
                assert!(done.text.unwrap().starts_with("You have received 4920MB"));
                assert_eq!(shop.charge_count(), 1);
                assert_eq!(shop.charges()[0].price, 10_000);
                let notices = shop.take_notices();
                assert_eq!(notices[0].sender, "Vodacom");
                assert!(notices[0].text.contains("4920MB"));
            }
        }
    }

    #[test]
    fn shuffled_menus_differ_between_sessions_and_choosing_by_position_goes_wrong() {
        let texts: Vec<String> = (1..6)
            .map(|seed| start(seed, MenuOrder::Shuffle).0.text.unwrap())
            .collect();
        assert!(texts.windows(2).any(|w| w[0] != w[1]), "{texts:?}");
        assert!(texts.iter().all(|t| t.lines().count() == 10));
        // Someone who learnt "4 = Internet" from the normal menu lands elsewhere.
        let reversed = start(1, MenuOrder::Reverse).0.text.unwrap();
        assert!(reversed.starts_with("1. Self Service\n"), "{reversed}");
        let mut shop = Shop::default();
        let (a, _) = choose(start(1, MenuOrder::Reverse).1, "4", &mut shop);
        assert!(!a.unwrap().text.unwrap().contains("Monthly"));
    }

    #[test]
    fn back_main_invalid_and_mpesa_charge_nothing() {
        let mut shop = Shop::default();
        let (_, s) = start(1, MenuOrder::Normal);
        let (_, s) = choose(s, "4", &mut shop);
        let (_, s) = choose(s.unwrap(), "3", &mut shop);
        let (a, s2) = choose(s.unwrap(), "99", &mut shop);
        assert!(a.unwrap().text.unwrap().starts_with("1. North Offers"));
        assert_eq!(s2.unwrap().level, Level::Main);
        let (a, s3) = choose(s.unwrap(), "00", &mut shop);
        assert!(a.unwrap().text.unwrap().contains("Monthly"));
        assert_eq!(s3.unwrap().level, Level::Internet);
        let (a, same) = choose(s.unwrap(), "42", &mut shop);
        assert!(a.unwrap().text.unwrap().starts_with("Invalid input"));
        assert_eq!(same, s);
        let (a, _) = choose(s.unwrap(), "1", &mut shop);
        assert_eq!(
            a.unwrap().text.unwrap(),
            UNAVAILABLE,
            "Kasi is not sold here"
        );
        let mpesa = walk(
            &mut shop,
            1,
            MenuOrder::Normal,
            &["Internet", "Monthly", "4920MB", "M-Pesa"],
        );
        assert!(mpesa.text.unwrap().contains("M-Pesa prompt"));
        assert_eq!(shop.charge_count(), 0);
    }

    #[test]
    fn insufficient_airtime_is_refused_by_ussd_and_sms_and_a_lost_reply_is_silent() {
        let mut shop = Shop::default();
        shop.set("funds", "insufficient").unwrap();
        let refused = walk(&mut shop, 1, MenuOrder::Normal, &PATH);
        assert!(refused.text.unwrap().contains("insufficient airtime"));
        assert_eq!(shop.charge_count(), 0);
        assert!(shop.take_notices()[0].text.contains("insufficient balance"));
        shop.set("funds", "ok").unwrap();
        shop.set("reply", "lost").unwrap();
        let (a, mut s) = start(1, MenuOrder::Normal);
        let mut text = a.text.unwrap();
        for item in &PATH[..3] {
            let (a, next) = choose(s, &number_of(&text, item), &mut shop);
            text = a.expect("menus still answer").text.unwrap();
            s = next.unwrap();
        }
        let (a, next) = choose(s, &number_of(&text, "Airtime"), &mut shop);
        assert!(a.is_none() && next.is_none(), "the confirmation is lost");
        assert_eq!(shop.charge_count(), 1);
        assert!(shop.take_notices().is_empty(), "no receipt either");
    }

    #[test]
    fn every_menu_fits_one_ussd_string() {
        let levels = [
            Level::Main,
            Level::Internet,
            Level::Bundles(Period::Daily),
            Level::Bundles(Period::Weekly),
            Level::Bundles(Period::Monthly),
            Level::Pay(Period::Monthly, 1),
        ];
        for level in levels {
            let s = Session {
                level,
                seed: 1,
                order: MenuOrder::Normal,
            };
            let text = format!("Invalid input, please try again.\n{}", render(&s));
            let septets = crate::codec::gsm7::encode(&render(&s)).unwrap().len();
            assert!(septets <= MAX_SEPTETS, "{level:?}: {septets}");
            assert!(crate::codec::gsm7::encode(&text).is_ok());
        }
    }
}
