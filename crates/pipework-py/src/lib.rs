//! `pipework._native`: the Rust half of the `pipework` Python package.
//!
//! The Python modules (`pipework.abstractions`, `pipework.paipa`,
//! `pipework.asyncio_buffered_pipeline`) keep the seed libraries' names and
//! signatures; this extension holds the parts that do the work:
//!
//! - `dumps`: a row rendered exactly as Python's `json.dumps` renders it
//!   with its defaults, so files move between abstractions and pipework
//!   byte for byte;
//! - `JsonlReader` (`reader.rs`): a JSONL file read row by row into
//!   Python objects, errors naming file and line, a torn last line cut off;
//! - `Appender` (`appender.rs`): a destination locked against a
//!   second writer, whole lines appended with the GIL released, synced on
//!   close;
//! - `ThreadedRun` (`threaded.rs`): a paipa pipeline on
//!   `pipework::pipeline`, the GIL released around every queue wait.

mod appender;
mod dumps;
mod loads;
mod reader;
mod threaded;

use pyo3::prelude::*;

/// The extension module, imported as `pipework._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dumps::dumps, m)?)?;
    m.add_function(wrap_pyfunction!(loads::loads, m)?)?;
    m.add_class::<reader::JsonlReader>()?;
    m.add_class::<appender::Appender>()?;
    m.add_class::<threaded::ThreadedRun>()?;
    Ok(())
}
