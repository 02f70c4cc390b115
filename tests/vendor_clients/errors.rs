//! Every error in the called API's own shape: PVWA's for section B, section A's own.

use super::*;

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
