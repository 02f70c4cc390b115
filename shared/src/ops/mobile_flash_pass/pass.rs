//! A flash pass record and what a row's outcome shows of it.
//!
//! A job with a seed issues each pass from it: the claim token is derived from the seed and
//! the enrollment, and the pass is dated at the job's creation, so every delivery of a row
//! builds the same bytes and may write them unconditionally (a redelivery rewrites what the
//! first delivery issued, unchanged). A job created before seeds issues a random token dated
//! now, and only if no pass exists yet.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::PASS_VALIDITY_MS;
use crate::enrollment::EnrollmentRef;
use crate::model::Job;
use crate::time::rfc3339;

/// How a job's new passes are made and written, with what every pass of a chunk shares
/// worked out once.
pub struct Issuer {
    tokens: Tokens,
    issued_at: String,
    expires_at: i64,
}

enum Tokens {
    /// From the job's seed (keyed once): the same pass on every delivery, written
    /// unconditionally.
    Seeded(crate::model::SeedDeriver),
    /// A job created before seeds: a random token dated now, created only if absent.
    Random,
}

impl Issuer {
    pub fn of(job: &Job) -> Self {
        match &job.seed {
            Some(seed) => Self::dated(Tokens::Seeded(seed.deriver()), job.init_time_ms),
            None => Self::dated(Tokens::Random, crate::time::now_ms()),
        }
    }

    fn dated(tokens: Tokens, issued_ms: i64) -> Self {
        Self {
            tokens,
            issued_at: rfc3339(issued_ms),
            expires_at: (issued_ms + PASS_VALIDITY_MS) / 1000,
        }
    }

    /// Whether its passes are the same on every delivery (and may be rewritten).
    pub fn is_seeded(&self) -> bool {
        matches!(self.tokens, Tokens::Seeded(_))
    }

    /// The pass `row` of `job` issues for `enrollment`, whose key is `key`.
    pub fn pass<'a>(
        &'a self,
        job: &'a Job,
        row: u32,
        enrollment: &'a EnrollmentRef,
        key: &str,
    ) -> Pass<'a> {
        let claim_token = match &self.tokens {
            Tokens::Seeded(seed) => seed.derive(key),
            Tokens::Random => uuid::Uuid::new_v4().simple().to_string(),
        };
        Pass {
            job_id: &job.id,
            row,
            workflow_id: enrollment.workflow_id,
            where_clause: &enrollment.where_clause,
            claim_token,
            issued_at: &self.issued_at,
            expires_at: self.expires_at,
        }
    }
}

/// A flash pass as stored, serialized straight into its record.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pass<'a> {
    job_id: &'a str,
    row: u32,
    workflow_id: Uuid,
    where_clause: &'a BTreeMap<String, String>,
    claim_token: String,
    issued_at: &'a str,
    /// When the pass can no longer be claimed, in seconds since the epoch: the table's TTL
    /// attribute, so DynamoDB removes an expired pass.
    expires_at: i64,
}

impl Pass<'_> {
    /// What the row's outcome shows of this pass (as [`pass_result`] shows a stored one).
    pub fn result(&self) -> Value {
        shown(json!(self.issued_at))
    }
}

/// What a row's outcome shows of its pass. The claim token is a bearer secret: it goes to the
/// enrollment's owner, never into the job's row log.
pub fn pass_result(pass: &Value) -> Value {
    shown(pass.get("issuedAt").cloned().unwrap_or(Value::Null))
}

/// The row result of a pass issued at `issued_at`: one shape for a new pass and a stored one.
fn shown(issued_at: Value) -> Value {
    json!({ "passIssuedAt": issued_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobType;

    fn enrollment(n: &str) -> EnrollmentRef {
        EnrollmentRef::from_id(&crate::enrollment::tests_support::id(n)).unwrap()
    }

    fn pass(issuer: &Issuer, job: &Job, row: u32, n: &str) -> Value {
        let enrollment = enrollment(n);
        serde_json::to_value(issuer.pass(job, row, &enrollment, &enrollment.key())).unwrap()
    }

    #[test]
    fn a_pass_is_stored_as_the_same_json_text_as_before_it_was_typed() {
        // Passes written before the pass was a struct were this `json!` object: a seeded
        // redelivery must rewrite the very bytes, and readers find the same members.
        let job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 2, 1_000);
        let (issuer, enrollment) = (Issuer::of(&job), enrollment("7"));
        let key = enrollment.key();
        let typed = issuer.pass(&job, 3, &enrollment, &key);
        let before = json!({
            "jobId": job.id,
            "row": 3,
            "workflowId": enrollment.workflow_id,
            "whereClause": enrollment.where_clause,
            "claimToken": issuer.pass(&job, 3, &enrollment, &key).claim_token,
            "issuedAt": rfc3339(1_000),
            "expiresAt": (1_000 + PASS_VALIDITY_MS) / 1000,
        });
        let record = crate::store::Record::of(&typed).unwrap();
        assert_eq!(record.json(), serde_json::to_string(&before).unwrap());
        assert_eq!(typed.result(), pass_result(&before));
    }

    #[test]
    fn a_seeded_job_issues_the_same_pass_on_every_delivery_and_its_own_token_per_enrollment() {
        let job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 2, 1_000);
        let issuer = Issuer::of(&job);
        let first = pass(&issuer, &job, 1, "1");
        let again = pass(&Issuer::of(&job), &job, 1, "1");
        assert_eq!(first, again);
        assert_eq!(first["issuedAt"], rfc3339(1_000));
        assert_eq!(first["expiresAt"], (1_000 + PASS_VALIDITY_MS) / 1000);
        let other = pass(&issuer, &job, 2, "2");
        assert_ne!(first["claimToken"], other["claimToken"]);
        let other_job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 2, 1_000);
        assert_ne!(
            pass(&Issuer::of(&other_job), &other_job, 1, "1")["claimToken"],
            first["claimToken"],
            "another job's seed gives another token"
        );
        assert_eq!(pass_result(&first), json!({"passIssuedAt": rfc3339(1_000)}));
    }

    #[test]
    fn a_job_without_a_seed_issues_a_random_token_dated_now() {
        let mut job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 1, 1_000);
        job.seed = None;
        assert!(!Issuer::of(&job).is_seeded());
        let issuer = Issuer::dated(Tokens::Random, 5_000);
        let a = pass(&issuer, &job, 1, "1");
        let b = pass(&issuer, &job, 1, "1");
        assert_ne!(a["claimToken"], b["claimToken"]);
        assert_eq!(a["issuedAt"], rfc3339(5_000));
    }
}
