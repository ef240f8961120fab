//! What a scenario run at several sizes says about one system, in words
//! computed from its figures: does the cost per item stay flat as the
//! input grows, and does the memory stay bounded?
//!
//! - **Cost per item** is flat when items/s at the largest size the system
//!   ran is within [`FLAT_TOLERANCE`] (25%) of its best items/s at any
//!   size. Smaller sizes are often slower (start-up costs weigh more), so
//!   the largest is compared with the best, not with the smallest.
//! - **Memory** is read as an exponent: peak RSS grows as items^e between
//!   the smallest and the largest size, `e = ln(RSS ratio) / ln(items
//!   ratio)`. Below [`BOUNDED_EXPONENT`] (0.1: at most ×2 over a ×1000
//!   input) memory stays bounded; at or above [`LINEAR_EXPONENT`] it grows
//!   about in proportion to the input; in between it grows, more slowly
//!   than the input.

use crate::human::{count, mib, rate};
use crate::report::{Figures, Line};

/// How far below its best items/s the largest size may fall and still
/// count as flat.
pub(crate) const FLAT_TOLERANCE: f64 = 0.25;

/// The RSS exponent below which memory counts as bounded.
pub(crate) const BOUNDED_EXPONENT: f64 = 0.1;

/// The RSS exponent from which memory counts as growing with the input.
pub(crate) const LINEAR_EXPONENT: f64 = 0.8;

/// One system's figures across sizes.
#[derive(Debug)]
pub(crate) struct Trend<'a> {
    /// Its line at the fewest items.
    pub(crate) smallest: &'a Figures,
    /// Its line at the most items.
    pub(crate) largest: &'a Figures,
    /// Its line with the highest items/s.
    pub(crate) best: &'a Figures,
}

/// How peak RSS grows with the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Memory {
    /// Exponent below [`BOUNDED_EXPONENT`].
    Bounded,
    /// Exponent from [`BOUNDED_EXPONENT`] to below [`LINEAR_EXPONENT`].
    Sublinear,
    /// Exponent [`LINEAR_EXPONENT`] or more.
    WithTheInput,
}

impl<'a> Trend<'a> {
    /// The trend of `system` over `lines`, when it has finite figures at
    /// two or more item counts.
    pub(crate) fn of(lines: &'a [Line], system: &'a str) -> Option<Trend<'a>> {
        let figures: Vec<&Figures> = lines
            .iter()
            .filter_map(Line::figures)
            .filter(|f| f.system == system && f.items_per_s.is_finite() && f.peak_rss_bytes > 0)
            .collect();
        let smallest = *figures.iter().min_by_key(|f| f.items)?;
        let largest = *figures.iter().max_by_key(|f| f.items)?;
        let best = *figures
            .iter()
            .max_by(|a, b| a.items_per_s.total_cmp(&b.items_per_s))?;
        (smallest.items < largest.items).then_some(Trend {
            smallest,
            largest,
            best,
        })
    }

    /// Whether the cost per item stays flat (see the module docs).
    pub(crate) fn is_flat(&self) -> bool {
        self.largest.items_per_s >= (1.0 - FLAT_TOLERANCE) * self.best.items_per_s
    }

    /// The exponent `e` of peak RSS ∝ items^e, smallest to largest size.
    pub(crate) fn rss_exponent(&self) -> f64 {
        let items = self.largest.items as f64 / self.smallest.items as f64;
        let rss = self.largest.peak_rss_bytes as f64 / self.smallest.peak_rss_bytes as f64;
        rss.ln() / items.ln()
    }

    /// How memory grows (see the module docs).
    pub(crate) fn memory(&self) -> Memory {
        let exponent = self.rss_exponent();
        if exponent < BOUNDED_EXPONENT {
            Memory::Bounded
        } else if exponent < LINEAR_EXPONENT {
            Memory::Sublinear
        } else {
            Memory::WithTheInput
        }
    }

    /// One sentence on the cost per item, with the figures it rests on.
    pub(crate) fn cost_words(&self) -> String {
        let (largest, best) = (self.largest, self.best);
        let at_largest = format!(
            "{} at {} items",
            rate(largest.items_per_s),
            count(largest.items)
        );
        if std::ptr::eq(largest, best) {
            return format!(
                "cost per item stays flat: its best rate, {at_largest}, is at the largest size"
            );
        }
        let below = 1.0 - largest.items_per_s / best.items_per_s;
        let verdict = if self.is_flat() {
            format!(
                "cost per item stays flat: {at_largest} is {:.0}% below the best, within {:.0}%",
                below * 100.0,
                FLAT_TOLERANCE * 100.0
            )
        } else {
            format!(
                "cost per item rises with the size: {at_largest} is {:.0}% below the best, more than {:.0}%",
                below * 100.0,
                FLAT_TOLERANCE * 100.0
            )
        };
        format!(
            "{verdict} ({} at {} items)",
            rate(best.items_per_s),
            count(best.items)
        )
    }

    /// One sentence on memory, with the figures it rests on.
    pub(crate) fn memory_words(&self) -> String {
        let (small, large) = (self.smallest, self.largest);
        let growth = format!(
            "peak RSS ×{:.2} ({} → {}) while the items grow ×{:.0} ({} → {})",
            large.peak_rss_bytes as f64 / small.peak_rss_bytes as f64,
            mib(small.peak_rss_bytes),
            mib(large.peak_rss_bytes),
            large.items as f64 / small.items as f64,
            count(small.items),
            count(large.items),
        );
        let exponent = self.rss_exponent();
        match self.memory() {
            Memory::Bounded => format!("memory stays bounded: {growth}"),
            Memory::Sublinear => format!(
                "memory grows, more slowly than the input: {growth}, about items^{exponent:.2}"
            ),
            Memory::WithTheInput => {
                format!("memory grows with the input: {growth}, about items^{exponent:.2}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up line: `items` at `items_per_s`, `rss_mib` MiB.
    fn line(system: &str, items: u64, items_per_s: f64, rss_mib: u64) -> Line {
        let seconds = items as f64 / items_per_s;
        Line::Figures(Figures::new(
            "test",
            system,
            items,
            &[seconds],
            rss_mib << 20,
            None,
            None,
        ))
    }

    #[test]
    fn a_largest_size_within_a_quarter_of_the_best_is_flat() {
        // Best at 100k (1M/s); 10M at 800k/s is 20% below.
        let lines = [
            line("pipework", 10_000, 500_000.0, 4),
            line("pipework", 100_000, 1_000_000.0, 4),
            line("pipework", 10_000_000, 800_000.0, 5),
        ];
        let trend = Trend::of(&lines, "pipework").unwrap();
        assert!(trend.is_flat());
        let words = trend.cost_words();
        assert!(words.starts_with("cost per item stays flat"), "{words}");
        assert!(words.contains("20% below"), "{words}");
        assert!(words.contains("1.00M/s at 100k items"), "{words}");
    }

    #[test]
    fn a_largest_size_far_below_the_best_is_not_flat() {
        let lines = [
            line("pipework", 10_000, 1_000_000.0, 4),
            line("pipework", 10_000_000, 600_000.0, 4),
        ];
        let trend = Trend::of(&lines, "pipework").unwrap();
        assert!(!trend.is_flat());
        let words = trend.cost_words();
        assert!(words.starts_with("cost per item rises"), "{words}");
        assert!(words.contains("40% below"), "{words}");
    }

    #[test]
    fn rss_that_barely_moves_over_a_thousandfold_input_is_bounded() {
        let lines = [
            line("pipework", 10_000, 1e6, 4),
            line("pipework", 10_000_000, 1e6, 6),
        ];
        let trend = Trend::of(&lines, "pipework").unwrap();
        assert_eq!(trend.memory(), Memory::Bounded);
        let words = trend.memory_words();
        assert!(words.starts_with("memory stays bounded"), "{words}");
        assert!(words.contains("×1.50 (4.0 MiB → 6.0 MiB)"), "{words}");
        assert!(words.contains("×1000 (10k → 10M)"), "{words}");
    }

    #[test]
    fn rss_that_grows_like_the_input_is_not_bounded() {
        let proportional = [line("p", 1_000, 1e6, 4), line("p", 100_000, 1e6, 400)];
        let trend = Trend::of(&proportional, "p").unwrap();
        assert_eq!(trend.memory(), Memory::WithTheInput);
        assert!(trend
            .memory_words()
            .starts_with("memory grows with the input"));
        assert!((trend.rss_exponent() - 1.0).abs() < 1e-9);

        let slower = [line("p", 1_000, 1e6, 4), line("p", 100_000, 1e6, 40)];
        let trend = Trend::of(&slower, "p").unwrap();
        assert_eq!(trend.memory(), Memory::Sublinear);
        assert!(trend.memory_words().contains("items^0.50"));
    }

    #[test]
    fn one_size_or_only_errors_give_no_trend() {
        let lines = [
            line("pipework", 10_000, 1e6, 4),
            line("other", 20_000, 1e6, 4),
        ];
        assert!(Trend::of(&lines, "pipework").is_none());
        assert!(Trend::of(&lines, "missing").is_none());
    }
}
