//! Where `simkeep sim` reads its control lines (`set rsrp=-95`, `hang 10`…): the terminal, when
//! it is ours to read, and a FIFO it creates (`--control PATH`) for scripts and backgrounded runs.
//!
//! Two traps this module exists to avoid:
//! - a background job that reads its terminal is stopped by SIGTTIN (`simkeep sim … &` froze
//!   the README's own example), so the terminal is read only while we are in its foreground
//!   process group, and SIGTTIN is ignored so a later `bg` turns reads into EIO, not a stop;
//! - tokio's stdin is a blocking read on the runtime's blocking pool that cannot be cancelled,
//!   and the runtime waits for it on shutdown, so a SIGTERM did nothing while stdin stayed open.
//!   The readers here are plain threads that the process simply leaves behind when it exits.
//!
//! Must not: keep an unbounded line or an unbounded queue (lines are cut at
//! [`MAX_CONTROL_LINE`], the channel holds [`CONTROL_QUEUE`]).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

/// Longest control line kept; the rest of a longer line is dropped.
pub const MAX_CONTROL_LINE: usize = 4096;
/// Control lines waiting to be applied.
pub const CONTROL_QUEUE: usize = 16;

/// Why a control FIFO could not be set up. Names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("--control {}: a file that is not a FIFO is already there — remove it or choose another path", .0.display())]
    Occupied(PathBuf),
    #[error("--control {}: cannot create the FIFO: {1}", .0.display())]
    Create(PathBuf, std::io::Error),
    #[error("--control {}: cannot open the FIFO: {1}", .0.display())]
    Open(PathBuf, std::io::Error),
}

/// True when stdin is a terminal and we are in its foreground process group: only then can we
/// read it without being stopped.
pub fn stdin_is_foreground_terminal() -> bool {
    // SAFETY: isatty, tcgetpgrp and getpgrp only read process and terminal state.
    unsafe {
        libc::isatty(libc::STDIN_FILENO) == 1
            && libc::tcgetpgrp(libc::STDIN_FILENO) == libc::getpgrp()
    }
}

/// Reads control lines from the terminal on a thread of its own.
pub fn spawn_terminal_reader(tx: mpsc::Sender<String>) -> std::io::Result<()> {
    // SAFETY: setting SIGTTIN's disposition to "ignore" is async-signal-safe and affects only
    // what a background read does (EIO instead of stopping the whole process).
    unsafe {
        libc::signal(libc::SIGTTIN, libc::SIG_IGN);
    }
    std::thread::Builder::new()
        .name("sim-stdin".into())
        .spawn(move || pump(std::io::stdin().lock(), &tx))
        .map(drop)
}

/// A control FIFO at `path`, created by us (mode 0600) and removed on drop.
pub struct ControlFifo {
    path: PathBuf,
}

impl ControlFifo {
    /// Creates the FIFO (replacing a stale FIFO or socket left by an earlier run) and starts a
    /// thread that reads lines from it into `tx`.
    pub fn create(path: &Path, tx: mpsc::Sender<String>) -> Result<ControlFifo, ControlError> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_fifo() || m.file_type().is_socket() => {
                let _ = std::fs::remove_file(path);
            }
            Ok(_) => return Err(ControlError::Occupied(path.to_path_buf())),
            Err(_) => {}
        }
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| {
            ControlError::Create(
                path.to_path_buf(),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL byte in the path"),
            )
        })?;
        // SAFETY: mkfifo reads a NUL-terminated path we own.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(ControlError::Create(
                path.to_path_buf(),
                std::io::Error::last_os_error(),
            ));
        }
        let fifo = ControlFifo {
            path: path.to_path_buf(),
        };
        // Opened read-write so the FIFO always has a writer (us): a writer that comes and goes
        // (`echo … > fifo`) then never makes our reads end with EOF, and the open never blocks.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| ControlError::Open(path.to_path_buf(), e))?;
        std::thread::Builder::new()
            .name("sim-control".into())
            .spawn(move || pump(file, &tx))
            .map_err(|e| ControlError::Open(path.to_path_buf(), e))?;
        Ok(fifo)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlFifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Moves lines from `src` to `tx` until EOF, a hard read error or the receiver is gone.
fn pump(src: impl Read, tx: &mpsc::Sender<String>) {
    let mut r = BufReader::new(src);
    loop {
        match read_bounded_line(&mut r) {
            Ok(None) => return,
            Ok(Some(line)) => {
                if tx.blocking_send(line).is_err() {
                    return;
                }
            }
            // A terminal read while we are in the background (SIGTTIN ignored): wait for `fg`.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                std::thread::sleep(Duration::from_secs(1))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// One line, at most [`MAX_CONTROL_LINE`] bytes of it (the rest is skipped); `None` at EOF.
fn read_bounded_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_CONTROL_LINE as u64)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && buf.len() >= MAX_CONTROL_LINE {
        // Too long: drop the rest of it, in bounded steps.
        loop {
            let mut rest = Vec::new();
            let m = r
                .by_ref()
                .take(MAX_CONTROL_LINE as u64)
                .read_until(b'\n', &mut rest)?;
            if m == 0 || rest.last() == Some(&b'\n') {
                break;
            }
        }
    }
    Ok(Some(String::from_utf8_lossy(&buf).trim_end().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_one_by_one_and_a_long_line_is_cut_not_kept_whole() {
        let long = "x".repeat(MAX_CONTROL_LINE * 3);
        let input = format!("set rsrp=-95\r\n{long}\nreboot\n");
        let mut r = BufReader::new(input.as_bytes());
        assert_eq!(
            read_bounded_line(&mut r).unwrap().as_deref(),
            Some("set rsrp=-95")
        );
        let cut = read_bounded_line(&mut r).unwrap().unwrap();
        assert_eq!(cut.len(), MAX_CONTROL_LINE);
        assert_eq!(
            read_bounded_line(&mut r).unwrap().as_deref(),
            Some("reboot")
        );
        assert_eq!(read_bounded_line(&mut r).unwrap(), None);
    }

    #[test]
    fn a_regular_file_in_the_way_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl");
        std::fs::write(&path, "keep me").unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let err = ControlFifo::create(&path, tx).err().unwrap();
        assert!(err.to_string().contains("not a FIFO"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }

    #[test]
    fn the_fifo_carries_lines_from_writers_that_come_and_go_and_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl");
        let (tx, mut rx) = mpsc::channel(4);
        let fifo = ControlFifo::create(&path, tx).unwrap();
        for line in ["set rsrp=-95", "hang 2"] {
            let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            std::io::Write::write_all(&mut w, format!("{line}\n").as_bytes()).unwrap();
            drop(w);
            assert_eq!(rx.blocking_recv().as_deref(), Some(line));
        }
        drop(fifo);
        assert!(!path.exists());
    }
}
