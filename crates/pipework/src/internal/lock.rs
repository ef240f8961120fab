//! Locking a mutex whose holder may have panicked.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering it if a thread panicked while holding it.
///
/// pipework's own code never panics while it holds one of its locks, and
/// user code never runs under one; a poisoned lock therefore still holds
/// valid data, and refusing it would turn one reported failure into a panic
/// of its own.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
