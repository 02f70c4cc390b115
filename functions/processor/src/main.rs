use bulkops_shared::aws::{load_sdk_config, AwsClients};
use bulkops_shared::init::ready;
use lambda_runtime::{run, service_fn, tracing, Error};
use processor::{handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = ready(Deps::from_env(&AwsClients::new(&load_sdk_config().await))).await?;
    run(service_fn(|event| handler(&deps, event))).await
}
