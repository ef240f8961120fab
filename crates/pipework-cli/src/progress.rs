//! Progress while running and the summary at the end: an indicatif bar on a
//! terminal, plain periodic lines otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use pipework::internal::lock;
use pipework::jsonl::Report;
use tokio::task::JoinHandle;

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the display takes the counts: the library reports every row,
/// and formatting each of millions of rows would cost more than the rows.
/// A timer raises a flag this often, so a row costs one atomic swap rather
/// than a clock read and a lock.
const REFRESH_EVERY: Duration = Duration::from_millis(50);

/// The progress display of one run.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    latest: Arc<Mutex<Latest>>,
    ticker: Option<JoinHandle<()>>,
    /// Set every [`REFRESH_EVERY`] by `refresh`: the next counts are taken.
    due: Arc<AtomicBool>,
    refresh: JoinHandle<()>,
    /// A check was shown since the counts were last taken.
    checked: AtomicBool,
    started: Instant,
    /// Calls tried again (`--retries`), counted by the calls.
    retried: Arc<AtomicU64>,
    /// Printed after the summary (where the failed keys are listed).
    footer: Mutex<Option<String>>,
}

/// What the display last took.
#[derive(Debug, Default)]
struct Latest {
    report: Report,
    /// The rows to do, once counted.
    total: u64,
    /// While a file is checked before the first row: what and how far.
    checking: Option<String>,
}

impl Progress {
    /// Starts the display; the rows to do are not known yet (see [`Self::total`]).
    pub(crate) fn start() -> Progress {
        let latest = Arc::new(Mutex::new(Latest::default()));
        let started = Instant::now();
        let retried = Arc::new(AtomicU64::new(0));
        let due = Arc::new(AtomicBool::new(true));
        let refresh = tokio::spawn({
            let due = Arc::clone(&due);
            async move {
                let mut every = tokio::time::interval(REFRESH_EVERY);
                // Ends when `finish` aborts it, or with the runtime.
                loop {
                    every.tick().await;
                    due.store(true, Ordering::Relaxed);
                }
            }
        });
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            let template = "{bar:30} {pos}/{len} rows  {msg}  {rate}  ETA {eta}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                // indicatif's own {per_sec} prints "2.3563/s": one decimal
                // and the unit read better.
                bar.set_style(style.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1} rows/s", state.per_sec());
                    },
                ));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            return Progress {
                bar: Some(bar),
                latest,
                ticker: None,
                due,
                refresh,
                checked: AtomicBool::new(false),
                started,
                retried,
                footer: Mutex::new(None),
            };
        }
        let shared = latest.clone();
        let counted = Arc::clone(&retried);
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(PLAIN_EVERY);
            every.tick().await;
            // The rows done at the last line, for the recent rate.
            let mut before: Option<(Instant, u64)> = None;
            loop {
                every.tick().await;
                let text = {
                    let latest = lock(&shared);
                    match &latest.checking {
                        Some(checking) => {
                            format!("{checking}; {:.1}s", started.elapsed().as_secs_f64())
                        }
                        None => {
                            let (now, done) = (Instant::now(), latest.report.rows_done());
                            let eta = before.and_then(|(then, was)| {
                                eta(
                                    done - was.min(done),
                                    now - then,
                                    latest.total - done.min(latest.total),
                                )
                            });
                            before = Some((now, done));
                            let mut text = line(
                                &latest.report,
                                latest.total,
                                started.elapsed(),
                                counted.load(Ordering::Relaxed),
                            );
                            if let Some(eta) = eta {
                                text.push_str(&format!(
                                    ", ETA {}",
                                    humantime::format_duration(eta)
                                ));
                            }
                            text
                        }
                    }
                };
                say(&text);
            }
        });
        Progress {
            bar: None,
            latest,
            ticker: Some(ticker),
            due,
            refresh,
            checked: AtomicBool::new(false),
            started,
            retried,
            footer: Mutex::new(None),
        }
    }

    /// The counter of retried calls the summary shows.
    pub(crate) fn retried(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.retried)
    }

    /// Sets the number of rows to do.
    pub(crate) fn total(&self, total: u64) {
        lock(&self.latest).total = total;
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// Shows how far the check of `what` (SRC, DST) is: `bytes_total` is
    /// `None` for a stream, whose size is known only at its end.
    pub(crate) fn checking(&self, what: &str, bytes_read: u64, bytes_total: Option<u64>) {
        let text = match bytes_total {
            Some(total) => format!(
                "checking {what}: {} of {}",
                HumanBytes(bytes_read),
                HumanBytes(total)
            ),
            None => format!("reading {what}: {} so far", HumanBytes(bytes_read)),
        };
        if let Some(bar) = &self.bar {
            bar.set_message(text.clone());
        }
        lock(&self.latest).checking = Some(text);
        self.checked.store(true, Ordering::Relaxed);
    }

    /// Records the counts so far (the library calls this after every row,
    /// and while it checks DST); the display takes them every
    /// [`REFRESH_EVERY`], and always the check's.
    pub(crate) fn update(&self, report: &Report) {
        if let Some(checking) = report.checking {
            self.checking("DST", checking.bytes_read, Some(checking.bytes_total));
            return;
        }
        // Right after a check, the first counts replace its message at once.
        let was_checking = self.checked.swap(false, Ordering::Relaxed);
        if !self.due.swap(false, Ordering::Relaxed) && !was_checking {
            return;
        }
        let mut latest = lock(&self.latest);
        latest.checking = None;
        latest.report = report.clone();
        drop(latest);
        if let Some(bar) = &self.bar {
            bar.set_position(report.rows_done());
            bar.set_message(keys(report));
        }
    }

    /// Prints a message above the bar (or as a plain line).
    pub(crate) fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("pipework: {message}")),
            None => say(message),
        }
    }

    /// Removes the bar and prints the summary line, from `report` or, for a
    /// run that ended in an error, from the last counts seen.
    pub(crate) fn finish(&self, report: Option<&Report>) {
        let (latest, total) = {
            let latest = lock(&self.latest);
            (latest.report.clone(), latest.total)
        };
        let report = report.unwrap_or(&latest);
        if let Some(ticker) = &self.ticker {
            // The ticker only prints; stopping it loses nothing.
            ticker.abort();
        }
        // It only raises a flag.
        self.refresh.abort();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        say(&line(
            report,
            total,
            self.started.elapsed(),
            self.retried.load(Ordering::Relaxed),
        ));
        if let Some(footer) = lock(&self.footer).take() {
            say(&footer);
        }
    }

    /// A line [`finish`](Self::finish) prints right after the summary.
    pub(crate) fn footer(&self, text: String) {
        *lock(&self.footer) = Some(text);
    }
}

/// Prints `pipework: TEXT` on stderr. A failed write is dropped, never a
/// panic (as `eprintln!` would): after a SIGHUP the terminal is gone, and
/// the run still has to end cleanly and sync DST.
pub(crate) fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "pipework: {text}");
}

impl Drop for Progress {
    /// A run that ended without [`Progress::finish`] (an error on the way)
    /// still stops its timer tasks, rather than leaving them to the runtime.
    fn drop(&mut self) {
        self.refresh.abort();
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
    }
}

fn keys(report: &Report) -> String {
    format!(
        "keys: {} computed, {} reused, {} failed",
        report.keys_computed, report.keys_reused, report.keys_failed
    )
}

fn line(report: &Report, total: u64, elapsed: Duration, retried: u64) -> String {
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
    if retried > 0 {
        text.push_str(&format!(", {retried} retried"));
    }
    // A flatmap writes any number of rows per source row: say how many.
    if report.lines_written != report.rows_written {
        text.push_str(&format!(
            "; {} row{} added to DST",
            report.lines_written,
            if report.lines_written == 1 { "" } else { "s" }
        ));
    }
    let keys_rate = if secs > 0.0 {
        report.keys_computed as f64 / secs
    } else {
        0.0
    };
    text.push_str(&format!(
        "); {}; {:.1}s, {:.1} rows/s, {:.1} keys/s",
        keys(report),
        secs,
        rate,
        keys_rate
    ));
    text
}

/// The time left at the recent rate (`done` rows in `over`), to the second;
/// `None` while nothing moved or nothing is left.
fn eta(done: u64, over: Duration, left: u64) -> Option<Duration> {
    if done == 0 || left == 0 || over.is_zero() {
        return None;
    }
    let secs = left as f64 * over.as_secs_f64() / done as f64;
    Duration::try_from_secs_f64(secs.round()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_gives_rates_with_one_decimal_and_their_units() {
        let mut report = Report::default();
        report.rows_written = 10;
        report.lines_written = 25;
        report.keys_computed = 4;
        let text = line(&report, 40, Duration::from_secs(4), 3);
        assert!(text.starts_with("10/40 rows (10 written now"), "{text}");
        assert!(text.contains(", 3 retried"), "{text}");
        assert!(text.contains("; 25 rows added to DST"), "{text}");
        assert!(text.ends_with("4.0s, 2.5 rows/s, 1.0 keys/s"), "{text}");
    }

    #[test]
    fn the_eta_comes_from_the_recent_rate() {
        // 10 rows in the last 5 s, 30 left: 15 s.
        assert_eq!(
            eta(10, Duration::from_secs(5), 30),
            Some(Duration::from_secs(15))
        );
        assert_eq!(eta(0, Duration::from_secs(5), 30), None, "nothing moved");
        assert_eq!(eta(10, Duration::from_secs(5), 0), None, "nothing left");
    }
}
