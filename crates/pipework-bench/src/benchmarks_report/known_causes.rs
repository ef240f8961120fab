//! Why a system's cost per item or memory grows with the size, where the
//! design says so: the report prints the cause beside the verdict that
//! [`Trend`](super::trend::Trend) computes from the figures, and only when
//! the figures show the growth (a cause is never printed for a curve that
//! stayed flat). The verdict comes from the run; the cause is what the
//! code does, so it is written here, next to nothing that measures.

/// What makes one system's curve in one scenario grow.
#[derive(Debug)]
pub(crate) struct KnownCause {
    /// The scenario.
    pub(crate) scenario: &'static str,
    /// The system.
    pub(crate) system: &'static str,
    /// Why the cost per item rises with the size, if the design says.
    pub(crate) cost: Option<&'static str>,
    /// Why peak memory grows with the size, if the design says.
    pub(crate) memory: Option<&'static str>,
}

/// Every known cause.
pub(crate) const KNOWN_CAUSES: &[KnownCause] = &[
    KnownCause {
        scenario: "jsonl-map",
        system: "pipework",
        cost: Some(
            "a key's result stays in a result cache of 16 MiB by default \
             (`MapOptions::cache_bytes`); with more keys than that holds \
             (about 130k short results), each later row of an evicted key \
             reads the key's row back from DST, a `pread` per row",
        ),
        memory: Some(
            "the engine keeps an index of every key seen (its state and \
             where its first row is), about 90 bytes a key, and N/10 keys \
             grow with N",
        ),
    },
    KnownCause {
        scenario: "jsonl-resume",
        system: "pipework",
        cost: None,
        memory: Some(
            "a resume indexes every key of DST (N/2 keys here) to know which \
             source rows are done, about 90 bytes a key",
        ),
    },
    KnownCause {
        scenario: "cli-rerun",
        system: "pipework",
        cost: None,
        memory: Some(
            "a resume indexes every key of DST to know which source rows \
             are done",
        ),
    },
];

/// The known cause for `system` in `scenario`, if any.
pub(crate) fn of(scenario: &str, system: &str) -> Option<&'static KnownCause> {
    KNOWN_CAUSES
        .iter()
        .find(|cause| cause.scenario == scenario && cause.system == system)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios;

    #[test]
    fn every_cause_names_a_scenario_and_system_that_exist() {
        for cause in KNOWN_CAUSES {
            let scenario = scenarios::find(cause.scenario)
                .unwrap_or_else(|| panic!("no scenario {}", cause.scenario));
            assert!(
                scenario.system(cause.system).is_some(),
                "{} has no system {}",
                cause.scenario,
                cause.system
            );
            assert!(cause.cost.is_some() || cause.memory.is_some());
        }
    }
}
