//! One call of a `map_async` step: attempts with a timeout each, waits
//! between them, and panics caught as errors.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use pipework::internal::{caught, panic_message};
use serde::Serialize;

use super::error::MapAsyncError;
use super::options::CallPolicy;
use crate::inputs::BoxError;

/// How much of an item's JSON an error shows.
const ITEM_TEXT_LIMIT: usize = 200;

/// How one attempt ended, when it did not succeed.
enum Miss {
    Error(BoxError),
    TimedOut(Duration),
    Panicked(String),
}

/// Calls `f(item)` until it succeeds, a panic, or the retries of `policy`
/// are used up; returns the outputs or the error naming the item.
///
/// # Cancel safety
///
/// Dropping the future cancels the attempt in flight at its next await,
/// and no further attempt starts.
pub(crate) async fn call<T, U, F, Fut>(
    f: &F,
    item: T,
    policy: CallPolicy,
) -> Result<Vec<U>, MapAsyncError>
where
    T: Clone + Serialize,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<Vec<U>, BoxError>>,
{
    let mut delays = policy.delays();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let miss = match attempt(f, item.clone(), policy.timeout).await {
            Ok(outputs) => return Ok(outputs),
            Err(miss) => miss,
        };
        let delay = match miss {
            Miss::Panicked(message) => {
                return Err(MapAsyncError::Panicked {
                    item: describe(&item),
                    message,
                })
            }
            _ => delays.next(),
        };
        match (delay, miss) {
            (Some(delay), _) => tokio::time::sleep(delay).await,
            (None, Miss::Error(source)) => {
                return Err(MapAsyncError::Failed {
                    item: describe(&item),
                    attempts,
                    source,
                })
            }
            (None, Miss::TimedOut(timeout)) => {
                return Err(MapAsyncError::TimedOut {
                    item: describe(&item),
                    attempts,
                    timeout,
                })
            }
            (None, Miss::Panicked(_)) => unreachable!("a panic returned above"),
        }
    }
}

/// One attempt: builds the future (a panic there is caught too) and runs
/// it within `timeout`.
async fn attempt<T, U, F, Fut>(f: &F, item: T, timeout: Option<Duration>) -> Result<Vec<U>, Miss>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<Vec<U>, BoxError>>,
{
    let future = caught(|| f(item)).map_err(Miss::Panicked)?;
    // The step reports the panic and drops the item: nothing the future
    // touched is used after it.
    let guarded = AssertUnwindSafe(future).catch_unwind();
    let outcome = match timeout {
        Some(limit) => tokio::time::timeout(limit, guarded)
            .await
            .map_err(|_| Miss::TimedOut(limit))?,
        None => guarded.await,
    };
    match outcome {
        Ok(Ok(outputs)) => Ok(outputs),
        Ok(Err(err)) => Err(Miss::Error(err)),
        Err(payload) => Err(Miss::Panicked(panic_message(payload.as_ref()))),
    }
}

/// The item's JSON for an error, cut after [`ITEM_TEXT_LIMIT`] characters.
pub(crate) fn describe<T: Serialize>(item: &T) -> String {
    let text = serde_json::to_string(item).unwrap_or_else(|err| format!("<unserializable: {err}>"));
    match text.char_indices().nth(ITEM_TEXT_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
