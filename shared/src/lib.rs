//! bulkops shared crate: the job/row model, request validation, the chunked count-once
//! engine, its storage and queue ports with their AWS implementations, and the row operations.
//!
//! Handlers in `functions/` stay thin: they parse the Lambda event, call [`api`] or
//! [`engine`], and return what they get.

pub mod api;
pub mod auth;
pub mod aws;
pub mod batching;
pub mod body;
pub mod chunking;
pub mod engine;
pub mod enrollment;
pub mod error;
pub mod model;
pub mod ops;
pub mod queue;
pub mod store;
pub mod time;
