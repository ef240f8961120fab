//! A progress bar per step, drawn on stderr while a pipeline runs.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{select, tick, Sender};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::handle::StepRuntime;

/// Redraws the bars on a timer until told to finish.
pub(crate) struct ProgressMonitor {
    done: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

fn draw(bars: &[ProgressBar], steps: &[StepRuntime]) {
    for (bar, step) in bars.iter().zip(steps) {
        let s = step.stats();
        bar.set_position(s.output);
        bar.set_message(format!(
            "in {} skipped {} failed {} queue {}/{}",
            s.input, s.skipped, s.failed, s.queued, s.capacity
        ));
    }
}

impl ProgressMonitor {
    pub(crate) fn start(steps: Arc<Vec<StepRuntime>>) -> Self {
        let (done, done_rx) = crossbeam_channel::bounded::<()>(0);
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template(
            "{prefix:>16} {spinner} out {pos:>10} {per_sec:>12} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars: Vec<ProgressBar> = steps
            .iter()
            .map(|s| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(s.name.clone());
                bar
            })
            .collect();
        let thread = std::thread::Builder::new()
            .name("pipework-progress".to_string())
            .spawn(move || {
                let ticker = tick(Duration::from_millis(200));
                loop {
                    select! {
                        recv(ticker) -> _ => draw(&bars, &steps),
                        recv(done_rx) -> _ => break,
                    }
                }
                draw(&bars, &steps);
                bars.iter().for_each(ProgressBar::finish);
            })
            .ok();
        ProgressMonitor { done, thread }
    }

    pub(crate) fn finish(self) {
        let ProgressMonitor { done, thread } = self;
        drop(done);
        if let Some(t) = thread {
            if t.join().is_err() {
                tracing::warn!("progress bar thread panicked");
            }
        }
    }
}
