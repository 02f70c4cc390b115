//! `POST /PasswordVault/API/BulkActions/Accounts/{bulkId}/retry[?errorCode=]` (additive): a
//! new upload of a final upload's failed rows (those with `errorCode`, if given), in their
//! order, with their `uploadIndex`, the same `source` and tolerance, and their secrets.
//!
//! A failed row's secret is kept apart when its chunk is recorded, until
//! [`secrets_expire_at_ms`] (4 days after the upload was created, as long as a staged secret
//! lives); after that a retry is refused with a 409 that says so, rather than send the rows
//! without the secrets they were uploaded with.
//!
//! A staged file's lines that were not accounts (their echo holds no account, only the
//! uploadIndex) have nothing to send again: a retry leaves them out, and is refused with a
//! 409 when they are all it would send.

use lambda_http::{Request, RequestExt};
use serde_json::{json, Value};

use super::api::{find_upload, parse_upload, BULK_ID_SEQUENCE};
use crate::auth::Identity;
use crate::engine::{JobId, NewJob};
use crate::error::ApiError;
use crate::model::{JobType, RowOutcome};
use crate::store::{secrets_expire_at_ms, JobStore};

/// The upload a retry of upload `id`'s failed rows asks for; the caller must be the uploader.
pub async fn retry_job(
    jobs: &dyn JobStore,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<NewJob, ApiError> {
    let identity = Identity::from_request(request)?;
    let original = find_upload(jobs, &identity, id, now_ms).await?;
    if !original.state.is_terminal() {
        return Err(ApiError::Conflict(format!(
            "Bulk account upload {id} is {}; its failed rows can be retried once it has ended",
            super::pvwa_status(&original)
        )));
    }
    let kept_until = secrets_expire_at_ms(&original);
    if now_ms >= kept_until {
        return Err(ApiError::Conflict(format!(
            "The failed rows of bulk account upload {id} could be retried until {}, while their secrets were kept; upload them again",
            crate::time::rfc3339(kept_until)
        )));
    }
    let wanted = request
        .query_string_parameters_ref()
        .and_then(|q| q.first("errorCode"))
        .map(str::to_owned);
    let (failed, not_accounts): (Vec<RowOutcome>, Vec<RowOutcome>) = jobs
        .row_outcomes(&original.id)
        .await?
        .into_iter()
        .filter(|o| o.is_failed())
        .filter(|o| wanted.is_none() || o.error_code == wanted)
        .partition(|o| o.item.contains_key("safeName"));
    if failed.is_empty() && !not_accounts.is_empty() {
        return Err(ApiError::Conflict(format!(
            "The failed rows of bulk account upload {id} are lines of its file that are not accounts; fix them in the file and upload it again"
        )));
    }
    if failed.is_empty() {
        return Err(ApiError::Conflict(format!(
            "Bulk account upload {id} has no failed rows{} to retry",
            wanted
                .map(|c| format!(" with errorCode {c}"))
                .unwrap_or_default()
        )));
    }
    let secrets = jobs.kept_secrets(&original.id).await?;
    let accounts: Vec<Value> = failed
        .into_iter()
        .map(|outcome| {
            // The echo is the row's account and uploadIndex, without its secret.
            let mut account = outcome.item;
            if let Some(secret) = secrets.get(&outcome.row) {
                account.insert("secret".into(), json!(secret));
            }
            Value::Object(account)
        })
        .collect();
    let upload = parse_upload(json!({ "source": original.source, "accountsList": accounts }))
        .map_err(|error| {
            ApiError::Internal(crate::error::StoreError::Corrupt(format!(
                "the failed rows of upload {id} do not parse as an upload: {error}"
            )))
        })?;
    Ok(NewJob {
        id: JobId::Next(BULK_ID_SEQUENCE),
        job_type: JobType::AddAccounts,
        owner: identity.subject,
        source: upload.source,
        client_token: None,
        rows: upload.rows,
        secrets: upload.secrets,
        tolerance: original.tolerance,
        retry_of: Some(original.id),
        quota: None,
        upload_until_ms: None,
    })
}
