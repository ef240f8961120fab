//! The timely operator of `map_async` and `flat_map_async`.
//!
//! One activation: take in new items; collect the outcomes of ended calls
//! (each call task sends its outcome on a channel, then wakes the operator
//! with a [`SyncActivator`](timely::scheduling::SyncActivator)); emit what
//! can be emitted; start calls while slots are free; then close epochs
//! (with recovery, sending snapshots) or release the ones nothing lives at.
//! Nothing here waits: a call that ends, new input or a frontier that moves
//! is what schedules the operator again.

use std::future::Future;
use std::sync::mpsc;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::scheduling::SyncActivator;
use tokio::task::JoinSet;

use super::call::call;
use super::error::MapAsyncError;
use super::options::{MapAsyncOptions, OnError};
use super::pending::{Caps, Pending};
use super::snapshot::StepSnapshot;
use crate::execution::RunError;
use crate::flow::Stream;
use crate::inputs::BoxError;
use crate::recovery::Record;

/// Where a call task reports its outcome: the operator's channel, then a
/// wake-up. A task dropped before it reports (its runtime shut down under
/// it, or it was never run) reports that instead, so the operator never
/// waits for a call that will not end.
struct Report<U> {
    seq: u64,
    to: Option<(mpsc::Sender<Outcome<U>>, Arc<SyncActivator>)>,
}

/// A call's sequence number and outcome.
type Outcome<U> = (u64, Result<Vec<U>, MapAsyncError>);

impl<U> Report<U> {
    fn send(mut self, outcome: Result<Vec<U>, MapAsyncError>) {
        if let Some((tx, activator)) = self.to.take() {
            // Both fail only once the operator is gone, and then nobody
            // waits for the outcome.
            let _ = tx.send((self.seq, outcome));
            let _ = activator.activate();
        }
    }
}

impl<U> Drop for Report<U> {
    fn drop(&mut self) {
        if let Some((tx, activator)) = self.to.take() {
            let message = "the call was dropped before it ended: its runtime shut down".to_owned();
            let _ = tx.send((self.seq, Err(MapAsyncError::Runtime { message })));
            let _ = activator.activate();
        }
    }
}

/// The run error for `err` in step `step`.
fn step_error(step: &str, err: MapAsyncError) -> RunError {
    RunError::Step {
        step: step.to_owned(),
        source: Box::new(err),
    }
}

impl<'scope, T> Stream<'scope, T>
where
    T: Clone + Send + Serialize + DeserializeOwned + 'static,
{
    /// Calls the async function `f` on each item, at most
    /// [`capacity`](MapAsyncOptions::capacity) calls at a time on each
    /// worker, and emits each result (see [the crate docs](crate#calls-with-map_async)
    /// for epochs, backpressure and recovery).
    ///
    /// `f` runs on the worker's tokio runtime (or the one in `options`),
    /// never on the dataflow's thread, so `f`, its future and the items
    /// must be `Send`; `f` is shared by the calls in flight (`Sync`), and
    /// items are cloned for each attempt (`Clone`) and serialized into
    /// snapshots and error messages (`Serialize + DeserializeOwned`).
    ///
    /// # Errors
    ///
    /// With [`OnError::Raise`], the first call that failed every attempt,
    /// timed out or panicked stops the run: [`run`](crate::run) returns
    /// [`RunError::Step`] naming `step_id`, whose source is the
    /// [`MapAsyncError`] naming the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipework_dataflow::connectors::{TestingSink, TestingSource};
    /// use pipework_dataflow::{run, Dataflow, ExecutionConfig, MapAsyncOptions};
    ///
    /// let out = TestingSink::new();
    /// let sink = out.clone();
    /// let options = MapAsyncOptions::new().capacity(8).timeout(Duration::from_secs(5));
    /// let flow = Dataflow::new("enrich", move |flow| {
    ///     flow.input("inp", TestingSource::new(1..=4u32))
    ///         .map_async("lookup", options.clone(), |n: u32| async move {
    ///             tokio::time::sleep(Duration::from_millis(10)).await;
    ///             Ok::<_, std::io::Error>(n * 10)
    ///         })
    ///         .output("out", sink.clone());
    /// });
    /// run(&flow, &ExecutionConfig::single())?;
    /// assert_eq!(out.items(), vec![10, 20, 30, 40]);
    /// # Ok::<(), pipework_dataflow::RunError>(())
    /// ```
    pub fn map_async<U, E, F, Fut>(
        self,
        step_id: &str,
        options: MapAsyncOptions,
        f: F,
    ) -> Stream<'scope, U>
    where
        U: Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, E>> + Send + 'static,
    {
        self.async_step(step_id, options, move |item| {
            let future = f(item);
            async move {
                match future.await {
                    Ok(output) => Ok(vec![output]),
                    Err(err) => Err(err.into()),
                }
            }
        })
    }

    /// Like [`map_async`](Self::map_async), but each call returns zero or
    /// more items, emitted together (in order, with [`Order::Ordered`](super::Order::Ordered)).
    ///
    /// # Errors
    ///
    /// As [`map_async`](Self::map_async).
    ///
    /// # Examples
    ///
    /// ```
    /// use pipework_dataflow::connectors::{TestingSink, TestingSource};
    /// use pipework_dataflow::{run, Dataflow, ExecutionConfig, MapAsyncOptions};
    ///
    /// let out = TestingSink::new();
    /// let sink = out.clone();
    /// let flow = Dataflow::new("expand", move |flow| {
    ///     flow.input("inp", TestingSource::new(vec![1u32, 2]))
    ///         .flat_map_async("repeat", MapAsyncOptions::new(), |n: u32| async move {
    ///             Ok::<_, std::io::Error>(vec![n; n as usize])
    ///         })
    ///         .output("out", sink.clone());
    /// });
    /// run(&flow, &ExecutionConfig::single())?;
    /// assert_eq!(out.items(), vec![1, 2, 2]);
    /// # Ok::<(), pipework_dataflow::RunError>(())
    /// ```
    pub fn flat_map_async<I, E, F, Fut>(
        self,
        step_id: &str,
        options: MapAsyncOptions,
        f: F,
    ) -> Stream<'scope, I::Item>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<I, E>> + Send + 'static,
    {
        self.async_step(step_id, options, move |item| {
            let future = f(item);
            async move {
                match future.await {
                    Ok(outputs) => Ok(outputs.into_iter().collect()),
                    Err(err) => Err(err.into()),
                }
            }
        })
    }

    /// The operator both are built on: `f` returns all outputs of an item.
    fn async_step<U, F, Fut>(
        self,
        step_id: &str,
        options: MapAsyncOptions,
        f: F,
    ) -> Stream<'scope, U>
    where
        U: Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<U>, BoxError>> + Send + 'static,
    {
        self.ctx.register_step(step_id);
        let failure = Arc::clone(&self.ctx.failure);
        let name = step_id.to_owned();
        let Stream {
            inner,
            ctx,
            snapshots,
        } = self;
        let (index, workers) = (ctx.worker_index, ctx.worker_count);
        let start = ctx.start_epoch();
        let resume = ctx.recovery.clone();
        let recovering = resume.is_some();
        if options.get_capacity() == 0 {
            failure.fail(step_error(step_id, MapAsyncError::ZeroCapacity));
        }
        // The runtime: the user's, or this worker's own, kept alive by the
        // operator as long as it may spawn on it.
        let (handle, owned) = match options.get_runtime() {
            Some(handle) => (Some(handle.clone()), None),
            None => match ctx.runtime() {
                Ok(runtime) => (runtime.handle(), Some(runtime)),
                Err(message) => {
                    failure.fail(step_error(step_id, MapAsyncError::Runtime { message }));
                    (None, None)
                }
            },
        };
        let (mut snapshot, adopted) = match &resume {
            Some(resume) => {
                let (state, inputs) =
                    StepSnapshot::adopt(step_id, Arc::clone(resume), index, workers, &failure);
                (Some(state), inputs)
            }
            None => (None, Vec::new()),
        };
        let policy = options.call_policy();
        let on_error = options.get_on_error();
        let skipped = options.skipped();
        let f = Arc::new(f);

        let scope = inner.scope();
        let mut builder = OperatorBuilder::new(step_id.to_owned(), scope);
        let info = builder.operator_info();
        let mut input = builder.new_input(inner, Pipeline);
        let (data_out, data) = builder.new_output();
        let (snap_out, snaps) = builder.new_output();
        let mut data_out = OutputBuilder::<u64, CapacityContainerBuilder<Vec<U>>>::from(data_out);
        let mut snap_out =
            OutputBuilder::<u64, CapacityContainerBuilder<Vec<Record>>>::from(snap_out);
        builder.build(move |mut capabilities| {
            let activator = Arc::new(scope.worker().sync_activator_for(info.address.to_vec()));
            let (done_tx, done_rx) = mpsc::channel::<Outcome<U>>();
            // Dropping the set (with the operator, when the dataflow ends
            // or the worker unwinds) aborts every call still in it.
            let mut tasks: JoinSet<()> = JoinSet::new();
            let mut pending: Pending<T, U> = Pending::new(
                options.get_capacity(),
                options.get_order(),
                recovering,
                start,
            );
            let snap_cap = capabilities.pop();
            let data_cap = capabilities.pop();
            let adopts =
                !adopted.is_empty() || snapshot.as_ref().is_some_and(StepSnapshot::has_adopted);
            if let (true, Some(mut data), Some(mut snap)) = (adopts, data_cap, snap_cap) {
                // The adopted inputs are called first, at the first epoch.
                data.downgrade(&start);
                snap.downgrade(&start);
                pending.receive(start, || Caps { data, snap }, adopted);
            }
            move |frontiers| {
                // The runtime lives while the operator may spawn on it.
                let _runtime = &owned;
                let mut data_session = data_out.activate();
                let mut snap_session = snap_out.activate();
                input.for_each(|cap, batch| {
                    let Some(&epoch) = cap.least() else {
                        batch.clear();
                        return;
                    };
                    let caps = || Caps {
                        data: cap.delayed(&epoch, 0),
                        snap: cap.delayed(&epoch, 1),
                    };
                    pending.receive(epoch, caps, batch.drain(..));
                });
                // Finished tasks sent their outcome already: forget them.
                while tasks.try_join_next().is_some() {}
                if failure.is_failed() {
                    // Keep the capabilities: the epochs are not complete.
                    tasks.abort_all();
                    return;
                }
                let Some(handle) = handle.as_ref() else {
                    return;
                };
                while let Ok((seq, outcome)) = done_rx.try_recv() {
                    pending.finish(seq, outcome);
                }
                if on_error == OnError::Raise {
                    if let Some(err) = pending.take_error() {
                        failure.fail(step_error(&name, err));
                        tasks.abort_all();
                        return;
                    }
                }
                for (epoch, outcome) in pending.take_ready() {
                    match outcome {
                        Ok(mut outputs) => {
                            if outputs.is_empty() {
                                continue;
                            }
                            if let Some(cap) = pending.data_cap(epoch) {
                                data_session.session(cap).give_container(&mut outputs);
                            }
                        }
                        Err(err) if on_error == OnError::Skip => {
                            tracing::warn!(step = %name, error = %err, "map_async skipped an item");
                            skipped.add_one();
                        }
                        Err(err) => {
                            failure.fail(step_error(&name, err));
                            tasks.abort_all();
                            return;
                        }
                    }
                }
                while let Some((seq, item)) = pending.start_next() {
                    let f = Arc::clone(&f);
                    let report = Report {
                        seq,
                        to: Some((done_tx.clone(), Arc::clone(&activator))),
                    };
                    // Ends when the call does (a result, its last failure or
                    // timeout, a panic caught), or when it is aborted: by a
                    // failed run or by dropping `tasks` with the operator.
                    tasks.spawn_on(
                        async move {
                            let outcome = call(&*f, item, policy).await;
                            report.send(outcome);
                        },
                        handle,
                    );
                }
                match snapshot.as_mut() {
                    Some(state) => {
                        let frontier = frontiers[0].frontier().iter().min().copied();
                        let closed = pending.close_epochs(frontier, |_epoch, cap, inputs| {
                            state.send(&mut snap_session, cap, inputs)
                        });
                        if let Err(err) = closed {
                            failure.fail(err);
                        }
                    }
                    None => pending.release_idle(),
                }
            }
        });
        if recovering {
            snapshots.borrow_mut().push(snaps);
        }
        Stream {
            inner: data,
            ctx,
            snapshots,
        }
    }
}
