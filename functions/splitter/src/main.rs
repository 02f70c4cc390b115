use bulkops_shared::aws::{load_sdk_config, AwsClients};
use bulkops_shared::init::ready;
use bulkops_shared::logging;
use lambda_runtime::{run, service_fn, Error};
use splitter::{deps_from_env, handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let deps = ready(deps_from_env(&AwsClients::new(&load_sdk_config().await))).await?;
    run(service_fn(|event| {
        logging::invocation(handler(&deps, event))
    }))
    .await
}
