//! Capacity units for the benchmarks' cost figures: an SDK interceptor that sizes every
//! DynamoDB item written or read by DynamoDB's item size rules and counts billed SQS requests.
//! (moto reports a fixed `ConsumedCapacity` whatever the item's size, so the units are
//! computed here from the items themselves, as DynamoDB bills them.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Billed units so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Capacity {
    /// DynamoDB write request units: one per KB of each item written (two if transactional).
    pub write_units: f64,
    /// DynamoDB read request units: one per 4 KB read strongly consistently (per item for
    /// GetItem and BatchGetItem, per response for Query).
    pub read_units: f64,
    /// SQS requests as billed: one per 64 KB of a send's payload, one per other call.
    pub sqs_requests: f64,
}

/// Counts [`Capacity`] across every client that carries it.
#[derive(Clone, Debug, Default)]
pub struct CapacityMeter {
    totals: Arc<Mutex<Capacity>>,
}

impl CapacityMeter {
    pub fn snapshot(&self) -> Capacity {
        self.totals.lock().map(|c| *c).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut totals) = self.totals.lock() {
            *totals = Capacity::default();
        }
    }

    fn add(&self, change: impl FnOnce(&mut Capacity)) {
        if let Ok(mut totals) = self.totals.lock() {
            change(&mut totals);
        }
    }
}

const KB: usize = 1024;

fn units(bytes: usize, per: usize) -> f64 {
    bytes.div_ceil(per).max(1) as f64
}

/// An item's size as DynamoDB counts it: each attribute's name and value.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Numbers: about one byte per two significant digits, plus one.
fn number_size(n: &str) -> usize {
    let digits = n.bytes().filter(u8::is_ascii_digit).count();
    digits.div_ceil(2) + 1
}

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        if let Some(put) = input.downcast_ref::<PutItemInput>() {
            let size = put.item.as_ref().map(item_size).unwrap_or_default();
            self.add(|c| c.write_units += units(size, KB));
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            let written: f64 = batch
                .request_items
                .iter()
                .flat_map(|items| items.values().flatten())
                .map(|request| match &request.put_request {
                    Some(put) => units(item_size(&put.item), KB),
                    None => 1.0,
                })
                .sum();
            self.add(|c| c.write_units += written);
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            let written: f64 = transaction
                .transact_items
                .iter()
                .flatten()
                .map(|action| match &action.put {
                    Some(put) => 2.0 * units(item_size(&put.item), KB),
                    None => 2.0,
                })
                .sum();
            self.add(|c| c.write_units += written);
        } else if input.downcast_ref::<DeleteItemInput>().is_some() {
            self.add(|c| c.write_units += 1.0);
        } else if let Some(send) = input.downcast_ref::<SendMessageBatchInput>() {
            let bytes: usize = send
                .entries
                .iter()
                .flatten()
                .map(|e| e.message_body.len())
                .sum();
            self.add(|c| c.sqs_requests += units(bytes, 64 * KB));
        } else if let Some(send) = input.downcast_ref::<SendMessageInput>() {
            let bytes = send.message_body.as_deref().map(str::len).unwrap_or(0);
            self.add(|c| c.sqs_requests += units(bytes, 64 * KB));
        } else if input.downcast_ref::<aws_sdk_sqs::operation::receive_message::ReceiveMessageInput>().is_some()
            || input.downcast_ref::<aws_sdk_sqs::operation::delete_message::DeleteMessageInput>().is_some()
            || input.downcast_ref::<aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchInput>().is_some()
            || input.downcast_ref::<aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityInput>().is_some()
        {
            self.add(|c| c.sqs_requests += 1.0);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        if let Some(update) = output.downcast_ref::<UpdateItemOutput>() {
            // Billed on the larger of the item before and after: the returned item stands in.
            let size = update
                .attributes
                .as_ref()
                .map(item_size)
                .unwrap_or_default();
            self.add(|c| c.write_units += units(size, KB));
        } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            let size = get.item.as_ref().map(item_size).unwrap_or_default();
            self.add(|c| c.read_units += units(size, 4 * KB));
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            let read: f64 = batch
                .responses
                .iter()
                .flat_map(|tables| tables.values().flatten())
                .map(|item| units(item_size(item), 4 * KB))
                .sum();
            self.add(|c| c.read_units += read);
        } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
            let size: usize = query.items.iter().flatten().map(item_size).sum();
            self.add(|c| c.read_units += units(size, 4 * KB));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("abc".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "k".to_owned(),
                    AttributeValue::Bool(true),
                )])),
            ),
        ]);
        // pk: 2 + 3; n: 1 + 4; m: 1 + 3 + (1 + 1 + 1)
        assert_eq!(item_size(&item), 5 + 5 + 7);
        assert_eq!(units(0, KB), 1.0);
        assert_eq!(units(1025, KB), 2.0);
    }
}
