//! The human-readable summary on stderr: a table per scenario, then the
//! ratios the targets are stated in (pipework's items/s over each other
//! system's, seconds over the ideal, peak RSS across sizes). Which line
//! compares with which is [`crate::comparison`]'s rule, shared with
//! `pipework-bench report`.

use crate::comparison;
use crate::human::{mib, rate};
use crate::report::{Figures, Line};
use crate::scenario::Scenario;

/// Prints one scenario's table and ratios.
pub(crate) fn scenario(scenario: &Scenario, lines: &[Line]) {
    eprintln!();
    eprintln!("== {}: {}", scenario.name, scenario.work);
    if lines.is_empty() {
        eprintln!("   (nothing ran: every system of this scenario is a Python peer; add --peers)");
        return;
    }
    eprintln!(
        "   {:<26} {:>10} {:>10} {:>14} {:>10} {:>8}",
        "system", "items", "seconds", "items/s", "peak RSS", "×ideal"
    );
    for line in lines {
        match line {
            Line::Figures(f) => eprintln!(
                "   {:<26} {:>10} {:>10.3} {:>14} {:>10} {:>8}",
                f.system,
                f.items,
                f.seconds,
                rate(f.items_per_s),
                mib(f.peak_rss_bytes),
                f.ideal_seconds
                    .map(|ideal| format!("{:.3}", f.seconds / ideal))
                    .unwrap_or_default(),
            ),
            Line::Failed(f) => eprintln!("   {:<26} {:>10} error: {}", f.system, f.items, f.error),
        }
    }
    ratios(lines);
}

fn ratios(lines: &[Line]) {
    for comparison in comparison::all(lines) {
        let (reference, other) = (comparison.reference, comparison.other);
        // Several lines of one system are several sizes: say which.
        let several = lines.iter().filter(|l| l.system() == other.system).count() > 1;
        let at = if several {
            format!(" at {} items", other.items)
        } else {
            String::new()
        };
        eprintln!(
            "   {} / {}: {:.2}× items/s{at}",
            reference.system,
            other.system,
            comparison.ratio()
        );
    }
    // The same system at several sizes: how peak memory grows with the input.
    let figures: Vec<&Figures> = lines.iter().filter_map(Line::figures).collect();
    // Lines come size by size, so a system's lines are not adjacent.
    let mut systems: Vec<&str> = Vec::new();
    for figures in &figures {
        if !systems.contains(&figures.system.as_str()) {
            systems.push(&figures.system);
        }
    }
    for system in systems {
        let runs: Vec<&&Figures> = figures.iter().filter(|f| f.system == system).collect();
        if let (Some(small), Some(large)) = (
            runs.iter().min_by_key(|f| f.items),
            runs.iter().max_by_key(|f| f.items),
        ) {
            if small.items != large.items {
                eprintln!(
                    "   {system}: peak RSS at {} items / at {} items = {:.3}",
                    large.items,
                    small.items,
                    large.peak_rss_bytes as f64 / small.peak_rss_bytes as f64
                );
            }
        }
    }
}

/// Prints the closing count of lines and errors.
pub(crate) fn closing(lines: &[Line]) {
    let failed = lines
        .iter()
        .filter(|line| matches!(line, Line::Failed(_)))
        .count();
    let scenarios = {
        let mut names: Vec<&str> = lines.iter().map(Line::scenario).collect();
        names.dedup();
        names.len()
    };
    eprintln!();
    eprintln!(
        "pipework-bench: {} lines over {scenarios} scenarios, {failed} with an error",
        lines.len()
    );
}
