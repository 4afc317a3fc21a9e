//! The CLI's side of the HTTP API: a small GET to the running daemon on `http.listen`.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::error::{AppError, ExitKind};

/// A GET to the daemon's status port; `None` when no daemon answers there.
pub async fn daemon_get(cfg: &Config, path: &str) -> Option<Result<Value, AppError>> {
    let addr = cfg.http.listen?;
    let mut s = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let io = async {
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = match tokio::time::timeout(Duration::from_secs(10), io).await {
        Ok(Ok(b)) => b,
        _ => {
            return Some(Err(AppError::new(
                ExitKind::Failure,
                format!("the daemon at {addr} did not answer {path}"),
            )))
        }
    };
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let ok = head.starts_with("HTTP/1.1 200");
    Some(match serde_json::from_str::<Value>(body) {
        Ok(v) if ok => Ok(v),
        Ok(v) => Err(AppError::new(
            ExitKind::Failure,
            v.get("error")
                .and_then(Value::as_str)
                .unwrap_or("the daemon refused the request")
                .to_string(),
        )),
        Err(e) => Err(AppError::new(
            ExitKind::Failure,
            format!("the daemon at {addr} sent bad JSON for {path}: {e}"),
        )),
    })
}
