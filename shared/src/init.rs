//! A function that cannot start (a missing setting) says why once: as a JSON error line, and
//! to the Runtime API's init-error endpoint, so Lambda records `Runtime.InitError` with the
//! reason instead of a bare exit; then the process exits non-zero.

use lambda_http::http::{Method, Request};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{build_request, PooledClient};
use serde_json::json;

/// The Runtime API's init-error path (relative to `AWS_LAMBDA_RUNTIME_API`).
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// Reports `error` and returns it, for `main` to return. Outside Lambda (no
/// `AWS_LAMBDA_RUNTIME_API`) only the log line is written.
pub async fn init_failed<E>(error: E) -> Box<dyn std::error::Error + Send + Sync>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let error_type = short_type_name::<E>();
    tracing::error!(error_type, error = %error, "the function cannot start");
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        if let Err(report) = report(error_type, &error.to_string()).await {
            tracing::error!(%report, "the init error could not be reported to the Runtime API");
        }
    }
    Box::new(error)
}

/// The function's dependencies, or (a setting is missing) the reported error for `main` to
/// return: a missing setting is said once, to the log and to Lambda, and the process exits.
pub async fn ready<T, E>(deps: Result<T, E>) -> Result<T, Box<dyn std::error::Error + Send + Sync>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match deps {
        Ok(deps) => Ok(deps),
        Err(error) => Err(init_failed(error).await),
    }
}

async fn report(
    error_type: &str,
    message: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let body = json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let request: Request<Body> = build_request()
        .method(Method::POST)
        .uri(INIT_ERROR_PATH)
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .header("content-type", "application/json")
        .body(Body::from(body))?;
    let response = PooledClient::builder().build().call(request).await?;
    if !response.status().is_success() {
        return Err(format!("the Runtime API answered {}", response.status()).into());
    }
    Ok(())
}

/// `bulkops_shared::aws::MissingSetting` → `MissingSetting`.
fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}
