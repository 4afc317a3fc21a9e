//! Opening the modem's serial port, with errors a person can act on.
//!
//! tokio-serial does the work on real hardware. Where it cannot (qemu-user lacks the `TCGETS2`
//! ioctl; some odd kernels too) we fall back to plain termios (`cfmakeraw` + `tcsetattr`) on a
//! non-blocking fd driven by tokio's `AsyncFd`. Both sit behind [`Port`].

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Why the port could not be opened. Each message names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("modem port {0} does not exist — is the modem plugged in and is modem.port right?")]
    Missing(String),
    #[error("modem port {0} is a directory, not a serial device — set modem.port to a device such as /dev/ttyUSB2")]
    Directory(String),
    #[error(
        "no permission to open modem port {0} — run simkeep as root or give it the dialout group"
    )]
    Permission(String),
    #[error("modem port {0} is in use by another program (is the simkeep agent running? use the API / run without --port; or ModemManager?)")]
    Busy(String),
    #[error("cannot open modem port {path}: {cause}")]
    Other { path: String, cause: String },
}

impl OpenError {
    fn from_io(path: &Path, e: &io::Error) -> Self {
        let p = path.display().to_string();
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => OpenError::Missing(p),
            Some(libc::EISDIR) => OpenError::Directory(p),
            Some(libc::EACCES) | Some(libc::EPERM) => OpenError::Permission(p),
            // EBUSY: another opener set TIOCEXCL; EWOULDBLOCK: another opener holds the flock.
            Some(libc::EBUSY) | Some(libc::EWOULDBLOCK) => OpenError::Busy(p),
            _ => OpenError::Other {
                path: p,
                cause: e.to_string(),
            },
        }
    }
}

/// An open modem port.
pub enum Port {
    Serial(tokio_serial::SerialStream),
    Termios(RawTty),
}

/// Opens `path` at `baud`. Must be called inside a tokio runtime.
pub fn open(path: &Path, baud: u32) -> Result<Port, OpenError> {
    // A plain open first: it gives the precise errno (ENOENT, EACCES, EISDIR, EBUSY) that
    // tokio-serial's error type flattens into a string.
    let probe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| OpenError::from_io(path, &e))?;
    let is_tty = unsafe { libc::isatty(probe.as_raw_fd()) } == 1;
    if !is_tty {
        return Err(OpenError::Other {
            path: path.display().to_string(),
            cause: "it is not a serial device (not a tty)".into(),
        });
    }
    // Someone else (the agent, when this is a one-shot command) may already have the port. Its
    // TIOCEXCL does not stop us: simkeep runs as root on a router and root passes TIOCEXCL. Its
    // exclusive flock (tokio-serial takes one; so does `RawTty::open`) does, whoever we are, and
    // the kernel drops it when the holder dies, so it never goes stale. Ask here, before
    // tokio-serial, whose failure would otherwise send us down the fallback path and onto the
    // port beside the agent, reading its replies.
    exclusive_lock(probe.as_raw_fd()).map_err(|e| OpenError::from_io(path, &e))?;
    // Our own flock would stand in tokio-serial's way (locks belong to the open file, not the
    // process): let it go just before opening for real.
    drop(probe);
    let builder = tokio_serial::new(path.to_string_lossy(), baud);
    match tokio_serial::SerialStream::open(&builder) {
        Ok(s) => Ok(Port::Serial(s)),
        Err(e) => {
            tracing::debug!(port = %path.display(), error = %e, "tokio-serial open failed; trying plain termios");
            RawTty::open(path, baud)
                .map(Port::Termios)
                .map_err(|e| OpenError::from_io(path, &e))
        }
    }
}

/// A tty opened with plain termios, non-blocking, registered with tokio.
pub struct RawTty {
    fd: AsyncFd<OwnedFd>,
    /// We set TIOCEXCL on it and must clear it on close (see `Drop`).
    exclusive: bool,
}

impl RawTty {
    /// Opens a port for ourselves alone, as tokio-serial does: an exclusive flock (refused with
    /// EWOULDBLOCK when another program holds one) and TIOCEXCL (later non-root openers get
    /// EBUSY), then raw mode.
    pub fn open(path: &Path, baud: u32) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)?;
        let fd: OwnedFd = file.into();
        exclusive_lock(fd.as_raw_fd())?;
        // SAFETY: TIOCEXCL takes no argument and only sets a flag on the tty behind a valid fd.
        let exclusive = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCEXCL) } == 0;
        set_raw(fd.as_raw_fd(), baud)?;
        Ok(Self {
            fd: register(fd)?,
            exclusive,
        })
    }

    /// Wraps an fd that is already a raw, non-blocking tty (the simulator's pty master).
    pub fn from_owned(fd: OwnedFd) -> io::Result<Self> {
        set_nonblocking(fd.as_raw_fd())?;
        Ok(Self {
            fd: register(fd)?,
            exclusive: false,
        })
    }
}

impl Drop for RawTty {
    fn drop(&mut self) {
        // The flag lives on the tty, not on our fd: where the tty outlives our close (a pty
        // whose other side stays open, as the simulator's does) it would lock out the next
        // non-root opener. serialport clears it the same way.
        if self.exclusive {
            // SAFETY: TIOCNXCL takes no argument; the fd is still open here.
            unsafe { libc::ioctl(self.fd.get_ref().as_raw_fd(), libc::TIOCNXCL) };
        }
    }
}

/// An exclusive, non-blocking flock: EWOULDBLOCK when another open file holds one.
fn exclusive_lock(fd: i32) -> io::Result<()> {
    // SAFETY: flock on a valid descriptor; LOCK_NB makes it return at once.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd stays open and refers to the same file for as long as the AsyncFd
    // owns it, which is what `register` requires.
    unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)
}

/// `cfmakeraw` + speed + `CLOCAL|CREAD`, no flow control.
pub fn set_raw(fd: i32, baud: u32) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it; fd is a valid open descriptor.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut t);
        t.c_cflag |= libc::CLOCAL | libc::CREAD;
        t.c_cflag &= !libc::CRTSCTS;
        t.c_cc[libc::VMIN] = 1;
        t.c_cc[libc::VTIME] = 0;
        let speed = baud_constant(baud);
        libc::cfsetispeed(&mut t, speed);
        libc::cfsetospeed(&mut t, speed);
        if libc::tcsetattr(fd, libc::TCSANOW, &t) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn baud_constant(baud: u32) -> libc::speed_t {
    match baud {
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        230400 => libc::B230400,
        460800 => libc::B460800,
        921600 => libc::B921600,
        _ => libc::B115200,
    }
}

pub fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a valid descriptor.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl AsyncRead for RawTty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let res = guard.try_io(|inner| {
                // SAFETY: reading into an initialised, exclusively borrowed buffer.
                let n = unsafe {
                    libc::read(
                        inner.as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match res {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for RawTty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            let res = guard.try_io(|inner| {
                // SAFETY: writing from a valid slice to a valid descriptor.
                let n = unsafe { libc::write(inner.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match res {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Port {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Port::Serial(s) => Pin::new(s).poll_read(cx, buf),
            Port::Termios(t) => Pin::new(t).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Port {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Port::Serial(s) => Pin::new(s).poll_write(cx, data),
            Port::Termios(t) => Pin::new(t).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Port::Serial(s) => Pin::new(s).poll_flush(cx),
            Port::Termios(t) => Pin::new(t).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Port::Serial(s) => Pin::new(s).poll_shutdown(cx),
            Port::Termios(t) => Pin::new(t).poll_shutdown(cx),
        }
    }
}

/// Creates a pseudo-terminal pair in raw mode: (master, slave, slave path). The simulator keeps
/// the slave fd open itself so the master never sees EIO while no client is connected.
pub fn open_pty() -> io::Result<(OwnedFd, OwnedFd, std::path::PathBuf)> {
    let mut master = 0;
    let mut slave = 0;
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: openpty writes two fds and a NUL-terminated name into buffers we own.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            name.as_mut_ptr(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both fds are open and owned by us alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // openpty does not set close-on-exec. A child started while the pty is open (the agent a
    // test runs, a hook) would keep the master alive, and the client then never sees the
    // hang-up when the simulator unplugs: the soak found the agent noticing only by a 5 s
    // command timeout and a 2 s probe.
    for fd in [&master, &slave] {
        // SAFETY: F_SETFD on a descriptor we own.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: name is NUL-terminated by openpty.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    // Raw on both sides: no echo or CR/LF translation by the line discipline, or the
    // simulator would read its own output back.
    set_raw(slave.as_raw_fd(), 115200)?;
    set_raw(master.as_raw_fd(), 115200)?;
    Ok((master, slave, path.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_modems_pty_is_not_inherited_by_child_processes() {
        let (master, slave, _) = open_pty().unwrap();
        for fd in [&master, &slave] {
            // SAFETY: F_GETFD on a descriptor we own.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert!(flags >= 0 && flags & libc::FD_CLOEXEC != 0, "flags {flags}");
        }
    }

    #[tokio::test]
    async fn a_missing_port_says_it_does_not_exist() {
        let err = open(Path::new("/dev/ttyDOESNOTEXIST9"), 115200)
            .err()
            .unwrap();
        assert!(matches!(err, OpenError::Missing(_)));
        assert!(err
            .to_string()
            .contains("/dev/ttyDOESNOTEXIST9 does not exist"));
    }

    #[tokio::test]
    async fn a_directory_is_not_a_port() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(dir.path(), 115200).err().unwrap();
        assert!(matches!(err, OpenError::Directory(_)), "{err}");
    }

    #[tokio::test]
    async fn a_regular_file_is_not_a_port() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let err = open(f.path(), 115200).err().unwrap();
        assert!(err.to_string().contains("not a serial device"), "{err}");
    }

    #[tokio::test]
    async fn a_second_opener_of_a_held_pty_is_told_the_port_is_in_use() {
        let (_m, _s, path) = open_pty().unwrap();
        let first = open(&path, 115200).expect("the first opener gets the port");
        for second in [
            open(&path, 115200).err(),
            RawTty::open(&path, 115200)
                .err()
                .map(|e| OpenError::from_io(&path, &e)),
        ] {
            let err = second.expect("the second opener is refused");
            assert!(matches!(err, OpenError::Busy(_)), "{err}");
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains("in use by another program"), "{msg}");
            assert!(msg.contains("simkeep agent running"), "{msg}");
        }
        drop(first);
        // Released on close: the next opener gets it (TIOCEXCL cleared, flock gone).
        let again = RawTty::open(&path, 115200).expect("free again once the first closed");
        drop(again);
        assert!(open(&path, 115200).is_ok());
    }

    #[tokio::test]
    async fn a_pty_opens_through_both_paths() {
        let (_m, _s, path) = open_pty().unwrap();
        assert!(open(&path, 115200).is_ok());
        assert!(RawTty::open(&path, 115200).is_ok());
    }
}
