//! The gateway's half of identity (every claim the JWT authorizer checks, checked here too)
//! and HTTP framing the vendors' clients never send.

use super::*;

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
