//! `bulkops submit FILE`: check the whole file, send it (as one request, or over the request
//! limit as a staged file), say the job id at once, follow the job to its end, and write the
//! failed rows.

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

/// Request body limits of the contract: a larger input goes as a staged file.
/// The largest staged file the service takes.
const MAX_STAGED_FILE_BYTES: usize = 1_000_000_000;

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
    let client =
        ApiClient::new(&args.server.url, args.server.token.clone()).map_err(ClientError::Usage)?;

    // One key for every attempt: the server answers a retry with the first attempt's job.
    let key = uuid::Uuid::new_v4().to_string();
    let sent = if body.len() <= body_limit(input.api) {
        Retry::default()
            .run(
                || client.submit(input.api, body.clone(), &key),
                out.retry_notes(),
            )
            .await
    } else {
        // Over the request body limit: the same rows go as a staged file.
        let file = staged_file(&args.file, &input)?;
        out.note(&format!(
            "{} bytes: over the {} request limit, sent as a staged file",
            body.len(),
            input.api
        ));
        send_staged(&client, &input, &source, &key, file, out).await
    };
    let id = sent.map_err(|error| match error {
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

/// Creates the staged job and sends its file, each step retried; returns the job id.
async fn send_staged(
    client: &ApiClient,
    input: &Input,
    source: &str,
    key: &str,
    file: Vec<u8>,
    out: &Output,
) -> Result<String, HttpError> {
    let (id, url) = Retry::default()
        .run(
            || client.create_staged(input.api, source, key),
            out.retry_notes(),
        )
        .await?;
    Retry::default()
        .run(|| client.put_file(&url, file.clone()), out.retry_notes())
        .await?;
    Ok(id)
}

/// The rows as a staged file: JSON Lines, one row as the file had it per line (an id, or an
/// account object), so rows keep their numbers and accounts their `uploadIndex`.
fn staged_file(path: &Path, input: &Input) -> Result<Vec<u8>, InputError> {
    let mut file = Vec::new();
    for row in &input.rows {
        // A JSON value never holds a raw line break, so each row stays on its line.
        serde_json::to_writer(&mut file, &row.payload).unwrap_or_default();
        file.push(b'\n');
    }
    check_size(path, input, file.len(), MAX_STAGED_FILE_BYTES)?;
    Ok(file)
}

fn check_size(path: &Path, input: &Input, size: usize, limit: usize) -> Result<(), InputError> {
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
