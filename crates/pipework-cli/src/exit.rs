//! Every exit code of `pipework`, decided here and nowhere else, so that
//! scripts can tell what happened:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every row is written (`status`: DST is complete) |
//! | 1 | some keys failed or rows were skipped under `--on-error skip`, or `--max-failures` stopped the run (`status`: DST is incomplete) |
//! | 2 | a usage or input error: bad options, a missing file, a bad SRC or DST line, a command that cannot start, a key that failed under `--on-error raise` |
//! | 3 | DST is in use by another pipework run: nothing was done; try again when it ends |
//! | 4 | an I/O error: a full disk, a failing `fsync`, a file that exists but cannot be read or written |
//! | 128 + N | stopped by signal N: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (DST synced: rerun to resume) |
//!
//! Clap's own usage errors exit 2 as well.

use std::process::ExitCode;

use pipework::jsonl::Error;

use crate::progress;
use crate::session::Outcome;

/// Every row written.
pub(crate) const COMPLETE: u8 = 0;
/// Some keys failed or rows were skipped; or a failure budget was spent.
pub(crate) const INCOMPLETE: u8 = 1;
/// A usage or input error.
pub(crate) const USAGE_OR_INPUT: u8 = 2;
/// Another run holds DST.
pub(crate) const IN_USE: u8 = 3;
/// An I/O error.
pub(crate) const IO: u8 = 4;

/// The exit code for how a run ended; an error is printed first.
pub(crate) fn exit_code(result: anyhow::Result<Outcome>) -> ExitCode {
    ExitCode::from(match result {
        Ok(Outcome::Complete) => COMPLETE,
        Ok(Outcome::Incomplete) => INCOMPLETE,
        Ok(Outcome::Interrupted(signal)) => signal.exit_code(),
        Err(err) => {
            progress::say(&format!("error: {err:#}"));
            error_code(&err)
        }
    })
}

/// An error whose message was rewritten (to name SRC rather than the spool
/// that held it), keeping the exit code of the error it came from.
#[derive(Debug)]
pub(crate) struct Rewritten {
    code: u8,
    text: String,
}

impl Rewritten {
    /// `err`, its message replaced by `rewrite` of its whole text.
    pub(crate) fn new(err: &anyhow::Error, rewrite: impl FnOnce(&str) -> String) -> Rewritten {
        Rewritten {
            code: error_code(err),
            text: rewrite(&format!("{err:#}")),
        }
    }
}

impl std::fmt::Display for Rewritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Rewritten {}

/// What kind of error `err` is, from the first cause that says.
fn error_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(rewritten) = cause.downcast_ref::<Rewritten>() {
            return rewritten.code;
        }
        if let Some(error) = cause.downcast_ref::<Error>() {
            return match error {
                Error::Locked { .. } => IN_USE,
                Error::Io { cause, .. } => io_code(cause),
                _ => USAGE_OR_INPUT,
            };
        }
        if let Some(error) = cause.downcast_ref::<std::io::Error>() {
            return io_code(error);
        }
    }
    USAGE_OR_INPUT
}

/// A path that names nothing is the user's to fix, like a bad option;
/// every other failure of a read or write is I/O.
fn io_code(error: &std::io::Error) -> u8 {
    if error.kind() == std::io::ErrorKind::NotFound {
        USAGE_OR_INPUT
    } else {
        IO
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn each_kind_of_error_has_its_code() {
        let locked = anyhow::Error::new(Error::Locked {
            path: PathBuf::from("d"),
            pid: Some(1),
        })
        .context("nothing was written to d");
        assert_eq!(error_code(&locked), IN_USE);
        let full = anyhow::Error::new(Error::Io {
            op: "writing",
            path: PathBuf::from("d"),
            cause: std::io::Error::from_raw_os_error(28),
        });
        assert_eq!(error_code(&full), IO);
        let renamed = anyhow::Error::new(Rewritten::new(&full, |text| text.replace('d', "SRC")));
        assert_eq!(
            error_code(&renamed),
            IO,
            "a rewritten message keeps its code"
        );
        let spool = anyhow::Error::new(std::io::Error::other("no room")).context("copying SRC");
        assert_eq!(error_code(&spool), IO);
        let missing = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(
            error_code(&missing),
            USAGE_OR_INPUT,
            "a missing file is the user's to fix"
        );
        let usage = anyhow::anyhow!("no command given after `--`");
        assert_eq!(error_code(&usage), USAGE_OR_INPUT);
        let input = anyhow::Error::new(Error::NotAFile {
            path: PathBuf::from("/dev/full"),
            kind: "a character device",
        });
        assert_eq!(error_code(&input), USAGE_OR_INPUT);
    }
}
