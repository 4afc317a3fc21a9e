//! UUCP lock files (`/var/lock/LCK..ttyUSB2`), the convention `sms_tool`, `comgt`, minicom and
//! a second simkeep use so that two programs do not talk over each other on one modem port.
//!
//! Format (FHS §5.9, "HDB UUCP"): the owner's PID as ten ASCII characters right-aligned, then a
//! newline. A lock whose PID no longer runs is stale and may be taken over. The lock names the
//! real device (`ttyUSB2`), even when we were given a symlink such as `/var/run/simkeep/modem`,
//! because the other tools lock the device name.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a port could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("port {port} is in use by process {pid}{} (lock file {}) — stop that program or choose another port", owner_name(*.pid), .lock.display())]
    Held {
        port: String,
        pid: i32,
        lock: PathBuf,
    },
    #[error("cannot create lock file {} for port {port}: {source} — check modem.lock_dir", .lock.display())]
    Io {
        port: String,
        lock: PathBuf,
        source: io::Error,
    },
}

fn owner_name(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| format!(" ({})", s.trim()))
        .unwrap_or_default()
}

/// A held lock; removed when dropped.
#[derive(Debug)]
pub struct PortLock {
    path: PathBuf,
}

impl PortLock {
    /// Takes the lock for `port` in `lock_dir`, taking over a stale one.
    pub fn acquire(lock_dir: &Path, port: &Path) -> Result<Self, LockError> {
        let path = lock_path(lock_dir, port);
        let port_s = port.display().to_string();
        let io_err = |source| LockError::Io {
            port: port_s.clone(),
            lock: path.clone(),
            source,
        };
        // Two tries: the second after removing a stale lock.
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let me = std::process::id();
                    f.write_all(format!("{me:>10}\n").as_bytes())
                        .map_err(io_err)?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    match read_pid(&path) {
                        Some(pid) if pid == std::process::id() as i32 => {
                            // Our own lock left from before a reconnect: take it again.
                            return Ok(Self { path });
                        }
                        Some(pid) if process_alive(pid) => {
                            return Err(LockError::Held {
                                port: port_s,
                                pid,
                                lock: path,
                            });
                        }
                        _ => {
                            tracing::info!(lock = %path.display(), "taking over stale lock file");
                            match fs::remove_file(&path) {
                                Ok(()) => {}
                                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                                Err(e) => return Err(io_err(e)),
                            }
                        }
                    }
                }
                Err(e) => return Err(io_err(e)),
            }
        }
        Err(io_err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "lock file keeps reappearing",
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PortLock {
    fn drop(&mut self) {
        // Only remove the lock if it is still ours (someone may have taken over a lock we left
        // behind as stale — impossible while we live, but cheap to check).
        if read_pid(&self.path) == Some(std::process::id() as i32) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// `/var/lock/LCK..ttyUSB2` for `/dev/ttyUSB2` or a symlink to it.
pub fn lock_path(lock_dir: &Path, port: &Path) -> PathBuf {
    let real = fs::canonicalize(port).unwrap_or_else(|_| port.to_path_buf());
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "modem".to_string());
    lock_dir.join(format!("LCK..{name}"))
}

/// Reads the PID from a lock file: HDB ASCII form, or the old binary 4-byte form.
fn read_pid(path: &Path) -> Option<i32> {
    let bytes = fs::read(path).ok()?;
    if let Ok(text) = std::str::from_utf8(&bytes) {
        if let Ok(pid) = text.trim().parse::<i32>() {
            return Some(pid);
        }
    }
    let raw: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(i32::from_ne_bytes(raw))
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission; it sends nothing.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_written_in_hdb_format_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = PortLock::acquire(dir.path(), Path::new("/dev/ttyFAKE7")).unwrap();
        let text = fs::read_to_string(lock.path()).unwrap();
        assert_eq!(text, format!("{:>10}\n", std::process::id()));
        assert!(lock.path().ends_with("LCK..ttyFAKE7"));
        let p = lock.path().to_path_buf();
        drop(lock);
        assert!(!p.exists());
    }

    #[test]
    fn a_lock_of_a_live_process_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        // PID 1 always runs.
        fs::write(dir.path().join("LCK..ttyFAKE1"), "         1\n").unwrap();
        let err = PortLock::acquire(dir.path(), Path::new("/dev/ttyFAKE1")).unwrap_err();
        assert!(matches!(err, LockError::Held { pid: 1, .. }), "{err}");
        assert!(err.to_string().contains("in use by process 1"), "{err}");
    }

    #[test]
    fn a_stale_lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(dir.path().join("LCK..ttyFAKE2"), format!("{dead:>10}\n")).unwrap();
        let lock = PortLock::acquire(dir.path(), Path::new("/dev/ttyFAKE2")).unwrap();
        assert_eq!(read_pid(lock.path()), Some(std::process::id() as i32));
    }

    #[test]
    fn a_symlinked_port_locks_the_real_device_name() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("ttyUSB9");
        fs::write(&dev, "").unwrap();
        let link = dir.path().join("modem");
        std::os::unix::fs::symlink(&dev, &link).unwrap();
        assert!(lock_path(dir.path(), &link).ends_with("LCK..ttyUSB9"));
    }
}
