//! The HTTP calls of the two APIs, one method per route, and the errors they end in. Kept
//! apart from the waiting and the files so a canned server can test them.

use std::time::Duration;

use reqwest::{header, StatusCode};
use serde_json::Value;

use super::args::Api;

/// Route prefixes (contract sections A and B).
const MFP_SUBMIT: &str = "/api/web/v2/mobileFlashPass";
const MFP_GET: &str = "/api/web/v1/mobileFlashPass";
const MFP_LOGS: &str = "/api/web/v2/mobileFlashPass/download/logs";
const ACCOUNTS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request never got an answer (connection refused, reset, timed out).
    #[error("request to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a non-2xx status and (usually) the contract's error body.
    #[error("{}", describe_status(*status, code.as_deref(), message))]
    Status {
        status: StatusCode,
        code: Option<String>,
        message: String,
    },
    /// A 2xx answer that is not what the contract says.
    #[error("unexpected answer from {url}: {reason}")]
    Decode { url: String, reason: String },
}

impl HttpError {
    /// Worth retrying while waiting: no answer, throttling, or a server-side failure.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Transport { .. } => true,
            HttpError::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            HttpError::Decode { .. } => false,
        }
    }
}

/// `400 INVALID_REQUEST ids[3] is not valid`, plus what to do for the statuses an operator can fix.
fn describe_status(status: StatusCode, code: Option<&str>, message: &str) -> String {
    let mut text = status.as_u16().to_string();
    for part in [code.unwrap_or_default(), message] {
        if !part.is_empty() {
            text.push(' ');
            text.push_str(part);
        }
    }
    // The local server already names `bulkops token` in its message; say it once.
    let mint = if message.contains("bulkops token") {
        ""
    } else {
        "; `bulkops token` mints one for the local server"
    };
    let hint = match status {
        StatusCode::UNAUTHORIZED => format!(" (pass a token with --token or BULKOPS_TOKEN{mint})"),
        StatusCode::FORBIDDEN => format!(
            " (the token lacks the permission for this call: check --token / BULKOPS_TOKEN{mint})"
        ),
        StatusCode::PAYLOAD_TOO_LARGE => " (split the file into smaller ones)".to_owned(),
        _ => String::new(),
    };
    text.push_str(&hint);
    text
}

/// Reads the contract's `{"code", "message"}` error body, or keeps the start of any other.
fn status_error(status: StatusCode, body: &[u8]) -> HttpError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |key: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let message = field("message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        text.trim().chars().take(300).collect()
    });
    HttpError::Status {
        status,
        code: field("code"),
        message,
    }
}

/// What the submit call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The job id: a UUID (mfp) or an integer (accounts), as text.
    pub id: String,
}

/// A client of one deployment of the API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl ApiClient {
    /// `base_url` is the API root (a trailing slash is dropped); `token` goes out as a bearer token.
    pub fn new(base_url: &str, token: Option<String>) -> anyhow::Result<Self> {
        let base = base_url.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base)
            .map_err(|e| anyhow::anyhow!("invalid API URL {base_url:?}: {e}"))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("bulkops/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A large upload is validated and enqueued before the answer: allow it time.
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
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
        let transport = |source| HttpError::Transport {
            url: url.to_owned(),
            source,
        };
        let response = request
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        Ok(body.to_vec())
    }

    async fn get_json(&self, url: &str) -> Result<Value, HttpError> {
        let body = self.call(self.http.get(url), url).await?;
        decode(url, &body)
    }

    /// `POST` the request body (already serialized, so its size was checked).
    pub async fn submit(&self, api: Api, body: Vec<u8>) -> Result<Submitted, HttpError> {
        let url = match api {
            Api::Mfp => format!("{}{MFP_SUBMIT}", self.base),
            Api::Accounts => format!("{}{ACCOUNTS}", self.base),
        };
        let request = self
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        let answer = decode(&url, &self.call(request, &url).await?)?;
        // mfp answers with the BulkOperation, accounts with the bare bulk id.
        let id = match api {
            Api::Mfp => answer.get("id").cloned().unwrap_or(Value::Null),
            Api::Accounts => answer,
        };
        match id {
            Value::String(id) if !id.is_empty() => Ok(Submitted { id }),
            Value::Number(id) => Ok(Submitted { id: id.to_string() }),
            other => Err(HttpError::Decode {
                url,
                reason: format!("no job id in the answer (got {other})"),
            }),
        }
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
    fn error_bodies_become_status_code_and_message() {
        let body =
            br#"{"code": "INVALID_REQUEST", "message": "ids[3] is not valid", "target": "ids[3]"}"#;
        let error = status_error(StatusCode::BAD_REQUEST, body);
        assert_eq!(error.to_string(), "400 INVALID_REQUEST ids[3] is not valid");
        assert!(!error.is_transient());
        // API Gateway's own answers carry no code; a non-JSON body is kept as text.
        let gateway = status_error(StatusCode::BAD_GATEWAY, b"<html>Bad Gateway</html>");
        assert_eq!(gateway.to_string(), "502 <html>Bad Gateway</html>");
        assert!(gateway.is_transient());
        assert!(status_error(StatusCode::TOO_MANY_REQUESTS, b"").is_transient());
    }

    #[test]
    fn auth_failures_point_at_the_token_once() {
        let gateway = status_error(StatusCode::UNAUTHORIZED, br#"{"message": "Unauthorized"}"#);
        assert_eq!(
            gateway.to_string(),
            "401 Unauthorized (pass a token with --token or BULKOPS_TOKEN; `bulkops token` \
             mints one for the local server)"
        );
        let local = status_error(
            StatusCode::FORBIDDEN,
            br#"{"code": "FORBIDDEN", "message": "lacks ISSUANCE:ADD; see `bulkops token --scope`"}"#,
        );
        assert_eq!(local.to_string().matches("bulkops token").count(), 1);
        assert!(local.to_string().contains("--token"));
    }

    #[test]
    fn the_base_url_must_parse() {
        assert!(ApiClient::new("not a url", None).is_err());
        assert!(ApiClient::new("https://abc.execute-api.eu-west-1.amazonaws.com/", None).is_ok());
    }
}
