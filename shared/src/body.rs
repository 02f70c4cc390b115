//! Explicit JSON body parsing: wrong content type → 415, too large → 413, malformed → 400.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::Request;
use serde_json::Value;

use crate::error::ApiError;

/// Which content types a route reads as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonMediaTypes {
    /// `application/json` only (the Entrust spec's one request type).
    Strict,
    /// Also `text/json` and `application/<vendor>+json` (e.g. `application/vnd.cyberark.api+json`),
    /// as PVWA's .NET JSON formatter accepts.
    Lenient,
}

impl JsonMediaTypes {
    fn accepts(self, essence: &str) -> bool {
        let essence = essence.to_ascii_lowercase();
        match self {
            Self::Strict => essence == "application/json",
            Self::Lenient => {
                essence == "application/json"
                    || essence == "text/json"
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            }
        }
    }
}

/// Parses the body of `request` as JSON, enforcing `limit` bytes.
pub fn json_body(request: &Request, limit: usize) -> Result<Value, ApiError> {
    json_body_of(request, limit, JsonMediaTypes::Strict)
}

/// An optional JSON object body (the staged creates'): none is `{}`; anything but an object
/// is a 400.
pub fn optional_json_object(
    request: &Request,
    limit: usize,
    types: JsonMediaTypes,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    if request.body().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match json_body_of(request, limit, types)? {
        Value::Object(object) => Ok(object),
        _ => Err(ApiError::bad_request(
            "the request body, if any, must be a JSON object",
            None,
        )),
    }
}

/// Parses the body of `request` as JSON of one of `types`, enforcing `limit` bytes.
pub fn json_body_of(
    request: &Request,
    limit: usize,
    types: JsonMediaTypes,
) -> Result<Value, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !types.accepts(essence) {
        return Err(ApiError::UnsupportedMediaType(content_type));
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge {
            limit,
            actual: bytes.len(),
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty", None));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not valid JSON: {e}"), None)
    })
}

#[cfg(test)]
mod tests {
    use super::JsonMediaTypes;

    #[test]
    fn lenient_routes_take_the_json_types_pvwa_takes() {
        for essence in ["application/json", "Application/JSON"] {
            assert!(JsonMediaTypes::Strict.accepts(essence));
            assert!(JsonMediaTypes::Lenient.accepts(essence));
        }
        for essence in ["text/json", "application/vnd.cyberark.api+json"] {
            assert!(!JsonMediaTypes::Strict.accepts(essence));
            assert!(JsonMediaTypes::Lenient.accepts(essence));
        }
        for essence in [
            "",
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
        ] {
            assert!(!JsonMediaTypes::Lenient.accepts(essence));
        }
    }
}
