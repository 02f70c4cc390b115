//! `bulkops submit FILE`: check the whole file, send it, say the job id at once, follow the
//! job to its end, and write the failed rows.

use std::path::Path;

use serde_json::json;

use super::args::{Api, SubmitArgs};
use super::error::ClientError;
use super::exit::Exit;
use super::failed_file::FailedTarget;
use super::follow::{follow, Files};
use super::http::{ApiClient, HttpError};
use super::input::{self, Fault, Input, InputError};
use super::output::Output;
use super::resume::Tracker;
use super::retry::Retry;
use super::wait::Job;

/// Request body limits of the contract; checked before sending so the operator learns how to
/// split the file instead of getting a bare 413.
const fn body_limit(api: Api) -> usize {
    match api {
        Api::Mfp => 204_800,
        Api::Accounts => 1_048_576,
    }
}

pub async fn run(args: &SubmitArgs, out: &Output, tracker: &Tracker) -> Result<Exit, ClientError> {
    // Everything that can be checked is checked before anything is sent.
    let input = input::read_input(&args.file, args.api)?;
    let target = FailedTarget::check(args.failed.as_deref(), &args.file)?;
    let source = args
        .source
        .clone()
        .or_else(|| input.source.clone())
        .unwrap_or_else(|| file_name(&args.file));
    let body = serde_json::to_vec(&input.request_body(&source))
        .map_err(|e| ClientError::Unreadable(format!("encoding the request: {e}")))?;
    check_size(&args.file, &input, body.len())?;
    let client =
        ApiClient::new(&args.server.url, args.server.token.clone()).map_err(ClientError::Usage)?;

    // One key for every attempt: the server answers a retry with the first attempt's job.
    let key = uuid::Uuid::new_v4().to_string();
    let id = Retry::default()
        .run(
            || client.submit(input.api, body.clone(), &key),
            out.retry_notes(),
        )
        .await
        .map_err(|error| match error {
            HttpError::Transport { maybe_sent, .. } => ClientError::Unsent {
                file: args.file.display().to_string(),
                maybe_sent,
                source: error,
            },
            other => ClientError::Rejected(other),
        })?;
    tracker.follow(&id, input.api);
    let rows = input.rows.len() as u64;
    out.note(&format!(
        "job {id} accepted ({}, {rows} rows); Ctrl-C stops waiting, not the job",
        input.api
    ));
    if args.no_wait {
        let document = json!({"jobId": id, "api": input.api.to_string(), "rows": rows});
        out.result(&id, &document);
        return Ok(Exit::Success);
    }

    let job = Job {
        api: input.api,
        id,
        rows: Some(rows),
    };
    let files = Files {
        input: Some(&input),
        target: Some(&target),
    };
    let summary = follow(&client, &job, files, args.wait, out, tracker, true).await?;
    out.result(&summary, &summary.to_json());
    Ok(summary.exit())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn check_size(path: &Path, input: &Input, size: usize) -> Result<(), InputError> {
    let limit = body_limit(input.api);
    if size > limit {
        return Err(InputError {
            path: path.to_path_buf(),
            fault: Fault::TooLarge {
                api: input.api,
                size,
                limit,
                rows_per_file: input.rows.len() * limit / size,
            },
        });
    }
    Ok(())
}
