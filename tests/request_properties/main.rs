//! Property tests of the whole request path: arbitrary bytes and structure-aware bodies, paths,
//! query strings and claims go through the real handlers (as API Gateway events) on the
//! embedded store. Whatever arrives, the answer is never a 5xx or a panic; every rejection is
//! a 4xx with the called API's JSON error shape; and a rejected request writes nothing.

#[path = "../common/mod.rs"]
mod common;

use bulkops::apigw::HttpApiRequest;
use bulkops_shared::error::ApiStyle;
use common::embedded::EmbeddedFixture;
use lambda_http::{Body, Response};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

mod creates;
mod reads;

const SUB: &str = "prop-tester";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 160,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,8}", inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("application/json".to_owned())),
        1 => Just(Some("text/json; charset=utf-8".to_owned())),
        1 => Just(Some("application/vnd.cyberark.api+json".to_owned())),
        1 => Just(None),
        // Any header value a request line can carry (visible ASCII and spaces).
        1 => "[ -~]{0,20}".prop_map(Some),
    ]
}

/// Claims as the authorizer passes them: usually a subject and scope, sometimes neither.
fn claims() -> impl Strategy<Value = Option<Map<String, Value>>> {
    let scope = prop_oneof![
        4 => Just("ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE".to_owned()),
        1 => Just(String::new()),
        1 => ".{0,20}",
    ];
    prop_oneof![
        6 => scope.prop_map(|scope| {
            let mut claims = Map::new();
            claims.insert("sub".into(), json!(SUB));
            claims.insert("scope".into(), json!(scope));
            Some(claims)
        }),
        1 => Just(Some(Map::new())),
        1 => Just(None),
    ]
}

const CREATE_PATHS: [&str; 4] = [
    "/api/web/v2/mobileFlashPass",
    "/PasswordVault/API/BulkActions/Accounts",
    "/passwordvault/api/bulkactions/accounts/",
    "/PasswordVault/API/BulkActions/Nothing",
];

fn request<'a>(
    method: &'a str,
    path: &'a str,
    query: &'a str,
    body: Option<&'a [u8]>,
    content_type: &Option<String>,
    claims: &Option<Map<String, Value>>,
) -> lambda_http::Request {
    let headers = content_type
        .iter()
        .map(|t| ("content-type".to_owned(), t.clone()))
        .collect();
    HttpApiRequest {
        method,
        path,
        query,
        headers,
        body,
        claims: claims.clone(),
        ..Default::default()
    }
    .request()
    .expect("a valid API Gateway event")
}

/// A 4xx in the path's API style, or a success; never anything else.
fn check_response(path: &str, response: &Response<Body>) -> Result<bool, TestCaseError> {
    let status = response.status().as_u16();
    prop_assert!(status < 500, "{status} for {path}");
    if status < 400 {
        return Ok(true);
    }
    let body: Value = serde_json::from_slice(response.body().as_ref())
        .map_err(|e| TestCaseError::fail(format!("{status} body is not JSON: {e}")))?;
    let (code, message) = match ApiStyle::for_path(path) {
        ApiStyle::Entrust => ("code", "message"),
        ApiStyle::CyberArk => ("ErrorCode", "ErrorMessage"),
    };
    prop_assert!(body[code].is_string(), "{status} {path}: {body}");
    prop_assert!(body[message].is_string(), "{status} {path}: {body}");
    Ok(false)
}
