use bulkops_shared::aws::{load_sdk_config, AwsClients};
use bulkops_shared::init::init_failed;
use dead_letter::{handler, Deps};
use lambda_runtime::{run, service_fn, tracing, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let clients = AwsClients::new(&load_sdk_config().await);
    // A missing setting is reported once, to the log and to Lambda, and the process exits.
    let deps = match Deps::from_env(&clients) {
        Ok(deps) => deps,
        Err(error) => return Err(init_failed(error).await),
    };
    run(service_fn(|event| handler(&deps, event))).await
}
