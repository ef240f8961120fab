//! The parent side: run one child process to its end and read what it used.
//!
//! The child's stdout and stderr are drained by two threads while a third
//! waits for the exit with `waitid(WNOWAIT)`, which leaves the child
//! unreaped. If the time limit passes first the parent kills it — safe, as an
//! unreaped child's pid cannot have been reused — and in every case the
//! child is finally reaped with `wait4`, whose `rusage` gives its peak RSS
//! (`ru_maxrss`, in KiB on Linux). `std::process::Child::wait` cannot return
//! an rusage, hence the `libc` calls. Children get `PR_SET_PDEATHSIG`, so
//! killing the harness does not leave a benchmark running on.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, ChildStdout, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

/// How a child ended and what it used.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Everything it printed on stdout.
    pub(crate) stdout: String,
    /// Everything it printed on stderr.
    pub(crate) stderr: String,
    /// `None` for a normal exit with code 0, else what went wrong.
    pub(crate) failure: Option<String>,
    /// Peak resident set size of the child.
    pub(crate) peak_rss_bytes: u64,
    /// Wall time from spawn to exit, start-up included.
    pub(crate) wall: Duration,
}

/// Runs `command` to its end, killing it after `limit`.
///
/// # Errors
///
/// When the child cannot be spawned or waited for.
pub(crate) fn run(mut command: Command, limit: Duration) -> io::Result<Finished> {
    // SAFETY: the closure runs in the forked child before exec and makes
    // one async-signal-safe syscall, allocating nothing.
    unsafe {
        command.pre_exec(|| {
            // Die with the harness (the thread that spawned us, which is the
            // parent's main thread), rather than run on as an orphan.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::other("child pid does not fit in pid_t"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let (exited_tx, exited_rx) = crossbeam_channel::bounded::<io::Result<()>>(1);
    let waiter = thread::spawn(move || {
        // The receiver outlives this thread (it is joined below), so a
        // failed send cannot happen; nothing would be lost if it did.
        let _ = exited_tx.send(wait_exited(pid));
    });
    let mut timed_out = false;
    let exited = match exited_rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => {
            timed_out = true;
            // The child is not reaped yet, so its pid is still ours to kill.
            child.kill()?;
            exited_rx
                .recv()
                .map_err(|_| io::Error::other("child waiter thread vanished"))?
        }
        Err(RecvTimeoutError::Disconnected) => {
            Err(io::Error::other("child waiter thread vanished"))
        }
    };
    waiter
        .join()
        .map_err(|_| io::Error::other("child waiter thread panicked"))?;
    exited?;
    let (status, rusage) = reap(pid)?;
    let wall = start.elapsed();

    let stdout = collect(stdout)?;
    let stderr = collect(stderr)?;
    let failure = if timed_out {
        Some(format!("killed after the {}s time limit", limit.as_secs()))
    } else {
        describe_status(status)
    };
    let max_rss_kib = u64::try_from(rusage.ru_maxrss).unwrap_or(0);
    Ok(Finished {
        stdout,
        stderr,
        failure,
        peak_rss_bytes: max_rss_kib * 1024,
        wall,
    })
}

/// A pipe end of the child, read to the end on its own thread.
type Drain = Option<JoinHandle<io::Result<String>>>;

trait Pipe: Read + Send + 'static {}
impl Pipe for ChildStdout {}
impl Pipe for ChildStderr {}

fn drain(pipe: Option<impl Pipe>) -> Drain {
    pipe.map(|mut pipe| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        })
    })
}

fn collect(drain: Drain) -> io::Result<String> {
    match drain {
        None => Ok(String::new()),
        Some(handle) => handle
            .join()
            .map_err(|_| io::Error::other("pipe reader thread panicked"))?,
    }
}

/// Blocks until the child has exited, without reaping it.
fn wait_exited(pid: libc::pid_t) -> io::Result<()> {
    loop {
        // SAFETY: `info` is a valid, writable siginfo_t; waitid only writes it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall on our own child; WNOWAIT leaves it unreaped.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Reaps the exited child, returning its wait status and resource usage.
fn reap(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is a valid, writable struct; wait4 only writes it.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall on our own, already exited child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if rc == pid {
            return Ok((status, rusage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn describe_status(status: libc::c_int) -> Option<String> {
    if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => None,
            code => Some(format!("exited with status {code}")),
        }
    } else if libc::WIFSIGNALED(status) {
        Some(format!("killed by signal {}", libc::WTERMSIG(status)))
    } else {
        Some(format!("ended with wait status {status}"))
    }
}
