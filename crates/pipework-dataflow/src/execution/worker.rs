//! What each worker thread does: build its copy of the dataflow, then step
//! it until it completes or the run fails.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use pipework::internal::panic_message;
use timely::dataflow::operators::Concatenate;
use timely::worker::Worker;

use super::failure::{Failure, Stop};
use super::peer_failure::mark_unwinding;
use super::RunError;
use crate::flow::{guarded, Flow, WorkerContext};
use crate::recovery::{write_snapshots, Resume, SnapshotStreams};
use crate::Dataflow;

/// Runs `flow` on `worker` to completion. On failure (here or, through
/// `failure`, in another worker of this process) it unwinds with [`Stop`] or
/// the original panic, so that timely tears down its channels as failed.
pub(crate) fn run_worker(
    worker: &mut Worker,
    flow: &Dataflow,
    failure: &Arc<Failure>,
    epoch_interval: Duration,
    resume: Option<Arc<Resume>>,
) {
    failure.register_current_thread();
    mark_unwinding(false);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let ctx = Rc::new(WorkerContext::new(
            flow.name(),
            worker.index(),
            worker.peers(),
            epoch_interval,
            Arc::clone(failure),
            resume,
        ));
        let built = worker.dataflow_named::<u64, _, _>(flow.name(), |scope| {
            let snapshots = SnapshotStreams::default();
            let mut builder = Flow {
                scope,
                ctx: Rc::clone(&ctx),
                snapshots: Rc::clone(&snapshots),
            };
            let built = guarded(failure, "<build>", || flow.build_on(&mut builder));
            if let Some(resume) = &ctx.recovery {
                let streams = std::mem::take(&mut *snapshots.borrow_mut());
                let records = scope.concatenate(streams);
                write_snapshots(scope, records, &ctx, resume);
            }
            built
        });
        if built.is_some() && ctx.input_count() == 0 {
            failure.fail(RunError::NoInput {
                flow: flow.name().to_owned(),
            });
        }
        while !failure.is_failed() && worker.has_dataflows() {
            worker.step_or_park(None);
        }
    }));
    match outcome {
        Ok(()) if failure.is_failed() => {
            mark_unwinding(true);
            resume_unwind(Box::new(Stop))
        }
        Ok(()) => {}
        Err(payload) => {
            if !payload.is::<Stop>() {
                failure.fail(classify(payload.as_ref()));
            }
            mark_unwinding(true);
            resume_unwind(payload)
        }
    }
}

/// Turns a panic that escaped the operators (they catch user panics) into
/// an error: a broken connection to another process, or an internal failure.
pub(crate) fn classify(payload: &(dyn Any + Send)) -> RunError {
    let message = panic_message(payload);
    if message.contains("MergeQueue poisoned") || message.contains("timely communication error") {
        RunError::PeerFailed { message }
    } else {
        RunError::Worker { message }
    }
}
