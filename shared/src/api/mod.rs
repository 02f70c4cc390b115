//! HTTP-facing logic shared by the HTTP handlers: body parsing and the API routes.

pub mod body;
pub mod mobile_flash_pass;
pub mod routes;

use lambda_http::{Body, Response};

use crate::error::ApiError;

/// Maps a handler result to a response: the one place errors become HTTP.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// What the read-only and cancel handlers need: the job store, built once per cold start.
pub struct JobsDeps {
    pub jobs: std::sync::Arc<dyn crate::store::JobStore>,
}

impl JobsDeps {
    /// From `TABLE_NAME`.
    pub fn from_env(clients: &crate::aws::AwsClients) -> Result<Self, crate::aws::MissingSetting> {
        Ok(Self {
            jobs: clients.job_store(&crate::aws::required_env("TABLE_NAME")?),
        })
    }
}
