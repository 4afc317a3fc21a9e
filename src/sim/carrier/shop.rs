//! The virtual carrier's account for the SIM: the data balance, the purchases it charged, the
//! credits still on their way, and the notices (SMS) it owes the subscriber — receipts, refusals
//! and low-data warnings. Every way of buying data (the `*149*01#` and `*123#` menus, the
//! `KTLL1G` and `BUY 1GB` keywords) goes through [`Shop::buy`], so the charge counter, the
//! `funds=`/`credit=`/`reply=` faults and the credit delay apply to all of them alike.
//!
//! Pure: time comes in through [`Shop::advance`] (the simulator's elapsed time); notices are
//! queued here and delivered by `Carrier`, which owns the SMS storage. It must not know how a
//! product is sold (menus, keywords) nor what the texts say.

use std::time::Duration;

/// How long a bought bundle takes to reach the balance unless `credit_delay_ms=` says otherwise
/// (real carriers answer "received" first and credit a moment later).
pub const DEFAULT_CREDIT_DELAY: Duration = Duration::from_millis(300);
/// Balances (MB) below which a warning SMS goes out once per crossing; 0 = "all used".
/// Safaricom warns "at 500MB, 75MB and then at 2MB" (carriers.md §2.3); we keep round marks.
pub const DEFAULT_WARN_MARKS: [u64; 3] = [500, 100, 0];

/// Charges remembered in detail (the count itself is never capped).
const MAX_CHARGE_LOG: usize = 1000;
/// Credits in flight; past this the oldest lands at once rather than growing without bound.
const MAX_PENDING: usize = 64;
/// Notices waiting for `Carrier` to deliver them.
const MAX_NOTICES: usize = 32;
/// Warning marks one may configure.
const MAX_MARKS: usize = 8;

/// Something the carrier sells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// How the carrier names it in its records (`KTLL1G`, `Tsh 10000 = 4920MB`).
    pub name: &'static str,
    pub price: u64,
    pub currency: &'static str,
    pub mb: u64,
    /// Credited at once instead of after the credit delay (the old SimCarrier products, whose
    /// answers quote the new balance and whose tests read it back at once).
    pub instant: bool,
}

/// One completed purchase, as the carrier's billing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub product: &'static str,
    pub price: u64,
    pub currency: &'static str,
    pub mb: u64,
}

/// What a purchase came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sale {
    /// `funds=insufficient`: nothing charged; the caller answers with a refusal.
    Refused,
    /// Charged. `lost`: `reply=lost`, the caller must send no answer at all.
    /// `claimed_mb`: the balance the carrier's answer may quote (what it would be once credited,
    /// even when `credit=never` means it never will be).
    Sold { lost: bool, claimed_mb: u64 },
}

/// An SMS the carrier sends to the subscriber after `delay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub sender: String,
    pub text: String,
    pub delay: Duration,
}

/// Warning texts by mark, supplied by the caller (the shop does not know the language).
pub trait WarningTexts {
    /// `(sender, text)` for a balance that fell below `mark` MB (`mark == 0`: all used).
    fn warning(&self, mark: u64) -> (String, String);
}

#[derive(Debug, Clone)]
pub struct Shop {
    balance_mb: u64,
    /// Credits bought but not landed yet: (due at simulator time, MB).
    pending: Vec<(Duration, u64)>,
    now: Duration,
    charges: Vec<Charge>,
    charge_count: u64,
    insufficient: bool,
    never_credit: bool,
    credit_delay: Duration,
    reply_lost: bool,
    marks: Vec<u64>,
    notices: Vec<Notice>,
}

impl Default for Shop {
    fn default() -> Self {
        Shop {
            balance_mb: 500,
            pending: Vec::new(),
            now: Duration::ZERO,
            charges: Vec::new(),
            charge_count: 0,
            insufficient: false,
            never_credit: false,
            credit_delay: DEFAULT_CREDIT_DELAY,
            reply_lost: false,
            marks: DEFAULT_WARN_MARKS.to_vec(),
            notices: Vec::new(),
        }
    }
}

impl Shop {
    /// The data balance now, after any credit that is due.
    pub fn balance_mb(&self) -> u64 {
        self.balance_mb
    }

    /// `balance_mb=`: a test sets the balance outright; no warning (that is `drain_mb=`).
    pub fn set_balance(&mut self, mb: u64) {
        self.balance_mb = mb;
    }

    pub fn charge_count(&self) -> u64 {
        self.charge_count
    }

    /// The last purchases (at most 1000), oldest first.
    pub fn charges(&self) -> &[Charge] {
        &self.charges
    }

    /// The simulator's clock moved on to `now` (time since it started): credits that are due
    /// land. Time never runs backwards here, whatever the caller passes.
    pub fn advance(&mut self, now: Duration) {
        self.now = self.now.max(now);
        let now = self.now;
        let mut landed = 0u64;
        self.pending.retain(|&(due, mb)| {
            if due <= now {
                landed = landed.saturating_add(mb);
                false
            } else {
                true
            }
        });
        self.balance_mb = self.balance_mb.saturating_add(landed);
    }

    /// Sells `p`: refuses without charging when funds are short; otherwise counts the charge
    /// and credits the bundle (now, after the credit delay, or never).
    pub fn buy(&mut self, p: &Product) -> Sale {
        if self.insufficient {
            return Sale::Refused;
        }
        self.charge_count = self.charge_count.saturating_add(1);
        if self.charges.len() >= MAX_CHARGE_LOG {
            self.charges.remove(0);
        }
        self.charges.push(Charge {
            product: p.name,
            price: p.price,
            currency: p.currency,
            mb: p.mb,
        });
        let in_flight: u64 = self.pending.iter().map(|&(_, mb)| mb).sum();
        let claimed_mb = self
            .balance_mb
            .saturating_add(in_flight)
            .saturating_add(p.mb);
        if !self.never_credit {
            if p.instant || self.credit_delay.is_zero() {
                self.balance_mb = self.balance_mb.saturating_add(p.mb);
            } else {
                if self.pending.len() >= MAX_PENDING {
                    let (_, mb) = self.pending.remove(0);
                    self.balance_mb = self.balance_mb.saturating_add(mb);
                }
                let due = self.now.saturating_add(self.credit_delay);
                self.pending.push((due, p.mb));
            }
        }
        Sale::Sold {
            lost: self.reply_lost,
            claimed_mb,
        }
    }

    /// How long after a purchase its receipt comes: with the credit, as real receipts do.
    pub fn receipt_delay(&self) -> Duration {
        self.credit_delay
    }

    /// Traffic used `mb`: the balance falls (not below 0) and each warning mark crossed on
    /// the way down sends its SMS once.
    pub fn drain(&mut self, mb: u64, texts: &dyn WarningTexts) {
        let before = self.balance_mb;
        let after = before.saturating_sub(mb);
        self.balance_mb = after;
        let mut crossed: Vec<u64> = self
            .marks
            .iter()
            .copied()
            .filter(|&m| {
                if m == 0 {
                    before > 0 && after == 0
                } else {
                    before >= m && after < m
                }
            })
            .collect();
        // Highest mark first, as they would arrive while the balance falls.
        crossed.sort_unstable_by(|a, b| b.cmp(a));
        crossed.dedup();
        for m in crossed {
            let (sender, text) = texts.warning(m);
            self.notify(sender, text, Duration::ZERO);
        }
    }

    /// Queues an SMS to the subscriber (dropped past the bound: a simulator must not grow).
    pub fn notify(&mut self, sender: impl Into<String>, text: impl Into<String>, delay: Duration) {
        if self.notices.len() < MAX_NOTICES {
            self.notices.push(Notice {
                sender: sender.into(),
                text: text.into(),
                delay,
            });
        }
    }

    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// The shop's control keys; `Ok(false)` = not one of them. See the module header of
    /// `sim::carrier` for what each means.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let v = value.trim();
        let bad = |what: &str| Err(format!("{key}: expected {what}, got {value:?}"));
        match key {
            "funds" => match v {
                "insufficient" => self.insufficient = true,
                "ok" | "enough" | "normal" => self.insufficient = false,
                _ => return bad("insufficient or ok"),
            },
            "credit" => match v {
                "never" => self.never_credit = true,
                "normal" => self.never_credit = false,
                _ => return bad("never or normal"),
            },
            "credit_delay_ms" => match v.parse::<u64>() {
                Ok(ms) => self.credit_delay = Duration::from_millis(ms),
                Err(_) => return bad("a whole number of milliseconds"),
            },
            "reply" => match v {
                "lost" => self.reply_lost = true,
                "normal" => self.reply_lost = false,
                _ => return bad("lost or normal"),
            },
            "warn_at_mb" => match parse_marks(v) {
                Some(marks) => self.marks = marks,
                None => return bad("MB marks separated by commas (500,100,0), or off"),
            },
            "check_charges" => {
                if v.parse::<u64>().ok() != Some(self.charge_count) {
                    return Err(format!(
                        "the carrier charged {} times, not {value}; charges: {:?}",
                        self.charge_count, self.charges
                    ));
                }
            }
            "check_balance_mb" => {
                if v.parse::<u64>().ok() != Some(self.balance_mb) {
                    return Err(format!(
                        "the balance is {} MB, not {value} ({} credit(s) still on the way)",
                        self.balance_mb,
                        self.pending.len()
                    ));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `500,100,0` → the marks; `off`/empty → none.
fn parse_marks(v: &str) -> Option<Vec<u64>> {
    if v.is_empty() || v == "off" {
        return Some(Vec::new());
    }
    let marks: Vec<u64> = v
        .split(',')
        .map(|m| m.trim().parse::<u64>().ok())
        .collect::<Option<_>>()?;
    (marks.len() <= MAX_MARKS).then_some(marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;
    impl WarningTexts for Plain {
        fn warning(&self, mark: u64) -> (String, String) {
            ("C".into(), format!("below {mark}"))
        }
    }

    const PACK: Product = Product {
        name: "P",
        price: 10,
        currency: "TZS",
        mb: 1000,
        instant: false,
    };

    #[test]
    fn a_bundle_lands_after_the_credit_delay_not_before() {
        let mut s = Shop::default();
        assert_eq!(
            s.buy(&PACK),
            Sale::Sold {
                lost: false,
                claimed_mb: 1500
            }
        );
        assert_eq!((s.charge_count(), s.balance_mb()), (1, 500));
        s.advance(Duration::from_millis(299));
        assert_eq!(s.balance_mb(), 500);
        s.advance(Duration::from_millis(300));
        assert_eq!(s.balance_mb(), 1500);
        // Time does not run backwards and a credit lands once.
        s.advance(Duration::ZERO);
        s.advance(Duration::from_secs(5));
        assert_eq!(s.balance_mb(), 1500);
    }

    #[test]
    fn insufficient_funds_charge_nothing_and_never_credit_charges_but_never_credits() {
        let mut s = Shop::default();
        s.set("funds", "insufficient").unwrap();
        assert_eq!(s.buy(&PACK), Sale::Refused);
        assert_eq!(s.charge_count(), 0);
        s.set("funds", "ok").unwrap();
        s.set("credit", "never").unwrap();
        assert!(matches!(
            s.buy(&PACK),
            Sale::Sold {
                claimed_mb: 1500,
                ..
            }
        ));
        s.advance(Duration::from_secs(60));
        assert_eq!((s.charge_count(), s.balance_mb()), (1, 500));
        assert!(s.set("check_charges", "1").unwrap());
        assert!(s
            .set("check_charges", "0")
            .unwrap_err()
            .contains("charged 1 times"));
    }

    #[test]
    fn a_lost_reply_still_charges_and_credits() {
        let mut s = Shop::default();
        s.set("reply", "lost").unwrap();
        s.set("credit_delay_ms", "0").unwrap();
        assert!(matches!(s.buy(&PACK), Sale::Sold { lost: true, .. }));
        assert_eq!((s.charge_count(), s.balance_mb()), (1, 1500));
    }

    #[test]
    fn each_mark_warns_once_per_crossing_highest_first() {
        let mut s = Shop::default();
        s.set_balance(600);
        s.drain(50, &Plain);
        assert!(s.take_notices().is_empty());
        // 550 → 0 crosses 500, 100 and 0 at once.
        s.drain(10_000, &Plain);
        let texts: Vec<String> = s.take_notices().into_iter().map(|n| n.text).collect();
        assert_eq!(texts, ["below 500", "below 100", "below 0"]);
        s.drain(10, &Plain);
        assert!(s.take_notices().is_empty(), "already at 0");
        // Back above 100, then below again: warned again.
        s.set_balance(150);
        s.drain(60, &Plain);
        assert_eq!(s.take_notices()[0].text, "below 100");
    }

    #[test]
    fn bad_values_name_the_key_and_unknown_keys_are_not_ours() {
        let mut s = Shop::default();
        assert!(s
            .set("credit_delay_ms", "soon")
            .unwrap_err()
            .contains("credit_delay_ms"));
        assert!(s.set("warn_at_mb", "500,x").is_err());
        assert!(s.set("warn_at_mb", "off").unwrap());
        assert!(!s.set("rsrp", "-90").unwrap());
        s.set_balance(10);
        s.drain(10, &Plain);
        assert!(s.take_notices().is_empty(), "marks off");
    }
}
