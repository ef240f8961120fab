//! Running a dataflow on one worker, N threads, or a cluster of processes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use timely::communication::allocator::thread::Thread;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::ProcessBuilder;
use timely::communication::{Allocator, AllocatorBuilder, Hooks};
use timely::worker::Worker;
use timely::WorkerConfig;

use super::failure::Failure;
use super::network;
use super::peer_failure::PeerWatch;
use super::worker::{classify, run_worker};
use super::{ExecutionConfig, RunError};
use crate::recovery::Resume;
use crate::Dataflow;

/// Runs `flow` with the layout in `config` and returns when every worker
/// (in every process) is done.
///
/// - One worker and no cluster: the worker runs in the calling thread.
/// - N workers: N threads in this process.
/// - A cluster: this process listens on its address, connects to the others
///   (waiting until they are up, at most the connect timeout), and runs its
///   N threads; items that must change worker go over TCP.
///
/// # Errors
///
/// The first failure of the run, after every worker has stopped:
/// [`RunError::Recovery`] when recovery is on and its directory is
/// missing, inconsistent or cannot be written;
/// [`RunError::NoInput`], [`RunError::DuplicateStep`] when building;
/// [`RunError::Step`], [`RunError::Panicked`], [`RunError::Source`],
/// [`RunError::Sink`], [`RunError::Aborted`] from steps, each naming the
/// step; [`RunError::PeerFailed`] when another process of the cluster failed
/// or died; [`ConfigError::PortInUse`](crate::ConfigError::PortInUse) (as [`RunError::Config`]) when this
/// process cannot listen on its address; [`RunError::Connect`] when a peer
/// is not reachable in time, and [`ConfigError::WorkerCountMismatch`](crate::ConfigError::WorkerCountMismatch) when
/// peers run different worker counts; [`RunError::Startup`] when timely
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
    // The recovery directory is checked (and rolled back to its resume
    // point) before any worker starts, so no input is read on a bad one.
    let resume = match config.get_recovery() {
        Some(recovery) => {
            let record = config
                .get_cluster()
                .is_none_or(|cluster| cluster.process_id() == 0);
            let resume = Resume::load(recovery, epoch_interval, config.worker_count(), record)?;
            Some(Arc::new(resume))
        }
        None => None,
    };
    let shared = Arc::clone(&failure);
    let flow = flow.clone();
    let work = move |worker: &mut Worker| {
        run_worker(worker, &flow, &shared, epoch_interval, resume.clone())
    };
    // Watches for a failed peer until this run has joined its threads.
    let mut watch: Option<PeerWatch> = None;
    let guards = match config.get_cluster() {
        None if config.workers_per_process() == 1 => return run_here(&work, &failure),
        None => timely::execute(timely::Config::process(config.workers_per_process()), work)
            .map_err(|message| RunError::Startup { message })?,
        Some(cluster) => {
            let threads = config.workers_per_process();
            let connected = network::connect(cluster, threads, config.get_connect_timeout())?;
            watch = Some(PeerWatch::start(cluster, &failure));
            failure.watch_sockets(connected.shutdown);
            let hooks = Hooks::default();
            let local = ProcessBuilder::new_typed_vector(
                threads,
                hooks.refill.clone(),
                hooks.spill.clone(),
            );
            let (builders, guard) = initialize_networking_from_sockets(
                local,
                connected.sockets,
                cluster.process_id(),
                threads,
                hooks,
            )
            .map_err(|err| RunError::Startup {
                message: err.to_string(),
            })?;
            let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
            timely::execute::execute_from(builders, Box::new(guard), WorkerConfig::default(), work)
                .map_err(|message| RunError::Startup { message })?
        }
    };
    // Joining also joins timely's network threads, which panic when a peer
    // broke its connection; that panic is part of the failure, not a new one.
    let joined = catch_unwind(AssertUnwindSafe(|| guards.join()));
    drop(watch);
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
fn run_here(work: &dyn Fn(&mut Worker), failure: &Failure) -> Result<(), RunError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let allocator = Allocator::Thread(Thread::default());
        let mut worker = Worker::new(WorkerConfig::default(), allocator, Some(Instant::now()));
        work(&mut worker);
    }));
    if let Some(err) = failure.take() {
        return Err(err);
    }
    outcome.map_err(|payload| classify(payload.as_ref()))
}
