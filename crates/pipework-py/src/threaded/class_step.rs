//! A paipa class step (`AbstractStep` subclass or `funcstep`): one Python
//! instance per thread, `process` or `process_meta` once per item.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pipework::pipeline::{BoxError, Emitter, Step, ThreadInfo};
use pyo3::prelude::*;

use super::failure::PyFailure;
use super::item::Item;

/// The hooks a step's Python side gives (see `pipework/paipa/threaded.py`).
#[derive(Debug)]
pub(crate) struct StepHooks {
    /// `make(index)`: the thread's step instance, `initialize` done.
    pub(crate) make: Py<PyAny>,
    /// `teardown()`: `step_shutdown` on the step's first instance.
    pub(crate) teardown: Py<PyAny>,
    /// `failed(exc, instance)`: called with every exception `process`
    /// raises but `SkipEntry` (it logs, unless told not to).
    pub(crate) failed: Py<PyAny>,
    /// paipa's `SkipEntry`: raised by `process`, it drops the item.
    pub(crate) skip: Py<PyAny>,
    /// Set on Ctrl-C: items still queued are dropped uncalled, so the
    /// pipeline drains at once.
    pub(crate) interrupted: Arc<AtomicBool>,
}

/// A class step.
#[derive(Debug)]
pub(crate) struct ClassStep {
    pub(crate) hooks: StepHooks,
}

impl Step for ClassStep {
    type In = Item;
    type Out = Item;
    type State = Py<PyAny>;

    fn thread_init(&self, thread: &ThreadInfo) -> Result<Py<PyAny>, BoxError> {
        Python::attach(|py| {
            let made = self
                .hooks
                .make
                .call1(py, (thread.index(),))
                .and_then(|instance| {
                    instance.call_method0(py, "thread_initialize")?;
                    Ok(instance)
                });
            made.map_err(|e| PyFailure::new(py, e).into())
        })
    }

    fn process(
        &self,
        instance: &mut Py<PyAny>,
        item: Item,
        out: &mut Emitter<'_, Item>,
    ) -> Result<(), BoxError> {
        if self.hooks.interrupted.load(Ordering::Relaxed) {
            return Ok(());
        }
        let result = Python::attach(|py| {
            let called = match &item {
                Item::Regular(value) => {
                    instance.call_method1(py, "process", (value.clone_ref(py),))
                }
                Item::Meta(value) => {
                    instance.call_method1(py, "process_meta", (value.clone_ref(py),))
                }
            };
            match called {
                Ok(value) => Ok(Some(value)),
                Err(e) if e.is_instance(py, self.hooks.skip.bind(py)) => Ok(None),
                Err(e) => {
                    // The failure hook only logs; its own error must not
                    // hide the step's.
                    let _ = self
                        .hooks
                        .failed
                        .call1(py, (e.value(py), instance.clone_ref(py)));
                    Err(PyFailure::new(py, e))
                }
            }
        });
        // Emitted without the GIL: a full queue blocks here.
        match result {
            Ok(Some(value)) => Ok(out.emit(item.like(value))?),
            Ok(None) => Ok(()),
            Err(failure) => Err(failure.into()),
        }
    }

    fn thread_shutdown(
        &self,
        instance: Py<PyAny>,
        _out: &mut Emitter<'_, Item>,
    ) -> Result<(), BoxError> {
        Python::attach(|py| {
            instance
                .call_method0(py, "thread_shutdown")
                .map(drop)
                .map_err(|e| PyFailure::new(py, e).into())
        })
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
