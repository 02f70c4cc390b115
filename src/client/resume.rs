//! The job a command follows, so that whatever stops the client (Ctrl-C, `--timeout-secs`)
//! can say that the job keeps running and give the exact commands to follow or cancel it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Value};

use super::args::{Api, DEFAULT_URL};
use super::status::JobStatus;

/// What the resume commands need to repeat of the command line.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `--url`, when not the default.
    pub url: Option<String>,
    /// The input file, for `wait --input` (and so the failed file).
    pub input: Option<PathBuf>,
    /// `--failed`, when given.
    pub failed: Option<PathBuf>,
    /// The command creates a job (`submit`): stopped before the answer, it may exist.
    pub submits: bool,
}

impl Context {
    pub fn new(url: &str, input: Option<&Path>, failed: Option<&Path>) -> Self {
        Self {
            url: (url.trim_end_matches('/') != DEFAULT_URL).then(|| url.to_owned()),
            input: input.map(Path::to_path_buf),
            failed: failed.map(Path::to_path_buf),
            submits: false,
        }
    }

    /// The context of `submit`.
    pub fn submitting(mut self) -> Self {
        self.submits = true;
        self
    }
}

/// The job being followed, once it exists.
#[derive(Debug, Clone)]
pub struct Followed {
    pub id: String,
    pub api: Api,
    pub last: Option<JobStatus>,
}

/// Shared between a command and whoever stops it.
#[derive(Debug, Default)]
pub struct Tracker {
    context: Context,
    job: Mutex<Option<Followed>>,
}

impl Tracker {
    pub fn new(context: Context) -> Self {
        Self {
            context,
            job: Mutex::new(None),
        }
    }

    /// The job exists (it was accepted, or named on the command line).
    pub fn follow(&self, id: &str, api: Api) {
        if let Ok(mut job) = self.job.lock() {
            *job = Some(Followed {
                id: id.to_owned(),
                api,
                last: None,
            });
        }
    }

    /// Its latest status.
    pub fn seen(&self, status: &JobStatus) {
        if let Ok(mut job) = self.job.lock() {
            if let Some(job) = job.as_mut() {
                job.last = Some(status.clone());
            }
        }
    }

    /// Whether the command creates a job.
    pub fn submits(&self) -> bool {
        self.context.submits
    }

    pub fn followed(&self) -> Option<Followed> {
        self.job.lock().ok().and_then(|job| job.clone())
    }

    /// `bulkops wait ID [--url U] [--input F] [--failed P]`.
    pub fn wait_command(&self, job: &Followed) -> String {
        let mut words = vec!["bulkops".to_owned(), "wait".into(), job.id.clone()];
        self.push_url(&mut words);
        for (flag, path) in [
            ("--input", &self.context.input),
            ("--failed", &self.context.failed),
        ] {
            if let Some(path) = path {
                words.push(flag.into());
                words.push(quote(&path.to_string_lossy()));
            }
        }
        words.join(" ")
    }

    /// `bulkops cancel ID [--url U]`; none for an upload (that API cannot cancel).
    pub fn cancel_command(&self, job: &Followed) -> Option<String> {
        if job.api != Api::Mfp {
            return None;
        }
        let mut words = vec!["bulkops".to_owned(), "cancel".into(), job.id.clone()];
        self.push_url(&mut words);
        Some(words.join(" "))
    }

    fn push_url(&self, words: &mut Vec<String>) {
        if let Some(url) = &self.context.url {
            words.push("--url".into());
            words.push(quote(url));
        }
    }

    /// For a person: the job keeps running, and how to come back to it.
    pub fn message(&self, job: &Followed) -> String {
        let last = job
            .last
            .as_ref()
            .map(|s| format!(" (last seen {})", s.brief()))
            .unwrap_or_default();
        let mut text = format!(
            "job {} keeps running on the server{last}.\n  follow it:  {}",
            job.id,
            self.wait_command(job)
        );
        match self.cancel_command(job) {
            Some(cancel) => text.push_str(&format!("\n  cancel it:  {cancel}")),
            None => text.push_str("\n  (the account upload API cannot cancel an upload)"),
        }
        text
    }

    /// For a script: the same, as JSON members.
    pub fn json(&self, job: &Followed) -> Value {
        json!({
            "jobId": job.id,
            "api": job.api.to_string(),
            "state": job.last.as_ref().map(|s| s.state.clone()),
            "waitCommand": self.wait_command(job),
            "cancelCommand": self.cancel_command(job),
        })
    }
}

/// A word as a POSIX shell reads it back.
fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_owned(), |q| q.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_repeat_what_differs_from_the_defaults() {
        let tracker = Tracker::new(Context::new(
            "http://127.0.0.1:4000",
            Some(Path::new("my ids.csv")),
            None,
        ));
        tracker.follow("9f1c", Api::Mfp);
        let job = tracker.followed().unwrap();
        assert_eq!(
            tracker.wait_command(&job),
            "bulkops wait 9f1c --url http://127.0.0.1:4000 --input 'my ids.csv'"
        );
        assert_eq!(
            tracker.cancel_command(&job).as_deref(),
            Some("bulkops cancel 9f1c --url http://127.0.0.1:4000")
        );

        let plain = Tracker::new(Context::new("http://127.0.0.1:3000/", None, None));
        plain.follow("17", Api::Accounts);
        let job = plain.followed().unwrap();
        assert_eq!(plain.wait_command(&job), "bulkops wait 17");
        assert_eq!(plain.cancel_command(&job), None);
        assert!(plain.message(&job).contains("cannot cancel"));
    }
}
