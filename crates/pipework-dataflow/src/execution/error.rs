//! Errors from configuring and running a dataflow.

use crate::inputs::{BoxError, SourceError};
use crate::outputs::SinkError;
use crate::recovery::RecoveryError;

/// Why an execution layout (workers, processes, addresses) is not usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A worker count of 0.
    #[error("workers per process must be at least 1")]
    ZeroWorkers,
    /// An address that is not `host:port`.
    #[error("malformed address `{address}`: {reason}")]
    MalformedAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An empty list of addresses.
    #[error("the address list is empty")]
    NoAddresses,
    /// A process id not below the number of addresses.
    #[error("process id {process_id} is out of range for {processes} addresses (ids start at 0)")]
    ProcessIdOutOfRange {
        /// The id given.
        process_id: usize,
        /// The number of addresses (processes).
        processes: usize,
    },
    /// Addresses without a process id.
    #[error("a process id (-i / PIPEWORK_PROCESS_ID) is required with addresses")]
    MissingProcessId,
    /// A process id without addresses.
    #[error("addresses (-a / PIPEWORK_ADDRESSES) are required with a process id")]
    MissingAddresses,
    /// Another process runs a different number of worker threads.
    #[error("process {process_id} runs {theirs} workers per process, this one {ours}; start all with the same -w")]
    WorkerCountMismatch {
        /// The other process.
        process_id: usize,
        /// This process's worker count.
        ours: usize,
        /// The other process's worker count.
        theirs: usize,
    },
    /// This process's own address cannot be listened on.
    #[error("cannot listen on {address} (process {process_id}): {source}")]
    PortInUse {
        /// The address of this process.
        address: String,
        /// This process's id.
        process_id: usize,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
}

/// Why [`run`](crate::run) failed. Every variant about user code names the
/// step it happened in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The execution layout is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The recovery directory is missing, inconsistent or cannot be
    /// written; names the directory or partition file.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// The dataflow has no input step.
    #[error("dataflow `{flow}` has no input; add one with `Flow::input`")]
    NoInput {
        /// The dataflow's name.
        flow: String,
    },
    /// Two steps share an id.
    #[error("step id `{step}` is used twice in dataflow `{flow}`")]
    DuplicateStep {
        /// The dataflow's name.
        flow: String,
        /// The repeated id.
        step: String,
    },
    /// A user function returned an error.
    #[error("step `{step}` failed: {source}")]
    Step {
        /// The step's id.
        step: String,
        /// The user's error.
        #[source]
        source: BoxError,
    },
    /// A user function panicked.
    #[error("step `{step}` panicked: {message}")]
    Panicked {
        /// The step's id, or `<build>` for the dataflow-building closure.
        step: String,
        /// The panic message.
        message: String,
    },
    /// A source failed to list, build or read a partition.
    #[error("input step `{step}`{}: {source}", part_suffix(part))]
    Source {
        /// The input step's id.
        step: String,
        /// The partition, when one was involved.
        part: Option<String>,
        /// What the source reported.
        #[source]
        source: SourceError,
    },
    /// A sink failed to build, write or close a partition.
    #[error("output step `{step}`{}: {source}", part_suffix(part))]
    Sink {
        /// The output step's id.
        step: String,
        /// The partition, when one was involved.
        part: Option<String>,
        /// What the sink reported.
        #[source]
        source: SinkError,
    },
    /// A source returned [`SourceError::Abort`]: a simulated crash.
    #[error("execution aborted by input step `{step}`")]
    Aborted {
        /// The input step's id.
        step: String,
    },
    /// Another process of the cluster failed or exited, so this one stopped.
    #[error("a peer process failed or exited: {message}")]
    PeerFailed {
        /// What the communication layer reported.
        message: String,
    },
    /// Another process of the cluster could not be reached, or did not
    /// connect, before the connect timeout.
    #[error("connecting to process {process_id} at {address}: {message}")]
    Connect {
        /// The process that could not be reached.
        process_id: usize,
        /// Its address.
        address: String,
        /// What went wrong.
        message: String,
    },
    /// The workers could not be started (for example the network could not be set up).
    #[error("could not start the workers: {message}")]
    Startup {
        /// What timely reported.
        message: String,
    },
    /// A worker thread ended abnormally without a step to blame.
    #[error("worker failed: {message}")]
    Worker {
        /// The panic message.
        message: String,
    },
}

impl RunError {
    /// The id of the step the error happened in, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            RunError::Step { step, .. }
            | RunError::Panicked { step, .. }
            | RunError::Source { step, .. }
            | RunError::Sink { step, .. }
            | RunError::Aborted { step }
            | RunError::DuplicateStep { step, .. } => Some(step),
            _ => None,
        }
    }

    /// Whether a source asked to abort ([`RunError::Aborted`]).
    pub fn is_abort(&self) -> bool {
        matches!(self, RunError::Aborted { .. })
    }
}

fn part_suffix(part: &Option<String>) -> String {
    match part {
        Some(part) => format!(" (partition `{part}`)"),
        None => String::new(),
    }
}
