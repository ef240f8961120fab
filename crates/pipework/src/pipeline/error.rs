//! Errors of the threaded pipeline.

use std::fmt;

pub use crate::BoxError;

/// Why a pipeline could not be built, or stopped before its input was done.
///
/// Every variant that comes from a step names the step, so a failure in a
/// pipeline of ten steps says which one failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A step returned an error for an item, after its retries, under
    /// [`OnError::Stop`](crate::pipeline::OnError::Stop).
    #[error("step '{step}' failed: {source}")]
    StepFailed {
        /// The step's name.
        step: String,
        /// The error the step returned.
        #[source]
        source: BoxError,
    },
    /// A step panicked while processing an item, after its retries, under
    /// [`OnError::Stop`](crate::pipeline::OnError::Stop).
    #[error("step '{step}' panicked: {message}")]
    StepPanicked {
        /// The step's name.
        step: String,
        /// The panic's message, when it was a string.
        message: String,
    },
    /// A lifecycle hook of a step (`setup`, `thread_init`, `thread_shutdown`
    /// or `teardown`) returned an error or panicked.
    #[error("step '{step}' failed in {hook}: {source}")]
    HookFailed {
        /// The step's name.
        step: String,
        /// Which hook failed.
        hook: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// An iterator given to `put_iter` panicked while being pulled.
    #[error("input iterator panicked: {message}")]
    SourcePanicked {
        /// The panic's message, when it was a string.
        message: String,
    },
    /// `run` was called on a pipeline whose input could still grow: it was
    /// not finished and has no finite source (paipa raises the same).
    #[error("pipeline input is open: call finish() or put_iter() before run(), or use spawn()")]
    InputOpen,
    /// Input was given to a pipeline that was already finished.
    #[error("pipeline input is closed: it was finished or stopped")]
    InputClosed,
    /// The pipeline was configured wrongly (a thread count of 0, no steps, …).
    #[error("invalid pipeline configuration: {0}")]
    InvalidConfig(String),
    /// The operating system refused to start a thread.
    #[error("could not spawn thread '{name}': {source}")]
    ThreadSpawn {
        /// The thread's name.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The name of the step the error came from, if it came from one.
    pub fn step(&self) -> Option<&str> {
        match self {
            Error::StepFailed { step, .. }
            | Error::StepPanicked { step, .. }
            | Error::HookFailed { step, .. } => Some(step),
            _ => None,
        }
    }

    /// Whether the error is a panic caught in user code.
    pub fn is_panic(&self) -> bool {
        matches!(
            self,
            Error::StepPanicked { .. } | Error::SourcePanicked { .. }
        )
    }
}

/// An item that could not be put into a pipeline because the pipeline was
/// finished, stopped or failed. The item is given back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct PutError<T>(pub T);

impl<T> PutError<T> {
    /// Gives back the item that was not accepted.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError { .. }")
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("putting into a pipeline that no longer accepts input")
    }
}

impl<T> std::error::Error for PutError<T> {}

/// The pipeline stopped (it failed, was aborted, or its output was
/// dropped), so [`Emitter::emit`](super::Emitter::emit) could not pass the
/// item on: here it is back, as crossbeam's `SendError` gives it back.
///
/// Return it from the step with `?`: it converts into a [`BoxError`] (the
/// item is dropped then, since the run is over) that the pipeline does not
/// count as the step's failure. It is not itself a `std::error::Error`, so
/// that this conversion works for every item type, `Sync` or not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Stopped<T = ()>(pub T);

impl<T> Stopped<T> {
    /// The item that was not emitted.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Stopped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stopped(..)")
    }
}

impl<T> fmt::Display for Stopped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pipeline stopped")
    }
}

impl<T> From<Stopped<T>> for BoxError {
    fn from(_: Stopped<T>) -> BoxError {
        Box::new(PipelineStopped)
    }
}

/// What a [`Stopped`] becomes as a step's error.
#[derive(Debug)]
struct PipelineStopped;

impl fmt::Display for PipelineStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pipeline stopped")
    }
}

impl std::error::Error for PipelineStopped {}

/// A step that skips an item tells so by returning this from
/// [`Pipeline::filter_map`](crate::pipeline::Pipeline::filter_map)'s closure
/// as `Ok(None)`; this type exists for [`Step`](super::Step) implementations that prefer
/// paipa's style of returning an error to skip.
///
/// Returned as the error of [`Step::process`](super::Step::process), it counts the item as skipped,
/// not failed, and is never retried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipEntry;

impl fmt::Display for SkipEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("item skipped")
    }
}

impl std::error::Error for SkipEntry {}
