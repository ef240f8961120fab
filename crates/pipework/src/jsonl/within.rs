//! A bound on the tests that wait for a run, so a run that never ends fails
//! its test instead of hanging it.
//!
//! `tokio::time::timeout` cannot bound a run that spins on its runtime's only
//! thread (the timer never gets a turn), and `cargo test` waits for a hung
//! test forever; a thread of its own, waited for with a deadline, bounds both.

use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Runs `test` on a thread of its own and waits for it at most `bound`,
/// passing on its panic if it panics.
///
/// # Panics
///
/// If `test` panics, or has not ended within `bound` (its thread is left
/// behind; the test process ends it).
#[track_caller]
pub(super) fn within<T: Send + 'static>(
    bound: Duration,
    test: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        let _ = tx.send(test());
    });
    match rx.recv_timeout(bound) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("the test did not end within {bound:?}"),
        Err(RecvTimeoutError::Disconnected) => match runner.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the runner sends its value before it ends"),
        },
    }
}

/// Runs `test` on a current-thread runtime (as `#[tokio::test]` does) on a
/// thread of its own, waited for at most `bound`.
///
/// # Panics
///
/// As [`within`].
#[track_caller]
pub(super) fn block_on_within<T: Send + 'static>(
    bound: Duration,
    test: impl Future<Output = T> + Send + 'static,
) -> T {
    within(bound, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
            .block_on(test)
    })
}
