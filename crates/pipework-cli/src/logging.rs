//! Logs on stderr, for seeing what each call does: off unless asked for,
//! so that the default output (the progress and the summary) is unchanged.
//!
//! `-v` logs pipework's debug events: each key's start with its command
//! line, its end with exit status (or signal) and duration, every retry
//! with its wait, every wait for a `--rate` turn. `-vv` adds trace events.
//! `RUST_LOG` (an `EnvFilter`, e.g. `RUST_LOG=pipework=debug`) overrides
//! both. `--log-format json` writes one JSON object a line. Logs never go
//! to stdout or DST.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::args::{LogArgs, LogFormat};

/// Starts the subscriber `args` and `RUST_LOG` ask for, if any.
pub(crate) fn init(args: &LogArgs) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::new(spec),
        _ => match args.verbose {
            0 => return,
            1 => EnvFilter::new("pipework=debug"),
            _ => EnvFilter::new("pipework=trace"),
        },
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second subscriber cannot be set; there is only ever this one.
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
