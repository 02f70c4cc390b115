//! The event bus on the emulator: a rule forwards every bulkops event to a queue the tests read.

use bulkops_shared::aws::AwsClients;

use crate::emulator::queue_arn;

/// An event bus whose rule forwards every bulkops event to an SQS queue (as the template's
/// example rule does), so tests read exactly what was published. Returns the queue's URL.
pub async fn create_event_bus(
    clients: &AwsClients,
    name: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    clients
        .eventbridge
        .create_event_bus()
        .name(name)
        .send()
        .await?;
    let queue_url = clients
        .sqs
        .create_queue()
        .queue_name(format!("{name}-events"))
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    let queue_arn = queue_arn(&clients.sqs, &queue_url).await?;
    clients
        .eventbridge
        .put_rule()
        .name(format!("{name}-all"))
        .event_bus_name(name)
        .event_pattern(
            serde_json::json!({ "source": [bulkops_shared::events::SOURCE] }).to_string(),
        )
        .send()
        .await?;
    clients
        .eventbridge
        .put_targets()
        .rule(format!("{name}-all"))
        .event_bus_name(name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("events-queue")
                .arn(queue_arn)
                .build()?,
        )
        .send()
        .await?;
    Ok(queue_url)
}
