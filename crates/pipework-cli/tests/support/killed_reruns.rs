//! The loop of the crash tests: start a run, SIGKILL it at a random moment,
//! start it again, until one run completes (or, after a bound, one last run
//! goes uninterrupted).
//!
//! The moments are scaled by a clean run of the same command timed first, on
//! the machine as it is now, so however busy the machine the kills land
//! within a run rather than all before or all after its work. The first kill
//! lands surely mid-run: the test commands hold until a file `go` exists
//! (see `scripts::GATED_SLOW_ECHO`), the loop waits until `jobs` of them
//! have started, kills, and only then makes `go`.
//!
//! Each attempt is recorded with what the test wanted to know of the scratch
//! directory just before it started (a snapshot the caller takes, say DST's
//! done keys) and the lines the test commands appended to `calls.log` during
//! it. A killed run's commands die with it (their parent-death signal), and
//! the loop waits for every process in the directory to be gone before the
//! next attempt, so a call line always belongs to the attempt it is listed in.

use std::time::{Duration, Instant};

use rand::Rng;

use super::{assert_code, processes, Env};

/// How long a killed run's commands (and their children, such as `sleep`)
/// may take to be gone on a busy machine.
const SETTLE: Duration = Duration::from_secs(10);

/// One start of the command, and how it ended.
#[derive(Debug)]
pub(crate) struct Attempt<S> {
    /// The caller's snapshot of the scratch directory just before the start.
    pub(crate) before: S,
    /// The lines the test commands appended to `calls.log` in this attempt.
    pub(crate) calls: Vec<String>,
    /// Whether the SIGKILL ended it (otherwise it completed, exit 0).
    pub(crate) killed: bool,
}

/// Every attempt of one trial, the last one the run that completed.
#[derive(Debug)]
pub(crate) struct KilledReruns<S> {
    pub(crate) attempts: Vec<Attempt<S>>,
}

impl<S> KilledReruns<S> {
    /// How many runs a SIGKILL ended.
    pub(crate) fn kills(&self) -> usize {
        self.attempts.iter().filter(|a| a.killed).count()
    }
}

/// Runs `args` to the end in a fresh scratch directory made ready by
/// `ready` (with `go` made, so nothing holds) and returns how long it took,
/// with the directory, whose DST is what an uninterrupted run writes.
pub(crate) fn timed_clean_run(ready: impl Fn(&Env), args: &[&str]) -> (Duration, Env) {
    let env = Env::new();
    ready(&env);
    env.write("go", "");
    let started = Instant::now();
    assert_code(&env.run(args), 0);
    (started.elapsed(), env)
}

/// Starts `args` in `env` up to `kill_attempts` times, each killed with
/// SIGKILL at a random moment (the first once `jobs` commands have started,
/// the others within `clean`, the duration of a clean run); stops at the
/// first run that completes before its kill, or else runs once more without
/// a kill. `snapshot` is taken before each start. Fails the test if a run
/// exits other than 0 or by the kill, if a killed run's commands are still
/// there after [`SETTLE`], or if the last run fails.
pub(crate) fn kill_and_rerun<S>(
    env: &Env,
    args: &[&str],
    rng: &mut impl Rng,
    clean: Duration,
    jobs: usize,
    kill_attempts: usize,
    mut snapshot: impl FnMut(&Env) -> S,
) -> KilledReruns<S> {
    let mut attempts = Vec::new();
    for attempt in 0..=kill_attempts {
        let before = snapshot(env);
        let calls_before = env.calls().len();
        let mut run = env.start(args);
        if attempt == kill_attempts {
            let (status, stderr) = run.finish();
            assert_eq!(status.code(), Some(0), "the uninterrupted run:\n{stderr}");
            attempts.push(Attempt {
                before,
                calls: env.calls().split_off(calls_before),
                killed: false,
            });
            break;
        }
        if attempt == 0 {
            // Every job holds a command that waits for `go`: mid-run, and
            // no row is written yet.
            env.wait_for_calls(calls_before + jobs);
        } else {
            std::thread::sleep(clean.mul_f64(rng.random_range(0.0..1.0)));
        }
        // SIGKILL: no cleanup, no flush, a crash. A run that ended just
        // before it is seen by its exit status.
        run.signal("KILL");
        let (status, stderr) = run.finish();
        let killed = status.code().is_none();
        if !killed {
            assert!(status.success(), "attempt {attempt}: {status}\n{stderr}");
        }
        let left = processes::wait_until_gone(env.dir(), SETTLE);
        assert!(
            left.is_empty(),
            "attempt {attempt}: left after the run ended: {left:#?}"
        );
        attempts.push(Attempt {
            before,
            calls: env.calls().split_off(calls_before),
            killed,
        });
        if !killed {
            break;
        }
        env.write("go", "");
    }
    KilledReruns { attempts }
}
