//! `--rate N/s` (or `/m`, `/h`): at most N call starts per period across
//! all jobs, retries included, spread evenly: one start every period / N,
//! never a burst of N at the top of each period (a token bucket with room
//! for one token). The bucket is `governor`'s.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// A parsed `--rate`: the time between two starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    /// What the user wrote, as N per unit, for messages.
    per_unit: f64,
    unit: char,
    /// One start per this long.
    pub(crate) every: Duration,
}

/// The fastest rate: a million starts a second is already far beyond what
/// starting processes allows.
const MAX_PER_SECOND: f64 = 1e6;

impl Rate {
    /// Parses `N/s`, `N/m` or `N/h` (N may be a fraction: `0.5/s`).
    pub(crate) fn parse(text: &str) -> Result<Rate, String> {
        let (count, unit) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a rate: write N/s, N/m or N/h"))?;
        let per_unit: f64 = count
            .trim()
            .parse()
            .map_err(|_| format!("{count:?} is not a number of calls"))?;
        let (unit, seconds) = match unit.trim() {
            "s" | "sec" | "second" => ('s', 1.0),
            "m" | "min" | "minute" => ('m', 60.0),
            "h" | "hour" => ('h', 3600.0),
            other => return Err(format!("unknown unit {other:?}: write N/s, N/m or N/h")),
        };
        if !(per_unit > 0.0 && per_unit.is_finite()) {
            return Err(format!("{count} is not a positive number of calls"));
        }
        let per_second = per_unit / seconds;
        if per_second > MAX_PER_SECOND {
            return Err(format!(
                "{text} is faster than {MAX_PER_SECOND} calls a second"
            ));
        }
        let every = Duration::try_from_secs_f64(1.0 / per_second)
            .map_err(|_| format!("{text} is too slow a rate"))?;
        if every > Duration::from_secs(7 * 24 * 3600) {
            return Err(format!("{text} is slower than one call a week"));
        }
        Ok(Rate {
            per_unit,
            unit,
            every,
        })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.per_unit, self.unit)
    }
}

/// The shared bucket every call start waits on.
#[derive(Debug)]
pub(crate) struct Limiter {
    bucket: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
}

impl Limiter {
    /// A bucket that lets one start through every `rate.every`, holding at
    /// most one token, so an idle run does not save up a burst.
    pub(crate) fn new(rate: Rate) -> Limiter {
        let quota = Quota::with_period(rate.every)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        Limiter {
            bucket: RateLimiter::direct(quota),
        }
    }

    /// Waits for this start's turn.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a wait dropped before its turn took no token.
    pub(crate) async fn turn(&self) {
        self.bucket.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_n_per_second_minute_or_hour() {
        assert_eq!(
            Rate::parse("10/s").unwrap().every,
            Duration::from_millis(100)
        );
        assert_eq!(Rate::parse("30/m").unwrap().every, Duration::from_secs(2));
        assert_eq!(Rate::parse("0.5/s").unwrap().every, Duration::from_secs(2));
        assert_eq!(
            Rate::parse("3600 / h").unwrap().every,
            Duration::from_secs(1)
        );
        assert_eq!(Rate::parse("10/s").unwrap().to_string(), "10/s");
        for bad in [
            "10",
            "10/d",
            "-1/s",
            "0/s",
            "x/s",
            "1e9/s",
            "1/",
            "inf/s",
            "0.00001/h",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn starts_are_spread_not_bursted() {
        let limiter = Limiter::new(Rate::parse("50/s").unwrap());
        // An idle bucket holds one token, never more.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        for _ in 0..6 {
            limiter.turn().await;
        }
        // The first is free; five more take at least 5 x 20 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(95),
            "{:?}",
            started.elapsed()
        );
    }
}
