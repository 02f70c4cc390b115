//! The committed JSON Schemas (`schemas/`) describe every detail the code sends: each property
//! is declared with its type, and every required one is there.

use serde_json::Value;

use super::{job_event, rejected_event, RejectedRequest};
use crate::error::{ApiError, ApiStyle};
use crate::model::{EventKind, Job, JobType};

fn schema(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON schema")
}

#[test]
fn job_event_details_match_their_schema() {
    let schema = schema(include_str!("../../../schemas/bulk-job-event.schema.json"));
    let mut job = Job::new("7".into(), JobType::AddAccounts, "alice".into(), 3, 1_000);
    (job.processing_start_ms, job.processing_end_ms) = (Some(2_000), Some(3_000));
    (job.first_failed_row, job.error_message) = (Some(2), Some("boom".into()));
    job.client_token = Some("order-42".into());
    for kind in EventKind::ALL {
        let detail = serde_json::to_value(job_event(&job, kind, 3_000).detail).unwrap();
        check(&schema, &detail, "detail");
    }
}

#[test]
fn rejected_request_details_match_their_schema() {
    let schema = schema(include_str!(
        "../../../schemas/bulk-job-rejected.schema.json"
    ));
    for (style, error) in [
        (
            ApiStyle::Entrust,
            ApiError::bad_request("ids must not be empty", Some("ids".into())),
        ),
        (
            ApiStyle::CyberArk,
            ApiError::Forbidden("ISSUANCE:ADD".into()),
        ),
    ] {
        let request = RejectedRequest {
            api: "accounts",
            style,
            owner: "alice",
            client_token: "order-42",
            token_key: "ab12",
        };
        let event = rejected_event(&request, &error, 1_000);
        assert_eq!(event.id, "request-ab12:REJECTED");
        check(
            &schema,
            &serde_json::to_value(event.detail).unwrap(),
            "detail",
        );
    }
}

fn check(schema: &Value, value: &Value, at: &str) {
    let kind = schema["type"].as_str().unwrap_or_default();
    match value {
        Value::Object(map) => {
            assert_eq!(kind, "object", "{at}");
            for required in schema["required"].as_array().into_iter().flatten() {
                assert!(
                    map.contains_key(required.as_str().unwrap()),
                    "{at}.{required}"
                );
            }
            // An object declared without properties (an API's error body) is free-form.
            if schema.get("properties").is_none() {
                return;
            }
            for (name, inner) in map {
                let declared = &schema["properties"][name];
                assert!(!declared.is_null(), "{at}.{name} is not in the schema");
                check(declared, inner, &format!("{at}.{name}"));
            }
        }
        Value::String(text) => {
            assert_eq!(kind, "string", "{at}");
            if let Some(allowed) = schema["enum"].as_array() {
                assert!(allowed.iter().any(|a| a == text), "{at}: {text}");
            }
        }
        Value::Number(_) => assert_eq!(kind, "integer", "{at}"),
        other => panic!("{at}: unexpected {other}"),
    }
}
