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

use std::io::{self, Write};

use serde::Serialize;

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Line {
    /// The system ran and reproduced the scenario's check value.
    Figures(Figures),
    /// The system could not run, or ran and got the wrong result.
    Failed(Failed),
}

/// Measured figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figures {
    pub(crate) scenario: &'static str,
    pub(crate) system: &'static str,
    pub(crate) items: u64,
    pub(crate) seconds: f64,
    pub(crate) items_per_s: f64,
    pub(crate) peak_rss_bytes: u64,
    pub(crate) ideal_seconds: Option<f64>,
    /// Megabytes (10^6 bytes) read per second, for scenarios that say how
    /// many bytes their work reads (`jsonl-resume`: DST's size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mb_per_s: Option<f64>,
}

/// Why there are no figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Failed {
    pub(crate) scenario: &'static str,
    pub(crate) system: &'static str,
    pub(crate) items: u64,
    pub(crate) error: String,
}

impl Figures {
    /// Figures from a measured run; `items_per_s` is derived, and the
    /// floats are rounded to what the clock can tell apart.
    pub(crate) fn new(
        scenario: &'static str,
        system: &'static str,
        items: u64,
        seconds: f64,
        peak_rss_bytes: u64,
        ideal_seconds: Option<f64>,
        bytes: Option<u64>,
    ) -> Self {
        let items_per_s = if seconds > 0.0 {
            round(items as f64 / seconds, 1)
        } else {
            f64::INFINITY
        };
        Figures {
            scenario,
            system,
            items,
            seconds: round(seconds, 6),
            items_per_s,
            peak_rss_bytes,
            ideal_seconds: ideal_seconds.map(|ideal| round(ideal, 6)),
            mb_per_s: bytes
                .filter(|_| seconds > 0.0)
                .map(|bytes| round(bytes as f64 / 1e6 / seconds, 1)),
        }
    }
}

impl Line {
    /// The scenario this line belongs to.
    pub(crate) fn scenario(&self) -> &'static str {
        match self {
            Line::Figures(figures) => figures.scenario,
            Line::Failed(failed) => failed.scenario,
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

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}
