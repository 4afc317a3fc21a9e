//! The secrets file (`[secrets] path`): a TOML table of `NAME = "value"` that config templates
//! refer to as `${secret:NAME}`, plus redaction of those values from any text that may reach a
//! log line, an error, the store or the HTTP API.
//!
//! It must not: load a file that other users can read or that another user owns (the check is
//! made on the opened file, so a swapped path cannot slip through), print a value in `Debug`
//! or in any error, or keep an unbounded list of dynamic secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The largest secrets file we read: a handful of API keys is a few hundred bytes.
const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Dynamic secrets (OAuth access tokens) kept for redaction; the oldest are dropped first.
/// A token that is no longer cached is no longer sent, but it may still sit in an old
/// reply, so keep a few generations.
const MAX_DYNAMIC: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read secrets file {path}: {cause}")]
    Read { path: PathBuf, cause: String },
    #[error(
        "secrets file {path} has mode {mode:04o}; it must be readable by its owner only: \
         chmod 600 {path}"
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error(
        "secrets file {path} is owned by uid {owner}, but simkeep runs as uid {euid}: \
         chown {euid} {path}"
    )]
    Owner {
        path: PathBuf,
        owner: u32,
        euid: u32,
    },
    #[error(
        "secrets file {path} is larger than 64 KiB; it should hold only NAME = \"value\" lines"
    )]
    TooLarge { path: PathBuf },
    // The toml error message may quote the offending line, which may hold a value: keep only
    // the line number.
    #[error("secrets file {path}: line {line}: not valid TOML (expected NAME = \"value\" lines)")]
    Syntax { path: PathBuf, line: usize },
    #[error(
        "secrets file {path}: {name} must be a string (NAME = \"value\"), and names may use only \
         letters, digits, '_' and '-'"
    )]
    Entry { path: PathBuf, name: String },
}

/// The loaded secrets. Cheap to clone; clones share the dynamic secrets registered later.
#[derive(Clone, Default)]
pub struct Secrets {
    values: Arc<BTreeMap<String, String>>,
    dynamic: Arc<Mutex<Vec<String>>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the values are what this type exists to hide.
        f.debug_struct("Secrets")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .field("dynamic", &self.dynamic_len())
            .finish()
    }
}

impl Secrets {
    /// No secrets (no `[secrets]` table).
    pub fn empty() -> Secrets {
        Secrets::default()
    }

    /// Secrets given directly (tests, and callers that got them elsewhere).
    pub fn from_pairs<I, K, V>(pairs: I) -> Secrets
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Secrets {
            values: Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            dynamic: Arc::default(),
        }
    }

    /// Reads `path`, refusing it unless its mode is exactly 0600 and it is owned by the
    /// effective uid of this process.
    pub fn load(path: &Path) -> Result<Secrets, SecretsError> {
        use std::os::unix::fs::MetadataExt;
        let read_err = |e: std::io::Error| SecretsError::Read {
            path: path.to_path_buf(),
            cause: match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            },
        };
        // Open first, then check the opened file: checking the path and reading it afterwards
        // would let a rename in between swap in another file.
        let file = std::fs::File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(SecretsError::Read {
                path: path.to_path_buf(),
                cause: "not a regular file".into(),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode != 0o600 {
            return Err(SecretsError::Mode {
                path: path.to_path_buf(),
                mode,
            });
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        if meta.uid() != euid {
            return Err(SecretsError::Owner {
                path: path.to_path_buf(),
                owner: meta.uid(),
                euid,
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(SecretsError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        Self::parse(&text, path)
    }

    /// Parses the file's text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Secrets, SecretsError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| SecretsError::Syntax {
            path: path.to_path_buf(),
            line: e
                .span()
                .and_then(|s| text.get(..s.start))
                .map(|s| s.matches('\n').count() + 1)
                .unwrap_or(0),
        })?;
        let mut values = BTreeMap::new();
        for (name, value) in table {
            match value {
                toml::Value::String(v) if valid_name(&name) => {
                    values.insert(name, v);
                }
                _ => {
                    return Err(SecretsError::Entry {
                        path: path.to_path_buf(),
                        name: escape_name(&name),
                    })
                }
            }
        }
        Ok(Secrets {
            values: Arc::new(values),
            dynamic: Arc::default(),
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Registers a value learnt at run time (an OAuth access token) so that `redact` hides it
    /// too. Shared with every clone.
    pub fn add_dynamic(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        let mut d = self.dynamic.lock().unwrap_or_else(|p| p.into_inner());
        if d.iter().any(|v| v == value) {
            return;
        }
        if d.len() >= MAX_DYNAMIC {
            d.remove(0);
        }
        d.push(value.to_string());
    }

    fn dynamic_len(&self) -> usize {
        self.dynamic.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// `text` with every secret value replaced by `<secret:NAME>` and every dynamic secret by
    /// `<redacted>`. Also catches the percent-encoded form, since values travel in URLs.
    pub fn redact(&self, text: &str) -> String {
        let mut needles: Vec<(String, String)> = Vec::new();
        for (name, value) in self.values.iter() {
            if value.is_empty() {
                continue;
            }
            let label = format!("<secret:{name}>");
            let encoded = crate::template::percent_encode(value);
            if encoded != *value {
                needles.push((encoded, label.clone()));
            }
            needles.push((value.clone(), label));
        }
        {
            let d = self.dynamic.lock().unwrap_or_else(|p| p.into_inner());
            for v in d.iter() {
                needles.push((v.clone(), "<redacted>".to_string()));
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
        let mut out = text.to_string();
        for (needle, label) in &needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), label);
            }
        }
        out
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A name for an error message: printable and short (a broken file could hold anything).
fn escape_name(name: &str) -> String {
    name.chars().take(64).flat_map(char::escape_debug).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let p = dir.join("secrets.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn a_0600_file_owned_by_us_loads() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "client_id = \"abc\"\nclient_secret = \"s3cr3t!\"\n",
            0o600,
        );
        let s = Secrets::load(&p).unwrap();
        assert_eq!(s.get("client_id"), Some("abc"));
        assert_eq!(s.get("client_secret"), Some("s3cr3t!"));
        assert_eq!(s.get("nope"), None);
    }

    #[test]
    fn group_or_other_bits_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o604, 0o644, 0o700, 0o400, 0o4600] {
            let p = write(dir.path(), "a = \"hunter22\"\n", mode);
            let msg = Secrets::load(&p).unwrap_err().to_string();
            assert!(
                msg.contains(&format!("chmod 600 {}", p.display())),
                "{mode:o}: {msg}"
            );
            assert!(!msg.contains("hunter22"), "{msg}");
        }
    }

    #[test]
    fn a_file_owned_by_another_user_is_refused() {
        // Only root can chown; elsewhere the check is the same code path as the mode one.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a = \"x\"\n", 0o600);
        std::os::unix::fs::chown(&p, Some(65534), None).unwrap();
        let msg = Secrets::load(&p).unwrap_err().to_string();
        assert!(
            msg.contains("owned by uid 65534") && msg.contains("chown 0"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let msg = Secrets::load(Path::new("/nonexistent/secrets.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("/nonexistent/secrets.toml") && msg.contains("no such file"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_errors_give_the_line_but_never_the_text() {
        let msg = Secrets::parse("a = \"ok\"\nb = \"topsecret\n", Path::new("/s.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(!msg.contains("topsecret"), "{msg}");
    }

    #[test]
    fn non_string_values_and_bad_names_are_refused() {
        assert!(Secrets::parse("a = 5\n", Path::new("/s")).is_err());
        assert!(Secrets::parse("[t]\na = \"x\"\n", Path::new("/s")).is_err());
        assert!(Secrets::parse("\"a b\" = \"x\"\n", Path::new("/s")).is_err());
    }

    #[test]
    fn redact_replaces_values_longest_first_and_encoded_forms() {
        let s = Secrets::from_pairs([("short", "abc"), ("long", "abcdef"), ("sp", "a b&c")]);
        assert_eq!(
            s.redact("x abcdef y abc z"),
            "x <secret:long> y <secret:short> z"
        );
        assert_eq!(s.redact("q=a%20b%26c"), "q=<secret:sp>");
        s.add_dynamic("tok-123");
        let clone = s.clone();
        assert_eq!(clone.redact("Bearer tok-123"), "Bearer <redacted>");
    }

    #[test]
    fn dynamic_secrets_are_bounded() {
        let s = Secrets::empty();
        for i in 0..100 {
            s.add_dynamic(&format!("token-{i:03}"));
        }
        assert_eq!(s.dynamic_len(), MAX_DYNAMIC);
        assert_eq!(s.redact("token-099"), "<redacted>");
        assert_eq!(s.redact("token-000"), "token-000");
    }

    #[test]
    fn debug_prints_names_only() {
        let s = Secrets::from_pairs([("client_secret", "p@ssw0rd")]);
        s.add_dynamic("eyJtoken");
        let d = format!("{s:?}");
        assert!(d.contains("client_secret"), "{d}");
        assert!(!d.contains("p@ssw0rd") && !d.contains("eyJtoken"), "{d}");
    }
}
