//! A store file another process holds locked (a `sqlite3` shell left open, an old CLI): the
//! agent must keep polling on schedule and say so in status and `/healthz` at once, instead of
//! queueing every poll behind the store's busy timeout (issue 13 §8).

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use simkeep::sim::Personality;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::child::Agent;
use support::Rig;

async fn get(addr: SocketAddr, path: &str) -> Option<(u16, serde_json::Value, Duration)> {
    let t = Instant::now();
    let io = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).to_string();
        let code = text.get(9..12)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n")?.1.to_string();
        Some((code, serde_json::from_str(&body).unwrap_or_default()))
    };
    let (code, v) = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .ok()
        .flatten()?;
    Some((code, v, t.elapsed()))
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_locked_by_another_process_does_not_stall_polling() {
    let rig = Rig::new(Personality::Generic);
    let db = rig.dir.path().join("simkeep.db");
    // Another process's exclusive lock, taken before the agent starts and held throughout.
    let other = rusqlite::Connection::open(&db).expect("open the file");
    other
        .execute_batch("PRAGMA locking_mode=EXCLUSIVE; CREATE TABLE IF NOT EXISTS x(y); BEGIN EXCLUSIVE; INSERT INTO x VALUES (1);")
        .expect("hold the lock");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = rig.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[modem]\nport = \"{}\"\npoll_interval = \"1s\"\nlock_dir = \"{}\"\n\
             [store]\npath = \"{}\"\n[http]\nlisten = \"{addr}\"\ntoken_file = \"{}\"\n",
            rig.link().display(),
            rig.lock_dir().display(),
            db.display(),
            rig.dir.path().join("api-token").display(),
        ),
    )
    .unwrap();
    let agent = Agent::start(&cfg, &[]);

    // Polls keep coming, one a second or so, while the file stays locked.
    let mut seen = std::collections::BTreeSet::new();
    let mut when: Vec<Instant> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(25);
    while seen.len() < 8 && Instant::now() < deadline {
        if let Some((200, v, _)) = get(addr, "/api/v1/status").await {
            if let Some(t) = v["last_poll"]["taken_at"].as_str() {
                if seen.insert(t.to_string()) {
                    when.push(Instant::now());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // After the first poll (the agent's start-up), no gap much longer than the 1 s interval.
    let gaps: Vec<Duration> = when.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
    eprintln!("gaps between polls: {gaps:?}");
    assert!(
        gaps.iter().all(|g| *g < Duration::from_millis(2500)),
        "polling stalled behind the locked store: {gaps:?}"
    );
    assert!(
        seen.len() >= 8,
        "polling stalled behind the locked store: {seen:?}\n{}",
        agent.log()
    );
    // The probe answers at once and names the store.
    let (code, v, took) = get(addr, "/healthz").await.expect("healthz answers");
    assert_eq!(code, 503, "{v}");
    assert!(
        v["detail"].as_str().is_some_and(|d| d.contains("store")),
        "{v}"
    );
    assert!(took < Duration::from_secs(1), "healthz took {took:?}");
    drop(other);
    agent.stop();
}
