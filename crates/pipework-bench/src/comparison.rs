//! Which line compares with which: the rule behind every "pipework is N×
//! faster" figure, shared by the stderr summary and `pipework-bench report`.
//!
//! Within one scenario the *reference* system is the first system with
//! figures whose name starts with `pipework` (`pipework`, `pipework-w1`),
//! or the first system with figures when no pipework system ran. Every
//! other system's line is compared with the reference's line of the same
//! size: a run prints one line per system and size, sizes in order, so the
//! k-th line of a system is its k-th size, and it pairs with the k-th line
//! of the reference (error lines count, so one failed size does not shift
//! the pairs after it). A scenario with one size compares every other
//! system with the reference's only line.
//!
//! The ratio is the reference's items/s over the other's: above 1 the
//! reference is faster. Items/s, not seconds, because a slow peer may run
//! fewer items than pipework (`System::items`).

use crate::report::{Figures, Line};

/// One system's line against the reference's line of the same size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Comparison<'a> {
    /// The reference system's figures.
    pub(crate) reference: &'a Figures,
    /// The other system's figures.
    pub(crate) other: &'a Figures,
}

impl Comparison<'_> {
    /// The reference's items/s over the other's.
    pub(crate) fn ratio(&self) -> f64 {
        self.reference.items_per_s / self.other.items_per_s
    }
}

/// The reference system of one scenario's lines (see the module docs), or
/// `None` when no line has figures.
pub(crate) fn reference_system(lines: &[Line]) -> Option<&str> {
    let mut figures = lines.iter().filter_map(Line::figures);
    let first = figures.clone().next()?;
    Some(
        figures
            .find(|f| f.system.starts_with("pipework"))
            .unwrap_or(first)
            .system
            .as_str(),
    )
}

/// Line `index` of `lines` against the reference's line of the same size,
/// when both have figures and the line is not the reference's own.
pub(crate) fn for_line(lines: &[Line], index: usize) -> Option<Comparison<'_>> {
    let reference = reference_system(lines)?;
    let line = &lines[index];
    let other = line.figures()?;
    if other.system == reference {
        return None;
    }
    let position = lines[..index]
        .iter()
        .filter(|l| l.system() == other.system)
        .count();
    let of_reference: Vec<&Line> = lines.iter().filter(|l| l.system() == reference).collect();
    // One reference line serves every size (the single-size case, and
    // a reference that ran at fewer sizes than the other system).
    let paired = of_reference
        .get(position)
        .or_else(|| (of_reference.len() == 1).then(|| &of_reference[0]))?;
    Some(Comparison {
        reference: paired.figures()?,
        other,
    })
}

/// Every comparison of one scenario's lines, in line order.
pub(crate) fn all(lines: &[Line]) -> Vec<Comparison<'_>> {
    (0..lines.len())
        .filter_map(|index| for_line(lines, index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Failed;

    /// A made-up figures line: `items` in one second.
    fn ran(system: &str, items: u64) -> Line {
        Line::Figures(Figures::new("s", system, items, &[1.0], 1, None, None))
    }

    fn failed(system: &str, items: u64) -> Line {
        Line::Failed(Failed {
            scenario: "s".to_owned(),
            system: system.to_owned(),
            items,
            error: "no".to_owned(),
        })
    }

    #[test]
    fn the_first_pipework_system_is_the_reference_and_faster_means_above_one() {
        let lines = [
            ran("crossbeam-threads", 1_000),
            ran("pipework-w1", 4_000),
            ran("pipework-w2", 2_000),
        ];
        assert_eq!(reference_system(&lines), Some("pipework-w1"));
        let ratios: Vec<(&str, f64)> = all(&lines)
            .iter()
            .map(|c| (c.other.system.as_str(), c.ratio()))
            .collect();
        assert_eq!(ratios, [("crossbeam-threads", 4.0), ("pipework-w2", 2.0)]);
    }

    #[test]
    fn without_pipework_the_first_system_with_figures_is_the_reference() {
        let lines = [failed("a", 1), ran("b", 10), ran("c", 5)];
        assert_eq!(reference_system(&lines), Some("b"));
        assert_eq!(all(&lines)[0].ratio(), 2.0);
    }

    #[test]
    fn each_size_compares_with_the_reference_at_the_same_size() {
        // Two sizes, size-major as a run prints them; the reference failed
        // at the second, so the peer's second line has nothing to compare.
        let lines = [
            ran("pipework", 100),
            ran("peer", 50),
            failed("pipework", 1_000),
            ran("peer", 500),
        ];
        let found = all(&lines);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].other.items, found[0].ratio()), (50, 2.0));
    }

    #[test]
    fn a_single_reference_line_serves_a_peer_run_at_a_smaller_size() {
        // Python peers run size / divisor items: still one size.
        let lines = [ran("pipework", 1_000_000), ran("paipa", 10_000)];
        assert_eq!(all(&lines)[0].ratio(), 100.0);
    }
}
