//! What flows through a paipa pipeline.

use std::sync::Arc;

use pyo3::prelude::*;

/// One entry: a regular item or a meta item (paipa's `put_meta`, handed to
/// `process_meta` and passed on by iterator steps).
///
/// The object is shared so an item can be cloned for a retry without the
/// GIL; the last clone dropped without the GIL is released by PyO3's
/// reference pool the next time a thread takes it.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    /// An item for `process`.
    Regular(Arc<Py<PyAny>>),
    /// An item for `process_meta`.
    Meta(Arc<Py<PyAny>>),
}

impl Item {
    /// The same kind of item around `value`.
    pub(crate) fn like(&self, value: Py<PyAny>) -> Item {
        match self {
            Item::Regular(_) => Item::Regular(Arc::new(value)),
            Item::Meta(_) => Item::Meta(Arc::new(value)),
        }
    }
}
