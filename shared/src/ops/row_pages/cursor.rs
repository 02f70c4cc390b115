//! The opaque `cursor` of a rows page: unpadded base64url of a small JSON position, bound to
//! its job. Not signed: a hand-made cursor can only point elsewhere in a job its caller may
//! read anyway, and every field is checked before it is used.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::model::Job;

/// The format this code writes; a cursor of another format is refused, never misread.
const VERSION: u8 = 1;
/// Longer than any cursor this code writes (≈ 110 characters for a UUID job id): anything
/// longer is refused before it is decoded.
pub const MAX_CURSOR_CHARS: usize = 256;

/// Where reading goes on: in chunk `chunk`, after row `after` (0: from the chunk's first row).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub chunk: u32,
    pub after: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u8,
    job: String,
    chunk: u32,
    after: u32,
}

/// The cursor of `position` in job `job_id`.
pub fn encode(job_id: &str, position: Position) -> String {
    let wire = Wire {
        v: VERSION,
        job: job_id.to_owned(),
        chunk: position.chunk,
        after: position.after,
    };
    // Serialising a struct of strings and numbers cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

/// The position a cursor names in `job`: a 400 naming `cursor` if it is not one this code
/// wrote, belongs to another job, or points past the job's chunks.
pub fn decode(text: &str, job: &Job) -> Result<Position, ApiError> {
    let refuse = |why: &str| ApiError::bad_request(format!("cursor {why}"), Some("cursor".into()));
    if text.is_empty() || text.len() > MAX_CURSOR_CHARS {
        return Err(refuse("is not a cursor this API returned"));
    }
    let wire: Wire = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(|wire: &Wire| wire.v == VERSION)
        .ok_or_else(|| refuse("is not a cursor this API returned"))?;
    if wire.job != job.id {
        return Err(refuse("belongs to another job"));
    }
    if wire.chunk > job.chunk_count {
        return Err(refuse("points past the job's rows"));
    }
    Ok(Position {
        chunk: wire.chunk,
        after: wire.after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobType;

    fn job(id: &str) -> Job {
        let mut job = Job::new(id.into(), JobType::SendMfp, "alice".into(), 1_000, 0);
        job.chunk_count = 3;
        job
    }

    fn target(result: Result<Position, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::BadRequest { target, .. }) => target,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_cursor_round_trips_in_its_own_job_only() {
        let position = Position {
            chunk: 2,
            after: 1_234,
        };
        let id = "56ba2a52-8e0c-4077-ae60-0146c4255d3a";
        let text = encode(id, position);
        assert!(text.len() < MAX_CURSOR_CHARS, "{text}");
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode(&text, &job(id)).unwrap(), position);
        let other = job("7a3a57d2-ecd6-4400-ad3b-28a78bcdd8af");
        assert_eq!(target(decode(&text, &other)).as_deref(), Some("cursor"));
    }

    #[test]
    fn anything_else_is_a_400_naming_cursor() {
        let j = job("1");
        let wire = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for text in [
            String::new(),
            "garbage!".into(),
            "x".repeat(MAX_CURSOR_CHARS + 1),
            wire("[]"),
            wire(r#"{"v":2,"job":"1","chunk":0,"after":0}"#),
            wire(r#"{"v":1,"job":"1","chunk":4,"after":0}"#),
            wire(r#"{"v":1,"job":"1","chunk":-1,"after":0}"#),
            wire(r#"{"v":1,"job":"1","chunk":0,"after":0,"x":1}"#),
            wire(r#"{"v":1,"job":1,"chunk":0,"after":0}"#),
        ] {
            assert_eq!(
                target(decode(&text, &j)).as_deref(),
                Some("cursor"),
                "{text}"
            );
        }
        let end = wire(r#"{"v":1,"job":"1","chunk":3,"after":0}"#);
        assert_eq!(decode(&end, &j).unwrap().chunk, 3, "the end is a place");
    }

    proptest::proptest! {
        /// Any text is a position of the job or a 400 naming `cursor`, never a panic.
        #[test]
        fn any_text_is_a_position_or_a_400(text in ".{0,300}") {
            if let Err(error) = decode(&text, &job("1")) {
                let named = target(Err(error));
                proptest::prop_assert_eq!(named.as_deref(), Some("cursor"));
            }
        }
    }
}
