//! Reads across jobs: listing a type's (or an owner's) jobs newest first through the `gsi1`
//! index (and the other indexes' reads through the same query), and the named sequences bulk
//! ids are drawn from.

use aws_sdk_dynamodb::types::ReturnValue;

use super::{job_from_item, n, s, sdk_error, DynamoJobStore, JOBS_INDEX};
use crate::error::StoreError;
use crate::model::{Job, JobType};
use crate::store::keys::SEQUENCE_PREFIX;
use crate::store::{jobs_partition, listed_for};

/// Which index entries [`DynamoJobStore::query_jobs`] reads.
pub(super) struct IndexQuery<'a> {
    /// The index, whose keys are `<index>pk` and `<index>sk`.
    pub index: &'a str,
    pub partition: &'a str,
    /// Only entries whose sort key is below this.
    pub sort_below: Option<String>,
    /// Ascending sort keys, or descending.
    pub forward: bool,
    /// Entries asked for per Query call.
    pub page: usize,
}

impl DynamoJobStore {
    pub(super) async fn list_jobs_item(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let partition = jobs_partition(job_type, owner);
        let keep = |job: &Job| listed_for(job, owner);
        let query = IndexQuery {
            index: JOBS_INDEX,
            partition: &partition,
            sort_below: None,
            forward: false,
            page: 1000,
        };
        self.query_jobs(query, limit, keep).await
    }

    /// Jobs in one partition of an index, in index order, page by page until `limit` of them
    /// pass `keep`.
    pub(super) async fn query_jobs(
        &self,
        query: IndexQuery<'_>,
        limit: usize,
        keep: impl Fn(&Job) -> bool,
    ) -> Result<Vec<Job>, StoreError> {
        let IndexQuery {
            index,
            partition,
            sort_below,
            forward,
            page,
        } = query;
        let mut jobs = Vec::new();
        let mut start_key = None;
        loop {
            let mut condition = format!("{index}pk = :p");
            let mut request = self.client.query();
            if let Some(below) = &sort_below {
                condition.push_str(&format!(" AND {index}sk < :below"));
                request = request.expression_attribute_values(":below", s(below.as_str()));
            }
            let out = request
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(condition)
                .expression_attribute_values(":p", s(partition))
                .scan_index_forward(forward)
                .limit((limit - jobs.len()).min(page) as i32)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("Query({index})"), e))?;
            for item in out.items.unwrap_or_default() {
                let job = job_from_item(item)?;
                if keep(&job) {
                    jobs.push(job);
                }
            }
            start_key = out.last_evaluated_key;
            if start_key.is_none() || jobs.len() >= limit {
                return Ok(jobs);
            }
        }
    }

    pub(super) async fn next_sequence_item(&self, name: &str) -> Result<i64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("{SEQUENCE_PREFIX}{name}")))
            .key("sk", s("SEQUENCE"))
            .update_expression("ADD #value :one")
            .expression_attribute_names("#value", "value")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem(sequence)", e))?;
        out.attributes
            .and_then(|a| {
                a.get("value")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
            })
            .ok_or_else(|| StoreError::Corrupt("sequence update returned no value".into()))
    }
}
