//! Load on the HTTP API from a second process: `simkeep demo` (the agent on a simulated modem,
//! polling every 3 s) as a child, and this bench as the client on loopback.
//!
//! Reports `GET /api/v1/status` requests/s with p50/p99 latency for: one client opening a
//! connection per request (what curl and scripts do), one keep-alive connection (browsers), and
//! four clients at once; then checks the agent kept polling on schedule under the load.
//! Bounded: each phase runs a fixed number of seconds.
//! Run: `cargo bench --bench http_load` (SIMKEEP_BIN=path picks another build of simkeep).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PHASE: Duration = Duration::from_secs(5);
/// Requests on one connection before the server closes it (server::MAX_REQUESTS_PER_CONNECTION).
const MAX_PER_CONNECTION: usize = 10_000;

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn bin() -> std::path::PathBuf {
    std::env::var_os("SIMKEEP_BIN").map_or_else(|| env!("CARGO_BIN_EXE_simkeep").into(), Into::into)
}

/// One request on a new connection; the body.
fn get_once(addr: SocketAddr, path: &str) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    if !buf.starts_with(b"HTTP/1.1 200") {
        return None;
    }
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some(buf.split_off(at))
}

/// One request on a kept connection; reads exactly the answer.
fn get_kept(r: &mut BufReader<TcpStream>, path: &str) -> Option<()> {
    write!(
        r.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n"
    )
    .ok()?;
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(())
}

fn report(name: &str, mut lat: Vec<Duration>, elapsed: Duration, failed: usize) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{name:<34} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   failed {failed}",
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    );
}

fn taken_at(addr: SocketAddr) -> Option<String> {
    let body = get_once(addr, "/api/v1/status")?;
    let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let t = &v["last_poll"]["taken_at"];
    (!t.is_null()).then(|| t.to_string())
}

fn main() {
    let addr = free_port();
    let mut child: Child = Command::new(bin())
        .args(["demo", "--seconds", "120", "--listen"])
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simkeep demo starts");
    let ready = Instant::now();
    while taken_at(addr).is_none() {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "the demo agent never polled"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A watcher notes every poll time the agent publishes while the load runs.
    let load_start = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seen.extend(taken_at(addr));
                std::thread::sleep(Duration::from_millis(500));
            }
            seen
        })
    };

    // A connection per request.
    let (mut lat, mut failed, t0) = (Vec::new(), 0, Instant::now());
    while t0.elapsed() < PHASE {
        let t = Instant::now();
        match get_once(addr, "/api/v1/status") {
            Some(_) => lat.push(t.elapsed()),
            None => failed += 1,
        }
    }
    report("status, new connection each", lat, t0.elapsed(), failed);

    // One keep-alive connection.
    let s = TcpStream::connect(addr).expect("connect");
    let _ = s.set_nodelay(true);
    let mut r = BufReader::new(s);
    let (mut lat, mut failed, t0) = (Vec::new(), 0, Instant::now());
    while t0.elapsed() < PHASE {
        if lat.len() % MAX_PER_CONNECTION == MAX_PER_CONNECTION - 1 {
            // The server ends a connection after 10,000 requests; start the next one ahead.
            let s = TcpStream::connect(addr).expect("reconnect");
            let _ = s.set_nodelay(true);
            r = BufReader::new(s);
        }
        let t = Instant::now();
        match get_kept(&mut r, "/api/v1/status") {
            Some(()) => lat.push(t.elapsed()),
            None => {
                failed += 1;
                let s = TcpStream::connect(addr).expect("reconnect");
                r = BufReader::new(s);
            }
        }
    }
    report(
        "status, one keep-alive connection",
        lat,
        t0.elapsed(),
        failed,
    );

    // Four clients at once, a connection per request.
    let t0 = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut lat, mut failed) = (Vec::new(), 0);
                while t0.elapsed() < PHASE {
                    let t = Instant::now();
                    match get_once(addr, "/api/v1/status") {
                        Some(_) => lat.push(t.elapsed()),
                        None => failed += 1,
                    }
                }
                (lat, failed)
            })
        })
        .collect();
    let (mut lat, mut failed) = (Vec::new(), 0);
    for w in workers {
        let (l, f) = w.join().expect("worker");
        lat.extend(l);
        failed += f;
    }
    report("status, 4 clients", lat, t0.elapsed(), failed);

    // A page of history, as a browser's chart asks for it.
    let (mut lat, mut failed, t0) = (Vec::new(), 0, Instant::now());
    while t0.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        match get_once(addr, "/api/v1/history/signal?since=0&limit=3000") {
            Some(_) => lat.push(t.elapsed()),
            None => failed += 1,
        }
    }
    report("history/signal page", lat, t0.elapsed(), failed);

    // The demo polls every 3 s: under load it must keep doing so.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let polls_seen = watcher.join().expect("watcher");
    let expected = load_start.elapsed().as_secs() / 3;
    println!(
        "polls seen during {:.0} s of load: {} distinct poll times (every 3 s would give ~{expected})",
        load_start.elapsed().as_secs_f64(),
        polls_seen.len()
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        polls_seen.len() as u64 + 1 >= expected,
        "the agent stopped polling under load: {polls_seen:?}"
    );
}
