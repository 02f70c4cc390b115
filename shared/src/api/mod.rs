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
