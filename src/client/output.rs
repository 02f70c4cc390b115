//! Where a command's words go: its result on stdout (a person's text, or exactly one JSON
//! document with `--json`), everything else on stderr (progress, notes, errors), and only
//! errors with `--quiet`.

use std::fmt::Display;
use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use super::args::OutputArgs;
use super::error::ClientError;
use super::exit::Exit;
use super::http_error::HttpError;
use super::resume::Tracker;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
}

impl From<OutputArgs> for Output {
    fn from(args: OutputArgs) -> Self {
        Self {
            json: args.json,
            quiet: args.quiet,
        }
    }
}

impl Output {
    /// A line for a person on stderr, unless `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// Notes for [`super::retry::Retry::run`]: the whole error once, then a short line.
    pub fn retry_notes(&self) -> impl FnMut(&HttpError, Duration) + '_ {
        let mut told = false;
        move |error, delay| {
            let secs = delay.as_secs_f64();
            if told {
                self.note(&format!("still {}; retrying in {secs:.1} s", error.brief()));
            } else {
                told = true;
                self.note(&format!("{error}; retrying in {secs:.1} s"));
            }
        }
    }

    /// The command's result: `human` as text, or `json` as the one JSON document.
    pub fn result(&self, human: &dyn Display, json: &Value) {
        if self.json {
            print_json(json);
        } else {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not the command's failure.
            writeln!(stdout, "{human}").ok();
        }
    }

    /// A failed command: the message on stderr (always), and with `--json` the error as the
    /// one JSON document.
    pub fn error(&self, error: &ClientError) -> Exit {
        let exit = error.exit();
        eprintln!("error: {error}");
        if self.json {
            print_json(&json!({"error": {
                "kind": exit.name(),
                "exitCode": exit.code(),
                "message": error.to_string(),
            }}));
        }
        exit
    }

    /// Ctrl-C: the job keeps running, and how to come back to it (even with `--quiet`).
    pub fn interrupted(&self, tracker: &Tracker) -> Exit {
        let exit = Exit::Interrupted;
        let (text, mut document) = match tracker.followed() {
            Some(job) => (
                format!("interrupted: {}", tracker.message(&job)),
                tracker.json(&job),
            ),
            None if tracker.submits() => (
                "interrupted before the server named a job: if the submit was under way, check \
                 `bulkops list` for it before submitting again"
                    .to_owned(),
                json!({}),
            ),
            None => ("interrupted".to_owned(), json!({})),
        };
        eprintln!("{text}");
        if self.json {
            document["interrupted"] = json!(true);
            document["outcome"] = json!(exit.name());
            document["exitCode"] = json!(exit.code());
            print_json(&document);
        }
        exit
    }
}

fn print_json(value: &Value) {
    let mut stdout = std::io::stdout().lock();
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    writeln!(stdout, "{text}").ok();
}
