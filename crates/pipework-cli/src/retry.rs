//! `--retries` and `--retry-delay`: a failed call is tried again, after a
//! wait that doubles from `--retry-delay` up to [`MAX_DELAY`], with full
//! jitter (a uniform draw between zero and that bound), so that many keys
//! failing together do not come back together.
//!
//! A command can ask for a longer wait: exit status 75 (`EX_TEMPFAIL`) with
//! a last stderr line `retry-after: SECS` (an HTTP 429's `Retry-After`, for
//! instance). The wait is then at least that, up to [`MAX_RETRY_AFTER`]. A
//! plain 75 is an ordinary retryable failure.
//!
//! What is retried: a non-zero exit, a timeout, a death by signal, output
//! that is not what the subcommand expects, a failed start. What is not: a
//! call killed or not started because the run is stopping (a signal, or
//! `--max-failures`), and no retry starts once the run is stopping.
//!
//! The doubling sequence is `backon`'s; its own jitter adds up to the
//! smallest delay on top, which is not full jitter, so the draw is made here.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use rand::Rng;

use crate::process::CommandError;

/// The longest wait between two attempts that the doubling reaches.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60);

/// The longest wait a `retry-after` line is honoured for.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The exit status with which a command asks to be retried after a wait.
const EX_TEMPFAIL: i32 = 75;

/// How often and after how long a failed call is tried again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Attempts after the first.
    pub(crate) retries: u32,
    /// The first wait's upper bound.
    pub(crate) delay: Duration,
}

impl RetryPolicy {
    /// The upper bounds of the waits before each retry: `delay`, twice that,
    /// … up to [`MAX_DELAY`], one per retry.
    pub(crate) fn bounds(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::new()
            .with_min_delay(self.delay)
            .with_max_delay(MAX_DELAY.max(self.delay))
            .with_factor(2.0)
            .with_max_times(self.retries as usize)
            .build()
    }

    /// The wait before the retry that follows `error`, given the bound the
    /// doubling has reached: a uniform draw in `[0, bound]`, or the wait the
    /// command asked for if that is longer.
    pub(crate) fn wait(bound: Duration, error: &CommandError, rng: &mut impl Rng) -> Duration {
        let jittered = Duration::from_secs_f64(rng.random_range(0.0..=bound.as_secs_f64()));
        match retry_after(error) {
            Some(asked) => jittered.max(asked),
            None => jittered,
        }
    }
}

/// Whether another attempt may help. A call that was killed or never
/// started because the run is stopping is not retried.
pub(crate) fn is_retryable(error: &CommandError) -> bool {
    !matches!(error, CommandError::Killed | CommandError::NotStarted)
}

/// The wait a command asked for: exit status 75 and a last stderr line
/// `retry-after: SECS` (any case, spaces allowed), capped at
/// [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(error: &CommandError) -> Option<Duration> {
    let CommandError::Exit { status, stderr } = error else {
        return None;
    };
    if status.code() != Some(EX_TEMPFAIL) {
        return None;
    }
    let last = stderr.lines().last()?.trim();
    let (name, value) = last.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case("retry-after") {
        return None;
    }
    let secs: f64 = value.trim().parse().ok()?;
    if !(secs >= 0.0 && secs.is_finite()) {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use rand::SeedableRng;

    use super::*;

    fn exit(code: i32, stderr: &str) -> CommandError {
        CommandError::Exit {
            status: ExitStatus::from_raw(code << 8),
            stderr: stderr.to_owned(),
        }
    }

    #[test]
    fn the_bounds_double_up_to_the_cap_one_per_retry() {
        let policy = RetryPolicy {
            retries: 9,
            delay: Duration::from_secs(1),
        };
        let secs: Vec<u64> = policy.bounds().map(|d| d.as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        let none = RetryPolicy {
            retries: 0,
            delay: Duration::from_secs(1),
        };
        assert_eq!(none.bounds().count(), 0);
    }

    #[test]
    fn a_wait_is_drawn_below_its_bound_and_spreads_out() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let bound = Duration::from_secs(8);
        let waits: Vec<Duration> = (0..200)
            .map(|_| RetryPolicy::wait(bound, &exit(1, ""), &mut rng))
            .collect();
        assert!(waits.iter().all(|w| *w <= bound));
        assert!(waits.iter().any(|w| *w < Duration::from_secs(2)));
        assert!(waits.iter().any(|w| *w > Duration::from_secs(6)));
    }

    #[test]
    fn exit_75_with_retry_after_asks_for_a_longer_wait() {
        let asked = exit(75, "rate limited\nRetry-After: 2.5");
        assert_eq!(retry_after(&asked), Some(Duration::from_millis(2500)));
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let wait = RetryPolicy::wait(Duration::from_millis(10), &asked, &mut rng);
        assert_eq!(wait, Duration::from_millis(2500));
        assert_eq!(
            retry_after(&exit(75, "retry-after: 1e9")),
            Some(MAX_RETRY_AFTER)
        );
        for plain in [
            exit(75, ""),
            exit(75, "retry-after: soon"),
            exit(75, "retry-after: -1"),
            exit(75, "retry-after: 3\nbut then this"),
            exit(1, "retry-after: 3"),
        ] {
            assert_eq!(retry_after(&plain), None, "{plain:?}");
        }
    }

    #[test]
    fn only_a_stopping_run_is_not_retried() {
        assert!(is_retryable(&exit(1, "")));
        assert!(is_retryable(&CommandError::Timeout {
            after: Duration::from_secs(1),
            stderr: String::new()
        }));
        assert!(!is_retryable(&CommandError::Killed));
        assert!(!is_retryable(&CommandError::NotStarted));
    }
}
