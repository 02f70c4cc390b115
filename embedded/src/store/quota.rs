//! Per-caller quotas on the embedded file (see [`bulkops_shared::store::quota`]): the
//! admission, the sweep of ended jobs and the job's insertion are one write transaction.

use std::collections::BTreeMap;

use redb::ReadableTable;

use bulkops_shared::error::StoreError;
use bulkops_shared::model::Job;
use bulkops_shared::store::{sha256_hex, Admission, Quota};

use super::{insert_new_job, read_job, EmbeddedStore};
use crate::db::QUOTAS;

impl EmbeddedStore {
    pub(super) async fn create_job_within_quota(
        &self,
        job: &Job,
        quota: &Quota,
    ) -> Result<Admission, StoreError> {
        let (job, quota) = (job.clone(), *quota);
        let owner = sha256_hex(job.owner.as_bytes());
        let now = bulkops_shared::time::now_ms();
        self.write(move |txn| {
            let mut active: BTreeMap<String, u32> = {
                let table = txn.open_table(QUOTAS)?;
                let stored = table.get(owner.as_str())?;
                match stored {
                    Some(value) => serde_json::from_str(value.value())?,
                    None => BTreeMap::new(),
                }
            };
            // Ended (or vanished) jobs no longer count.
            let mut ended = Vec::new();
            for id in active.keys() {
                let gone = read_job(txn, id)?.is_none_or(|stored| {
                    stored.job.state.is_terminal() || stored.job.is_upload_overdue(now)
                });
                if gone {
                    ended.push(id.clone());
                }
            }
            for id in ended {
                active.remove(&id);
            }
            let rows_in_flight: u64 = active.values().map(|rows| u64::from(*rows)).sum();
            let active_jobs = active.len() as u32;
            if !quota.admits(active_jobs, rows_in_flight, job.total_rows) {
                return Ok(Admission::Refused {
                    active_jobs,
                    rows_in_flight,
                });
            }
            active.insert(job.id.clone(), job.total_rows);
            let record = serde_json::to_string(&active)?;
            txn.open_table(QUOTAS)?
                .insert(owner.as_str(), record.as_str())?;
            insert_new_job(txn, job)?;
            Ok(Admission::Created)
        })
        .await
    }
}
