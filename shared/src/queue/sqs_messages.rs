//! [`MessageQueue`] on SQS: one `SendMessage` per message.

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use super::{MessageQueue, QueueError};

#[derive(Clone, Debug)]
pub struct SqsMessageQueue {
    client: Client,
    queue_url: String,
}

impl SqsMessageQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl MessageQueue for SqsMessageQueue {
    async fn send(&self, body: &str) -> Result<String, QueueError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                QueueError(format!(
                    "SendMessage: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                ))
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
