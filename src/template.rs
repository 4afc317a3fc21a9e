//! Config templates: literal text with `${secret:NAME}`, `${sim.iccid}`, `${sim.imsi}` and
//! `${sim.msisdn}` placeholders, parsed once when the config loads and rendered per call.
//!
//! It must not: accept a placeholder it cannot fill (typos fail at load, not at 3 a.m. during a
//! top-up), put a secret's value in an error or in `Debug`, or insert a value into a URL
//! unencoded (`render_url` percent-encodes, so a value cannot add a path segment or a query
//! parameter).

use std::fmt;

use crate::secrets::Secrets;

/// What may appear inside `${...}`, for error messages.
const ALLOWED: &str = "${secret:NAME}, ${sim.iccid}, ${sim.imsi} or ${sim.msisdn}";
/// Longest template accepted: they are URLs, headers and short body strings.
const MAX_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template:?}: \"${{\" at byte {at} is not closed with \"}}\"; placeholders are {ALLOWED}")]
    Unclosed { template: String, at: usize },
    #[error("template {template:?}: unknown placeholder ${{{name}}}; use {ALLOWED}")]
    Unknown { template: String, name: String },
    #[error("template is longer than {max} bytes", max = MAX_LEN)]
    TooLong,
    /// Rendering: a value the template needs is not there. Names the placeholder only.
    #[error("{placeholder} has no value{hint}")]
    Missing {
        placeholder: String,
        hint: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Secret(String),
    Iccid,
    Imsi,
    Msisdn,
}

/// A parsed template. `Debug`/`Display` show the source text (names, never values).
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.source)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Values for rendering, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    pub secrets: &'a Secrets,
    pub iccid: Option<&'a str>,
    pub imsi: Option<&'a str>,
    pub msisdn: Option<&'a str>,
}

/// The SIM's identity as the agent knows it, owned (it crosses tasks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimVars {
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub msisdn: Option<String>,
}

impl SimVars {
    pub fn with<'a>(&'a self, secrets: &'a Secrets) -> TemplateVars<'a> {
        TemplateVars {
            secrets,
            iccid: self.iccid.as_deref(),
            imsi: self.imsi.as_deref(),
            msisdn: self.msisdn.as_deref(),
        }
    }
}

impl Template {
    /// Parses `${...}` placeholders; a `$` not followed by `{` is literal.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.len() > MAX_LEN {
            return Err(TemplateError::TooLong);
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find("${") {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find('}').ok_or_else(|| TemplateError::Unclosed {
                template: text.to_string(),
                at: offset + i,
            })?;
            let name = after[..end].trim();
            let part = match name {
                "sim.iccid" => Part::Iccid,
                "sim.imsi" => Part::Imsi,
                "sim.msisdn" => Part::Msisdn,
                _ => match name.strip_prefix("secret:") {
                    Some(n) if valid_secret_name(n.trim()) => Part::Secret(n.trim().to_string()),
                    _ => {
                        return Err(TemplateError::Unknown {
                            template: text.to_string(),
                            name: name.to_string(),
                        })
                    }
                },
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(part);
            let consumed = i + 2 + end + 1;
            offset += consumed;
            rest = &rest[consumed..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    }

    /// A template with no placeholders (for values built in code).
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            parts: if text.is_empty() {
                vec![]
            } else {
                vec![Part::Lit(text.to_string())]
            },
        }
    }

    /// The text as written in the config.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The secrets this template needs (for `check-config`).
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Secret(n) => Some(n.as_str()),
            _ => None,
        })
    }

    /// True when the template has a `${secret:...}` placeholder.
    pub fn has_secrets(&self) -> bool {
        self.secret_names().next().is_some()
    }

    /// The filled-in text.
    pub fn render(&self, vars: &TemplateVars<'_>) -> Result<String, TemplateError> {
        self.render_with(vars, |s, out| out.push_str(s))
    }

    /// The filled-in text for a URL: inserted values are percent-encoded (the literal text is
    /// kept as written, since it holds the URL's own `/`, `?` and `&`).
    pub fn render_url(&self, vars: &TemplateVars<'_>) -> Result<String, TemplateError> {
        self.render_with(vars, |s, out| out.push_str(&percent_encode(s)))
    }

    fn render_with(
        &self,
        vars: &TemplateVars<'_>,
        insert: impl Fn(&str, &mut String),
    ) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.source.len());
        let missing =
            |placeholder: String, hint: &'static str| TemplateError::Missing { placeholder, hint };
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Secret(n) => {
                    let v = vars.secrets.get(n).ok_or_else(|| {
                        missing(format!("${{secret:{n}}}"), ": add it to the [secrets] file")
                    })?;
                    insert(v, &mut out);
                }
                Part::Iccid => insert(
                    vars.iccid.ok_or_else(|| {
                        missing(
                            "${sim.iccid}".into(),
                            ": the modem has not reported the SIM's ICCID",
                        )
                    })?,
                    &mut out,
                ),
                Part::Imsi => insert(
                    vars.imsi.ok_or_else(|| {
                        missing(
                            "${sim.imsi}".into(),
                            ": the modem has not reported the SIM's IMSI",
                        )
                    })?,
                    &mut out,
                ),
                Part::Msisdn => insert(
                    vars.msisdn.ok_or_else(|| {
                        missing(
                            "${sim.msisdn}".into(),
                            ": the SIM does not store its own number (AT+CNUM is empty)",
                        )
                    })?,
                    &mut out,
                ),
            }
        }
        Ok(out)
    }
}

fn valid_secret_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(s: &Secrets) -> TemplateVars<'_> {
        TemplateVars {
            secrets: s,
            iccid: Some("8988280666000000000"),
            imsi: Some("901405100000001"),
            msisdn: None,
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let s = Secrets::from_pairs([("api_token", "tok")]);
        let t = Template::parse("/v1/sims/${sim.iccid}/quota?k=${secret:api_token}&i=${sim.imsi}")
            .unwrap();
        assert_eq!(
            t.render(&vars(&s)).unwrap(),
            "/v1/sims/8988280666000000000/quota?k=tok&i=901405100000001"
        );
        assert_eq!(t.secret_names().collect::<Vec<_>>(), ["api_token"]);
    }

    #[test]
    fn a_lone_dollar_is_literal() {
        let s = Secrets::empty();
        let t = Template::parse("price $5 and $ {x}").unwrap();
        assert_eq!(t.render(&vars(&s)).unwrap(), "price $5 and $ {x}");
        assert_eq!(Template::parse("").unwrap().render(&vars(&s)).unwrap(), "");
    }

    #[test]
    fn unknown_and_unclosed_placeholders_say_what_is_allowed() {
        let e = Template::parse("/x/${sim.iccd}").unwrap_err().to_string();
        assert!(
            e.contains("${sim.iccd}") && e.contains("${sim.iccid}"),
            "{e}"
        );
        let e = Template::parse("/x/${secret:a").unwrap_err().to_string();
        assert!(e.contains("not closed") && e.contains("byte 3"), "{e}");
        assert!(Template::parse("${secret:}").is_err());
        assert!(Template::parse("${secret:a b}").is_err());
        assert!(Template::parse("${}").is_err());
    }

    #[test]
    fn a_missing_value_names_the_placeholder_not_a_value() {
        let s = Secrets::from_pairs([("other", "v4lue")]);
        let e = Template::parse("${secret:nope}${secret:other}")
            .unwrap()
            .render(&vars(&s))
            .unwrap_err()
            .to_string();
        assert!(e.contains("${secret:nope}") && !e.contains("v4lue"), "{e}");
        let e = Template::parse("${sim.msisdn}")
            .unwrap()
            .render(&vars(&s))
            .unwrap_err()
            .to_string();
        assert!(e.contains("${sim.msisdn} has no value"), "{e}");
    }

    #[test]
    fn render_url_encodes_inserted_values_only() {
        let s = Secrets::from_pairs([("k", "a/b?c=d&e f")]);
        let t = Template::parse("/p/${secret:k}?x=${secret:k}").unwrap();
        assert_eq!(
            t.render_url(&vars(&s)).unwrap(),
            "/p/a%2Fb%3Fc%3Dd%26e%20f?x=a%2Fb%3Fc%3Dd%26e%20f"
        );
    }

    #[test]
    fn debug_shows_the_source_not_values() {
        let t = Template::parse("Bearer ${secret:tok}").unwrap();
        assert_eq!(format!("{t:?}"), "Template(\"Bearer ${secret:tok}\")");
    }

    #[test]
    fn literal_templates_never_expand() {
        let s = Secrets::from_pairs([("a", "x")]);
        let t = Template::literal("${secret:a}");
        assert_eq!(t.render(&vars(&s)).unwrap(), "${secret:a}");
        assert!(!t.has_secrets());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_literals_round_trip(text in "\\PC{0,60}") {
            if let Ok(t) = Template::parse(&text) {
                if !text.contains("${") {
                    let s = Secrets::empty();
                    proptest::prop_assert_eq!(t.render(&vars(&s)).unwrap(), text);
                }
            }
        }
    }
}
