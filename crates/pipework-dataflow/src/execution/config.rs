//! Where a dataflow runs: how many worker threads, how many processes, and
//! how often epochs close.

use std::time::Duration;

use super::ConfigError;
use crate::recovery::RecoveryConfig;

/// The default epoch interval, as in bytewax.
pub const DEFAULT_EPOCH_INTERVAL: Duration = Duration::from_secs(10);

/// How long a cluster process waits for the others to connect by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// The processes of a cluster and which one this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    process_id: usize,
    addresses: Vec<String>,
}

impl Cluster {
    /// This process's id (its index in [`addresses`](Self::addresses)).
    pub fn process_id(&self) -> usize {
        self.process_id
    }

    /// The `host:port` of every process, in process-id order.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }
}

/// An execution layout: one worker in the calling thread, N worker threads,
/// or M processes × N threads talking over TCP.
///
/// The total worker count is `workers_per_process × processes`; worker `w` of
/// process `p` has the global index `p × workers_per_process + w`.
///
/// # Examples
///
/// ```
/// use pipework_dataflow::ExecutionConfig;
///
/// assert_eq!(ExecutionConfig::single().worker_count(), 1);
/// assert_eq!(ExecutionConfig::threads(4)?.worker_count(), 4);
/// let cluster = ExecutionConfig::cluster(2, 1, "127.0.0.1:7001;127.0.0.1:7002")?;
/// assert_eq!(cluster.worker_count(), 4);
/// assert!(ExecutionConfig::cluster(1, 2, "127.0.0.1:7001;127.0.0.1:7002").is_err());
/// # Ok::<(), pipework_dataflow::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionConfig {
    workers_per_process: usize,
    cluster: Option<Cluster>,
    epoch_interval: Duration,
    connect_timeout: Duration,
    recovery: Option<RecoveryConfig>,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self::single()
    }
}

impl ExecutionConfig {
    /// One worker, run in the calling thread.
    pub fn single() -> Self {
        ExecutionConfig {
            workers_per_process: 1,
            cluster: None,
            epoch_interval: DEFAULT_EPOCH_INTERVAL,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            recovery: None,
        }
    }

    /// `workers` worker threads in this process (1 runs in the calling thread).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroWorkers`] for 0.
    pub fn threads(workers: usize) -> Result<Self, ConfigError> {
        if workers == 0 {
            return Err(ConfigError::ZeroWorkers);
        }
        Ok(ExecutionConfig {
            workers_per_process: workers,
            ..Self::single()
        })
    }

    /// Process `process_id` of a cluster whose processes listen on
    /// `addresses`, separated by `;` (`"host:port;host:port"`), each with
    /// `workers_per_process` worker threads. Every process must be started
    /// with the same addresses and worker count.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroWorkers`], [`ConfigError::NoAddresses`],
    /// [`ConfigError::MalformedAddress`] for an entry that is not
    /// `host:port` with a numeric port, and
    /// [`ConfigError::ProcessIdOutOfRange`].
    pub fn cluster(
        workers_per_process: usize,
        process_id: usize,
        addresses: &str,
    ) -> Result<Self, ConfigError> {
        if workers_per_process == 0 {
            return Err(ConfigError::ZeroWorkers);
        }
        let addresses = parse_addresses(addresses)?;
        if process_id >= addresses.len() {
            return Err(ConfigError::ProcessIdOutOfRange {
                process_id,
                processes: addresses.len(),
            });
        }
        Ok(ExecutionConfig {
            workers_per_process,
            cluster: Some(Cluster {
                process_id,
                addresses,
            }),
            ..Self::single()
        })
    }

    /// Sets how often input steps close an epoch (default 10 s). Each epoch
    /// is one timely timestamp; a recovery layer snapshots at epoch close.
    /// Zero closes an epoch at every activation of an input.
    pub fn epoch_interval(mut self, interval: Duration) -> Self {
        self.epoch_interval = interval;
        self
    }

    /// Sets how long a cluster process waits for the others to be reachable
    /// and to connect (default 60 s); then [`run`](crate::run) fails with
    /// [`RunError::Connect`](crate::RunError::Connect).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Turns on recovery: snapshots are committed to the partition files of
    /// `recovery`'s directory at every epoch, and the run resumes from the
    /// last epoch they all committed (see [`recovery`](crate::recovery)).
    /// The epoch interval is then the snapshot interval.
    pub fn recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.recovery = Some(recovery);
        self
    }

    /// The recovery settings, when recovery is on.
    pub fn get_recovery(&self) -> Option<&RecoveryConfig> {
        self.recovery.as_ref()
    }

    /// The connect timeout.
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The epoch interval.
    pub fn get_epoch_interval(&self) -> Duration {
        self.epoch_interval
    }

    /// Worker threads in this process.
    pub fn workers_per_process(&self) -> usize {
        self.workers_per_process
    }

    /// The cluster, when this is one process of several.
    pub fn get_cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// The number of processes (1 unless a cluster).
    pub fn processes(&self) -> usize {
        self.cluster
            .as_ref()
            .map_or(1, |cluster| cluster.addresses.len())
    }

    /// The total number of workers across all processes.
    pub fn worker_count(&self) -> usize {
        self.workers_per_process * self.processes()
    }
}

/// Splits and checks a `;`-separated list of `host:port`.
fn parse_addresses(addresses: &str) -> Result<Vec<String>, ConfigError> {
    let list: Vec<String> = addresses
        .split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect();
    if list.is_empty() {
        return Err(ConfigError::NoAddresses);
    }
    for address in &list {
        let malformed = |reason: &str| ConfigError::MalformedAddress {
            address: address.clone(),
            reason: reason.to_owned(),
        };
        let Some((host, port)) = address.rsplit_once(':') else {
            return Err(malformed("expected host:port"));
        };
        if host.is_empty() {
            return Err(malformed("the host is empty"));
        }
        if host.contains(char::is_whitespace) {
            return Err(malformed("the host contains whitespace"));
        }
        if port.parse::<u16>().is_err() {
            return Err(malformed("the port is not a number from 0 to 65535"));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_split_on_semicolons_and_trimmed() {
        let list = parse_addresses(" a:1 ; b:2;").unwrap_or_default();
        assert_eq!(list, vec!["a:1", "b:2"]);
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in ["localhost", ":80", "host:port", "host:70000", "my host:1"] {
            assert!(
                matches!(
                    parse_addresses(bad),
                    Err(ConfigError::MalformedAddress { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_addresses(" ; "),
            Err(ConfigError::NoAddresses)
        ));
    }
}
