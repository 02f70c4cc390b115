//! bulkops shared crate, what the Lambda functions run: the job/row model, the route table and
//! its dispatch ([`api`]), the operations ([`ops`]), the chunked count-once [`engine`], the
//! storage and queue ports with their AWS adapters, and the wiring ([`aws`]).
//!
//! Handlers in `functions/` stay thin: they parse the Lambda event, call [`api::handle`] or
//! [`engine::sqs::handle_batch`], and return what they get.

pub mod api;
pub mod auth;
pub mod aws;
pub mod batching;
pub mod body;
pub mod chunking;
pub mod engine;
pub mod enrollment;
pub mod error;
pub mod events;
pub mod init;
pub mod intake;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod queue;
pub mod results;
pub mod staged;
pub mod store;
pub mod time;
