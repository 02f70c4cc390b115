//! `GET /api/web/v2/mobileFlashPass/{id}/rows?outcome=&errorCode=&limit=&cursor=` (additive):
//! the row log a page at a time, each row exactly as the log file has it, stable while the
//! job runs (see [`row_pages`]). Read as `GET …/{id}` reads the job: `ISSUANCE:VIEW`, 404,
//! 410 once expired.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::api::find_job;
use crate::auth::{authorize, permission};
use crate::error::{json_response, ApiError};
use crate::ops::row_pages::{self, RowParams, RowQuery};
use crate::store::JobStore;

/// Answers `{"rows": [...], "nextCursor": "<cursor>" | null}`.
pub async fn rows(
    jobs: &dyn JobStore,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    authorize(request, permission::ISSUANCE_VIEW)?;
    let job = find_job(jobs, id, now_ms).await?;
    let query = RowQuery::parse(RowParams::of(request), &job)?;
    let page = row_pages::read_page(jobs, &job, &query).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "rows": page.rows, "nextCursor": page.next_cursor }),
    ))
}
