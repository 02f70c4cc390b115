//! The local stand-in for API Gateway: routes each HTTP request as the HTTP API would,
//! verifies its bearer token as the JWT authorizer would, turns it into the payload-2.0
//! event, and calls the same handler function the Lambda runs.

use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lambda_http::Body as LambdaBody;
use serde_json::json;

use super::backend::Backend;
use super::routes::{route, Function};
use super::token::DevKey;
use crate::apigw::HttpApiRequest;

/// API Gateway HTTP APIs accept payloads up to 10 MB.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// What every request needs.
pub struct Gateway {
    pub backend: Arc<Backend>,
    pub key: DevKey,
}

/// The router: one fallback handler, as every path goes through the route table.
pub fn router(gateway: Arc<Gateway>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(gateway)
}

fn rejection(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "code": code, "message": message.into() });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: AxumBody,
) -> Response {
    let path = uri.path();
    let Some(matched) = route(method.as_str(), path) else {
        // API Gateway answers unrouted requests itself, before any authorizer.
        return rejection(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no route for {method} {path}"),
        );
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(authorization) = authorization else {
        return rejection(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "a bearer token is required (mint one with `bulkops token`)",
        );
    };
    let claims = match gateway.key.verify(authorization) {
        Ok(claims) => claims,
        Err(error) => {
            return rejection(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", error.to_string())
        }
    };
    let bytes = match axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return rejection(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the request body exceeds API Gateway's {MAX_PAYLOAD_BYTES} bytes"),
            )
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
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "Internal Server Error",
            )
        }
    }
}
