//! Explicit JSON body parsing: wrong content type → 415, too large → 413, malformed → 400.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::Request;
use serde_json::Value;

use crate::error::ApiError;

/// Parses the body of `request` as JSON, enforcing `limit` bytes.
pub fn json_body(request: &Request, limit: usize) -> Result<Value, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType(content_type));
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge {
            limit,
            actual: bytes.len(),
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty", None));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not valid JSON: {e}"), None)
    })
}
