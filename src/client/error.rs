//! Why a client command failed, and the exit status each reason gets.

use reqwest::StatusCode;

use super::exit::Exit;
use super::failed_file::FailedFileError;
use super::http_error::HttpError;
use super::input::InputError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The file cannot be submitted; nothing was sent.
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    FailedFile(#[from] FailedFileError),
    /// The command asks what the API cannot do, or a value is unusable.
    #[error("{0}")]
    Usage(String),
    /// The submit was answered with an error: no job was created.
    #[error("submit rejected: {0}")]
    Rejected(HttpError),
    /// The submit got no answer.
    #[error("submitting {file}: {source}{}", if *maybe_sent {
        "\n  the request may have reached the server: check with `bulkops list` before submitting again"
    } else {
        "\n  nothing was sent: no job was created"
    })]
    Unsent {
        file: String,
        maybe_sent: bool,
        #[source]
        source: HttpError,
    },
    /// Any other call that failed for good (after its retries).
    #[error("{context}: {source}")]
    Call {
        context: String,
        #[source]
        source: HttpError,
    },
    /// The wait's deadline passed; `message` says how to resume.
    #[error("{0}")]
    Timeout(String),
    /// An answer the client cannot read.
    #[error("{0}")]
    Unreadable(String),
}

impl ClientError {
    pub fn call(context: impl Into<String>, source: HttpError) -> Self {
        ClientError::Call {
            context: context.into(),
            source,
        }
    }

    pub fn exit(&self) -> Exit {
        match self {
            ClientError::Input(_) => Exit::Input,
            ClientError::FailedFile(FailedFileError::Unusable { .. }) => Exit::Input,
            ClientError::FailedFile(_) => Exit::Error,
            ClientError::Usage(_) => Exit::Usage,
            ClientError::Rejected(error) => match error.status() {
                Some(
                    StatusCode::BAD_REQUEST
                    | StatusCode::PAYLOAD_TOO_LARGE
                    | StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ) => Exit::Input,
                _ => error.exit(),
            },
            ClientError::Unsent { source, .. } | ClientError::Call { source, .. } => source.exit(),
            ClientError::Timeout(_) => Exit::Timeout,
            ClientError::Unreadable(_) => Exit::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> HttpError {
        HttpError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            code: None,
            message: String::new(),
        }
    }

    #[test]
    fn each_failure_has_its_exit_status() {
        assert_eq!(ClientError::Rejected(status(400)).exit(), Exit::Input);
        assert_eq!(ClientError::Rejected(status(413)).exit(), Exit::Input);
        assert_eq!(ClientError::Rejected(status(401)).exit(), Exit::Auth);
        assert_eq!(ClientError::Rejected(status(503)).exit(), Exit::Error);
        assert_eq!(ClientError::call("x", status(403)).exit(), Exit::Auth);
        assert_eq!(ClientError::call("x", status(404)).exit(), Exit::Error);
        assert_eq!(ClientError::Usage("no".into()).exit(), Exit::Usage);
        assert_eq!(ClientError::Timeout("late".into()).exit(), Exit::Timeout);
    }
}
