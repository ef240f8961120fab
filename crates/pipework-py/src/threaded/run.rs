//! One run of a paipa pipeline: built from the Python step list, fed,
//! waited for with `Ctrl-C` heard, its first exception raised as itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use pipework::pipeline::{Error, Pipeline, PipelineHandle, Report};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyIterator;

use super::class_step::{ClassStep, StepHooks};
use super::failure::PyFailure;
use super::item::{Batch, Entry, Outlet, BATCH, QUEUE_ITEMS};
use super::iter_step::IterStep;

/// How often a waiting `wait` looks at Python's signal flag: the run's end
/// wakes it at once; this bounds how late it hears `Ctrl-C`.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The Python iterator given to `put_iterable`, pulled by the pipeline's
/// feeder thread a batch at a time with the GIL (a batch of one when the
/// first step has several threads, so they share the items).
struct Source {
    iter: Py<PyIterator>,
    batch: usize,
    error: Arc<Mutex<Option<PyErr>>>,
    interrupted: Arc<AtomicBool>,
    done: bool,
}

impl Iterator for Source {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.done || self.interrupted.load(Ordering::Relaxed) {
            return None;
        }
        let mut batch = Vec::with_capacity(self.batch);
        Python::attach(|py| {
            let iter = self.iter.bind(py);
            while batch.len() < self.batch {
                match iter.clone().next() {
                    Some(Ok(value)) => batch.push(Entry {
                        meta: false,
                        value: value.unbind(),
                    }),
                    Some(Err(e)) => {
                        *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                        self.done = true;
                        break;
                    }
                    None => {
                        self.done = true;
                        break;
                    }
                }
            }
        });
        (!batch.is_empty()).then_some(batch)
    }
}

/// A running paipa pipeline, made and driven by
/// `pipework.paipa.threaded.Pipeline`.
///
/// It starts when made; `put` feeds it while it runs, `finish` closes its
/// input, and `wait` blocks (without the GIL) until every thread has ended,
/// then returns the count of items out of the last step.
#[pyclass(module = "pipework._native")]
pub(crate) struct ThreadedRun {
    handle: Mutex<Option<PipelineHandle<Batch>>>,
    count: Arc<AtomicU64>,
    source_error: Arc<Mutex<Option<PyErr>>>,
    interrupted: Arc<AtomicBool>,
}

/// One step as the Python side describes it: `(name, iterator, threads,
/// retries, skip_failed, make, teardown, failed)`.
#[derive(FromPyObject)]
struct StepSpec(
    String,
    bool,
    usize,
    u32,
    bool,
    Py<PyAny>,
    Py<PyAny>,
    Py<PyAny>,
);

#[pymethods]
impl ThreadedRun {
    /// Builds and starts the pipeline.
    ///
    /// `steps` are `(name, iterator, threads, retries, skip_failed, make,
    /// teardown, failed)` tuples; `items` the `(is_meta, value)` pairs put
    /// before the start; `source` the iterator of `put_iterable`.
    #[new]
    #[pyo3(signature = (steps, skip, items, source=None))]
    fn new(
        py: Python<'_>,
        steps: Vec<StepSpec>,
        skip: Py<PyAny>,
        items: Vec<(bool, Py<PyAny>)>,
        source: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if steps.is_empty() {
            return Err(PyValueError::new_err("a pipeline needs at least one step"));
        }
        let interrupted = Arc::new(AtomicBool::new(false));
        let source_error = Arc::new(Mutex::new(None));
        let count = Arc::new(AtomicU64::new(0));
        let threads: Vec<usize> = steps.iter().map(|spec| spec.2).collect();
        // A one-thread step takes batches; a queue of batches holds about
        // paipa's 64 items.
        let batch_of = |step: usize| if threads[step] == 1 { BATCH } else { 1 };
        let mut pipeline = Pipeline::<Batch>::new();
        for (i, StepSpec(name, iterator, n, retries, skip_failed, make, teardown, failed)) in
            steps.into_iter().enumerate()
        {
            let last = i + 1 == threads.len();
            let hooks = StepHooks {
                make,
                teardown,
                failed,
                skip: skip.clone_ref(py),
                interrupted: interrupted.clone(),
                outlet: Outlet {
                    split: !last && batch_of(i + 1) == 1,
                    count: last.then(|| count.clone()),
                },
            };
            pipeline = if iterator {
                // A generator that raised is gone: its step cannot retry
                // or skip an item, so its failure stops the run.
                pipeline.step(IterStep { hooks })
            } else {
                pipeline.step(ClassStep {
                    hooks,
                    retries,
                    skip_failed,
                })
            };
            let queue = (QUEUE_ITEMS / batch_of(i)).max(1);
            pipeline = pipeline.name(name).threads(n).queue(queue);
        }
        let first = batch_of(0);
        let mut entries = items
            .into_iter()
            .map(|(meta, value)| Entry { meta, value })
            .peekable();
        while entries.peek().is_some() {
            pipeline.put(entries.by_ref().take(first).collect());
        }
        if let Some(source) = source {
            pipeline.put_iter(Source {
                iter: source.try_iter()?.unbind(),
                batch: first,
                error: source_error.clone(),
                interrupted: interrupted.clone(),
                done: false,
            });
        }
        let handle = py.detach(|| pipeline.spawn()).map_err(to_py_err)?;
        Ok(ThreadedRun {
            handle: Mutex::new(Some(handle)),
            count,
            source_error,
            interrupted,
        })
    }

    /// Puts one item (a meta item if `meta`) into the running pipeline.
    #[pyo3(signature = (value, meta=false))]
    fn put(&self, py: Python<'_>, value: Py<PyAny>, meta: bool) -> PyResult<()> {
        let item = vec![Entry { meta, value }];
        let guard = self.handle.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = guard
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the pipeline was stopped"))?;
        // Ends when the first queue has room or the pipeline stops.
        py.detach(|| handle.put(item))
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Closes the input: the pipeline ends once what is queued is done.
    fn finish(&self) {
        if let Some(handle) = &*self.handle.lock().unwrap_or_else(PoisonError::into_inner) {
            handle.finish();
        }
    }

    /// Whether no step has failed and some thread still runs.
    #[getter]
    fn alive(&self) -> bool {
        self.handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(PipelineHandle::is_alive)
    }

    /// Finishes the input, waits until every thread has ended and returns
    /// how many items left the last step.
    ///
    /// The first exception of a step (or of the `put_iterable` iterator)
    /// is raised as itself. `Ctrl-C` while waiting makes every step drop its
    /// queued items and the source stop; the call then raises
    /// `KeyboardInterrupt` once the threads have ended (at once, unless a
    /// step is inside a long call).
    fn wait(&self, py: Python<'_>) -> PyResult<u64> {
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the pipeline was already waited for"))?;
        let (tx, rx) = crossbeam_channel::bounded::<Result<Report, Error>>(1);
        // Ends when the pipeline's threads have all ended.
        let stopper = std::thread::Builder::new()
            .name("paipa-stop".into())
            .spawn(move || {
                let _ = tx.send(handle.stop());
            })
            .map_err(|e| PyRuntimeError::new_err(format!("could not start a thread: {e}")))?;
        let mut interrupt = None;
        let outcome = loop {
            match py.detach(|| rx.recv_timeout(SIGNAL_POLL)) {
                Ok(outcome) => break outcome,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        self.interrupted.store(true, Ordering::Relaxed);
                        interrupt.get_or_insert(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    break Err(Error::InvalidConfig(
                        "the pipeline's stop thread died".into(),
                    ))
                }
            }
        };
        let _ = py.detach(|| stopper.join());
        if let Some(e) = interrupt {
            return Err(e);
        }
        outcome.map_err(to_py_err)?;
        if let Some(e) = self
            .source_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            return Err(e);
        }
        Ok(self.count.load(Ordering::Relaxed))
    }
}

/// A pipeline error as Python sees it: a step's exception as itself.
fn to_py_err(error: Error) -> PyErr {
    match error {
        Error::StepFailed { source, .. } | Error::HookFailed { source, .. } => {
            match source.downcast::<PyFailure>() {
                Ok(failure) => failure.error,
                Err(other) => PyRuntimeError::new_err(other.to_string()),
            }
        }
        Error::InvalidConfig(why) => PyValueError::new_err(why),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}
