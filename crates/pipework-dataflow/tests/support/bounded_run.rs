//! Running a dataflow in this process without letting a hang hang the test.

#![allow(dead_code)]

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use pipework_dataflow::{Dataflow, ExecutionConfig, RunError};

/// Far longer than any run here needs: only a run that never ends takes it.
pub(crate) const RUN_BOUND: Duration = Duration::from_secs(60);

/// [`pipework_dataflow::run`] on another thread, waited for at most
/// [`RUN_BOUND`]: a run that never ends fails its test instead of hanging
/// it, and a run that panics passes its panic on.
pub(crate) fn run(flow: &Dataflow, config: &ExecutionConfig) -> Result<(), RunError> {
    let (flow, config) = (flow.clone(), config.clone());
    let (tx, rx) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        // The receiver is gone only when the test already failed on time.
        let _ = tx.send(pipework_dataflow::run(&flow, &config));
    });
    match rx.recv_timeout(RUN_BOUND) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => panic!("the run did not end within {RUN_BOUND:?}"),
        Err(RecvTimeoutError::Disconnected) => match runner.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the runner sends its result before it ends"),
        },
    }
}
