//! Reads and cancels: paths built from known and arbitrary segments, query strings, claims.

use super::*;

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
