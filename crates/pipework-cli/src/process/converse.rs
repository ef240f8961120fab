//! One call of CMD from start to end: its input fed, its output read, and
//! its whole process group ended before the call's answer is given.
//!
//! A call has two phases.
//!
//! 1. **Talking**, until the first of: the command (the process pipework
//!    started, its group's leader) exits; `--timeout` passes; the second
//!    interrupt; the call is dropped (the library aborts running calls when
//!    a run stops on an error). Meanwhile its stdin is fed and its stdout
//!    and the tail of its stderr are read.
//! 2. **Ending the group.** Whatever is left of the group — background
//!    children, or the whole tree if the leader is still running — gets
//!    SIGTERM; once the leader has exited and its pipes are closed, or
//!    [`KILL_GRACE`] later at most, SIGKILL. Then the pipes are drained
//!    (bounded again by [`KILL_GRACE`]: a process that left the group with
//!    `setsid` can hold them open forever, and is the one thing not
//!    covered) and the leader is reaped — only now, so that the group id
//!    cannot have been reused by then (see `group.rs`).
//!
//! So **a key ends when its command exits**: its answer is what it printed
//! until then, and a background child holding stdout open neither stalls
//! the key nor outlives it.
//!
//! Each call runs as a task of the runner's tracker rather than inside the
//! call's future, so that phase 2 runs to its end even when the call is
//! dropped, and the run can wait for every group to be gone before it exits.

use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::group::Group;
use super::resolve::explain_spawn;
use super::spawner::{kill_group, Spawner};
use super::{CommandError, Output};

/// How long what is left of a group has between SIGTERM and SIGKILL, and
/// how long its pipes may stay open after SIGKILL before they are given up.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);

/// How much of CMD's stderr is kept for an error message.
const STDERR_TAIL: usize = 2048;

/// What ended the talking phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The leader exited.
    Exited,
    /// `--timeout` passed.
    TimedOut(Duration),
    /// The second interrupt.
    Killed,
    /// The call was dropped; nobody reads the answer.
    Dropped,
}

/// What one call needs to know besides the command itself.
pub(crate) struct Limits {
    /// `--timeout`.
    pub(crate) timeout: Option<Duration>,
    /// Cancelled by the second interrupt.
    pub(crate) kill: CancellationToken,
    /// Cancelled when the call's future is dropped.
    pub(crate) dropped: CancellationToken,
}

/// Runs `command` once with `input` on its stdin, to the end of its group.
pub(crate) async fn converse(
    spawner: &Spawner,
    mut command: std::process::Command,
    input: Vec<u8>,
    limits: Limits,
) -> Result<Output, CommandError> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = PathBuf::from(command.get_program());
    let mut child = tokio::select! {
        spawned = spawner.spawn(command) => spawned.map_err(|error| {
            CommandError::Spawn(explain_spawn(&program, &error))
        })?,
        // The spawner kills a command whose caller stopped waiting for it.
        () = limits.dropped.cancelled() => return Err(CommandError::Killed),
    };
    let watched = Group::watch(child.id()).and_then(|group| {
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            return Err(io::Error::other("missing pipe"));
        };
        Ok((
            group,
            ChildStdin::from_std(stdin)?,
            Pipes::new(
                ChildStdout::from_std(stdout)?,
                ChildStderr::from_std(stderr)?,
            ),
        ))
    });
    let (mut group, stdin, mut pipes) = match watched {
        Ok(watched) => watched,
        Err(error) => {
            // Not yet reaped, so the group id is still its own.
            kill_group(&child, libc::SIGKILL);
            let _ = child.wait();
            return Err(CommandError::Io(error));
        }
    };
    // The group owns the leader from here on (and reaps it).
    drop(child);

    let (end, fed) = talk(&mut group, stdin, &mut pipes, input, &limits).await;
    end_group(&mut group, &mut pipes, end).await;
    let status = group.reap().map_err(CommandError::Io);
    answer(end, fed, status, pipes)
}

/// Phase 1: feeds `input` and reads the pipes until the leader exits or the
/// call is stopped. Returns what ended it and how feeding went (`None` if it
/// had not finished).
async fn talk(
    group: &mut Group,
    mut stdin: ChildStdin,
    pipes: &mut Pipes,
    input: Vec<u8>,
    limits: &Limits,
) -> (End, Option<io::Result<()>>) {
    let deadline = limits.timeout.map(|after| (Instant::now() + after, after));
    let timed_out = async {
        match deadline {
            Some((at, after)) => {
                tokio::time::sleep_until(at).await;
                after
            }
            None => std::future::pending().await,
        }
    };
    let feed = async move {
        // CMD may exit without reading its input; that is its business.
        match stdin.write_all(&input).await {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
        // Dropping `stdin` here closes it: CMD sees the end of its input.
    };
    tokio::pin!(timed_out, feed);
    let mut fed = None;
    let end = loop {
        tokio::select! {
            biased;
            () = limits.kill.cancelled() => break End::Killed,
            () = limits.dropped.cancelled() => break End::Dropped,
            after = &mut timed_out => break End::TimedOut(after),
            () = group.exited() => break End::Exited,
            result = &mut feed, if fed.is_none() => fed = Some(result),
            () = pipes.read_some(), if !pipes.closed() => {}
        }
    };
    (end, fed)
}

/// Phase 2: SIGTERM to what is left of the group, SIGKILL once the leader
/// has exited and the pipes are closed or after [`KILL_GRACE`], then the
/// pipes drained (bounded) and the leader exited for sure.
async fn end_group(group: &mut Group, pipes: &mut Pipes, end: End) {
    group.signal(libc::SIGTERM);
    let settled = async {
        tokio::join!(group.exited(), pipes.read_to_end());
    };
    let _ = tokio::time::timeout(KILL_GRACE, settled).await;
    // Unconditional: a member that closed its output (or never had it) is
    // not seen by the wait above, and must not outlive the call either.
    group.signal(libc::SIGKILL);
    // SIGKILL cannot be caught: the leader exits as soon as the kernel
    // delivers it.
    group.exited().await;
    if end == End::Dropped {
        return;
    }
    // Every member is dead now, so the pipes close at once unless a process
    // that left the group (setsid) holds them: give that one up.
    let _ = tokio::time::timeout(KILL_GRACE, pipes.read_to_end()).await;
}

/// The call's result, from what ended it and what was read.
fn answer(
    end: End,
    fed: Option<io::Result<()>>,
    status: Result<ExitStatus, CommandError>,
    pipes: Pipes,
) -> Result<Output, CommandError> {
    let stderr = pipes.stderr_text();
    match end {
        End::Killed | End::Dropped => return Err(CommandError::Killed),
        End::TimedOut(after) => return Err(CommandError::Timeout { after, stderr }),
        End::Exited => {}
    }
    let status = status?;
    if !status.success() {
        return Err(CommandError::Exit { status, stderr });
    }
    if let Some(error) = pipes.error {
        return Err(CommandError::Io(error));
    }
    // Feeding still unfinished (`None`) when the leader exited means it did
    // not read all its input, which, like a broken pipe, is its business.
    if let Some(Err(error)) = fed {
        return Err(CommandError::Io(error));
    }
    Ok(Output {
        stdout: pipes.stdout,
        stderr,
    })
}

/// CMD's stdout (kept whole) and stderr (its last [`STDERR_TAIL`] bytes).
struct Pipes {
    out: Option<ChildStdout>,
    err: Option<ChildStderr>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// The first read error; that pipe is given up.
    error: Option<io::Error>,
}

impl Pipes {
    fn new(out: ChildStdout, err: ChildStderr) -> Pipes {
        Pipes {
            out: Some(out),
            err: Some(err),
            stdout: Vec::new(),
            stderr: Vec::new(),
            error: None,
        }
    }

    /// True once both pipes are at their end (or given up).
    fn closed(&self) -> bool {
        self.out.is_none() && self.err.is_none()
    }

    /// Reads from whichever pipe has something.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read that did not finish took nothing.
    async fn read_some(&mut self) {
        let (mut out_chunk, mut err_chunk) = ([0u8; 8192], [0u8; 8192]);
        let (read, from_out) = tokio::select! {
            read = read_into(&mut self.out, &mut out_chunk) => (read, true),
            read = read_into(&mut self.err, &mut err_chunk) => (read, false),
        };
        let chunk = if from_out { &out_chunk } else { &err_chunk };
        match read {
            Ok(0) | Err(_) => {
                if let Err(error) = read {
                    self.error.get_or_insert(error);
                }
                if from_out {
                    self.out = None;
                } else {
                    self.err = None;
                }
            }
            Ok(n) if from_out => self.stdout.extend_from_slice(&chunk[..n]),
            Ok(n) => {
                self.stderr.extend_from_slice(&chunk[..n]);
                if self.stderr.len() > STDERR_TAIL {
                    let excess = self.stderr.len() - STDERR_TAIL;
                    self.stderr.drain(..excess);
                }
            }
        }
    }

    /// Reads until both pipes are at their end. Cancel safe, as
    /// [`read_some`](Self::read_some).
    async fn read_to_end(&mut self) {
        while !self.closed() {
            self.read_some().await;
        }
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }
}

/// Reads from `pipe` if it is still open; never ready otherwise.
async fn read_into(
    pipe: &mut Option<impl AsyncRead + Unpin>,
    chunk: &mut [u8],
) -> io::Result<usize> {
    match pipe {
        Some(pipe) => pipe.read(chunk).await,
        None => std::future::pending().await,
    }
}
