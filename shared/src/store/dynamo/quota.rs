//! Per-caller quotas on DynamoDB (see [`crate::store::quota`]): a record per caller
//! (`QUOTA#<SHA-256 of sub>` / `QUOTA`) with `activeJobs`, a string set of entries, and
//! `rowsInFlight`, their rows. A job is admitted by one TransactWriteItems: its conditional
//! put and the conditional update of its caller's record.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::{job_to_item, n, s, sdk_error, DynamoJobStore, Item, RETENTION_SECONDS};
use crate::error::StoreError;
use crate::model::Job;
use crate::store::keys::QUOTA_PREFIX;
use crate::store::quota::{entry, parse_entry};
use crate::store::{sha256_hex, Admission, JobStore, Quota};

const QUOTA_SK: &str = "QUOTA";
/// Attempts of an admission that keeps conflicting with concurrent ones.
const CONFLICT_ATTEMPTS: u32 = 5;

/// One admission attempt: done (admitted or not), or cancelled by a concurrent transaction.
enum Admit {
    Done(bool),
    Conflict(StoreError),
}

fn quota_key(owner: &str) -> Item {
    Item::from([
        (
            "pk".to_owned(),
            s(format!("{QUOTA_PREFIX}{}", sha256_hex(owner.as_bytes()))),
        ),
        ("sk".to_owned(), s(QUOTA_SK)),
    ])
}

fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Backend(e.to_string()))
}

impl DynamoJobStore {
    pub(super) async fn create_job_within_quota(
        &self,
        job: &Job,
        quota: &Quota,
    ) -> Result<Admission, StoreError> {
        if self.admit(job, quota).await? {
            return Ok(Admission::Created);
        }
        let (active_jobs, rows_in_flight) = self.sweep(&job.owner).await?;
        if quota.admits(active_jobs, rows_in_flight, job.total_rows)
            && self.admit(job, quota).await?
        {
            return Ok(Admission::Created);
        }
        Ok(Admission::Refused {
            active_jobs,
            rows_in_flight,
        })
    }

    /// [`Self::admit_once`], again after a conflict with a concurrent transaction on the same
    /// caller's record (DynamoDB cancels one of two such transactions rather than wait).
    async fn admit(&self, job: &Job, quota: &Quota) -> Result<bool, StoreError> {
        let mut attempt = 1;
        loop {
            match self.admit_once(job, quota).await? {
                Admit::Done(admitted) => return Ok(admitted),
                Admit::Conflict(error) if attempt >= CONFLICT_ATTEMPTS => return Err(error),
                Admit::Conflict(_) => {
                    tokio::time::sleep(crate::batching::backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Creates the job and counts it, in one transaction; false (nothing written) if the
    /// caller's record refuses it. A job that exists already is an error, as in `create_job`.
    async fn admit_once(&self, job: &Job, quota: &Quota) -> Result<Admit, StoreError> {
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(job_to_item(job)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let room = quota
            .max_rows_in_flight
            .saturating_sub(u64::from(job.total_rows));
        let expires_at = crate::time::now_ms() / 1000 + RETENTION_SECONDS;
        let update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(quota_key(&job.owner)))
                .update_expression(
                    "ADD activeJobs :entry, rowsInFlight :rows SET expiresAt = :expires",
                )
                .condition_expression(
                    "(attribute_not_exists(activeJobs) OR size(activeJobs) < :maxJobs) \
                     AND (attribute_not_exists(rowsInFlight) OR rowsInFlight <= :room)",
                )
                .expression_attribute_values(
                    ":entry",
                    AttributeValue::Ss(vec![entry(job.total_rows, &job.id)]),
                )
                .expression_attribute_values(":rows", n(job.total_rows))
                .expression_attribute_values(":expires", n(expires_at))
                .expression_attribute_values(":maxJobs", n(quota.max_active_jobs))
                .expression_attribute_values(":room", n(room))
                .build(),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await;
        let Err(error) = result else {
            return Ok(Admit::Done(true));
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            error.as_service_error()
        {
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or("None"))
                .collect();
            if codes.first() != Some(&"ConditionalCheckFailed")
                && codes.get(1) == Some(&"ConditionalCheckFailed")
            {
                return Ok(Admit::Done(false));
            }
            if codes.contains(&"TransactionConflict") {
                let error = sdk_error("TransactWriteItems(create job)", error);
                return Ok(Admit::Conflict(error));
            }
        }
        Err(sdk_error("TransactWriteItems(create job)", error))
    }

    /// Removes the entries of `owner`'s jobs that are final or gone; returns the active jobs
    /// and rows left.
    async fn sweep(&self, owner: &str) -> Result<(u32, u64), StoreError> {
        let now = crate::time::now_ms();
        let record = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(quota_key(owner)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(quota)", e))?
            .item
            .unwrap_or_default();
        let entries = match record.get("activeJobs") {
            Some(AttributeValue::Ss(entries)) => entries.clone(),
            _ => Vec::new(),
        };
        let mut rows_in_flight: u64 = match record.get("rowsInFlight") {
            Some(AttributeValue::N(rows)) => rows.parse().unwrap_or(0),
            _ => 0,
        };
        let mut active_jobs = entries.len() as u32;
        for entry in &entries {
            let Some((rows, id)) = parse_entry(entry) else {
                continue;
            };
            let ended = JobStore::get_job(self, id)
                .await?
                .is_none_or(|job| job.state.is_terminal() || job.is_upload_overdue(now));
            if ended && self.release(owner, entry, rows).await? {
                active_jobs -= 1;
                rows_in_flight = rows_in_flight.saturating_sub(u64::from(rows));
            }
        }
        Ok((active_jobs, rows_in_flight))
    }

    /// Removes one entry with its rows, once: false if another sweep removed it first.
    async fn release(&self, owner: &str, entry: &str, rows: u32) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(quota_key(owner)))
            .update_expression("DELETE activeJobs :entries ADD rowsInFlight :released")
            .condition_expression("contains(activeJobs, :entry)")
            .expression_attribute_values(":entries", AttributeValue::Ss(vec![entry.to_owned()]))
            .expression_attribute_values(":entry", s(entry))
            .expression_attribute_values(":released", n(-i64::from(rows)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_error("UpdateItem(quota release)", e)),
            },
        }
    }
}
