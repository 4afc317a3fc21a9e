//! Helpers for the SMS/USSD tests: a real SQLite store in the rig's temp dir, the inbox task
//! with a shutdown switch, and a sink that "loses power" right after a message is stored.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use simkeep::at::AtClient;
use simkeep::sms::{Inbox, InboxConfig, ReceivedSms, SmsSink};
use simkeep::store::{StoreConfig, StoreHandle};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("simkeep.db")
}

pub fn start_store(dir: &Path) -> StoreHandle {
    StoreHandle::start(StoreConfig::new(db_path(dir))).expect("store starts")
}

/// Waits until the inbox has made its start-up scan of the modem's storage (`AT+CMGL=4`).
pub async fn first_scan_done(rig: &crate::support::Rig) -> bool {
    crate::support::eventually(Duration::from_secs(10), || {
        rig.sim.commands_seen().iter().any(|l| l == "AT+CMGL=4")
    })
    .await
}

/// Texts of the stored messages, oldest first.
pub async fn stored_texts(store: &StoreHandle) -> Vec<String> {
    let mut all = store.list_sms(None, 1000).await.expect("list sms");
    all.reverse();
    all.into_iter().map(|s| s.sms.body).collect()
}

/// A running inbox: stop it cleanly with `stop`, or kill it (power cut) with `kill`.
pub struct RunningInbox {
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

impl RunningInbox {
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }

    /// The process dies: no cleanup, the task is dropped wherever it is.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

pub fn spawn_inbox<S: SmsSink + 'static>(at: &AtClient, sink: S) -> RunningInbox {
    spawn_inbox_with(at, sink, InboxConfig::default())
}

pub fn spawn_inbox_with<S: SmsSink + 'static>(
    at: &AtClient,
    sink: S,
    cfg: InboxConfig,
) -> RunningInbox {
    let (tx, rx) = oneshot::channel::<()>();
    let inbox = Inbox::new(cfg);
    let task = tokio::spawn(inbox.run(at.clone(), sink, async move {
        let _ = rx.await;
    }));
    RunningInbox {
        task,
        stop: Some(tx),
    }
}

/// Stores through the real store, then never returns once the first message is on disk —
/// the moment between "stored" and "deleted from the modem" where the power goes.
#[derive(Clone)]
pub struct PowerCutAfterStore {
    pub store: StoreHandle,
    pub stored: Arc<Notify>,
}

impl SmsSink for PowerCutAfterStore {
    fn save(&self, sms: ReceivedSms) -> impl Future<Output = Result<(), String>> + Send {
        let (store, stored) = (self.store.clone(), self.stored.clone());
        async move {
            store.save(sms).await?;
            stored.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        }
    }
}

/// Polls an async condition until it holds or `limit` passes.
pub async fn eventually_async<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f().await
}
