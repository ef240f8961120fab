//! Marks the tasks that run pipework stages, so a stage's stream can tell
//! whether it is read by another stage or by the pipeline's consumer.

use std::future::Future;

use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    /// Set inside every stage task (buffered or concurrent).
    static STAGE_TASK: ();
}

/// Runs `future` as a stage task.
pub(crate) fn as_stage_task<F: Future>(future: F) -> TaskLocalFuture<(), F> {
    STAGE_TASK.scope((), future)
}

/// Whether the caller runs inside a stage task. A stage stream polled or
/// dropped there is inside a pipeline (an error it yields travels on
/// downstream); anywhere else, it is the pipeline's consumer.
pub(crate) fn in_stage_task() -> bool {
    STAGE_TASK.try_with(|()| ()).is_ok()
}
