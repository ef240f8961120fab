//! One command's process group, led by the process pipework started.
//!
//! The leader stays unreaped (a zombie, once it has exited) until its group
//! has been sent its last signal: the kernel does not reuse a pid, nor so the
//! group id it names, while the zombie holds it. So `kill(-pgid, …)` can only
//! ever reach this command's processes, never a newcomer that got the number
//! after the leader was reaped. [`Group::reap`] consumes the group for that
//! reason: after it there is nothing left to signal with.
//!
//! The leader's exit is noticed without reaping it through a pidfd (Linux
//! 5.3 and later), readable once the process has exited; where there is
//! none, a blocking `waitid(…, WNOWAIT)` on the blocking pool, which ends
//! when the leader exits (and pipework makes sure it does: see
//! [`super::converse`]).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

/// A running (or exited, not yet reaped) command and its process group.
#[derive(Debug)]
pub(crate) struct Group {
    /// The leader's pid, which is also the group's id.
    pid: libc::pid_t,
    exit: ExitWatch,
    /// Once true, `reap` has run and the pid may belong to someone else.
    reaped: bool,
}

/// How the leader's exit is noticed.
#[derive(Debug)]
enum ExitWatch {
    /// Readable once the leader has exited.
    PidFd(AsyncFd<OwnedFd>),
    /// Fires once a blocking `waitid(WNOWAIT)` saw the leader exit; `None`
    /// once it has fired.
    Waiter(Option<oneshot::Receiver<()>>),
}

impl Group {
    /// Watches `pid`, the leader of its own process group, a child of this
    /// process that nothing else waits for. Must run inside the runtime.
    pub(crate) fn watch(pid: u32) -> io::Result<Group> {
        let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
        let exit = match pidfd_open(pid) {
            // SAFETY: the AsyncFd owns the pidfd and nothing replaces or
            // closes it while it is registered.
            Ok(fd) => ExitWatch::PidFd(unsafe {
                AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)?
            }),
            Err(_) => ExitWatch::Waiter(Some(wait_without_reaping(pid))),
        };
        Ok(Group {
            pid,
            exit,
            reaped: false,
        })
    }

    /// Waits until the leader has exited (its group may live on).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the exit is a lasting state, seen again by the next call.
    pub(crate) async fn exited(&mut self) {
        match &mut self.exit {
            // A pidfd stays readable once the process has exited; the guard
            // is dropped without clearing that readiness.
            ExitWatch::PidFd(fd) => {
                // An error here (none is expected for a pidfd) would mean the
                // exit cannot be watched; treat it as the exit so the caller
                // goes on to kill the group and reap, which then tells.
                let _ = fd.readable().await;
            }
            ExitWatch::Waiter(waiter) => {
                if let Some(receiver) = waiter {
                    // A dropped sender means the waiter thread failed (the
                    // pid is not our child), which also ends the wait.
                    let _ = receiver.await;
                    *waiter = None;
                }
            }
        }
    }

    /// Sends `signal` to every process of the group (the leader included,
    /// which ignores it once it is a zombie).
    pub(crate) fn signal(&self, signal: libc::c_int) {
        debug_assert!(!self.reaped);
        // SAFETY: kill has no memory-safety preconditions. The group id is
        // still ours (see the module docs). ESRCH (nobody left) is fine.
        unsafe {
            libc::kill(-self.pid, signal);
        }
    }

    /// Reaps the leader and returns how it ended. Call only after
    /// [`exited`](Self::exited) returned, so that it does not block.
    pub(crate) fn reap(mut self) -> io::Result<ExitStatus> {
        self.reaped = true;
        reap(self.pid)
    }
}

impl Drop for Group {
    /// The safety net for a group dropped before it was reaped (its task was
    /// cancelled with the runtime): kill it outright and reap the leader,
    /// which SIGKILL ends at once.
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(libc::SIGKILL);
            let _ = reap(self.pid);
        }
    }
}

fn reap(pid: libc::pid_t) -> io::Result<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the call.
        let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
        if reaped == pid {
            return Ok(ExitStatus::from_raw(status));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(target_os = "linux")]
fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(io::Error::other)?;
    // SAFETY: the kernel just gave us this fd, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: libc::pid_t) -> io::Result<OwnedFd> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Without a pidfd: a blocking-pool thread waits for the leader's exit
/// without reaping it, and ends with that exit.
fn wait_without_reaping(pid: libc::pid_t) -> oneshot::Receiver<()> {
    let (exited, receiver) = oneshot::channel();
    tokio::task::spawn_blocking(move || {
        loop {
            // SAFETY: an all-zero siginfo_t is a valid out-buffer.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is a valid out-pointer; WNOWAIT leaves the
            // child a zombie for `reap`.
            let waited = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if waited == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
        let _ = exited.send(());
    });
    receiver
}
