//! The sizes of a `--scaling` run: the scenarios whose cost per item and
//! memory are followed across sizes (the scaling curves of BENCHMARKS.md),
//! at sizes a default full run does not spend the time on.
//!
//! The list is kept apart from the scenarios' own `sizes`, so the default
//! full run stays as long as it was; `--scaling` replaces a listed
//! scenario's full sizes with these and leaves the others alone.
//!
//! A Python peer that would take too long at the largest sizes has a
//! [`Limit`]: above it the run prints the peer's line as an error, `not run
//! at this size: <why>`, so the report shows the gap instead of a curve
//! that silently stops.

/// One scenario's sizes for `--scaling`.
#[derive(Debug)]
pub(crate) struct Scaling {
    /// The scenario's name.
    pub(crate) scenario: &'static str,
    /// Its sizes, smallest first, replacing its full-run sizes.
    pub(crate) sizes: &'static [u64],
    /// Systems not run above some size.
    pub(crate) limits: &'static [Limit],
}

/// A system that is not run above a size, and why.
#[derive(Debug)]
pub(crate) struct Limit {
    /// The system's name.
    pub(crate) system: &'static str,
    /// The largest scenario size (before the system's divisor) it runs at.
    pub(crate) largest: u64,
    /// Why not above, for the error line.
    pub(crate) why: &'static str,
}

/// The prefix of the error line a [`Limit`] prints.
pub(crate) const NOT_RUN: &str = "not run at this size";

/// Every scenario with scaling sizes.
pub(crate) const SCALING: &[Scaling] = &[
    Scaling {
        scenario: "pipeline-trivial",
        sizes: &[1_000_000, 10_000_000],
        limits: &[],
    },
    Scaling {
        scenario: "jsonl-map",
        sizes: &[10_000, 100_000, 1_000_000, 10_000_000],
        limits: &[Limit {
            system: "abstractions",
            largest: 1_000_000,
            why: "abstractions maps about 50k rows/s (README), so 10M rows \
                  would take over 3 minutes a run",
        }],
    },
    Scaling {
        scenario: "jsonl-resume",
        sizes: &[10_000, 100_000, 1_000_000, 10_000_000],
        limits: &[],
    },
    Scaling {
        scenario: "dataflow-file",
        sizes: &[2_000_000, 20_000_000, 40_000_000],
        limits: &[],
    },
];

impl Scaling {
    /// The scaling sizes of the scenario called `name`, if it has them.
    pub(crate) fn of(name: &str) -> Option<&'static Scaling> {
        SCALING.iter().find(|scaling| scaling.scenario == name)
    }

    /// Why `system` is not run at `size`, if it is not.
    pub(crate) fn not_run(&self, system: &str, size: u64) -> Option<String> {
        self.limits
            .iter()
            .find(|limit| limit.system == system && size > limit.largest)
            .map(|limit| format!("{NOT_RUN}: {}", limit.why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios;

    #[test]
    fn every_listed_scenario_and_limited_system_exists() {
        for scaling in SCALING {
            let scenario = scenarios::find(scaling.scenario)
                .unwrap_or_else(|| panic!("no scenario {}", scaling.scenario));
            assert!(
                scaling.sizes.windows(2).all(|pair| pair[0] < pair[1]),
                "{} sizes not increasing",
                scaling.scenario
            );
            for limit in scaling.limits {
                assert!(
                    scenario.system(limit.system).is_some(),
                    "{} has no system {}",
                    scaling.scenario,
                    limit.system
                );
            }
        }
    }

    #[test]
    fn a_limited_system_is_not_run_above_its_largest_size_only() {
        let jsonl_map = Scaling::of("jsonl-map").unwrap();
        assert_eq!(jsonl_map.not_run("abstractions", 1_000_000), None);
        let why = jsonl_map.not_run("abstractions", 10_000_000).unwrap();
        assert!(why.starts_with("not run at this size: "), "{why}");
        assert_eq!(jsonl_map.not_run("pipework", 10_000_000), None);
    }
}
