//! Test and benchmark kit: a fresh DynamoDB table and SQS queue pair per fixture on the AWS
//! emulator (moto), real API Gateway v2 / SQS event JSON, and a pump that feeds queue
//! messages to a handler the way Lambda's SQS event source mapping does.

mod emulator;
mod events;
pub mod scenario;
pub mod server;

pub use crate::worker::{pump, sqs_event, PumpOptions, PumpStats};
pub use emulator::{create_queues, create_table, emulator_sdk_config, Fixture, ENDPOINT_VAR};
pub use events::{api_request, ApiCall};
