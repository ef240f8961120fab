//! What an input step keeps between two activations: the partitions this
//! worker reads, the epoch they are in, and the snapshot last sent for each.
//!
//! One activation ([`InputReaders::activate`]):
//! 1. polls each partition that is awake for one batch, stamping its items
//!    with the current epoch, and retires the partitions that ended (their
//!    last snapshot is sent first, so a resume continues after the end);
//! 2. closes the epoch when its interval is up, sending each partition's
//!    snapshot if it changed (with recovery on);
//! 3. says when to be woken: at once, after a delay (the soonest awake
//!    time, capped by the epoch's end), or by an output (backpressure).
//!
//! User code (the partitions) runs under [`guarded`], so its panic fails
//! the run naming the step instead of unwinding through timely.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::OutputBuilderSession;
use timely::dataflow::operators::Capability;

use crate::execution::{Failure, RunError};
use crate::flow::{guarded, EpochGate};
use crate::inputs::{SourceError, StatefulSourcePartition, StatelessSourcePartition};
use crate::recovery::{Record, RecoveryError, Resume};

/// How long to wait before polling a partition again after an empty batch
/// with no awake time (bytewax's rule).
const EMPTY_BATCH_BACKOFF: Duration = Duration::from_millis(1);

/// A partition of either kind, as the input step drives it.
pub(super) trait PartitionReader<T> {
    fn next_batch(&mut self) -> Result<Option<Vec<T>>, SourceError>;
    fn next_awake(&self) -> Option<SystemTime>;
    fn close(&mut self) -> Result<(), SourceError>;
    /// The JSON of the partition's resume state; `None` for stateless ones.
    fn snapshot(&self) -> Option<Result<String, serde_json::Error>>;
}

/// A partition of a [`FixedPartitionedSource`](crate::inputs::FixedPartitionedSource).
pub(super) struct Stateful<P>(pub(super) P);

impl<P> PartitionReader<P::Item> for Stateful<P>
where
    P: StatefulSourcePartition,
    P::State: Serialize,
{
    fn next_batch(&mut self) -> Result<Option<Vec<P::Item>>, SourceError> {
        self.0.next_batch()
    }
    fn next_awake(&self) -> Option<SystemTime> {
        self.0.next_awake()
    }
    fn close(&mut self) -> Result<(), SourceError> {
        self.0.close()
    }
    fn snapshot(&self) -> Option<Result<String, serde_json::Error>> {
        Some(serde_json::to_string(&self.0.snapshot()))
    }
}

/// The partition of a [`DynamicSource`](crate::inputs::DynamicSource).
pub(super) struct Stateless<P>(pub(super) P);

impl<P: StatelessSourcePartition> PartitionReader<P::Item> for Stateless<P> {
    fn next_batch(&mut self) -> Result<Option<Vec<P::Item>>, SourceError> {
        self.0.next_batch()
    }
    fn next_awake(&self) -> Option<SystemTime> {
        self.0.next_awake()
    }
    fn close(&mut self) -> Result<(), SourceError> {
        self.0.close()
    }
    fn snapshot(&self) -> Option<Result<String, serde_json::Error>> {
        None
    }
}

/// One partition being read.
pub(super) struct Reader<T> {
    pub(super) part: String,
    pub(super) reader: Box<dyn PartitionReader<T>>,
    /// When to poll next; `None` is now.
    pub(super) awake: Option<SystemTime>,
    /// The last snapshot sent to (or resumed from) the recovery store.
    pub(super) committed: Option<String>,
}

type DataSession<'a, T> = OutputBuilderSession<'a, u64, CapacityContainerBuilder<Vec<T>>>;
type SnapshotSession<'a> = OutputBuilderSession<'a, u64, CapacityContainerBuilder<Vec<Record>>>;

/// The two outputs of one activation and their capabilities: items, and
/// snapshot records for the recovery store.
pub(super) struct Outputs<'o, 'a, T: 'static> {
    pub(super) data: &'o mut DataSession<'a, T>,
    pub(super) data_cap: &'o mut Capability<u64>,
    pub(super) snapshots: &'o mut SnapshotSession<'a>,
    pub(super) snapshot_cap: &'o mut Capability<u64>,
}

/// What the step does after an activation.
pub(super) enum Next {
    /// Run again after this long (zero: at once).
    After(Duration),
    /// Wait for an output to finish the epoch before the current one; it
    /// wakes the step.
    Drain,
    /// Every partition ended: drop the capabilities.
    Done,
    /// A failure was recorded; the run is stopping.
    Failed,
}

/// The step id and the failure flag: running user code for the step.
struct StepGuard {
    step: String,
    failure: Arc<Failure>,
}

impl StepGuard {
    /// Runs `body`; `None` if it panicked or returned an error (recorded).
    fn attempt<R>(&self, body: impl FnOnce() -> Result<R, RunError>) -> Option<R> {
        match guarded(&self.failure, &self.step, body)? {
            Ok(value) => Some(value),
            Err(err) => {
                self.failure.fail(err);
                None
            }
        }
    }

    /// The run error for `err` from partition `part`.
    fn source_error(&self, err: SourceError, part: &str) -> RunError {
        match err {
            SourceError::Abort => RunError::Aborted {
                step: self.step.clone(),
            },
            source => RunError::Source {
                step: self.step.clone(),
                part: Some(part.to_owned()),
                source,
            },
        }
    }
}

/// Sends partition snapshots to the recovery store (with recovery on).
struct SnapshotSender {
    step: String,
    resume: Option<Arc<Resume>>,
}

impl SnapshotSender {
    /// Sends the snapshot of `reader` at `cap`'s epoch if it changed since
    /// the last one sent.
    fn send<T>(
        &self,
        reader: &mut Reader<T>,
        cap: &Capability<u64>,
        output: &mut SnapshotSession<'_>,
    ) -> Result<(), RunError> {
        let Some(resume) = &self.resume else {
            return Ok(());
        };
        let json = match reader.reader.snapshot() {
            None => return Ok(()),
            Some(Ok(json)) => json,
            Some(Err(err)) => {
                return Err(RunError::Recovery(RecoveryError::Serialize {
                    step: self.step.clone(),
                    key: reader.part.clone(),
                    message: err.to_string(),
                }))
            }
        };
        if reader.committed.as_deref() != Some(json.as_str()) {
            output.session(cap).give(Record::State {
                part: resume.part_of(&self.step, &reader.part),
                step: self.step.clone(),
                key: reader.part.clone(),
                state: Some(json.clone()),
            });
            reader.committed = Some(json);
        }
        Ok(())
    }
}

/// The soonest of the delays offered to it.
#[derive(Default)]
struct Soonest(Option<Duration>);

impl Soonest {
    fn offer(&mut self, delay: Duration) {
        self.0 = Some(self.0.map_or(delay, |soonest| soonest.min(delay)));
    }
}

/// The state of an input step between activations: see the module doc.
pub(super) struct InputReaders<T> {
    readers: Vec<Reader<T>>,
    guard: StepGuard,
    snapshots: SnapshotSender,
    interval: Duration,
    /// How many workers learn the run's last epoch when the input ends.
    workers: usize,
    epoch: u64,
    epoch_started: Instant,
}

impl<T: 'static> InputReaders<T> {
    /// The state of a step that starts reading `readers` at epoch `start`.
    pub(super) fn new(
        step: &str,
        readers: Vec<Reader<T>>,
        failure: Arc<Failure>,
        resume: Option<Arc<Resume>>,
        (start, interval): (u64, Duration),
        workers: usize,
    ) -> Self {
        InputReaders {
            readers,
            guard: StepGuard {
                step: step.to_owned(),
                failure,
            },
            snapshots: SnapshotSender {
                step: step.to_owned(),
                resume,
            },
            interval,
            workers,
            epoch: start,
            epoch_started: Instant::now(),
        }
    }

    /// The epoch being read.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// One activation: see the module doc.
    pub(super) fn activate(&mut self, gate: &EpochGate, out: &mut Outputs<'_, '_, T>) -> Next {
        let now = SystemTime::now();
        let Some(soonest) = self.poll_awake(now, out) else {
            return Next::Failed;
        };
        if self.readers.is_empty() {
            self.finish(out);
            return Next::Done;
        }
        // Close the epoch when its time is up, even if no partition was
        // awake; the next one starts once the outputs have drained this one.
        if self.interval.is_zero() || self.epoch_started.elapsed() >= self.interval {
            if self.close_epoch(out).is_none() {
                return Next::Failed;
            }
            if !gate.drained_before(self.epoch) {
                return Next::Drain;
            }
        }
        let mut delay = soonest.0.unwrap_or(self.interval);
        if !self.interval.is_zero() {
            delay = delay.min(self.interval.saturating_sub(self.epoch_started.elapsed()));
        }
        Next::After(delay)
    }

    /// Polls every partition that is awake; returns the soonest time one
    /// wants polling again, or `None` once a failure was recorded.
    fn poll_awake(&mut self, now: SystemTime, out: &mut Outputs<'_, '_, T>) -> Option<Soonest> {
        let mut soonest = Soonest::default();
        let mut index = 0;
        while index < self.readers.len() {
            let asleep_for = self.readers[index]
                .awake
                .and_then(|at| at.duration_since(now).ok())
                .filter(|ahead| !ahead.is_zero());
            if let Some(ahead) = asleep_for {
                soonest.offer(ahead);
                index += 1;
                continue;
            }
            if self.poll_one(index, now, out, &mut soonest)? {
                index += 1;
            } else {
                self.retire(index, out)?;
            }
        }
        Some(soonest)
    }

    /// Polls partition `index` for one batch; `Some(false)` if it ended.
    fn poll_one(
        &mut self,
        index: usize,
        now: SystemTime,
        out: &mut Outputs<'_, '_, T>,
        soonest: &mut Soonest,
    ) -> Option<bool> {
        let guard = &self.guard;
        let current = &mut self.readers[index];
        let batch = guard.attempt(|| {
            current
                .reader
                .next_batch()
                .map_err(|err| guard.source_error(err, &current.part))
        })?;
        let Some(mut batch) = batch else {
            return Some(false);
        };
        let empty = batch.is_empty();
        if !empty {
            out.data.session(&*out.data_cap).give_container(&mut batch);
        }
        current.awake = guarded(&guard.failure, &guard.step, || current.reader.next_awake())?;
        match current.awake {
            Some(at) => soonest.offer(at.duration_since(now).unwrap_or(Duration::ZERO)),
            None if empty => {
                current.awake = Some(now + EMPTY_BATCH_BACKOFF);
                soonest.offer(EMPTY_BATCH_BACKOFF);
            }
            None => soonest.offer(Duration::ZERO),
        }
        Some(true)
    }

    /// Removes partition `index`, which ended: its position at the end is
    /// committed with this epoch (so a resume continues after it), then it
    /// is closed.
    fn retire(&mut self, index: usize, out: &mut Outputs<'_, '_, T>) -> Option<()> {
        let mut done = self.readers.swap_remove(index);
        let guard = &self.guard;
        guard.attempt(|| {
            self.snapshots
                .send(&mut done, out.snapshot_cap, out.snapshots)
        })?;
        guard.attempt(|| {
            done.reader
                .close()
                .map_err(|err| guard.source_error(err, &done.part))
        })
    }

    /// Sends every partition's snapshot at the current epoch, then moves
    /// both outputs to the next epoch.
    fn close_epoch(&mut self, out: &mut Outputs<'_, '_, T>) -> Option<()> {
        for reader in &mut self.readers {
            self.guard
                .attempt(|| self.snapshots.send(reader, out.snapshot_cap, out.snapshots))?;
        }
        self.epoch += 1;
        self.epoch_started = Instant::now();
        out.data_cap.downgrade(&self.epoch);
        out.snapshot_cap.downgrade(&self.epoch);
        Some(())
    }

    /// With recovery on, tells every writer the last epoch of the run.
    fn finish(&self, out: &mut Outputs<'_, '_, T>) {
        if self.snapshots.resume.is_some() {
            let mut session = out.snapshots.session(&*out.snapshot_cap);
            for worker in 0..self.workers {
                session.give(Record::Finished { worker });
            }
        }
    }
}
