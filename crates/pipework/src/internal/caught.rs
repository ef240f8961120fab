//! Running user code so that its panic becomes a value.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::panic_message;

/// Runs `body`, returning its result, or the panic's message if it
/// panicked.
///
/// Unwind safety is asserted: after a panic, the caller reports the error
/// and stops using whatever `body` touched (the step, partition or sink
/// that panicked), so no broken invariant is observed afterwards.
pub fn caught<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(body)).map_err(|payload| panic_message(payload.as_ref()))
}
