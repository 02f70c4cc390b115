//! AWS wiring: SDK configuration from the environment (so the same binary runs against AWS,
//! moto or LocalStack through the SDK's standard `AWS_ENDPOINT_URL`), required settings, and
//! an interceptor that counts API calls for the benchmarks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// A required setting is missing.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} must be set")]
pub struct MissingSetting(pub &'static str);

/// Reads a required environment variable; functions call this at cold start and fail fast.
pub fn required_env(name: &'static str) -> Result<String, MissingSetting> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(MissingSetting(name))
}

/// SDK configuration from the standard environment and credential chain.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Counts AWS API calls (every attempt, retries included) by `Service.Operation`.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// Calls so far, by `Service.Operation`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".to_owned());
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(name).or_default() += 1;
        }
        Ok(())
    }
}

/// Clients built once per cold start and shared by every invocation.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
        }
    }

    /// Clients that count every API call into `counter`.
    pub fn counted(config: &SdkConfig, counter: &CallCounter) -> Self {
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(config)
            .interceptor(counter.clone())
            .build();
        let sqs = aws_sdk_sqs::config::Builder::from(config)
            .interceptor(counter.clone())
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
        }
    }

    pub fn job_store(&self, table: &str) -> std::sync::Arc<dyn crate::store::JobStore> {
        std::sync::Arc::new(crate::store::dynamo::DynamoJobStore::new(
            self.dynamodb.clone(),
            table,
        ))
    }

    pub fn record_store(&self, table: &str) -> std::sync::Arc<dyn crate::store::RecordStore> {
        std::sync::Arc::new(crate::store::dynamo::DynamoRecordStore::new(
            self.dynamodb.clone(),
            table,
        ))
    }

    pub fn chunk_queue(&self, queue_url: &str) -> std::sync::Arc<dyn crate::queue::ChunkQueue> {
        std::sync::Arc::new(crate::queue::sqs::SqsChunkQueue::new(
            self.sqs.clone(),
            queue_url,
        ))
    }
}
