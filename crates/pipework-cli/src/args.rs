//! Command-line arguments.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::budget::MaxFailures;
use crate::rate::Rate;

/// Run a command once per key of a JSONL file, write the results to another
/// JSONL file, and resume where it stopped when run again.
#[derive(Debug, Parser)]
#[command(name = "pipework", version = VERSION, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) log: LogArgs,
}

/// The version, and the commit it was built from where the build knew it
/// (set by `build.rs`).
const VERSION: &str = env!("PIPEWORK_VERSION");

/// Logging, for every subcommand.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Log what each call does on stderr: -v for each key's start, command
    /// line, exit status and duration, retries and rate-limit waits; -vv
    /// for more. `RUST_LOG` (e.g. `RUST_LOG=pipework=debug`) overrides it.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// How log lines are written: text, or one JSON object a line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub(crate) log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, for log shippers.
    Json,
}

/// What every run promises, at the end of `--help`.
pub(crate) const AFTER_HELP: &str = "\
Exit codes: 0 every row written; 1 some keys failed or rows were skipped \
under --on-error skip, or --max-failures stopped the run; 2 a usage or \
input error (or a failed key under --on-error raise); 3 DST is in use by \
another run; 4 an I/O error (a full disk, a failing fsync); 128 + the \
signal when a signal stopped the run (130 Ctrl-C, 143 SIGTERM, 129 \
SIGHUP): DST is synced, rerun to resume.

Signals: the first Ctrl-C, SIGTERM or SIGHUP starts no new command and \
lets the running ones finish; the second kills them.

Processes: each command leads its own process group, and a kill (--timeout, \
a second signal, a failed write) sends the whole group SIGTERM, then SIGKILL \
2 s later. A key ends when its command exits: what it left running in the \
background is ended the same way. On Linux, commands die with a kill -9'd \
pipework.";

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run CMD once per distinct key of SRC; write one row per SRC row to DST:
    /// the kept columns, the key, and the fields of CMD's JSON object.
    #[command(after_help = AFTER_HELP)]
    Map(MapArgs),
    /// Run CMD once per key of SRC (keys must be unique); write each object
    /// CMD prints (a JSON array or JSONL) as a row of DST, with the kept
    /// columns and the key. The done keys are recorded in DST.done.
    #[command(after_help = AFTER_HELP)]
    Flatmap(MapArgs),
    /// Make DST hold exactly --count rows per key listed in --keys, running
    /// CMD with {COL: key, "index": i} for each missing row.
    #[command(after_help = AFTER_HELP)]
    Generate(GenerateArgs),
    /// Show how far DST is (rows and keys done and left, the last run's
    /// failures) without running or writing anything: `status SRC DST
    /// --key COL` for map and flatmap, `status DST --key COL --keys FILE
    /// --count N` for generate. Exit 0 if DST is complete, 1 if not.
    Status(StatusArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or
    /// powershell (see the README for where to put it).
    Completions(CompletionsArgs),
    /// Write the man pages: `pipework.1` to stdout, or with --dir a page
    /// for every subcommand into DIR.
    Man(ManArgs),
    /// Manage the recovery directory of a pipework dataflow (`-r DIR`).
    #[command(subcommand)]
    Recovery(RecoveryCommand),
}

/// `pipework recovery …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RecoveryCommand {
    /// Create DIR (and its parents) with N empty SQLite partition files, for
    /// a dataflow run with `-r DIR`. An initialised DIR is left untouched.
    Init(RecoveryInitArgs),
}

/// Arguments of `recovery init`.
#[derive(Debug, Args)]
pub(crate) struct RecoveryInitArgs {
    /// The recovery directory to create.
    pub(crate) dir: PathBuf,
    /// How many partition files; fixed for the life of the directory,
    /// whatever the worker count of each run.
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PARTS)))]
    pub(crate) parts: u32,
}

/// Arguments of `map` and `flatmap`.
#[derive(Debug, Args)]
pub(crate) struct MapArgs {
    /// The source JSONL file.
    pub(crate) src: PathBuf,
    /// The destination JSONL file (created, or resumed if it exists).
    pub(crate) dst: PathBuf,
    /// The key column: rows with the same value share one run of CMD.
    /// Numbers are equal by exact value (1, 1.0 and 1e0 are one key; -0 is
    /// 0); a string never equals a number ("10" is not 10).
    #[arg(long, value_name = "COL")]
    pub(crate) key: String,
    /// A source column to copy to every output row (repeatable).
    #[arg(long = "keep", value_name = "COL")]
    pub(crate) keep: Vec<String>,
    /// Resume although CMD is not the command DST was begun with (DST's
    /// manifest records it): the rows already there keep the old command's
    /// answers, and the keys not answered yet get the new one's.
    #[arg(long)]
    pub(crate) accept_new_command: bool,
    /// Rewrite DST to exactly what a fresh run over SRC as it is now would
    /// write, reusing every answer DST holds: for a SRC edited other than
    /// by appending rows, DST rows that stand for no SRC row, or a new set
    /// of --keep columns. The new DST is written beside the old one and
    /// renamed over it. map only.
    #[arg(long)]
    pub(crate) reconcile: bool,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write `pipework.1` and `pipework-SUBCOMMAND.1` pages here.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// SRC and DST (map, flatmap), or DST alone with --keys (generate).
    #[arg(value_name = "[SRC] DST", num_args = 1..=2, required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// The key column.
    #[arg(long, value_name = "COL")]
    pub(crate) key: String,
    /// For a DST made by generate: its keys file.
    #[arg(long, value_name = "FILE", requires = "count")]
    pub(crate) keys: Option<PathBuf>,
    /// For a DST made by generate: the rows each key must have.
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,
}

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// The JSONL file to create or complete.
    pub(crate) dst: PathBuf,
    /// The key column of every row.
    #[arg(long, value_name = "COL")]
    pub(crate) key: String,
    /// How many rows each key must have.
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(0..=MAX_COUNT))]
    pub(crate) count: i64,
    /// A text file with one key per line, each a string exactly as written
    /// (only the line ending is removed); blank lines are ignored.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: PathBuf,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// How CMD is run.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// How many CMDs run at once [default: the number of cores].
    #[arg(long, short = 'j', value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_JOBS)))]
    pub(crate) jobs: Option<u32>,
    /// What to do when CMD fails for a key or a source row is bad.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Raise)]
    pub(crate) on_error: OnErrorArg,
    /// Kill CMD and count it as failed after this many seconds: its whole
    /// process group gets SIGTERM, then SIGKILL 2 s later.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    /// Try a failed call again up to N times (a non-zero exit, a timeout, a
    /// signal, output that is not what is expected), after a random wait
    /// below a bound that doubles from --retry-delay up to 60 s. A command
    /// that exits 75 with a last stderr line `retry-after: SECS` waits at
    /// least SECS (up to an hour).
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_RETRIES)))]
    pub(crate) retries: u32,
    /// The first retry's wait bound, in seconds.
    #[arg(long, value_name = "SECS", default_value = "1", allow_negative_numbers = true,
          value_parser = parse_retry_delay)]
    pub(crate) retry_delay: Duration,
    /// At most N call starts per second, minute or hour (N/s, N/m, N/h)
    /// across all jobs, retries included, spread evenly.
    #[arg(long, value_name = "N/UNIT", allow_negative_numbers = true, value_parser = Rate::parse)]
    pub(crate) rate: Option<Rate>,
    /// With --on-error skip: stop starting calls once N keys failed, or N%
    /// of the keys tried (judged from 20 on); the run then exits 1.
    #[arg(long, value_name = "N|N%", allow_negative_numbers = true, value_parser = MaxFailures::parse)]
    pub(crate) max_failures: Option<MaxFailures>,
    /// The command to run, and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub(crate) cmd: Vec<OsString>,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnErrorArg {
    /// Stop at the first failure; rows written so far stay.
    Raise,
    /// Report the failure, leave that key's rows out, go on (exit code 1).
    Skip,
}

/// The most commands at once: far more than a machine runs well, and a
/// bound on what the run's tables are sized for.
const MAX_JOBS: u32 = 65_536;

/// The most retries of one call.
const MAX_RETRIES: u32 = 1000;

/// The most partition files a recovery directory is made with.
const MAX_PARTS: u32 = 65_536;

/// The most rows per key `generate` makes (a billion).
const MAX_COUNT: i64 = 1_000_000_000;

/// The longest `--timeout`: a year. Longer cannot be meant, and a deadline
/// must stay representable as an instant.
const MAX_TIMEOUT_SECS: f64 = 365.0 * 24.0 * 3600.0;

fn parse_retry_delay(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.0..=crate::retry::MAX_DELAY.as_secs_f64()).contains(&secs) {
        return Err(format!("{text} is not between 0 and 60 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("{text} is not a positive number of seconds"));
    }
    if secs > MAX_TIMEOUT_SECS {
        return Err(format!(
            "{text} seconds is longer than a year ({MAX_TIMEOUT_SECS} s), the longest timeout"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{text}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_is_a_positive_number_of_seconds_up_to_a_year() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_timeout("31536000"),
            Ok(Duration::from_secs(31_536_000))
        );
        for bad in ["0", "-1", "1e20", "inf", "NaN", "x", "", "31536001"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?}");
        }
    }
}
