//! Reading a carrier's USSD menu and judging a carrier's answer (text, or an API's status and
//! JSON) — pure, no I/O.
//!
//! Menus change order and wording between sessions (carriers.md §2.3: Vodacom TZ numbers its
//! bundles "1." … "10.", then "00 back", "99 Main"), so a flow picks a line by its *text* and
//! answers with whatever number that line carries today. Lines this reads:
//!
//! ```text
//! 1. North Offers          4) Internet          2 - Tsh 10000 = 4920MB
//! 10. Next                 00 back              99 Main          *. Back
//! ```
//!
//! Must not: guess. A menu with no matching line is an error the flow reports before it sends
//! anything, which is what makes that failure safe to fall back from.

use regex_lite::Regex;

/// One selectable line of a menu: the token to send back and the label beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    pub key: String,
    pub label: String,
}

/// The menu lines of a USSD text, in order. Lines that do not start with a selection key (a
/// balance sentence, a header) are not items.
pub fn menu_items(text: &str) -> Vec<MenuItem> {
    text.lines().filter_map(item).collect()
}

fn item(line: &str) -> Option<MenuItem> {
    let line = line.trim();
    let key_len = line
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit() || *c == '*' || *c == '#')
        .map(|(i, c)| i + c.len_utf8())
        .last()?;
    if key_len > 4 {
        // "10000 MB left" is a sentence, not a menu key.
        return None;
    }
    let (key, rest) = line.split_at(key_len);
    // The key is followed by a separator: "1.", "1)", "1 -", "1:", or just a space ("00 back").
    let label = rest
        .trim_start_matches(['.', ')', ':', '-', ' ', '\t'])
        .trim();
    let separated = rest.starts_with(['.', ')', ':', '-', ' ', '\t']);
    if !separated || label.is_empty() {
        return None;
    }
    Some(MenuItem {
        key: key.to_string(),
        label: label.to_string(),
    })
}

/// Why no line could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChooseError {
    #[error("the menu has no line matching /{pattern}/ (it offered: {offered})")]
    NoMatch { pattern: String, offered: String },
}

/// The key of the line whose label matches `pattern`. When several match, a label that is the
/// whole match wins ("Internet" over "5G Home Internet"), else the first in menu order.
pub fn choose(text: &str, pattern: &Regex) -> Result<MenuItem, ChooseError> {
    let items = menu_items(text);
    let matching: Vec<&MenuItem> = items
        .iter()
        .filter(|i| pattern.is_match(&i.label))
        .collect();
    let whole = matching.iter().find(|i| {
        pattern
            .find(&i.label)
            .is_some_and(|m| m.start() == 0 && m.end() == i.label.len())
    });
    match whole.or(matching.first()) {
        Some(i) => Ok((*i).clone()),
        None => Err(ChooseError::NoMatch {
            pattern: pattern.as_str().to_string(),
            offered: offered(&items, text),
        }),
    }
}

fn offered(items: &[MenuItem], text: &str) -> String {
    if items.is_empty() {
        return format!("no menu, only {:?}", short(text, 80));
    }
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).take(12).collect();
    labels.join(" | ")
}

/// At most `max` characters, for messages.
pub fn short(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out.replace(['\r', '\n'], " ")
}

/// How one step of a purchase ended, which decides what may happen next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The carrier answered as expected: go on.
    Done,
    /// Provably nothing was bought by this step (the modem refused the command, the connection
    /// never opened, the carrier's refusal matched `fail`, or nothing was sent): the next flow
    /// may be tried.
    SureFail(String),
    /// It may have charged (no answer, a timeout, an answer nobody recognises): never retried;
    /// only the balance can tell.
    Unclear(String),
}

/// Judges a carrier's text answer. `fail` is checked first: a refusal that also contains the
/// expected word ("Internet bundle purchase failed") is a refusal. `still_asking` is true when
/// the network keeps the session open for another choice — a menu we did not expect, but no
/// completed purchase either (carriers confirm at the end of a dialogue).
pub fn judge_text(
    text: &str,
    expect: Option<&Regex>,
    fail: Option<&Regex>,
    still_asking: bool,
) -> Outcome {
    if fail.is_some_and(|f| f.is_match(text)) {
        return Outcome::SureFail(format!("the carrier refused: {:?}", short(text, 160)));
    }
    match expect {
        None => Outcome::Done,
        Some(e) if e.is_match(text) => Outcome::Done,
        Some(e) if still_asking => Outcome::SureFail(format!(
            "the carrier's menu did not match /{}/: {:?}",
            e.as_str(),
            short(text, 160)
        )),
        Some(e) => Outcome::Unclear(format!(
            "the carrier answered something other than /{}/: {:?}",
            e.as_str(),
            short(text, 160)
        )),
    }
}

/// Judges a carrier API's answer: the expected status (2xx when none is given) and JSON
/// values mean done; a refusal the API states (4xx other than 408 and 429, or the flow's
/// `fail` pattern on the body) means nothing was bought; a server error or anything else may
/// have charged.
pub fn judge_http(
    status: u16,
    body: &str,
    expect_status: &[u16],
    expect_json: &[(String, serde_json::Value)],
    fail: Option<&regex_lite::Regex>,
) -> Outcome {
    if fail.is_some_and(|f| f.is_match(body)) {
        return Outcome::SureFail(format!(
            "the carrier refused (HTTP {status}): {}",
            short(body, 160)
        ));
    }
    let status_ok = if expect_status.is_empty() {
        (200..300).contains(&status)
    } else {
        expect_status.contains(&status)
    };
    if status_ok {
        if expect_json.is_empty() {
            return Outcome::Done;
        }
        let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
        let all = expect_json.iter().all(|(path, want)| {
            parsed
                .as_ref()
                .and_then(|v| crate::carrier_api::json_path(v, path))
                .is_some_and(|got| got == want)
        });
        return if all {
            Outcome::Done
        } else {
            Outcome::Unclear(format!(
                "HTTP {status} but the reply lacks the expected values: {}",
                short(body, 160)
            ))
        };
    }
    if (400..500).contains(&status) && status != 408 && status != 429 {
        return Outcome::SureFail(format!(
            "the carrier refused with HTTP {status}: {}",
            short(body, 160)
        ));
    }
    Outcome::Unclear(format!("HTTP {status}: {}", short(body, 160)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vodacom Tanzania, captured on an OpenWrt router (4IceG/luci-app-sms-tool-js#29).
    const VODACOM_MAIN: &str = "1. North Offers\n2. Just for You\n3. Cheka,SMS&Pindua\n4. Internet\n5. RED Relax\n6. NipigeTafu\n7. Simba&Lifestyle\n8. Tuzo\n9. Roaming & International\n10. Self Service";
    const VODACOM_INTERNET: &str = "1. Daily\n2. Weekly\n3. Monthly\n4. Social+Video Bundles\n5. 5G Bundles\n6. 5G Home Internet\n7. Buy for a friend\n8. Showmax\n9. Buy me a Bundle\n10. Next\n00 back";
    const VODACOM_MONTHLY: &str = "1. Kasi/30 Days\n2. Tsh 10000 = 4920MB\n3. Tsh 20000 = 9800MB\n4. Tsh 35000 = 17240MB\n5. Tsh 50000 = 24600MB/60days\n00 back\n99 Main";
    /// Indonesia, gammu/gammu#513: a balance sentence above the menu.
    const INDONESIA: &str = "Sisa pulsa Rp.3000.Aktif sd 26/02/2020.\nKonten Ria Miranda & Raih Umroh.Rp2200/SMS/2Hr slm 180Hr\n1.YA\n2.Cek Kuota\n3.Nelpon\n4.Internet\n5.Lainnya\n";

    fn re(s: &str) -> Regex {
        Regex::new(s).unwrap()
    }

    #[test]
    fn the_vodacom_menus_are_walked_by_text() {
        assert_eq!(choose(VODACOM_MAIN, &re("Internet")).unwrap().key, "4");
        assert_eq!(choose(VODACOM_INTERNET, &re("Monthly")).unwrap().key, "3");
        assert_eq!(choose(VODACOM_MONTHLY, &re("4920MB")).unwrap().key, "2");
        assert_eq!(choose(VODACOM_INTERNET, &re("back")).unwrap().key, "00");
        assert_eq!(choose(VODACOM_MONTHLY, &re("Main")).unwrap().key, "99");
    }

    #[test]
    fn a_whole_label_match_beats_an_earlier_partial_one() {
        let shuffled = "1. 5G Home Internet\n2. Internet\n3. Daily";
        assert_eq!(choose(shuffled, &re("Internet")).unwrap().key, "2");
        // Two partial matches: the first in menu order.
        let two = "1. 5G Home Internet\n2. Internet Bundles";
        assert_eq!(choose(two, &re("Internet")).unwrap().key, "1");
    }

    #[test]
    fn keys_without_a_space_and_sentences_above_the_menu() {
        let items = menu_items(INDONESIA);
        assert_eq!(items.len(), 5, "{items:?}");
        assert_eq!(choose(INDONESIA, &re("Internet")).unwrap().key, "4");
        assert!(menu_items("10000 MB left until 01/12").is_empty());
        assert!(menu_items("Your balance is 5.12 EUR").is_empty());
        assert_eq!(
            menu_items("2) Weekly\n3 - Monthly\n*. Back"),
            vec![
                MenuItem {
                    key: "2".into(),
                    label: "Weekly".into()
                },
                MenuItem {
                    key: "3".into(),
                    label: "Monthly".into()
                },
                MenuItem {
                    key: "*".into(),
                    label: "Back".into()
                },
            ]
        );
    }

    #[test]
    fn no_matching_line_says_what_was_offered() {
        let err = choose(VODACOM_MAIN, &re("Monthly"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/Monthly/") && err.contains("North Offers"),
            "{err}"
        );
        let err = choose("Your balance is 0 MB", &re("Internet"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no menu"), "{err}");
    }

    #[test]
    fn a_refusal_wins_over_an_expected_word() {
        let text = "Internet bundle purchase failed: insufficient balance";
        let out = judge_text(
            text,
            Some(&re("Internet")),
            Some(&re("(?i)insufficient")),
            false,
        );
        assert!(matches!(out, Outcome::SureFail(_)), "{out:?}");
    }

    #[test]
    fn an_unexpected_final_answer_is_unclear_but_an_unexpected_menu_is_not_a_purchase() {
        let e = re("(?i)received");
        assert_eq!(
            judge_text("You have received 4920MB", Some(&e), None, false),
            Outcome::Done
        );
        assert!(matches!(
            judge_text("Request accepted", Some(&e), None, false),
            Outcome::Unclear(_)
        ));
        assert!(matches!(
            judge_text("1. Try again\n2. Exit", Some(&e), None, true),
            Outcome::SureFail(_)
        ));
        assert_eq!(judge_text("anything", None, None, false), Outcome::Done);
    }

    #[test]
    fn arbitrary_text_never_panics() {
        for t in [
            "",
            "\n\n",
            "1.",
            "12345.",
            "#",
            "1.\u{0}",
            "٣. عربي",
            "１．全角",
        ] {
            let _ = menu_items(t);
            let _ = choose(t, &re("x"));
        }
    }

    #[test]
    fn http_answers_are_judged_by_what_they_prove() {
        let re = regex_lite::Regex::new("(?i)insufficient").unwrap();
        assert_eq!(judge_http(201, "", &[201], &[], None), Outcome::Done);
        assert_eq!(judge_http(200, "", &[], &[], None), Outcome::Done);
        assert!(matches!(
            judge_http(200, "", &[201], &[], None),
            Outcome::Unclear(_)
        ));
        assert!(matches!(
            judge_http(422, "{}", &[201], &[], None),
            Outcome::SureFail(_)
        ));
        assert!(matches!(
            judge_http(403, "", &[], &[], None),
            Outcome::SureFail(_)
        ));
        assert!(matches!(
            judge_http(500, "", &[201], &[], None),
            Outcome::Unclear(_)
        ));
        assert!(matches!(
            judge_http(408, "", &[201], &[], None),
            Outcome::Unclear(_)
        ));
        assert!(matches!(
            judge_http(200, "Insufficient credit", &[], &[], Some(&re)),
            Outcome::SureFail(_)
        ));
        let want = vec![("data.status".to_string(), serde_json::json!("OK"))];
        assert_eq!(
            judge_http(200, r#"{"data":{"status":"OK"}}"#, &[], &want, None),
            Outcome::Done
        );
        assert!(matches!(
            judge_http(200, r#"{"data":{"status":"PROCESSING"}}"#, &[], &want, None),
            Outcome::Unclear(_)
        ));
    }
}
