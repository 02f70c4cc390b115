//! The vendors' real clients, unchanged, against `bulkops serve`: code generated from Entrust's
//! OpenAPI document (a raw `Authorization: <token>`), psPAS (PVWA's property spellings, lower
//! case paths, a raw token) and CyberArk's own scripts (`null` secrets, extra properties). Also
//! the gateway's half of identity: every claim the JWT authorizer checks, checked here too, and
//! every error in the called API's own shape.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use bulkops_testkit::scenario::enrollment_id;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";
const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// One HTTP exchange with exactly the given `Authorization` header values.
async fn call(
    server: &ServerProcess,
    method: &str,
    path: &str,
    authorization: &[&str],
    body: Option<(&str, Vec<u8>)>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(
        method.parse().expect("method"),
        format!("{}{path}", server.url),
    );
    for value in authorization {
        request = request.header("authorization", *value);
    }
    request = request.header("accept", "application/json");
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn json_body(value: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

/// Polls a PVWA upload as CyberArk's scripts do: while `Pending` or `inProgress`.
async fn wait_for_upload(server: &ServerProcess, token: &str, path: &str) -> Value {
    for _ in 0..600 {
        let (status, body) = call(server, "GET", path, &[token], None).await;
        assert_eq!(status, 200, "{body}");
        match body["Status"].as_str() {
            Some("Pending" | "inProgress") => {}
            _ => return body,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the upload {path} did not finish in 60 s");
}

/// No `null` anywhere inside `value` (the vendor schema says string, not nullable).
fn assert_no_nulls(value: &Value, at: &str) {
    match value {
        Value::Null => panic!("null echoed at {at}"),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_no_nulls(item, &format!("{at}[{i}]"));
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                assert_no_nulls(item, &format!("{at}.{key}"));
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn raw_and_bearer_tokens_work_on_every_route_of_both_apis() {
    let root = fresh_dir("tokens");
    let server = ServerProcess::start(Path::new(BINARY), &root.path().join("data"), &["--demo"]);
    let token = server.token("alice", ALL);
    let bearer = format!("Bearer {token}");
    for authorization in [token.as_str(), bearer.as_str()] {
        let ids = json!({"ids": [enrollment_id(1), enrollment_id(2)]});
        let (status, job) = call(
            &server,
            "POST",
            "/api/web/v2/mobileFlashPass",
            &[authorization],
            json_body(&ids),
        )
        .await;
        assert_eq!(status, 200, "{job}");
        let id = job["id"].as_str().expect("job id");
        for path in [
            "/api/web/v1/mobileFlashPass".to_owned(),
            format!("/api/web/v1/mobileFlashPass/{id}"),
            format!("/api/web/v2/mobileFlashPass/download/logs/{id}"),
        ] {
            let (status, body) = call(&server, "GET", &path, &[authorization], None).await;
            assert_eq!(status, 200, "GET {path}: {body}");
        }
        let cancel = format!("/api/web/v1/mobileFlashPass/cancel/{id}");
        let (status, body) = call(&server, "DELETE", &cancel, &[authorization], None).await;
        assert!(
            status == 200 || status == 409,
            "cancel is authorized (200, or 409 once completed): {status} {body}"
        );

        let upload = json!({"source": "tokens", "accountsList": [
            {"platformId": "UnixSSH", "safeName": "UnixAdminPasswords", "userName": format!("u-{}", authorization.len()), "address": "h"}]});
        let (status, bulk) = call(
            &server,
            "POST",
            UPLOADS,
            &[authorization],
            json_body(&upload),
        )
        .await;
        assert_eq!(status, 202, "{bulk}");
        let bulk = bulk.as_i64().expect("bare int64");
        let (status, list) = call(&server, "GET", UPLOADS, &[authorization], None).await;
        assert_eq!(status, 200, "{list}");
        let (status, one) = call(
            &server,
            "GET",
            &format!("{UPLOADS}/{bulk}"),
            &[authorization],
            None,
        )
        .await;
        assert_eq!((status, one["Id"].as_i64()), (200, Some(bulk)), "{one}");
    }
    server.stop();
}

#[tokio::test]
async fn pspas_and_cyberark_script_uploads_complete_unchanged() {
    let root = fresh_dir("pspas");
    let server = ServerProcess::start(Path::new(BINARY), &root.path().join("data"), &["--demo"]);
    let token = server.token("alice", "");

    // psPAS: Start-PASAccountImportJob with New-PASAccountObject's spellings, lower-case path.
    let pspas = json!({"source": "psPAS", "accountsList": [
        {"uploadIndex": 1, "userName": "root", "address": "10.0.0.1", "platformID": "UnixSSH",
         "SafeName": "UnixAdminPasswords", "secretType": "Password", "secret": "pw-root-1",
         "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "break glass"},
         "remoteMachinesAccess": {"remoteMachines": "a;b", "accessRestrictedToRemoteMachines": true}},
        {"uploadIndex": 2, "name": "svc-key", "userName": "svc", "address": "host2", "platformID": "WinDesktopLocal",
         "SafeName": "WindowsPasswords", "secretType": "Key", "secret": "ssh-ed25519 AAAA",
         "platformAccountProperties": {"LogonDomain": "corp"}, "groupName": "g1"},
        {"uploadIndex": 3, "userName": "dba", "address": "db1", "platformID": "Oracle",
         "SafeName": "OracleAdminPasswords", "secretType": "Password", "secret": "pw-dba"},
        {"uploadIndex": 4, "userName": "noaddress", "platformID": "UnixSSH", "SafeName": "UnixAdminPasswords"},
    ]});
    let (status, bulk) = call(
        &server,
        "POST",
        "/PasswordVault/api/bulkactions/accounts",
        &[&token],
        json_body(&pspas),
    )
    .await;
    assert_eq!(status, 202, "{bulk}");
    let bulk = bulk
        .as_i64()
        .expect("psPAS reads the bare number as the id");
    let result = wait_for_upload(
        &server,
        &token,
        &format!("/PasswordVault/api/bulkactions/accounts/{bulk}"),
    )
    .await;
    assert_eq!(result["Status"], "completedWithErrors", "{result}");
    assert_eq!(result["Result"], json!({"Succeeded": 2, "Failed": 2}));
    let succeeded = &result["SucceededItems"]["Items"];
    assert_eq!(
        succeeded[0],
        json!({"uploadIndex": 1, "userName": "root", "address": "10.0.0.1",
               "safeName": "UnixAdminPasswords", "platformId": "UnixSSH", "secretType": "password",
               "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "break glass"},
               "remoteMachinesAccess": {"remoteMachines": "a;b", "accessRestrictedToRemoteMachines": true},
               "id": succeeded[0]["id"].clone()})
    );
    assert!(succeeded[0]["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("24_")));
    assert_eq!(succeeded[1]["secretType"], "key");
    assert_eq!(
        succeeded[1]["platformAccountProperties"],
        json!({"LogonDomain": "corp"})
    );
    let failed = &result["FailedItems"]["Items"];
    assert_eq!(failed[0]["errorCode"], "NOT_AUTHORIZED");
    assert_eq!(failed[1]["errorCode"], "INVALID_FIELDS");
    assert!(
        !result.to_string().contains("pw-root-1"),
        "no secret echoed"
    );

    // CyberArk's scripts: CSV rows turned into objects, `null` for empty cells, extra columns.
    let script = json!({"source": "epv-api-scripts", "accountsList": [
        {"name": null, "address": "10.0.0.9", "userName": "ops", "PlatformId": "UnixSSH",
         "safename": "UnixAdminPasswords", "secretType": "password", "secret": null,
         "platformAccountProperties": {}, "networkId": "net-1",
         "secretManagement": {"automaticManagementEnabled": true, "manualManagementReason": null},
         "remoteMachinesAccess": {"remoteMachines": null, "accessRestrictedToRemoteMachines": null}},
    ]});
    let (status, bulk) = call(
        &server,
        "POST",
        "/PasswordVault/API/BulkActions/Accounts",
        &[&token],
        json_body(&script),
    )
    .await;
    assert_eq!(status, 202, "{bulk}");
    let result = wait_for_upload(&server, &token, &format!("{UPLOADS}/{}", bulk)).await;
    assert_eq!(result["Status"], "completedSuccessfully", "{result}");
    let item = &result["SucceededItems"]["Items"][0];
    assert_no_nulls(&result, "result");
    assert!(
        item.get("networkId").is_none(),
        "unknown properties are ignored: {item}"
    );
    assert!(item.get("name").is_none(), "a null is not echoed: {item}");
    assert_eq!(
        item["secretManagement"],
        json!({"automaticManagementEnabled": true})
    );
    let (_, list) = call(
        &server,
        "GET",
        "/PasswordVault/API/BulkActions/Accounts?limit=1000",
        &[&token],
        None,
    )
    .await;
    assert_eq!(list["Total"], 2, "{list}");
    server.stop();
}

/// Method, path, `Authorization` values, body, expected status and error code.
type ErrorCase<'a> = (
    &'a str,
    String,
    Vec<&'a str>,
    Option<(&'a str, Vec<u8>)>,
    u16,
    &'a str,
);

#[tokio::test]
async fn every_section_b_error_has_pvwa_shape_and_section_a_keeps_its_own() {
    let root = fresh_dir("pvwa-errors");
    let server = ServerProcess::start(Path::new(BINARY), &root.path().join("data"), &["--demo"]);
    let token = server.token("alice", "");
    let bad_field = json!({"accountsList": [{"platformId": "p", "SafeName": 7}]});
    let twice = json!({"accountsList": [{"platformId": "p", "safeName": "a", "SafeName": "b"}]});
    let too_big = json!({"accountsList": [{"platformId": "p", "safeName": "s", "name": "x".repeat(1_048_576)}]});
    let cases: Vec<ErrorCase> = vec![
        (
            "POST",
            UPLOADS.into(),
            vec![&token],
            json_body(&bad_field),
            400,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            UPLOADS.into(),
            vec![&token],
            json_body(&twice),
            400,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            UPLOADS.into(),
            vec![&token],
            Some(("application/json", b"{".to_vec())),
            400,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            format!("{UPLOADS}?limit=0"),
            vec![&token],
            None,
            400,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            UPLOADS.into(),
            vec![],
            json_body(&bad_field),
            401,
            "UNAUTHORIZED",
        ),
        (
            "GET",
            UPLOADS.into(),
            vec!["Bearer nope"],
            None,
            401,
            "UNAUTHORIZED",
        ),
        (
            "GET",
            format!("{UPLOADS}/424242"),
            vec![&token],
            None,
            404,
            "NOT_FOUND",
        ),
        (
            "GET",
            "/PasswordVault/API/Nothing/Here".into(),
            vec![&token],
            None,
            404,
            "NOT_FOUND",
        ),
        ("PUT", UPLOADS.into(), vec![&token], None, 404, "NOT_FOUND"),
        (
            "POST",
            UPLOADS.into(),
            vec![&token],
            json_body(&too_big),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "POST",
            UPLOADS.into(),
            vec![&token],
            Some(("application/json", vec![b' '; 10 * 1024 * 1024 + 1])),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "POST",
            UPLOADS.into(),
            vec![&token],
            Some(("application/xml", b"<a/>".to_vec())),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ];
    for (method, path, authorization, body, status, code) in cases {
        let (got, error) = call(&server, method, &path, &authorization, body).await;
        assert_eq!(got, status, "{method} {path}: {error}");
        assert_eq!(error["ErrorCode"], code, "{method} {path}: {error}");
        assert!(
            error["ErrorMessage"].is_string(),
            "{method} {path}: {error}"
        );
        assert!(error.get("code").is_none(), "{error}");
    }
    let (_, error) = call(&server, "POST", UPLOADS, &[&token], json_body(&bad_field)).await;
    assert_eq!(
        error["Details"]["target"], "accountsList[0].SafeName",
        "{error}"
    );
    // PVWA also takes its other JSON media types.
    let ok = json!({"accountsList": [{"platformId": "UnixSSH", "safeName": "UnixAdminPasswords", "userName": "t", "address": "h"}]});
    let (status, _) = call(
        &server,
        "POST",
        UPLOADS,
        &[&token],
        Some(("text/json", ok.to_string().into_bytes())),
    )
    .await;
    assert_eq!(status, 202);

    // Section A keeps Entrust's {code, message, target}.
    let (status, error) = call(
        &server,
        "POST",
        "/api/web/v2/mobileFlashPass",
        &[],
        json_body(&json!({"ids": []})),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "{error}"
    );
    let (status, error) = call(&server, "GET", "/api/web/v9/nothing", &[&token], None).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{error}"
    );
    server.stop();
}

#[tokio::test]
async fn the_local_gateway_checks_every_claim_the_authorizer_checks() {
    let root = fresh_dir("jwt");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    let secret = std::fs::read_to_string(data.join("dev-jwt-secret")).expect("the dev key");
    let sign = |claims: &Value, key: &[u8]| {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key),
        )
        .expect("sign")
    };
    let now = jsonwebtoken::get_current_timestamp();
    let full = json!({"sub": "alice", "scope": ALL, "iss": "bulkops-local", "aud": "bulkops",
                      "nbf": now, "iat": now, "exp": now + 600});
    let with = |name: &str, value: Option<Value>| {
        let mut claims = full.clone();
        match value {
            Some(value) => claims[name] = value,
            None => {
                claims.as_object_mut().expect("claims").remove(name);
            }
        }
        sign(&claims, secret.trim().as_bytes())
    };
    let good = sign(&full, secret.trim().as_bytes());
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("expired", vec![with("exp", Some(json!(now - 10)))]),
        ("not valid yet", vec![with("nbf", Some(json!(now + 3600)))]),
        (
            "wrong issuer",
            vec![with("iss", Some(json!("https://evil.example")))],
        ),
        ("no issuer", vec![with("iss", None)]),
        ("wrong audience", vec![with("aud", Some(json!("other")))]),
        ("no audience", vec![with("aud", None)]),
        ("no expiry", vec![with("exp", None)]),
        ("no nbf", vec![with("nbf", None)]),
        ("no subject", vec![with("sub", None)]),
        ("null subject", vec![with("sub", Some(Value::Null))]),
        ("number subject", vec![with("sub", Some(json!(42)))]),
        ("array subject", vec![with("sub", Some(json!(["alice"])))]),
        ("empty subject", vec![with("sub", Some(json!("")))]),
        (
            "alg none",
            vec![format!(
                "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
                base64_url(&full.to_string())
            )],
        ),
        (
            "wrong key",
            vec![sign(&full, b"another-key-another-key-another-key")],
        ),
        ("two headers", vec![good.clone(), good.clone()]),
        (
            "two headers, one bad",
            vec![good.clone(), "Bearer nope".to_owned()],
        ),
    ];
    for (case, headers) in &cases {
        let authorization: Vec<&str> = headers.iter().map(String::as_str).collect();
        for (path, code) in [
            ("/api/web/v1/mobileFlashPass", "code"),
            (UPLOADS, "ErrorCode"),
        ] {
            let (status, error) = call(&server, "GET", path, &authorization, None).await;
            assert_eq!(status, 401, "{case} on {path}: {error}");
            assert_eq!(error[code], "UNAUTHORIZED", "{case} on {path}: {error}");
        }
    }
    // The same claims, correctly signed and complete, pass; so does a subject with spaces,
    // which stays exactly as it is.
    let (status, _) = call(&server, "GET", UPLOADS, &[&good], None).await;
    assert_eq!(status, 200);
    let spaced = with("sub", Some(json!(" alice ")));
    let (status, list) = call(&server, "GET", UPLOADS, &[&spaced], None).await;
    assert_eq!((status, &list["Total"]), (200, &json!(0)), "{list}");
    server.stop();
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Sends raw bytes and returns the status line's code and the body.
fn raw_exchange(address: &str, request: &[u8]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("send");
    stream.shutdown(std::net::Shutdown::Write).ok();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[tokio::test]
async fn malformed_http_framing_is_400_not_413() {
    let root = fresh_dir("framing");
    let server = ServerProcess::start(Path::new(BINARY), &root.path().join("data"), &[]);
    let token = server.token("alice", ALL);
    let address = server.url.trim_start_matches("http://").to_owned();
    let head = |path: &str, framing: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nContent-Type: application/json\r\n{framing}\r\n"
        )
    };
    for path in ["/api/web/v2/mobileFlashPass", UPLOADS] {
        let cases = [
            (
                "a bad chunk size",
                format!(
                    "{}zz\r\nabc\r\n0\r\n\r\n",
                    head(path, "Transfer-Encoding: chunked\r\n")
                ),
            ),
            (
                "a Content-Length longer than the body",
                format!("{}{{\"ids\":[]}}", head(path, "Content-Length: 100\r\n")),
            ),
            (
                "an unsupported Transfer-Encoding",
                format!("{}{{}}", head(path, "Transfer-Encoding: gzip\r\n")),
            ),
            (
                "two Content-Lengths",
                format!(
                    "{}{{}}",
                    head(path, "Content-Length: 2\r\nContent-Length: 3\r\n")
                ),
            ),
        ];
        for (case, request) in cases {
            let address = address.clone();
            let (status, body) =
                tokio::task::spawn_blocking(move || raw_exchange(&address, request.as_bytes()))
                    .await
                    .expect("exchange");
            assert_eq!(status, 400, "{case} on {path}: {body}");
        }
    }
    server.stop();
}
