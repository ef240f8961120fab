//! Input steps: read the partitions of a source assigned to this worker.

use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;

use super::input_readers::{
    InputReaders, Next, Outputs, PartitionReader, Reader, Stateful, Stateless,
};
use crate::execution::RunError;
use crate::flow::{guarded, Flow, Stream};
use crate::inputs::{
    DynamicSource, FixedPartitionedSource, SourceError, StatefulSourcePartition,
    StatelessSourcePartition,
};
use crate::recovery::{Record, RecoveryError};
use crate::routing::assign_parts;

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
        let parts = match guarded(failure, step_id, || source.list_parts()) {
            Some(Ok(parts)) => parts,
            Some(Err(err)) => {
                failure.fail(RunError::Source {
                    step: step_id.to_owned(),
                    part: None,
                    source: err,
                });
                Vec::new()
            }
            None => Vec::new(),
        };
        let now = SystemTime::now();
        let readers = assign_parts(&parts, self.ctx.worker_count)
            .into_iter()
            .filter(|(_, owner)| *owner == self.ctx.worker_index)
            .filter_map(|(part, _)| self.open_part(step_id, &source, part, now))
            .collect();
        self.source_operator(step_id, readers)
    }

    /// Builds partition `part` of `source` from its committed snapshot
    /// (with recovery on); `None` once a failure was recorded.
    fn open_part<S>(
        &self,
        step_id: &str,
        source: &S,
        part: String,
        now: SystemTime,
    ) -> Option<Reader<S::Item>>
    where
        S: FixedPartitionedSource,
        S::Item: 'static,
    {
        let failure = &self.ctx.failure;
        let recovery = self.ctx.recovery.as_ref();
        let committed = recovery
            .and_then(|resume| resume.state(step_id, &part))
            .map(str::to_owned);
        let resume_state = match committed.as_deref().map(serde_json::from_str) {
            None => None,
            Some(Ok(state)) => Some(state),
            Some(Err(err)) => {
                let path = recovery.map(|resume| resume.path_of(step_id, &part).to_path_buf());
                failure.fail(RunError::Recovery(RecoveryError::InvalidSnapshot {
                    path: path.unwrap_or_default(),
                    step: step_id.to_owned(),
                    key: part,
                    message: err.to_string(),
                }));
                return None;
            }
        };
        let build = || {
            let built = source.build_part(now, &part, resume_state)?;
            let awake = built.next_awake();
            Ok((built, awake))
        };
        match guarded(failure, step_id, build)? {
            Ok((built, awake)) => Some(Reader {
                awake,
                part,
                reader: Box::new(Stateful(built)) as Box<dyn PartitionReader<S::Item>>,
                committed,
            }),
            Err(err) => {
                failure.fail(RunError::Source {
                    step: step_id.to_owned(),
                    part: Some(part),
                    source: err,
                });
                None
            }
        }
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

    /// The timely operator polling `readers` (see [`InputReaders`]); with
    /// recovery on, its second output carries the partitions' snapshots.
    fn source_operator<T: 'static>(
        &mut self,
        step_id: &str,
        readers: Vec<Reader<T>>,
    ) -> Stream<'scope, T> {
        let failure = Arc::clone(&self.ctx.failure);
        let gate = Rc::clone(&self.ctx.gate);
        let recovering = self.ctx.recovery.is_some();
        let mut state = InputReaders::new(
            step_id,
            readers,
            Arc::clone(&failure),
            self.ctx.recovery.clone(),
            (self.ctx.start_epoch(), self.ctx.epoch_interval),
            self.ctx.worker_count,
        );
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
                cap.downgrade(&state.epoch());
            }
            let mut snap_cap = capabilities.pop();
            let mut capability = capabilities.pop();
            move |_frontiers| {
                let (Some(data_cap), Some(snapshot_cap)) = (capability.as_mut(), snap_cap.as_mut())
                else {
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
                if !gate.drained_before(state.epoch()) {
                    return;
                }
                let mut data = data_out.activate();
                let mut snapshots = snap_out.activate();
                let mut out = Outputs {
                    data: &mut data,
                    data_cap,
                    snapshots: &mut snapshots,
                    snapshot_cap,
                };
                match state.activate(&gate, &mut out) {
                    Next::After(delay) if delay.is_zero() => activator.activate(),
                    Next::After(delay) => activator.activate_after(delay),
                    Next::Drain | Next::Failed => {}
                    Next::Done => {
                        capability = None;
                        snap_cap = None;
                    }
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
