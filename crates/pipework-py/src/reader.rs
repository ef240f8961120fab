//! A JSONL file read row by row into Python objects.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::loads::parse;

/// Reads a JSONL file one row at a time: iterating yields
/// `(line_number, value)` with lines counted from 1.
///
/// With `repair=True` (for a destination being resumed) a torn last line
/// is cut off the file first: one without its newline, or one that is not
/// valid JSON. A killed writer leaves such a line; cutting it loses at most
/// that row, which the resumed run computes again. `repaired` then holds
/// a description of what was cut, for the caller to report.
///
/// Invalid JSON on any other line raises `ValueError` naming the file and
/// the line.
#[pyclass(module = "pipework._native", unsendable)]
pub(crate) struct JsonlReader {
    path: PathBuf,
    lines: BufReader<File>,
    line: u64,
    buf: Vec<u8>,
    repaired: Option<String>,
}

#[pymethods]
impl JsonlReader {
    #[new]
    #[pyo3(signature = (path, repair = false))]
    fn new(py: Python<'_>, path: PathBuf, repair: bool) -> PyResult<Self> {
        let repaired = if repair {
            py.detach(|| cut_torn_tail(&path))
                .map_err(|e| os_error(&path, e))?
        } else {
            None
        };
        let file = File::open(&path).map_err(|e| os_error(&path, e))?;
        Ok(JsonlReader {
            path,
            lines: BufReader::with_capacity(1 << 16, file),
            line: 0,
            buf: Vec::new(),
            repaired,
        })
    }

    /// What `repair=True` cut off the file, or `None`.
    #[getter]
    fn repaired(&self) -> Option<String> {
        self.repaired.clone()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<(u64, Py<PyAny>)>> {
        self.buf.clear();
        let n = self
            .lines
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| os_error(&self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let value = parse(py, &self.buf).map_err(|e| {
            PyValueError::new_err(format!(
                "{}:{}: invalid JSON: {e}",
                self.path.display(),
                self.line
            ))
        })?;
        Ok(Some((self.line, value)))
    }
}

fn os_error(path: &std::path::Path, e: std::io::Error) -> PyErr {
    PyOSError::new_err(format!("{}: {e}", path.display()))
}

/// Cuts a torn last line off `path`; says what it cut.
fn cut_torn_tail(path: &std::path::Path) -> std::io::Result<Option<String>> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    // The last line is what follows the last newline but one; read back
    // from the end in blocks until it is found.
    let tail = read_last_line(&mut file, len)?;
    let (start, line) = tail;
    let ends_with_newline = line.last() == Some(&b'\n');
    let torn =
        !ends_with_newline || serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_err();
    if !torn {
        return Ok(None);
    }
    file.set_len(start)?;
    file.sync_all()?;
    let what = if ends_with_newline {
        "not valid JSON"
    } else {
        "no newline"
    };
    Ok(Some(format!(
        "{}: cut off a torn last line ({} bytes, {what})",
        path.display(),
        len - start
    )))
}

/// The offset and bytes of the file's last line (with its newline, if any).
fn read_last_line(file: &mut File, len: u64) -> std::io::Result<(u64, Vec<u8>)> {
    let mut block = 4096u64;
    loop {
        let from = len.saturating_sub(block);
        file.seek(SeekFrom::Start(from))?;
        let mut bytes = Vec::with_capacity((len - from) as usize);
        file.by_ref().take(len - from).read_to_end(&mut bytes)?;
        // Skip the final newline: the line it ends is the one wanted.
        let body = match bytes.last() {
            Some(b'\n') => &bytes[..bytes.len() - 1],
            _ => &bytes[..],
        };
        if let Some(i) = body.iter().rposition(|b| *b == b'\n') {
            let start = from + i as u64 + 1;
            return Ok((start, bytes[i + 1..].to_vec()));
        }
        if from == 0 {
            return Ok((0, bytes));
        }
        block = block.saturating_mul(4);
    }
}
