//! Progress while running and the summary at the end: an indicatif bar on a
//! terminal, plain periodic lines otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use pipework::internal::lock;
use pipework::jsonl::Report;
use tokio::task::JoinHandle;

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The progress display of one run.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    latest: Arc<Mutex<Report>>,
    ticker: Option<JoinHandle<()>>,
    started: Instant,
    total: u64,
}

impl Progress {
    /// Starts the display for `total` source rows.
    pub(crate) fn start(total: u64) -> Progress {
        let latest = Arc::new(Mutex::new(Report::default()));
        let started = Instant::now();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let template = "{bar:30} {pos}/{len} rows  {msg}  {per_sec}  ETA {eta}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            return Progress {
                bar: Some(bar),
                latest,
                ticker: None,
                started,
                total,
            };
        }
        let shared = latest.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(PLAIN_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let report = lock(&shared).clone();
                eprintln!("pipework: {}", line(&report, total, started.elapsed()));
            }
        });
        Progress {
            bar: None,
            latest,
            ticker: Some(ticker),
            started,
            total,
        }
    }

    /// Records the counts so far (the library calls this after every row).
    pub(crate) fn update(&self, report: &Report) {
        if let Some(bar) = &self.bar {
            bar.set_position(report.rows_done());
            bar.set_message(keys(report));
        }
        *lock(&self.latest) = report.clone();
    }

    /// Prints a message above the bar (or as a plain line).
    pub(crate) fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("pipework: {message}")),
            None => eprintln!("pipework: {message}"),
        }
    }

    /// Removes the bar and prints the summary line, from `report` or, for a
    /// run that ended in an error, from the last counts seen.
    pub(crate) fn finish(&self, report: Option<&Report>) {
        let latest = lock(&self.latest).clone();
        let report = report.unwrap_or(&latest);
        if let Some(ticker) = &self.ticker {
            // The ticker only prints; stopping it loses nothing.
            ticker.abort();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!(
            "pipework: {}",
            line(report, self.total, self.started.elapsed())
        );
    }
}

fn keys(report: &Report) -> String {
    format!(
        "keys: {} computed, {} reused, {} failed",
        report.keys_computed, report.keys_reused, report.keys_failed
    )
}

fn line(report: &Report, total: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        report.rows_written as f64 / secs
    } else {
        0.0
    };
    let mut text = format!(
        "{}/{} rows ({} written now, {} already there",
        report.rows_done(),
        total,
        report.rows_written,
        report.rows_resumed
    );
    if report.rows_failed > 0 {
        text.push_str(&format!(", {} of failed keys", report.rows_failed));
    }
    if report.rows_invalid > 0 {
        text.push_str(&format!(", {} invalid", report.rows_invalid));
    }
    text.push_str(&format!(
        "); {}; {:.1}s, {:.1} rows/s",
        keys(report),
        secs,
        rate
    ));
    text
}
