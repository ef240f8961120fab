//! The SVG chart of one scenario, drawn with plotters' SVG backend.
//!
//! - A scenario at one size gets a horizontal bar per system: its items/s,
//!   the value written at the bar's end; pipework systems in one colour,
//!   the others in another.
//! - A scenario at several sizes gets two panels side by side, both with
//!   the items a system ran on a log axis: items/s (a flat line is a
//!   constant cost per item) and peak RSS (a flat line is bounded memory),
//!   one line per system.
//!
//! Only systems with figures are drawn; the report's table says why the
//! others have none. Text goes into the SVG as `<text>` elements for the
//! viewer to render: plotters is built without a font backend, so its
//! layout uses a width estimate per character and no font files are read.

use std::path::Path;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::run_file::ScenarioLines;
use crate::human::{count, rate};
use crate::report::Figures;

/// Width and height of a bar chart, before the bars' rows.
const BAR_WIDTH: u32 = 900;
/// Height per bar.
const BAR_ROW: u32 = 36;
/// Size of a two-panel scaling chart.
const SCALING_SIZE: (u32, u32) = (1200, 480);

/// The colour of pipework's bars.
const PIPEWORK: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
/// The colour of every other system's bars.
const OTHER: RGBColor = RGBColor(0xa0, 0xa0, 0xa0);

/// The folder, beside BENCHMARKS.md, that holds the charts.
pub(crate) const FOLDER: &str = "benchmarks";

/// The chart's path relative to BENCHMARKS.md: `benchmarks/jsonl-map.svg`.
/// Characters other than letters, digits, `-` and `_` become `_`, so a
/// scenario name read from a file cannot point elsewhere.
pub(crate) fn relative_path(scenario: &str) -> String {
    let name: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{FOLDER}/{name}.svg")
}

/// Draws `scenario`'s chart into `path`: bars for one size, the two
/// scaling panels for several.
///
/// # Errors
///
/// When plotters cannot draw or the file cannot be written.
pub(crate) fn draw(scenario: &ScenarioLines, path: &Path) -> anyhow::Result<()> {
    let drawn = if scenario.is_scaling() {
        scaling(scenario, path)
    } else {
        bars(scenario, path)
    };
    drawn.with_context(|| format!("drawing {}", path.display()))
}

/// The lines with a finite rate, which are the ones a chart can place.
fn drawable(scenario: &ScenarioLines) -> Vec<&Figures> {
    scenario
        .lines
        .iter()
        .filter_map(|line| line.figures())
        .filter(|f| f.items_per_s.is_finite())
        .collect()
}

fn bars(scenario: &ScenarioLines, path: &Path) -> anyhow::Result<()> {
    let figures = drawable(scenario);
    let rows = figures.len().max(1);
    let height = 90 + BAR_ROW * rows as u32;
    let root = SVGBackend::new(path, (BAR_WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = figures
        .iter()
        .map(|f| f.items_per_s)
        .fold(0.0, f64::max)
        .max(1.0);
    let longest_name = figures.iter().map(|f| f.system.len()).max().unwrap_or(8);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            if figures.is_empty() {
                format!("{}: no system has figures", scenario.name)
            } else {
                format!("{}: items/s", scenario.name)
            },
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(20 + 8 * longest_name as u32)
        // Room past the longest bar for its value; a discrete range
        // includes its end, so `0..rows - 1` has `rows` segments.
        .build_cartesian_2d(0.0..top * 1.2, (0..rows - 1).into_segmented())?;
    // Segment 0 is at the bottom: the first system gets the top one.
    let slot = |index: usize| rows - 1 - index;
    let names: Vec<&str> = figures.iter().map(|f| f.system.as_str()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&|value| match value {
            SegmentValue::CenterOf(segment) => (rows - 1)
                .checked_sub(*segment)
                .and_then(|index| names.get(index))
                .copied()
                .unwrap_or("")
                .to_owned(),
            _ => String::new(),
        })
        .x_label_formatter(&|value| rate(*value))
        .x_desc("items/s")
        .draw()?;
    chart.draw_series(
        Histogram::horizontal(&chart)
            .margin(6)
            .style_func(|segment, _| {
                let is_pipework = figures
                    .get(slot(*index_of(segment)))
                    .is_some_and(|f| f.system.starts_with("pipework"));
                if is_pipework { PIPEWORK } else { OTHER }.filled()
            })
            .data(
                figures
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (slot(i), f.items_per_s)),
            ),
    )?;
    chart.draw_series(figures.iter().enumerate().map(|(i, f)| {
        Text::new(
            format!(" {} ({} items)", rate(f.items_per_s), count(f.items)),
            (f.items_per_s, SegmentValue::CenterOf(slot(i))),
            TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        )
    }))?;
    root.present()?;
    Ok(())
}

/// The bar index of a histogram segment.
fn index_of(value: &SegmentValue<usize>) -> &usize {
    match value {
        SegmentValue::Exact(index) | SegmentValue::CenterOf(index) => index,
        // A histogram only asks for the style of segments it has data for.
        SegmentValue::Last => &0,
    }
}

fn scaling(scenario: &ScenarioLines, path: &Path) -> anyhow::Result<()> {
    let figures = drawable(scenario);
    let root = SVGBackend::new(path, SCALING_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!("{}: scaling with the input size", scenario.name),
        ("sans-serif", 22),
    )?;
    let panels = root.split_evenly((1, 2));
    let mut systems: Vec<&str> = Vec::new();
    for f in &figures {
        if !systems.contains(&f.system.as_str()) {
            systems.push(&f.system);
        }
    }
    panel(
        &panels[0],
        &figures,
        &systems,
        "items/s",
        |f| f.items_per_s,
        &|value| rate(*value),
    )?;
    panel(
        &panels[1],
        &figures,
        &systems,
        "peak RSS (MiB)",
        |f| f.peak_rss_bytes as f64 / (1024.0 * 1024.0),
        &|value| format!("{value:.0}"),
    )?;
    root.present()?;
    Ok(())
}

/// One panel of a scaling chart: `value` of each system's lines against
/// their items on a log axis.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    figures: &[&Figures],
    systems: &[&str],
    what: &str,
    value: impl Fn(&Figures) -> f64,
    label: &dyn Fn(&f64) -> String,
) -> anyhow::Result<()> {
    let fewest = figures.iter().map(|f| f.items).min().unwrap_or(1).max(1) as f64;
    let most = figures.iter().map(|f| f.items).max().unwrap_or(1).max(1) as f64;
    let top = figures
        .iter()
        .map(|f| value(f))
        .fold(0.0, f64::max)
        .max(1e-9);
    let mut chart = ChartBuilder::on(area)
        .caption(what, ("sans-serif", 16))
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d((fewest / 2.0..most * 2.0).log_scale(), 0.0..top * 1.15)?;
    chart
        .configure_mesh()
        .x_desc("items (log scale)")
        .y_desc(what)
        .x_label_formatter(&|items| count(items.round() as u64))
        .y_label_formatter(label)
        .draw()?;
    for (index, system) in systems.iter().enumerate() {
        let colour = Palette99::pick(index).to_rgba();
        let mut points: Vec<(f64, f64)> = figures
            .iter()
            .filter(|f| f.system == *system)
            .map(|f| (f.items as f64, value(f)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(*system)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|point| Circle::new(point, 4, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
