//! Counting the threads of the whole process (`/proc/self/task`, Linux),
//! to prove a run leaves no thread behind, including threads that never
//! run user code and so cannot register with a
//! `LiveThreads` (`live_threads.rs`).
//!
//! The count is process-wide, so the other tests of the binary must not
//! start or end threads meanwhile: every test of a file that counts holds
//! [`counting_alone`] for its whole body.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The threads of this process now.
pub fn process_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable (Linux)")
        .count()
}

/// Waits up to `within` for the process to have at most `baseline`
/// threads, and returns the last count. A thread that was joined may still
/// be listed for a moment while the kernel reaps it, hence the wait.
pub fn threads_after(baseline: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let now = process_threads();
        if now <= baseline || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

static ALONE: Mutex<()> = Mutex::new(());

/// Keeps the other tests of this binary that count threads from running
/// while the caller holds the guard. A test that failed while holding it
/// poisons nothing for the others.
pub fn counting_alone() -> MutexGuard<'static, ()> {
    ALONE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
