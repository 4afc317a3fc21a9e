//! Time zones from the machine's own sources of truth, before the built-in table:
//! - a named zone (`Asia/Tokyo`) from `/usr/share/zoneinfo/<name>` when the machine has it: the
//!   POSIX rule in the TZif v2+ footer (RFC 8536 §3.3) is what the tz maintainers say today,
//!   while the built-in table (`tzdata`) is only as new as this build;
//! - no zone configured: the router's own zone — `/etc/TZ` (OpenWrt writes the POSIX rule there
//!   from `system.@system[0].timezone`), else `$TZ`, else the footer of `/etc/localtime`, else UTC.
//!
//! The reading is separated from `tz` (pure parsing) so tests can point it at any directory.
//!
//! Must not: follow a zone name out of the zoneinfo directory (`../`, absolute paths), or read
//! more than a TZif file's worth of bytes.

use std::path::Path;

use super::tz::{TimeZone, TzError};

pub const ZONEINFO: &str = "/usr/share/zoneinfo";
/// Real TZif files are under 4 KB; anything far larger is not one.
const MAX_TZIF: u64 = 256 * 1024;

/// The POSIX TZ rule of a TZif v2+ file: the last line of its footer. `None` for a v1 file, a
/// file that is not TZif, or an empty footer (a zone no POSIX rule can describe).
pub fn footer(tzif: &[u8]) -> Option<&str> {
    if !tzif.starts_with(b"TZif") || !matches!(tzif.get(4), Some(b'2'..=b'9')) {
        return None;
    }
    let body = tzif.strip_suffix(b"\n")?;
    let start = body.iter().rposition(|&b| b == b'\n')? + 1;
    let rule = std::str::from_utf8(body.get(start..)?).ok()?;
    (!rule.is_empty() && rule.is_ascii() && !rule.contains(char::is_whitespace)).then_some(rule)
}

/// A zone name that may be joined to the zoneinfo directory: `Area/City`-shaped, nothing that
/// climbs out of it.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
}

fn read_small(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(MAX_TZIF).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// The POSIX rule for `name` from the zoneinfo directory `dir`, when it has the zone.
pub fn rule_from_zoneinfo(dir: &Path, name: &str) -> Option<String> {
    let name = name.trim().trim_start_matches(':');
    if !safe_name(name) {
        return None;
    }
    let bytes = read_small(&dir.join(name))?;
    footer(&bytes).map(str::to_owned)
}

/// The zone for a configured `[usage] timezone` (or none): see the module comment for the order.
pub fn resolve(spec: Option<&str>) -> Result<TimeZone, TzError> {
    resolve_in(spec, Path::new(ZONEINFO), Path::new("/etc"))
}

/// `resolve` with the directories given (tests).
pub fn resolve_in(spec: Option<&str>, zoneinfo: &Path, etc: &Path) -> Result<TimeZone, TzError> {
    match spec.map(str::trim) {
        Some(s) if !s.is_empty() => {
            if let Some(rule) = rule_from_zoneinfo(zoneinfo, s) {
                if let Ok(tz) = TimeZone::parse(&rule) {
                    return Ok(tz.named(s));
                }
            }
            TimeZone::parse(s)
        }
        _ => Ok(router_zone(etc)
            .filter(|tz| !always_utc(tz))
            .unwrap_or_else(TimeZone::utc)),
    }
}

/// A rule that is UTC all year (`UTC0`, `GMT0`, `<+00>0`): shown as plain UTC.
fn always_utc(tz: &TimeZone) -> bool {
    // January and July: any daylight-saving rule is in force in one of them.
    tz.offset_at(0) == 0 && tz.offset_at(181 * 86_400) == 0
}

/// The router's own zone, when it says one.
fn router_zone(etc: &Path) -> Option<TimeZone> {
    let from_etc_tz = std::fs::read_to_string(etc.join("TZ")).ok();
    let from_env = std::env::var("TZ").ok();
    for rule in [from_etc_tz, from_env].into_iter().flatten() {
        let rule = rule.trim();
        if !rule.is_empty() {
            if let Ok(tz) = TimeZone::parse(rule) {
                return Some(tz);
            }
        }
    }
    let bytes = read_small(&etc.join("localtime"))?;
    TimeZone::parse(footer(&bytes)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal TZif v2 file: header, no transitions, then the footer.
    fn tzif(version: u8, rule: &str) -> Vec<u8> {
        let mut v = b"TZif".to_vec();
        v.push(version);
        v.extend_from_slice(&[0u8; 15]);
        v.extend_from_slice(&[0u8; 24]);
        v.extend_from_slice(b"\x00\n\x0a\xff");
        v.extend_from_slice(format!("\n{rule}\n").as_bytes());
        v
    }

    #[test]
    fn the_footer_is_the_last_line_of_a_v2_file() {
        assert_eq!(footer(&tzif(b'2', "JST-9")), Some("JST-9"));
        assert_eq!(
            footer(&tzif(b'3', "<+01>-1")),
            Some("<+01>-1"),
            "binary bytes before the footer, including newlines, do not confuse it"
        );
        assert_eq!(footer(&tzif(0, "JST-9")), None, "v1 has no footer");
        assert_eq!(
            footer(&tzif(b'2', "")),
            None,
            "an empty footer says no rule"
        );
        assert_eq!(footer(b"not a tzif file\nJST-9\n"), None);
    }

    #[test]
    fn zone_names_cannot_leave_the_zoneinfo_directory() {
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "Asia/../../x",
            "",
            "Asia/Tok yo",
            "a\0b",
        ] {
            assert!(!safe_name(bad), "{bad:?}");
        }
        for good in [
            "Asia/Tokyo",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+9",
            "UTC",
        ] {
            assert!(safe_name(good), "{good:?}");
        }
    }

    #[test]
    fn a_zone_file_wins_over_the_table_and_the_router_zone_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let zi = dir.path().join("zoneinfo");
        std::fs::create_dir_all(zi.join("Asia")).unwrap();
        // A made-up rule, to tell the file's answer from the table's.
        std::fs::write(zi.join("Asia/Tokyo"), tzif(b'2', "<+10>-10")).unwrap();
        let tz = resolve_in(Some("Asia/Tokyo"), &zi, dir.path()).unwrap();
        assert_eq!(tz.offset_at(0), 10 * 3600);
        assert_eq!(
            tz.spec(),
            "Asia/Tokyo",
            "status still shows the configured name"
        );
        // Not in the directory: the table.
        let tz = resolve_in(Some("Asia/Seoul"), &zi, dir.path()).unwrap();
        assert_eq!(tz.offset_at(0), 9 * 3600);
        // Unset: /etc/TZ as OpenWrt writes it.
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("TZ"), "CET-1CEST,M3.5.0,M10.5.0/3\n").unwrap();
        let tz = resolve_in(None, &zi, &etc).unwrap();
        assert_eq!(tz.offset_at(0), 3600);
        // Nothing anywhere: UTC (unless the test runner itself has $TZ).
        if std::env::var_os("TZ").is_none() {
            let empty = dir.path().join("empty");
            std::fs::create_dir_all(&empty).unwrap();
            assert_eq!(resolve_in(None, &zi, &empty).unwrap().offset_at(0), 0);
        }
    }

    /// The built-in table against the machine's tzdata: every zone the machine has must carry
    /// the same POSIX rule, so a drift of the table (or a new tzdata) fails CI.
    #[test]
    fn the_built_in_table_agrees_with_the_machines_tzdata() {
        let dir = Path::new(ZONEINFO);
        if !dir.join("Asia/Tokyo").exists() {
            eprintln!("no {ZONEINFO} here (apt-get install tzdata); table not checked");
            return;
        }
        let mut checked = 0;
        let mut drift = Vec::new();
        for name in super::super::tzdata::names() {
            let Some(rule) = rule_from_zoneinfo(dir, name) else {
                continue;
            };
            checked += 1;
            let ours = super::super::tzdata::lookup(name).unwrap_or("");
            if ours != rule {
                drift.push(format!("{name}: table {ours:?}, tzdata {rule:?}"));
            }
        }
        assert!(checked > 300, "only {checked} zones found in {ZONEINFO}");
        assert!(
            drift.is_empty(),
            "the table drifted from tzdata:\n{}",
            drift.join("\n")
        );
    }
}
