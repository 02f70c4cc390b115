//! Per-caller quotas on HTTP creates: how many jobs a caller may have active (not final) and
//! how many rows those jobs may hold together. A job is admitted in the same transaction that
//! creates it, so concurrent creates can never pass a limit together.
//!
//! A caller's quota record holds one entry per admitted job (`<rows>#<job id>`) and the sum of
//! their rows. Entries are not removed when a job ends: a create that would pass a limit first
//! sweeps the record, removing the entries of jobs that are final (or gone), each removal with
//! its rows in one conditional write, and only then refuses. A refusal therefore always means
//! the caller's active jobs really are at the limit, and no bookkeeping on the engine's paths
//! to a final state (complete, cancel, abandon, stop) can be missed.

/// What a caller may have active at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub max_active_jobs: u32,
    pub max_rows_in_flight: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            max_active_jobs: DEFAULT_MAX_ACTIVE_JOBS,
            max_rows_in_flight: DEFAULT_MAX_ROWS_IN_FLIGHT,
        }
    }
}

/// Active jobs per caller unless configured (template `MaxActiveJobsPerCaller`).
pub const DEFAULT_MAX_ACTIVE_JOBS: u32 = 100;
/// Rows of a caller's active jobs together unless configured (`MaxRowsInFlightPerCaller`).
pub const DEFAULT_MAX_ROWS_IN_FLIGHT: u64 = 1_000_000;
/// What a refused caller is told to wait: jobs end in seconds to minutes.
pub const QUOTA_RETRY_AFTER_SECONDS: u64 = 30;

/// The answer to a create under a quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The job is created and counted.
    Created,
    /// Nothing was created: with this job the caller would pass a limit. What the caller has
    /// active now (after the sweep).
    Refused {
        active_jobs: u32,
        rows_in_flight: u64,
    },
}

/// One admitted job in its caller's quota record.
pub fn entry(rows: u32, job_id: &str) -> String {
    format!("{rows}#{job_id}")
}

/// The rows and the job id of an entry.
pub fn parse_entry(entry: &str) -> Option<(u32, &str)> {
    let (rows, id) = entry.split_once('#')?;
    Some((rows.parse().ok()?, id))
}

impl Quota {
    /// Whether a job of `rows` may never be admitted, whatever else the caller has.
    pub fn too_large(&self, rows: u32) -> bool {
        u64::from(rows) > self.max_rows_in_flight
    }

    /// Whether a job of `rows` fits beside `active_jobs` jobs holding `rows_in_flight`.
    pub fn admits(&self, active_jobs: u32, rows_in_flight: u64, rows: u32) -> bool {
        active_jobs < self.max_active_jobs
            && rows_in_flight + u64::from(rows) <= self.max_rows_in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_any_job_id() {
        assert_eq!(parse_entry(&entry(9_000, "17")), Some((9_000, "17")));
        assert_eq!(parse_entry(&entry(1, "a#b")), Some((1, "a#b")));
        assert_eq!(parse_entry("x#1"), None);
    }

    #[test]
    fn limits_are_inclusive_of_the_last_row_and_exclusive_of_the_next_job() {
        let quota = Quota {
            max_active_jobs: 2,
            max_rows_in_flight: 100,
        };
        assert!(quota.admits(1, 60, 40));
        assert!(!quota.admits(1, 60, 41));
        assert!(!quota.admits(2, 0, 1));
        assert!(quota.too_large(101) && !quota.too_large(100));
    }
}
