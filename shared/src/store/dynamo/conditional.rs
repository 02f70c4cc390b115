//! The conditional writes every state change of [`DynamoJobStore`] is made of: one
//! UpdateItem on the job item whose condition is the state machine's rule, reporting the job
//! after it or as it was.

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{conditional_update, job_from_item, n, s, DynamoJobStore, OUTBOX_PARTITION};
use crate::error::StoreError;
use crate::model::{EventKind, JobState};
use crate::store::Transition;

impl DynamoJobStore {
    /// A conditional UpdateItem on the job item. `#state` and the state placeholders
    /// (`:SCHEDULED`, …) the two expressions use are bound here (DynamoDB refuses unused ones).
    pub(super) fn update_job(
        &self,
        id: &str,
        expression: &str,
        condition: &str,
    ) -> UpdateItemFluentBuilder {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression(expression)
            .condition_expression(condition);
        let uses = |text: &str| expression.contains(text) || condition.contains(text);
        if uses("#state") {
            update = update.expression_attribute_names("#state", "state");
        }
        for state in [
            JobState::AwaitingData,
            JobState::Scheduled,
            JobState::Processing,
            JobState::Completed,
            JobState::Failed,
            JobState::Cancelled,
        ] {
            let placeholder = format!(":{}", state.as_str());
            if uses(&placeholder) {
                update = update.expression_attribute_values(placeholder, s(state.as_str()));
            }
        }
        update
    }

    /// A conditional transition that emits `kind`: the change and its outbox entry in one
    /// conditional write.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn emitting(
        &self,
        id: &str,
        condition: &str,
        expression: &str,
        mut values: Vec<(&str, AttributeValue)>,
        operation: &str,
        kind: EventKind,
        at_ms: i64,
    ) -> Result<Transition, StoreError> {
        let expression = with_outbox(expression);
        values.extend([
            (":eventAt", n(at_ms)),
            (":outboxPartition", s(OUTBOX_PARTITION)),
            (":outboxSort", s(format!("{at_ms:013}#{id}"))),
        ]);
        let update = self
            .update_job(id, &expression, condition)
            .expression_attribute_names("#event", kind.as_str());
        send_transition(update, values, operation).await
    }
}

/// Binds `values` and sends the conditional update: the job after it, or as it was.
pub(super) async fn send_transition(
    mut update: UpdateItemFluentBuilder,
    values: Vec<(&str, AttributeValue)>,
    operation: &str,
) -> Result<Transition, StoreError> {
    for (name, value) in values {
        update = update.expression_attribute_values(name, value);
    }
    Ok(match conditional_update(update, operation).await? {
        Ok(item) => Transition::Moved(Box::new(job_from_item(item)?)),
        Err(Some(old)) => Transition::Unchanged(Box::new(job_from_item(old)?)),
        Err(None) => Transition::JobMissing,
    })
}

/// The outbox assignments a transition adds to its `SET` clause, in the same conditional write:
/// the event's kind and time, and the sparse `gsi2` keys the publisher's sweep queries.
pub(super) fn with_outbox(expression: &str) -> String {
    let outbox = "outbox.#event = :eventAt, gsi2pk = :outboxPartition, \
                  gsi2sk = if_not_exists(gsi2sk, :outboxSort)";
    // The assignments join the SET clause, which comes first: before any ADD or REMOVE.
    let set_ends = [" ADD ", " REMOVE "]
        .iter()
        .filter_map(|clause| expression.find(clause))
        .min()
        .unwrap_or(expression.len());
    let (set, rest) = expression.split_at(set_ends);
    format!("{set}, {outbox}{rest}")
}

/// `#state IN (:A, :B)`: a condition that the job is in one of `states` (bound by
/// [`DynamoJobStore::update_job`]).
pub(super) fn state_in(states: &[JobState]) -> String {
    let values: Vec<String> = states.iter().map(|s| format!(":{}", s.as_str())).collect();
    format!("#state IN ({})", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::with_outbox;

    #[test]
    fn the_outbox_assignments_join_the_set_clause() {
        let outbox = "outbox.#event = :eventAt, gsi2pk = :outboxPartition, \
                      gsi2sk = if_not_exists(gsi2sk, :outboxSort)";
        assert_eq!(with_outbox("SET a = :a"), format!("SET a = :a, {outbox}"));
        assert_eq!(
            with_outbox("SET a = :a ADD b :b"),
            format!("SET a = :a, {outbox} ADD b :b")
        );
        assert_eq!(
            with_outbox("SET a = :a REMOVE gsi3pk, gsi3sk"),
            format!("SET a = :a, {outbox} REMOVE gsi3pk, gsi3sk")
        );
        assert_eq!(
            with_outbox("SET a = :a ADD b :b REMOVE c"),
            format!("SET a = :a, {outbox} ADD b :b REMOVE c")
        );
    }
}
