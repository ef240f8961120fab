//! Marks the tasks that run pipework stages, so a stage's stream can tell
//! whether it is read by another stage or by the pipeline's consumer.
//!
//! The mark is a thread-local flag set for the length of each poll (and of
//! the drop) of a stage task's future. It was a `tokio::task_local!`, which
//! does the same through a lazily initialised `RefCell<Option<()>>`; a
//! trivial buffered stage spent about a tenth of its instructions there,
//! and a `const`-initialised `Cell<bool>` costs a load and two stores.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    /// True while this thread polls or drops a stage task's future.
    static IN_STAGE_TASK: Cell<bool> = const { Cell::new(false) };
}

pin_project_lite::pin_project! {
    /// A stage task's future: `future`, run with the stage mark set.
    #[derive(Debug)]
    pub(crate) struct StageTask<F> {
        // An `Option` only so that `drop` can drop `future` with the mark
        // set (the stage's own upstream streams are dropped there).
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for StageTask<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut future = this.project().future;
            let _mark = Mark::set();
            future.set(None);
        }
    }
}

/// Runs `future` as a stage task.
pub(crate) fn as_stage_task<F: Future>(future: F) -> StageTask<F> {
    StageTask {
        future: Some(future),
    }
}

impl<F: Future> Future for StageTask<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _mark = Mark::set();
        match self.project().future.as_pin_mut() {
            Some(future) => future.poll(cx),
            // Only `drop` empties it, and nothing polls a future being dropped.
            None => unreachable!("a stage task polled after its drop began"),
        }
    }
}

/// Sets the mark and puts back what was there when dropped, even by a
/// panic unwinding through the poll.
struct Mark {
    before: bool,
}

impl Mark {
    fn set() -> Self {
        Mark {
            before: IN_STAGE_TASK.replace(true),
        }
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        IN_STAGE_TASK.set(self.before);
    }
}

/// Whether the caller runs inside a stage task. A stage stream polled or
/// dropped there is inside a pipeline (an error it yields travels on
/// downstream); anywhere else, it is the pipeline's consumer.
pub(crate) fn in_stage_task() -> bool {
    IN_STAGE_TASK.get()
}
