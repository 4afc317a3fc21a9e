//! `AT+CSQ` round trips over a real pty to the simulator: through the engine vs a minimal raw
//! write/read loop on the same pty (blocking, and async on tokio without the engine). The
//! engine/raw-async ratio is what the engine itself costs (channel hop, framing, URC routing);
//! raw blocking vs raw async is what epoll-driven I/O costs.
//!
//! Each method runs in several alternating batches and the best batch counts, so that load from
//! other processes on the machine (a compile, say) does not decide the ratio.
//! Run: `cargo bench --bench at_roundtrip`.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use simkeep::at::{self, Command, EngineConfig};
use simkeep::sim::{self, Personality, SimOptions};

const ROUNDS: usize = 1000;
const BATCHES: usize = 5;

fn per_round(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6 / ROUNDS as f64
}

fn engine_batch(rt: &tokio::runtime::Runtime, port: &Path, lock_dir: &Path) -> f64 {
    rt.block_on(async {
        let mut cfg = EngineConfig::new(port);
        cfg.lock_dir = Some(lock_dir.to_path_buf());
        let (client, task) = at::spawn(cfg);
        client
            .wait_connected(Duration::from_secs(10))
            .await
            .expect("connect");
        let cmd = Command::new("AT+CSQ").expect("valid");
        for _ in 0..50 {
            client.send(cmd.clone()).await.expect("warm-up");
        }
        let start = Instant::now();
        for _ in 0..ROUNDS {
            let r = client.send(cmd.clone()).await.expect("AT+CSQ");
            assert_eq!(r.lines.len(), 1);
        }
        let t = start.elapsed();
        drop(client);
        let _ = task.await;
        per_round(t)
    })
}

fn raw_blocking_batch(port: &Path) -> f64 {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(port)
        .expect("open pty");
    simkeep::at::port::set_raw(f.as_raw_fd(), 115200).expect("raw");
    let mut buf = [0u8; 256];
    let mut round = |f: &mut std::fs::File| {
        f.write_all(b"AT+CSQ\r").expect("write");
        let mut got = Vec::new();
        while !got.ends_with(b"OK\r\n") {
            let n = f.read(&mut buf).expect("read");
            got.extend_from_slice(&buf[..n]);
        }
    };
    for _ in 0..50 {
        round(&mut f);
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        round(&mut f);
    }
    per_round(start.elapsed())
}

fn raw_async_batch(rt: &tokio::runtime::Runtime, port: &Path) -> f64 {
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut p = simkeep::at::port::RawTty::open(port, 115200).expect("open pty");
        let mut buf = [0u8; 256];
        let mut total = Duration::ZERO;
        for i in 0..ROUNDS + 50 {
            let start = Instant::now();
            p.write_all(b"AT+CSQ\r").await.expect("write");
            let mut got = Vec::new();
            while !got.ends_with(b"OK\r\n") {
                let n = p.read(&mut buf).await.expect("read");
                got.extend_from_slice(&buf[..n]);
            }
            if i >= 50 {
                total += start.elapsed();
            }
        }
        per_round(total)
    })
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = SimOptions::new(Personality::Generic);
    opts.link = Some(dir.path().join("modem"));
    let sim = sim::start(opts).expect("simulator");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let port = sim.path();
    let lock_dir = dir.path().join("lock");
    let (mut engine, mut raw, mut raw_async) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..BATCHES {
        engine = engine.min(engine_batch(&rt, &port, &lock_dir));
        raw = raw.min(raw_blocking_batch(&port));
        raw_async = raw_async.min(raw_async_batch(&rt, &port));
    }
    println!(
        "AT+CSQ round trip over a pty to the simulator, best of {BATCHES} batches of {ROUNDS}"
    );
    println!("  raw blocking write/read : {raw:8.1} µs");
    println!("  raw async (tokio) loop  : {raw_async:8.1} µs");
    println!("  through the engine      : {engine:8.1} µs");
    println!("  engine / raw blocking   : {:8.3}", engine / raw);
    println!("  engine / raw async      : {:8.3}", engine / raw_async);
    drop(sim);
}
