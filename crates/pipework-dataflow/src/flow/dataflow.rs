//! A dataflow definition: a name and the closure that builds it on each worker.

use std::fmt;
use std::sync::Arc;

use super::Flow;

type Build = dyn for<'scope> Fn(&mut Flow<'scope>) + Send + Sync;

/// A dataflow: a name and a function that wires its steps.
///
/// The function runs once on every worker (in every process) to build that
/// worker's copy of the dataflow, so it must build the same steps each time;
/// it captures only configuration (paths, parameters), and builds sources and
/// sinks inside. It is `Send + Sync` because worker threads share it.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::connectors::{TestingSink, TestingSource};
/// use pipework_dataflow::{run, Dataflow, ExecutionConfig};
///
/// let out = TestingSink::new();
/// let sink = out.clone();
/// let flow = Dataflow::new("add_one", move |flow| {
///     flow.input("inp", TestingSource::new(0..3))
///         .map("add_one", |x: i32| x + 1)
///         .output("out", sink.clone());
/// });
/// run(&flow, &ExecutionConfig::single())?;
/// assert_eq!(out.items(), vec![1, 2, 3]);
/// # Ok::<(), pipework_dataflow::RunError>(())
/// ```
#[derive(Clone)]
#[must_use = "a dataflow does nothing until given to `run`"]
pub struct Dataflow {
    name: String,
    build: Arc<Build>,
}

impl fmt::Debug for Dataflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataflow")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Dataflow {
    /// A dataflow named `name`, built by `build` on each worker.
    pub fn new<F>(name: impl Into<String>, build: F) -> Self
    where
        F: for<'scope> Fn(&mut Flow<'scope>) + Send + Sync + 'static,
    {
        Dataflow {
            name: name.into(),
            build: Arc::new(build),
        }
    }

    /// The dataflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn build_on(&self, flow: &mut Flow<'_>) {
        (self.build)(flow)
    }
}
