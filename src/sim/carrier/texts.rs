//! What the virtual carrier says, in English, Chinese or Japanese. The SMS texts are long on
//! purpose: in Chinese and Japanese they need UCS2 and two parts (over 70 UTF-16 units), in
//! English two GSM-7 parts (over 160 septets), as real carriers' notices do.

/// The language of the carrier's replies (`lang=en|zh|ja`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
    Ja,
}

impl Lang {
    pub fn parse(v: &str) -> Option<Lang> {
        match v.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "zh" | "chinese" => Some(Lang::Zh),
            "ja" | "japanese" => Some(Lang::Ja),
            _ => None,
        }
    }
}

/// Short code the carrier's SMS services listen on, and its alphanumeric name for notices.
pub const SHORT_CODE: &str = "1234";
pub const SENDER_NAME: &str = "SimCarrier";

pub fn ussd_balance(lang: Lang, mb: u64) -> String {
    match lang {
        Lang::En => format!("Balance: {mb} MB, valid until 2026-12-31."),
        Lang::Zh => format!("您的流量余额为{mb}MB，有效期至2026年12月31日。"),
        Lang::Ja => format!("データ残量は{mb}MBです。有効期限：2026年12月31日。"),
    }
}

pub fn ussd_topped_up(lang: Lang, gb: u64, mb: u64) -> String {
    match lang {
        Lang::En => format!("Top-up successful: {gb} GB added. Balance: {mb} MB."),
        Lang::Zh => format!("充值成功：已增加{gb}GB。余额：{mb}MB。"),
        Lang::Ja => format!("チャージ完了：{gb}GBを追加しました。残量：{mb}MB。"),
    }
}

pub fn menu_main(lang: Lang) -> String {
    match lang {
        Lang::En => "1. Buy data\n2. Balance\n0. Exit".into(),
        Lang::Zh => "1. 购买流量\n2. 查询余额\n0. 退出".into(),
        Lang::Ja => "1. データ購入\n2. 残量確認\n0. 終了".into(),
    }
}

pub fn menu_buy(lang: Lang) -> String {
    match lang {
        Lang::En => "1. 1GB 500 JPY\n2. 5GB 2000 JPY\n0. Back".into(),
        Lang::Zh => "1. 1GB 500日元\n2. 5GB 2000日元\n0. 返回".into(),
        Lang::Ja => "1. 1GB 500円\n2. 5GB 2000円\n0. 戻る".into(),
    }
}

pub fn menu_confirm(lang: Lang, gb: u64, price: u64) -> String {
    match lang {
        Lang::En => format!("Buy {gb}GB for {price} JPY?\n1. Confirm\n2. Cancel"),
        Lang::Zh => format!("以{price}日元购买{gb}GB？\n1. 确认\n2. 取消"),
        Lang::Ja => format!("{gb}GBを{price}円で購入しますか？\n1. 確認\n2. キャンセル"),
    }
}

pub fn cancelled(lang: Lang) -> String {
    match lang {
        Lang::En => "Cancelled.".into(),
        Lang::Zh => "已取消。".into(),
        Lang::Ja => "キャンセルしました。".into(),
    }
}

pub fn invalid_choice(lang: Lang) -> String {
    match lang {
        Lang::En => "Invalid choice.".into(),
        Lang::Zh => "选择无效。".into(),
        Lang::Ja => "無効な選択です。".into(),
    }
}

pub fn sms_balance(lang: Lang, mb: u64) -> String {
    match lang {
        Lang::En => format!(
            "SimCarrier: Your data balance on 27 Nov 2026 is {mb} MB, valid until 31 Dec 2026. \
             To add data, reply BUY 1GB (500 JPY) or BUY 5GB (2000 JPY) to 1234, or dial *123# \
             for the menu. Thank you for choosing SimCarrier."
        ),
        Lang::Zh => format!(
            "【SimCarrier】尊敬的客户，您好！截至2026年11月27日，您的套餐剩余流量为{mb}MB，\
             有效期至2026年12月31日。如需购买流量包，请发送BUY 1GB或BUY 5GB到1234，\
             或拨打*123#进入菜单。感谢您的使用！"
        ),
        Lang::Ja => format!(
            "【SimCarrier】いつもご利用ありがとうございます。2026年11月27日現在のデータ残量は\
             {mb}MBです。有効期限は2026年12月31日です。データを追加するには、BUY 1GBまたは\
             BUY 5GBを1234へ送信するか、*123#をダイヤルしてください。"
        ),
    }
}

pub fn sms_receipt(lang: Lang, gb: u64, price: u64, mb: u64) -> String {
    match lang {
        Lang::En => format!(
            "SimCarrier: Purchase successful. {gb} GB of data has been added to your line for \
             {price} JPY. Your new balance is {mb} MB, valid until 31 Dec 2026. Reply BAL to \
             1234 at any time to check your balance. Thank you!"
        ),
        Lang::Zh => format!(
            "【SimCarrier】购买成功！已为您的号码增加{gb}GB流量，扣费{price}日元。\
             当前剩余流量为{mb}MB，有效期至2026年12月31日。随时发送BAL到1234即可查询余额。\
             感谢您的支持！"
        ),
        Lang::Ja => format!(
            "【SimCarrier】ご購入ありがとうございます。{gb}GBのデータを{price}円で追加しました。\
             現在のデータ残量は{mb}MB、有効期限は2026年12月31日です。残量はBALを1234へ\
             送信するといつでも確認できます。"
        ),
    }
}

pub fn sms_help(lang: Lang) -> String {
    match lang {
        Lang::En => "SimCarrier: unknown command. Send BAL, BUY 1GB or BUY 5GB to 1234.".into(),
        Lang::Zh => "【SimCarrier】无法识别的指令。请发送BAL、BUY 1GB或BUY 5GB到1234。".into(),
        Lang::Ja => "【SimCarrier】不明なコマンドです。BAL、BUY 1GB、BUY 5GBのいずれかを1234へ送信してください。".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_replies_need_two_parts_in_every_language() {
        for lang in [Lang::En, Lang::Zh, Lang::Ja] {
            for text in [sms_balance(lang, 500), sms_receipt(lang, 5, 2000, 5620)] {
                let alphabet = crate::codec::concat::choose_alphabet(&text, false);
                let parts = crate::codec::concat::split_text(&text, alphabet).unwrap();
                assert_eq!(parts.len(), 2, "{lang:?}: {text}");
            }
        }
    }
}
