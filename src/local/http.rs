//! The local stand-in for API Gateway: routes each HTTP request as the HTTP API would,
//! verifies its bearer token as the JWT authorizer would, turns it into the payload-2.0
//! event, and calls the same handler function the Lambda runs.

use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bulkops_shared::error::ApiStyle;
use http_body_util::LengthLimitError;
use lambda_http::Body as LambdaBody;
use serde_json::{Map, Value};

use super::backend::Backend;
use super::intake::{accept, MAX_REQUEST_BYTES, REQUESTS_PATH};
use super::results::RESULTS_PATH;
use super::routes::{route, Function};
use super::token::DevKey;
use super::upload_receiver::receive;
use super::uploads::{LocalUploads, UPLOADS_PATH};
use crate::apigw::HttpApiRequest;

/// Prometheus scrapes the service's metrics here (local server only; not an API route).
pub const METRICS_PATH: &str = "/metrics";
/// The OpenAPI document of every route (local server only; not an API route).
pub const OPENAPI_PATH: &str = "/openapi.yaml";
const OPENAPI_DOCUMENT: &str = include_str!("../../openapi.yaml");
/// API Gateway HTTP APIs accept payloads up to 10 MB.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// What every request needs.
pub struct Gateway {
    pub backend: Arc<Backend>,
    pub key: DevKey,
    /// Staged files: the upload URLs this server signs, and where the files go.
    pub uploads: Arc<LocalUploads>,
    /// Result files, read through the links this server signs.
    pub results: Arc<super::results::LocalResultFiles>,
}

/// The router: one fallback handler, as every path goes through the route table.
pub fn router(gateway: Arc<Gateway>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(gateway)
}

/// The gateway's own error response, in the error shape of the API the path belongs to.
fn rejection(path: &str, status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ApiStyle::for_path(path).error_body(code, &message.into(), None);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What the JWT authorizer would decide, given every `Authorization` header of the request.
fn authorize(key: &DevKey, headers: &HeaderMap) -> Result<Map<String, Value>, String> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(match headers.contains_key(header::AUTHORIZATION) {
            true => "the request has more than one Authorization header".to_owned(),
            false => {
                "a token is required in the Authorization header (mint one with `bulkops token`)"
                    .to_owned()
            }
        });
    };
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII".to_owned())?;
    key.verify(value).map_err(|error| error.to_string())
}

/// Every answer leaves once what it reports is durable: the embedded store commits lazily,
/// so one fsync covers the commits of all the callers answered together.
async fn handle(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: AxumBody,
) -> Response {
    let answer = answer(&gateway, method, &uri, headers, body).await;
    match gateway.backend.make_durable().await {
        Ok(()) => answer,
        Err(error) => {
            tracing::error!(%error, "the store could not be made durable before an answer");
            rejection(
                uri.path(),
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "the store could not be written to disk; retry the request",
            )
        }
    }
}

async fn answer(
    gateway: &Gateway,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: AxumBody,
) -> Response {
    let path = uri.path();
    if path == REQUESTS_PATH && method == Method::POST {
        return queue_request(gateway, &headers, body).await;
    }
    if let (Some(job_id), &Method::PUT) = (path.strip_prefix(UPLOADS_PATH), &method) {
        // A staged file, to a URL this server signed (no token: the signature is the credential).
        let query = uri.query().unwrap_or_default();
        return receive(&gateway.backend, &gateway.uploads, job_id, query, body).await;
    }
    if let (Some(rest), &Method::GET) = (path.strip_prefix(RESULTS_PATH), &method) {
        // A result file, by a link this server signed (no token: the signature is the credential).
        return gateway
            .results
            .serve(rest, uri.query().unwrap_or_default())
            .await;
    }
    if path == OPENAPI_PATH && method == Method::GET {
        // The API's description, for generating a client against this server.
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/yaml")],
            OPENAPI_DOCUMENT,
        )
            .into_response();
    }
    if path == METRICS_PATH && method == Method::GET {
        // Local only (on AWS the same counts are EMF metrics in CloudWatch): counts, no data.
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            gateway.backend.metrics.render(),
        )
            .into_response();
    }
    let Some(matched) = route(method.as_str(), path) else {
        // API Gateway answers unrouted requests itself, before any authorizer.
        return rejection(
            path,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no route for {method} {path}"),
        );
    };
    let claims = match authorize(&gateway.key, &headers) {
        Ok(claims) => claims,
        Err(reason) => return rejection(path, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", reason),
    };
    let read = axum::body::to_bytes(body, MAX_PAYLOAD_BYTES)
        .await
        .map_err(|error| error.into_inner().is::<LengthLimitError>());
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(true) => {
            return rejection(
                path,
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the request body exceeds API Gateway's {MAX_PAYLOAD_BYTES} bytes"),
            )
        }
        Err(false) => {
            // A body that ends early or is framed wrongly (bad chunk size, a Content-Length
            // longer than what was sent): the request itself is malformed.
            return rejection(
                path,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "the request body is malformed: its framing (Content-Length or chunked encoding) does not match what was sent",
            );
        }
    };
    let event = HttpApiRequest {
        method: method.as_str(),
        path,
        query: uri.query().unwrap_or_default(),
        headers: headers
            .iter()
            .filter(|(name, _)| *name != header::AUTHORIZATION)
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body: (!bytes.is_empty()).then_some(bytes.as_ref()),
        route_key: Some(matched.route_key),
        path_parameters: matched.path_parameters,
        claims: Some(claims),
        source_ip: None,
    };
    let request = match event.request() {
        Ok(request) => request,
        Err(error) => {
            return rejection(
                path,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                format!("the request cannot be passed on as an API Gateway event: {error}"),
            )
        }
    };
    let backend = &gateway.backend;
    let result = match matched.function {
        Function::Submit => submit::handler(&backend.submit, request).await,
        Function::Query => query::handler(&backend.query, request).await,
        Function::Cancel => cancel::handler(&backend.cancel, request).await,
    };
    match result {
        Ok(response) => response.map(|body| match body {
            LambdaBody::Empty => AxumBody::empty(),
            LambdaBody::Text(text) => AxumBody::from(text),
            LambdaBody::Binary(bytes) => AxumBody::from(bytes),
            _ => AxumBody::empty(),
        }),
        Err(error) => {
            // What API Gateway returns when the function itself fails.
            tracing::error!(%error, "handler failed");
            rejection(
                path,
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "Internal Server Error",
            )
        }
    }
}

/// `POST /_local/requests` (local only): a development token stands in for the IAM
/// permission to send to the intake queue.
async fn queue_request(gateway: &Gateway, headers: &HeaderMap, body: AxumBody) -> Response {
    if let Err(reason) = authorize(&gateway.key, headers) {
        return rejection(
            REQUESTS_PATH,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            reason,
        );
    }
    let Some(requests) = &gateway.backend.requests else {
        return rejection(
            REQUESTS_PATH,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "this server takes no event-driven requests (in AWS mode, set INTAKE_QUEUE_URL, INTAKE_DEAD_LETTER_QUEUE_URL and EVENT_BUS_NAME)",
        );
    };
    match axum::body::to_bytes(body, MAX_REQUEST_BYTES + 1).await {
        Ok(bytes) => accept(requests, &bytes).await,
        Err(_) => rejection(
            REQUESTS_PATH,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("a queued request is at most {MAX_REQUEST_BYTES} bytes (SQS's limit)"),
        ),
    }
}
