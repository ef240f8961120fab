//! Running a dataflow on one worker, N threads, or a cluster of processes.

use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use timely::communication::allocator::thread::Thread;
use timely::communication::Allocator;
use timely::worker::Worker;
use timely::{CommunicationConfig, WorkerConfig};

use super::failure::Failure;
use super::worker::{classify, run_worker};
use super::{ConfigError, ExecutionConfig, RunError};
use crate::Dataflow;

/// Runs `flow` with the layout in `config` and returns when every worker
/// (in every process) is done.
///
/// - One worker and no cluster: the worker runs in the calling thread.
/// - N workers: N threads in this process.
/// - A cluster: this process listens on its address, connects to the others
///   (waiting until they are up), and runs its N threads; items that must
///   change worker go over TCP.
///
/// # Errors
///
/// The first failure of the run, after every worker has stopped:
/// [`RunError::NoInput`], [`RunError::DuplicateStep`] when building;
/// [`RunError::Step`], [`RunError::Panicked`], [`RunError::Source`],
/// [`RunError::Sink`], [`RunError::Aborted`] from steps, each naming the
/// step; [`RunError::PeerFailed`] when another process of the cluster failed
/// or died; [`ConfigError::PortInUse`] (as [`RunError::Config`]) when this
/// process cannot listen on its address; [`RunError::Startup`] when timely
/// cannot set up communication.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::connectors::{TestingSink, TestingSource};
/// use pipework_dataflow::{run, Dataflow, ExecutionConfig};
///
/// let out = TestingSink::new();
/// let sink = out.clone();
/// let flow = Dataflow::new("checked", move |flow| {
///     flow.input("inp", TestingSource::new(vec![1, 0, 2]))
///         .try_map("invert", |x: i32| if x == 0 { Err("division by zero") } else { Ok(10 / x) })
///         .output("out", sink.clone());
/// });
/// let err = run(&flow, &ExecutionConfig::threads(2)?).unwrap_err();
/// assert_eq!(err.step(), Some("invert"));
/// assert!(out.items().len() < 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(flow: &Dataflow, config: &ExecutionConfig) -> Result<(), RunError> {
    let failure = Failure::new();
    let epoch_interval = config.get_epoch_interval();
    let timely_config = match config.get_cluster() {
        None if config.workers_per_process() == 1 => {
            return run_here(flow, &failure, epoch_interval)
        }
        None => timely::Config::process(config.workers_per_process()),
        Some(cluster) => {
            let address = &cluster.addresses()[cluster.process_id()];
            // Fail fast with a clear error rather than timely's, which may only
            // come after connecting to the other processes.
            TcpListener::bind(address).map_err(|source| ConfigError::PortInUse {
                address: address.clone(),
                process_id: cluster.process_id(),
                source,
            })?;
            timely::Config {
                communication: CommunicationConfig::Cluster {
                    threads: config.workers_per_process(),
                    process: cluster.process_id(),
                    addresses: cluster.addresses().to_vec(),
                    report: false,
                    zerocopy: false,
                },
                worker: WorkerConfig::default(),
            }
        }
    };
    let shared = Arc::clone(&failure);
    let flow = flow.clone();
    let guards = timely::execute(timely_config, move |worker| {
        run_worker(worker, &flow, &shared, epoch_interval)
    })
    .map_err(|message| RunError::Startup { message })?;
    // Joining also joins timely's network threads, which panic when a peer
    // broke its connection; that panic is part of the failure, not a new one.
    let joined = catch_unwind(AssertUnwindSafe(|| guards.join()));
    if let Some(err) = failure.take() {
        return Err(err);
    }
    match joined {
        Ok(results) => results
            .into_iter()
            .try_for_each(|result| result.map_err(|message| RunError::Worker { message })),
        Err(payload) => Err(classify(payload.as_ref())),
    }
}

/// One worker in the calling thread.
fn run_here(
    flow: &Dataflow,
    failure: &Arc<Failure>,
    epoch_interval: std::time::Duration,
) -> Result<(), RunError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let allocator = Allocator::Thread(Thread::default());
        let mut worker = Worker::new(WorkerConfig::default(), allocator, Some(Instant::now()));
        run_worker(&mut worker, flow, failure, epoch_interval);
    }));
    if let Some(err) = failure.take() {
        return Err(err);
    }
    outcome.map_err(|payload| classify(payload.as_ref()))
}
