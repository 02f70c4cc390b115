//! What `bulkops submit` reports when the job is over.

use std::fmt;
use std::path::PathBuf;

use super::args::Api;

/// How many failed rows the summary lists.
pub const LISTED_FAILURES: usize = 5;

/// The outcome of one submitted file.
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
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Failed rows per error code, most frequent first.
    pub failures_by_code: Vec<(String, u64)>,
    /// The first failed rows, in input order.
    pub first_failures: Vec<FailedRow>,
    /// Where the failed rows were written; `None` when no row failed.
    pub failed_file: Option<PathBuf>,
    /// Wall time from submit to the final state.
    pub seconds: f64,
}

/// One failed row for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRow {
    /// 1-based row of the input (`None` when the report matched no input row).
    pub row: Option<usize>,
    pub code: String,
    pub message: String,
}

impl Summary {
    /// The job ran to completion (rows may still have failed); false when it failed as a
    /// whole or was cancelled, which is what the command's exit status reports.
    pub fn succeeded_job(&self) -> bool {
        !self.job_failed
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
        write!(
            f,
            "  rows: {} total, {} succeeded, {} failed",
            self.total, self.succeeded, self.failed
        )?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
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
            writeln!(f, "  {row}: {} {}", failure.code, failure.message)?;
        }
        if self.failures_by_code.iter().map(|(_, n)| n).sum::<u64>()
            > self.first_failures.len() as u64
        {
            writeln!(f, "  ...")?;
        }
        match &self.failed_file {
            Some(path) => write!(
                f,
                "  failed rows written to {} (fix them and submit that file)",
                path.display()
            ),
            None if self.failed > 0 => write!(f, "  failed rows could not be matched to the input"),
            None => write!(f, "  no failed rows"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_counts_codes_first_failures_and_the_file() {
        let summary = Summary {
            job_id: "17".into(),
            api: Api::Accounts,
            state: "completedWithErrors".into(),
            job_failed: false,
            error: None,
            total: 10,
            succeeded: 3,
            failed: 7,
            skipped: 0,
            failures_by_code: vec![("NOT_AUTHORIZED".into(), 6), ("INVALID_FIELDS".into(), 1)],
            first_failures: (1..=5)
                .map(|row| FailedRow {
                    row: Some(row),
                    code: "NOT_AUTHORIZED".into(),
                    message: "not allowed".into(),
                })
                .collect(),
            failed_file: Some(PathBuf::from("in.failed.csv")),
            seconds: 2.0,
        };
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
            text.contains("  row 5: NOT_AUTHORIZED not allowed\n  ...\n"),
            "{text}"
        );
        assert!(
            text.contains("failed rows written to in.failed.csv"),
            "{text}"
        );
        assert!(summary.succeeded_job());
    }
}
