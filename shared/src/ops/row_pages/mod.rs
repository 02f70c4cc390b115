//! Pages of a job's row outcomes, for `GET …/{id}/rows` of both APIs: in row order, filtered
//! by `outcome` and `errorCode`, `limit` rows at a time, continued by an opaque `cursor`.
//!
//! Pages are stable while the job runs. Outcomes are stored write-once per chunk and chunks
//! finish out of order, so a page reads chunks in order from its cursor and stops at the
//! first chunk that is not settled yet; its cursor points there, and a later poll continues
//! from it: no row is ever skipped or returned twice. A chunk is settled when its outcomes
//! are stored, or when its job recorded it without outcomes (skipped: the job was cancelled
//! or failed before the chunk started, and it never will). `nextCursor` is null only once the
//! job is final and every chunk is settled and read.
//!
//! The work per request is bounded: at most [`PAGE_CHUNKS`] chunk items are read for a page,
//! even when the filter matches nothing; the page then answers the rows found so far with a
//! cursor after the last chunk read.

mod cursor;
mod walk;

use crate::error::ApiError;
use crate::model::{Job, Outcome, RowOutcome};
use crate::store::JobStore;

pub use cursor::{Position, MAX_CURSOR_CHARS};

/// `limit`'s default and largest value.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1_000;
/// Chunk items one page reads at most (a chunk holds up to 500 rows).
pub const PAGE_CHUNKS: usize = 50;

/// Which rows a page shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowFilter {
    pub outcome: Option<Outcome>,
    /// Exact, case-sensitive (codes are SCREAMING_SNAKE_CASE).
    pub error_code: Option<String>,
}

impl RowFilter {
    pub fn matches(&self, row: &RowOutcome) -> bool {
        self.outcome.is_none_or(|wanted| row.outcome == wanted)
            && (self.error_code.as_deref()).is_none_or(|c| row.error_code.as_deref() == Some(c))
    }
}

/// A page request, its parameters checked against the job it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowQuery {
    pub filter: RowFilter,
    pub limit: usize,
    pub from: Position,
}

/// The query string parameters of a page request, as given.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowParams<'a> {
    pub outcome: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub cursor: Option<&'a str>,
}

impl<'a> RowParams<'a> {
    /// The parameters of `request`'s query string (the first value of each).
    pub fn of(request: &'a lambda_http::Request) -> Self {
        use lambda_http::RequestExt;
        let query = request.query_string_parameters_ref();
        let first = |name: &str| query.and_then(|q| q.first(name));
        Self {
            outcome: first("outcome"),
            error_code: first("errorCode"),
            limit: first("limit"),
            cursor: first("cursor"),
        }
    }
}

fn bad(message: impl Into<String>, target: &str) -> ApiError {
    ApiError::bad_request(message, Some(target.to_owned()))
}

impl RowQuery {
    /// Checks the parameters for `job`: each bad one is a 400 naming it. `outcome` is
    /// `failed` or `succeeded` in any case (the rows spell it `FAILED`, PVWA clients
    /// `Failed`: all are taken).
    pub fn parse(params: RowParams<'_>, job: &Job) -> Result<Self, ApiError> {
        let limit = match params.limit {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    bad(
                        format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                        "limit",
                    )
                })?,
        };
        let outcome = match params.outcome {
            None => None,
            Some(text) if text.eq_ignore_ascii_case("failed") => Some(Outcome::Failed),
            Some(text) if text.eq_ignore_ascii_case("succeeded") => Some(Outcome::Succeeded),
            Some(_) => return Err(bad("outcome must be failed or succeeded", "outcome")),
        };
        let error_code = match params.error_code {
            Some("") => return Err(bad("errorCode must not be empty", "errorCode")),
            code => code.map(str::to_owned),
        };
        let from = match params.cursor {
            None => Position::default(),
            Some(text) => cursor::decode(text, job)?,
        };
        Ok(Self {
            filter: RowFilter {
                outcome,
                error_code,
            },
            limit,
            from,
        })
    }
}

/// One page: its rows, and the cursor of the next page (`None`: the job is final and every
/// row was read).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub rows: Vec<RowOutcome>,
    pub next_cursor: Option<String>,
}

/// Reads the page `query` asks for. `job` must have been read (consistently) before its
/// chunks: which chunks it says are recorded decides which missing chunks were skipped.
pub async fn read_page(jobs: &dyn JobStore, job: &Job, query: &RowQuery) -> Result<Page, ApiError> {
    let fetch = |first, max| jobs.chunk_outcomes_from(&job.id, first, max);
    Ok(walk::read(job, query, PAGE_CHUNKS, fetch).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobType;

    fn job() -> Job {
        let mut job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 10, 0);
        job.chunk_count = 2;
        job
    }

    fn target(params: RowParams<'_>) -> Option<String> {
        match RowQuery::parse(params, &job()) {
            Err(ApiError::BadRequest { target, .. }) => target,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn parameters_have_defaults_and_bounds() {
        let query = RowQuery::parse(RowParams::default(), &job()).unwrap();
        assert_eq!(
            (query.limit, query.from, query.filter),
            (DEFAULT_LIMIT, Position::default(), RowFilter::default())
        );
        for (text, limit) in [("1", 1), ("1000", 1_000), ("07", 7)] {
            let params = RowParams {
                limit: Some(text),
                ..Default::default()
            };
            assert_eq!(RowQuery::parse(params, &job()).unwrap().limit, limit);
        }
        for text in [
            "0",
            "1001",
            "abc",
            "",
            "-1",
            "1.5",
            " 5",
            "99999999999999999999",
        ] {
            let params = RowParams {
                limit: Some(text),
                ..Default::default()
            };
            assert_eq!(target(params).as_deref(), Some("limit"), "{text:?}");
        }
    }

    #[test]
    fn outcome_in_any_case_and_error_code_exact() {
        for (text, outcome) in [
            ("failed", Outcome::Failed),
            ("FAILED", Outcome::Failed),
            ("Succeeded", Outcome::Succeeded),
        ] {
            let params = RowParams {
                outcome: Some(text),
                error_code: Some("ENROLLMENT_NOT_FOUND"),
                ..Default::default()
            };
            let filter = RowQuery::parse(params, &job()).unwrap().filter;
            assert_eq!(filter.outcome, Some(outcome));
            assert_eq!(filter.error_code.as_deref(), Some("ENROLLMENT_NOT_FOUND"));
        }
        for text in ["bogus", "", "fail", "failed "] {
            let params = RowParams {
                outcome: Some(text),
                ..Default::default()
            };
            assert_eq!(target(params).as_deref(), Some("outcome"), "{text:?}");
        }
        let empty_code = RowParams {
            error_code: Some(""),
            ..Default::default()
        };
        assert_eq!(target(empty_code).as_deref(), Some("errorCode"));
        let garbage = RowParams {
            cursor: Some("nope"),
            ..Default::default()
        };
        assert_eq!(target(garbage).as_deref(), Some("cursor"));
    }

    #[test]
    fn filters_are_exact() {
        let failed = RowOutcome::failed(1, Default::default(), "A_CODE", "no");
        let succeeded = RowOutcome::succeeded(2, Default::default(), None);
        let by = |outcome, code: Option<&str>| RowFilter {
            outcome,
            error_code: code.map(str::to_owned),
        };
        assert!(by(None, None).matches(&failed) && by(None, None).matches(&succeeded));
        assert!(by(Some(Outcome::Failed), None).matches(&failed));
        assert!(!by(Some(Outcome::Failed), None).matches(&succeeded));
        assert!(by(None, Some("A_CODE")).matches(&failed));
        assert!(!by(None, Some("a_code")).matches(&failed));
        assert!(!by(Some(Outcome::Succeeded), Some("A_CODE")).matches(&failed));
    }
}
