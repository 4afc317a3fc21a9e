//! The config file (`config::Config::parse`, what `simkeep check-config` and the daemon read)
//! and the secrets file (`secrets::Secrets::parse`), from arbitrary TOML text.
//!
//! Invariants: no panic — every duration, size and number is range-checked at load, so an
//! absurd value is an error naming the key, never an overflow; and a config that loads once
//! loads again the same from the same text (no hidden state).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use simkeep::config::Config;
use simkeep::secrets::Secrets;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/simkeep/config.toml");
    let first = Config::parse(text, path);
    if let Err(e) = &first {
        let _ = e.to_string();
    }
    let again = Config::parse(text, path);
    assert_eq!(
        first.is_ok(),
        again.is_ok(),
        "the same text loaded differently"
    );
    let _ = Secrets::parse(text, Path::new("/etc/simkeep/secrets.toml"));
});
