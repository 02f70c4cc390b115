//! Typed errors. [`ApiError`] is the one place where failures become HTTP status codes and
//! the contract's JSON error body `{code, message, target}`.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A storage failure (DynamoDB or another store implementation).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("throttled by the store: {0}")]
    Throttled(String),
    #[error("store request failed: {0}")]
    Backend(String),
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
}

/// A queue failure while enqueueing chunks.
#[derive(Debug, thiserror::Error)]
#[error("{sent} of {total} chunks enqueued; the rest failed: {reason}")]
pub struct EnqueueError {
    pub sent: usize,
    pub total: usize,
    /// Chunk numbers that were not enqueued.
    pub unsent_chunks: Vec<u32>,
    pub reason: String,
}

/// A failure while processing a chunk; the message is retried (and dead-lettered in the end).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chunk message is malformed: {0}")]
    BadMessage(String),
}

/// Every error an HTTP handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        target: Option<String>,
    },
    #[error("missing or invalid identity")]
    Unauthorized,
    #[error("the caller lacks the {0} permission")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body exceeds the limit of {limit} bytes ({actual} bytes)")]
    PayloadTooLarge { limit: usize, actual: usize },
    #[error("unsupported content type {0:?}; use application/json")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    #[error("internal error")]
    Internal(#[from] StoreError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>, target: impl Into<Option<String>>) -> Self {
        Self::BadRequest {
            message: message.into(),
            target: target.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable machine-readable code of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "INVALID_REQUEST",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::ServiceUnavailable(_) => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The JSON error response. Internal causes are logged here, never sent to the caller.
    pub fn into_response(self) -> Response<Body> {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        } else {
            tracing::info!(status = self.status().as_u16(), code = self.code(), error = %self, "request rejected");
        }
        let target = match &self {
            Self::BadRequest { target, .. } => target.as_deref(),
            _ => None,
        };
        let body = ErrorBody {
            code: self.code(),
            message: self.to_string(),
            target,
        };
        json_response(self.status(), &body)
    }
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(r: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[test]
    fn bad_request_names_its_target() {
        let r = ApiError::bad_request("ids[3] is not valid base64", Some("ids[3]".to_owned()))
            .into_response();
        assert_eq!(r.status(), 400);
        assert_eq!(
            body_json(&r),
            serde_json::json!({"code": "INVALID_REQUEST", "message": "ids[3] is not valid base64", "target": "ids[3]"})
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let r = ApiError::Internal(StoreError::Backend("secret detail".into())).into_response();
        assert_eq!(r.status(), 500);
        let body = body_json(&r);
        assert_eq!(body["code"], "INTERNAL_ERROR");
        assert!(!body.to_string().contains("secret detail"));
    }
}
