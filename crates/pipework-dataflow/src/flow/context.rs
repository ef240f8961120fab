//! What every operator of one worker shares while the dataflow is built and run.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::EpochGate;
use pipework::internal::caught;

use crate::execution::{Failure, RunError};
use crate::operators::WorkerRuntime;
use crate::recovery::Resume;

/// One worker's view of the dataflow being built: ids in use, input count,
/// the epoch interval and the process-wide failure flag.
#[derive(Debug)]
pub(crate) struct WorkerContext {
    pub(crate) flow: String,
    pub(crate) worker_index: usize,
    pub(crate) worker_count: usize,
    pub(crate) epoch_interval: Duration,
    pub(crate) failure: Arc<Failure>,
    pub(crate) gate: Rc<EpochGate>,
    /// What this run resumes from, when recovery is on.
    pub(crate) recovery: Option<Arc<Resume>>,
    steps: RefCell<HashSet<String>>,
    inputs: Cell<usize>,
    /// The tokio runtime of this worker's `map_async` steps, made by the
    /// first one that needs it.
    runtime: OnceCell<Result<Rc<WorkerRuntime>, String>>,
}

impl WorkerContext {
    pub(crate) fn new(
        flow: &str,
        worker_index: usize,
        worker_count: usize,
        epoch_interval: Duration,
        failure: Arc<Failure>,
        recovery: Option<Arc<Resume>>,
    ) -> Self {
        WorkerContext {
            flow: flow.to_owned(),
            worker_index,
            worker_count,
            epoch_interval,
            failure,
            gate: Rc::new(EpochGate::default()),
            recovery,
            steps: RefCell::new(HashSet::new()),
            inputs: Cell::new(0),
            runtime: OnceCell::new(),
        }
    }

    /// Records a step id; a repeated id fails the run.
    pub(crate) fn register_step(&self, step: &str) {
        if !self.steps.borrow_mut().insert(step.to_owned()) {
            self.failure.fail(RunError::DuplicateStep {
                flow: self.flow.clone(),
                step: step.to_owned(),
            });
        }
    }

    pub(crate) fn register_input(&self) {
        self.inputs.set(self.inputs.get() + 1);
    }

    pub(crate) fn input_count(&self) -> usize {
        self.inputs.get()
    }

    /// This worker's tokio runtime, started on first use; the error text
    /// if it cannot be started.
    pub(crate) fn runtime(&self) -> Result<Rc<WorkerRuntime>, String> {
        self.runtime
            .get_or_init(|| WorkerRuntime::start(self.worker_index).map(Rc::new))
            .clone()
    }

    /// The first epoch of this run: 0, or the one after the resume epoch.
    pub(crate) fn start_epoch(&self) -> u64 {
        self.recovery
            .as_ref()
            .map_or(0, |resume| resume.start_epoch())
    }
}

/// Runs user code for `step`, turning a panic into a recorded failure.
/// Returns `None` when it panicked.
pub(crate) fn guarded<R>(failure: &Failure, step: &str, body: impl FnOnce() -> R) -> Option<R> {
    match caught(body) {
        Ok(result) => Some(result),
        Err(message) => {
            failure.fail(RunError::Panicked {
                step: step.to_owned(),
                message,
            });
            None
        }
    }
}
