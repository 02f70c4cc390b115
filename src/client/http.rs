//! The HTTP calls of the two APIs, one method per route, each a single attempt (the callers
//! decide what to retry: see `retry`). Kept apart from the waiting and the files so a canned
//! server can test them.

use std::time::Duration;

use reqwest::{header, Url};
use serde_json::{json, Value};

use super::args::Api;
use super::http_error::status_error;
pub use super::http_error::HttpError;

/// Route prefixes (contract sections A and B).
const MFP_SUBMIT: &str = "/api/web/v2/mobileFlashPass";
const MFP_GET: &str = "/api/web/v1/mobileFlashPass";
const MFP_LOGS: &str = "/api/web/v2/mobileFlashPass/download/logs";
const MFP_CANCEL: &str = "/api/web/v1/mobileFlashPass/cancel";
const ACCOUNTS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// A client of one deployment of the API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// The server-side filters of the account upload listing (the flash pass listing has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: Option<u32>,
    /// A CyberArk status (`completedWithErrors`, `inProgress`, ... or `completed`).
    pub status: Option<String>,
}

impl ApiClient {
    /// `base_url` is the API root (a trailing slash is dropped); `token` goes out as a bearer token.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Self, String> {
        let base = base_url.trim_end_matches('/').to_owned();
        Url::parse(&base).map_err(|e| format!("invalid API URL {base_url:?}: {e}"))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("bulkops/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A large upload is validated and enqueued before the answer: allow it time.
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(Self { http, base, token })
    }

    /// Sends a request and returns the body of a 2xx answer.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Vec<u8>, HttpError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| HttpError::transport(url, e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError::transport(url, e))?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        Ok(body.to_vec())
    }

    async fn get_json(&self, url: &str) -> Result<Value, HttpError> {
        let body = self.call(self.http.get(url), url).await?;
        decode(url, &body)
    }

    /// `POST` the request body (already serialized, so its size was checked); returns the
    /// job id: a UUID (mfp) or the bulk id (accounts), as text.
    ///
    /// Sends `key` as the `Idempotency-Key`: every attempt of one submit sends the same key,
    /// so a retry after a lost answer gets the first answer (the same job), never a second.
    pub async fn submit(&self, api: Api, body: Vec<u8>, key: &str) -> Result<String, HttpError> {
        let url = match api {
            Api::Mfp => format!("{}{MFP_SUBMIT}", self.base),
            Api::Accounts => format!("{}{ACCOUNTS}", self.base),
        };
        let request = self
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(body);
        let answer = decode(&url, &self.call(request, &url).await?)?;
        // mfp answers with the BulkOperation, accounts with the bare bulk id.
        let id = match api {
            Api::Mfp => answer.get("id").cloned().unwrap_or(Value::Null),
            Api::Accounts => answer,
        };
        match id {
            Value::String(id) if !id.is_empty() => Ok(id),
            Value::Number(id) => Ok(id.to_string()),
            other => Err(HttpError::Decode {
                url,
                reason: format!("no job id in the answer (got {other})"),
            }),
        }
    }

    /// Creates a job whose rows come in a staged file (`POST …/uploads`, keyed like a
    /// submit); returns its id and the URL to `PUT` the file to.
    pub async fn create_staged(
        &self,
        api: Api,
        source: &str,
        key: &str,
    ) -> Result<(String, String), HttpError> {
        let (url, body) = match api {
            Api::Mfp => (format!("{}{MFP_SUBMIT}/uploads", self.base), json!({})),
            Api::Accounts => (
                format!("{}{ACCOUNTS}/uploads", self.base),
                json!({ "source": source }),
            ),
        };
        let request = self
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(body.to_string());
        let answer = decode(&url, &self.call(request, &url).await?)?;
        let (id, upload) = match api {
            Api::Mfp => (answer.get("id"), answer.pointer("/upload/url")),
            Api::Accounts => (answer.get("Id"), answer.get("UploadUrl")),
        };
        let id = match id {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => {
                return Err(HttpError::Decode {
                    url,
                    reason: format!("no job id in the answer (got {answer})"),
                })
            }
        };
        match upload.and_then(Value::as_str) {
            Some(upload) => Ok((id, upload.to_owned())),
            None => Err(HttpError::Decode {
                url,
                reason: format!("no upload URL in the answer (got {answer})"),
            }),
        }
    }

    /// `PUT`s a staged file to its signed URL (no token: the URL is the credential). A `409`
    /// means the job has its rows already: an earlier attempt's file arrived.
    pub async fn put_file(&self, url: &str, file: Vec<u8>) -> Result<(), HttpError> {
        let response = self
            .http
            .put(url)
            .timeout(Duration::from_secs(3_600))
            .body(file)
            .send()
            .await
            .map_err(|e| HttpError::transport(url, e))?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::CONFLICT {
            return Ok(());
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError::transport(url, e))?;
        Err(status_error(status, &body))
    }

    /// Queues an event-driven request on the local server's intake queue; returns its answer
    /// (`{"messageId"}`).
    pub async fn queue_request(&self, path: &str, body: Vec<u8>) -> Result<Value, HttpError> {
        let url = format!("{}{path}", self.base);
        let request = self
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        decode(&url, &self.call(request, &url).await?)
    }

    /// The job as the GET route shows it (BulkOperation, or the accounts extended result).
    pub async fn job(&self, api: Api, id: &str) -> Result<Value, HttpError> {
        let url = match api {
            Api::Mfp => format!("{}{MFP_GET}/{id}", self.base),
            Api::Accounts => format!("{}{ACCOUNTS}/{id}", self.base),
        };
        self.get_json(&url).await
    }

    /// The mfp row log: one entry per row that ran, in row order.
    pub async fn mfp_logs(&self, id: &str) -> Result<Vec<Value>, HttpError> {
        let url = format!("{}{MFP_LOGS}/{id}", self.base);
        match self.get_json(&url).await? {
            Value::Array(entries) => Ok(entries),
            other => Err(HttpError::Decode {
                url,
                reason: format!("expected a JSON array, got {}", kind(&other)),
            }),
        }
    }

    /// `DELETE` the mfp job (the account upload API has no cancel route). Safe to repeat: a
    /// second cancel of a cancelled job is a 409, which is not retried.
    pub async fn cancel_mfp(&self, id: &str) -> Result<(), HttpError> {
        let url = format!("{}{MFP_CANCEL}/{id}", self.base);
        self.call(self.http.delete(&url), &url).await.map(drop)
    }

    /// The listing route: mfp answers with an array of BulkOperation, accounts with
    /// `{"Total", "BulkActions"}`.
    pub async fn list(&self, api: Api, query: &ListQuery) -> Result<Value, HttpError> {
        let url = match api {
            Api::Mfp => format!("{}{MFP_GET}", self.base),
            Api::Accounts => {
                let mut url = Url::parse(&format!("{}{ACCOUNTS}", self.base)).map_err(|e| {
                    HttpError::Decode {
                        url: self.base.clone(),
                        reason: e.to_string(),
                    }
                })?;
                if let Some(limit) = query.limit {
                    url.query_pairs_mut()
                        .append_pair("limit", &limit.to_string());
                }
                if let Some(status) = &query.status {
                    url.query_pairs_mut()
                        .append_pair("filter", &format!("status eq {status}"));
                }
                url.to_string()
            }
        };
        self.get_json(&url).await
    }
}

fn decode(url: &str, body: &[u8]) -> Result<Value, HttpError> {
    serde_json::from_slice(body).map_err(|e| HttpError::Decode {
        url: url.to_owned(),
        reason: format!("not JSON: {e}"),
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_must_parse() {
        assert!(ApiClient::new("not a url", None).is_err());
        assert!(ApiClient::new("https://abc.execute-api.eu-west-1.amazonaws.com/", None).is_ok());
    }
}
