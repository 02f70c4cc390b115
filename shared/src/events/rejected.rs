//! The event of an event-driven request that created no job: `Bulk Job Rejected`, carrying
//! what the HTTP route would have answered (its status and its JSON error body, in the API's
//! own error shape).

use serde::{Deserialize, Serialize};

use super::{Detail, JobEvent, SOURCE};
use crate::error::{ApiError, ApiStyle};
use crate::time::rfc3339;

pub const REJECTED_DETAIL_TYPE: &str = "Bulk Job Rejected";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedDetail {
    /// `request-<client token key>:REJECTED`: the same for every delivery of one request.
    pub event_id: String,
    /// `mobileFlashPass` or `accounts`.
    pub api: String,
    pub owner: String,
    pub client_token: String,
    /// The HTTP status the same request gets from the API (400, 403, 413, …).
    pub status: u16,
    /// The API's JSON error body for it, verbatim (its shape is the API's: Entrust's
    /// `{code, message, target}` or PVWA's `{ErrorCode, ErrorMessage, Details}`).
    pub error: serde_json::Value,
}

/// Who asked for what, as a rejection names it.
pub struct RejectedRequest<'a> {
    pub api: &'a str,
    pub style: ApiStyle,
    pub owner: &'a str,
    pub client_token: &'a str,
    /// The request's [`crate::store::client_token_key`].
    pub token_key: &'a str,
}

/// The `Bulk Job Rejected` event of `request`, refused with `error` at `at_ms`.
pub fn rejected_event(request: &RejectedRequest<'_>, error: &ApiError, at_ms: i64) -> JobEvent {
    let id = format!("request-{}:REJECTED", request.token_key);
    JobEvent {
        id: id.clone(),
        source: SOURCE.to_owned(),
        detail_type: REJECTED_DETAIL_TYPE.to_owned(),
        time: rfc3339(at_ms),
        detail: Detail::Rejected(RejectedDetail {
            event_id: id,
            api: request.api.to_owned(),
            owner: request.owner.to_owned(),
            client_token: request.client_token.to_owned(),
            status: error.status().as_u16(),
            error: error.body(request.style),
        }),
    }
}
