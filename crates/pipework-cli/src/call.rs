//! One key's call of CMD, as the library sees it: wait for a turn under
//! `--rate`, run CMD, read its answer, and on a failure try again under
//! `--retries`; then count the key against `--max-failures` and, if it
//! failed for good, write it to the failure log.
//!
//! Nothing starts once the run is stopping (a signal, or a spent failure
//! budget): a call waiting for its turn or for its retry gives up with
//! [`CommandError::NotStarted`] or its last error.

use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pipework::jsonl::Row;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

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
        // For the logs: the key (and a generated row's index) as JSON.
        let key = request
            .get(&self.key)
            .map(Value::to_string)
            .unwrap_or_default();
        let index = request.get("index").map(Value::to_string);
        let mut bounds = self.retry.bounds();
        let mut attempts = 0u32;
        let result = loop {
            if let Some(rate) = &self.rate {
                let waiting = Instant::now();
                tokio::select! {
                    () = rate.turn() => {}
                    () = self.stop.cancelled() => break Err(CommandError::NotStarted),
                }
                debug!(
                    key,
                    ?index,
                    waited_ms = millis(waiting.elapsed()),
                    "rate limit: a turn to start"
                );
            }
            if self.stop.is_cancelled() {
                break Err(CommandError::NotStarted);
            }
            attempts += 1;
            debug!(
                key,
                ?index,
                attempt = attempts,
                command = self.runner.command_line(),
                "starting"
            );
            let started = Instant::now();
            let answer = self.runner.run(input.clone()).await.and_then(reply);
            let took_ms = millis(started.elapsed());
            let error = match answer {
                Ok(answer) => {
                    debug!(key, ?index, attempt = attempts, took_ms, exit = 0, "done");
                    break Ok(answer);
                }
                Err(error) => error,
            };
            match &error {
                CommandError::Exit { status, .. } if status.code().is_some() => {
                    let exit = status.code().unwrap_or_default();
                    debug!(key, ?index, attempt = attempts, took_ms, exit, %error, "failed");
                }
                CommandError::Exit { status, .. } if status.signal().is_some() => {
                    let signal = status.signal().unwrap_or_default();
                    debug!(key, ?index, attempt = attempts, took_ms, signal, %error, "failed");
                }
                _ => debug!(key, ?index, attempt = attempts, took_ms, %error, "failed"),
            }
            let Some(bound) = bounds.next().filter(|_| is_retryable(&error)) else {
                break Err(error);
            };
            let wait = RetryPolicy::wait(bound, &error, &mut rand::rng());
            debug!(
                key,
                ?index,
                attempt = attempts,
                wait_ms = millis(wait),
                "retrying after a wait"
            );
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

/// Whole milliseconds, for the logs.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A row as CMD's stdin: one line of JSON.
fn input(row: &Row) -> Result<Vec<u8>, CommandError> {
    let mut bytes = serde_json::to_vec(row).map_err(|e| CommandError::Io(e.into()))?;
    bytes.push(b'\n');
    Ok(bytes)
}
