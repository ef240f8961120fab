//! The text of BENCHMARKS.md: a header saying where and how the run was
//! made, then per scenario a table of its lines, its chart and, for a
//! scenario at several sizes, what the figures say about scaling.
//!
//! Every number in the text comes from the run file. A line with an error
//! is a table row that says `could not run: <reason>` (or the harness's
//! own `not run at this size: <why>`), never an empty row.

use std::fmt::Write;

use super::chart;
use super::known_causes;
use super::run_file::{RunFile, ScenarioLines};
use super::trend::{Memory, Trend};
use crate::comparison;
use crate::human::{count, mib, rate, seconds};
use crate::meta::{Meta, UNKNOWN};
use crate::report::Line;
use crate::scenarios;

/// The whole of BENCHMARKS.md for `run`.
pub(crate) fn benchmarks_md(run: &RunFile) -> String {
    let mut out = String::new();
    header(&mut out, run);
    for scenario in &run.scenarios {
        section(&mut out, scenario);
    }
    out
}

fn header(out: &mut String, run: &RunFile) {
    let lines: Vec<&Line> = run.lines().collect();
    let failed = lines.iter().filter(|l| l.figures().is_none()).count();
    // Writing into a String cannot fail, here and below.
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `pipework-bench report` from the JSON lines of a \
         `pipework-bench` run. Items/s and seconds are the work alone, \
         timed inside each system's own process; peak RSS is that \
         process's. See crates/pipework-bench/README.md for the scenarios.\n"
    );
    let metas: Vec<Option<&Meta>> = if run.metas.is_empty() {
        vec![None]
    } else {
        run.metas.iter().map(Some).collect()
    };
    for (index, meta) in metas.iter().enumerate() {
        if metas.len() > 1 {
            let _ = writeln!(out, "Run {} of {}:\n", index + 1, metas.len());
        }
        meta_table(out, *meta);
    }
    let _ = writeln!(
        out,
        "{} lines over {} scenarios, {failed} of them without figures.\n",
        lines.len(),
        run.scenarios.len()
    );
}

fn meta_table(out: &mut String, meta: Option<&Meta>) {
    let field = |get: fn(&Meta) -> String| meta.map_or_else(|| UNKNOWN.to_owned(), get);
    let _ = writeln!(out, "| | |\n|---|---|");
    let machine = meta.map_or_else(
        || UNKNOWN.to_owned(),
        |m| {
            let cores = m
                .cores
                .map_or_else(|| UNKNOWN.to_owned(), |n| n.to_string());
            format!("{cores} cores, {}, Linux {}", m.cpu, m.kernel)
        },
    );
    let runs = meta.map_or_else(
        || UNKNOWN.to_owned(),
        |m| {
            if m.runs > 1 {
                format!(
                    "{}: seconds are the median, with the fastest–slowest run after it",
                    m.runs
                )
            } else {
                m.runs.to_string()
            }
        },
    );
    for (name, value) in [
        ("machine", machine),
        ("date", field(|m| m.date.clone())),
        ("commit", field(|m| m.commit.clone())),
        ("command", field(|m| format!("`{}`", m.command))),
        ("runs per line", runs),
    ] {
        let _ = writeln!(out, "| {name} | {} |", cell(&value));
    }
    let _ = writeln!(out);
}

fn section(out: &mut String, scenario: &ScenarioLines) {
    let _ = writeln!(out, "## {}\n", scenario.name);
    if let Some(known) = scenarios::find(&scenario.name) {
        let _ = writeln!(out, "Work: {}.\n", known.work);
    }
    table(out, &scenario.lines);
    let kind = if scenario.is_scaling() {
        "items/s and peak RSS against the input size"
    } else {
        "items/s per system"
    };
    let _ = writeln!(
        out,
        "![{}: {kind}]({})\n",
        scenario.name,
        chart::relative_path(&scenario.name)
    );
    if scenario.is_scaling() {
        scaling_words(out, scenario);
    }
}

fn table(out: &mut String, lines: &[Line]) {
    let reference = comparison::reference_system(lines);
    let with_ideal = lines
        .iter()
        .any(|l| l.figures().is_some_and(|f| f.ideal_seconds.is_some()));
    let mut columns = vec!["system", "items", "items/s", "seconds"];
    if with_ideal {
        columns.push("seconds / ideal");
    }
    columns.push("peak RSS");
    let ratio_column = reference.map(|r| format!("{r} items/s ÷ this"));
    if let Some(column) = &ratio_column {
        columns.push(column);
    }
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(
        out,
        "|---|{}",
        "--:|".repeat(columns.len().saturating_sub(1))
    );
    for (index, line) in lines.iter().enumerate() {
        let mut cells = vec![cell(line.system()), count(line.items())];
        match line {
            Line::Figures(f) => {
                cells.push(rate(f.items_per_s));
                cells.push(match (f.seconds_min, f.seconds_max) {
                    (Some(min), Some(max)) => {
                        format!("{} ({}–{})", seconds(f.seconds), seconds(min), seconds(max))
                    }
                    _ => seconds(f.seconds),
                });
                if with_ideal {
                    cells.push(
                        f.ideal_seconds
                            .map(|ideal| format!("{:.3}", f.seconds / ideal))
                            .unwrap_or_default(),
                    );
                }
                cells.push(mib(f.peak_rss_bytes));
            }
            Line::Failed(f) => {
                cells.push(cell(&unavailable(&f.error)));
                cells.push("—".to_owned());
                if with_ideal {
                    cells.push("—".to_owned());
                }
                cells.push("—".to_owned());
            }
        }
        if ratio_column.is_some() {
            let ratio = if Some(line.system()) == reference {
                "(reference)".to_owned()
            } else {
                comparison::for_line(lines, index)
                    .map_or_else(|| "—".to_owned(), |c| format!("{:.2}×", c.ratio()))
            };
            cells.push(ratio);
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(out);
}

/// What an error line's cell says.
fn unavailable(error: &str) -> String {
    if error.starts_with(scenarios::NOT_RUN) {
        error.to_owned()
    } else {
        format!("could not run: {error}")
    }
}

/// The known causes of the growth `trend` shows, as sentences to follow
/// its verdict; nothing for a curve that did not grow.
fn causes(scenario: &str, system: &str, trend: &Trend<'_>) -> String {
    let Some(cause) = known_causes::of(scenario, system) else {
        return String::new();
    };
    let mut words = String::new();
    if let (false, Some(why)) = (trend.is_flat(), cause.cost) {
        let _ = write!(words, " Why the cost rises: {why}.");
    }
    if let (false, Some(why)) = (trend.memory() == Memory::Bounded, cause.memory) {
        let _ = write!(words, " Why memory grows: {why}.");
    }
    words
}

fn scaling_words(out: &mut String, scenario: &ScenarioLines) {
    for system in scenario.systems() {
        match Trend::of(&scenario.lines, system) {
            Some(trend) => {
                // A size it did not run at is in the table; say so here too.
                let missing = scenario
                    .lines
                    .iter()
                    .filter(|l| l.system() == system && l.figures().is_none())
                    .filter(|l| l.items() > trend.largest.items)
                    .map(|l| count(l.items()))
                    .collect::<Vec<_>>();
                let gap = if missing.is_empty() {
                    String::new()
                } else {
                    format!(" (no figures at {}: see the table)", missing.join(", "))
                };
                let _ = writeln!(
                    out,
                    "- **{}**: {}; {}{gap}.{}",
                    cell(system),
                    trend.cost_words(),
                    trend.memory_words(),
                    causes(&scenario.name, system, &trend)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "- **{}**: figures at fewer than two sizes, so no trend.",
                    cell(system)
                );
            }
        }
    }
    let _ = writeln!(out);
}

/// Text made safe for a table cell: no `|` ending the cell early, no `<`
/// taken for HTML, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made-up lines: pipework twice as fast as the baseline, a peer that
    /// failed with a message holding a `|`, and a scaling scenario.
    const RUN: &str = r#"{"meta":{"cores":2,"cpu":"Test CPU","kernel":"6.0-test","date":"2026-01-01T00:00:00Z","commit":"abc1234","command":"pipework-bench --runs 3","runs":3}}
{"scenario":"pipeline-trivial","system":"pipework","items":1000000,"seconds":0.5,"items_per_s":2000000.0,"peak_rss_bytes":4194304,"ideal_seconds":null,"seconds_min":0.45,"seconds_max":0.6}
{"scenario":"pipeline-trivial","system":"crossbeam-threads","items":1000000,"seconds":1.0,"items_per_s":1000000.0,"peak_rss_bytes":4194304,"ideal_seconds":null}
{"scenario":"pipeline-trivial","system":"paipa","items":10000,"error":"exited with status 1: a | b"}
{"scenario":"jsonl-resume","system":"pipework","items":10000,"seconds":0.01,"items_per_s":1000000.0,"peak_rss_bytes":4194304,"ideal_seconds":null}
{"scenario":"jsonl-resume","system":"pipework","items":10000000,"seconds":10.0,"items_per_s":1000000.0,"peak_rss_bytes":4718592,"ideal_seconds":null}
"#;

    fn report() -> String {
        benchmarks_md(&RunFile::parse(RUN).unwrap())
    }

    #[test]
    fn a_known_cause_follows_only_a_curve_that_grew() {
        // In RUN, jsonl-resume's memory stays bounded: no cause.
        assert!(!report().contains("Why memory grows"), "{}", report());
        let grown = RUN.replace(
            r#""items":10000000,"seconds":10.0,"items_per_s":1000000.0,"peak_rss_bytes":4718592"#,
            r#""items":10000000,"seconds":10.0,"items_per_s":1000000.0,"peak_rss_bytes":471859200"#,
        );
        let text = benchmarks_md(&RunFile::parse(&grown).unwrap());
        let words = text
            .lines()
            .find(|l| l.starts_with("- **pipework**") && l.contains("peak RSS ×"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            words.contains("Why memory grows: a resume indexes every key"),
            "{words}"
        );
        assert!(!words.contains("Why the cost rises"), "{words}");
    }

    #[test]
    fn the_header_shows_the_meta_line_and_unknown_without_one() {
        let text = report();
        assert!(
            text.contains("| machine | 2 cores, Test CPU, Linux 6.0-test |"),
            "{text}"
        );
        assert!(text.contains("| commit | abc1234 |"), "{text}");
        assert!(
            text.contains("| command | `pipework-bench --runs 3` |"),
            "{text}"
        );
        let without: String = RUN.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let text = benchmarks_md(&RunFile::parse(&without).unwrap());
        assert!(text.contains("| commit | unknown |"), "{text}");
        assert!(text.contains("| machine | unknown |"), "{text}");
    }

    #[test]
    fn the_ratio_is_pipeworks_rate_over_the_others() {
        let text = report();
        let row = text
            .lines()
            .find(|l| l.starts_with("| crossbeam-threads |"))
            .unwrap();
        assert!(row.ends_with("| 2.00× |"), "{row}");
        assert!(text.contains(
            "| system | items | items/s | seconds | peak RSS | pipework items/s ÷ this |"
        ));
    }

    #[test]
    fn an_error_line_is_a_row_saying_why() {
        let text = report();
        let row = text.lines().find(|l| l.starts_with("| paipa |")).unwrap();
        assert!(
            row.contains("could not run: exited with status 1: a \\| b"),
            "{row}"
        );
        assert_eq!(
            unavailable("not run at this size: slow"),
            "not run at this size: slow"
        );
    }

    #[test]
    fn the_spread_follows_the_median_and_charts_are_linked() {
        let text = report();
        assert!(text.contains("| 0.500 (0.450–0.600) |"), "{text}");
        assert!(text.contains("(benchmarks/pipeline-trivial.svg)"), "{text}");
        assert!(text.contains("(benchmarks/jsonl-resume.svg)"), "{text}");
    }

    #[test]
    fn a_scenario_at_several_sizes_says_how_it_scales() {
        let text = report();
        let words = text
            .lines()
            .find(|l| l.starts_with("- **pipework**"))
            .unwrap();
        assert!(words.contains("cost per item stays flat"), "{words}");
        assert!(words.contains("memory stays bounded"), "{words}");
    }
}
