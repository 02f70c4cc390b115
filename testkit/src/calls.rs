//! Counting AWS API calls (every attempt, retries included) for the benchmarks: an SDK
//! interceptor, and clients that carry it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use bulkops_shared::aws::AwsClients;

use crate::capacity::CapacityMeter;

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

/// Clients that count every API call into `counter`, and the billed units of DynamoDB and
/// SQS into `capacity`.
pub fn counted_clients(
    config: &SdkConfig,
    counter: &CallCounter,
    capacity: &CapacityMeter,
) -> AwsClients {
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(counter.clone())
        .interceptor(capacity.clone())
        .build();
    let sqs = aws_sdk_sqs::config::Builder::from(config)
        .interceptor(counter.clone())
        .interceptor(capacity.clone())
        .build();
    let eventbridge = aws_sdk_eventbridge::config::Builder::from(config)
        .interceptor(counter.clone())
        .build();
    let s3 = bulkops_shared::aws::s3_config(config)
        .interceptor(counter.clone())
        .build();
    AwsClients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
        sqs: aws_sdk_sqs::Client::from_conf(sqs),
        eventbridge: aws_sdk_eventbridge::Client::from_conf(eventbridge),
        s3: aws_sdk_s3::Client::from_conf(s3),
    }
}
