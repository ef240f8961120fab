//! A `pipework` process running in the background: the test can wait for a
//! line on its stderr (a readiness signal) and for its exit, each with a
//! deadline, so a hung run fails its test instead of hanging the suite.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a test waits for anything a run does: only a hang takes this long.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// What a waiting thread sees of the process.
enum Event {
    Line(String),
    Exited(std::io::Result<ExitStatus>),
}

/// A started `pipework`, with stderr read line by line on a thread.
pub(crate) struct Running {
    pid: u32,
    events: Receiver<Event>,
    stderr: Vec<String>,
    status: Option<ExitStatus>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// Starts `command` with stderr captured and stdout discarded.
    pub(crate) fn start(mut command: Command) -> Running {
        let mut child: Child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn pipework: {e}"));
        let pid = child.id();
        let (tx, events) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    // The test may have stopped listening: then nothing is lost
                    // that it wanted.
                    let _ = tx.send(Event::Line(line));
                }
            })
        };
        let waiter = std::thread::spawn(move || {
            // As above: a test that has failed no longer listens.
            let _ = tx.send(Event::Exited(child.wait()));
        });
        Running {
            pid,
            events,
            stderr: Vec::new(),
            status: None,
            threads: vec![lines, waiter],
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until a line of stderr contains `text`.
    pub(crate) fn wait_for_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.stderr.iter().any(|line| line.contains(text)) {
            if !self.next_event(deadline) {
                panic!(
                    "pipework ended or hung without {text:?} on stderr:\n{}",
                    self.stderr.join("\n")
                );
            }
        }
    }

    /// True if the process has exited (as far as events received so far tell).
    pub(crate) fn has_exited(&mut self) -> bool {
        while let Ok(event) = self.events.try_recv() {
            self.record(event);
        }
        self.status.is_some()
    }

    /// Sends `signal` (a `kill` signal name, such as `INT` or `KILL`),
    /// unless the process has already exited.
    pub(crate) fn signal(&mut self, signal: &str) {
        if self.has_exited() || self.send(signal) {
            return;
        }
        // No such process: it exited and was reaped, and its exit status is
        // on its way.
        let deadline = Instant::now() + PATIENCE;
        while self.status.is_none() {
            assert!(
                self.next_event(deadline),
                "kill -{signal} {} failed, and it did not exit",
                self.pid
            );
        }
    }

    fn send(&self, signal: &str) -> bool {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Waits for the exit and for all of stderr; kills the process and fails
    /// the test if that takes longer than [`PATIENCE`].
    pub(crate) fn finish(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        while self.status.is_none() {
            if !self.next_event(deadline) {
                self.send("KILL");
                panic!(
                    "pipework did not exit within {PATIENCE:?}; stderr so far:\n{}",
                    self.stderr.join("\n")
                );
            }
        }
        for thread in std::mem::take(&mut self.threads) {
            thread.join().expect("a harness thread panicked");
        }
        while let Ok(event) = self.events.try_recv() {
            self.record(event);
        }
        let status = self.status.expect("exited");
        (status, std::mem::take(&mut self.stderr).join("\n"))
    }

    /// Takes the next event; false on the deadline, or if no event can come.
    fn next_event(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(left) {
            Ok(event) => {
                self.record(event);
                true
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => false,
        }
    }

    fn record(&mut self, event: Event) {
        match event {
            Event::Line(line) => self.stderr.push(line),
            Event::Exited(status) => {
                self.status = Some(status.unwrap_or_else(|e| panic!("wait: {e}")));
            }
        }
    }
}

impl Drop for Running {
    /// A test that fails while pipework runs leaves no process behind.
    fn drop(&mut self) {
        if self.status.is_none() && !self.has_exited() {
            self.send("KILL");
        }
    }
}
