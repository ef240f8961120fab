//! A paipa class step (`AbstractStep` subclass or `funcstep`): one Python
//! instance per thread, `process` or `process_meta` once per item.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pipework::pipeline::{BoxError, Emitter, Step, ThreadInfo};
use pyo3::prelude::*;

use super::failure::PyFailure;
use super::item::{Batch, Entry, Outlet};

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
    /// Where the outputs go.
    pub(crate) outlet: Outlet,
}

impl StepHooks {
    pub(crate) fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    pub(crate) fn teardown(&self) -> Result<(), BoxError> {
        Python::attach(|py| {
            self.teardown
                .call0(py)
                .map(drop)
                .map_err(|e| PyFailure::new(py, e).into())
        })
    }
}

/// A class step.
///
/// Retries happen here, on the thread that failed, right away (paipa put
/// the item back at the end of the queue): up to `retries` more attempts,
/// then the item is skipped (`skip_failed`, paipa's `max_retries > 0`) or
/// the run stops with the exception.
#[derive(Debug)]
pub(crate) struct ClassStep {
    pub(crate) hooks: StepHooks,
    pub(crate) retries: u32,
    pub(crate) skip_failed: bool,
}

impl ClassStep {
    /// One entry through the step, with its retries: `Ok(None)` when it is
    /// skipped.
    fn one(
        &self,
        py: Python<'_>,
        instance: &Py<PyAny>,
        entry: &Entry,
    ) -> Result<Option<Py<PyAny>>, PyFailure> {
        let method = if entry.meta {
            "process_meta"
        } else {
            "process"
        };
        let mut attempt = 0;
        loop {
            match instance.call_method1(py, method, (entry.value.clone_ref(py),)) {
                Ok(value) => return Ok(Some(value)),
                Err(e) if e.is_instance(py, self.hooks.skip.bind(py)) => return Ok(None),
                Err(e) => {
                    // The failure hook only logs; its own error must not
                    // hide the step's.
                    let _ = self
                        .hooks
                        .failed
                        .call1(py, (e.value(py), instance.clone_ref(py)));
                    if attempt < self.retries {
                        attempt += 1;
                        continue;
                    }
                    if self.skip_failed {
                        return Ok(None);
                    }
                    return Err(PyFailure::new(py, e));
                }
            }
        }
    }
}

impl Step for ClassStep {
    type In = Batch;
    type Out = Batch;
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
        batch: Batch,
        out: &mut Emitter<'_, Batch>,
    ) -> Result<(), BoxError> {
        if self.hooks.interrupted() {
            return Ok(());
        }
        let mut outputs = Vec::with_capacity(batch.len());
        let mut failure = None;
        // The batch is dropped with the GIL held, sparing PyO3's pool.
        Python::attach(|py| {
            for entry in batch {
                match self.one(py, instance, &entry) {
                    Ok(Some(value)) => outputs.push(Entry {
                        meta: entry.meta,
                        value,
                    }),
                    Ok(None) => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        });
        // Emitted without the GIL: a full queue blocks here.
        self.hooks.outlet.emit(out, outputs)?;
        match failure {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        }
    }

    fn thread_shutdown(
        &self,
        instance: Py<PyAny>,
        _out: &mut Emitter<'_, Batch>,
    ) -> Result<(), BoxError> {
        Python::attach(|py| {
            instance
                .call_method0(py, "thread_shutdown")
                .map(drop)
                .map_err(|e| PyFailure::new(py, e).into())
        })
    }

    fn teardown(&self) -> Result<(), BoxError> {
        self.hooks.teardown()
    }
}
