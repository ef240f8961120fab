//! A Python exception carried through the Rust pipeline as an error.

use std::fmt;

use pyo3::prelude::*;

/// A user function's exception, kept whole (type, value, traceback) so the
/// caller of `run` gets the exception itself.
///
/// Its text is taken when it is made, with the GIL held, so that showing
/// it later never needs the GIL.
pub(crate) struct PyFailure {
    pub(crate) error: PyErr,
    message: String,
}

impl PyFailure {
    /// Wraps `error`, caught while holding the GIL.
    pub(crate) fn new(py: Python<'_>, error: PyErr) -> PyFailure {
        let name = error
            .get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "Exception".to_owned());
        let message = format!("{name}: {}", error.value(py));
        PyFailure { error, message }
    }
}

impl fmt::Debug for PyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for PyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PyFailure {}
