//! The ways an API call fails, each said in a way an operator can act on.

use std::error::Error as _;

use reqwest::StatusCode;
use serde_json::Value;

use super::exit::Exit;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request never got an answer (connection refused, reset, timed out).
    #[error(
        "no answer from {url} ({reason}): check --url (or BULKOPS_URL) and that the server is \
         running (`bulkops serve` for the local one)"
    )]
    Transport {
        url: String,
        /// The cause in a few words: `connection refused`, `timed out`, ...
        reason: String,
        /// The request may have reached the server before the connection failed.
        maybe_sent: bool,
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
    /// Worth retrying: no answer, throttling, or a server-side failure.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Transport { .. } => true,
            HttpError::Status { status, code, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    // A create whose first attempt the server is still answering.
                    || code.as_deref() == Some("IDEMPOTENCY_KEY_IN_USE")
            }
            HttpError::Decode { .. } => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The exit status of a command that ends with this error.
    pub fn exit(&self) -> Exit {
        match self {
            HttpError::Transport { .. } => Exit::Unreachable,
            HttpError::Status { status, .. }
                if matches!(*status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) =>
            {
                Exit::Auth
            }
            _ => Exit::Error,
        }
    }

    /// A short form for a status line: `connection refused`, `503 SERVICE_UNAVAILABLE`.
    pub fn brief(&self) -> String {
        match self {
            HttpError::Transport { reason, .. } => reason.clone(),
            HttpError::Status { status, code, .. } => format!(
                "{} {}",
                status.as_u16(),
                code.as_deref().unwrap_or_default()
            )
            .trim_end()
            .to_owned(),
            HttpError::Decode { reason, .. } => reason.clone(),
        }
    }

    pub fn transport(url: &str, source: reqwest::Error) -> Self {
        HttpError::Transport {
            url: url.to_owned(),
            reason: transport_reason(&source),
            // A refused or unresolved connection never carried the request.
            maybe_sent: !source.is_connect(),
            source,
        }
    }
}

/// The innermost cause of a transport error, in a few words.
fn transport_reason(error: &reqwest::Error) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(inner) = cause {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            return match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                ErrorKind::ConnectionReset => "connection reset".to_owned(),
                ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
                ErrorKind::TimedOut => "timed out".to_owned(),
                _ => io.to_string(),
            };
        }
        match inner.source() {
            Some(next) => cause = Some(next),
            None => return inner.to_string(),
        }
    }
    if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
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
        "; `bulkops token` mints one for the local server, with the same --data-dir as `serve`"
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

/// Reads the error body of either API — `{"code", "message"}` (section A) or PVWA's
/// `{"ErrorCode", "ErrorMessage"}` (section B) — or keeps the start of any other.
pub fn status_error(status: StatusCode, body: &[u8]) -> HttpError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |keys: [&str; 2]| {
        keys.iter().find_map(|key| {
            parsed
                .as_ref()
                .and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    };
    let message = field(["message", "ErrorMessage"]).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        text.trim().chars().take(300).collect()
    });
    HttpError::Status {
        status,
        code: field(["code", "ErrorCode"]),
        message,
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
        assert_eq!(error.exit(), Exit::Error);
        // API Gateway's own answers carry no code; a non-JSON body is kept as text.
        let gateway = status_error(StatusCode::BAD_GATEWAY, b"<html>Bad Gateway</html>");
        assert_eq!(gateway.to_string(), "502 <html>Bad Gateway</html>");
        assert!(gateway.is_transient());
        assert_eq!(gateway.brief(), "502");
        assert!(status_error(StatusCode::TOO_MANY_REQUESTS, b"").is_transient());
        let pvwa = status_error(
            StatusCode::NOT_FOUND,
            br#"{"ErrorCode": "NOT_FOUND", "ErrorMessage": "no upload 9"}"#,
        );
        assert_eq!(pvwa.to_string(), "404 NOT_FOUND no upload 9");
    }

    #[test]
    fn auth_failures_point_at_the_token_once() {
        let gateway = status_error(StatusCode::UNAUTHORIZED, br#"{"message": "Unauthorized"}"#);
        assert_eq!(gateway.exit(), Exit::Auth);
        assert_eq!(
            gateway.to_string(),
            "401 Unauthorized (pass a token with --token or BULKOPS_TOKEN; `bulkops token` \
             mints one for the local server, with the same --data-dir as `serve`)"
        );
        let local = status_error(
            StatusCode::FORBIDDEN,
            br#"{"code": "FORBIDDEN", "message": "lacks ISSUANCE:ADD; see `bulkops token --scope`"}"#,
        );
        assert_eq!(local.exit(), Exit::Auth);
        assert_eq!(local.to_string().matches("bulkops token").count(), 1);
        assert!(local.to_string().contains("--token"));
    }

    #[tokio::test]
    async fn a_refused_connection_says_so_and_where_to_look() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/x");
        let source = reqwest::get(&url).await.unwrap_err();
        let error = HttpError::transport(&url, source);
        assert_eq!(error.brief(), "connection refused");
        assert!(matches!(
            error,
            HttpError::Transport {
                maybe_sent: false,
                ..
            }
        ));
        assert_eq!(error.exit(), Exit::Unreachable);
        let text = error.to_string();
        assert!(text.contains("(connection refused): check --url"), "{text}");
        assert!(text.contains("`bulkops serve`"), "{text}");
    }
}
