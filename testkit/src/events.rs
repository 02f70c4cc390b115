use serde_json::Value;

use bulkops::apigw::HttpApiRequest;

/// An HTTP API call as API Gateway (payload format 2.0, JWT authorizer) hands it to Lambda.
#[derive(Clone, Debug)]
pub struct ApiCall {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Option<String>,
    pub content_type: Option<String>,
    /// Verified JWT claims (`sub`, `scope`); `None` means no authorizer context.
    pub claims: Option<Vec<(String, String)>>,
    pub headers: Vec<(String, String)>,
}

impl ApiCall {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: String::new(),
            body: None,
            content_type: None,
            claims: None,
            headers: Vec::new(),
        }
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self.content_type = Some("application/json".to_owned());
        self
    }

    pub fn body(mut self, body: impl Into<String>, content_type: Option<&str>) -> Self {
        self.body = Some(body.into());
        self.content_type = content_type.map(str::to_owned);
        self
    }

    /// Caller `sub` with a space-separated `scope`.
    pub fn user(mut self, sub: &str, scope: &str) -> Self {
        self.claims = Some(vec![
            ("sub".into(), sub.into()),
            ("scope".into(), scope.into()),
        ]);
        self
    }

    pub fn claims(mut self, claims: Vec<(String, String)>) -> Self {
        self.claims = Some(claims);
        self
    }

    /// The raw query string, as in the URL (percent-encoded).
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The event JSON, built from the committed real event.
    pub fn event_json(&self) -> Value {
        let mut headers = Vec::new();
        if let Some(content_type) = &self.content_type {
            headers.push(("content-type".to_owned(), content_type.clone()));
        }
        headers.extend(self.headers.iter().cloned());
        HttpApiRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers,
            body: self.body.as_deref().map(str::as_bytes),
            claims: self.claims.as_ref().map(|claims| {
                claims
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect()
            }),
            ..Default::default()
        }
        .event()
    }

    /// The `lambda_http::Request` the Lambda runtime would give the handler.
    pub fn request(&self) -> lambda_http::Request {
        api_request(&self.event_json())
    }
}

/// Parses API Gateway event JSON the way the Lambda runtime does.
pub fn api_request(event: &Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway event")
}
