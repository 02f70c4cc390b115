//! Showing the wait on stderr: on a terminal, one bar whose status line is updated in place
//! (retries included); otherwise (CI logs, pipes) plain lines, few of them: a line per state
//! change or every few seconds, and one line when the server stops answering and when it
//! answers again, whatever the number of retries in between.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::http_error::HttpError;
use super::status::JobStatus;

/// How often a plain progress line is printed at most (state changes are printed at once).
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often a plain line repeats that the server still does not answer.
const OUTAGE_EVERY: Duration = Duration::from_secs(30);

const BAR: &str = "{spinner} {msg} [{elapsed_precise}] [{bar:30}] {pos}/{len} rows {rate}{left}";
const COUNTER: &str = "{spinner} {msg} [{elapsed_precise}] {pos} rows done {rate}";

/// What to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Show {
    /// The bar or progress lines (`--no-progress` and `--quiet` turn them off).
    pub progress: bool,
    /// Retry notes (`--quiet` turns them off).
    pub notes: bool,
}

/// The progress display of one job.
pub struct Progress {
    bar: Option<ProgressBar>,
    show: Show,
    job: String,
    started: Instant,
    last_line: Option<(Instant, String)>,
    outage: Option<Outage>,
}

struct Outage {
    since: Instant,
    noted: Instant,
}

impl Progress {
    pub fn new(job: &str, total: Option<u64>, show: Show) -> Self {
        let bar = (show.progress && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            bar.set_style(style(total.is_some()));
            bar.set_message("submitted");
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            show,
            job: job.to_owned(),
            started: Instant::now(),
            last_line: None,
            outage: None,
        }
    }

    /// A status read from the server.
    pub fn update(&mut self, status: &JobStatus) {
        if let Some(outage) = self.outage.take() {
            let secs = outage.since.elapsed().as_secs_f64();
            self.note(&format!(
                "job {}: the server answers again (after {secs:.1} s)",
                self.job
            ));
        }
        if let Some(bar) = &self.bar {
            if let Some(total) = status.total {
                if bar.length() != Some(total) {
                    bar.set_style(style(true));
                    bar.set_length(total);
                }
            }
            bar.set_position(status.done());
            bar.set_message(status.state.clone());
            return;
        }
        if !self.show.progress {
            return;
        }
        let now = Instant::now();
        let due = match &self.last_line {
            None => true,
            Some((at, state)) => *state != status.state || now - *at >= PLAIN_EVERY,
        };
        if due || status.is_final {
            self.last_line = Some((now, status.state.clone()));
            let seconds = (now - self.started).as_secs_f64();
            let rate = match status.done() {
                done if done > 0 && seconds > 0.0 => {
                    format!(" ({:.1} rows/s)", done as f64 / seconds)
                }
                _ => String::new(),
            };
            eprintln!("job {}: {}{rate}", self.job, status.brief());
        }
    }

    /// A poll that got no usable answer; the next is in `retry_in`.
    pub fn unreachable(&mut self, error: &HttpError, retry_in: Duration) {
        let now = Instant::now();
        if let Some(bar) = &self.bar {
            self.outage.get_or_insert(Outage {
                since: now,
                noted: now,
            });
            bar.set_message(format!(
                "{}: retrying in {:.1} s (check --url and that the server is running)",
                error.brief(),
                retry_in.as_secs_f64()
            ));
            return;
        }
        match &mut self.outage {
            None => {
                self.outage = Some(Outage {
                    since: now,
                    noted: now,
                });
                self.note(&format!(
                    "job {}: {error}; retrying with backoff until it answers",
                    self.job
                ));
            }
            Some(outage) if now - outage.noted >= OUTAGE_EVERY => {
                outage.noted = now;
                let secs = (now - outage.since).as_secs();
                let brief = error.brief();
                self.note(&format!(
                    "job {}: still no answer after {secs} s ({brief}); retrying",
                    self.job
                ));
            }
            Some(_) => {}
        }
    }

    /// A warning (above the bar on a terminal); nothing with `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.show.notes {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }

    /// Leaves the bar where the job ended: a cancelled job's bar stays at the rows that ran.
    pub fn finish(&self, status: &JobStatus) {
        if let Some(bar) = &self.bar {
            if status.job_failed {
                bar.abandon_with_message(format!(
                    "{}: {} rows skipped",
                    status.state, status.skipped
                ));
            } else {
                bar.finish_with_message(status.state.clone());
            }
        }
    }
}

impl Drop for Progress {
    /// An error path or Ctrl-C must not leave the steady tick redrawing under the message.
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

/// The bar (known total) or a counter; the rate and the ETA only once rows have run.
fn style(known_total: bool) -> ProgressStyle {
    let template = if known_total { BAR } else { COUNTER };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                if state.pos() > 0 {
                    write!(w, "{:.0} rows/s", state.per_sec()).ok();
                }
            },
        )
        .with_key(
            "left",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let running = state.pos() > 0 && state.len().is_some_and(|len| state.pos() < len);
                if running && state.per_sec() > 0.0 {
                    write!(w, " ETA {}", HumanDuration(state.eta())).ok();
                }
            },
        )
        .progress_chars("=> ")
}
