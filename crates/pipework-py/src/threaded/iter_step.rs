//! A paipa `iterstep`: the user's generator function gets an iterator over
//! the step's input and yields its outputs.
//!
//! A generator pulls and a pipework step is pushed one batch at a time, so
//! each step thread runs the generator on a thread of its own (the
//! *generator thread*) and the two take turns: the step thread hands over
//! a batch; the generator reads it item by item and its outputs gather
//! until it wants the next item after the batch, when they go back to the
//! step thread (or sooner, every [`BATCH`] outputs) to be emitted. Neither
//! holds the GIL while it waits for the other. The generator thread ends
//! when its generator does: after the step thread closes its input at
//! shutdown, when it raises, or when the step thread's side of the
//! channels is dropped (a stopped pipeline), which wakes every wait below.

use std::collections::VecDeque;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};
use pipework::pipeline::{BoxError, Emitter, Step, ThreadInfo};
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;

use super::class_step::StepHooks;
use super::failure::PyFailure;
use super::item::{Batch, Entry, BATCH};

/// What the generator thread tells its step thread; each carries the
/// outputs gathered since the last message.
enum FromGenerator {
    /// More outputs, the generator still reading its batch.
    Out(Vec<Py<PyAny>>),
    /// It read the whole batch and wants another.
    NeedInput(Vec<Py<PyAny>>),
    /// The generator ended.
    Done(Vec<Py<PyAny>>),
    /// The generator raised.
    Failed(PyFailure),
}

/// An iterator step.
#[derive(Debug)]
pub(crate) struct IterStep {
    pub(crate) hooks: StepHooks,
}

/// A step thread's side of its generator thread.
pub(crate) struct Generator {
    /// Batches for the generator; `None` or a drop ends its input.
    to_generator: Option<Sender<Option<Vec<Py<PyAny>>>>>,
    from_generator: Receiver<FromGenerator>,
    thread: Option<JoinHandle<()>>,
    /// The generator ended or failed: later items are dropped.
    ended: bool,
}

/// The iterator the user's generator function reads its input from.
#[pyclass(module = "pipework._native")]
struct StepInput {
    items: Receiver<Option<Vec<Py<PyAny>>>>,
    replies: Sender<FromGenerator>,
    /// The batch being read.
    buffer: VecDeque<Py<PyAny>>,
    /// Outputs not yet handed to the step thread.
    outputs: Vec<Py<PyAny>>,
    started: bool,
    /// The input ended: every later pull ends at once, without a word to
    /// the step thread (which waits for the generator's end, not a request).
    closed: bool,
}

#[pymethods]
impl StepInput {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        loop {
            if let Some(value) = self.buffer.pop_front() {
                return Ok(value);
            }
            if self.closed {
                return Err(PyStopIteration::new_err(()));
            }
            let outputs = std::mem::take(&mut self.outputs);
            let (items, replies, started) = (&self.items, &self.replies, self.started);
            self.started = true;
            // Ends when the step thread hands over a batch, closes the
            // input, or is gone.
            let next = py.detach(|| {
                if started && replies.send(FromGenerator::NeedInput(outputs)).is_err() {
                    return None;
                }
                items.recv().ok().flatten()
            });
            match next {
                Some(batch) => self.buffer.extend(batch),
                None => self.closed = true,
            }
        }
    }
}

impl Generator {
    /// Emits what the generator yields until it asks for input or ends.
    fn pump(&mut self, hooks: &StepHooks, out: &mut Emitter<'_, Batch>) -> Result<(), BoxError> {
        loop {
            // Ends when the generator thread replies or is gone.
            let (values, more) = match self.from_generator.recv() {
                Ok(FromGenerator::Out(values)) => (values, true),
                Ok(FromGenerator::NeedInput(values)) => (values, false),
                Ok(FromGenerator::Done(values)) => {
                    self.ended = true;
                    (values, false)
                }
                Err(_) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(FromGenerator::Failed(failure)) => {
                    self.ended = true;
                    return Err(failure.into());
                }
            };
            let entries = values
                .into_iter()
                .map(|value| Entry { meta: false, value })
                .collect();
            hooks.outlet.emit(out, entries)?;
            if !more {
                return Ok(());
            }
        }
    }

    fn close(&mut self) {
        self.to_generator = None;
        let Some(thread) = self.thread.take() else {
            return;
        };
        if !self.ended {
            // Outputs nobody will emit (a stopped pipeline) are dropped
            // until the generator's last word. Ends: its input is closed,
            // so its next pull raises StopIteration; a generator that never
            // pulls again keeps its thread, as it would keep paipa's.
            while let Ok(reply) = self.from_generator.recv() {
                if matches!(reply, FromGenerator::Done(_) | FromGenerator::Failed(_)) {
                    break;
                }
            }
        }
        let _ = thread.join();
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        self.close();
    }
}

fn run_generator(
    make: Py<PyAny>,
    index: usize,
    items: Receiver<Option<Vec<Py<PyAny>>>>,
    replies: Sender<FromGenerator>,
) {
    let outcome = Python::attach(|py| -> PyResult<Vec<Py<PyAny>>> {
        let instance = make.call1(py, (index,))?;
        instance.call_method0(py, "thread_initialize")?;
        let input = Py::new(
            py,
            StepInput {
                items,
                replies: replies.clone(),
                buffer: VecDeque::new(),
                outputs: Vec::new(),
                started: false,
                closed: false,
            },
        )?;
        let produced = instance.call_method1(py, "process", (input.clone_ref(py),))?;
        if !produced.is_none(py) {
            for value in produced.bind(py).try_iter()? {
                let value = value?.unbind();
                let full = {
                    let mut input = input.borrow_mut(py);
                    input.outputs.push(value);
                    (input.outputs.len() >= BATCH).then(|| std::mem::take(&mut input.outputs))
                };
                // Ends when the step thread takes them or is gone.
                if let Some(values) = full {
                    if py
                        .detach(|| replies.send(FromGenerator::Out(values)))
                        .is_err()
                    {
                        return Ok(Vec::new());
                    }
                }
            }
        }
        instance.call_method0(py, "thread_shutdown")?;
        let rest = std::mem::take(&mut input.borrow_mut(py).outputs);
        Ok(rest)
    });
    let last = match outcome {
        Ok(rest) => FromGenerator::Done(rest),
        Err(e) => Python::attach(|py| FromGenerator::Failed(PyFailure::new(py, e))),
    };
    let _ = replies.send(last);
}

impl Step for IterStep {
    type In = Batch;
    type Out = Batch;
    type State = Generator;

    fn thread_init(&self, thread: &ThreadInfo) -> Result<Generator, BoxError> {
        let (to_generator, items) = bounded(1);
        let (replies, from_generator) = bounded(1);
        let make = Python::attach(|py| self.hooks.make.clone_ref(py));
        let index = thread.index();
        let name = format!("{}-gen-{index}", thread.step());
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || run_generator(make, index, items, replies))?;
        Ok(Generator {
            to_generator: Some(to_generator),
            from_generator,
            thread: Some(handle),
            ended: false,
        })
    }

    fn process(
        &self,
        generator: &mut Generator,
        batch: Batch,
        out: &mut Emitter<'_, Batch>,
    ) -> Result<(), BoxError> {
        // Meta items skip the generator, as in paipa.
        let (metas, values): (Batch, Batch) = batch.into_iter().partition(|entry| entry.meta);
        self.hooks.outlet.emit(out, metas)?;
        if values.is_empty() || generator.ended || self.hooks.interrupted() {
            return Ok(());
        }
        let values = values.into_iter().map(|entry| entry.value).collect();
        let sent = match &generator.to_generator {
            // Ends when the generator takes it or is gone.
            Some(tx) => tx.send(Some(values)).is_ok(),
            None => false,
        };
        if !sent {
            generator.ended = true;
        }
        generator.pump(&self.hooks, out)
    }

    fn thread_shutdown(
        &self,
        mut generator: Generator,
        out: &mut Emitter<'_, Batch>,
    ) -> Result<(), BoxError> {
        if !generator.ended {
            if let Some(tx) = &generator.to_generator {
                let _ = tx.send(None);
            }
            // The generator's last outputs, then its end.
            while !generator.ended {
                generator.pump(&self.hooks, out)?;
            }
        }
        generator.close();
        Ok(())
    }

    fn teardown(&self) -> Result<(), BoxError> {
        self.hooks.teardown()
    }
}
