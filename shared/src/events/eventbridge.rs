//! [`EventSink`] on an EventBridge bus: PutEvents, 10 entries a call, checking each entry's
//! result even when the call succeeds (`FailedEntryCount`), as EventBridge reports
//! throttling and internal failures per entry.

use async_trait::async_trait;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use super::{EventSink, JobEvent, SinkError};

/// PutEvents takes at most 10 entries.
const MAX_ENTRIES: usize = 10;

#[derive(Clone, Debug)]
pub struct EventBridgeSink {
    client: Client,
    bus: String,
}

impl EventBridgeSink {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventSink for EventBridgeSink {
    async fn send(&self, events: &[JobEvent]) -> Result<Vec<String>, SinkError> {
        let mut refused = Vec::new();
        for batch in events.chunks(MAX_ENTRIES) {
            let mut request = self.client.put_events();
            for event in batch {
                let detail = serde_json::to_string(&event.detail)
                    .map_err(|e| SinkError(format!("event {}: {e}", event.id)))?;
                let time = chrono::DateTime::parse_from_rfc3339(&event.time)
                    .map(|t| DateTime::from_millis(t.timestamp_millis()))
                    .ok();
                request = request.entries(
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(&event.source)
                        .detail_type(&event.detail_type)
                        .detail(detail)
                        .set_time(time)
                        .build(),
                );
            }
            let out = request.send().await.map_err(|e| {
                SinkError(format!(
                    "PutEvents: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ))
            })?;
            // One result per entry, in order; an entry with an error code was not accepted.
            for (event, entry) in batch.iter().zip(out.entries.unwrap_or_default()) {
                if let Some(code) = entry.error_code {
                    tracing::warn!(event_id = %event.id, code, message = entry.error_message.as_deref().unwrap_or(""), "event refused by EventBridge");
                    refused.push(event.id.clone());
                }
            }
        }
        Ok(refused)
    }
}
