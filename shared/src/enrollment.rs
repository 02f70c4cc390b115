//! Enrollment ids: base64 (standard or url-safe, padded or not) of a small JSON reference
//! `{"workflowId":"<uuid>","whereClause":{"<KEY>":"<value>"}}`.

mod members;

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use uuid::Uuid;

use members::Members;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
const URL_SAFE_NO_PAD: GeneralPurpose =
    GeneralPurpose::new(&alphabet::URL_SAFE, base64::engine::general_purpose::NO_PAD);

/// Decodes base64 in either alphabet, with or without padding. `None` if it is not base64
/// (or mixes the two alphabets, or is empty).
///
/// The two alphabets share all but `-_` (url-safe) and `+/` (standard), each invalid in the
/// other: text that decodes in one decodes the same in the other or not at all, so trying the
/// real product's url-safe form first and the standard one after is the same as choosing the
/// alphabet by looking at the bytes, without the extra pass (it runs for every row, twice).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        return None;
    }
    URL_SAFE_LENIENT
        .decode(text)
        .or_else(|_| STANDARD_LENIENT.decode(text))
        .ok()
}

/// A JSON string's text, borrowed unless it holds escapes; `None` if `raw` is not a string.
fn json_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str::<&str>(raw.get())
        .map(Cow::Borrowed)
        .or_else(|_| serde_json::from_str::<String>(raw.get()).map(Cow::Owned))
        .ok()
}

/// Encodes a JSON value the way the real product encodes enrollment ids (unpadded base64url).
pub fn encode_id(reference: &Value) -> String {
    URL_SAFE_NO_PAD.encode(reference.to_string())
}

/// A validated reference to one enrollment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentRef {
    pub workflow_id: Uuid,
    /// Sorted, so equal references have one canonical key.
    pub where_clause: BTreeMap<String, String>,
}

/// Why an id that is valid base64 is still not an enrollment reference.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEnrollment {
    #[error("the id is not valid base64")]
    NotBase64,
    #[error("the decoded id is not a JSON object")]
    NotJson,
    #[error("workflowId is missing or not a UUID")]
    BadWorkflowId,
    #[error("whereClause is missing, empty, or has a value that is not a string or number")]
    BadWhereClause,
}

impl EnrollmentRef {
    /// Decodes and validates an enrollment id.
    ///
    /// Read as a JSON object whose last `workflowId` and `whereClause` count (as if the
    /// object were read whole), straight from the decoded bytes: it runs for every row, at
    /// submit and again in the processor, so no `serde_json::Value` tree is built.
    pub fn from_id(id: &str) -> Result<Self, InvalidEnrollment> {
        let bytes = decode_base64(id).ok_or(InvalidEnrollment::NotBase64)?;
        let members: Members =
            serde_json::from_slice(&bytes).map_err(|_| InvalidEnrollment::NotJson)?;
        let workflow_id = members
            .workflow_id
            .and_then(json_text)
            .and_then(|s| Uuid::parse_str(&s).ok())
            .ok_or(InvalidEnrollment::BadWorkflowId)?;
        let clause: BTreeMap<String, &RawValue> = members
            .where_clause
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .filter(|c: &BTreeMap<String, &RawValue>| !c.is_empty())
            .ok_or(InvalidEnrollment::BadWhereClause)?;
        let mut where_clause = BTreeMap::new();
        for (key, raw) in clause {
            let value = match json_text(raw) {
                Some(text) => text.into_owned(),
                None => serde_json::from_str::<serde_json::Number>(raw.get())
                    .map_err(|_| InvalidEnrollment::BadWhereClause)?
                    .to_string(),
            };
            if key.is_empty() {
                return Err(InvalidEnrollment::BadWhereClause);
            }
            where_clause.insert(key, value);
        }
        Ok(Self {
            workflow_id,
            where_clause,
        })
    }

    /// The id in the real product's form: unpadded base64url of the JSON reference.
    pub fn to_id(&self) -> String {
        encode_id(
            &serde_json::json!({ "workflowId": self.workflow_id, "whereClause": self.where_clause }),
        )
    }

    /// Canonical storage key of this enrollment, the same for every encoding of the reference:
    /// `ENROLLMENT#<workflow id>#K1=v1&K2=v2`. A clause whose names or values hold `&`, `=` or
    /// `~` (which would make two clauses one key) or that is long goes through
    /// [`key_part`](crate::store::keys::key_part) as its JSON, so every key is exact and fits.
    pub fn key(&self) -> String {
        // Built without formatting machinery: it is computed for every row a job touches.
        let clause_len: usize = self
            .where_clause
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum();
        let mut key = String::with_capacity(48 + clause_len.min(80));
        key.push_str(crate::store::keys::ENROLLMENT_PREFIX);
        let mut buffer = Uuid::encode_buffer();
        key.push_str(self.workflow_id.hyphenated().encode_lower(&mut buffer));
        key.push('#');
        let plain = clause_len <= crate::store::keys::MAX_READABLE_KEY_PART
            && self
                .where_clause
                .iter()
                .all(|(k, v)| !(k.contains(['&', '=', '~']) || v.contains(['&', '=', '~'])));
        if !plain {
            let json = serde_json::to_string(&self.where_clause).unwrap_or_default();
            key.push('~');
            key.push_str(&crate::store::sha256_hex(json.as_bytes()));
            return key;
        }
        for (i, (name, value)) in self.where_clause.iter().enumerate() {
            if i > 0 {
                key.push('&');
            }
            key.push_str(name);
            key.push('=');
            key.push_str(value);
        }
        key
    }
}

#[cfg(test)]
mod tests;

/// Helpers for tests in this crate.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A real-format id for primary key `value` in a fixed workflow.
    pub fn id(value: &str) -> String {
        let json = format!(
            r#"{{"workflowId":"925090aa-decc-40fe-b3e4-16021c6592b0","whereClause":{{"QUICKSTARTPRIMARYKEY":"{value}"}}}}"#
        );
        URL_SAFE_NO_PAD.encode(json)
    }
}
