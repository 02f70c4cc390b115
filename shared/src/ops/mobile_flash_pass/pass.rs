//! A flash pass record and what a row's outcome shows of it.
//!
//! A job with a seed issues each pass from it: the claim token is derived from the seed and
//! the enrollment, and the pass is dated at the job's creation, so every delivery of a row
//! builds the same bytes and may write them unconditionally (a redelivery rewrites what the
//! first delivery issued, unchanged). A job created before seeds issues a random token dated
//! now, and only if no pass exists yet.

use serde_json::{json, Value};

use super::PASS_VALIDITY_MS;
use crate::enrollment::EnrollmentRef;
use crate::model::Job;
use crate::time::rfc3339;

/// How a job's new passes are made and written.
pub enum Issuer {
    /// From the job's seed (keyed once): the same pass on every delivery, written
    /// unconditionally.
    Seeded(crate::model::SeedDeriver),
    /// A job created before seeds: a random token dated `now_ms`, created only if absent.
    Random { now_ms: i64 },
}

impl Issuer {
    pub fn of(job: &Job) -> Self {
        match &job.seed {
            Some(seed) => Issuer::Seeded(seed.deriver()),
            None => Issuer::Random {
                now_ms: crate::time::now_ms(),
            },
        }
    }

    /// The pass `row` of `job` issues for `enrollment`.
    pub fn pass(&self, job: &Job, row: u32, enrollment: &EnrollmentRef) -> Value {
        let (claim_token, issued_ms) = match self {
            Issuer::Seeded(seed) => (seed.derive(&enrollment.key()), job.init_time_ms),
            Issuer::Random { now_ms } => (uuid::Uuid::new_v4().simple().to_string(), *now_ms),
        };
        json!({
            "jobId": job.id,
            "row": row,
            "workflowId": enrollment.workflow_id,
            "whereClause": enrollment.where_clause,
            "claimToken": claim_token,
            "issuedAt": rfc3339(issued_ms),
            "expiresAt": (issued_ms + PASS_VALIDITY_MS) / 1000,
        })
    }
}

/// What a row's outcome shows of its pass. The claim token is a bearer secret: it goes to the
/// enrollment's owner, never into the job's row log.
pub fn pass_result(pass: &Value) -> Value {
    let issued_at = pass.get("issuedAt").cloned().unwrap_or(Value::Null);
    json!({ "passIssuedAt": issued_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobType;

    fn enrollment(n: &str) -> EnrollmentRef {
        EnrollmentRef::from_id(&crate::enrollment::tests_support::id(n)).unwrap()
    }

    #[test]
    fn a_seeded_job_issues_the_same_pass_on_every_delivery_and_its_own_token_per_enrollment() {
        let job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 2, 1_000);
        let issuer = Issuer::of(&job);
        let first = issuer.pass(&job, 1, &enrollment("1"));
        let again = Issuer::of(&job).pass(&job, 1, &enrollment("1"));
        assert_eq!(first, again);
        assert_eq!(first["issuedAt"], rfc3339(1_000));
        assert_eq!(first["expiresAt"], (1_000 + PASS_VALIDITY_MS) / 1000);
        let other = issuer.pass(&job, 2, &enrollment("2"));
        assert_ne!(first["claimToken"], other["claimToken"]);
        let other_job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 2, 1_000);
        assert_ne!(
            Issuer::of(&other_job).pass(&other_job, 1, &enrollment("1"))["claimToken"],
            first["claimToken"],
            "another job's seed gives another token"
        );
        assert_eq!(pass_result(&first), json!({"passIssuedAt": rfc3339(1_000)}));
    }

    #[test]
    fn a_job_without_a_seed_issues_a_random_token_dated_now() {
        let mut job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 1, 1_000);
        job.seed = None;
        let issuer = Issuer::Random { now_ms: 5_000 };
        let a = issuer.pass(&job, 1, &enrollment("1"));
        let b = issuer.pass(&job, 1, &enrollment("1"));
        assert_ne!(a["claimToken"], b["claimToken"]);
        assert_eq!(a["issuedAt"], rfc3339(5_000));
    }
}
