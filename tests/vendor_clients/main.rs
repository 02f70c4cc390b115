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

mod errors;
mod gateway;

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
