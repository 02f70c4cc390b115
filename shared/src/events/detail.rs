//! What an event says: the job as of its transition. Created and Processing happen before any
//! row is counted, so their counts are zero by construction; Completed and Failed are final;
//! Cancelled shows the counts when it is sent (rows may still be counted as skipped after).
//! Never a secret, never a row's data.

use serde::{Deserialize, Serialize};

use crate::api::Route;
use crate::model::{EventKind, Job, JobState, JobType};
use crate::ops::accounts::pvwa_status;
use crate::time::rfc3339;

/// The `source` of every event.
pub const SOURCE: &str = "bulkops";

/// One event, as it goes on the bus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobEvent {
    /// `<job id>:<KIND>`: the same for every delivery of one transition.
    pub id: String,
    pub source: String,
    pub detail_type: String,
    /// When the transition happened (RFC 3339).
    pub time: String,
    pub detail: Detail,
}

/// What an event is about: a job's transition, or a request that created no job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Detail {
    Job(Box<EventDetail>),
    Rejected(super::RejectedDetail),
}

impl Detail {
    /// The job's detail, unless this is a rejected request.
    pub fn job(&self) -> Option<&EventDetail> {
        match self {
            Self::Job(detail) => Some(detail),
            Self::Rejected(_) => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    /// The event's id again, for consumers that only see the detail.
    pub event_id: String,
    pub job_id: String,
    /// The CyberArk bulk id (the job id as a number) of an account upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<i64>,
    /// `mobileFlashPass` or `accounts`.
    pub api: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub owner: String,
    /// The `clientToken` of the event-driven request that created the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub state: JobState,
    /// The CyberArk status of an account upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub counts: EventCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failed_row: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub init_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_end_time: Option<String>,
    pub paths: EventPaths,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    pub total: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
}

/// The API paths of the job and of its per-row results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPaths {
    pub job: String,
    pub results: String,
}

fn state_of(kind: EventKind) -> JobState {
    match kind {
        EventKind::Created => JobState::Scheduled,
        EventKind::Processing => JobState::Processing,
        EventKind::Completed => JobState::Completed,
        EventKind::Failed => JobState::Failed,
        EventKind::Cancelled => JobState::Cancelled,
    }
}

/// The event of `job`'s `kind` transition, which happened at `at_ms`.
pub fn job_event(job: &Job, kind: EventKind, at_ms: i64) -> JobEvent {
    let mut view = job.clone();
    view.state = state_of(kind);
    if matches!(kind, EventKind::Created | EventKind::Processing) {
        (view.rows_processed, view.rows_failed, view.rows_skipped) = (0, 0, 0);
        view.first_failed_row = None;
        view.error_message = None;
        view.processing_end_ms = None;
    }
    if kind == EventKind::Created {
        view.processing_start_ms = None;
    }
    let (api, job_route, results_route, status) = match job.job_type {
        JobType::SendMfp => (
            "mobileFlashPass",
            Route::MfpGet(job.id.clone()),
            Route::MfpLogs(job.id.clone()),
            None,
        ),
        JobType::AddAccounts => (
            "accounts",
            Route::UploadGet(job.id.clone()),
            Route::UploadGet(job.id.clone()),
            Some(pvwa_status(&view).to_owned()),
        ),
    };
    let id = format!("{}:{}", job.id, kind.as_str());
    JobEvent {
        id: id.clone(),
        source: SOURCE.to_owned(),
        detail_type: kind.detail_type().to_owned(),
        time: rfc3339(at_ms),
        detail: Detail::Job(Box::new(EventDetail {
            event_id: id,
            job_id: job.id.clone(),
            bulk_id: (job.job_type == JobType::AddAccounts)
                .then(|| job.id.parse().ok())
                .flatten(),
            api: api.to_owned(),
            job_type: job.job_type,
            owner: job.owner.clone(),
            client_token: job.client_token.clone(),
            state: view.state,
            status,
            counts: EventCounts {
                total: view.total_rows,
                succeeded: view.rows_processed,
                failed: view.rows_failed,
                skipped: view.rows_skipped,
            },
            first_failed_row: view.first_failed_row,
            error_message: view.error_message.clone(),
            init_time: rfc3339(view.init_time_ms),
            processing_start_time: view.processing_start_ms.map(rfc3339),
            processing_end_time: view.processing_end_ms.map(rfc3339),
            paths: EventPaths {
                job: job_route.path(),
                results: results_route.path(),
            },
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_the_job_as_of_its_transition() {
        let mut job = Job::new("7".into(), JobType::AddAccounts, "alice".into(), 3, 1_000);
        job.state = JobState::Completed;
        job.processing_start_ms = Some(2_000);
        job.processing_end_ms = Some(3_000);
        (job.rows_processed, job.rows_failed) = (2, 1);
        let created_event = job_event(&job, EventKind::Created, 1_500);
        assert_eq!(created_event.id, "7:CREATED");
        assert_eq!(created_event.detail_type, "Bulk Job Created");
        let created = created_event.detail.job().unwrap();
        assert_eq!(created.state, JobState::Scheduled);
        assert_eq!(created.status.as_deref(), Some("Pending"));
        assert_eq!(
            created.counts,
            EventCounts {
                total: 3,
                ..EventCounts::default()
            }
        );
        assert_eq!(created.processing_start_time, None);
        let completed_event = job_event(&job, EventKind::Completed, 3_000);
        let completed = completed_event.detail.job().unwrap();
        assert_eq!(completed.status.as_deref(), Some("completedWithErrors"));
        assert_eq!(completed.bulk_id, Some(7));
        assert_eq!(completed.counts.failed, 1);
        assert_eq!(
            completed.paths.job,
            "/PasswordVault/API/BulkActions/Accounts/7"
        );
        assert_eq!(completed_event.time, "1970-01-01T00:00:03.000Z");
        let text = serde_json::to_value(&completed_event).unwrap();
        assert_eq!(text["detail"]["type"], "ADD_ACCOUNTS");
        assert_eq!(text["detailType"], "Bulk Job Completed");
    }
}
