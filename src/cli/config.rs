//! `simkeep config show|get|set|unset|validate|init` and `check-config`: the owner's way to read
//! and change the config file over SSH without `vi`, then have the running agent pick it up.
//!
//! An edit is made on the text with `toml_edit` (comments and layout stay), loaded with
//! `Config::parse` before anything is written (a refused edit leaves the file byte for byte as
//! it was), and written atomically: a temp file in the same directory, fsync, rename over the
//! original, fsync of the directory, with the original's mode and owner. Then the agent is told:
//! `POST /api/v1/reload`, or SIGHUP when the API does not answer it.
//!
//! Must not: print a secret (the PIN, API credentials not written as `${secret:NAME}`), or
//! write a file that does not load.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::edit::{self, EditError};
use crate::config::keys::{self, Kind};
use crate::config::Config;
use crate::error::{AppError, ExitKind};

pub use crate::cli::args::ConfigCmd;

/// Runs one `simkeep config` subcommand on the file at `path`.
pub async fn config(path: &Path, cmd: &ConfigCmd) -> Result<(), AppError> {
    match cmd {
        ConfigCmd::Show => show(path),
        ConfigCmd::Get { key } => get(path, key),
        ConfigCmd::Set { key, value } => {
            let _lock = edit_lock(path).await?;
            let text = read(path)?;
            let new = edit::set(&text, key, value).map_err(refused)?;
            save(path, &text, new).await
        }
        ConfigCmd::Unset { key } => {
            let _lock = edit_lock(path).await?;
            let text = read(path)?;
            match edit::unset(&text, key).map_err(refused)? {
                Some(new) => save(path, &text, new).await,
                None => {
                    println!("{key} is not set in {}; nothing to change", path.display());
                    Ok(())
                }
            }
        }
        ConfigCmd::Validate => validate(path),
        ConfigCmd::Init { force } => init(path, *force),
    }
}

/// Two `config set` at once would each write their own edit of the same old text, and one
/// would be lost: editors take turns on an flock of the file's directory (a lock on the file
/// itself would stay with the inode the rename replaces). Waits up to 10 s.
async fn edit_lock(path: &Path) -> Result<std::fs::File, AppError> {
    use std::os::fd::AsRawFd;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let f = std::fs::File::open(dir).map_err(|e| {
        AppError::new(
            ExitKind::Config,
            format!("cannot open the config's directory {}: {e}", dir.display()),
        )
    })?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(f);
        }
        if std::time::Instant::now() >= deadline {
            return Err(AppError::new(
                ExitKind::Failure,
                format!(
                    "another `simkeep config` is editing {}; try again",
                    path.display()
                ),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn refused(e: EditError) -> AppError {
    AppError::new(ExitKind::Config, format!("not saved: {e}"))
}

fn read(path: &Path) -> Result<String, AppError> {
    std::fs::read_to_string(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "no such file; `simkeep config init` writes one".to_string()
            }
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        AppError::new(
            ExitKind::Config,
            format!("cannot read config {}: {hint}", path.display()),
        )
    })
}

/// `check-config` and `config validate`: loads, checks the store path and the secrets, prints
/// warnings; exit 0 only when the agent would start with it.
pub fn validate(path: &Path) -> Result<(), AppError> {
    let cfg = Config::load(path)?;
    cfg.check_paths()?;
    check_secrets(&cfg)?;
    for w in cfg.topup.warnings() {
        println!("warning: {w}");
    }
    println!("config {} is valid", cfg.path.display());
    Ok(())
}

/// Every `${secret:NAME}` the config uses must be in the secrets file, and that file must be
/// private. Names only: no value is ever printed.
fn check_secrets(cfg: &Config) -> Result<(), AppError> {
    let uses = cfg.secret_uses();
    if uses.is_empty() {
        return Ok(());
    }
    let secrets = cfg
        .load_secrets()
        .map_err(|e| AppError::new(ExitKind::Config, e.to_string()))?;
    let missing: Vec<String> = uses
        .iter()
        .filter(|(_, name)| !secrets.contains(name))
        .map(|(key, name)| format!("{name} (used by {key})"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let file = cfg.secrets_path.as_ref().map_or_else(
        || "the secrets file".to_string(),
        |p| p.display().to_string(),
    );
    Err(AppError::new(
        ExitKind::Config,
        format!("{file} lacks {}", missing.join(", ")),
    ))
}

/// The file as written (secrets hidden), then the defaults in effect for keys it leaves out,
/// as comments so that the whole output is still a valid config.
fn show(path: &Path) -> Result<(), AppError> {
    let text = read(path)?;
    let mut out =
        edit::redacted(&text).map_err(|e| AppError::new(ExitKind::Config, e.to_string()))?;
    let defaults = unset_defaults(&text);
    if !defaults.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("\n# Not in the file; in effect by default:\n");
        for (name, value) in defaults {
            out.push_str(&format!("# {name} = {value}\n"));
        }
    }
    // `config show | head` closing the pipe early is a normal end, not a failure.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(AppError::new(
            ExitKind::Failure,
            format!("cannot write to stdout: {e}"),
        )),
        _ => Ok(()),
    }
}

/// Keys with a default that the file leaves out, in tables that are in effect.
fn unset_defaults(text: &str) -> Vec<(String, &'static str)> {
    let has = |name: &str| -> bool {
        let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
            return false;
        };
        let mut item = doc.as_item();
        for part in name.split('.') {
            match item.get(part) {
                Some(i) => item = i,
                None => return false,
            }
        }
        true
    };
    let apis: Vec<String> = text
        .parse::<toml_edit::DocumentMut>()
        .ok()
        .and_then(|d| {
            d.get("carrier_api")
                .and_then(|t| t.as_table_like())
                .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for key in keys::KEYS {
        let Some(default) = key.default else { continue };
        let names: Vec<String> = if key.name.starts_with("carrier_api.*.") {
            apis.iter().map(|a| key.name.replacen('*', a, 1)).collect()
        } else {
            vec![key.name.to_string()]
        };
        for name in names {
            let table = name.rsplit_once('.').map_or("", |(t, _)| t);
            // [usage] keys are in effect only with a [usage] table; the others always are.
            let in_effect = !table.starts_with("usage") || has(table);
            if in_effect && !has(&name) {
                out.push((name, default));
            }
        }
    }
    out
}

/// `config get KEY`: the value as the file writes it, or the default, saying which.
fn get(path: &Path, name: &str) -> Result<(), AppError> {
    let text = read(path)?;
    let key = edit::known(name).map_err(|e| AppError::new(ExitKind::Config, e.to_string()))?;
    match edit::get(&text, name).map_err(|e| AppError::new(ExitKind::Config, e.to_string()))? {
        Some(v) if key.kind == Kind::Secret && !v.contains("${secret:") => {
            println!("\"<hidden>\"  (set in the file; not shown)")
        }
        Some(v) => println!("{v}"),
        None => match key.default {
            Some(d) => println!("{d}  (default; not in the file)"),
            None => println!("(not set: {})", key.help),
        },
    }
    Ok(())
}

/// Loads `new` (refusing it with the file untouched when it does not), writes it, and tells
/// the agent.
async fn save(path: &Path, old_text: &str, new: String) -> Result<(), AppError> {
    let cfg = Config::parse(&new, path)
        .map_err(|e| AppError::new(ExitKind::Config, format!("not saved: {e}")))?;
    if new == old_text {
        println!("{} already says so; nothing to change", path.display());
        return Ok(());
    }
    write_atomic(path, &new).map_err(|e| {
        AppError::new(
            ExitKind::Failure,
            format!(
                "cannot save {}: {e} (the file is unchanged)",
                path.display()
            ),
        )
    })?;
    // The running agent listens where the file said before this edit (when it loaded).
    let before = Config::parse(old_text, path).ok();
    let told = tell_agent(before.as_ref().unwrap_or(&cfg), path).await;
    match told {
        Ok(msg) => {
            println!("saved {}; {msg}", path.display());
            Ok(())
        }
        Err(msg) => Err(AppError::new(
            ExitKind::Failure,
            format!("saved {}, but {msg}", path.display()),
        )),
    }
}

/// Asks the agent using `cfg` (the file at `path`) to reload: `POST /api/v1/reload`, or SIGHUP
/// to the `simkeep run` started with this config file when the API does not take it (no HTTP,
/// or an agent without that endpoint). Ok: what happened, for the user; Err: why it did not.
async fn tell_agent(cfg: &Config, path: &Path) -> Result<String, String> {
    use crate::api::client::{daemon_call, refusal};
    let api_err = match daemon_call(cfg, "POST", "/api/v1/reload", None, true).await {
        Some(Ok((code, _))) if (200..300).contains(&code) => {
            return Ok("the agent reloads it".into())
        }
        // An agent from before the reload endpoint: SIGHUP does the same.
        Some(Ok((404 | 405, _))) | None => None,
        Some(Ok((_, v))) => return Err(format!("the agent refused to reload: {}", refusal(&v))),
        Some(Err(e)) => Some(e.to_string()),
    };
    match agent_pid(path) {
        Some(pid) => {
            // SAFETY: kill(2) with a pid read from /proc and a fixed signal.
            if unsafe { libc::kill(pid, libc::SIGHUP) } == 0 {
                Ok(format!(
                    "sent SIGHUP to the agent (pid {pid}), which reloads it"
                ))
            } else {
                Err(format!(
                    "cannot signal the agent (pid {pid}): {}; run `/etc/init.d/simkeep reload`",
                    std::io::Error::last_os_error()
                ))
            }
        }
        None => match api_err {
            Some(e) => Err(format!("the agent was not told: {e}")),
            None => Ok("no agent running".into()),
        },
    }
}

/// The pid of a `simkeep run` whose `--config` is this file (procd may keep no pid file, so
/// /proc is asked: the command line, resolved against the process's own working directory).
fn agent_pid(path: &Path) -> Option<i32> {
    let want = std::fs::canonicalize(path).ok()?;
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Bounded read: a command line is small; anything odd is skipped, not an error.
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let Some(config) = run_config(&args) else {
            continue;
        };
        let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        if std::fs::canonicalize(cwd.join(config)).ok().as_ref() == Some(&want) {
            return i32::try_from(pid).ok();
        }
    }
    None
}

/// The config path of a `simkeep run` command line, or `None` for anything else.
fn run_config(args: &[String]) -> Option<PathBuf> {
    let prog = args.first()?;
    if Path::new(prog).file_name()? != "simkeep" || !args.iter().skip(1).any(|a| a == "run") {
        return None;
    }
    let mut config = PathBuf::from("/etc/simkeep/config.toml");
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--config" || a == "-c" {
            config = PathBuf::from(it.next()?);
        } else if let Some(v) = a.strip_prefix("--config=") {
            config = PathBuf::from(v);
        } else if let Some(v) = a
            .strip_prefix("-c")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            config = PathBuf::from(v);
        }
    }
    Some(config)
}

/// `config init`: the commented example, 0600 (a PIN may go in it), never over an existing
/// file without `--force`.
fn init(path: &Path, force: bool) -> Result<(), AppError> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(AppError::new(
            ExitKind::Config,
            format!(
                "{} already exists; `simkeep config init --force` replaces it",
                path.display()
            ),
        ));
    }
    write_atomic(path, keys::EXAMPLE).map_err(|e| {
        AppError::new(
            ExitKind::Failure,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    println!(
        "wrote {}; check it with `simkeep check-config`",
        path.display()
    );
    Ok(())
}

/// Replaces `path` with `text` so that a reader (or a crash) sees the old file or the new one,
/// never half of one. A symlinked config is followed: the link stays, its target is replaced.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let target: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let old = std::fs::metadata(&target).ok();
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.simkeep-{}", std::process::id()));
    let mode = old
        .as_ref()
        .map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have taken bits off: set the original's mode exactly.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if let Some(m) = &old {
            if m.uid() != current_uid() || m.gid() != current_gid() {
                std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))?;
            }
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

fn current_gid() -> u32 {
    // SAFETY: getgid cannot fail.
    unsafe { libc::getgid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_keeps_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_atomic_write_through_a_symlink_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        let link = dir.path().join("config.toml");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, "new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn the_agents_config_is_read_from_its_command_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            run_config(&args(&[
                "/usr/bin/simkeep",
                "run",
                "--config",
                "/tmp/c.toml"
            ])),
            Some(PathBuf::from("/tmp/c.toml"))
        );
        assert_eq!(
            run_config(&args(&["simkeep", "-c/x.toml", "run"])),
            Some(PathBuf::from("/x.toml"))
        );
        assert_eq!(
            run_config(&args(&["/usr/sbin/simkeep", "run"])),
            Some(PathBuf::from("/etc/simkeep/config.toml"))
        );
        assert_eq!(run_config(&args(&["simkeep", "status"])), None);
        assert_eq!(run_config(&args(&["/bin/vi", "run"])), None);
    }

    #[test]
    fn defaults_in_effect_skip_set_keys_and_absent_usage() {
        let d = unset_defaults("[modem]\nbaud = 9600\n[carrier_api.x]\nbase_url = \"https://a\"\n");
        let names: Vec<&str> = d.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"modem.poll_interval"));
        assert!(!names.contains(&"modem.baud"));
        assert!(!names.iter().any(|n| n.starts_with("usage")));
        assert!(names.contains(&"carrier_api.x.timeout"));
    }
}
