//! Errors of the async layer: bad arguments, and what a task or stage did
//! wrong.

use std::any::Any;
use std::fmt;

/// A stage or `run_bounded` could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A limit, buffer size, concurrency or batch size of 0 was given. It
    /// would only ever hang (rust-lang/futures-rs#2876), so it is refused.
    #[error("{function}: {argument} must be at least 1, got 0")]
    Zero {
        /// The function that was called (`run_bounded`, `buffered`, ...).
        function: &'static str,
        /// The argument that was 0 (`limit`, `size`, ...).
        argument: &'static str,
    },
    /// A buffer size or concurrency above what a tokio channel can hold
    /// (`usize::MAX >> 3`) was given.
    #[error("{function}: {argument} must be at most {max}, got {got}")]
    TooLarge {
        /// The function that was called.
        function: &'static str,
        /// The argument that was too large.
        argument: &'static str,
        /// The largest value allowed.
        max: usize,
        /// The value given.
        got: usize,
    },
    /// The function spawns tasks but was not called from within a tokio
    /// runtime.
    #[error("{function}: must be called from within a tokio runtime")]
    NoRuntime {
        /// The function that was called.
        function: &'static str,
    },
}

impl Error {
    pub(crate) fn zero(function: &'static str, argument: &'static str) -> Self {
        Error::Zero { function, argument }
    }

    /// Checks a channel capacity: at least 1, at most what tokio allows.
    pub(crate) fn check_capacity(
        function: &'static str,
        argument: &'static str,
        got: usize,
    ) -> Result<(), Self> {
        /// The most permits a tokio semaphore (so a bounded channel) holds.
        const MAX: usize = usize::MAX >> 3;
        if got == 0 {
            Err(Error::zero(function, argument))
        } else if got > MAX {
            Err(Error::TooLarge {
                function,
                argument,
                max: MAX,
                got,
            })
        } else {
            Ok(())
        }
    }

    /// The tokio runtime to spawn on, or [`Error::NoRuntime`].
    pub(crate) fn runtime(function: &'static str) -> Result<tokio::runtime::Handle, Self> {
        tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime { function })
    }
}

/// Why one item of [`run_bounded`](crate::stream::run_bounded) is not a
/// result.
///
/// A task's failure or panic is reported for that task only; the other tasks
/// go on. `task` is the 0-based position of the task in the task stream, so
/// a failure can be traced back to its input even though results arrive in
/// completion order.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError<E> {
    /// The task returned `Err(error)`.
    #[error("task {task} failed: {error}")]
    Failed {
        /// The task's position in the task stream.
        task: u64,
        /// The task's error.
        error: E,
    },
    /// The task panicked; the panic was caught.
    #[error("task {task} panicked: {message}")]
    Panicked {
        /// The task's position in the task stream.
        task: u64,
        /// The panic message (`"<non-string panic payload>"` if the payload
        /// was not a string).
        message: String,
    },
    /// The task was cancelled from outside, e.g. because its runtime shut
    /// down.
    #[error("a task was cancelled before it finished")]
    Cancelled,
    /// The task stream itself failed; it is the last item of the stream.
    #[error("task source failed after {pulled} tasks: {error}")]
    Source {
        /// How many tasks had been pulled from the source before it failed.
        pulled: u64,
        /// The source's error.
        error: E,
    },
}

impl<E> TaskError<E> {
    /// Whether the task panicked.
    #[must_use]
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked { .. })
    }

    /// Whether the task returned an error.
    #[must_use]
    pub fn is_failed(&self) -> bool {
        matches!(self, TaskError::Failed { .. })
    }

    /// Whether the task source failed (then this is the stream's last item).
    #[must_use]
    pub fn is_source(&self) -> bool {
        matches!(self, TaskError::Source { .. })
    }

    /// The position of the failed or panicked task in the task stream.
    #[must_use]
    pub fn task(&self) -> Option<u64> {
        match self {
            TaskError::Failed { task, .. } | TaskError::Panicked { task, .. } => Some(*task),
            TaskError::Cancelled | TaskError::Source { .. } => None,
        }
    }

    /// The task's or source's own error, if there is one.
    pub fn into_error(self) -> Option<E> {
        match self {
            TaskError::Failed { error, .. } | TaskError::Source { error, .. } => Some(error),
            TaskError::Panicked { .. } | TaskError::Cancelled => None,
        }
    }
}

/// A panic caught in a stage (the stage's stream, or the function or
/// future of a concurrent stage).
///
/// Stages carry the item type `Result<T, E>` of their stream through, so a
/// panic must become an `E`: stages require `E: From<StagePanic>`. If your
/// stages cannot fail otherwise, use `StagePanic` itself as `E`; with
/// `Box<dyn Error + Send + Sync>` the conversion is built in; with your own
/// error enum, add a variant with `#[from] StagePanic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage} panicked: {message}")]
pub struct StagePanic {
    stage: String,
    message: String,
}

impl StagePanic {
    pub(crate) fn new(stage: impl fmt::Display, payload: &(dyn Any + Send)) -> Self {
        StagePanic {
            stage: stage.to_string(),
            message: crate::internal::panic_message(payload),
        }
    }

    /// Which stage panicked, e.g. `buffered stage 2` or
    /// `concurrent_map (item 17)`.
    #[must_use]
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The panic message (`"<non-string panic payload>"` if the payload was
    /// not a string).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}
