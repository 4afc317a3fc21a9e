//! A small tmpfs mounted for a test, for store faults: a file system that fills up or turns
//! read-only. Needs root (CAP_SYS_ADMIN); `mount` gives `None` where that is not permitted, and
//! the test says it skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// One mounted file system at a time per test process: tests spawn `mount` and `umount`, and a
/// child being spawned holds copies of every open descriptor until it execs, another test's
/// database included, which makes that test's read-only remount fail with "mount point is busy"
/// (seen once in CI).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Unmounted (lazily) when dropped.
pub struct SmallFs {
    dir: tempfile::TempDir,
    /// Released after `drop` has unmounted.
    _serial: MutexGuard<'static, ()>,
}

impl SmallFs {
    /// A tmpfs of `size` (e.g. `"256k"`), or `None` where mounting is not permitted.
    pub fn mount(size: &str) -> Option<SmallFs> {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir_in("/var/tmp").ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(SmallFs {
            dir,
            _serial: serial,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remounts read-only (`"ro"`) or writable (`"rw"`). A remount read-only is refused while
    /// any process holds a file there open for writing, so a refusal is retried for up to 2 s.
    pub fn remount(&self, mode: &str) {
        let mut last = String::new();
        for _ in 0..20 {
            match Command::new("mount")
                .args(["-o", &format!("remount,{mode}")])
                .arg(self.path())
                .output()
            {
                Ok(o) if o.status.success() => return,
                Ok(o) => last = String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("remount {mode} of {} failed: {last}", self.path().display());
    }

    /// Writes zeros until the file system is full; returns the filler to remove.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).expect("create the filler");
        let block = [0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        filler
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
