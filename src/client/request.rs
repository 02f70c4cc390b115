//! `bulkops request FILE`: puts an event-driven bulk request (a `Bulk Job Requested` detail:
//! `{api, owner, permissions, clientToken, body}`, or the whole event) on the local server's
//! intake queue, as a producer's `SendMessage` would. Its outcome is an event: follow it with
//! `bulkops events --follow`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde_json::Value;

use super::http::ApiClient;
use crate::local::intake::REQUESTS_PATH;

#[derive(clap::Args, Debug, Clone)]
pub struct RequestArgs {
    /// The request, as JSON.
    pub file: PathBuf,

    /// Base URL of the local server.
    #[arg(long, env = "BULKOPS_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,

    /// Bearer token (any valid development token: on AWS, IAM decides who may send).
    #[arg(long, env = "BULKOPS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Sends the request and prints the queue's message id.
pub async fn run(args: RequestArgs) -> anyhow::Result<Value> {
    let body =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let request: Value = serde_json::from_slice(&body)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    if !request.is_object() {
        bail!(
            "{} must hold a JSON object: a Bulk Job Requested detail or event",
            args.file.display()
        );
    }
    let client = ApiClient::new(&args.url, args.token).map_err(anyhow::Error::msg)?;
    Ok(client.queue_request(REQUESTS_PATH, body).await?)
}
