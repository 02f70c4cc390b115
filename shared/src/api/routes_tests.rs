//! The route table's parsing, spelling and functions.

use super::*;

#[test]
fn recognises_every_route_of_both_apis() {
    let cases = [
        (
            "POST",
            "/api/web/v2/mobileFlashPass",
            Some(Route::MfpSubmit),
        ),
        ("GET", "/api/web/v1/mobileFlashPass", Some(Route::MfpList)),
        (
            "get",
            "/prod/api/web/v1/mobileFlashPass/abc",
            Some(Route::MfpGet("abc".into())),
        ),
        (
            "GET",
            "/api/web/v2/mobileFlashPass/download/logs/abc",
            Some(Route::MfpLogs("abc".into())),
        ),
        (
            "DELETE",
            "/api/web/v1/mobileFlashPass/cancel/abc",
            Some(Route::MfpCancel("abc".into())),
        ),
        ("PUT", "/api/web/v1/mobileFlashPass", None),
        ("GET", "/other", None),
        (
            "POST",
            "/PasswordVault/API/BulkActions/Accounts",
            Some(Route::UploadCreate),
        ),
        (
            "POST",
            "/passwordvault/api/bulkactions/accounts/",
            Some(Route::UploadCreate),
        ),
        (
            "GET",
            "/PasswordVault/api/BULKACTIONS/Accounts/",
            Some(Route::UploadList),
        ),
        (
            "GET",
            "/PasswordVault/API/BulkActions/Accounts/42/",
            Some(Route::UploadGet("42".into())),
        ),
        ("DELETE", "/PasswordVault/API/BulkActions/Accounts/42", None),
        ("GET", "/PasswordVault/API/BulkActions/Accounts/42/x", None),
        (
            "POST",
            "/passwordvault/api/bulkactions/accounts/42/Retry/",
            Some(Route::UploadRetry("42".into())),
        ),
        (
            "GET",
            "/PasswordVault/API/BulkActions/Accounts/42/retry",
            None,
        ),
        (
            "GET",
            "/passwordvault/api/bulkactions/accounts/42/ROWS/",
            Some(Route::UploadRows("42".into())),
        ),
        (
            "POST",
            "/PasswordVault/API/BulkActions/Accounts/42/rows",
            None,
        ),
        (
            "GET",
            "/passwordvault/api/bulkactions/accounts/42/Results/failed.csv",
            Some(Route::UploadResult("42".into(), "failed.csv".into())),
        ),
        (
            "GET",
            "/api/web/v2/mobileFlashPass/abc/results/rows.jsonl",
            Some(Route::MfpResult("abc".into(), "rows.jsonl".into())),
        ),
        ("GET", "/api/web/v2/mobileFlashPass/abc/results", None),
        (
            "GET",
            "/prod/api/web/v2/mobileFlashPass/abc/rows",
            Some(Route::MfpRows("abc".into())),
        ),
        ("GET", "/api/web/v2/mobileFlashPass/abc/Rows", None),
        ("GET", "/api/web/v1/mobileFlashPass/abc/rows", None),
        ("GET", "/PasswordVault/API/Nothing/Here", None),
        (
            "POST",
            "/PasswordVault/api/bulkactions/accounts",
            Some(Route::UploadCreate),
        ),
        (
            "GET",
            "/prod/PasswordVault/API/BulkActions/Accounts/7",
            Some(Route::UploadGet("7".into())),
        ),
    ];
    for (method, path, expected) in cases {
        assert_eq!(Route::parse(method, path), expected, "{method} {path}");
    }
    assert_eq!(Route::MfpCancel("x".into()).function(), Function::Cancel);
    for route in [
        Route::MfpSubmit,
        Route::MfpList,
        Route::MfpGet("j".into()),
        Route::MfpLogs("j".into()),
        Route::MfpRows("j".into()),
        Route::MfpCancel("j".into()),
        Route::UploadCreate,
        Route::UploadList,
        Route::UploadGet("7".into()),
        Route::UploadRetry("7".into()),
        Route::MfpUpload,
        Route::UploadStaged,
        Route::UploadRows("7".into()),
    ] {
        let method = match route.function() {
            Function::Submit => "POST",
            Function::Query => "GET",
            Function::Cancel => "DELETE",
        };
        assert_eq!(
            Route::parse(method, &route.path()),
            Some(route),
            "paths round-trip"
        );
    }
    assert_eq!(Route::UploadCreate.function(), Function::Submit);
    assert_eq!(Route::UploadGet("1".into()).function(), Function::Query);
}

proptest::proptest! {
    /// Any method and path is recognised or not, without a panic.
    #[test]
    fn any_path_is_recognised_or_not(method in "[A-Za-z]{0,7}", path in "(/[^/]{0,8}){0,9}/?") {
        let _ = Route::parse(&method, &path);
    }
}

/// The gateway table is exactly template.yaml's `HttpApi` events.
#[test]
fn the_gateway_table_is_template_yamls() {
    let template = include_str!("../../../template.yaml");
    let mut found = Vec::new();
    let (mut resource, mut method) = (String::new(), None::<String>);
    for line in template.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if indent == 2 && text.ends_with(':') {
            resource = text.trim_end_matches(':').to_owned();
        } else if let Some(m) = text.strip_prefix("Method: ") {
            method = Some(m.to_owned());
        } else if let (Some(p), Some(m)) = (text.strip_prefix("Path: "), method.take()) {
            found.push((resource.clone(), m, p.to_owned()));
        }
    }
    let function = |f: Function| match f {
        Function::Submit => "SubmitFunction",
        Function::Query => "QueryFunction",
        Function::Cancel => "CancelFunction",
    };
    let mut expected: Vec<(String, String, String)> = GATEWAY_ROUTES
        .iter()
        .map(|(f, m, p)| (function(*f).to_owned(), m.to_string(), p.to_string()))
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
}
