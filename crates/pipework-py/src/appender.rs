//! A destination file owned by one run: locked, appended to line by line,
//! synced on close.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyBlockingIOError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyAny;

use crate::dumps::write_value;

/// Appends rows to a JSONL destination, one whole line per row.
///
/// Opening takes an exclusive advisory lock on `DST.lock` (the file
/// pipework's Rust engine and CLI lock, so a Python run and a CLI run of
/// one destination exclude each other), holding the process id; a second
/// writer gets `BlockingIOError` at once. The kernel drops the lock when a
/// process dies, so a killed run never leaves a stale one.
///
/// `write_rows` renders every row as `json.dumps` would and hands them to
/// the OS in one `write` with the GIL released: a finished row waits in no
/// user-space buffer, so a killed process loses none. `close` syncs the
/// file, then releases and removes the lock.
#[pyclass(module = "pipework._native", unsendable)]
pub(crate) struct Appender {
    path: PathBuf,
    lock_path: PathBuf,
    open: Option<(File, File)>,
}

#[pymethods]
impl Appender {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let (lock, file) = py.detach(|| open_locked(&path, &lock_path))?;
        Ok(Appender {
            path,
            lock_path,
            open: Some((lock, file)),
        })
    }

    /// Appends each row of `rows` as a line.
    fn write_rows(&mut self, py: Python<'_>, rows: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut text = String::new();
        for row in rows.try_iter()? {
            write_value(&mut text, &row?, 0)?;
            text.push('\n');
        }
        self.write_text(py, text)
    }

    /// Appends one row as a line.
    fn write_row(&mut self, py: Python<'_>, row: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut text = String::new();
        write_value(&mut text, row, 0)?;
        text.push('\n');
        self.write_text(py, text)
    }

    /// The destination's length in bytes: where the next row will start.
    fn tell(&self, py: Python<'_>) -> PyResult<u64> {
        let (_, file) = self.open.as_ref().ok_or_else(closed)?;
        py.detach(|| file.metadata().map(|m| m.len()))
            .map_err(|e| os_error(&self.path, e))
    }

    /// Cuts the destination to `length` bytes (rows past a flatmap's last
    /// finished key belong to no key and are written again).
    fn truncate(&mut self, py: Python<'_>, length: u64) -> PyResult<()> {
        let (_, file) = self.open.as_ref().ok_or_else(closed)?;
        py.detach(|| file.set_len(length))
            .map_err(|e| os_error(&self.path, e))
    }

    /// Syncs the file and releases the lock; later writes raise `ValueError`.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some((lock, file)) = self.open.take() else {
            return Ok(());
        };
        let path = &self.path;
        py.detach(|| file.sync_all())
            .map_err(|e| os_error(path, e))?;
        // Removed while still locked, so a run waiting for it never takes
        // a lock on a file that is about to disappear.
        let _ = std::fs::remove_file(&self.lock_path);
        drop(lock);
        Ok(())
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(
        &mut self,
        py: Python<'_>,
        _args: &Bound<'_, pyo3::types::PyTuple>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

impl Appender {
    fn write_text(&mut self, py: Python<'_>, text: String) -> PyResult<()> {
        let (_, file) = self.open.as_mut().ok_or_else(closed)?;
        let path = &self.path;
        py.detach(|| file.write_all(text.as_bytes()))
            .map_err(|e| os_error(path, e))
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        if let Some((lock, file)) = self.open.take() {
            // Nobody is left to hear a sync error here; the rows were
            // handed to the OS already, so only power loss could lose them.
            let _ = file.sync_all();
            let _ = std::fs::remove_file(&self.lock_path);
            drop(lock);
        }
    }
}

fn closed() -> PyErr {
    PyValueError::new_err("the destination is closed")
}

fn os_error(path: &Path, e: std::io::Error) -> PyErr {
    PyOSError::new_err(format!("{}: {e}", path.display()))
}

fn open_locked(path: &Path, lock_path: &Path) -> PyResult<(File, File)> {
    let in_use = || {
        PyBlockingIOError::new_err(format!(
            "{} is in use by another run (locked: {})",
            path.display(),
            lock_path.display()
        ))
    };
    let mut lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)
        .map_err(|e| os_error(lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(in_use()),
        Err(TryLockError::Error(e)) => return Err(os_error(lock_path, e)),
    }
    // The engine also locks the destination's inode, so that a run that
    // reaches it by another name (a symlink, a hard link) is refused too.
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| os_error(path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(in_use()),
        Err(TryLockError::Error(e)) => return Err(os_error(path, e)),
    }
    lock.set_len(0).map_err(|e| os_error(lock_path, e))?;
    writeln!(lock, "{}", std::process::id()).map_err(|e| os_error(lock_path, e))?;
    Ok((lock, file))
}
