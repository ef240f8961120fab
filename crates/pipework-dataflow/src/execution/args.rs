//! The command-line options every dataflow binary shares.

use std::time::Duration;

use clap::{Args, Parser};

use super::{ConfigError, ExecutionConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EPOCH_INTERVAL};

/// bytewax's scaling options, for any binary's `clap` parser:
/// `-w/--workers-per-process`, `-i/--process-id`, `-a/--addresses`,
/// `--epoch-interval` and `--connect-timeout`, each also read from the
/// environment (`PIPEWORK_WORKERS_PER_PROCESS`, `PIPEWORK_PROCESS_ID`,
/// `PIPEWORK_ADDRESSES`, `PIPEWORK_EPOCH_INTERVAL`, `PIPEWORK_CONNECT_TIMEOUT`).
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
}

impl Default for ExecutionArgs {
    fn default() -> Self {
        ExecutionArgs {
            workers_per_process: 1,
            process_id: None,
            addresses: None,
            epoch_interval: DEFAULT_EPOCH_INTERVAL,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
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
        Ok(config
            .epoch_interval(self.epoch_interval)
            .connect_timeout(self.connect_timeout))
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
