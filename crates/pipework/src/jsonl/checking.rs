//! Progress while a resume checks what an earlier run left, before any
//! source row is placed.
//!
//! Checking a destination of gigabytes takes seconds, and a run that shows
//! nothing meanwhile looks hung, so the progress callback hears how far the
//! check is, every few megabytes, in [`Report::checking`].

use super::error::Error;
use super::options::Common;
use super::report::Report;

/// Bytes checked between two calls of the progress callback.
const EVERY: u64 = 4 << 20;

/// How far the check of an existing destination has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checking {
    /// Bytes checked so far.
    pub bytes_read: u64,
    /// Bytes to check: the destination's size (for
    /// [`flatmap_by_key`](super::flatmap_by_key), its done log's).
    pub bytes_total: u64,
}

/// Tells the progress callback how far a check is, every [`EVERY`] bytes.
#[derive(Debug)]
pub(crate) struct CheckProgress<'a> {
    common: &'a Common,
    report: Report,
    next: u64,
}

impl<'a> CheckProgress<'a> {
    /// Starts checking `bytes_total` bytes, and says so.
    pub(crate) fn start(common: &'a Common, bytes_total: u64) -> Result<Self, Error> {
        let report = Report {
            checking: Some(Checking {
                bytes_read: 0,
                bytes_total,
            }),
            ..Report::default()
        };
        common.progress(&report)?;
        Ok(CheckProgress {
            common,
            report,
            next: EVERY,
        })
    }

    /// The counts of the check (`create_or_resume` counts rows as it checks).
    pub(crate) fn report(&mut self) -> &mut Report {
        &mut self.report
    }

    /// Records that `bytes_read` bytes are checked.
    pub(crate) fn at(&mut self, bytes_read: u64) -> Result<(), Error> {
        if bytes_read < self.next {
            return Ok(());
        }
        self.next = bytes_read + EVERY;
        if let Some(checking) = &mut self.report.checking {
            checking.bytes_read = bytes_read;
        }
        self.common.progress(&self.report)
    }

    /// Says the check is complete and gives back its counts, with `checking` unset.
    pub(crate) fn finish(mut self) -> Result<Report, Error> {
        if let Some(checking) = &mut self.report.checking {
            checking.bytes_read = checking.bytes_total;
        }
        self.common.progress(&self.report)?;
        self.report.checking = None;
        Ok(self.report)
    }
}
