//! What an event-driven request is, and how a queue message becomes one. A message the queue
//! cannot read as a request (not JSON, no owner or client token, an unknown API) is
//! [`Unreadable`]: there is nobody to answer, so it goes to the dead-letter queue.

use serde::Deserialize;
use serde_json::Value;

use crate::auth::permission;
use crate::engine::NewJob;
use crate::error::{ApiError, ApiStyle};
use crate::ops::{accounts::api as accounts, mobile_flash_pass::api as mfp};

/// The `detail-type` of the events the intake rule forwards.
pub const REQUESTED_DETAIL_TYPE: &str = "Bulk Job Requested";

/// The API a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Api {
    #[serde(rename = "mobileFlashPass")]
    MobileFlashPass,
    #[serde(rename = "accounts")]
    Accounts,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MobileFlashPass => "mobileFlashPass",
            Self::Accounts => "accounts",
        }
    }

    /// The error shape of the API's HTTP answers.
    pub fn style(self) -> ApiStyle {
        match self {
            Self::MobileFlashPass => ApiStyle::Entrust,
            Self::Accounts => ApiStyle::CyberArk,
        }
    }

    /// What the API's create route checks and builds, in its order: the caller's permission
    /// (PVWA checks safe membership per row instead), the body's size, then the body.
    pub fn validate(
        self,
        owner: &str,
        permissions: &[String],
        body: Value,
    ) -> Result<NewJob, ApiError> {
        let limit = match self {
            Self::MobileFlashPass => {
                if !permissions.iter().any(|p| p == permission::ISSUANCE_ADD) {
                    return Err(ApiError::Forbidden(permission::ISSUANCE_ADD.to_owned()));
                }
                mfp::MAX_BODY_BYTES
            }
            Self::Accounts => accounts::MAX_BODY_BYTES,
        };
        let size = serde_json::to_vec(&body).map_or(usize::MAX, |b| b.len());
        if size > limit {
            return Err(ApiError::PayloadTooLarge {
                limit,
                actual: size,
            });
        }
        match self {
            Self::MobileFlashPass => mfp::new_job(owner.to_owned(), body),
            Self::Accounts => accounts::new_job(owner.to_owned(), body),
        }
    }

    /// Names the request property of a 1-based row, as the API's errors do.
    pub fn row_target(self, row: u32) -> String {
        match self {
            Self::MobileFlashPass => mfp::row_target(row),
            Self::Accounts => accounts::row_target(row),
        }
    }
}

/// A bulk request from another service: the detail of a `Bulk Job Requested` event, or the
/// body of a message sent to the intake queue directly.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequest {
    pub api: Api,
    /// The `sub` the job belongs to, byte for byte. Whoever may send to the queue vouches
    /// for it (IAM is the trust boundary).
    pub owner: String,
    /// What a token's `scope` would grant (`ISSUANCE:ADD` for mobileFlashPass).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Unique per request: a redelivered or resent request with the same token creates no
    /// second job.
    pub client_token: String,
    /// The body the API's create route takes.
    pub body: Value,
}

/// A message that is not a bulk request.
#[derive(Debug, thiserror::Error)]
#[error("not a bulk request: {0}")]
pub struct Unreadable(pub String);

/// An EventBridge event as a rule delivers it to SQS.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Value,
}

impl BulkRequest {
    /// Reads a queue message: a `Bulk Job Requested` event forwarded by the rule, or a bare
    /// request.
    pub fn from_message(body: &str) -> Result<Self, Unreadable> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| Unreadable(format!("invalid JSON: {e}")))?;
        let request = if value.get("detail-type").is_some() {
            let envelope: Envelope = serde_json::from_value(value)
                .map_err(|e| Unreadable(format!("invalid event: {e}")))?;
            if envelope.detail_type != REQUESTED_DETAIL_TYPE {
                return Err(Unreadable(format!(
                    "detail-type {:?} is not {REQUESTED_DETAIL_TYPE:?}",
                    envelope.detail_type
                )));
            }
            envelope.detail
        } else {
            value
        };
        let request: Self =
            serde_json::from_value(request).map_err(|e| Unreadable(e.to_string()))?;
        if request.owner.is_empty() {
            return Err(Unreadable("owner must not be empty".into()));
        }
        if request.client_token.is_empty() {
            return Err(Unreadable("clientToken must not be empty".into()));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_forwarded_event_or_a_bare_request() {
        let request = json!({"api": "accounts", "owner": " alice", "clientToken": "t",
                             "body": {"accountsList": []}});
        let event = json!({"version": "0", "id": "e", "detail-type": "Bulk Job Requested",
                           "source": "orders", "detail": request});
        for text in [request.to_string(), event.to_string()] {
            let read = BulkRequest::from_message(&text).unwrap();
            assert_eq!((read.api, read.owner.as_str()), (Api::Accounts, " alice"));
            assert!(read.permissions.is_empty());
        }
    }

    #[test]
    fn what_is_not_a_request_is_unreadable() {
        for text in [
            "not json".to_owned(),
            "[]".to_owned(),
            json!({"api": "other", "owner": "a", "clientToken": "t", "body": {}}).to_string(),
            json!({"api": "accounts", "owner": "", "clientToken": "t", "body": {}}).to_string(),
            json!({"api": "accounts", "owner": "a", "clientToken": "", "body": {}}).to_string(),
            json!({"api": "accounts", "owner": "a", "body": {}}).to_string(),
            json!({"api": "accounts", "owner": "a", "clientToken": "t"}).to_string(),
            json!({"detail-type": "Something Else", "detail": {}}).to_string(),
        ] {
            assert!(BulkRequest::from_message(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn validation_is_the_http_routes() {
        let none: Vec<String> = vec![];
        let body = json!({"ids": ["AAAA"]});
        assert!(matches!(
            Api::MobileFlashPass.validate("a", &none, body.clone()),
            Err(ApiError::Forbidden(_))
        ));
        let add = vec!["ISSUANCE:ADD".to_owned()];
        assert!(Api::MobileFlashPass.validate("a", &add, body).is_ok());
        let big = json!({"ids": vec!["AAAA"; 60_000]});
        assert!(matches!(
            Api::MobileFlashPass.validate("a", &add, big),
            Err(ApiError::PayloadTooLarge { .. })
        ));
        assert!(matches!(
            Api::Accounts.validate("a", &none, json!({"accountsList": []})),
            Err(ApiError::BadRequest { .. })
        ));
    }
}
