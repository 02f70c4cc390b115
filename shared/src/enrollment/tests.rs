//! Unit tests of enrollment ids: both base64 alphabets, the reference's two readings, keys.

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
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| InvalidEnrollment::NotJson)?;
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
