//! The abort signal a source raises to stop a test execution.

use super::SourceError;

/// Return this (converted into [`SourceError::Abort`]) from `next_batch` to stop
/// the whole execution, as bytewax's `AbortExecution` does.
///
/// It exists for tests: it simulates a crash at a known place, so that a later
/// run can resume from the last snapshot. Every worker stops, and
/// [`run`](crate::run) returns [`RunError::Aborted`](crate::RunError::Aborted)
/// naming the input step (bytewax returns normally; an explicit error is easier
/// to assert on and cannot be mistaken for a completed run).
///
/// # Examples
///
/// ```
/// use pipework_dataflow::inputs::{AbortExecution, SourceError};
///
/// let err: SourceError = AbortExecution.into();
/// assert!(err.is_abort());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AbortExecution;

impl From<AbortExecution> for SourceError {
    fn from(_: AbortExecution) -> Self {
        SourceError::Abort
    }
}
