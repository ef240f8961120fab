//! A run's stdout read back: its meta line (if any) and its lines,
//! grouped by scenario in the order the run printed them.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::meta::{self, Meta};
use crate::report::Line;

/// Everything a report is made from.
#[derive(Debug)]
pub(crate) struct RunFile {
    /// The meta line of each run in the file (one, unless run files were
    /// concatenated; none for a file from before meta lines).
    pub(crate) metas: Vec<Meta>,
    /// Each scenario's lines, scenarios in order of first appearance.
    pub(crate) scenarios: Vec<ScenarioLines>,
}

/// The lines of one scenario, in the order they were printed: size by
/// size, each size's systems in the scenario's order.
#[derive(Debug)]
pub(crate) struct ScenarioLines {
    /// The scenario's name.
    pub(crate) name: String,
    /// Its lines.
    pub(crate) lines: Vec<Line>,
}

impl RunFile {
    /// Reads the run file at `path`.
    ///
    /// # Errors
    ///
    /// When it cannot be read, or a line is not one a run prints (the
    /// error names the line).
    pub(crate) fn read(path: &Path) -> anyhow::Result<RunFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        RunFile::parse(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Reads a run file's text. Blank lines are skipped.
    ///
    /// # Errors
    ///
    /// When a line is not JSON, or not a meta, figures or error line.
    pub(crate) fn parse(text: &str) -> anyhow::Result<RunFile> {
        let mut run = RunFile {
            metas: Vec::new(),
            scenarios: Vec::new(),
        };
        for (index, text) in text.lines().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            let number = index + 1;
            let mut value: Value = serde_json::from_str(text)
                .with_context(|| format!("line {number}: not JSON: {text:.80}"))?;
            if let Some(meta) = value.get_mut(meta::KEY) {
                let meta = serde_json::from_value(meta.take())
                    .with_context(|| format!("line {number}: not a meta line"))?;
                run.metas.push(meta);
                continue;
            }
            let line = Line::from_json(value)
                .with_context(|| format!("line {number}: not a benchmark line: {text:.80}"))?;
            run.push(line);
        }
        if run.scenarios.is_empty() {
            bail!("no benchmark lines");
        }
        Ok(run)
    }

    fn push(&mut self, line: Line) {
        match self
            .scenarios
            .iter_mut()
            .find(|scenario| scenario.name == line.scenario())
        {
            Some(scenario) => scenario.lines.push(line),
            None => self.scenarios.push(ScenarioLines {
                name: line.scenario().to_owned(),
                lines: vec![line],
            }),
        }
    }

    /// Every line of every scenario.
    pub(crate) fn lines(&self) -> impl Iterator<Item = &Line> {
        self.scenarios.iter().flat_map(|s| s.lines.iter())
    }
}

impl ScenarioLines {
    /// The systems, in order of first appearance.
    pub(crate) fn systems(&self) -> Vec<&str> {
        let mut systems: Vec<&str> = Vec::new();
        for line in &self.lines {
            if !systems.contains(&line.system()) {
                systems.push(line.system());
            }
        }
        systems
    }

    /// Whether the scenario ran at several sizes: some system has lines
    /// for two different item counts. (A Python peer on a tenth of the
    /// items is still one size: its line is its only one.)
    pub(crate) fn is_scaling(&self) -> bool {
        self.systems().into_iter().any(|system| {
            let mut items = self
                .lines
                .iter()
                .filter(|line| line.system() == system)
                .map(Line::items);
            items
                .next()
                .is_some_and(|first| items.any(|other| other != first))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made-up lines in the shape a run prints.
    const RUN: &str = r#"{"meta":{"cores":2,"cpu":"Test CPU","kernel":"6.0-test","date":"2026-01-01T00:00:00Z","commit":"abc1234","command":"pipework-bench --quick","runs":3}}
{"scenario":"one","system":"pipework","items":1000,"seconds":0.5,"items_per_s":2000.0,"peak_rss_bytes":4194304,"ideal_seconds":null,"seconds_min":0.4,"seconds_max":0.7}
{"scenario":"one","system":"paipa","items":10,"error":"exited with status 1: boom"}

{"scenario":"many","system":"pipework","items":10,"seconds":0.0,"items_per_s":null,"peak_rss_bytes":1,"ideal_seconds":0.1}
{"scenario":"many","system":"pipework","items":100,"seconds":1.0,"items_per_s":100.0,"peak_rss_bytes":1,"ideal_seconds":0.1}
"#;

    #[test]
    fn meta_figures_and_errors_read_back_grouped_by_scenario() {
        let run = RunFile::parse(RUN).unwrap();
        assert_eq!(run.metas.len(), 1);
        assert_eq!(run.metas[0].cpu, "Test CPU");
        assert_eq!(run.metas[0].runs, 3);
        let names: Vec<&str> = run.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["one", "many"]);
        let one = &run.scenarios[0];
        assert_eq!(one.systems(), ["pipework", "paipa"]);
        let figures = one.lines[0].figures().unwrap();
        assert_eq!(
            (figures.seconds_min, figures.seconds_max),
            (Some(0.4), Some(0.7))
        );
        assert!(matches!(&one.lines[1], Line::Failed(f) if f.error.ends_with("boom")));
        // `null` is how an infinite rate is written.
        let many = &run.scenarios[1];
        assert_eq!(many.lines[0].figures().unwrap().items_per_s, f64::INFINITY);
    }

    #[test]
    fn one_size_per_system_is_not_scaling_several_are() {
        let run = RunFile::parse(RUN).unwrap();
        assert!(!run.scenarios[0].is_scaling());
        assert!(run.scenarios[1].is_scaling());
    }

    #[test]
    fn a_file_without_a_meta_line_still_reads() {
        let without: String = RUN.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let run = RunFile::parse(&without).unwrap();
        assert!(run.metas.is_empty());
        assert_eq!(run.lines().count(), 4);
    }

    #[test]
    fn a_line_that_is_not_a_run_line_is_named_by_number() {
        let err = RunFile::parse("{\"scenario\":\"x\"}\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
        let err = RunFile::parse("== pipeline-trivial\n").unwrap_err();
        assert!(format!("{err:#}").contains("not JSON"), "{err:#}");
        assert!(RunFile::parse("\n").is_err());
    }
}
