//! Printing a report on stdout, where a reader that stops early is normal.
//!
//! `pipework man | head`, `pipework completions bash | grep -q timeout`,
//! `pipework status DST | head -1`: the reader closes the pipe as soon as
//! it has what it wants. Like `cat`, `rg` and `jq` (whose SIGPIPE would end
//! them silently), that is a success, not an I/O error and never a panic —
//! `print!` panics on a closed stdout, and so does `clap_complete::generate`.

use std::io::{self, Write};

use anyhow::Context;

/// Writes `bytes` to stdout and flushes; a reader that closed the pipe
/// ends the write quietly. `what` names the report in any other error.
pub(crate) fn print(bytes: &[u8], what: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.with_context(|| format!("writing {what} to stdout")),
    }
}
