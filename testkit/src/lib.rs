//! Test and benchmark kit, for development only (the product never links it): a fresh
//! DynamoDB table and SQS queue pair per fixture on the AWS emulator (moto), API Gateway calls
//! built from the committed real event JSON, a pump that feeds queue messages to a handler the
//! way Lambda's SQS event source mapping does, scenarios, and `bulkops serve` as a child
//! process. The benchmark binaries (`bench`, `bench_local`) live here too.

mod bus;
pub mod calls;
pub mod capacity;
mod clock;
pub mod cost;
mod emulator;
mod events;
mod intake;
mod pump;
pub mod runtime_api;
pub mod scenario;
pub mod server;
mod uploads;

pub use bulkops::worker::sqs_event;
pub use clock::MovableClock;
pub use emulator::{create_queues, create_table, emulator_sdk_config, Fixture, ENDPOINT_VAR};
pub use events::{api_request, ApiCall};
pub use intake::IntakeQueues;
pub use pump::{pump, PumpOptions, PumpStats};
pub use uploads::{create_upload_bucket, UploadBucket};
