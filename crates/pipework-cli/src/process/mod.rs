//! Running CMD for one unit of work: argv (never a shell), JSON on stdin,
//! stdout collected, the tail of stderr kept for error messages — and the
//! promise that **nothing a run starts outlives it**.
//!
//! Each call's command leads its own process group, and the group is the
//! unit every kill acts on: `--timeout`, the second interrupt, a call
//! dropped because the run stopped on an error. What is left of a group
//! when its leader exits is ended too (`converse.rs` has the two phases of
//! a call), so a background child holding stdout open neither stalls its
//! key nor outlives it. Commands are forked from one long-lived thread with
//! a parent-death signal (`spawner.rs`), so a `kill -9` of pipework takes
//! the commands it was running with it; groups are signalled only while
//! their leader is unreaped, so a pid reused by the system is never hit
//! (`group.rs`).
//!
//! Not covered: a process that moved to a new session or group (`setsid`,
//! a daemon) is no longer in the group; and after a `kill -9` of pipework,
//! its commands' own children (the death signal reaches only the leader).

mod converse;
mod group;
mod resolve;
mod spawner;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use converse::{converse, Limits};
use spawner::Spawner;

/// A failed run of CMD, with what it said on stderr.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// CMD could not be started (the message names it and the likely cause).
    Spawn(String),
    /// Talking to CMD failed.
    Io(std::io::Error),
    /// CMD exited unsuccessfully.
    Exit { status: ExitStatus, stderr: String },
    /// CMD ran past `--timeout` and its group was killed.
    Timeout { after: Duration, stderr: String },
    /// CMD's group was killed by a second interrupt (or the call was
    /// dropped).
    Killed,
    /// CMD exited successfully but printed the wrong thing.
    Output { problem: String, stderr: String },
    /// CMD was not started: the run is stopping (a signal, or a spent
    /// `--max-failures` budget).
    NotStarted,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Spawn(why) => f.write_str(why),
            CommandError::Io(e) => write!(f, "talking to the command failed: {e}"),
            CommandError::Exit { status, stderr } => {
                write!(f, "the command failed ({status})")?;
                tail(f, stderr)
            }
            CommandError::Timeout { after, stderr } => {
                write!(
                    f,
                    "the command timed out after {}s and was killed",
                    after.as_secs_f64()
                )?;
                tail(f, stderr)
            }
            CommandError::Killed => write!(f, "the command was killed (interrupted)"),
            CommandError::NotStarted => write!(f, "not started: the run is stopping"),
            CommandError::Output { problem, stderr } => {
                write!(f, "the command {problem}")?;
                tail(f, stderr)
            }
        }
    }
}

fn tail(f: &mut fmt::Formatter<'_>, stderr: &str) -> fmt::Result {
    if stderr.is_empty() {
        Ok(())
    } else {
        write!(f, "; its stderr ends with: {stderr}")
    }
}

impl std::error::Error for CommandError {}

/// What CMD printed, and the tail of its stderr.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

/// CMD with its arguments, ready to run many times; clones share the
/// spawning thread and the set of running calls.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    program: Arc<PathBuf>,
    args: Arc<Vec<OsString>>,
    timeout: Option<Duration>,
    kill: CancellationToken,
    spawner: Arc<Spawner>,
    /// Every call's task, until its group is gone.
    calls: TaskTracker,
}

impl Runner {
    /// Resolves CMD (a path, or a name looked up in `PATH`) so that a missing
    /// command is reported before any work starts, and starts the thread
    /// that forks commands. `kill` cancelled kills every running call.
    pub(crate) fn new(
        cmd: &[OsString],
        timeout: Option<Duration>,
        kill: CancellationToken,
    ) -> anyhow::Result<Runner> {
        let Some((program, args)) = cmd.split_first() else {
            anyhow::bail!("no command given after `--`");
        };
        let program = resolve::resolve(Path::new(program))?;
        Ok(Runner {
            program: Arc::new(program),
            args: Arc::new(args.to_vec()),
            timeout,
            kill,
            spawner: Arc::new(Spawner::start()?),
            calls: TaskTracker::new(),
        })
    }

    /// CMD as it runs, program and arguments, for the logs.
    pub(crate) fn command_line(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|part| {
                let part = part.to_string_lossy();
                // Quoted only where a reader could not tell the parts apart.
                if part.is_empty() || part.contains(|c: char| c.is_whitespace() || c == '"') {
                    format!("{part:?}")
                } else {
                    part.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs CMD once with `input` on stdin and returns what it printed once
    /// its whole group is gone.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills CMD's group (SIGTERM, SIGKILL after
    /// [`KILL_GRACE`](converse::KILL_GRACE)) in the background; [`Runner::shutdown`] waits for it.
    pub(crate) async fn run(&self, input: Vec<u8>) -> Result<Output, CommandError> {
        let mut command = std::process::Command::new(&*self.program);
        command.args(&*self.args);
        let dropped = CancellationToken::new();
        let limits = Limits {
            timeout: self.timeout,
            kill: self.kill.clone(),
            dropped: dropped.clone(),
        };
        let spawner = Arc::clone(&self.spawner);
        let call = self
            .calls
            .spawn(async move { converse(&spawner, command, input, limits).await });
        // Cancels `dropped` if this future is dropped before the answer.
        let _dropped = dropped.drop_guard();
        match call.await {
            Ok(answer) => answer,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Cancelled only by the runtime shutting down, which drops the
            // group (killing it) with the task.
            Err(_) => Err(CommandError::Killed),
        }
    }

    /// Waits until every call's group is gone: those still talking end on
    /// their own, by `--timeout` or by the `kill` token; those whose call was
    /// dropped within [`KILL_GRACE`](converse::KILL_GRACE) or so.
    pub(crate) async fn shutdown(&self) {
        self.calls.close();
        self.calls.wait().await;
    }
}
