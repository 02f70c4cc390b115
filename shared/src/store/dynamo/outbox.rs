//! The job outbox on DynamoDB: finding jobs with unpublished events through the sparse
//! `gsi2` index, and removing events once published (the index keys go with the last one).

use super::listing::IndexQuery;
use super::{conditional_update, n, DynamoJobStore, OUTBOX_INDEX, OUTBOX_PARTITION};
use crate::error::StoreError;
use crate::model::{EventKind, Job};

impl DynamoJobStore {
    pub(super) async fn jobs_with_pending_events_item(
        &self,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let query = IndexQuery {
            index: OUTBOX_INDEX,
            partition: OUTBOX_PARTITION,
            sort_below: None,
            forward: true,
            page: 100,
        };
        self.query_jobs(query, limit, |_| true).await
    }

    pub(super) async fn mark_published_item(
        &self,
        id: &str,
        kinds: &[EventKind],
    ) -> Result<(), StoreError> {
        if kinds.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = (0..kinds.len()).map(|i| format!("#e{i}")).collect();
        let paths: Vec<String> = names.iter().map(|name| format!("outbox.{name}")).collect();
        let bind = |mut update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder| {
            for (name, kind) in names.iter().zip(kinds) {
                update = update.expression_attribute_names(name, kind.as_str());
            }
            update
        };
        // The last events out take the job out of the index; a transition that added one
        // meanwhile makes the condition fail, and only the published ones are removed.
        let last = bind(self.client.update_item())
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression(format!("REMOVE {}, gsi2pk, gsi2sk", paths.join(", ")))
            .condition_expression("attribute_exists(pk) AND size(outbox) = :count")
            .expression_attribute_values(":count", n(kinds.len()));
        if let Ok(_) | Err(None) = conditional_update(last, "UpdateItem(outbox)").await? {
            return Ok(());
        }
        let some = bind(self.client.update_item())
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression(format!("REMOVE {}", paths.join(", ")))
            .condition_expression("attribute_exists(pk)");
        // A failed condition here means the job is gone: nothing left to remove.
        let _ = conditional_update(some, "UpdateItem(outbox)").await?;
        Ok(())
    }
}
