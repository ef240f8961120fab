//! Input steps: read the partitions of a source assigned to this worker.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;

use crate::execution::RunError;
use crate::flow::{guarded, Flow, Stream};
use crate::inputs::{
    DynamicSource, FixedPartitionedSource, SourceError, StatefulSourcePartition,
    StatelessSourcePartition,
};
use crate::routing::assign_parts;

/// How long to wait before polling a partition again after an empty batch
/// with no awake time (bytewax's rule).
const EMPTY_BATCH_BACKOFF: Duration = Duration::from_millis(1);

/// A partition of either kind, as the input operator drives it.
trait PartitionReader<T> {
    fn next_batch(&mut self) -> Result<Option<Vec<T>>, SourceError>;
    fn next_awake(&self) -> Option<SystemTime>;
    fn close(&mut self) -> Result<(), SourceError>;
}

struct Stateful<P>(P);

impl<P: StatefulSourcePartition> PartitionReader<P::Item> for Stateful<P> {
    fn next_batch(&mut self) -> Result<Option<Vec<P::Item>>, SourceError> {
        self.0.next_batch()
    }
    fn next_awake(&self) -> Option<SystemTime> {
        self.0.next_awake()
    }
    fn close(&mut self) -> Result<(), SourceError> {
        self.0.close()
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
}

struct Reader<T> {
    part: String,
    reader: Box<dyn PartitionReader<T>>,
    /// When to poll next; `None` is now.
    awake: Option<SystemTime>,
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
                    let build = || {
                        let built = source.build_part(now, &part, None)?;
                        let awake = built.next_awake();
                        Ok((built, awake))
                    };
                    match guarded(failure, step_id, build) {
                        Some(Ok((built, awake))) => readers.push(Reader {
                            awake,
                            part,
                            reader: Box::new(Stateful(built)) as Box<dyn PartitionReader<S::Item>>,
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
    /// current epoch.
    fn source_operator<T: 'static>(
        &mut self,
        step_id: &str,
        readers: Vec<Reader<T>>,
    ) -> Stream<'scope, T> {
        let failure = Arc::clone(&self.ctx.failure);
        let gate = Rc::clone(&self.ctx.gate);
        let interval = self.ctx.epoch_interval;
        let step = step_id.to_owned();
        let scope = self.scope;
        let inner = source::<_, CapacityContainerBuilder<Vec<T>>, _, _>(
            scope,
            step_id,
            move |capability, info| {
                let activator = scope.activator_for(Rc::clone(&info.address));
                gate.add_input(scope.activator_for(Rc::clone(&info.address)));
                let mut capability = Some(capability);
                let mut readers = readers;
                let mut epoch = 0u64;
                let mut epoch_started = Instant::now();
                move |output| {
                    let Some(cap) = capability.as_mut() else {
                        return;
                    };
                    if failure.is_failed() {
                        capability = None;
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
                        capability = None;
                        return;
                    }
                    // Close the epoch when its time is up, even if no
                    // partition was awake; the next one starts once the
                    // outputs have drained this one (they wake us).
                    if interval.is_zero() || epoch_started.elapsed() >= interval {
                        epoch += 1;
                        epoch_started = Instant::now();
                        cap.downgrade(&epoch);
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
            },
        );
        Stream {
            inner,
            ctx: Rc::clone(&self.ctx),
        }
    }
}
