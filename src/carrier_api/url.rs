//! The small subset of URLs a carrier API needs: `https://host[:port]/path?query`, joined to a
//! configured base URL by concatenation (`base_url = ".../management-api"` + `"/v1/sims"` keeps
//! the `/management-api` prefix, as API docs mean it, unlike RFC 3986 resolution).
//!
//! It must not: accept `http://` (credentials would travel in clear), userinfo (`user@host`,
//! a classic way to disguise the real host), or any control character or space in the path.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Lower-case host name or IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Starts with `/`; may hold `?query`. Never a `#fragment`.
    pub target: String,
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}{}", self.authority(), self.target)
    }
}

impl Url {
    /// Parses an absolute `https://` URL.
    pub fn parse(s: &str) -> Result<Url, String> {
        let rest = match s.get(..8) {
            Some(p) if p.eq_ignore_ascii_case("https://") => &s[8..],
            _ => {
                // `get`, not `[..7]`: byte 7 may fall inside a character (`https:\u{feff}…`).
                let http = s
                    .get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("http://"));
                return Err(if http {
                    "plain http is refused (secrets would travel in clear): use https://".into()
                } else {
                    "expected an absolute https:// URL".into()
                });
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, mut target) = rest.split_at(end);
        if authority.contains('@') {
            return Err("a user name in the URL (user@host) is not allowed; use auth".into());
        }
        if let Some(i) = target.find('#') {
            target = &target[..i];
        }
        let (host, port) = split_authority(authority)?;
        let target = if target.starts_with('/') {
            target.to_string()
        } else {
            format!("/{target}")
        };
        check_target(&target)?;
        Ok(Url { host, port, target })
    }

    /// `reference` if it is an absolute URL, else `self` with `reference` appended to its path
    /// (one `/` between them).
    pub fn join(&self, reference: &str) -> Result<Url, String> {
        if reference.contains("://") {
            return Url::parse(reference);
        }
        let (base_path, base_query) = match self.target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.target.as_str(), None),
        };
        if base_query.is_some() {
            return Err("base_url must not have a ?query".into());
        }
        let mut target = base_path.trim_end_matches('/').to_string();
        if !reference.is_empty() && !reference.starts_with('?') {
            target.push('/');
        }
        target.push_str(reference.trim_start_matches('/'));
        if target.is_empty() {
            target.push('/');
        }
        check_target(&target)?;
        Ok(Url {
            host: self.host.clone(),
            port: self.port,
            target,
        })
    }

    /// Resolves a `Location` header: absolute, or an absolute path on this origin.
    pub fn location(&self, location: &str) -> Option<Url> {
        if location.starts_with('/') && !location.starts_with("//") {
            let target = location.split('#').next().unwrap_or("/").to_string();
            check_target(&target).ok()?;
            return Some(Url {
                host: self.host.clone(),
                port: self.port,
                target,
            });
        }
        Url::parse(location).ok()
    }

    pub fn same_origin(&self, other: &Url) -> bool {
        self.host == other.host && self.port == other.port
    }

    /// `host[:port]` as sent in the `Host` header (port only when not 443).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

fn split_authority(a: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address must be closed with ']'")?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{h:?} is not an IPv6 address"));
        }
        (h, after.strip_prefix(':'))
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if !host_ok {
        return Err("the host name may use only letters, digits, '.' and '-'".into());
    }
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535"))?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn check_target(t: &str) -> Result<(), String> {
    if t.len() > 8192 {
        return Err("the URL is longer than 8 KiB".into());
    }
    if t.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("the URL path holds a space or control character; write it as %20".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_and_relative_join_like_api_docs_mean_it() {
        let base = Url::parse("https://api.1nce.com/management-api").unwrap();
        assert_eq!(base.port, 443);
        let u = base.join("/v1/sims/89/quota/data").unwrap();
        assert_eq!(
            u.to_string(),
            "https://api.1nce.com/management-api/v1/sims/89/quota/data"
        );
        let u = Url::parse("https://h:8443/")
            .unwrap()
            .join("oauth/token")
            .unwrap();
        assert_eq!(u.to_string(), "https://h:8443/oauth/token");
        let abs = base.join("https://auth.example.com/token").unwrap();
        assert_eq!(abs.host, "auth.example.com");
    }

    #[test]
    fn refuses_http_userinfo_and_bad_ports() {
        assert!(Url::parse("http://x/").unwrap_err().contains("clear"));
        assert!(Url::parse("https://a@evil.com/").is_err());
        assert!(Url::parse("https://x:0/").is_err());
        assert!(Url::parse("https://x:99999/").is_err());
        assert!(Url::parse("https://x/a b").is_err());
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("https://").is_err());
    }

    #[test]
    fn a_character_across_byte_seven_is_refused_not_a_panic() {
        // Found by fuzz/fuzz_targets/config.rs (`base_url = "https:\u{feff}.example"`): the
        // http:// check sliced at byte 7, inside the BOM, and panicked at load. The same parser
        // reads a carrier's `Location` header, so a gateway could have aborted the daemon.
        for s in [
            "https:\u{feff}.example",
            "http:/é",
            "\u{feff}https://x/",
            "https\u{2215}//x",
        ] {
            assert!(Url::parse(s).unwrap_err().contains("https://"), "{s:?}");
        }
        let here = Url::parse("https://127.0.0.1:9000/v1/a").unwrap();
        assert!(here.location("https:\u{feff}.example").is_none());
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets_in_the_authority() {
        let u = Url::parse("https://[::1]:8443/x?y=1#frag").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.authority(), "[::1]:8443");
        assert_eq!(u.target, "/x?y=1");
    }

    #[test]
    fn locations_resolve_to_the_same_or_another_origin() {
        let here = Url::parse("https://127.0.0.1:9000/v1/a").unwrap();
        let same = here.location("/v1/b").unwrap();
        assert!(same.same_origin(&here));
        let other = here.location("https://localhost:9000/v1/b").unwrap();
        assert!(!other.same_origin(&here));
        assert!(here.location("//evil.com/x").is_none());
    }
}
