//! The top-up flows the integration tests buy with, written as an owner would in the config:
//! the Vodacom-style USSD menu chosen by text and the China-Mobile-style SMS keyword, both
//! against the simulated carrier. `verify` is left as `{VERIFY}` for each test to fill in.

/// Vodacom Tanzania's bundle menu (carriers.md §2.3), every item chosen by its text.
pub const USSD_FLOW: &str = r#"
[[topup.flow]]
name = "vodacom-monthly"
price = 10000
adds = "4920MB"
steps = [
  { ussd = "*149*01#", expect = "Internet" },
  { choose = "Internet" },
  { choose = "Monthly" },
  { choose = "4920MB", expect = "M-Pesa|Airtime" },
  { choose = "Airtime", expect = "(?i)received", timeout = "5s" },
  { verify = "{VERIFY}" },
]
"#;

/// `KTLL1G` to 10086 and the receipt in the carrier's language.
pub const SMS_FLOW: &str = r#"
[[topup.flow]]
name = "sms-keyword"
price = 500
adds = "1GB"
steps = [ { sms = "KTLL1G", to = "10086", expect = "成功|(?i)success", fail = "失败|余额不足|(?i)insufficient", timeout = "20s" }, { verify = "{VERIFY}" } ]
"#;

/// `flow` with its verify step watching for `verify` (e.g. "20s").
pub fn with_verify(flow: &str, verify: &str) -> String {
    flow.replace("{VERIFY}", verify)
}
