//! The connection side of the HTTP server: accept, parse with `httparse`, read the body under a
//! cap, hand the routes an owned `Request`, write the answer under a deadline, keep the
//! connection for the next request (HTTP/1.1 keep-alive) or close it.
//!
//! Built to hold under abuse on a router with 64–128 MB of RAM:
//! - at most `MAX_CONNECTIONS` connections; when full, the one idle longest (a slowloris holding
//!   a slot without finishing its request) is closed to make room, so a client that sends its
//!   request at once always gets in; only when every slot is busy serving is a newcomer told 503;
//! - a peer that is not on loopback may hold `MAX_PER_REMOTE` connections and, all together,
//!   never the last `LOOPBACK_RESERVE` slots: the owner on the router (CLI, LuCI, scripts) is
//!   never starved by the LAN;
//! - a head over `MAX_HEAD` is answered 431 and a body over `MAX_BODY` 413, both after draining
//!   what the client already sent (closing with unread bytes would reset the connection and the
//!   client would never see the answer);
//! - every read and every write has a deadline; idle keep-alive connections are closed sooner
//!   when the server is busy; long answers (history) are streamed in pages, never built whole.
//!
//! Must not: hold a lock across an await, allocate in proportion to what a client sends beyond
//! the caps, or let one connection's stall delay another.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::{timeout, Instant};

use super::http::{reason, Reply, Request};
use super::{route, ApiContext, Response};
use crate::agent::status::Status;

/// History answers streamed at once (each holds a page of rows while it waits on its client).
const MAX_STREAMS: usize = 4;
/// Largest request head (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body: the API's bodies are small JSON documents (an SMS of ten parts in
/// `\u` escapes is under 10 KB).
pub const MAX_BODY: usize = 32 * 1024;
const MAX_HEADERS: usize = 32;
/// Connections at once. An idle connection costs a task and about 1.5 KB, so the cap is high
/// enough that a crowd of idle connections (slowloris) cannot fill it before the short idle
/// deadline of a busy server clears them out, and low enough to stay far below the process's
/// file-descriptor limit (1024 under procd).
pub const MAX_CONNECTIONS: usize = 512;
/// Connections one non-loopback address may hold.
pub const MAX_PER_REMOTE: usize = 16;
/// Slots only loopback peers may take.
const LOOPBACK_RESERVE: usize = 128;
/// How long a connection may sit idle between requests; shorter once the server is busy.
const IDLE: Duration = Duration::from_secs(10);
const IDLE_WHEN_BUSY: Duration = Duration::from_secs(1);
/// From the first byte of a request to its complete head and body; shorter once busy.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
const REQUEST_DEADLINE_WHEN_BUSY: Duration = Duration::from_secs(2);
/// One write may stall this long (a client that stopped reading).
const WRITE_STALL: Duration = Duration::from_secs(5);
/// Draining what a refused client still sends: at most this long and this much.
const DRAIN_FOR: Duration = Duration::from_secs(2);
const DRAIN_MAX: usize = 4 << 20;
/// Requests on one connection before it is closed (keeps a single client from pinning a slot).
const MAX_REQUESTS_PER_CONNECTION: u32 = 10_000;

/// The connections alive now, and which of them wait idle (and may be closed to make room).
#[derive(Default)]
struct Registry {
    next_id: u64,
    conns: HashMap<u64, Conn>,
}

struct Conn {
    ip: IpAddr,
    /// Since when it waits for a request; `None` while a request is being read or served.
    idle_since: Option<Instant>,
    evict: Arc<Notify>,
}

/// Why a new connection was not taken.
enum Refusal {
    Full,
    TooManyFromPeer,
}

impl Registry {
    fn admit(&mut self, ip: IpAddr) -> Result<(u64, Arc<Notify>), Refusal> {
        let loopback = ip.is_loopback();
        if !loopback {
            let from_peer = self.conns.values().filter(|c| c.ip == ip).count();
            if from_peer >= MAX_PER_REMOTE {
                return Err(Refusal::TooManyFromPeer);
            }
            let remote = self.conns.values().filter(|c| !c.ip.is_loopback()).count();
            if remote >= MAX_CONNECTIONS - LOOPBACK_RESERVE {
                return Err(Refusal::Full);
            }
        }
        if self.conns.len() >= MAX_CONNECTIONS {
            // Make room by closing the connection idle longest; a remote newcomer may only
            // displace a remote connection, so the LAN cannot push the owner out.
            let oldest = self
                .conns
                .iter()
                .filter(|(_, c)| loopback || !c.ip.is_loopback())
                .filter_map(|(id, c)| c.idle_since.map(|t| (t, *id)))
                .min();
            let Some((_, id)) = oldest else {
                return Err(Refusal::Full);
            };
            if let Some(c) = self.conns.remove(&id) {
                c.evict.notify_one();
            }
        }
        self.next_id = self.next_id.wrapping_add(1);
        let evict = Arc::new(Notify::new());
        self.conns.insert(
            self.next_id,
            Conn {
                ip,
                idle_since: Some(Instant::now()),
                evict: evict.clone(),
            },
        );
        Ok((self.next_id, evict))
    }

    fn busy(&self) -> bool {
        self.conns.len() * 4 >= MAX_CONNECTIONS * 3
    }
}

/// Removes its connection from the registry when the connection's task ends, however it ends.
struct Slot {
    id: u64,
    registry: Arc<Mutex<Registry>>,
}

impl Slot {
    fn set_idle(&self, idle: bool) {
        if let Ok(mut r) = self.registry.lock() {
            if let Some(c) = r.conns.get_mut(&self.id) {
                c.idle_since = idle.then(Instant::now);
            }
        }
    }

    fn busy(&self) -> bool {
        self.registry.lock().map_or(true, |r| r.busy())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut r) = self.registry.lock() {
            r.conns.remove(&self.id);
        }
    }
}

pub(super) async fn accept_loop(
    listener: TcpListener,
    status: watch::Receiver<Status>,
    ctx: Arc<ApiContext>,
) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let streams = Arc::new(Semaphore::new(MAX_STREAMS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("http accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let admitted = match registry.lock() {
            Ok(mut r) => r.admit(peer.ip()),
            Err(_) => Err(Refusal::Full),
        };
        let (id, evict) = match admitted {
            Ok(a) => a,
            Err(why) => {
                // One non-blocking write and close: a refusal must not cost a task or a wait.
                let reply = match why {
                    Refusal::Full => Reply::error(
                        503,
                        "busy",
                        "every connection slot is serving a request; try again",
                    ),
                    Refusal::TooManyFromPeer => Reply::error(
                        429,
                        "too many connections",
                        &format!("at most {MAX_PER_REMOTE} connections from one address"),
                    ),
                };
                let _ = stream.try_write(&encode_head(&reply, reply.body.len(), false));
                let _ = stream.try_write(&reply.body);
                continue;
            }
        };
        let slot = Slot {
            id,
            registry: registry.clone(),
        };
        let status = status.clone();
        let ctx = ctx.clone();
        let streams = streams.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection(stream, peer, &slot, status, &ctx, &streams) => {}
                _ = evict.notified() => {}
            }
            drop(slot);
        });
    }
}

/// What reading one request can end in.
enum Read {
    Request(Request, bool),
    /// The client closed or went quiet between requests: end without an answer.
    Gone,
    /// Answer this and close.
    Refuse(Reply),
}

async fn connection(
    mut stream: TcpStream,
    _peer: SocketAddr,
    slot: &Slot,
    status: watch::Receiver<Status>,
    ctx: &ApiContext,
    streams: &Arc<Semaphore>,
) {
    let _ = stream.set_nodelay(true);
    // Bytes read past the end of the previous request (pipelining) start the next one.
    let mut buf: Vec<u8> = Vec::new();
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        slot.set_idle(true);
        let read = read_request(&mut stream, &mut buf, slot).await;
        let (req, keep_alive) = match read {
            Read::Request(r, k) => (r, k),
            Read::Gone => return,
            Read::Refuse(reply) => {
                let _ = write_reply(&mut stream, &reply, false).await;
                drain_and_close(stream).await;
                return;
            }
        };
        let response = route(&req, &status, ctx).await;
        let ok = match response {
            Response::Reply(reply) => write_reply(&mut stream, &reply, keep_alive).await.is_ok(),
            Response::Stream(rows) => match streams.clone().try_acquire_owned() {
                Ok(_permit) => {
                    // A streamed answer has no length: it ends when the connection closes.
                    let _ = super::history::stream(&mut stream, rows, req.head_only()).await;
                    false
                }
                Err(_) => {
                    let busy = Reply::error(
                        503,
                        "busy",
                        &format!("{MAX_STREAMS} history answers are being sent already; try again"),
                    );
                    let _ = write_reply(&mut stream, &busy, false).await;
                    false
                }
            },
        };
        if !ok || !keep_alive {
            break;
        }
    }
    let _ = timeout(WRITE_STALL, stream.shutdown()).await;
}

/// Reads one request head (and body) into an owned `Request`.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, slot: &Slot) -> Read {
    let mut chunk = [0u8; 1024];
    let (idle, whole) = match slot.busy() {
        false => (IDLE, REQUEST_DEADLINE),
        true => (IDLE_WHEN_BUSY, REQUEST_DEADLINE_WHEN_BUSY),
    };
    // Waiting for the first byte is idleness; after it, the whole request has REQUEST_DEADLINE.
    if buf.is_empty() {
        match timeout(idle, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Read::Gone,
            Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
        }
    }
    // Until its head is complete, a connection counts as idle: a slowloris dribbling a head
    // is the first to be closed when a newcomer needs the room.
    let deadline = Instant::now() + whole;
    // The head is parsed again only when a read brought a new line: parsing after every read
    // made a 16 KB head sent a byte at a time cost the square of its size (found by fuzzing:
    // 94 ms of parsing per such connection on x86, seconds on a MIPS router).
    let mut new_line = true;
    loop {
        let parsed = if new_line {
            parse(buf)
        } else {
            Parsed::Partial
        };
        match parsed {
            Parsed::Complete {
                mut req,
                head_len,
                content_length,
                keep_alive,
            } => {
                slot.set_idle(false);
                buf.drain(..head_len);
                if content_length > MAX_BODY {
                    return Read::Refuse(Reply::error(
                        413,
                        "request body too large",
                        &format!("at most {MAX_BODY} bytes; this one says {content_length}"),
                    ));
                }
                while buf.len() < content_length {
                    let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => return Read::Gone,
                        Ok(Ok(n)) => n,
                        Err(_) => {
                            return Read::Refuse(Reply::error(
                                408,
                                "request timed out",
                                "the body did not arrive in time",
                            ))
                        }
                    };
                    buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                }
                req.body = buf.drain(..content_length).collect();
                return Read::Request(req, keep_alive);
            }
            Parsed::Refuse(reply) => return Read::Refuse(reply),
            Parsed::Partial => {}
        }
        if buf.len() > MAX_HEAD {
            return Read::Refuse(Reply::error(
                431,
                "request header too large",
                &format!("the request line and headers may be at most {MAX_HEAD} bytes"),
            ));
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Read::Gone,
            Ok(Ok(n)) => {
                let got = chunk.get(..n).unwrap_or(&[]);
                new_line = got.contains(&b'\n');
                buf.extend_from_slice(got);
            }
            Err(_) => {
                return Read::Refuse(Reply::error(
                    408,
                    "request timed out",
                    "the request head did not arrive in time",
                ))
            }
        }
    }
}

/// What the bytes so far amount to.
pub enum Parsed {
    Partial,
    Complete {
        req: Request,
        head_len: usize,
        content_length: usize,
        keep_alive: bool,
    },
    Refuse(Reply),
}

/// Pure: the bytes received so far → a request, "need more", or the refusal to send. The one
/// place a request head is parsed.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut headers);
    let head_len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            // httparse leaves the version unchecked until the line is complete; say 505 as soon
            // as a whole request line names another version.
            return match first_line_version(buf) {
                Some(v) if !v.starts_with(b"HTTP/1.") => Parsed::Refuse(version_refusal()),
                _ => Parsed::Partial,
            };
        }
        Err(httparse::Error::Version) => return Parsed::Refuse(version_refusal()),
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Refuse(Reply::error(
                431,
                "too many headers",
                &format!("at most {MAX_HEADERS} header lines"),
            ))
        }
        Err(e) => {
            return Parsed::Refuse(Reply::error(
                400,
                "malformed request",
                &format!("{e}; expected `METHOD /path HTTP/1.1` and `Name: value` lines"),
            ))
        }
    };
    let (Some(method), Some(target), Some(_version)) = (r.method, r.path, r.version) else {
        return Parsed::Refuse(Reply::error(
            400,
            "malformed request",
            "incomplete request line",
        ));
    };
    let mut authorization = None;
    let mut content_length: Option<usize> = None;
    // Keep-alive only when the client asks for it by name (browsers and HTTP libraries do): a
    // simple client that sends HTTP/1.1 and reads to EOF — scripts, test harnesses, `nc` —
    // gets its answer and the end of it at once, and slots are not held by idle connections.
    let mut close = true;
    for h in r.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.to_string());
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let Ok(n) = value.parse::<usize>() else {
                return Parsed::Refuse(Reply::error(
                    400,
                    "bad Content-Length",
                    "Content-Length must be a whole number of bytes",
                ));
            };
            if content_length.is_some_and(|c| c != n) {
                return Parsed::Refuse(Reply::error(
                    400,
                    "bad Content-Length",
                    "two different Content-Length headers",
                ));
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are refused rather than half-supported: request smuggling lives
            // in the disagreements between Content-Length and Transfer-Encoding.
            return Parsed::Refuse(Reply::error(
                411,
                "length required",
                "send the body with Content-Length, not Transfer-Encoding",
            ));
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                close = true;
            } else if v.contains("keep-alive") {
                close = false;
            }
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Parsed::Complete {
        req: Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            authorization,
            body: Vec::new(),
        },
        head_len,
        content_length: content_length.unwrap_or(0),
        keep_alive: !close,
    }
}

fn version_refusal() -> Reply {
    Reply::error(
        505,
        "HTTP version not supported",
        "only HTTP/1.0 and HTTP/1.1 are served",
    )
}

/// The version of a complete first line (`METHOD target VERSION\r\n`), if there is one.
/// Empty lines before it are skipped, as httparse does (RFC 9112 §2.2: a server SHOULD ignore
/// at least one empty line before the request line — some clients send a CRLF after a POST
/// body); otherwise a request whose leading CRLF arrives in a read of its own is refused.
fn first_line_version(buf: &[u8]) -> Option<&[u8]> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let buf = buf.get(start..)?;
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = buf
        .get(..end)?
        .strip_suffix(b"\r")
        .unwrap_or(buf.get(..end)?);
    line.rsplit(|&b| b == b' ').next()
}

/// The status line and headers of a reply with a known length.
pub fn encode_head(reply: &Reply, len: usize, keep_alive: bool) -> Vec<u8> {
    format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {len}\r\nConnection: {}\r\nCache-Control: no-store\r\n{}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        if keep_alive { "keep-alive" } else { "close" },
        reply.extra_headers,
    )
    .into_bytes()
}

/// Writes a whole reply; a client that stops reading for WRITE_STALL is dropped.
async fn write_reply(
    stream: &mut TcpStream,
    reply: &Reply,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut out = encode_head(reply, reply.body.len(), keep_alive);
    if !reply.head_only {
        out.extend_from_slice(&reply.body);
    }
    write_within(stream, &out).await
}

/// One write under the stall deadline.
pub(super) async fn write_within(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    match timeout(WRITE_STALL, stream.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client stopped reading",
        )),
    }
}

/// After a refusal: stop writing, read and discard what the client is still sending (bounded in
/// time and bytes), then close — so the client reads our answer instead of a reset.
async fn drain_and_close(mut stream: TcpStream) {
    let _ = timeout(WRITE_STALL, stream.shutdown()).await;
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    let _ = timeout(DRAIN_FOR, async {
        while total < DRAIN_MAX {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total = total.saturating_add(n),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &[u8]) -> (Request, usize, usize, bool) {
        match parse(raw) {
            Parsed::Complete {
                req,
                head_len,
                content_length,
                keep_alive,
            } => (req, head_len, content_length, keep_alive),
            Parsed::Partial => panic!("partial: {raw:?}"),
            Parsed::Refuse(r) => {
                panic!("refused {}: {}", r.status, String::from_utf8_lossy(&r.body))
            }
        }
    }

    fn refused(raw: &[u8]) -> u16 {
        match parse(raw) {
            Parsed::Refuse(r) => r.status,
            _ => 0,
        }
    }

    #[test]
    fn a_request_with_a_body_and_a_token() {
        let raw = b"POST /api/v1/ussd?x=1 HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer abc\r\nContent-Length: 5\r\n\r\nhello";
        let (_, _, _, keep) = complete(b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n");
        assert!(keep, "kept when asked");
        let (req, head_len, len, keep) = complete(raw);
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/api/v1/ussd");
        assert_eq!(req.query, "x=1");
        assert_eq!(req.authorization.as_deref(), Some("Bearer abc"));
        assert_eq!(len, 5);
        assert_eq!(&raw[head_len..], b"hello");
        assert!(!keep, "closed unless keep-alive is asked for");
    }

    #[test]
    fn one_verdict_on_versions() {
        assert_eq!(refused(b"GET /api/v1/history/usage HTTP/9.9\r\n\r\n"), 505);
        assert_eq!(
            refused(b"GET / HTTP/2.0\r\n"),
            505,
            "known from the line alone"
        );
        assert_eq!(refused(b"GET / HTTP/1.1 extra\r\n\r\n"), 400);
        let (_, _, _, keep) = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!keep, "HTTP/1.0 closes unless asked");
        let (_, _, _, keep) = complete(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(!keep);
    }

    #[test]
    fn malformed_heads_are_400_and_partial_heads_wait() {
        for bad in [
            &b"\xff\xfe / HTTP/1.1\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        ] {
            assert_eq!(refused(bad), 400, "{bad:?}");
        }
        assert!(matches!(parse(b"GET / HTTP/1.1\r\nHost:"), Parsed::Partial));
        assert!(matches!(parse(b""), Parsed::Partial));
    }

    #[test]
    fn a_request_after_an_empty_line_waits_and_is_served_in_any_split() {
        // Found by fuzz/fuzz_targets/http.rs: the request is valid whole, but its first byte
        // alone (an empty line, which httparse skips) was refused with 505.
        let raw = b"\nPOT ,/ HTTP/1.1\r\ntion: B \n\r\n";
        let (req, head_len, _, _) = complete(raw);
        assert_eq!((req.method.as_str(), head_len), ("POT", raw.len()));
        let raw = b"\r\nGET /api/v1/status HTTP/1.1\r\nHost: r\r\n\r\n";
        let (req, _, _, _) = complete(raw);
        assert_eq!(req.path, "/api/v1/status");
        for k in 0..raw.len() {
            assert!(
                matches!(parse(&raw[..k]), Parsed::Partial),
                "the first {k} bytes of {raw:?} must wait for more"
            );
        }
        assert_eq!(refused(b"\r\n\r\nGET / HTTP/2.0\r\n"), 505);
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411
        );
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            400
        );
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            400
        );
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            400
        );
    }

    #[test]
    fn too_many_headers_is_431() {
        let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..40 {
            raw.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        assert_eq!(refused(&raw), 431);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..600))| {
            let _ = parse(&bytes);
        });
    }

    #[test]
    fn full_registry_closes_the_longest_idle_and_keeps_the_owner_in() {
        let mut r = Registry::default();
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let mut first = None;
        for _ in 0..MAX_PER_REMOTE {
            let (id, _) = r.admit(lan).ok().unwrap();
            first.get_or_insert(id);
        }
        assert!(matches!(r.admit(lan), Err(Refusal::TooManyFromPeer)));
        while r.conns.len() < MAX_CONNECTIONS {
            r.admit(lo).ok().unwrap();
        }
        // Full: a loopback newcomer displaces the oldest idle connection.
        let first = first.unwrap();
        assert!(r.conns.contains_key(&first));
        r.admit(lo).ok().unwrap();
        assert!(!r.conns.contains_key(&first), "the longest idle was closed");
        assert_eq!(r.conns.len(), MAX_CONNECTIONS);
        // With every slot serving, a newcomer is refused instead.
        for c in r.conns.values_mut() {
            c.idle_since = None;
        }
        assert!(matches!(r.admit(lo), Err(Refusal::Full)));
    }
}
