//! How an operation's API answers a submit that failed: the one mapping from the engine's
//! [`SubmitError`] to the caller's [`ApiError`].

use crate::engine::SubmitError;
use crate::error::ApiError;

/// Maps a failed submit to the caller's answer; `target` names a row (`ids[3]`,
/// `accountsList[3]`) from its 1-based number.
pub fn submit_error(error: SubmitError, target: impl Fn(u32) -> String) -> ApiError {
    match error {
        SubmitError::RowTooLarge(too_large) => ApiError::RowTooLarge {
            target: target(too_large.row),
            bytes: too_large.bytes,
        },
        SubmitError::Store(cause) => {
            tracing::error!(error = %cause, "the job could not be created");
            ApiError::ServiceUnavailable(
                "The request could not be accepted right now; nothing was created, please retry"
                    .to_owned(),
            )
        }
        SubmitError::Enqueue { job_id, .. } => ApiError::ServiceUnavailable(format!(
            "The bulk operation {job_id} could not be queued and was marked FAILED; none of its rows ran; please retry"
        )),
        SubmitError::NotReleased { job_id, source } => {
            tracing::error!(job_id, error = %source, "the job could not be released");
            ApiError::ServiceUnavailable(format!(
                "The bulk operation {job_id} could not be started; none of its rows ran and it will be marked FAILED; please retry"
            ))
        }
    }
}
