//! Running CMD for one unit of work: argv (never a shell), JSON on stdin,
//! stdout collected, the tail of stderr kept for error messages.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipework::internal::lock;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// How much of CMD's stderr is kept for an error message.
const STDERR_TAIL: usize = 2048;

/// A failed run of CMD, with what it said on stderr.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// CMD could not be started.
    Spawn(std::io::Error),
    /// Talking to CMD failed.
    Io(std::io::Error),
    /// CMD exited unsuccessfully.
    Exit { status: ExitStatus, stderr: String },
    /// CMD ran past `--timeout` and was killed.
    Timeout { after: Duration, stderr: String },
    /// CMD was killed by a second Ctrl-C.
    Killed,
    /// CMD exited successfully but printed the wrong thing.
    Output { problem: String, stderr: String },
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Spawn(e) => write!(f, "cannot start the command: {e}"),
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

/// CMD with its arguments, ready to run many times.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    program: Arc<PathBuf>,
    args: Arc<Vec<OsString>>,
    timeout: Option<Duration>,
    kill: CancellationToken,
}

impl Runner {
    /// Resolves CMD (a path, or a name looked up in `PATH`) so that a missing
    /// command is reported before any work starts.
    pub(crate) fn new(
        cmd: &[OsString],
        timeout: Option<Duration>,
        kill: CancellationToken,
    ) -> anyhow::Result<Runner> {
        let Some((program, args)) = cmd.split_first() else {
            anyhow::bail!("no command given after `--`");
        };
        let program = resolve(Path::new(program))?;
        Ok(Runner {
            program: Arc::new(program),
            args: Arc::new(args.to_vec()),
            timeout,
            kill,
        })
    }

    /// Runs CMD once with `input` on stdin and returns what it printed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills CMD.
    pub(crate) async fn run(&self, input: Vec<u8>) -> Result<Output, CommandError> {
        let mut command = Command::new(&*self.program);
        command
            .args(&*self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so that a Ctrl-C in the terminal reaches only
        // pipework, which lets running commands finish.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().map_err(CommandError::Spawn)?;
        let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(CommandError::Io(std::io::Error::other("missing pipe")));
        };
        let feed = async move {
            // CMD may exit without reading its input; that is its business.
            match stdin.write_all(&input).await {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
                _ => Ok(()),
            }
        };
        let collect = async move {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).await.map(|_| out)
        };
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let talk = async { tokio::join!(feed, collect, read_tail(stderr, &stderr_tail)) };
        let limited = async {
            match self.timeout {
                Some(after) => tokio::time::timeout(after, talk).await.map_err(|_| after),
                None => Ok(talk.await),
            }
        };
        let outcome = tokio::select! {
            outcome = limited => Some(outcome),
            () = self.kill.cancelled() => None,
        };
        let (fed, stdout, stderr) = match outcome {
            None => {
                stop(&mut child).await;
                return Err(CommandError::Killed);
            }
            Some(Err(after)) => {
                stop(&mut child).await;
                return Err(CommandError::Timeout {
                    after,
                    stderr: tail_text(&stderr_tail),
                });
            }
            Some(Ok(talked)) => talked,
        };
        let status = child.wait().await.map_err(CommandError::Io)?;
        stderr.map_err(CommandError::Io)?;
        let stderr = tail_text(&stderr_tail);
        if !status.success() {
            return Err(CommandError::Exit { status, stderr });
        }
        fed.map_err(CommandError::Io)?;
        let stdout = stdout.map_err(CommandError::Io)?;
        Ok(Output { stdout, stderr })
    }
}

async fn stop(child: &mut tokio::process::Child) {
    // The child may have exited on its own in the meantime; either way it is
    // reaped by `wait`, whose error (none expected after a kill) has nowhere to go.
    if child.start_kill().is_ok() {
        let _ = child.wait().await;
    }
}

/// Reads a stream to its end into `kept`, which holds its last `STDERR_TAIL`
/// bytes at any time (so a timeout can still show what was said).
async fn read_tail(
    mut stream: impl AsyncRead + Unpin,
    kept: &Mutex<Vec<u8>>,
) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        let mut kept = lock(kept);
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > STDERR_TAIL {
            let excess = kept.len() - STDERR_TAIL;
            kept.drain(..excess);
        }
    }
}

fn tail_text(kept: &Mutex<Vec<u8>>) -> String {
    let kept = lock(kept);
    String::from_utf8_lossy(&kept).trim().to_owned()
}

/// Finds the program: a path with a separator must exist; a bare name is
/// looked up in `PATH`. Either way it must be an executable file.
fn resolve(program: &Path) -> anyhow::Result<PathBuf> {
    if program.components().count() > 1 {
        return executable(program)
            .then(|| program.to_path_buf())
            .ok_or_else(|| {
                anyhow::anyhow!("command not found or not executable: {}", program.display())
            });
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
        .ok_or_else(|| anyhow::anyhow!("command not found in PATH: {}", program.display()))
}

#[cfg(unix)]
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(path: &Path) -> bool {
    path.is_file()
}
