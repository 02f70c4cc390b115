//! The links from a job to the jobs retrying its failed rows (`retries`, appended once each),
//! the record of its result files and how far its split got.

use super::EmbeddedStore;
use bulkops_shared::error::StoreError;

impl EmbeddedStore {
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
