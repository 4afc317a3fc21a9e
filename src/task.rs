//! Stopping an owned task within a cap.
//!
//! procd kills the daemon about 5 s after SIGTERM, so every task the agent owns is asked to stop
//! and then given a fixed time before it is aborted. Each owner says why aborting is safe where
//! it calls this; the helper only keeps the wait-then-abort the same everywhere.

use std::time::Duration;

use tokio::task::JoinHandle;

/// Waits up to `cap` for `handle` to end, then aborts it and waits for the abort to land.
/// Returns `false` when it had to abort.
pub async fn join_within<T>(mut handle: JoinHandle<T>, cap: Duration) -> bool {
    if tokio::time::timeout(cap, &mut handle).await.is_ok() {
        return true;
    }
    handle.abort();
    let _ = handle.await;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_in_time_is_joined_and_one_that_hangs_is_aborted() {
        let quick = tokio::spawn(async {});
        assert!(join_within(quick, Duration::from_millis(10)).await);

        let (_keep, never) = tokio::sync::oneshot::channel::<()>();
        let hung = tokio::spawn(async move {
            let _ = never.await;
        });
        let started = std::time::Instant::now();
        assert!(!join_within(hung, Duration::from_millis(50)).await);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
