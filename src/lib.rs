//! The `bulkops` operator tool and test kit: reference-data loading, the AWS emulator
//! fixtures, real Lambda event construction and a queue pump standing in for the SQS event
//! source mapping in tests and benchmarks.

pub mod apigw;
pub mod client;
pub mod local;
pub mod reference;
pub mod testkit;
pub mod worker;
