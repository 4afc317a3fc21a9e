//! What the virtual carrier says when it sells data or warns about it: receipts, refusals and
//! low-data warnings, modelled on real notices (carriers.md §2.3–§2.4: China Mobile's 10086
//! texts, Vodacom Tanzania's USSD menu, Digicel's and Safaricom's low-data SMS, the Japanese
//! carriers' "使い切りました" mail). Tests and the lead's flows match these texts, so a change
//! here is a change of the simulator's interface.
//!
//! Pure text; no state. The `*149*01#` menu texts live in `vodacom.rs`.

use super::texts::{Lang, SENDER_NAME};

/// China Mobile's service number: keyword purchases (`KTLL1G`) and queries (`CXLL`) go here.
pub const KEYWORD_NUMBER: &str = "10086";
/// The keyword that buys the 1GB add-on, as China Mobile's `KTLL…` (开通流量) keywords.
pub const KEYWORD_1GB: &str = "KTLL1G";
/// The data query keyword (China Mobile `CXLL`, carriers.md §2.4 table).
pub const KEYWORD_QUERY: &str = "CXLL";
/// The alphanumeric sender of Vodacom's receipts and refusals.
pub const VODACOM_SENDER: &str = "Vodacom";

/// Reply to `KTLL1G` when the add-on was bought.
pub fn keyword_receipt(lang: Lang) -> String {
    match lang {
        Lang::Zh => "【中国移动】尊敬的客户，您好！您已成功订购10元1GB流量加油包，流量立即生效，\
                     当月有效，月底未用完的流量将自动失效。感谢您的支持！"
            .into(),
        Lang::Ja => {
            "【10086】1GBデータ追加のご購入が完了しました。追加分はただちにご利用いただけます\
                     （当月末まで有効）。ご利用ありがとうございます。"
                .into()
        }
        Lang::En => "10086: You have successfully subscribed to the 1GB data add-on for CNY 10. \
                     It is valid from now until the end of the month. Thank you."
            .into(),
    }
}

/// Reply to `KTLL1G` with `funds=insufficient`: nothing was bought.
pub fn keyword_refused(lang: Lang) -> String {
    match lang {
        Lang::Zh => "【中国移动】尊敬的客户，您的话费余额不足，1GB流量加油包订购失败。\
                     请充值后重新发送KTLL1G到10086办理。"
            .into(),
        Lang::Ja => "【10086】残高不足のため、1GBデータ追加のお申し込みを完了できませんでした。\
                     チャージ後にもう一度お試しください。"
            .into(),
        Lang::En => "10086: Sorry, insufficient balance: your order for the 1GB data add-on \
                     failed. Please top up and send KTLL1G to 10086 again."
            .into(),
    }
}

/// Reply to `CXLL`: the data left.
pub fn keyword_query(lang: Lang, mb: u64) -> String {
    match lang {
        Lang::Zh => format!(
            "【中国移动】尊敬的客户，您好！截至11月27日，您本月国内通用流量剩余{mb}MB。\
             发送KTLL1G到10086可订购1GB流量加油包。"
        ),
        Lang::Ja => format!("【10086】今月のデータ残量は{mb}MBです。"),
        Lang::En => format!("10086: Your remaining data this month is {mb}MB."),
    }
}

/// Reply to anything else sent to 10086.
pub fn keyword_help(lang: Lang) -> String {
    match lang {
        Lang::Zh => "【中国移动】您发送的指令有误。查询流量请发送CXLL，订购1GB流量加油包请发送KTLL1G到10086。"
            .into(),
        Lang::Ja => "【10086】コマンドが正しくありません。残量確認はCXLL、1GB追加はKTLL1Gを10086へ送信してください。"
            .into(),
        Lang::En => "10086: Unknown command. Send CXLL for your data balance or KTLL1G for 1GB to 10086."
            .into(),
    }
}

/// Refusal for the old SimCarrier products (`BUY 1GB` to 1234, `*123*1#`, the `*123#` menu).
pub fn simcarrier_refused(lang: Lang, gb: u64) -> String {
    match lang {
        Lang::En => {
            format!("SimCarrier: insufficient balance. Your {gb}GB purchase was not completed.")
        }
        Lang::Zh => format!("【SimCarrier】余额不足，{gb}GB流量购买失败。"),
        Lang::Ja => format!("【SimCarrier】残高不足のため、{gb}GBの購入を完了できませんでした。"),
    }
}

/// A low-data warning: `(sender, text)`; `mark == 0` means the data is all used.
pub fn warning(lang: Lang, mark: u64) -> (String, String) {
    let (sender, text) = match (lang, mark) {
        (Lang::En, 0) => (
            SENDER_NAME,
            "SimCarrier: You have used all your data. Your speed is now limited to 128 kbps. \
             Dial *149*01# to buy a bundle."
                .to_string(),
        ),
        (Lang::En, m) => (
            SENDER_NAME,
            format!(
                "SimCarrier: Less than {m}MB of data left on your plan. Once it is fully used, \
                 dial *149*01# to buy a bundle."
            ),
        ),
        (Lang::Zh, 0) => (
            KEYWORD_NUMBER,
            "【中国移动】尊敬的客户，您本月套餐内流量已用完，超出部分将按标准资费收取。\
             发送KTLL1G到10086可订购1GB流量加油包。"
                .to_string(),
        ),
        (Lang::Zh, m) => (
            KEYWORD_NUMBER,
            format!(
                "【中国移动】尊敬的客户，您好！您本月套餐内流量剩余不足{m}MB，\
                 发送KTLL1G到10086可订购1GB流量加油包。"
            ),
        ),
        (Lang::Ja, 0) => (
            SENDER_NAME,
            "【SimCarrier】今月のデータ容量を使い切りました。通信速度を最大128kbpsに制限しています。\
             データ追加はKTLL1Gを10086へ送信してください。"
                .to_string(),
        ),
        (Lang::Ja, m) => (
            SENDER_NAME,
            format!(
                "【SimCarrier】データ残量が{m}MBを下回りました。使い切ると通信速度が最大128kbpsに\
                 制限されます。"
            ),
        ),
    };
    (sender.to_string(), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_refusals_and_warnings_say_what_flows_match_on() {
        assert!(keyword_receipt(Lang::Zh).contains("成功"));
        assert!(keyword_receipt(Lang::Zh).contains("1GB"));
        assert!(keyword_receipt(Lang::Ja).contains("完了しました"));
        assert!(keyword_receipt(Lang::En).contains("successfully"));
        assert!(keyword_refused(Lang::Zh).contains("余额不足"));
        assert!(keyword_refused(Lang::Zh).contains("失败"));
        assert!(keyword_refused(Lang::Ja).contains("残高不足"));
        assert!(keyword_refused(Lang::En).contains("insufficient balance"));
        assert!(warning(Lang::En, 0).1.contains("used all your data"));
        assert!(warning(Lang::Zh, 0).1.contains("流量已用完"));
        assert!(warning(Lang::Ja, 0)
            .1
            .contains("データ容量を使い切りました"));
        assert!(warning(Lang::En, 500)
            .1
            .starts_with("SimCarrier: Less than 500MB of data left"));
        // A refusal never reads like a success to a flow's `expect`.
        for lang in [Lang::En, Lang::Zh, Lang::Ja] {
            assert!(!keyword_refused(lang).contains("成功"));
            assert!(!keyword_refused(lang).to_lowercase().contains("success"));
        }
    }

    #[test]
    fn every_notice_fits_the_sms_encoder() {
        for lang in [Lang::En, Lang::Zh, Lang::Ja] {
            let mut all = vec![
                keyword_receipt(lang),
                keyword_refused(lang),
                keyword_query(lang, 123),
                keyword_help(lang),
                simcarrier_refused(lang, 1),
            ];
            for m in [500, 100, 0] {
                let (sender, text) = warning(lang, m);
                assert!(super::super::deliver::encode_deliver(&sender, &text, 0, 1).is_ok());
                all.push(text);
            }
            for t in all {
                assert!(
                    super::super::deliver::encode_deliver(KEYWORD_NUMBER, &t, 0, 1).is_ok(),
                    "{t}"
                );
            }
        }
    }
}
