//! What flows through a paipa pipeline: batches of Python objects.
//!
//! Taking the GIL is the cost of a Python step: with one thread per step,
//! every hand-over between two steps is a GIL hand-over too (tens of
//! microseconds on a busy machine, against well under one for the queue).
//! So a step thread takes the GIL once per *batch*: a one-thread step gets
//! its items in batches of up to [`BATCH`], the items that were ready
//! together. A step with several threads gets batches of one, so its
//! threads share the items as paipa's do, one at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pipework::pipeline::{BoxError, Emitter};
use pyo3::prelude::*;

/// The most items a batch holds.
pub(crate) const BATCH: usize = 32;

/// paipa's queue bound between two steps, in items (its `threshold`).
pub(crate) const QUEUE_ITEMS: usize = 64;

/// One entry: a regular item, or a meta item (paipa's `put_meta`, handed to
/// `process_meta` and passed on by iterator steps).
#[derive(Debug)]
pub(crate) struct Entry {
    /// Whether it is a meta item.
    pub(crate) meta: bool,
    /// The Python object.
    pub(crate) value: Py<PyAny>,
}

/// Entries handed over together (see the module docs).
pub(crate) type Batch = Vec<Entry>;

/// Where a step's outputs go: whole batches, or one entry per batch when
/// the next step has several threads; the last step counts its outputs
/// (paipa's `pipeline.count`).
#[derive(Debug, Clone)]
pub(crate) struct Outlet {
    /// One entry per batch.
    pub(crate) split: bool,
    /// The count of the last step's outputs, for the last step.
    pub(crate) count: Option<Arc<AtomicU64>>,
}

impl Outlet {
    /// Emits `entries`; waits (without the GIL: callers hold none) while
    /// the next queue is full.
    pub(crate) fn emit(
        &self,
        out: &mut Emitter<'_, Batch>,
        entries: Batch,
    ) -> Result<(), BoxError> {
        if entries.is_empty() {
            return Ok(());
        }
        if let Some(count) = &self.count {
            count.fetch_add(entries.len() as u64, Ordering::Relaxed);
        }
        if self.split {
            for entry in entries {
                out.emit(vec![entry])?;
            }
        } else {
            out.emit(entries)?;
        }
        Ok(())
    }
}
