//! The command-line options every dataflow binary shares.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};

use super::{ConfigError, ExecutionConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EPOCH_INTERVAL};
use crate::recovery::RecoveryConfig;

/// bytewax's scaling options, for any binary's `clap` parser:
/// `-w/--workers-per-process`, `-i/--process-id`, `-a/--addresses`,
/// `--epoch-interval` and `--connect-timeout`, and the recovery options
/// `-r/--recovery-directory`, `-s/--snapshot-interval` and
/// `-b/--backup-interval`, each also read from the environment
/// (`PIPEWORK_WORKERS_PER_PROCESS`, `PIPEWORK_PROCESS_ID`,
/// `PIPEWORK_ADDRESSES`, `PIPEWORK_EPOCH_INTERVAL`, `PIPEWORK_CONNECT_TIMEOUT`,
/// `PIPEWORK_RECOVERY_DIRECTORY`, `PIPEWORK_SNAPSHOT_INTERVAL`,
/// `PIPEWORK_BACKUP_INTERVAL`).
///
/// With `-r`, the snapshot interval is the epoch interval: `-s` sets it
/// (and wins over `--epoch-interval`).
///
/// Flatten it into your own parser with `#[command(flatten)]`, then call
/// [`to_config`](Self::to_config).
///
/// # Examples
///
/// ```
/// use clap::Parser;
/// use pipework_dataflow::ExecutionArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[arg(long)]
///     input: String,
///     #[command(flatten)]
///     exec: ExecutionArgs,
/// }
///
/// let cli = Cli::parse_from(["app", "--input", "x", "-w", "2"]);
/// assert_eq!(cli.exec.to_config()?.worker_count(), 2);
/// let cli = Cli::parse_from(["app", "--input", "x", "-i", "1", "-a", "h:1;h:2"]);
/// assert_eq!(cli.exec.to_config()?.worker_count(), 2);
/// let cli = Cli::parse_from(["app", "--input", "x", "-r", "/tmp/rec", "-s", "0.5", "-b", "0"]);
/// let config = cli.exec.to_config()?;
/// assert_eq!(config.get_epoch_interval().as_millis(), 500);
/// assert!(config.get_recovery().is_some());
/// # Ok::<(), pipework_dataflow::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ExecutionArgs {
    /// Number of worker threads in each process.
    #[arg(
        short = 'w',
        long = "workers-per-process",
        env = "PIPEWORK_WORKERS_PER_PROCESS",
        default_value_t = 1
    )]
    pub workers_per_process: usize,
    /// This process's id in the cluster, from 0 (requires --addresses).
    #[arg(short = 'i', long = "process-id", env = "PIPEWORK_PROCESS_ID")]
    pub process_id: Option<usize>,
    /// Addresses of all processes, separated by semicolons: "host:port;host:port".
    #[arg(short = 'a', long = "addresses", env = "PIPEWORK_ADDRESSES")]
    pub addresses: Option<String>,
    /// Seconds between epochs (decimals allowed).
    #[arg(long = "epoch-interval", env = "PIPEWORK_EPOCH_INTERVAL", value_parser = parse_seconds, default_value = "10")]
    pub epoch_interval: Duration,
    /// Seconds a cluster process waits for the others to connect.
    #[arg(long = "connect-timeout", env = "PIPEWORK_CONNECT_TIMEOUT", value_parser = parse_seconds, default_value = "60")]
    pub connect_timeout: Duration,
    /// A recovery directory (made by `pipework recovery init`): snapshot
    /// state there and resume from it.
    #[arg(
        short = 'r',
        long = "recovery-directory",
        env = "PIPEWORK_RECOVERY_DIRECTORY"
    )]
    pub recovery_directory: Option<PathBuf>,
    /// Seconds between snapshots, the epoch interval with recovery (decimals allowed).
    #[arg(short = 's', long = "snapshot-interval", env = "PIPEWORK_SNAPSHOT_INTERVAL", value_parser = parse_seconds)]
    pub snapshot_interval: Option<Duration>,
    /// Seconds of older snapshots to keep for delayed backups of the recovery directory.
    #[arg(short = 'b', long = "backup-interval", env = "PIPEWORK_BACKUP_INTERVAL", value_parser = parse_seconds, default_value = "0")]
    pub backup_interval: Duration,
}

impl Default for ExecutionArgs {
    fn default() -> Self {
        ExecutionArgs {
            workers_per_process: 1,
            process_id: None,
            addresses: None,
            epoch_interval: DEFAULT_EPOCH_INTERVAL,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            recovery_directory: None,
            snapshot_interval: None,
            backup_interval: Duration::ZERO,
        }
    }
}

/// A parser with only the execution options, for binaries that have no others.
#[derive(Debug, Parser)]
#[command(about = "Run a pipework dataflow")]
struct ExecutionOnly {
    #[command(flatten)]
    exec: ExecutionArgs,
}

impl ExecutionArgs {
    /// Parses only the execution options from `args` (the first item is the
    /// program name).
    ///
    /// # Errors
    ///
    /// clap's error for unknown or invalid options; print it with `exit()`.
    pub fn try_parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        ExecutionOnly::try_parse_from(args).map(|parsed| parsed.exec)
    }

    /// The layout these options describe.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingAddresses`] / [`ConfigError::MissingProcessId`]
    /// when only one of `-i` and `-a` is given, and the errors of
    /// [`ExecutionConfig::cluster`] and [`ExecutionConfig::threads`].
    pub fn to_config(&self) -> Result<ExecutionConfig, ConfigError> {
        let config = match (self.process_id, &self.addresses) {
            (Some(process_id), Some(addresses)) => {
                ExecutionConfig::cluster(self.workers_per_process, process_id, addresses)?
            }
            (Some(_), None) => return Err(ConfigError::MissingAddresses),
            (None, Some(_)) => return Err(ConfigError::MissingProcessId),
            (None, None) => ExecutionConfig::threads(self.workers_per_process)?,
        };
        let config = config
            .epoch_interval(self.snapshot_interval.unwrap_or(self.epoch_interval))
            .connect_timeout(self.connect_timeout);
        Ok(match &self.recovery_directory {
            Some(dir) => {
                config.recovery(RecoveryConfig::new(dir).backup_interval(self.backup_interval))
            }
            None => config,
        })
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("`{text}` is not a non-negative number of seconds"))
}
