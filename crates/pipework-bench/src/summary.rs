//! The human-readable summary on stderr: a table per scenario, then the
//! ratios the targets are stated in (pipework's items/s over each other
//! system's, seconds over the ideal, peak RSS across sizes).

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
    let figures: Vec<&Figures> = lines
        .iter()
        .filter_map(|line| match line {
            Line::Figures(f) => Some(f),
            Line::Failed(_) => None,
        })
        .collect();
    ratios(&figures);
}

fn ratios(figures: &[&Figures]) {
    let Some(reference) = figures
        .iter()
        .find(|f| f.system.starts_with("pipework"))
        .or_else(|| figures.first())
    else {
        return;
    };
    for other in figures {
        if other.system == reference.system {
            continue;
        }
        eprintln!(
            "   {} / {}: {:.2}× items/s",
            reference.system,
            other.system,
            reference.items_per_s / other.items_per_s
        );
    }
    // The same system at several sizes: how peak memory grows with the input.
    let mut systems: Vec<&str> = figures.iter().map(|f| f.system).collect();
    systems.dedup();
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

fn rate(items_per_s: f64) -> String {
    if items_per_s >= 1e6 {
        format!("{:.2}M/s", items_per_s / 1e6)
    } else if items_per_s >= 1e3 {
        format!("{:.1}k/s", items_per_s / 1e3)
    } else {
        format!("{items_per_s:.1}/s")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
