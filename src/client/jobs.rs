//! The commands about one job: `status ID`, `wait ID`, `cancel ID`.

use std::fmt;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::args::{Api, JobArgs, ServerArgs, WaitArgs};
use super::error::ClientError;
use super::exit::Exit;
use super::failed_file::FailedTarget;
use super::follow::{follow, Files};
use super::http::{ApiClient, HttpError};
use super::input::{self, Input};
use super::output::Output;
use super::resume::Tracker;
use super::retry::Retry;
use super::status::JobStatus;
use super::wait::Job;

pub fn client(server: &ServerArgs) -> Result<ApiClient, ClientError> {
    ApiClient::new(&server.url, server.token.clone()).map_err(ClientError::Usage)
}

/// The job's status document, retried as any GET.
pub async fn fetch(
    client: &ApiClient,
    api: Api,
    id: &str,
    out: &Output,
) -> Result<Value, ClientError> {
    Retry::default()
        .run(|| client.job(api, id), out.retry_notes())
        .await
        .map_err(|e| ClientError::call(format!("reading job {id}"), e))
}

pub fn parse(
    api: Api,
    id: &str,
    body: &Value,
    rows: Option<u64>,
) -> Result<JobStatus, ClientError> {
    JobStatus::parse(api, body, rows)
        .map_err(|e| ClientError::Unreadable(format!("reading the status of job {id}: {e}")))
}

/// A job's status, for a person and as JSON.
pub struct StatusView<'a> {
    pub id: &'a str,
    pub api: Api,
    pub status: &'a JobStatus,
}

impl fmt::Display for StatusView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.status;
        write!(
            f,
            "job {} ({}): {}: {} succeeded, {} failed, {} skipped",
            self.id,
            self.api,
            s.brief(),
            s.succeeded,
            s.failed,
            s.skipped
        )?;
        if let Some(error) = &s.error {
            write!(f, "\n  error: {error}")?;
        }
        Ok(())
    }
}

impl StatusView<'_> {
    pub fn to_json(&self) -> Value {
        let s = self.status;
        json!({
            "jobId": self.id,
            "api": self.api.to_string(),
            "state": s.state,
            "final": s.is_final,
            "total": s.total,
            "succeeded": s.succeeded,
            "failed": s.failed,
            "skipped": s.skipped,
            "error": s.error,
        })
    }
}

pub async fn status(args: &JobArgs, out: &Output) -> Result<Exit, ClientError> {
    let (api, id) = (args.api(), args.id.as_str());
    let client = client(&args.server)?;
    let body = fetch(&client, api, id, out).await?;
    let status = parse(api, id, &body, None)?;
    let view = StatusView {
        id,
        api,
        status: &status,
    };
    out.result(&view, &view.to_json());
    Ok(Exit::Success)
}

/// The file a job was submitted from, for its failed rows; it must be for the job's API.
pub fn read_job_input(path: &Path, api: Api, id: &str) -> Result<Input, ClientError> {
    let input = input::read_input(path, None)?;
    if input.api != api {
        return Err(ClientError::Usage(format!(
            "--input {} is for the {} API, but job {id} is a {api} job",
            path.display(),
            input.api
        )));
    }
    Ok(input)
}

pub async fn wait(args: &WaitArgs, out: &Output, tracker: &Tracker) -> Result<Exit, ClientError> {
    let (api, id) = (args.job.api(), args.job.id.clone());
    let input = match &args.input {
        Some(path) => Some(read_job_input(path, api, &id)?),
        None => None,
    };
    let target = match &args.input {
        Some(path) => Some(FailedTarget::check(args.failed.as_deref(), path)?),
        None => None,
    };
    let client = client(&args.job.server)?;
    tracker.follow(&id, api);
    let job = Job {
        api,
        id,
        rows: input.as_ref().map(|i| i.rows.len() as u64),
    };
    let files = Files {
        input: input.as_ref(),
        target: target.as_ref(),
    };
    let summary = follow(&client, &job, files, args.wait, out, tracker, false).await?;
    out.result(&summary, &summary.to_json());
    Ok(summary.exit())
}

pub async fn cancel(args: &JobArgs, out: &Output) -> Result<Exit, ClientError> {
    let (api, id) = (args.api(), args.id.as_str());
    if api == Api::Accounts {
        return Err(ClientError::Usage(format!(
            "job {id} is an account upload: that API has no cancel route (nor has CyberArk's); \
             an upload runs to its end"
        )));
    }
    let client = client(&args.server)?;
    let cancelled = Retry::default()
        .run(|| client.cancel_mfp(id), out.retry_notes())
        .await;
    // A 409 is a job already final: cancelled (perhaps by a retried DELETE), or finished.
    let conflict = match cancelled {
        Ok(()) => None,
        Err(error) if error.status() == Some(StatusCode::CONFLICT) => Some(error),
        Err(error) => return Err(ClientError::call(format!("cancelling job {id}"), error)),
    };
    let body = fetch(&client, api, id, out).await?;
    let status = parse(api, id, &body, None)?;
    if let Some(error) = conflict.filter(|_| status.state != "CANCELLED") {
        return Err(ClientError::call(
            format!("cancelling job {id} ({})", status.brief()),
            HttpError::Status {
                status: StatusCode::CONFLICT,
                code: None,
                message: format!("it has already finished: nothing to cancel ({error})"),
            },
        ));
    }
    let view = StatusView {
        id,
        api,
        status: &status,
    };
    let mut document = view.to_json();
    document["cancelled"] = json!(true);
    out.result(&format_args!("cancelled {view}"), &document);
    Ok(Exit::Success)
}
