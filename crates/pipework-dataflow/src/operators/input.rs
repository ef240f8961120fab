//! Input steps: read the partitions of a source assigned to this worker.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{OutputBuilder, OutputBuilderSession};
use timely::dataflow::operators::Capability;

use crate::execution::RunError;
use crate::flow::{guarded, Flow, Stream};
use crate::inputs::{
    DynamicSource, FixedPartitionedSource, SourceError, StatefulSourcePartition,
    StatelessSourcePartition,
};
use crate::recovery::{Record, RecoveryError};
use crate::routing::assign_parts;

/// How long to wait before polling a partition again after an empty batch
/// with no awake time (bytewax's rule).
const EMPTY_BATCH_BACKOFF: Duration = Duration::from_millis(1);

/// A partition of either kind, as the input operator drives it.
trait PartitionReader<T> {
    fn next_batch(&mut self) -> Result<Option<Vec<T>>, SourceError>;
    fn next_awake(&self) -> Option<SystemTime>;
    fn close(&mut self) -> Result<(), SourceError>;
    /// The JSON of the partition's resume state; `None` for stateless ones.
    fn snapshot(&self) -> Option<Result<String, serde_json::Error>>;
}

struct Stateful<P>(P);

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

struct Stateless<P>(P);

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

struct Reader<T> {
    part: String,
    reader: Box<dyn PartitionReader<T>>,
    /// When to poll next; `None` is now.
    awake: Option<SystemTime>,
    /// The last snapshot sent to (or resumed from) the recovery store.
    committed: Option<String>,
}

impl<'scope> Flow<'scope> {
    /// Adds an input step reading a [`FixedPartitionedSource`].
    ///
    /// Every worker lists the partitions; the sorted keys are dealt
    /// round-robin, and each worker builds and reads its own (a worker may
    /// get none). Errors listing, building or reading a partition stop the
    /// run with [`RunError::Source`] naming `step_id` and the partition.
    pub fn input<S>(&mut self, step_id: &str, source: S) -> Stream<'scope, S::Item>
    where
        S: FixedPartitionedSource,
        S::Item: 'static,
    {
        // Partitions resume from their committed snapshot (with recovery on).
        self.ctx.register_step(step_id);
        self.ctx.register_input();
        let failure = &self.ctx.failure;
        let now = SystemTime::now();
        let mut readers = Vec::new();
        let source_error = |part: Option<&str>, source| RunError::Source {
            step: step_id.to_owned(),
            part: part.map(str::to_owned),
            source,
        };
        match guarded(failure, step_id, || source.list_parts()) {
            Some(Ok(parts)) => {
                for (part, owner) in assign_parts(&parts, self.ctx.worker_count) {
                    if owner != self.ctx.worker_index {
                        continue;
                    }
                    let committed = self
                        .ctx
                        .recovery
                        .as_ref()
                        .and_then(|resume| resume.state(step_id, &part))
                        .map(str::to_owned);
                    let resume_state = match committed.as_deref().map(serde_json::from_str) {
                        None => None,
                        Some(Ok(state)) => Some(state),
                        Some(Err(err)) => {
                            let path = self
                                .ctx
                                .recovery
                                .as_ref()
                                .map(|resume| resume.path_of(step_id, &part).to_path_buf());
                            failure.fail(RunError::Recovery(RecoveryError::InvalidSnapshot {
                                path: path.unwrap_or_default(),
                                step: step_id.to_owned(),
                                key: part.clone(),
                                message: err.to_string(),
                            }));
                            continue;
                        }
                    };
                    let build = || {
                        let built = source.build_part(now, &part, resume_state)?;
                        let awake = built.next_awake();
                        Ok((built, awake))
                    };
                    match guarded(failure, step_id, build) {
                        Some(Ok((built, awake))) => readers.push(Reader {
                            awake,
                            part,
                            reader: Box::new(Stateful(built)) as Box<dyn PartitionReader<S::Item>>,
                            committed,
                        }),
                        Some(Err(err)) => failure.fail(source_error(Some(&part), err)),
                        None => {}
                    }
                }
            }
            Some(Err(err)) => failure.fail(source_error(None, err)),
            None => {}
        }
        self.source_operator(step_id, readers)
    }

    /// Adds an input step reading a [`DynamicSource`]: every worker builds
    /// its own partition with its index and the worker count.
    pub fn input_dynamic<S>(&mut self, step_id: &str, source: S) -> Stream<'scope, S::Item>
    where
        S: DynamicSource,
        S::Item: 'static,
    {
        self.ctx.register_step(step_id);
        self.ctx.register_input();
        let failure = &self.ctx.failure;
        let (index, count) = (self.ctx.worker_index, self.ctx.worker_count);
        let part = format!("worker-{index}");
        let mut readers = Vec::new();
        let build = || {
            let built = source.build(SystemTime::now(), index, count)?;
            let awake = built.next_awake();
            Ok::<_, SourceError>((built, awake))
        };
        match guarded(failure, step_id, build) {
            Some(Ok((built, awake))) => readers.push(Reader {
                awake,
                part,
                reader: Box::new(Stateless(built)) as Box<dyn PartitionReader<S::Item>>,
                committed: None,
            }),
            Some(Err(err)) => failure.fail(RunError::Source {
                step: step_id.to_owned(),
                part: Some(part),
                source: err,
            }),
            None => {}
        }
        self.source_operator(step_id, readers)
    }

    /// The timely operator polling `readers`, stamping items with the
    /// current epoch; with recovery on, it also sends each partition's
    /// snapshot when an epoch closes and when the partition ends.
    fn source_operator<T: 'static>(
        &mut self,
        step_id: &str,
        readers: Vec<Reader<T>>,
    ) -> Stream<'scope, T> {
        let failure = Arc::clone(&self.ctx.failure);
        let gate = Rc::clone(&self.ctx.gate);
        let interval = self.ctx.epoch_interval;
        let resume = self.ctx.recovery.clone();
        let recovering = resume.is_some();
        let start = self.ctx.start_epoch();
        let workers = self.ctx.worker_count;
        let step = step_id.to_owned();
        let scope = self.scope;
        let mut builder = OperatorBuilder::new(step_id.to_owned(), scope);
        let info = builder.operator_info();
        let (data_out, inner) = builder.new_output();
        let (snap_out, snaps) = builder.new_output();
        let mut data_out = OutputBuilder::<u64, CapacityContainerBuilder<Vec<T>>>::from(data_out);
        let mut snap_out =
            OutputBuilder::<u64, CapacityContainerBuilder<Vec<Record>>>::from(snap_out);
        builder.build(move |mut capabilities| {
            let activator = scope.activator_for(Rc::clone(&info.address));
            gate.add_input(scope.activator_for(Rc::clone(&info.address)));
            for cap in capabilities.iter_mut() {
                cap.downgrade(&start);
            }
            let mut snap_cap = capabilities.pop();
            let mut capability = capabilities.pop();
            let mut readers = readers;
            let mut epoch = start;
            let mut epoch_started = Instant::now();
            let resume_step = step.clone();
            // Sends the snapshot of `reader` at the current epoch if it
            // changed since the last one sent.
            let snapshot = move |reader: &mut Reader<T>,
                                 cap: &Capability<u64>,
                                 output: &mut OutputBuilderSession<
                '_,
                u64,
                CapacityContainerBuilder<Vec<Record>>,
            >|
                  -> Result<(), RunError> {
                let Some(resume) = &resume else { return Ok(()) };
                let json = match reader.reader.snapshot() {
                    None => return Ok(()),
                    Some(Ok(json)) => json,
                    Some(Err(err)) => {
                        return Err(RunError::Recovery(RecoveryError::Serialize {
                            step: resume_step.clone(),
                            key: reader.part.clone(),
                            message: err.to_string(),
                        }))
                    }
                };
                if reader.committed.as_deref() != Some(json.as_str()) {
                    output.session(cap).give(Record::State {
                        part: resume.part_of(&resume_step, &reader.part),
                        step: resume_step.clone(),
                        key: reader.part.clone(),
                        state: Some(json.clone()),
                    });
                    reader.committed = Some(json);
                }
                Ok(())
            };
            move |_frontiers| {
                let mut output = data_out.activate();
                let mut snap_output = snap_out.activate();
                let (Some(cap), Some(scap)) = (capability.as_mut(), snap_cap.as_mut()) else {
                    return;
                };
                if failure.is_failed() {
                    // With recovery on, keep the capabilities: dropping them
                    // would close the current epoch as if it were complete.
                    if !recovering {
                        capability = None;
                        snap_cap = None;
                    }
                    return;
                }
                // Backpressure: wait (an output wakes us) until every
                // output has finished the epochs before this one.
                if !gate.drained_before(epoch) {
                    return;
                }
                let now = SystemTime::now();
                let mut wait: Option<Duration> = None;
                let mut soonest =
                    |delay: Duration| wait = Some(wait.map_or(delay, |w| w.min(delay)));
                let mut index = 0;
                while index < readers.len() {
                    let current = &mut readers[index];
                    if let Some(at) = current.awake {
                        if let Ok(ahead) = at.duration_since(now) {
                            if !ahead.is_zero() {
                                soonest(ahead);
                                index += 1;
                                continue;
                            }
                        }
                    }
                    let fail = |err: SourceError, part: &str| match err {
                        SourceError::Abort => RunError::Aborted { step: step.clone() },
                        source => RunError::Source {
                            step: step.clone(),
                            part: Some(part.to_owned()),
                            source,
                        },
                    };
                    match guarded(&failure, &step, || current.reader.next_batch()) {
                        Some(Ok(Some(mut batch))) => {
                            let empty = batch.is_empty();
                            if !empty {
                                output.session(&*cap).give_container(&mut batch);
                            }
                            let Some(awake) =
                                guarded(&failure, &step, || current.reader.next_awake())
                            else {
                                return;
                            };
                            current.awake = awake;
                            match current.awake {
                                Some(at) => {
                                    soonest(at.duration_since(now).unwrap_or(Duration::ZERO))
                                }
                                None if empty => {
                                    current.awake = Some(now + EMPTY_BATCH_BACKOFF);
                                    soonest(EMPTY_BATCH_BACKOFF);
                                }
                                None => soonest(Duration::ZERO),
                            }
                            index += 1;
                        }
                        Some(Ok(None)) => {
                            let mut done = readers.swap_remove(index);
                            // The position at the end is committed with
                            // this epoch, so a resume continues after it.
                            let snapped = guarded(&failure, &step, || {
                                snapshot(&mut done, scap, &mut snap_output)
                            });
                            match snapped {
                                Some(Err(err)) => {
                                    failure.fail(err);
                                    return;
                                }
                                Some(Ok(())) => {}
                                None => return,
                            }
                            match guarded(&failure, &step, || done.reader.close()) {
                                Some(Err(err)) => {
                                    failure.fail(fail(err, &done.part));
                                    return;
                                }
                                Some(Ok(())) => {}
                                None => return,
                            }
                        }
                        Some(Err(err)) => {
                            failure.fail(fail(err, &current.part));
                            return;
                        }
                        None => return,
                    }
                }
                if readers.is_empty() {
                    if recovering {
                        // Every writer learns the last epoch of the run.
                        let mut session = snap_output.session(&*scap);
                        for worker in 0..workers {
                            session.give(Record::Finished { worker });
                        }
                    }
                    capability = None;
                    snap_cap = None;
                    return;
                }
                // Close the epoch when its time is up, even if no
                // partition was awake; the next one starts once the
                // outputs have drained this one (they wake us).
                if interval.is_zero() || epoch_started.elapsed() >= interval {
                    for reader in readers.iter_mut() {
                        match guarded(&failure, &step, || snapshot(reader, scap, &mut snap_output))
                        {
                            Some(Ok(())) => {}
                            Some(Err(err)) => {
                                failure.fail(err);
                                return;
                            }
                            None => return,
                        }
                    }
                    epoch += 1;
                    epoch_started = Instant::now();
                    cap.downgrade(&epoch);
                    scap.downgrade(&epoch);
                    if !gate.drained_before(epoch) {
                        return;
                    }
                }
                let mut delay = wait.unwrap_or(interval);
                if !interval.is_zero() {
                    delay = delay.min(interval.saturating_sub(epoch_started.elapsed()));
                }
                if delay.is_zero() {
                    activator.activate();
                } else {
                    activator.activate_after(delay);
                }
            }
        });
        if recovering {
            self.snapshots.borrow_mut().push(snaps);
        }
        Stream {
            inner,
            ctx: Rc::clone(&self.ctx),
            snapshots: Rc::clone(&self.snapshots),
        }
    }
}
