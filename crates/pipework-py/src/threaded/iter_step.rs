//! A paipa `iterstep`: the user's generator function gets an iterator over
//! the step's input and yields its outputs.
//!
//! A generator pulls and a pipework step is pushed one item at a time, so
//! each step thread runs the generator on a thread of its own (the
//! *generator thread*) and the two take turns: the step thread hands over
//! an item and emits whatever the generator yields until the generator
//! asks for the next item. Neither holds the GIL while it waits for the
//! other. The generator thread ends when its generator does: after the
//! step thread closes its input at shutdown, when it raises, or when the
//! step thread's side of the channels is dropped (a stopped pipeline),
//! which wakes every wait below.

use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};
use pipework::pipeline::{BoxError, Emitter, Step, ThreadInfo};
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;

use super::class_step::StepHooks;
use super::failure::PyFailure;
use super::item::Item;

/// What the generator thread tells its step thread.
enum FromGenerator {
    /// An output to emit.
    Out(Py<PyAny>),
    /// It took the last item handed over and wants another.
    NeedInput,
    /// The generator ended.
    Done,
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
    /// Items for the generator; `None` or a drop ends its input.
    to_generator: Option<Sender<Option<Py<PyAny>>>>,
    from_generator: Receiver<FromGenerator>,
    thread: Option<JoinHandle<()>>,
    /// The generator ended or failed: later items are dropped.
    ended: bool,
}

/// The iterator the user's generator function reads its input from.
#[pyclass(module = "pipework._native")]
struct StepInput {
    items: Receiver<Option<Py<PyAny>>>,
    replies: Sender<FromGenerator>,
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
        if self.closed {
            return Err(PyStopIteration::new_err(()));
        }
        let (items, replies, started) = (&self.items, &self.replies, self.started);
        self.started = true;
        // Ends when the step thread hands over an item, closes the input,
        // or is gone.
        let next = py.detach(|| {
            if started && replies.send(FromGenerator::NeedInput).is_err() {
                return None;
            }
            items.recv().ok().flatten()
        });
        self.closed = next.is_none();
        next.ok_or_else(|| PyStopIteration::new_err(()))
    }
}

impl Generator {
    /// Emits what the generator yields until it asks for input or ends.
    fn pump(&mut self, out: &mut Emitter<'_, Item>) -> Result<(), BoxError> {
        loop {
            // Ends when the generator thread replies or is gone.
            match self.from_generator.recv() {
                Ok(FromGenerator::Out(value)) => {
                    out.emit(Item::Regular(std::sync::Arc::new(value)))?;
                }
                Ok(FromGenerator::NeedInput) => return Ok(()),
                Ok(FromGenerator::Done) | Err(_) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(FromGenerator::Failed(failure)) => {
                    self.ended = true;
                    return Err(failure.into());
                }
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
                if matches!(reply, FromGenerator::Done | FromGenerator::Failed(_)) {
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
    items: Receiver<Option<Py<PyAny>>>,
    replies: Sender<FromGenerator>,
) {
    let outcome = Python::attach(|py| -> PyResult<()> {
        let instance = make.call1(py, (index,))?;
        instance.call_method0(py, "thread_initialize")?;
        let input = Py::new(
            py,
            StepInput {
                items,
                replies: replies.clone(),
                started: false,
                closed: false,
            },
        )?;
        let produced = instance.call_method1(py, "process", (input,))?;
        if !produced.is_none(py) {
            for value in produced.bind(py).try_iter()? {
                let value = value?.unbind();
                // Ends when the step thread takes it or is gone.
                if py
                    .detach(|| replies.send(FromGenerator::Out(value)))
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        instance.call_method0(py, "thread_shutdown")?;
        Ok(())
    });
    let last = match outcome {
        Ok(()) => FromGenerator::Done,
        Err(e) => Python::attach(|py| FromGenerator::Failed(PyFailure::new(py, e))),
    };
    let _ = replies.send(last);
}

impl Step for IterStep {
    type In = Item;
    type Out = Item;
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
        item: Item,
        out: &mut Emitter<'_, Item>,
    ) -> Result<(), BoxError> {
        let value = match item {
            // Meta items skip the generator, as in paipa.
            meta @ Item::Meta(_) => return Ok(out.emit(meta)?),
            Item::Regular(value) => value,
        };
        if generator.ended
            || self
                .hooks
                .interrupted
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        let value = Python::attach(|py| value.clone_ref(py));
        let sent = match &generator.to_generator {
            // Ends when the generator pulls it or is gone.
            Some(tx) => tx.send(Some(value)).is_ok(),
            None => false,
        };
        if !sent {
            generator.ended = true;
            return generator.pump(out);
        }
        generator.pump(out)
    }

    fn thread_shutdown(
        &self,
        mut generator: Generator,
        out: &mut Emitter<'_, Item>,
    ) -> Result<(), BoxError> {
        if !generator.ended {
            if let Some(tx) = &generator.to_generator {
                let _ = tx.send(None);
            }
            // The generator's last outputs, then its end.
            while !generator.ended {
                generator.pump(out)?;
            }
        }
        generator.close();
        Ok(())
    }

    fn teardown(&self) -> Result<(), BoxError> {
        Python::attach(|py| {
            self.hooks
                .teardown
                .call0(py)
                .map(drop)
                .map_err(|e| PyFailure::new(py, e).into())
        })
    }
}
