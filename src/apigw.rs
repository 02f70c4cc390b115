//! API Gateway HTTP API (payload format 2.0) events, built from the committed real event: the
//! local server turns every HTTP request into one, and the tests build theirs the same way,
//! so the handlers always parse exactly what Lambda hands them.

use base64::Engine as _;
use serde_json::{json, Map, Value};

const API_REQUEST_TEMPLATE: &str = include_str!("local/events/apigw-v2-jwt-request.json");

/// The committed event, parsed once: every request starts from a copy of it.
static TEMPLATE: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| serde_json::from_str(API_REQUEST_TEMPLATE).unwrap_or_default());

/// One HTTP request as API Gateway sees it after routing and authorization.
#[derive(Clone, Debug, Default)]
pub struct HttpApiRequest<'a> {
    pub method: &'a str,
    /// The path without the query string, as sent (percent-encoded).
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: &'a str,
    /// Header names and values; names are lower-cased and repeated headers joined with `,`,
    /// as API Gateway does.
    pub headers: Vec<(String, String)>,
    pub body: Option<&'a [u8]>,
    /// The matched route, e.g. `GET /api/web/v1/mobileFlashPass/{id}` (`$default` if none).
    pub route_key: Option<String>,
    pub path_parameters: Vec<(String, String)>,
    /// Verified JWT claims; `None` means the route has no authorizer context.
    pub claims: Option<Map<String, Value>>,
    pub source_ip: Option<String>,
}

impl HttpApiRequest<'_> {
    /// The event JSON Lambda would receive.
    pub fn event(&self) -> Value {
        let mut event = self.event_without_body();
        if let Some(body) = self.body {
            // API Gateway passes text through and base64-encodes anything else.
            match std::str::from_utf8(body) {
                Ok(text) => event["body"] = json!(text),
                Err(_) => {
                    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        event
    }

    /// The `lambda_http::Request` the Lambda runtime would give the handler.
    pub fn request(&self) -> Result<lambda_http::Request, serde_json::Error> {
        // The body goes in as the runtime decodes it (text as text, anything else as bytes)
        // without a trip through the event's JSON, where a 1 MiB body would be escaped into
        // the event's text and parsed back out of it.
        let mut request = lambda_http::request::from_str(&self.event_without_body().to_string())?;
        *request.body_mut() = match self.body {
            None => lambda_http::Body::Empty,
            Some(body) => match std::str::from_utf8(body) {
                Ok(text) => lambda_http::Body::from(text),
                Err(_) => lambda_http::Body::from(body.to_vec()),
            },
        };
        Ok(request)
    }

    /// The event without its body.
    fn event_without_body(&self) -> Value {
        let mut event = TEMPLATE.clone();
        let route_key = self
            .route_key
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.method, self.path));
        event["routeKey"] = json!(route_key);
        event["rawPath"] = json!(self.path);
        event["rawQueryString"] = json!(self.query);
        let context = &mut event["requestContext"];
        context["routeKey"] = json!(route_key);
        context["http"]["method"] = json!(self.method);
        context["http"]["path"] = json!(self.path);
        context["requestId"] = json!(uuid::Uuid::new_v4().to_string());
        let now = chrono::Utc::now();
        context["time"] = json!(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
        context["timeEpoch"] = json!(now.timestamp_millis());
        if let Some(ip) = &self.source_ip {
            context["http"]["sourceIp"] = json!(ip);
        }
        match &self.claims {
            Some(claims) => context["authorizer"]["jwt"]["claims"] = Value::Object(claims.clone()),
            None => {
                if let Some(context) = context.as_object_mut() {
                    context.remove("authorizer");
                }
            }
        }
        // The template's sample headers, overridden by the request's own.
        let mut headers = event["headers"].as_object().cloned().unwrap_or_default();
        let mut given = Map::new();
        for (name, value) in &self.headers {
            let name = name.to_ascii_lowercase();
            let joined = match given.get(&name).and_then(Value::as_str) {
                Some(existing) => format!("{existing},{value}"),
                None => value.clone(),
            };
            given.insert(name, json!(joined));
        }
        headers.extend(given);
        if let Some(agent) = headers.get("user-agent").cloned() {
            event["requestContext"]["http"]["userAgent"] = agent;
        }
        event["headers"] = Value::Object(headers);
        let query: Map<String, Value> = parameters(self.query);
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !self.path_parameters.is_empty() {
            let map: Map<String, Value> = self
                .path_parameters
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            event["pathParameters"] = Value::Object(map);
        }
        event
    }
}

/// `a=1&b=2&a=3` → `{"a": "1,3", "b": "2"}` (API Gateway joins repeated parameters).
fn parameters(query: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name), decode(value));
        let joined = match map.get(&name).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value,
        };
        map.insert(name, json!(joined));
    }
    map
}

/// Percent-decoding of a query component (`+` is a space); bad escapes are kept as they are.
fn decode(component: &str) -> String {
    let bytes = component.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(high), Some(low)) if hex(high).is_some() && hex(low).is_some() => {
                out.push((hex(high).unwrap_or(0) * 16 + hex(low).unwrap_or(0)) as u8);
                i += 2;
            }
            (byte, _, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;

    #[test]
    fn query_parameters_are_decoded_and_joined() {
        let map = parameters("filter=status+eq%20inProgress&limit=5&limit=6&flag");
        assert_eq!(map["filter"], "status eq inProgress");
        assert_eq!(map["limit"], "5,6");
        assert_eq!(map["flag"], "");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%é1"), "%é1");
    }

    proptest::proptest! {
        /// Any query string decodes without a panic, into as many names as it has pairs at most.
        #[test]
        fn any_query_string_decodes(query in ".{0,64}") {
            let map = parameters(&query);
            proptest::prop_assert!(map.len() <= query.split('&').count());
        }
    }

    #[test]
    fn builds_an_event_lambda_http_accepts() {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("alice"));
        let call = HttpApiRequest {
            method: "POST",
            path: "/api/web/v2/mobileFlashPass",
            query: "a=1",
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(b"{\"ids\":[]}"),
            claims: Some(claims),
            ..Default::default()
        };
        let request = call.request().expect("valid event");
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), "/api/web/v2/mobileFlashPass");
        assert_eq!(request.headers()["content-type"], "application/json");
        assert_eq!(request.body().as_ref(), b"{\"ids\":[]}");
        assert_eq!(
            request
                .query_string_parameters_ref()
                .and_then(|q| q.first("a")),
            Some("1")
        );
    }

    #[test]
    fn binary_bodies_are_base64_encoded() {
        let call = HttpApiRequest {
            method: "POST",
            path: "/x",
            body: Some(&[0xff, 0xfe, 0x00]),
            ..Default::default()
        };
        assert_eq!(call.event()["isBase64Encoded"], true);
        let request = call.request().expect("valid event");
        assert_eq!(request.body().as_ref(), &[0xff, 0xfe, 0x00]);
    }

    #[test]
    fn the_request_is_what_the_runtime_makes_of_the_whole_event() {
        let bodies: [Option<&[u8]>; 5] = [
            None,
            Some(b""),
            Some("{\"ids\":[\"\u{e9}\\n\"]}".as_bytes()),
            Some(&[0xff, 0xfe, 0x00]),
            Some(b"\x00 text with a NUL"),
        ];
        for body in bodies {
            let call = HttpApiRequest {
                method: "POST",
                path: "/p",
                query: "a=1&a=2",
                headers: vec![("X-Custom".into(), "v".into())],
                body,
                ..Default::default()
            };
            let direct = call.request().expect("valid event");
            let through_json =
                lambda_http::request::from_str(&call.event().to_string()).expect("valid event");
            assert_eq!(direct.method(), through_json.method());
            assert_eq!(direct.uri(), through_json.uri());
            assert_eq!(direct.headers(), through_json.headers());
            // The same variant (text or bytes) with the same content.
            assert_eq!(
                format!("{:?}", direct.body()),
                format!("{:?}", through_json.body()),
                "{body:?}"
            );
            assert_eq!(
                direct.query_string_parameters().all("a"),
                through_json.query_string_parameters().all("a")
            );
        }
    }
}
