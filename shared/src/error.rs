//! Typed errors. [`ApiError`] is the one place where failures become HTTP status codes and
//! JSON error bodies, in the shape of the API that was called ([`ApiStyle`]): Entrust's
//! `{code, message, target}` or PVWA's `{ErrorCode, ErrorMessage, Details}`.

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

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
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
    /// The chunk's successor in its job's window could not be queued.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
    #[error("chunk message is malformed: {0}")]
    BadMessage(String),
    /// The chunk's job is still AWAITING_DATA: its submit has not queued every chunk yet.
    #[error("job {0} has not released its chunks yet; the chunk will be retried")]
    NotReleased(String),
    /// A sealed chunk's secrets are gone but the chunk is not recorded.
    #[error("the staged secrets of chunk {chunk} of job {job_id} are missing")]
    SecretsMissing { job_id: String, chunk: u32 },
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
    /// The job existed and is past its retention.
    #[error("{0}")]
    Gone(String),
    /// The Idempotency-Key's first request is still being answered.
    #[error("a request with this Idempotency-Key is still in progress; retry it in a moment")]
    IdempotencyKeyInUse,
    /// The Idempotency-Key was used before with a different body.
    #[error("this Idempotency-Key was used with a different request body; use a new key for a new request")]
    IdempotencyKeyReused,
    #[error("request body exceeds the limit of {limit} bytes ({actual} bytes)")]
    PayloadTooLarge { limit: usize, actual: usize },
    /// One row is too large to stage and queue (named by `target`).
    #[error(
        "{target} is {bytes} bytes with its secret; a row may be at most {} bytes",
        crate::chunking::MAX_ROW_BYTES
    )]
    RowTooLarge { target: String, bytes: usize },
    #[error("unsupported content type {0:?}; use application/json")]
    UnsupportedMediaType(String),
    /// The caller is at its quota of active jobs or rows in flight: retry after a while.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("{0}")]
    ServiceUnavailable(String),
    #[error("internal error")]
    Internal(#[from] StoreError),
}

/// Which API's error shape a response takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiStyle {
    /// Contract section A: `{"code", "message", "target"?}`.
    Entrust,
    /// Contract section B: `{"ErrorCode", "ErrorMessage", "Details"?}`, which psPAS and
    /// CyberArk's scripts read.
    CyberArk,
}

impl ApiStyle {
    /// The style of the API a path belongs to: any path with a `PasswordVault` segment (in any
    /// case, after any stage prefix) is CyberArk's; everything else is Entrust's.
    pub fn for_path(path: &str) -> Self {
        if path
            .split('/')
            .any(|segment| segment.eq_ignore_ascii_case("PasswordVault"))
        {
            Self::CyberArk
        } else {
            Self::Entrust
        }
    }

    /// The JSON error body of this style.
    pub fn error_body(self, code: &str, message: &str, target: Option<&str>) -> serde_json::Value {
        match self {
            Self::Entrust => match target {
                Some(target) => {
                    serde_json::json!({ "code": code, "message": message, "target": target })
                }
                None => serde_json::json!({ "code": code, "message": message }),
            },
            Self::CyberArk => match target {
                Some(target) => serde_json::json!({
                    "ErrorCode": code, "ErrorMessage": message, "Details": { "target": target }
                }),
                None => serde_json::json!({ "ErrorCode": code, "ErrorMessage": message }),
            },
        }
    }
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
            Self::Conflict(_) | Self::IdempotencyKeyInUse => StatusCode::CONFLICT,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge { .. } | Self::RowTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
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
            Self::IdempotencyKeyInUse => "IDEMPOTENCY_KEY_IN_USE",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::Gone(_) => "GONE",
            Self::PayloadTooLarge { .. } | Self::RowTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::TooManyRequests { .. } => "QUOTA_EXCEEDED",
            Self::ServiceUnavailable(_) => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The JSON error response in `style`. Internal causes are logged here, never sent to
    /// the caller.
    pub fn into_response(self, style: ApiStyle) -> Response<Body> {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        } else {
            tracing::info!(status = self.status().as_u16(), code = self.code(), error = %self, "request rejected");
        }
        let retry_after = match &self {
            Self::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let mut response = json_response(self.status(), &self.body(style));
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }

    /// The JSON error body in `style`, as the response carries it.
    pub fn body(&self, style: ApiStyle) -> serde_json::Value {
        let target = match self {
            Self::BadRequest { target, .. } => target.as_deref(),
            Self::RowTooLarge { target, .. } => Some(target.as_str()),
            _ => None,
        };
        style.error_body(self.code(), &self.to_string(), target)
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
            .into_response(ApiStyle::Entrust);
        assert_eq!(r.status(), 400);
        assert_eq!(
            body_json(&r),
            serde_json::json!({"code": "INVALID_REQUEST", "message": "ids[3] is not valid base64", "target": "ids[3]"})
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        for style in [ApiStyle::Entrust, ApiStyle::CyberArk] {
            let r = ApiError::Internal(StoreError::Backend("secret detail".into()))
                .into_response(style);
            assert_eq!(r.status(), 500);
            let body = body_json(&r);
            assert!(!body.to_string().contains("secret detail"));
        }
    }

    #[test]
    fn cyberark_errors_take_pvwa_shape() {
        let r = ApiError::bad_request("bad", Some("accountsList[0].safeName".to_owned()))
            .into_response(ApiStyle::CyberArk);
        assert_eq!(
            body_json(&r),
            serde_json::json!({"ErrorCode": "INVALID_REQUEST", "ErrorMessage": "bad",
                "Details": {"target": "accountsList[0].safeName"}})
        );
        let r = ApiError::Unauthorized.into_response(ApiStyle::CyberArk);
        assert_eq!(r.status(), 401);
        assert_eq!(body_json(&r)["ErrorCode"], "UNAUTHORIZED");
    }

    #[test]
    fn the_style_follows_the_path() {
        assert_eq!(
            ApiStyle::for_path("/PasswordVault/API/BulkActions/Accounts"),
            ApiStyle::CyberArk
        );
        assert_eq!(
            ApiStyle::for_path("/prod/passwordvault/api/bulkactions/accounts/7"),
            ApiStyle::CyberArk
        );
        assert_eq!(
            ApiStyle::for_path("/api/web/v1/mobileFlashPass"),
            ApiStyle::Entrust
        );
        assert_eq!(ApiStyle::for_path("/nowhere"), ApiStyle::Entrust);
    }
}
