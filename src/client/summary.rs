//! What `submit` and `wait` report when the job is over, for a person and as JSON.

use std::fmt;

use serde_json::{json, Value};

use super::args::Api;
use super::exit::Exit;
use super::failed_file::FailedFile;

/// How many failed rows the summary lists.
pub const LISTED_FAILURES: usize = 5;

/// The outcome of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The job id: a UUID (mfp) or the bulk id (accounts).
    pub job_id: String,
    pub api: Api,
    /// The final state (mfp) or Status (accounts), as the API wrote it.
    pub state: String,
    /// The job as a whole failed or was cancelled; rows failing does not count.
    pub job_failed: bool,
    /// The job-level error of a failed job.
    pub error: Option<String>,
    pub total: Option<u64>,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Failed rows per error code, most frequent first.
    pub failures_by_code: Vec<(String, u64)>,
    /// The first failed rows, in input order.
    pub first_failures: Vec<FailedRow>,
    /// The failed-rows file (written only when the input is known).
    pub failed_file: FailedFile,
    /// Wall time of the wait.
    pub seconds: f64,
}

/// One failed row for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRow {
    /// 1-based row of the input, or the server's row number when the input is not known.
    pub row: Option<i64>,
    /// The line of the input file it is on.
    pub line: Option<u64>,
    pub code: String,
    pub message: String,
}

impl Summary {
    /// The command's exit status: every row succeeded, some failed, or the job did not complete.
    pub fn exit(&self) -> Exit {
        if self.job_failed {
            Exit::JobNotCompleted
        } else if self.failed > 0 {
            Exit::RowsFailed
        } else {
            Exit::Success
        }
    }

    pub fn to_json(&self) -> Value {
        let exit = self.exit();
        let (failed_file, private, removed) = match &self.failed_file {
            FailedFile::Written { path, private, .. } => {
                (Some(path.display().to_string()), Some(*private), None)
            }
            FailedFile::RemovedStale(path) => (None, None, Some(path.display().to_string())),
            FailedFile::None => (None, None, None),
        };
        json!({
            "jobId": self.job_id,
            "api": self.api.to_string(),
            "state": self.state,
            "outcome": exit.name(),
            "exitCode": exit.code(),
            "error": self.error,
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "failuresByCode": self.failures_by_code.iter()
                .map(|(code, n)| (code.clone(), json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "firstFailures": self.first_failures.iter().map(|f| json!({
                "row": f.row, "line": f.line, "code": f.code, "message": f.message,
            })).collect::<Vec<_>>(),
            "failedFile": failed_file,
            "failedFileHasSecrets": private,
            "removedStaleFailedFile": removed,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "job {} ({}): {} after {:.1} s",
            self.job_id, self.api, self.state, self.seconds
        )?;
        if let Some(error) = &self.error {
            writeln!(f, "  error: {error}")?;
        }
        write!(f, "  rows: ")?;
        if let Some(total) = self.total {
            write!(f, "{total} total, ")?;
        }
        write!(f, "{} succeeded, {} failed", self.succeeded, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped (never ran)", self.skipped)?;
        }
        if self.seconds > 0.0 && self.succeeded + self.failed > 0 {
            let rate = (self.succeeded + self.failed) as f64 / self.seconds;
            write!(f, " ({rate:.1} rows/s)")?;
        }
        writeln!(f)?;
        if !self.failures_by_code.is_empty() {
            let codes: Vec<String> = self
                .failures_by_code
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            writeln!(f, "  failures by code: {}", codes.join(", "))?;
        }
        for failure in &self.first_failures {
            let row = failure
                .row
                .map_or_else(|| "row ?".to_owned(), |r| format!("row {r}"));
            let line = failure
                .line
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            writeln!(f, "  {row}{line}: {} {}", failure.code, failure.message)?;
        }
        if self.failures_by_code.iter().map(|(_, n)| n).sum::<u64>()
            > self.first_failures.len() as u64
        {
            writeln!(f, "  ...")?;
        }
        match &self.failed_file {
            FailedFile::Written {
                path,
                rows,
                private,
            } => {
                let what = if self.skipped > 0 {
                    "failed and skipped rows"
                } else {
                    "failed rows"
                };
                let mode = if *private {
                    " (mode 0600: it holds secrets)"
                } else {
                    ""
                };
                write!(
                    f,
                    "  {rows} {what} written to {}{mode}; fix them and submit that file",
                    path.display()
                )
            }
            FailedFile::RemovedStale(path) => write!(
                f,
                "  no failed rows; removed {} left by an earlier run",
                path.display()
            ),
            FailedFile::None if self.failed + self.skipped > 0 => {
                write!(f, "  no failed-rows file (give --input to write one)")
            }
            FailedFile::None => write!(f, "  no failed rows"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn summary() -> Summary {
        Summary {
            job_id: "17".into(),
            api: Api::Accounts,
            state: "completedWithErrors".into(),
            job_failed: false,
            error: None,
            total: Some(10),
            succeeded: 3,
            failed: 7,
            skipped: 0,
            failures_by_code: vec![("NOT_AUTHORIZED".into(), 6), ("INVALID_FIELDS".into(), 1)],
            first_failures: (1..=5)
                .map(|row| FailedRow {
                    row: Some(row),
                    line: Some(row as u64 + 1),
                    code: "NOT_AUTHORIZED".into(),
                    message: "not allowed".into(),
                })
                .collect(),
            failed_file: FailedFile::Written {
                path: PathBuf::from("in.failed.csv"),
                rows: 7,
                private: true,
            },
            seconds: 2.0,
        }
    }

    #[test]
    fn display_lists_counts_codes_first_failures_and_the_file() {
        let summary = summary();
        let text = summary.to_string();
        assert!(
            text.starts_with("job 17 (accounts): completedWithErrors after 2.0 s\n"),
            "{text}"
        );
        assert!(
            text.contains("rows: 10 total, 3 succeeded, 7 failed (5.0 rows/s)"),
            "{text}"
        );
        assert!(
            text.contains("failures by code: NOT_AUTHORIZED 6, INVALID_FIELDS 1"),
            "{text}"
        );
        assert!(
            text.contains("  row 5 (line 6): NOT_AUTHORIZED not allowed\n  ...\n"),
            "{text}"
        );
        assert!(
            text.contains("7 failed rows written to in.failed.csv (mode 0600: it holds secrets)"),
            "{text}"
        );
        assert_eq!(summary.exit(), Exit::RowsFailed);
        let json = summary.to_json();
        assert_eq!(json["exitCode"], 3);
        assert_eq!(json["outcome"], "rowsFailed");
        assert_eq!(json["failuresByCode"]["NOT_AUTHORIZED"], 6);
        assert_eq!(json["firstFailures"][0]["line"], 2);
        assert_eq!(json["failedFile"], "in.failed.csv");
    }

    #[test]
    fn the_exit_status_follows_the_outcome() {
        let mut clean = summary();
        (clean.failed, clean.failures_by_code, clean.first_failures) = (0, vec![], vec![]);
        clean.failed_file = FailedFile::RemovedStale(PathBuf::from("in.failed.csv"));
        assert_eq!(clean.exit(), Exit::Success);
        assert!(clean
            .to_string()
            .ends_with("no failed rows; removed in.failed.csv left by an earlier run"));
        let mut cancelled = clean.clone();
        (cancelled.job_failed, cancelled.skipped) = (true, 7);
        assert_eq!(cancelled.exit(), Exit::JobNotCompleted);
        assert!(cancelled.to_string().contains("7 skipped (never ran)"));
    }
}
