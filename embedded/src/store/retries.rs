//! A job's listing; the links from a job to the jobs retrying its failed rows (`retries`,
//! appended once each); the record of its result files and how far its split got.

use super::{with_chunks, EmbeddedStore};
use crate::db::{JOBS, JOB_INDEX};
use bulkops_shared::error::StoreError;
use bulkops_shared::model::{Job, JobType};
use bulkops_shared::store::{jobs_partition, listed_for};

impl EmbeddedStore {
    /// A job type's listing for `owner`, newest first, `limit` jobs at most.
    pub(super) async fn listed_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let partition = jobs_partition(job_type, owner);
        let owner = owner.to_owned();
        self.read(move |txn| {
            let index = txn.open_table(JOB_INDEX)?;
            let jobs = txn.open_table(JOBS)?;
            let (start, end) = (format!("{partition}\0"), format!("{partition}\u{1}"));
            let mut out = Vec::new();
            for entry in index.range(start.as_str()..end.as_str())?.rev() {
                let (_, id) = entry?;
                if let Some(value) = jobs.get(id.value())? {
                    let job = with_chunks(serde_json::from_slice(value.value())?);
                    if listed_for(&job, &owner) {
                        out.push(job);
                    }
                }
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn link_retry(&self, id: &str, retry_id: &str) -> Result<(), StoreError> {
        let retry_id = retry_id.to_owned();
        self.change_job(id, (), move |stored| {
            if stored.job.retries.contains(&retry_id) {
                return (false, ());
            }
            stored.job.retries.push(retry_id);
            (true, ())
        })
        .await
    }

    pub(super) async fn set_split_progress(
        &self,
        id: &str,
        parked_below: u32,
    ) -> Result<(), StoreError> {
        self.change_job(id, (), move |stored| {
            let job = &mut stored.job;
            if job.state != bulkops_shared::model::JobState::AwaitingData
                || job.split_parked_below >= parked_below
            {
                return (false, ());
            }
            job.split_parked_below = parked_below;
            (true, ())
        })
        .await
    }

    pub(super) async fn set_result_files(
        &self,
        id: &str,
        files: std::collections::BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        self.change_job(id, (), move |stored| {
            if stored.job.result_files == files {
                return (false, ());
            }
            stored.job.result_files = files;
            (true, ())
        })
        .await
    }
}
