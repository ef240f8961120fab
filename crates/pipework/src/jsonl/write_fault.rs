//! Faults planted in the appender, for the tests that check that a failing
//! disk ends a run with an error instead of a hang.

use std::fs::File;
use std::io::Write;

/// Where the appender's file I/O fails, and with which OS error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteFault {
    /// Bytes of the destination this run may append before a write fails;
    /// the failing write still appends the bytes up to this point, as a full
    /// disk does.
    pub(crate) after_bytes: u64,
    /// Fail the final `fsync` instead (writes succeed).
    pub(crate) on_sync: bool,
    /// The OS error (`libc::ENOSPC`, `libc::EIO`, ...).
    pub(crate) errno: i32,
}

impl WriteFault {
    /// Called before `bytes` are appended to `file`, `written` being what
    /// this run appended before: if the fault strikes within `bytes`, appends
    /// the part before it and fails; otherwise does nothing.
    pub(crate) fn before_write(
        &self,
        file: &mut File,
        written: u64,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        if self.on_sync || written + bytes.len() as u64 <= self.after_bytes {
            return Ok(());
        }
        let room = self.after_bytes.saturating_sub(written) as usize;
        file.write_all(&bytes[..room.min(bytes.len())])?;
        Err(std::io::Error::from_raw_os_error(self.errno))
    }

    /// Syncs `file` unless the fault is on syncing.
    pub(crate) fn sync(&self, file: &File) -> std::io::Result<()> {
        if self.on_sync {
            return Err(std::io::Error::from_raw_os_error(self.errno));
        }
        file.sync_all()
    }
}
