//! Property tests of the whole request path: arbitrary bytes and structure-aware bodies, paths,
//! query strings and claims go through the real handlers (as API Gateway events) on the
//! embedded store. Whatever arrives, the answer is never a 5xx or a panic; every rejection is
//! a 4xx with the called API's JSON error shape; and a rejected request writes nothing.

mod common;

use bulkops::apigw::HttpApiRequest;
use bulkops_shared::error::ApiStyle;
use common::embedded::EmbeddedFixture;
use lambda_http::{Body, Response};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

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

/// `name` with each letter's case flipped at random (how .NET clients may spell it).
fn spelling(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), name.len()).prop_map(move |flips| {
        name.chars()
            .zip(flips)
            .map(|(c, flip)| {
                if flip {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// The model's properties and one it does not know (ignored, as PVWA ignores it).
const ACCOUNT_FIELDS: [&str; 13] = {
    let known = bulkops_shared::ops::accounts::model::ACCOUNT_FIELDS;
    let mut all = ["networkId"; 13];
    let mut i = 0;
    while i < known.len() {
        all[i] = known[i];
        i += 1;
    }
    all
};

/// A value that is often of the right type for an account field, and often not.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "[a-zA-Z0-9 ._-]{0,10}".prop_map(Value::from),
        1 => prop_oneof![Just(json!("password")), Just(json!("Key")), Just(json!("PIN"))],
        1 => any::<i32>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => json_value(),
    ]
}

/// A valid account in a client's spelling: the required properties, optional ones of the
/// right type (or `null`), and an unknown extra.
fn valid_account() -> impl Strategy<Value = Value> {
    let optional_text = prop::option::of("[a-zA-Z0-9 .]{1,10}");
    (
        (spelling("platformId"), "[A-Za-z]{1,8}"),
        (spelling("safeName"), "[A-Za-z]{1,8}"),
        (spelling("userName"), optional_text.clone()),
        (spelling("address"), optional_text.clone()),
        (spelling("secret"), optional_text),
        (
            spelling("secretType"),
            prop::sample::select(&["password", "Password", "KEY"][..]),
        ),
        (spelling("uploadIndex"), prop::option::of(any::<i32>())),
        (
            spelling("secretManagement"),
            prop::option::of(any::<bool>()),
            spelling("manualManagementReason"),
        ),
    )
        .prop_map(
            |(platform, safe, user, address, secret, kind, index, (sm, auto, reason))| {
                json!({
                    platform.0: platform.1, safe.0: safe.1, user.0: user.1, address.0: address.1,
                    secret.0: secret.1, kind.0: kind.1, index.0: index.1,
                    sm: {"automaticManagementEnabled": auto, reason: null},
                    "networkId": "n1",
                })
            },
        )
}

/// An account-shaped object: known properties in random spellings (sometimes twice), random
/// values, unknown extras.
fn noisy_account() -> impl Strategy<Value = Value> {
    let field =
        (0..ACCOUNT_FIELDS.len()).prop_flat_map(|i| (spelling(ACCOUNT_FIELDS[i]), field_value()));
    prop::collection::vec(field, 0..10)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<String, Value>>()))
}

fn account() -> impl Strategy<Value = Value> {
    prop_oneof![2 => valid_account(), 1 => noisy_account()]
}

fn upload_body() -> impl Strategy<Value = Value> {
    (
        spelling("source"),
        prop_oneof![3 => "[a-z.]{0,10}".prop_map(Value::from), 1 => field_value()],
        spelling("accountsList"),
        prop_oneof![
            4 => prop::collection::vec(valid_account(), 1..6).prop_map(Value::Array),
            2 => prop::collection::vec(account(), 0..6).prop_map(Value::Array),
            1 => json_value(),
        ],
    )
        .prop_map(|(s, source, l, list)| json!({ s: source, l: list }))
}

fn ids_body() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        3 => (0..5_000usize).prop_map(|n| Value::from(common::enrollment_id(n))),
        2 => prop::collection::vec(any::<u8>(), 1..30).prop_map(|bytes| {
            use base64::Engine as _;
            Value::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
        }),
        2 => "[A-Za-z0-9+/_=-]{0,40}".prop_map(Value::from),
        1 => json_value(),
    ];
    prop_oneof![
        4 => prop::collection::vec((0..5_000usize).prop_map(common::enrollment_id), 1..8)
            .prop_map(|ids| json!({ "ids": ids })),
        4 => prop::collection::vec(id, 0..8).prop_map(|ids| json!({ "ids": ids })),
        1 => json_value(),
    ]
}

/// A create route and a body for it: mostly shaped like that route's request, sometimes like
/// the other API's, arbitrary JSON or arbitrary bytes.
fn create_request() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    prop::sample::select(&CREATE_PATHS[..]).prop_flat_map(|path| {
        let own = if path.contains("mobileFlashPass") {
            ids_body().boxed()
        } else {
            upload_body().boxed()
        };
        let body = prop_oneof![
            6 => own.prop_map(|v| v.to_string().into_bytes()),
            1 => prop_oneof![ids_body(), upload_body()].prop_map(|v| v.to_string().into_bytes()),
            1 => json_value().prop_map(|v| v.to_string().into_bytes()),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ];
        (Just(path), body)
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

#[test]
fn any_create_request_is_answered_with_success_or_a_4xx_that_writes_nothing() {
    let runtime = runtime();
    let fx = EmbeddedFixture::new();
    let deps = fx.submit_deps();
    proptest!(config(), |(
        (path, body) in create_request(),
        content_type in content_type(),
        claims in claims(),
    )| {
        runtime.block_on(async {
            let before = fx.footprint(SUB).await;
            let call = request("POST", path, "", Some(&body), &content_type, &claims);
            let response = submit::handler(&deps, call).await.expect("the handler answers");
            let accepted = check_response(path, &response)?;
            let after = fx.footprint(SUB).await;
            if accepted {
                let (mfp, uploads, _) = before;
                prop_assert!(
                    (after.0, after.1) == (mfp + 1, uploads) || (after.0, after.1) == (mfp, uploads + 1),
                    "an accepted request creates one job: {before:?} → {after:?}"
                );
            } else {
                prop_assert_eq!(before, after, "a rejected request wrote something");
            }
            Ok(())
        })?;
    });
}

/// Percent-encodes everything but unreserved characters: a path segment or query component
/// as it arrives in a valid request line (API Gateway passes it on as sent).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn segment(known: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(known),
        "[A-Za-z0-9]{0,8}",
        Just("mobileFlashPass".to_owned()),
        Just("cancel".to_owned()),
        Just("download".to_owned()),
        Just("logs".to_owned()),
        Just("rows".to_owned()),
        Just("BulkActions".to_owned()),
        Just("Accounts".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just(uuid::Uuid::new_v4().to_string()),
        "[.~!$&'()*+,;=:@a-z-]{0,6}",
        ".{0,6}".prop_map(|text| encode(&text)),
    ]
}

fn read_path(known: Vec<String>) -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just("/api/web/v1/mobileFlashPass"),
        Just("/api/web/v2/mobileFlashPass/download/logs"),
        Just("/api/web/v2/mobileFlashPass"),
        Just("/api/web/v1/mobileFlashPass/cancel"),
        Just("/PasswordVault/API/BulkActions/Accounts"),
        Just("/passwordvault/api/bulkactions/accounts"),
        Just(""),
    ];
    (prefix, prop::collection::vec(segment(known), 0..3))
        .prop_map(|(prefix, rest)| format!("{prefix}/{}", rest.join("/")))
}

fn query_string() -> impl Strategy<Value = String> {
    let pair = prop_oneof![
        (
            "limit",
            prop_oneof!["-?[0-9]{0,6}".boxed(), ".{0,6}".boxed()]
        )
            .prop_map(|(k, v)| format!("{k}={}", encode(&v))),
        (
            "filter",
            prop_oneof!["(?i)status eq [a-z]{0,12}".boxed(), ".{0,24}".boxed()]
        )
            .prop_map(|(k, v)| format!("{k}={}", encode(&v))),
        (
            prop::sample::select(&["outcome", "errorCode", "cursor"][..]),
            prop_oneof![
                "(?i)failed|succeeded".boxed(),
                "[A-Za-z0-9_=-]{0,40}".boxed()
            ]
        )
            .prop_map(|(k, v)| format!("{k}={}", encode(&v))),
        "[a-z+=&]{0,12}",
    ];
    prop::collection::vec(pair, 0..3).prop_map(|pairs| pairs.join("&"))
}

#[test]
fn any_read_or_cancel_request_is_answered_with_success_or_a_4xx_that_writes_nothing() {
    let runtime = runtime();
    let fx = EmbeddedFixture::new();
    let (query_deps, cancel_deps) = (fx.query_deps(), fx.cancel_deps());
    // A job and an upload of the caller's, so that some reads find something.
    let known: Vec<String> = runtime.block_on(async {
        let deps = fx.submit_deps();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(SUB));
        claims.insert("scope".into(), json!("ISSUANCE:ADD"));
        let json = Some("application/json".to_owned());
        let mfp = json!({"ids": [common::enrollment_id(1)]}).to_string();
        let call = request(
            "POST",
            CREATE_PATHS[0],
            "",
            Some(mfp.as_bytes()),
            &json,
            &Some(claims.clone()),
        );
        let job = submit::handler(&deps, call).await.expect("submit");
        let upload = json!({"accountsList": [{"platformId": "p", "safeName": "s"}]}).to_string();
        let call = request(
            "POST",
            CREATE_PATHS[1],
            "",
            Some(upload.as_bytes()),
            &json,
            &Some(claims),
        );
        let bulk = submit::handler(&deps, call).await.expect("upload");
        let job: Value = serde_json::from_slice(job.body().as_ref()).expect("job");
        let bulk: Value = serde_json::from_slice(bulk.body().as_ref()).expect("bulk id");
        vec![
            job["id"].as_str().expect("job id").to_owned(),
            bulk.to_string(),
        ]
    });
    proptest!(config(), |(
        method in prop::sample::select(&["GET", "DELETE"][..]),
        path in read_path(known.clone()),
        query in query_string(),
        claims in claims(),
    )| {
        runtime.block_on(async {
            let before = fx.footprint(SUB).await;
            let call = request(method, &path, &query, None, &None, &claims);
            let response = if method == "GET" {
                query::handler(&query_deps, call).await
            } else {
                cancel::handler(&cancel_deps, call).await
            }
            .expect("the handler answers");
            check_response(&path, &response)?;
            prop_assert_eq!(before, fx.footprint(SUB).await, "a read wrote something");
            Ok(())
        })?;
    });
}
