//! Showing the wait: an indicatif bar on a terminal; otherwise (CI logs) a plain line on
//! stderr every few seconds, since indicatif draws nothing there.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::status::JobStatus;

/// How often the plain line is printed at most.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

const TEMPLATE: &str =
    "{spinner} {msg} [{elapsed_precise}] [{bar:30}] {pos}/{len} rows {rate} ETA {eta}";

/// The progress display of one job.
pub struct Progress {
    mode: Mode,
    job: String,
}

enum Mode {
    Off,
    Bar(ProgressBar),
    Plain {
        started: Instant,
        last: Option<Instant>,
    },
}

impl Progress {
    /// `enabled` is false for `--no-progress`.
    pub fn new(job: &str, total: u64, enabled: bool) -> Self {
        let mode = if !enabled {
            Mode::Off
        } else {
            let bar = ProgressBar::new(total);
            if bar.is_hidden() {
                Mode::Plain {
                    started: Instant::now(),
                    last: None,
                }
            } else {
                let style = ProgressStyle::with_template(TEMPLATE)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .with_key(
                        "rate",
                        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            write!(w, "{:.0} rows/s", state.per_sec()).ok();
                        },
                    )
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_message("submitted");
                bar.enable_steady_tick(Duration::from_millis(200));
                Mode::Bar(bar)
            }
        };
        Self {
            mode,
            job: job.to_owned(),
        }
    }

    pub fn update(&mut self, status: &JobStatus) {
        match &mut self.mode {
            Mode::Off => {}
            Mode::Bar(bar) => {
                bar.set_length(status.total);
                bar.set_position(status.done());
                bar.set_message(status.state.clone());
            }
            Mode::Plain { started, last } => {
                let now = Instant::now();
                if last.is_some_and(|last| now - last < PLAIN_EVERY) && !status.is_final {
                    return;
                }
                *last = Some(now);
                let seconds = (now - *started).as_secs_f64();
                let rate = if seconds > 0.0 {
                    status.done() as f64 / seconds
                } else {
                    0.0
                };
                eprintln!(
                    "job {}: {} {}/{} rows ({rate:.1} rows/s)",
                    self.job,
                    status.state,
                    status.done(),
                    status.total
                );
            }
        }
    }

    /// A warning (a retried poll, say), printed even without progress, above any bar.
    pub fn note(&self, message: &str) {
        match &self.mode {
            Mode::Bar(bar) => bar.println(message),
            Mode::Off | Mode::Plain { .. } => eprintln!("{message}"),
        }
    }

    /// Leaves the bar at its last state.
    pub fn finish(&self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish();
        }
    }
}

impl Drop for Progress {
    /// An error path must not leave the steady tick redrawing under the error message.
    fn drop(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}
