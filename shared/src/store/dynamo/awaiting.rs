//! Staged jobs waiting for their file on DynamoDB: a staged job is created in the sparse
//! `gsi3` index, sorted by when it becomes overdue, and every transition out of AWAITING_DATA
//! takes it out in the same conditional write ([`LEAVES_AWAITING`]), as does its file
//! arriving, so the index holds exactly the jobs still waiting. The publisher's sweep reads
//! the overdue ones. Ending a job that never released its chunks is here too.

use super::conditional::send_transition;
use super::listing::IndexQuery;
use super::{n, s, DynamoJobStore};
use crate::error::StoreError;
use crate::model::{EventKind, Job, JobState};
use crate::store::keys::{AWAITING_UPLOAD_INDEX, AWAITING_UPLOAD_PARTITION};
use crate::store::{JobStore, Transition};

/// The clause a transition out of AWAITING_DATA adds to its update expression.
pub(super) const LEAVES_AWAITING: &str = "REMOVE gsi3pk, gsi3sk";

/// The `gsi3` keys of a job created waiting for its file: `(partition, sort key)`.
pub(super) fn awaiting_keys(job: &Job) -> Option<(String, String)> {
    job.upload_due_at_ms().map(|due| {
        (
            AWAITING_UPLOAD_PARTITION.to_owned(),
            format!("{due:013}#{}", job.id),
        )
    })
}

impl DynamoJobStore {
    /// AWAITING_DATA → FAILED with `message`, when `condition` holds: every row skipped and
    /// every chunk recorded (nothing can have run: chunks are claimed only once released).
    pub(super) async fn fail_unreleased(
        &self,
        id: &str,
        condition: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        let Some(job) = self.get_job(id).await? else {
            return Ok(Transition::JobMissing);
        };
        if job.state != JobState::AwaitingData {
            return Ok(Transition::Unchanged(Box::new(job)));
        }
        self.emitting(
            id,
            condition,
            &format!("SET #state = :FAILED, errorMessage = :message, processingEndMs = :now, rowsSkipped = totalRows, recordedBelow = :chunkCount {LEAVES_AWAITING}"),
            vec![
                (":message", s(message)),
                (":now", n(now_ms)),
                (":chunkCount", n(job.chunk_count)),
            ],
            "UpdateItem(abandon)",
            EventKind::Failed,
            now_ms,
        )
        .await
    }

    pub(super) async fn note_file_received_item(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        let update = self.update_job(
            id,
            &format!("SET fileReceivedMs = if_not_exists(fileReceivedMs, :now) {LEAVES_AWAITING}"),
            "#state = :AWAITING_DATA",
        );
        send_transition(
            update,
            vec![(":now", n(now_ms))],
            "UpdateItem(file received)",
        )
        .await
    }

    pub(super) async fn overdue_uploads_items(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        // Every sort key due at `now_ms` or before sorts below the next millisecond's.
        let query = IndexQuery {
            index: AWAITING_UPLOAD_INDEX,
            partition: AWAITING_UPLOAD_PARTITION,
            sort_below: Some(format!("{:013}", now_ms + 1)),
            forward: true,
            page: 100,
        };
        // The index is eventually consistent: a job released a moment ago may still show.
        self.query_jobs(query, limit, |job| job.is_upload_overdue(now_ms))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JobState, JobType, UPLOAD_GRACE_SECONDS};

    #[test]
    fn only_a_staged_job_waiting_for_its_file_is_indexed() {
        let mut job = Job::new("j1".into(), JobType::SendMfp, "alice".into(), 0, 1_000);
        job.state = JobState::AwaitingData;
        assert_eq!(awaiting_keys(&job), None, "not staged");
        job.upload_expires_at_ms = Some(5_000);
        let due = 5_000 + UPLOAD_GRACE_SECONDS * 1000;
        assert_eq!(
            awaiting_keys(&job),
            Some(("AWAITING_UPLOAD".into(), format!("{due:013}#j1")))
        );
        // A key due at a millisecond sorts below the next one's bound, not below its own.
        let (_, sort) = awaiting_keys(&job).unwrap_or_default();
        assert!(sort.as_str() < format!("{:013}", due + 1).as_str());
        assert!(sort.as_str() >= format!("{due:013}").as_str());
        job.state = JobState::Scheduled;
        assert_eq!(awaiting_keys(&job), None, "released");
    }
}
