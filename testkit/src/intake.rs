//! The intake of event-driven requests on the emulator: a queue with its dead-letter queue,
//! fed by a rule on the fixture's bus for `Bulk Job Requested`, as template.yaml has them.

use bulkops_shared::intake::{Intake, REQUESTED_DETAIL_TYPE};

use crate::emulator::{create_queues, Fixture};

/// The intake queue and its dead-letter queue.
pub struct IntakeQueues {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
}

impl Fixture {
    /// Creates the intake queues and the rule that forwards requests from the bus to them.
    ///
    /// # Panics
    /// If the emulator refuses any of it.
    pub async fn intake_queues(&self) -> IntakeQueues {
        let name = format!("{}-intake", self.table);
        let (url, arn, dlq_url, _) = create_queues(&self.clients.sqs, &name)
            .await
            .expect("intake queues");
        let rule = format!("{}-requests", self.bus);
        let pattern = serde_json::json!({ "detail-type": [REQUESTED_DETAIL_TYPE] });
        self.clients
            .eventbridge
            .put_rule()
            .name(&rule)
            .event_bus_name(&self.bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("intake rule");
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("intake-queue")
            .arn(&arn)
            .build()
            .expect("target");
        self.clients
            .eventbridge
            .put_targets()
            .rule(&rule)
            .event_bus_name(&self.bus)
            .targets(target)
            .send()
            .await
            .expect("intake target");
        IntakeQueues { url, arn, dlq_url }
    }

    /// The intake function's dependencies on this fixture and `queues`.
    pub fn intake(&self, queues: &IntakeQueues) -> Intake {
        self.clients
            .intake(&self.table, &self.queue_url, &self.bus, &queues.dlq_url)
    }
}
