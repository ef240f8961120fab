//! Counters of one run, passed to the progress callback and returned at the end.

use super::checking::Checking;

/// What a run did, counted in source rows, keys and written lines.
///
/// The progress callback receives the counts so far after every source row,
/// and before the first, every few megabytes of a resume's check of the
/// destination (see [`checking`](Report::checking));
/// the functions return the final counts. For
/// [`create_or_resume`](super::create_or_resume) a "source row" is a row of
/// the target file (present or generated) and a key's call is one generated row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Source rows already done by an earlier run (found in the destination).
    pub rows_resumed: u64,
    /// Source rows completed by this run.
    pub rows_written: u64,
    /// Source rows not written because their key's call failed (under `Skip`).
    pub rows_failed: u64,
    /// Source rows skipped as bad input (under `Skip`).
    pub rows_invalid: u64,
    /// Calls of the user function that succeeded.
    pub keys_computed: u64,
    /// Keys whose result was taken from the destination instead of calling the function.
    pub keys_reused: u64,
    /// Calls of the user function that failed (under `Skip`).
    pub keys_failed: u64,
    /// Lines of the destination that a resume skipped as bad input (under
    /// `Skip`): rows it holds that a rerun cannot read, so not complete.
    pub dst_lines_invalid: u64,
    /// Lines appended to the destination.
    pub lines_written: u64,
    /// True if the run ended early because its stop token was cancelled.
    pub stopped: bool,
    /// While a resume checks what an earlier run left, before the first
    /// source row: how far it is. `None` otherwise.
    pub checking: Option<Checking>,
}

impl Report {
    /// Source rows dealt with so far: resumed, written, failed or invalid.
    pub fn rows_done(&self) -> u64 {
        self.rows_resumed + self.rows_written + self.rows_failed + self.rows_invalid
    }

    /// True if every source row is in the destination: nothing failed, no
    /// source row or destination line was skipped as invalid and the run was
    /// not stopped.
    pub fn is_complete(&self) -> bool {
        self.rows_failed == 0
            && self.rows_invalid == 0
            && self.dst_lines_invalid == 0
            && self.keys_failed == 0
            && !self.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every source row is counted once, whatever became of it.
    #[test]
    fn rows_done_adds_up_every_outcome_of_a_row() {
        let report = Report {
            rows_resumed: 1,
            rows_written: 2,
            rows_failed: 4,
            rows_invalid: 8,
            keys_computed: 16,
            keys_reused: 32,
            keys_failed: 64,
            ..Report::default()
        };
        assert_eq!(report.rows_done(), 15);
    }
}
