//! `GET /PasswordVault/API/BulkActions/Accounts/{bulkId}/rows?outcome=&errorCode=&limit=&cursor=`
//! (additive): an upload's rows a page at a time, each as the extended result lists it in
//! SucceededItems or FailedItems, plus its `row` and `outcome`; stable while the upload runs
//! (see [`row_pages`]). Read as the upload's result is: the uploader's only (404 for anyone
//! else), 410 once expired.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

use super::api::find_upload;
use super::results::result_item;
use crate::auth::Identity;
use crate::error::{json_response, ApiError};
use crate::model::RowOutcome;
use crate::ops::row_pages::{self, RowParams, RowQuery};
use crate::store::JobStore;

/// Answers `{"Items": [...], "NextCursor": "<cursor>" | null}`.
pub async fn rows(
    jobs: &dyn JobStore,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(request)?;
    let job = find_upload(jobs, &identity, id, now_ms).await?;
    let query = RowQuery::parse(RowParams::of(request), &job)?;
    let page = row_pages::read_page(jobs, &job, &query).await?;
    let items: Vec<Value> = page.rows.into_iter().map(row_item).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "Items": items, "NextCursor": page.next_cursor }),
    ))
}

/// A row of a page: its result item, its row number and its outcome in lower case (PVWA's
/// spelling of values, as its statuses have).
pub(super) fn row_item(outcome: RowOutcome) -> Value {
    let (row, failed) = (outcome.row, outcome.is_failed());
    let mut item = result_item(outcome);
    item.insert("row".into(), json!(row));
    let word = if failed { "failed" } else { "succeeded" };
    item.insert("outcome".into(), json!(word));
    Value::Object(item)
}
