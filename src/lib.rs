//! The `bulkops` command: the local server (`serve`: API Gateway, the Lambda handlers and the
//! SQS trigger on one machine), the operator client (`submit`), reference-data loading, and
//! the construction of real Lambda events the local gateway and worker hand the handlers.

pub mod apigw;
pub mod client;
pub mod local;
pub mod reference;
pub mod worker;
