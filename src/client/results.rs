//! `bulkops results ID`: every row's outcome as the server reports it (the mfp row log, or
//! the upload's succeeded and failed items); with `--input` and `--failed`, the failed and
//! skipped rows written in the input's shape.

use std::fmt;

use serde_json::{json, Value};

use super::args::{Api, ResultsArgs};
use super::error::ClientError;
use super::exit::Exit;
use super::failed_file::{FailedFile, FailedTarget};
use super::failures;
use super::input::Input;
use super::jobs::{client, fetch, parse, read_job_input, StatusView};
use super::outcome::{self, Rows};
use super::output::Output;
use super::status::JobStatus;
use super::wait::Job;

pub async fn results(args: &ResultsArgs, out: &Output) -> Result<Exit, ClientError> {
    let (api, id) = (args.job.api(), args.job.id.as_str());
    let input = match &args.input {
        Some(path) => Some(read_job_input(path, api, id)?),
        None => None,
    };
    let target = match (&args.input, &args.failed) {
        (Some(path), Some(failed)) => Some(FailedTarget::check(Some(failed), path)?),
        _ => None,
    };
    let client = client(&args.job.server)?;
    let document = fetch(&client, api, id, out).await?;
    let status = parse(
        api,
        id,
        &document,
        input.as_ref().map(|i| i.rows.len() as u64),
    )?;
    let rows: Vec<Value> = match api {
        Api::Mfp => outcome::row_log(&client, id, out).await?,
        Api::Accounts => account_rows(&document),
    };
    let failed_file = match (&input, &target) {
        (Some(input), Some(target)) => {
            let job = Job {
                api,
                id: id.to_owned(),
                rows: Some(input.rows.len() as u64),
            };
            let found = match api {
                Api::Mfp => Rows {
                    failures: failures::from_mfp_logs(&rows, input.rows.len()),
                    unrun: failures::mfp_unrun(&rows, input.rows.len()),
                },
                Api::Accounts => {
                    let (failures, unrun) = failures::from_accounts_result(&document, &input.rows);
                    Rows { failures, unrun }
                }
            };
            let summary =
                outcome::summarize(&job, status.clone(), &found, Some(input), Some(target), 0.0)?;
            summary.failed_file
        }
        _ => FailedFile::None,
    };
    let view = Results {
        id,
        api,
        status: &status,
        rows: &rows,
        input: input.as_ref(),
        failed_file,
    };
    out.result(&view, &view.to_json());
    Ok(Exit::Success)
}

/// The upload's items, each with its `outcome`, in `uploadIndex` order.
fn account_rows(document: &Value) -> Vec<Value> {
    let mut rows: Vec<Value> = [("SucceededItems", "SUCCEEDED"), ("FailedItems", "FAILED")]
        .iter()
        .flat_map(|(list, outcome)| {
            document
                .pointer(&format!("/{list}/Items"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |mut item| {
                    item["outcome"] = json!(outcome);
                    item
                })
        })
        .collect();
    rows.sort_by_key(|item| item.get("uploadIndex").and_then(Value::as_i64));
    rows
}

struct Results<'a> {
    id: &'a str,
    api: Api,
    status: &'a JobStatus,
    rows: &'a [Value],
    input: Option<&'a Input>,
    failed_file: FailedFile,
}

impl Results<'_> {
    /// The file line of an mfp log entry's row, when the input is known.
    fn line(&self, row: &Value) -> Option<u64> {
        let number = row.get("row").and_then(Value::as_u64)?;
        let index = usize::try_from(number.checked_sub(1)?).ok()?;
        self.input?.rows.get(index)?.line
    }

    fn to_json(&self) -> Value {
        let mut document = StatusView {
            id: self.id,
            api: self.api,
            status: self.status,
        }
        .to_json();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| match self.line(row) {
                Some(line) => {
                    let mut row = row.clone();
                    row["line"] = json!(line);
                    row
                }
                None => row.clone(),
            })
            .collect();
        document["rows"] = Value::Array(rows);
        if let FailedFile::Written { path, private, .. } = &self.failed_file {
            document["failedFile"] = json!(path.display().to_string());
            document["failedFileHasSecrets"] = json!(private);
        }
        document
    }
}

impl fmt::Display for Results<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = StatusView {
            id: self.id,
            api: self.api,
            status: self.status,
        };
        write!(f, "{view}")?;
        let text = |row: &Value, key: &str| {
            row.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        for row in self.rows {
            let outcome = text(row, "outcome");
            let (number, code, message) = match self.api {
                Api::Mfp => (
                    format!("row {}", row.get("row").unwrap_or(&Value::Null)),
                    text(row, "errorCode"),
                    text(row, "errorMessage"),
                ),
                Api::Accounts => (
                    format!(
                        "uploadIndex {}",
                        row.get("uploadIndex").unwrap_or(&Value::Null)
                    ),
                    text(row, "errorCode"),
                    if outcome == "FAILED" {
                        text(row, "error")
                    } else {
                        text(row, "id")
                    },
                ),
            };
            let line = self
                .line(row)
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            let entry = format!("  {number}{line}  {outcome}  {code}  {message}");
            write!(f, "\n{}", entry.trim_end())?;
        }
        if let FailedFile::Written { path, rows, .. } = &self.failed_file {
            write!(
                f,
                "\n  {rows} failed or skipped rows written to {}",
                path.display()
            )?;
        }
        Ok(())
    }
}
