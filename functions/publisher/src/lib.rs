//! The scheduled publisher: sends the job events left in outboxes (a flush that failed, a
//! function that died after a transition), oldest first, and ends the staged jobs whose file
//! never came. It fails when events remain unpublished, so its error metric is the
//! publish-failure alarm.

use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
use bulkops_shared::events::Publisher;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};

/// Jobs swept per round; rounds repeat while they find work and time is left.
const JOBS_PER_ROUND: usize = 100;
const MAX_ROUNDS: usize = 20;

pub type Deps = Publisher;

/// From `TABLE_NAME` and `EVENT_BUS_NAME`.
pub fn deps_from_env(clients: &AwsClients) -> Result<Deps, MissingSetting> {
    Ok(clients.publisher(
        &required_env("TABLE_NAME")?,
        &required_env("EVENT_BUS_NAME")?,
    ))
}

pub async fn handler(deps: &Deps, _event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (mut published, mut overdue, mut left) = (0, 0, 0);
    for _ in 0..MAX_ROUNDS {
        let stats = deps.sweep(JOBS_PER_ROUND).await?;
        published += stats.published;
        overdue += stats.overdue;
        left = stats.left;
        let more = stats.jobs == JOBS_PER_ROUND || stats.overdue == JOBS_PER_ROUND;
        if !more || stats.left > 0 {
            break;
        }
    }
    if left > 0 {
        return Err(
            format!("{left} events could not be published; they stay in the outbox").into(),
        );
    }
    Ok(json!({ "published": published, "overdueUploads": overdue }))
}
