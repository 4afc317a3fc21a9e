//! The carrier's USSD service (TS 22.090) and how the simulated modem puts it on the wire
//! (TS 27.007 §7.15 `AT+CUSD`): the menu tree, and the request/reply encodings per personality —
//! Huawei sticks want and send packed GSM-7 hex with dcs 15 (modem-quirks.md §8), other modems
//! plain text, or UCS2 hex (dcs 72) when the text needs it or `AT+CSCS="UCS2"` is on.
//!
//! Pure: a request in, the status and text of the network's answer out (none when `reply=lost`
//! swallows a purchase's answer); purchases go through `Shop`.

use super::receipts;
use super::shop::{Product, Sale, Shop};
use super::texts::{self, Lang};
use super::vodacom::{self, MenuOrder};
use crate::codec::ucs2;
use crate::codec::ussd::{pack_ussd, unpack_ussd, DCS_GSM7, DCS_UCS2};

/// Where the user is in the `*123#` menu, or in the `*149*01#` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Menu {
    Main,
    Buy,
    Confirm { gb: u64, price: u64 },
    Vodacom(vodacom::Session),
}

/// Data packs sold by the carrier: (GB, price in JPY).
const PACKS: [(u64, u64); 2] = [(1, 500), (5, 2000)];

/// The old SimCarrier packs as the shop records them; credited at once (their answers quote
/// the new balance).
fn simcarrier_pack(gb: u64, price: u64) -> Product {
    Product {
        name: if gb == 1 {
            "SimCarrier 1GB"
        } else {
            "SimCarrier 5GB"
        },
        price,
        currency: "JPY",
        mb: gb.saturating_mul(1024),
        instant: true,
    }
}

/// The network side of USSD: the open menu, if any.
#[derive(Debug, Clone, Default)]
pub struct UssdService {
    pub menu: Option<Menu>,
    /// `menu_order=` for sessions opened from now on.
    pub order: MenuOrder,
    /// Sessions opened so far: the seed of each `*149*01#` session's order.
    sessions: u64,
}

/// What the network answers: `+CUSD: <status>[,"<text>"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetAnswer {
    pub status: u8,
    pub text: Option<String>,
}

fn ans(status: u8, text: String) -> NetAnswer {
    NetAnswer {
        status,
        text: Some(text),
    }
}

impl UssdService {
    /// Answers one USSD string (a new code, or a menu choice while a menu is open); `None`:
    /// the network never answers (a purchase with `reply=lost`).
    pub fn answer(&mut self, input: &str, shop: &mut Shop, lang: Lang) -> Option<NetAnswer> {
        let input = input.trim();
        match self.menu.take() {
            None => self.start(input, shop, lang),
            Some(Menu::Vodacom(session)) => {
                let (answer, next) = vodacom::choose(session, input, shop);
                self.menu = next.map(Menu::Vodacom);
                answer
            }
            Some(menu) => self.choose(menu, input, shop, lang),
        }
    }

    fn start(&mut self, code: &str, shop: &mut Shop, lang: Lang) -> Option<NetAnswer> {
        match code {
            "*100#" => Some(ans(0, texts::ussd_balance(lang, shop.balance_mb()))),
            "*123*1#" | "*123*2#" => {
                let (gb, price) = if code == "*123*1#" {
                    PACKS[0]
                } else {
                    PACKS[1]
                };
                buy_simcarrier(shop, lang, gb, price)
            }
            "*123#" => {
                self.menu = Some(Menu::Main);
                Some(ans(1, texts::menu_main(lang)))
            }
            vodacom::CODE => {
                self.sessions = self.sessions.wrapping_add(1);
                let (answer, session) = vodacom::start(self.sessions, self.order);
                self.menu = Some(Menu::Vodacom(session));
                Some(answer)
            }
            // 4: operation not supported (TS 27.007 §7.15).
            _ => Some(NetAnswer {
                status: 4,
                text: None,
            }),
        }
    }

    fn choose(
        &mut self,
        menu: Menu,
        choice: &str,
        shop: &mut Shop,
        lang: Lang,
    ) -> Option<NetAnswer> {
        let again = |svc: &mut Self, m: Menu, text: String| {
            svc.menu = Some(m);
            Some(ans(1, format!("{}\n{text}", texts::invalid_choice(lang))))
        };
        match (menu, choice) {
            (Menu::Main, "1") => {
                self.menu = Some(Menu::Buy);
                Some(ans(1, texts::menu_buy(lang)))
            }
            (Menu::Main, "2") => Some(ans(0, texts::ussd_balance(lang, shop.balance_mb()))),
            (Menu::Main, "0") => Some(ans(0, texts::cancelled(lang))),
            (Menu::Main, _) => again(self, Menu::Main, texts::menu_main(lang)),
            (Menu::Buy, "0") => {
                self.menu = Some(Menu::Main);
                Some(ans(1, texts::menu_main(lang)))
            }
            (Menu::Buy, c) => match c
                .parse::<usize>()
                .ok()
                .and_then(|i| PACKS.get(i.wrapping_sub(1)))
            {
                Some(&(gb, price)) => {
                    self.menu = Some(Menu::Confirm { gb, price });
                    Some(ans(1, texts::menu_confirm(lang, gb, price)))
                }
                None => again(self, Menu::Buy, texts::menu_buy(lang)),
            },
            (Menu::Confirm { gb, price }, "1") => buy_simcarrier(shop, lang, gb, price),
            (Menu::Confirm { .. }, "2") => Some(ans(0, texts::cancelled(lang))),
            (m @ Menu::Confirm { gb, price }, _) => {
                again(self, m, texts::menu_confirm(lang, gb, price))
            }
            // `answer` hands these to `vodacom::choose`; should one get here, show the menu again.
            (Menu::Vodacom(session), _) => {
                self.menu = Some(Menu::Vodacom(session));
                Some(ans(1, vodacom::render(&session)))
            }
        }
    }
}

/// `*123*1#`, `*123*2#` and the `*123#` confirmation: buy, and say so (or refuse, or say nothing).
fn buy_simcarrier(shop: &mut Shop, lang: Lang, gb: u64, price: u64) -> Option<NetAnswer> {
    match shop.buy(&simcarrier_pack(gb, price)) {
        Sale::Refused => Some(ans(0, receipts::simcarrier_refused(lang, gb))),
        Sale::Sold { lost: true, .. } => None,
        Sale::Sold { claimed_mb, .. } => Some(ans(0, texts::ussd_topped_up(lang, gb, claimed_mb))),
    }
}

/// The request string as the user meant it. `packed_only`: the modem takes only packed GSM-7
/// hex (Huawei); anything else is `None` and the modem answers ERROR. Otherwise packed hex
/// (dcs 15), UCS2 hex (with `AT+CSCS="UCS2"`) and plain text are all understood.
pub fn decode_request(
    s: &str,
    dcs: Option<u8>,
    packed_only: bool,
    cscs_ucs2: bool,
) -> Option<String> {
    let is_code = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'+'))
    };
    let bytes = ucs2::from_hex(s).ok().filter(|b| !b.is_empty());
    if let Some(b) = &bytes {
        let packed = unpack_ussd(b);
        if dcs.unwrap_or(DCS_GSM7) == DCS_GSM7 && is_code(&packed) {
            return Some(packed);
        }
        if cscs_ucs2 && b.len() % 2 == 0 {
            let t = ucs2::decode(b);
            if is_code(&t) {
                return Some(t);
            }
        }
    }
    if packed_only {
        return None;
    }
    Some(s.to_string())
}

/// The `+CUSD:` line for an answer, encoded as the personality does.
pub fn cusd_line(a: &NetAnswer, huawei: bool, cscs_ucs2: bool) -> String {
    let Some(text) = &a.text else {
        return format!("+CUSD: {}", a.status);
    };
    let (payload, dcs) = match (huawei, cscs_ucs2, pack_ussd(text)) {
        (true, _, Ok(packed)) => (ucs2::to_hex(&packed), DCS_GSM7),
        (false, false, Ok(_)) => (text.clone(), DCS_GSM7),
        _ => (ucs2::to_hex(&ucs2::encode(text)), DCS_UCS2),
    };
    format!("+CUSD: {},\"{payload}\",{dcs}", a.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode_ussd_reply;

    fn shop(mb: u64) -> Shop {
        let mut s = Shop::default();
        s.set_balance(mb);
        s
    }

    #[test]
    fn the_menu_walks_from_buy_to_confirm_and_tops_up_and_is_charged() {
        let mut s = UssdService::default();
        let mut shop = shop(100);
        let mut ask = |s: &mut UssdService, t: &str| s.answer(t, &mut shop, Lang::En).unwrap();
        assert_eq!(ask(&mut s, "*123#").status, 1);
        assert_eq!(ask(&mut s, "1").status, 1);
        let confirm = ask(&mut s, "2");
        assert!(confirm.text.unwrap().contains("5GB for 2000"));
        let done = ask(&mut s, "1");
        assert_eq!(done.status, 0);
        assert!(s.menu.is_none());
        assert_eq!(shop.balance_mb(), 100 + 5 * 1024);
        assert_eq!(shop.charge_count(), 1);
        assert_eq!(shop.charges()[0].price, 2000);
    }

    #[test]
    fn a_wrong_choice_repeats_the_menu_and_unknown_codes_are_status_4() {
        let mut s = UssdService::default();
        let mut shop = shop(0);
        s.answer("*123#", &mut shop, Lang::En);
        let a = s.answer("7", &mut shop, Lang::En).unwrap();
        assert_eq!(a.status, 1);
        assert!(a.text.unwrap().starts_with("Invalid choice."));
        s.menu = None;
        assert_eq!(
            s.answer("*555#", &mut shop, Lang::En),
            Some(NetAnswer {
                status: 4,
                text: None
            })
        );
    }

    #[test]
    fn one_shot_codes_are_refused_without_funds_and_silent_when_the_reply_is_lost() {
        let mut s = UssdService::default();
        let mut shop = shop(0);
        shop.set("funds", "insufficient").unwrap();
        let a = s.answer("*123*1#", &mut shop, Lang::Zh).unwrap();
        assert!(a.text.unwrap().contains("余额不足"));
        shop.set("funds", "ok").unwrap();
        shop.set("reply", "lost").unwrap();
        assert_eq!(s.answer("*123*1#", &mut shop, Lang::En), None);
        assert_eq!((shop.charge_count(), shop.balance_mb()), (1, 1024));
    }

    #[test]
    fn each_vodacom_session_gets_its_own_order() {
        let mut s = UssdService {
            order: MenuOrder::Shuffle,
            ..UssdService::default()
        };
        let mut shop = shop(0);
        let menus: Vec<String> = (0..4)
            .map(|_| {
                s.menu = None;
                s.answer("*149*01#", &mut shop, Lang::En)
                    .unwrap()
                    .text
                    .unwrap()
            })
            .collect();
        assert!(menus.windows(2).any(|w| w[0] != w[1]), "{menus:?}");
        assert!(matches!(s.menu, Some(Menu::Vodacom(_))));
    }

    #[test]
    fn huawei_requests_are_packed_hex_and_plain_text_is_refused() {
        // modem-quirks.md §8: `AA514C361B01` is `*#123#`.
        assert_eq!(
            decode_request("AA514C361B01", Some(15), true, false).as_deref(),
            Some("*#123#")
        );
        assert_eq!(decode_request("*100#", Some(15), true, false), None);
        assert_eq!(
            decode_request("*100#", Some(15), false, false).as_deref(),
            Some("*100#")
        );
    }

    #[test]
    fn replies_decode_back_whatever_the_encoding() {
        for (huawei, ucs2_cs, text) in [
            (true, false, "Balance: 500 MB"),
            (false, false, "Balance: 500 MB"),
            (false, true, "Balance: 500 MB"),
            (false, false, "您的流量余额为500MB"),
            (true, false, "データ残量は500MBです"),
        ] {
            let line = cusd_line(&ans(0, text.into()), huawei, ucs2_cs);
            let inner = line.split('"').nth(1).unwrap();
            let dcs: u8 = line.rsplit(',').next().unwrap().parse().unwrap();
            assert_eq!(decode_ussd_reply(inner, Some(dcs)), text, "{line}");
        }
    }
}
