//! One key's call of CMD, as the library sees it: wait for a turn under
//! `--rate`, run CMD, read its answer, and on a failure try again under
//! `--retries`; then count the key against `--max-failures` and, if it
//! failed for good, write it to the failure log.
//!
//! Nothing starts once the run is stopping (a signal, or a spent failure
//! budget): a call waiting for its turn or for its retry gives up with
//! [`CommandError::NotStarted`] or its last error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pipework::jsonl::Row;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::budget::Budget;
use crate::failure_log::FailureLog;
use crate::process::{CommandError, Output, Runner};
use crate::rate::Limiter;
use crate::retry::{is_retryable, RetryPolicy};

/// What every call of a run shares.
#[derive(Debug)]
pub(crate) struct Calls {
    pub(crate) runner: Runner,
    pub(crate) rate: Option<Limiter>,
    pub(crate) retry: RetryPolicy,
    pub(crate) budget: Budget,
    pub(crate) failures: FailureLog,
    /// The key column, for the failure log.
    pub(crate) key: String,
    /// Cancelled when the run is stopping: no start, no retry after it.
    pub(crate) stop: CancellationToken,
    /// Attempts after the first, over the run (shown by the progress).
    pub(crate) retried: Arc<AtomicU64>,
}

impl Calls {
    /// Calls CMD for `request` until it answers (read by `reply`), the
    /// retries are used up, or the run stops.
    pub(crate) async fn call<T>(
        self: Arc<Self>,
        request: Row,
        reply: fn(Output) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let input = input(&request)?;
        let mut bounds = self.retry.bounds();
        let mut attempts = 0u32;
        let result = loop {
            if let Some(rate) = &self.rate {
                tokio::select! {
                    () = rate.turn() => {}
                    () = self.stop.cancelled() => break Err(CommandError::NotStarted),
                }
            }
            if self.stop.is_cancelled() {
                break Err(CommandError::NotStarted);
            }
            attempts += 1;
            let error = match self.runner.run(input.clone()).await.and_then(reply) {
                Ok(answer) => break Ok(answer),
                Err(error) => error,
            };
            let Some(bound) = bounds.next().filter(|_| is_retryable(&error)) else {
                break Err(error);
            };
            let wait = RetryPolicy::wait(bound, &error, &mut rand::rng());
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => break Err(error),
            }
            self.retried.fetch_add(1, Ordering::Relaxed);
        };
        // A call killed or never started because the run is stopping is not
        // a failure of its key: it is simply not done.
        match &result {
            Ok(_) => {
                self.budget.record(false);
            }
            Err(error) if is_retryable(error) => {
                self.budget.record(true);
                self.failures
                    .record(&Value::Object(request), &self.key, attempts, error);
            }
            Err(_) => {}
        }
        result
    }
}

/// A row as CMD's stdin: one line of JSON.
fn input(row: &Row) -> Result<Vec<u8>, CommandError> {
    let mut bytes = serde_json::to_vec(row).map_err(|e| CommandError::Io(e.into()))?;
    bytes.push(b'\n');
    Ok(bytes)
}
