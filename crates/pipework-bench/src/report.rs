//! One JSON object per (scenario, system, size) on stdout, in the shape the
//! benchmark contract fixes (figures here are the contract's illustration):
//!
//! ```text
//! {"scenario":"pipeline-trivial","system":"pipework","items":10000000,"seconds":1.31,
//!  "items_per_s":7633587.8,"peak_rss_bytes":9437184,"ideal_seconds":null}
//! {"scenario":"pipeline-trivial","system":"paipa","items":100000,"error":"..."}
//! ```
//!
//! A system that cannot run gets the `error` form: no figure is ever made up.
//!
//! A run prints a [`Meta`](crate::meta::Meta) line before these; `pipework-bench
//! report` reads both back ([`crate::benchmarks_report`]), which is why the
//! lines own their strings and deserialize too.

use std::io::{self, Write};

use serde::{Deserialize, Deserializer, Serialize};

/// One line of the report.
///
/// Serialized untagged; read back by [`Line::from_json`], not through an
/// untagged `Deserialize`: with the `exact-numbers` feature serde_json's
/// untagged enums see numbers as maps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Line {
    /// The system ran and reproduced the scenario's check value.
    Figures(Figures),
    /// The system could not run, or ran and got the wrong result.
    Failed(Failed),
}

/// Measured figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figures {
    pub(crate) scenario: String,
    pub(crate) system: String,
    pub(crate) items: u64,
    /// The median of the runs' seconds (the only run's with `--runs 1`).
    pub(crate) seconds: f64,
    /// Written as `null` when `seconds` is 0 (JSON has no infinity).
    #[serde(deserialize_with = "infinite_when_null")]
    pub(crate) items_per_s: f64,
    pub(crate) peak_rss_bytes: u64,
    pub(crate) ideal_seconds: Option<f64>,
    /// The fastest and slowest run's seconds, with `--runs` above 1: the
    /// spread around the median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seconds_min: Option<f64>,
    /// See `seconds_min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seconds_max: Option<f64>,
    /// Megabytes (10^6 bytes) read per second, for scenarios that say how
    /// many bytes their work reads (`jsonl-resume`: DST's size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mb_per_s: Option<f64>,
}

/// Why there are no figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Failed {
    pub(crate) scenario: String,
    pub(crate) system: String,
    pub(crate) items: u64,
    pub(crate) error: String,
}

impl Figures {
    /// Figures from measured runs, given the seconds of each (at least
    /// one): the median goes in `seconds`, and with several runs the
    /// fastest and slowest in `seconds_min` and `seconds_max`.
    /// `items_per_s` is derived from the median, and the floats are rounded
    /// to what the clock can tell apart.
    ///
    /// # Panics
    ///
    /// When `runs` is empty.
    pub(crate) fn new(
        scenario: &str,
        system: &str,
        items: u64,
        runs: &[f64],
        peak_rss_bytes: u64,
        ideal_seconds: Option<f64>,
        bytes: Option<u64>,
    ) -> Self {
        let mut runs = runs.to_vec();
        runs.sort_by(f64::total_cmp);
        let seconds = runs[runs.len() / 2];
        let spread = (runs.len() > 1).then(|| (runs[0], runs[runs.len() - 1]));
        let items_per_s = if seconds > 0.0 {
            round(items as f64 / seconds, 1)
        } else {
            f64::INFINITY
        };
        Figures {
            scenario: scenario.to_owned(),
            system: system.to_owned(),
            items,
            seconds: round(seconds, 6),
            items_per_s,
            peak_rss_bytes,
            ideal_seconds: ideal_seconds.map(|ideal| round(ideal, 6)),
            seconds_min: spread.map(|(min, _)| round(min, 6)),
            seconds_max: spread.map(|(_, max)| round(max, 6)),
            mb_per_s: bytes
                .filter(|_| seconds > 0.0)
                .map(|bytes| round(bytes as f64 / 1e6 / seconds, 1)),
        }
    }
}

impl Line {
    /// The scenario this line belongs to.
    pub(crate) fn scenario(&self) -> &str {
        match self {
            Line::Figures(figures) => &figures.scenario,
            Line::Failed(failed) => &failed.scenario,
        }
    }

    /// The system this line is about.
    pub(crate) fn system(&self) -> &str {
        match self {
            Line::Figures(figures) => &figures.system,
            Line::Failed(failed) => &failed.system,
        }
    }

    /// The items the system ran (or was to run).
    pub(crate) fn items(&self) -> u64 {
        match self {
            Line::Figures(figures) => figures.items,
            Line::Failed(failed) => failed.items,
        }
    }

    /// The figures, when the system ran.
    pub(crate) fn figures(&self) -> Option<&Figures> {
        match self {
            Line::Figures(figures) => Some(figures),
            Line::Failed(_) => None,
        }
    }

    /// Reads a line as [`Line::print`] writes it: the `error` form when
    /// the object has an `error` field, else figures.
    ///
    /// # Errors
    ///
    /// When a field the form needs is missing or has the wrong type.
    pub(crate) fn from_json(value: serde_json::Value) -> serde_json::Result<Line> {
        if value.get("error").is_some() {
            serde_json::from_value(value).map(Line::Failed)
        } else {
            serde_json::from_value(value).map(Line::Figures)
        }
    }

    /// Writes the line to stdout and flushes, so lines appear as they are
    /// measured even when stdout is a pipe.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn print(&self) -> io::Result<()> {
        let mut out = io::stdout().lock();
        serde_json::to_writer(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

/// `items_per_s` as written: a number, or `null` for an infinite rate.
fn infinite_when_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::INFINITY))
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_runs_give_the_median_and_the_spread_one_run_neither() {
        let many = Figures::new("s", "pipework", 10, &[3.0, 1.0, 2.0], 1, None, None);
        assert_eq!(many.seconds, 2.0);
        assert_eq!((many.seconds_min, many.seconds_max), (Some(1.0), Some(3.0)));
        assert_eq!(many.items_per_s, 5.0);
        let one = Figures::new("s", "pipework", 10, &[2.0], 1, None, None);
        assert_eq!((one.seconds_min, one.seconds_max), (None, None));
        let json = serde_json::to_string(&Line::Figures(one)).unwrap();
        assert!(!json.contains("seconds_min"), "{json}");
    }

    #[test]
    fn a_printed_line_reads_back_as_itself() {
        let lines = [
            Line::Figures(Figures::new(
                "s",
                "pipework",
                10,
                &[1.0, 2.0],
                7,
                Some(0.5),
                Some(10),
            )),
            Line::Figures(Figures::new("s", "pipework", 10, &[0.0], 7, None, None)),
            Line::Failed(Failed {
                scenario: "s".to_owned(),
                system: "paipa".to_owned(),
                items: 10,
                error: "exited with status 1".to_owned(),
            }),
        ];
        for line in lines {
            let json = serde_json::to_value(&line).unwrap();
            assert_eq!(Line::from_json(json).unwrap(), line);
        }
    }
}
