//! `pipework-bench report`: BENCHMARKS.md and its charts from the JSON
//! lines of a run.
//!
//! A run prints a meta line, then one line per (scenario, system, size);
//! saved to a file, that is everything a report needs:
//!
//! ```text
//! pipework-bench --peers --scaling > run.jsonl
//! pipework-bench report run.jsonl --out .
//! ```
//!
//! The report is made of the run file alone, so it can be written again
//! later, or on another machine, without measuring anything:
//!
//! - [`run_file`] reads the lines back and groups them by scenario;
//! - [`markdown`] writes the header (machine, date, commit, command, runs)
//!   and per scenario a table, with pipework's items/s over each other
//!   system's by the rule of [`crate::comparison`] (the one the stderr
//!   summary uses);
//! - [`trend`] turns a scenario at several sizes into words: whether the
//!   cost per item stays flat and whether memory stays bounded;
//! - [`chart`] draws one SVG per scenario: bars for one size, items/s and
//!   peak RSS against the size for several.

mod chart;
mod known_causes;
mod markdown;
mod run_file;
mod trend;
mod write;

pub(crate) use write::write;
