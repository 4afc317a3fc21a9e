//! One HTTP/1.1 exchange over TLS: resolve, connect, handshake, write the request, read the
//! reply (Content-Length, chunked, or until close), each phase under the deadline.
//!
//! Why not a general HTTP client: the caller must know whether the request can have reached
//! the carrier. Everything up to and including the TLS handshake happens before a byte of the
//! request is written, so a failure there is [`Failure::NotSent`]; anything after the first
//! write is [`Failure::NoReply`] (the carrier may have charged). A pooled, retrying client
//! blurs exactly that line.
//!
//! It must not: follow redirects (the caller decides), read more than the head and body caps,
//! or put header values in errors (they hold credentials).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;

use super::url::Url;

/// The reply head (status line + headers) may not exceed this.
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// A chunk-size line or trailer line longer than this is not HTTP.
const MAX_LINE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No byte of the request left this host.
    NotSent(String),
    /// The request was (at least partly) written; the reply did not arrive whole.
    NoReply(String),
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was longer than the cap; the rest was not read.
    pub truncated: bool,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Exchange<'a> {
    pub url: &'a Url,
    pub method: &'a str,
    /// Already validated: token names, no CR/LF in values.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// `None`: plain TCP. Only notifications use it (loopback and self-hosted ntfy over
    /// `http://`); carrier API URLs are `https://` only, so they always pass a config.
    pub tls: Option<Arc<ClientConfig>>,
    pub connect_timeout: Duration,
    pub deadline: Instant,
    pub body_cap: usize,
}

pub async fn exchange(x: Exchange<'_>) -> Result<RawResponse, Failure> {
    let begun = Instant::now();
    let connect_deadline = x.deadline.min(begun + x.connect_timeout);
    let stream = match timeout_at(connect_deadline, connect(&x)).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(Failure::NotSent(format!(
                "could not connect to {} within {:.1}s",
                x.url.authority(),
                connect_deadline
                    .saturating_duration_since(begun)
                    .as_secs_f32()
            )))
        }
    };
    let started = Instant::now();
    match timeout_at(x.deadline, send_and_read(stream, &x)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::NoReply(format!(
            "no complete reply from {} within {:.1}s of sending",
            x.url.authority(),
            started.elapsed().as_secs_f32()
        ))),
    }
}

/// The connection, TLS or plain, as one type for the request/reply code.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn connect(x: &Exchange<'_>) -> Result<Box<dyn Io>, Failure> {
    let authority = x.url.authority();
    let addrs: Vec<_> = tokio::net::lookup_host((x.url.host.as_str(), x.url.port))
        .await
        .map_err(|e| Failure::NotSent(format!("cannot resolve {}: {e}", x.url.host)))?
        .take(8)
        .collect();
    let mut last = format!("{} resolved to no address", x.url.host);
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {authority} ({addr}): {e}"),
        }
    }
    let tcp = tcp.ok_or(Failure::NotSent(last))?;
    let _ = tcp.set_nodelay(true);
    let Some(tls) = x.tls.clone() else {
        return Ok(Box::new(tcp));
    };
    let name = ServerName::try_from(x.url.host.clone()).map_err(|_| {
        Failure::NotSent(format!("{:?} is not a valid TLS server name", x.url.host))
    })?;
    // The handshake completes (server certificate verified) before `connect` returns, so a
    // wrong CA or name is still NotSent.
    let stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| Failure::NotSent(format!("tls handshake with {authority} failed: {e}")))?;
    Ok(Box::new(stream))
}

async fn send_and_read(mut stream: Box<dyn Io>, x: &Exchange<'_>) -> Result<RawResponse, Failure> {
    let authority = x.url.authority();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: simkeep/{}\r\nAccept: application/json\r\n\
         Connection: close\r\n",
        x.method,
        x.url.target,
        authority,
        env!("CARGO_PKG_VERSION")
    );
    if !x.body.is_empty() || !matches!(x.method, "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        head.push_str(&format!("Content-Length: {}\r\n", x.body.len()));
    }
    for (n, v) in x.headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut wire = head.into_bytes();
    wire.extend_from_slice(x.body);
    let sent_err = |what: &str, e: std::io::Error| {
        Failure::NoReply(format!("{what} {authority} failed after sending: {e}"))
    };
    stream
        .write_all(&wire)
        .await
        .map_err(|e| sent_err("writing to", e))?;
    stream
        .flush()
        .await
        .map_err(|e| sent_err("writing to", e))?;
    let mut r = Reader {
        inner: stream,
        buf: Vec::new(),
        eof: false,
    };
    let (status, headers) = loop {
        let (status, headers) = r.read_head().await.map_err(|e| {
            Failure::NoReply(format!("reading the reply head from {authority}: {e}"))
        })?;
        // 1xx interim replies (100 Continue) precede the real one.
        if !(100..200).contains(&status) {
            break (status, headers);
        }
    };
    let mut resp = RawResponse {
        status,
        headers,
        body: Vec::new(),
        truncated: false,
    };
    if x.method == "HEAD" || status == 204 || status == 304 {
        return Ok(resp);
    }
    let body_err = |e: String| Failure::NoReply(format!("reply from {authority} ended early: {e}"));
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        r.read_chunked(&mut resp, x.body_cap)
            .await
            .map_err(body_err)?;
    } else if let Some(len) = resp.header("content-length") {
        let len: u64 = len
            .trim()
            .parse()
            .map_err(|_| body_err(format!("bad Content-Length {len:?}")))?;
        r.read_sized(&mut resp, len, x.body_cap)
            .await
            .map_err(body_err)?;
    } else {
        r.read_to_close(&mut resp, x.body_cap)
            .await
            .map_err(body_err)?;
    }
    Ok(resp)
}

/// A buffered reader over the TLS stream with bounded line and head reads.
struct Reader<S> {
    inner: S,
    buf: Vec<u8>,
    eof: bool,
}

impl<S: AsyncRead + Unpin> Reader<S> {
    /// Reads more bytes into `buf`; returns how many (0 at a clean end of stream).
    async fn fill(&mut self) -> Result<usize, String> {
        if self.eof {
            return Ok(0);
        }
        let mut chunk = [0u8; 8192];
        match self.inner.read(&mut chunk).await {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            // A peer that closes without TLS close_notify: treat as end of stream, and let the
            // framing (Content-Length, chunk sizes) decide whether the reply is complete.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.eof = true;
                Ok(0)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn read_head(&mut self) -> Result<(u16, Vec<(String, String)>), String> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut resp = httparse::Response::new(&mut hdrs);
                let parsed = resp
                    .parse(&self.buf[..end + 4])
                    .map_err(|e| format!("not an HTTP reply ({e})"))?;
                if parsed.is_partial() {
                    return Err("not an HTTP reply".into());
                }
                let status = resp.code.ok_or("no status code")?;
                let headers = resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                self.buf.drain(..end + 4);
                return Ok((status, headers));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(format!("reply head longer than {MAX_HEAD} bytes"));
            }
            if self.fill().await? == 0 {
                return Err(if self.buf.is_empty() {
                    "connection closed without a reply".into()
                } else {
                    "connection closed in the middle of the reply head".into()
                });
            }
        }
    }

    /// Moves up to `n` buffered-or-read bytes into the body, respecting the cap.
    async fn read_sized(
        &mut self,
        resp: &mut RawResponse,
        len: u64,
        cap: usize,
    ) -> Result<(), String> {
        let mut left = len;
        while left > 0 {
            if self.buf.is_empty() && self.fill().await? == 0 {
                return Err(format!("{left} of {len} body bytes missing"));
            }
            let take = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            if !push_capped(resp, &self.buf[..take], cap) {
                return Ok(());
            }
            self.buf.drain(..take);
            left -= take as u64;
        }
        Ok(())
    }

    async fn read_to_close(&mut self, resp: &mut RawResponse, cap: usize) -> Result<(), String> {
        loop {
            let data = std::mem::take(&mut self.buf);
            if !push_capped(resp, &data, cap) {
                return Ok(());
            }
            if self.fill().await? == 0 {
                return Ok(());
            }
        }
    }

    async fn read_line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err("chunk line too long".into());
            }
            if self.fill().await? == 0 {
                return Err("connection closed inside a chunked body".into());
            }
        }
    }

    async fn read_chunked(&mut self, resp: &mut RawResponse, cap: usize) -> Result<(), String> {
        loop {
            let line = self.read_line().await?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            if size == 0 {
                // Trailers until the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(());
            }
            self.read_sized(resp, size, cap).await?;
            if resp.truncated {
                return Ok(());
            }
            if !self.read_line().await?.is_empty() {
                return Err("chunk not followed by CRLF".into());
            }
        }
    }
}

/// Appends what fits under `cap`; false (and `truncated`) once the cap is reached.
fn push_capped(resp: &mut RawResponse, data: &[u8], cap: usize) -> bool {
    let room = cap.saturating_sub(resp.body.len());
    if data.len() > room {
        resp.body.extend_from_slice(&data[..room]);
        resp.truncated = true;
        return false;
    }
    resp.body.extend_from_slice(data);
    true
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
