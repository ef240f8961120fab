//! `pipework-bench report RUN.jsonl [--out DIR]`: read the run file, draw
//! each scenario's chart into DIR/benchmarks/, write DIR/BENCHMARKS.md.

use std::process::ExitCode;

use anyhow::Context;

use super::chart;
use super::markdown::benchmarks_md;
use super::run_file::RunFile;
use crate::cli::ReportOptions;

/// The report's file name inside the output directory.
pub(crate) const BENCHMARKS_MD: &str = "BENCHMARKS.md";

/// Writes the report of `options.run` into `options.out`, replacing the
/// files a previous report wrote there.
///
/// # Errors
///
/// When the run file cannot be read or holds a line that is not a run's,
/// or a file cannot be written.
pub(crate) fn write(options: &ReportOptions) -> anyhow::Result<ExitCode> {
    let run = RunFile::read(&options.run)?;
    let charts = options.out.join(chart::FOLDER);
    std::fs::create_dir_all(&charts).with_context(|| format!("creating {}", charts.display()))?;
    for scenario in &run.scenarios {
        chart::draw(
            scenario,
            &options.out.join(chart::relative_path(&scenario.name)),
        )?;
    }
    let path = options.out.join(BENCHMARKS_MD);
    std::fs::write(&path, benchmarks_md(&run))
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "pipework-bench: wrote {} and {} charts in {}",
        path.display(),
        run.scenarios.len(),
        charts.display()
    );
    Ok(ExitCode::SUCCESS)
}
