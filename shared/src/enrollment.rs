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
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const SEED_JSON: &str = r#"{"workflowId":"925090aa-decc-40fe-b3e4-16021c6592b0","whereClause":{"QUICKSTARTPRIMARYKEY":"14"}}"#;

    #[test]
    fn decodes_every_base64_form() {
        for id in [
            STANDARD.encode(SEED_JSON),
            URL_SAFE.encode(SEED_JSON),
            URL_SAFE_NO_PAD.encode(SEED_JSON),
            STANDARD.encode(SEED_JSON).trim_end_matches('=').to_owned(),
        ] {
            let r = EnrollmentRef::from_id(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(r.where_clause["QUICKSTARTPRIMARYKEY"], "14");
        }
    }

    #[test]
    fn seed_id_prefix_matches_the_real_product() {
        let r = EnrollmentRef::from_id(&URL_SAFE_NO_PAD.encode(SEED_JSON)).unwrap();
        assert!(r.to_id().starts_with("eyJ3b3JrZmxvd0lkIjoi"));
        assert_eq!(EnrollmentRef::from_id(&r.to_id()).unwrap(), r);
    }

    #[test]
    fn rejects_what_is_not_base64() {
        assert_eq!(decode_base64(""), None);
        assert_eq!(decode_base64("a-b+"), None, "mixed alphabets");
        assert_eq!(decode_base64("ab$c"), None);
        assert_eq!(decode_base64("abcde"), None, "impossible length");
    }

    /// The alphabet chosen by looking at the bytes, as `decode_base64` did before.
    fn decode_by_looking(text: &str) -> Option<Vec<u8>> {
        let url_safe = text.contains(['-', '_']);
        let standard = text.contains(['+', '/']);
        match (text.is_empty(), url_safe, standard) {
            (true, _, _) | (_, true, true) => None,
            (_, true, false) => URL_SAFE_LENIENT.decode(text).ok(),
            _ => STANDARD_LENIENT.decode(text).ok(),
        }
    }

    #[test]
    fn trying_both_alphabets_decodes_what_looking_at_the_bytes_did() {
        // Every text of up to five symbols from both alphabets, padding and a stray byte.
        let symbols = ['A', 'w', '0', '-', '_', '+', '/', '=', '$'];
        let mut texts = vec![String::new()];
        let mut decoded = 0;
        for _ in 0..5 {
            texts = texts
                .iter()
                .flat_map(|t| symbols.iter().map(move |c| format!("{t}{c}")))
                .collect();
            for text in &texts {
                assert_eq!(decode_base64(text), decode_by_looking(text), "{text:?}");
                decoded += usize::from(decode_base64(text).is_some());
            }
        }
        assert!(decoded > 1000, "only {decoded} texts decoded");
        let id = URL_SAFE_NO_PAD.encode(SEED_JSON);
        assert_eq!(decode_base64(&id), decode_by_looking(&id));
    }

    #[test]
    fn classifies_invalid_references() {
        let enc = |s: &str| URL_SAFE_NO_PAD.encode(s);
        assert_eq!(
            EnrollmentRef::from_id(&enc("hello")),
            Err(InvalidEnrollment::NotJson)
        );
        assert_eq!(
            EnrollmentRef::from_id(&enc(r#"{"workflowId":"x","whereClause":{"K":"1"}}"#)),
            Err(InvalidEnrollment::BadWorkflowId)
        );
        assert_eq!(
            EnrollmentRef::from_id(&enc(
                r#"{"workflowId":"925090aa-decc-40fe-b3e4-16021c6592b0","whereClause":{}}"#
            )),
            Err(InvalidEnrollment::BadWhereClause)
        );
    }

    #[test]
    fn key_format_is_stable() {
        let reference = EnrollmentRef::from_id(&URL_SAFE_NO_PAD.encode(
            r#"{"workflowId":"925090AA-decc-40fe-b3e4-16021c6592b0","whereClause":{"b":"2","A":1}}"#,
        ))
        .unwrap();
        assert_eq!(
            reference.key(),
            "ENROLLMENT#925090aa-decc-40fe-b3e4-16021c6592b0#A=1&b=2"
        );
    }

    #[test]
    fn key_is_canonical_across_encodings_and_number_values() {
        let a = EnrollmentRef::from_id(&STANDARD.encode(SEED_JSON)).unwrap();
        let b = EnrollmentRef::from_id(&URL_SAFE_NO_PAD.encode(
            r#"{"whereClause":{"QUICKSTARTPRIMARYKEY":14},"workflowId":"925090AA-DECC-40FE-B3E4-16021C6592B0"}"#,
        ))
        .unwrap();
        assert_eq!(a.key(), b.key());
    }

    /// The reading `from_id` replaced (the whole object as a `serde_json::Value`): both must
    /// agree on every reference, valid or not.
    fn by_value(id: &str) -> Result<EnrollmentRef, InvalidEnrollment> {
        let bytes = decode_base64(id).ok_or(InvalidEnrollment::NotBase64)?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| InvalidEnrollment::NotJson)?;
        let object = value.as_object().ok_or(InvalidEnrollment::NotJson)?;
        let workflow_id = object
            .get("workflowId")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or(InvalidEnrollment::BadWorkflowId)?;
        let clause = object
            .get("whereClause")
            .and_then(Value::as_object)
            .filter(|c| !c.is_empty())
            .ok_or(InvalidEnrollment::BadWhereClause)?;
        let mut where_clause = BTreeMap::new();
        for (key, value) in clause {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(InvalidEnrollment::BadWhereClause),
            };
            if key.is_empty() {
                return Err(InvalidEnrollment::BadWhereClause);
            }
            where_clause.insert(key.clone(), value);
        }
        Ok(EnrollmentRef {
            workflow_id,
            where_clause,
        })
    }

    #[test]
    fn reads_every_reference_as_the_whole_object_would() {
        const W: &str = r#""925090aa-decc-40fe-b3e4-16021c6592b0""#;
        let documents = [
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":"1"}}}}"#),
            format!(
                r#"{{"whereClause":{{"K":1.50,"J":-3,"I":1e3,"H":18446744073709551616}},"workflowId":{W}}}"#
            ),
            format!(r#"{{"workflowId":"x","whereClause":{{"K":"1"}},"workflowId":{W}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":true}},"whereClause":{{"K":"2"}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":true,"K":"2"}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":"1","K":null}}}}"#),
            format!(
                r#"{{"workflowId":{W},"whereClause":{{"Ké":"v
é"}}}}"#
            ),
            r#"{"workflowId":"925090aa-decc-40fe-b3e4-16021c6592b0","whereClause":{"K":"1"}}"#
                .to_owned(),
            format!(r#"{{"workflowId":{W},"whereClause":{{"":"1"}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":[1]}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":{{"a":[1,{{}}]}},"K":-0}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":0.0,"J":-9223372036854775808}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K\u00e9":"a\"b\u0000"}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":"1","K":[}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{}}}}"#),
            format!(r#"{{"workflowId":{W},"whereClause":["K"]}}"#),
            format!(r#"{{"workflowId":{W}}}"#),
            format!(
                r#"{{"workflowId":{W},"whereClause":{{"K":"1"}},"other":{{"deep":[1,{{"a":null}}]}}}}"#
            ),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":"1"}}}} trailing"#),
            format!(r#"{{"workflowId":{W},"whereClause":{{"K":"1"}},"bad":tru}}"#),
            r#"{"workflowId":14,"whereClause":{"K":"1"}}"#.to_owned(),
            r#"["workflowId"]"#.to_owned(),
            r#""text""#.to_owned(),
            "".to_owned(),
            " { } ".to_owned(),
        ];
        for document in documents {
            let id = URL_SAFE_NO_PAD.encode(&document);
            assert_eq!(EnrollmentRef::from_id(&id), by_value(&id), "{document}");
        }
        assert_eq!(
            EnrollmentRef::from_id(&URL_SAFE_NO_PAD.encode(format!(
                r#"{{"workflowId":"x","whereClause":{{"K":true,"K":"2"}},"workflowId":{W}}}"#
            )))
            .unwrap()
            .where_clause["K"],
            "2",
            "the last of a repeated name counts"
        );
        // Where the two differ, as before: a number beyond f64 is valid JSON text, refused by
        // serde_json when it reads it. Read whole, the document fails; read by members, the
        // clause's value does.
        let huge = format!(r#"{{"workflowId":{W},"whereClause":{{"K":1E400}}}}"#);
        let huge = URL_SAFE_NO_PAD.encode(&huge);
        assert_eq!(by_value(&huge), Err(InvalidEnrollment::NotJson));
        assert_eq!(
            EnrollmentRef::from_id(&huge),
            Err(InvalidEnrollment::BadWhereClause)
        );
    }

    fn with_clause(clause: &str) -> EnrollmentRef {
        EnrollmentRef::from_id(&URL_SAFE_NO_PAD.encode(format!(
            r#"{{"workflowId":"925090aa-decc-40fe-b3e4-16021c6592b0","whereClause":{clause}}}"#
        )))
        .unwrap()
    }

    #[test]
    fn keys_of_clauses_with_separators_or_long_values_are_exact_and_fit() {
        let joined = with_clause(r#"{"A":"1&B=2"}"#).key();
        assert_ne!(joined, with_clause(r#"{"A":"1","B":"2"}"#).key());
        assert!(joined.ends_with(&format!("#~{}", &joined[joined.len() - 64..])));
        let long = with_clause(&format!(r#"{{"A":"{}"}}"#, "x".repeat(100_000))).key();
        assert!(long.len() < 200, "{} bytes", long.len());
        assert_ne!(
            long,
            with_clause(&format!(r#"{{"A":"{}"}}"#, "x".repeat(100_001))).key()
        );
    }
}

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
