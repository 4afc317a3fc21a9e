//! `GET /api/v1/history/usage`, `/api/v1/history/signal` (rows, `limit`/`since` as every list)
//! and `/api/v1/history/daily?days=30` (bytes used per local day of the plan's time zone).
//!
//! Rows are streamed: the store is read a page at a time and each page is encoded and written
//! before the next is read, so a 10,000-row answer costs one page of memory, and a client that
//! stops reading is dropped by the server's write deadline instead of holding the rows.
//!
//! Must not: build a whole history answer in memory, or read the store without a bound.

use serde_json::{json, Value};
use tokio::net::TcpStream;

use super::http::{Reply, Request};
use super::json::{signal_row, UsageDeltas};
use super::params::paging;
use super::server::write_within;
use super::Response;
use crate::store::{StoreError, StoreHandle};
use crate::usage::civil::utc_string;
use crate::usage::tz::TimeZone;

/// Rows read from the store per page.
const PAGE_ROWS: usize = 500;
/// Encoded bytes buffered before a write.
const WRITE_CHUNK: usize = 32 * 1024;
/// The most days `daily` answers.
const MAX_DAYS: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Usage,
    Signal,
}

/// A history answer still to be read from the store and written.
pub struct RowStream {
    kind: Kind,
    store: StoreHandle,
    since: i64,
    limit: usize,
    /// The first page, read before the head was written (so a store failure is still a 503).
    first: Page,
}

enum Page {
    Usage(Vec<crate::store::UsageSample>),
    Signal(Vec<crate::store::SignalSample>),
}

impl Page {
    fn len(&self) -> usize {
        match self {
            Page::Usage(v) => v.len(),
            Page::Signal(v) => v.len(),
        }
    }

    /// Time of the last row, and how many rows at the end share it.
    fn tail(&self) -> Option<(i64, usize)> {
        let times: Vec<i64> = match self {
            Page::Usage(v) => v.iter().rev().map(|s| s.t).take(PAGE_ROWS).collect(),
            Page::Signal(v) => v.iter().rev().map(|s| s.t).take(PAGE_ROWS).collect(),
        };
        let last = *times.first()?;
        Some((last, times.iter().take_while(|t| **t == last).count()))
    }
}

async fn read_page(
    store: &StoreHandle,
    kind: Kind,
    since: i64,
    skip: usize,
    n: usize,
) -> Result<Page, StoreError> {
    Ok(match kind {
        Kind::Usage => Page::Usage(store.usage_page(since, skip, n).await?),
        Kind::Signal => Page::Signal(store.signal_page(since, skip, n).await?),
    })
}

/// Answers a history request: a stream of rows, or a whole reply (errors, `daily`).
pub async fn serve(req: &Request, store: Option<&StoreHandle>, tz: Option<&TimeZone>) -> Response {
    let kind =
        match req.path.as_str() {
            "/api/v1/history/usage" => Some(Kind::Usage),
            "/api/v1/history/signal" => Some(Kind::Signal),
            "/api/v1/history/daily" => None,
            _ => return Reply::error(
                404,
                "not found",
                "history is /api/v1/history/usage, /api/v1/history/signal or /api/v1/history/daily",
            )
            .into(),
        };
    let head_only = match req.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => return Reply::method_not_allowed("Allow: GET, HEAD\r\n").into(),
    };
    let Some(store) = store else {
        return Reply::error(503, "no store", "history needs the store (store.path)").into();
    };
    let Some(kind) = kind else {
        return daily(req, store, tz).await.for_head(head_only).into();
    };
    let p = match paging(&req.query) {
        Ok(p) => p,
        Err(bad) => return Reply::error(400, bad.error, &bad.detail).into(),
    };
    let limit = usize::try_from(p.limit).unwrap_or(PAGE_ROWS);
    match read_page(store, kind, p.since, 0, limit.min(PAGE_ROWS)).await {
        Ok(first) => Response::Stream(RowStream {
            kind,
            store: store.clone(),
            since: p.since,
            limit,
            first,
        }),
        Err(e) => Reply::error(503, "store unavailable", &e.to_string()).into(),
    }
}

/// Writes the rows as one JSON array, a page at a time. The answer has no length: it ends
/// when the connection closes. A store failure mid-way cuts the array short (invalid JSON),
/// which a client cannot mistake for a complete answer.
pub async fn stream(tcp: &mut TcpStream, rows: RowStream, head_only: bool) -> std::io::Result<()> {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n";
    write_within(tcp, head.as_bytes()).await?;
    if head_only {
        return Ok(());
    }
    let RowStream {
        kind,
        store,
        since,
        limit,
        first,
    } = rows;
    let mut out: Vec<u8> = Vec::with_capacity(WRITE_CHUNK + 1024);
    out.push(b'[');
    let mut sent = 0usize;
    let mut deltas = UsageDeltas::default();
    let mut cursor = since;
    let mut skip = 0usize;
    let mut page = first;
    loop {
        let n = page.len();
        let tail = page.tail();
        match &page {
            Page::Usage(v) => {
                for s in v {
                    encode(&mut out, &deltas.row(s), sent);
                    sent += 1;
                    flush_if_full(tcp, &mut out).await?;
                }
            }
            Page::Signal(v) => {
                for s in v {
                    encode(&mut out, &signal_row(s), sent);
                    sent += 1;
                    flush_if_full(tcp, &mut out).await?;
                }
            }
        }
        let want = limit.saturating_sub(sent).min(PAGE_ROWS);
        let Some((t_last, same)) = tail else { break };
        if n < PAGE_ROWS || want == 0 {
            break;
        }
        // Next page: from the last row's time, skipping the rows at that time already sent.
        skip = if t_last == cursor {
            skip.saturating_add(same)
        } else {
            same
        };
        cursor = t_last;
        page = match read_page(&store, kind, cursor, skip, want).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("history stream cut short: {e}");
                write_within(tcp, &out).await?;
                return Ok(());
            }
        };
    }
    out.extend_from_slice(b"]\n");
    write_within(tcp, &out).await
}

fn encode(out: &mut Vec<u8>, row: &Value, index: usize) {
    if index > 0 {
        out.push(b',');
    }
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, row);
}

async fn flush_if_full(tcp: &mut TcpStream, out: &mut Vec<u8>) -> std::io::Result<()> {
    if out.len() >= WRITE_CHUNK {
        write_within(tcp, out).await?;
        out.clear();
    }
    Ok(())
}

/// `GET /api/v1/history/daily?days=N`: `[{"date": "2026-12-01", "used_bytes": N}, …]`, oldest
/// first, today last, days in the plan's time zone (UTC without `[usage]`).
async fn daily(req: &Request, store: &StoreHandle, tz: Option<&TimeZone>) -> Reply {
    let days = match days_param(&req.query) {
        Ok(d) => d,
        Err(detail) => return Reply::error(400, "bad days", &detail),
    };
    let utc = TimeZone::utc();
    let tz = tz.unwrap_or(&utc);
    let today = tz.local_date(crate::agent::status::unix_now());
    let first = today.add_days(-(i64::try_from(days).unwrap_or(30) - 1));
    let bounds: Vec<i64> = (0..=days)
        .map(|i| tz.midnight(first.add_days(i64::try_from(i).unwrap_or(0))))
        .collect();
    match store.usage_daily(bounds.clone()).await {
        Ok(totals) => {
            let rows: Vec<Value> = totals
                .iter()
                .zip(&bounds)
                .map(|(used, start)| {
                    let date = utc_string(tz.to_local(*start));
                    json!({"date": date.get(..10).unwrap_or(&date), "used_bytes": used})
                })
                .collect();
            Reply::json(200, &Value::Array(rows))
        }
        Err(e) => Reply::error(503, "store unavailable", &e.to_string()),
    }
}

/// `days`: 1–400, default 30.
fn days_param(query: &str) -> Result<usize, String> {
    let Some(v) = query.split('&').find_map(|kv| kv.strip_prefix("days=")) else {
        return Ok(30);
    };
    match v.parse::<usize>() {
        Ok(d) if (1..=MAX_DAYS).contains(&d) => Ok(d),
        _ => Err(format!(
            "days must be a whole number from 1 to {MAX_DAYS}, not {:?}",
            v.chars().take(40).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_default_and_range() {
        assert_eq!(days_param(""), Ok(30));
        assert_eq!(days_param("days=7"), Ok(7));
        assert!(days_param("days=0").is_err());
        assert!(days_param("days=401").is_err());
        assert!(days_param("days=x").unwrap_err().contains("1 to 400"));
    }
}
