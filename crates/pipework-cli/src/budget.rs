//! `--max-failures N` or `N%`: a failure budget. Once this many keys have
//! failed in the run (or this share of the keys tried so far, counted once
//! at least [`MIN_TRIED`] were tried), the run starts no new calls, lets
//! the running ones finish, writes what it knows and exits 1, saying why.
//! When every call fails (a revoked API key, a service down), a run stops
//! after a handful of paid failures instead of trying every key.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

/// Keys tried before a percentage budget is judged: the first few failures
/// of a run say little about its share.
pub(crate) const MIN_TRIED: u64 = 20;

/// A parsed `--max-failures`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MaxFailures {
    /// This many failed keys.
    Count(u64),
    /// This percentage of the keys tried.
    Percent(f64),
}

impl MaxFailures {
    /// Parses `N` (a count of keys, at least 1) or `N%` (0 < N <= 100).
    pub(crate) fn parse(text: &str) -> Result<MaxFailures, String> {
        let text = text.trim();
        if let Some(percent) = text.strip_suffix('%') {
            let percent: f64 = percent
                .trim()
                .parse()
                .map_err(|_| format!("{text:?} is not a percentage"))?;
            if !(percent > 0.0 && percent <= 100.0) {
                return Err(format!(
                    "{text} is not a percentage above 0 and at most 100"
                ));
            }
            return Ok(MaxFailures::Percent(percent));
        }
        match text.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!(
                "{text:?} is not a number of keys (at least 1) or a percentage such as 10%"
            )),
            Ok(count) => Ok(MaxFailures::Count(count)),
        }
    }

    /// True once `failed` of `tried` keys exceed what this budget allows.
    fn exhausted(self, failed: u64, tried: u64) -> bool {
        match self {
            MaxFailures::Count(count) => failed >= count,
            MaxFailures::Percent(percent) => {
                tried >= MIN_TRIED && failed as f64 * 100.0 >= percent * tried as f64
            }
        }
    }
}

impl std::fmt::Display for MaxFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxFailures::Count(count) => write!(f, "{count} failed keys"),
            MaxFailures::Percent(percent) => write!(f, "{percent}% of the keys tried"),
        }
    }
}

/// The run's counts of keys tried and failed, and the stop it pulls.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: Option<MaxFailures>,
    tried: AtomicU64,
    failed: AtomicU64,
    spent: AtomicBool,
    /// Cancelled when the budget is spent: the library starts nothing new.
    stop: CancellationToken,
}

impl Budget {
    /// Counts against `limit` (none: only counts), cancelling `stop` once
    /// it is spent.
    pub(crate) fn new(limit: Option<MaxFailures>, stop: CancellationToken) -> Budget {
        Budget {
            limit,
            tried: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            spent: AtomicBool::new(false),
            stop,
        }
    }

    /// Records a key's last attempt; returns true if this spent the budget.
    pub(crate) fn record(&self, failed: bool) -> bool {
        let tried = self.tried.fetch_add(1, Ordering::Relaxed) + 1;
        let failures = if failed {
            self.failed.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.failed.load(Ordering::Relaxed)
        };
        let Some(limit) = self.limit else {
            return false;
        };
        if failed && limit.exhausted(failures, tried) && !self.spent.swap(true, Ordering::Relaxed) {
            self.stop.cancel();
            return true;
        }
        false
    }

    /// The budget and the counts that spent it, once it is spent.
    pub(crate) fn spent(&self) -> Option<String> {
        if !self.spent.load(Ordering::Relaxed) {
            return None;
        }
        let limit = self.limit?;
        Some(format!(
            "stopped after {} of {} keys tried failed (--max-failures {limit})",
            self.failed.load(Ordering::Relaxed),
            self.tried.load(Ordering::Relaxed)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_a_count_or_a_percentage() {
        assert_eq!(MaxFailures::parse("5"), Ok(MaxFailures::Count(5)));
        assert_eq!(MaxFailures::parse("12.5%"), Ok(MaxFailures::Percent(12.5)));
        for bad in ["0", "-1", "x", "0%", "101%", "%", "1.5"] {
            assert!(MaxFailures::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_count_stops_at_the_nth_failure() {
        let stop = CancellationToken::new();
        let budget = Budget::new(Some(MaxFailures::Count(2)), stop.clone());
        assert!(!budget.record(false));
        assert!(!budget.record(true));
        assert!(!stop.is_cancelled());
        assert!(budget.record(true), "the second failure spends it");
        assert!(stop.is_cancelled());
        assert!(!budget.record(true), "spent once");
        assert_eq!(
            budget.spent().as_deref(),
            Some("stopped after 3 of 4 keys tried failed (--max-failures 2 failed keys)")
        );
    }

    #[test]
    fn a_percentage_waits_for_enough_keys_then_judges_the_share() {
        let stop = CancellationToken::new();
        let budget = Budget::new(Some(MaxFailures::Percent(50.0)), stop.clone());
        // 10 failures in the first 10: too few tried to judge.
        for _ in 0..10 {
            assert!(!budget.record(true));
        }
        for _ in 0..9 {
            assert!(!budget.record(false));
        }
        // 20 tried, 11 failed: 55% >= 50%.
        assert!(budget.record(true));
        assert!(stop.is_cancelled());
        let unlimited = Budget::new(None, CancellationToken::new());
        assert!(!(0..100).any(|_| unlimited.record(true)));
        assert_eq!(unlimited.spent(), None);
    }
}
