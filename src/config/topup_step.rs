//! The steps of a `[[topup.flow]]`: the raw inline table (`{ ussd = "*149*01#", expect = … }`),
//! its validation, and the validated [`Step`].
//!
//! A step's text ends up in an AT command (`AT+CUSD`, `AT+CMGS`) or an HTTPS request, so every
//! code, reply, number, SMS text, regex and template is checked here, at load.
//! Must not: run a step, or resolve a secret.

use std::collections::BTreeMap;
use std::time::Duration;

use regex_lite::Regex;
use serde::Deserialize;

use super::{duration, regex};

/// One step as written: exactly one action key (`ussd`, `choose`, `reply`, `sms`, `wait_sms`,
/// `http`, `verify`) plus the options that action takes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub ussd: Option<String>,
    pub choose: Option<String>,
    pub reply: Option<String>,
    pub sms: Option<String>,
    pub wait_sms: Option<String>,
    pub http: Option<String>,
    pub verify: Option<String>,
    pub to: Option<String>,
    pub api: Option<String>,
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub json: Option<toml::Value>,
    pub form: Option<BTreeMap<String, String>>,
    pub expect_status: Option<toml::Value>,
    pub expect_json: Option<BTreeMap<String, toml::Value>>,
    pub expect: Option<String>,
    pub fail: Option<String>,
    pub timeout: Option<String>,
}

/// A string that may hold `${secret:NAME}`, `${sim.iccid}`, `${sim.imsi}`, `${sim.msisdn}`:
/// checked when the config loads (shape, names, no control characters), rendered by the carrier
/// API client when the step runs.
#[derive(Debug, Clone)]
pub struct TemplateText(crate::template::Template);

/// Two templates are the same when they were written the same.
impl PartialEq for TemplateText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl TemplateText {
    /// Accepts literal text with well-formed placeholders; refuses control characters, an
    /// unclosed `${` and unknown names.
    pub fn parse(text: &str) -> Result<TemplateText, String> {
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            // The value itself is not shown: a header may hold a token written inline.
            return Err(format!(
                "the control character {c:?} is not allowed (it would end or split the request line)"
            ));
        }
        // Shape first, with messages that show only the placeholder (never the whole value,
        // which may be a header holding a token written inline).
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            let after = rest.get(i + 2..).unwrap_or("");
            let Some(end) = after.find('}') else {
                let open: String = rest.get(i..).unwrap_or("").chars().take(40).collect();
                return Err(format!("{open:?} has no closing \"}}\""));
            };
            let name = after.get(..end).unwrap_or("");
            let secret_ok = name.strip_prefix("secret:").is_some_and(|n| {
                !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
            if !(secret_ok || matches!(name, "sim.iccid" | "sim.imsi" | "sim.msisdn")) {
                return Err(format!(
                    "unknown placeholder \"${{{name}}}\": use ${{secret:NAME}}, ${{sim.iccid}}, ${{sim.imsi}} or ${{sim.msisdn}}"
                ));
            }
            rest = after.get(end + 1..).unwrap_or("");
        }
        crate::template::Template::parse(text)
            .map(TemplateText)
            .map_err(|_| "not a valid template".to_string())
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn template(&self) -> &crate::template::Template {
        &self.0
    }
}

/// One step of a flow. `expect` must match the carrier's answer for the step to succeed; `fail`
/// matching means the carrier refused (nothing charged), so the next flow may be tried.
#[derive(Debug, Clone)]
pub enum Step {
    /// Dial a USSD code; the answer may be a menu for `choose`/`reply`.
    Ussd {
        code: String,
        expect: Option<Regex>,
        fail: Option<Regex>,
        timeout: Duration,
    },
    /// Answer the open USSD menu with the number of the line matching `pattern`.
    Choose {
        pattern: Regex,
        expect: Option<Regex>,
        fail: Option<Regex>,
        timeout: Duration,
    },
    /// Answer the open USSD menu with fixed text.
    Reply {
        text: String,
        expect: Option<Regex>,
        fail: Option<Regex>,
        timeout: Duration,
    },
    /// Send an SMS (a keyword) to the carrier; `expect`/`fail` match its answer SMS.
    Sms {
        text: String,
        to: String,
        expect: Option<Regex>,
        fail: Option<Regex>,
        timeout: Duration,
    },
    /// Wait for an SMS from `from` (a number or an alphanumeric sender).
    WaitSms {
        from: String,
        expect: Option<Regex>,
        fail: Option<Regex>,
        timeout: Duration,
    },
    /// Call a `[carrier_api.NAME]`. An empty `expect_status` means any 2xx.
    Http {
        method: String,
        api: String,
        url: TemplateText,
        headers: Vec<(String, TemplateText)>,
        body: HttpBody,
        expect_status: Vec<u16>,
        expect_json: Vec<(String, serde_json::Value)>,
        fail: Option<Regex>,
        timeout: Duration,
    },
    /// Re-read the balance until it rose by about the flow's `adds`, or time out.
    Verify { timeout: Duration },
}

impl Step {
    /// The step's key in the config: `ussd`, `choose`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Ussd { .. } => "ussd",
            Step::Choose { .. } => "choose",
            Step::Reply { .. } => "reply",
            Step::Sms { .. } => "sms",
            Step::WaitSms { .. } => "wait_sms",
            Step::Http { .. } => "http",
            Step::Verify { .. } => "verify",
        }
    }

    pub fn timeout(&self) -> Duration {
        match self {
            Step::Ussd { timeout, .. }
            | Step::Choose { timeout, .. }
            | Step::Reply { timeout, .. }
            | Step::Sms { timeout, .. }
            | Step::WaitSms { timeout, .. }
            | Step::Http { timeout, .. }
            | Step::Verify { timeout } => *timeout,
        }
    }
}

/// The body of an `http` step.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpBody {
    None,
    /// String leaves may hold placeholders.
    Json(serde_json::Value),
    Form(Vec<(String, TemplateText)>),
}

pub(super) const KINDS: [&str; 7] = [
    "ussd", "choose", "reply", "sms", "wait_sms", "http", "verify",
];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// A reply to a USSD menu is a menu number or a short code; longer text is a config mistake.
const MAX_REPLY_LEN: usize = 16;
/// One SMS: a keyword longer than this would be split into parts the carrier may not join.
const MAX_SMS_CHARS: usize = 160;
/// The value of the action key `kind` in a raw step, if set.
pub(super) fn action<'a>(s: &'a RawStep, kind: &str) -> Option<&'a String> {
    match kind {
        "ussd" => s.ussd.as_ref(),
        "choose" => s.choose.as_ref(),
        "reply" => s.reply.as_ref(),
        "sms" => s.sms.as_ref(),
        "wait_sms" => s.wait_sms.as_ref(),
        "http" => s.http.as_ref(),
        "verify" => s.verify.as_ref(),
        _ => None,
    }
}

/// Validates one step; `prev` is the step before it in the same flow.
pub(super) fn validate_step(
    s: &RawStep,
    known_apis: &[String],
    prev: Option<&Step>,
) -> Result<Step, String> {
    let kind = step_kind(s)?;
    check_options(s, kind)?;
    let value = action(s, kind).cloned().unwrap_or_default();
    let (expect, fail, timeout) = common(s, kind)?;
    // choose/reply answer the menu the step before opened; anything else in between ends it.
    let in_menu = matches!(
        prev,
        Some(Step::Ussd { .. } | Step::Choose { .. } | Step::Reply { .. })
    );
    if matches!(kind, "choose" | "reply") && !in_menu {
        return Err(format!(
            "{kind} answers a USSD menu, so it must follow a ussd, choose or reply step"
        ));
    }
    Ok(match kind {
        "ussd" => {
            crate::codec::validate_ussd_code(&value).map_err(|e| e.to_string())?;
            let code = value;
            Step::Ussd {
                code,
                expect,
                fail,
                timeout,
            }
        }
        "choose" => {
            let pattern = regex(&value).map_err(|r| format!("choose = {value:?}: {r}"))?;
            Step::Choose {
                pattern,
                expect,
                fail,
                timeout,
            }
        }
        "reply" => {
            reply_text(&value)?;
            Step::Reply {
                text: value,
                expect,
                fail,
                timeout,
            }
        }
        "sms" => {
            sms_text(&value)?;
            let to = s.to.clone().ok_or_else(|| {
                "an sms step needs to = the carrier's number, e.g. to = \"10086\"".to_string()
            })?;
            crate::codec::validate_phone_number(&to, true).map_err(|e| format!("to: {e}"))?;
            Step::Sms {
                text: value,
                to,
                expect,
                fail,
                timeout,
            }
        }
        "wait_sms" => {
            sender(&value)?;
            Step::WaitSms {
                from: value,
                expect,
                fail,
                timeout,
            }
        }
        "http" => http_step(s, &value, known_apis, fail, timeout)?,
        _ => {
            let timeout = duration(&value, Duration::from_secs(1))
                .map_err(|r| format!("verify = {value:?}: {r}"))?;
            Step::Verify { timeout }
        }
    })
}

/// `expect`, `fail` and `timeout` (with the kind's default), which most steps take.
fn common(s: &RawStep, kind: &str) -> Result<(Option<Regex>, Option<Regex>, Duration), String> {
    let opt_regex = |key: &str, v: &Option<String>| -> Result<Option<Regex>, String> {
        v.as_deref()
            .map(|p| regex(p).map_err(|r| format!("{key} = {p:?}: {r}")))
            .transpose()
    };
    let expect = opt_regex("expect", &s.expect)?;
    let fail = opt_regex("fail", &s.fail)?;
    let default_timeout = match kind {
        "sms" | "wait_sms" => 300,
        _ => 30,
    };
    let timeout = match &s.timeout {
        Some(t) => {
            duration(t, Duration::from_secs(1)).map_err(|r| format!("timeout = {t:?}: {r}"))?
        }
        None => Duration::from_secs(default_timeout),
    };
    Ok((expect, fail, timeout))
}

/// The one action key a step has.
fn step_kind(s: &RawStep) -> Result<&'static str, String> {
    let kinds: Vec<&'static str> = KINDS
        .iter()
        .copied()
        .filter(|k| action(s, k).is_some())
        .collect();
    match kinds.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("a step needs one action: {}", KINDS.join(", "))),
        many => Err(format!(
            "a step does one thing, but this one has {}",
            many.join(" and ")
        )),
    }
}

/// Options that do not belong to this kind of step are mistakes, not silently ignored.
fn check_options(s: &RawStep, kind: &str) -> Result<(), String> {
    let allowed: &[&str] = match kind {
        "ussd" | "choose" | "reply" | "wait_sms" => &["expect", "fail", "timeout"],
        "sms" => &["to", "expect", "fail", "timeout"],
        "http" => &[
            "api",
            "url",
            "headers",
            "json",
            "form",
            "expect_status",
            "expect_json",
            "fail",
            "timeout",
        ],
        _ => &[],
    };
    let present = [
        ("to", s.to.is_some()),
        ("api", s.api.is_some()),
        ("url", s.url.is_some()),
        ("headers", s.headers.is_some()),
        ("json", s.json.is_some()),
        ("form", s.form.is_some()),
        ("expect_status", s.expect_status.is_some()),
        ("expect_json", s.expect_json.is_some()),
        ("expect", s.expect.is_some()),
        ("fail", s.fail.is_some()),
        ("timeout", s.timeout.is_some()),
    ];
    match present.iter().find(|(k, set)| *set && !allowed.contains(k)) {
        None => Ok(()),
        Some((key, _)) if kind == "verify" => Err(format!(
            "{key} does not belong to a verify step; its value is the timeout, e.g. {{ verify = \"10m\" }}"
        )),
        Some((key, _)) => Err(format!(
            "{key} does not belong to a {kind} step (it takes {})",
            allowed.join(", ")
        )),
    }
}

fn http_step(
    s: &RawStep,
    method: &str,
    known_apis: &[String],
    fail: Option<Regex>,
    timeout: Duration,
) -> Result<Step, String> {
    let method_up = method.to_ascii_uppercase();
    if !METHODS.contains(&method_up.as_str()) {
        return Err(format!(
            "http = {method:?}: use one of {}",
            METHODS.join(", ")
        ));
    }
    let api = s.api.clone().ok_or_else(|| {
        "an http step needs api = the name of a [carrier_api.NAME] table".to_string()
    })?;
    if !known_apis.contains(&api) {
        return Err(if known_apis.is_empty() {
            format!("api = {api:?}: no [carrier_api.{api}] table is defined; add one with its base_url and auth")
        } else {
            format!(
                "api = {api:?}: no [carrier_api.{api}] table is defined (defined: {})",
                known_apis.join(", ")
            )
        });
    }
    let url_s = s.url.clone().ok_or_else(|| {
        "an http step needs url, e.g. url = \"/v1/sims/${sim.iccid}/topup\"".to_string()
    })?;
    if url_s.is_empty() || url_s.chars().any(char::is_whitespace) {
        return Err(format!(
            "url = {url_s:?}: a URL path without spaces, e.g. \"/v1/sims/${{sim.iccid}}/topup\""
        ));
    }
    let url = TemplateText::parse(&url_s).map_err(|r| format!("url: {r}"))?;
    let (expect_status, expect_json) = http_expect(s)?;
    Ok(Step::Http {
        method: method_up,
        api,
        url,
        headers: http_headers(s)?,
        body: http_body(s)?,
        expect_status,
        expect_json,
        fail,
        timeout,
    })
}

fn http_headers(s: &RawStep) -> Result<Vec<(String, TemplateText)>, String> {
    let mut headers = Vec::new();
    for (name, value) in s.headers.iter().flatten() {
        // RFC 9110 §5.6.2 token characters.
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(format!(
                "headers: {name:?} is not a header name (letters, digits and - only)"
            ));
        }
        let t = TemplateText::parse(value).map_err(|r| format!("headers.{name}: {r}"))?;
        headers.push((name.clone(), t));
    }
    Ok(headers)
}

fn http_body(s: &RawStep) -> Result<HttpBody, String> {
    Ok(match (&s.json, &s.form) {
        (Some(_), Some(_)) => return Err("a request has one body: json or form, not both".into()),
        (Some(j), None) => {
            if !matches!(j, toml::Value::Table(_) | toml::Value::Array(_)) {
                return Err("json must be a table, e.g. json = { amount = 1 }".into());
            }
            let v = to_json(j).map_err(|r| format!("json: {r}"))?;
            check_json_templates(&v).map_err(|r| format!("json: {r}"))?;
            HttpBody::Json(v)
        }
        (None, Some(f)) => {
            let mut fields = Vec::new();
            for (k, v) in f {
                let t = TemplateText::parse(v).map_err(|r| format!("form.{k}: {r}"))?;
                fields.push((k.clone(), t));
            }
            HttpBody::Form(fields)
        }
        (None, None) => HttpBody::None,
    })
}

type Expectations = (Vec<u16>, Vec<(String, serde_json::Value)>);

/// `expect_status` (one code or a list; none = any 2xx) and `expect_json` (dot path = value).
fn http_expect(s: &RawStep) -> Result<Expectations, String> {
    let expect_status = match &s.expect_status {
        None => Vec::new(),
        Some(toml::Value::Integer(n)) => vec![status(*n)?],
        Some(toml::Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| match v {
                toml::Value::Integer(n) => status(*n),
                other => Err(format!(
                    "expect_status: {} is not a status code",
                    crate::topup::money::toml_shown(other)
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err("expect_status is a status code or a list, e.g. 201 or [200, 201]".into())
        }
    };
    let mut expect_json = Vec::new();
    for (path, v) in s.expect_json.iter().flatten() {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!(
                "expect_json: {path:?} is not a dot path such as \"status\" or \"order.state\""
            ));
        }
        let jv = to_json(v).map_err(|r| format!("expect_json.{path}: {r}"))?;
        expect_json.push((path.clone(), jv));
    }
    Ok((expect_status, expect_json))
}

fn status(n: i64) -> Result<u16, String> {
    u16::try_from(n)
        .ok()
        .filter(|n| (100..=599).contains(n))
        .ok_or_else(|| format!("expect_status: {n} is not an HTTP status (100 to 599)"))
}

/// TOML → JSON; dates become strings, a float that JSON cannot hold is an error.
fn to_json(v: &toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(n) => J::from(*n),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| format!("{f} cannot be written in JSON"))?,
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn check_json_templates(v: &serde_json::Value) -> Result<(), String> {
    match v {
        serde_json::Value::String(s) => TemplateText::parse(s).map(|_| ()),
        serde_json::Value::Array(a) => a.iter().try_for_each(check_json_templates),
        serde_json::Value::Object(o) => o.values().try_for_each(check_json_templates),
        _ => Ok(()),
    }
}

/// A menu answer: what a person would type at the USSD prompt.
fn reply_text(value: &str) -> Result<(), String> {
    if value.len() > MAX_REPLY_LEN || crate::codec::validate_ussd_code(value).is_err() {
        return Err(format!(
            "reply = {value:?}: a menu answer is 1 to {MAX_REPLY_LEN} of the characters 0-9 * # +, e.g. \"1\""
        ));
    }
    Ok(())
}

/// The sender of an awaited SMS, as the phone shows it: a number or a name such as `M-PESA`.
/// It is only compared, never sent, so it is not held to the phone-number rules.
fn sender(value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if !(1..=20).contains(&n) || value.chars().any(char::is_control) {
        return Err(format!(
            "wait_sms = {value:?}: name the sender as it appears on the SMS, e.g. \"Vodacom\" or \"10086\""
        ));
    }
    Ok(())
}

/// SMS text travels after the modem's `>` prompt: CR/LF would be sent or end the line, Ctrl-Z
/// (0x1A) ends the message early and ESC (0x1B) cancels it.
fn sms_text(text: &str) -> Result<(), String> {
    let n = text.chars().count();
    if n == 0 || n > MAX_SMS_CHARS {
        return Err(format!(
            "sms: the keyword must be 1 to {MAX_SMS_CHARS} characters"
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "sms = {text:?}: the control character {c:?} is not allowed (CR, LF, Ctrl-Z and ESC would end or cancel the message)"
        ));
    }
    Ok(())
}
