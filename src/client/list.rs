//! `bulkops list --api A`: the jobs of one API, newest first, with the filters the server
//! takes (accounts: `limit` and `filter=status eq S`; the flash pass listing takes none).

use std::fmt;

use serde_json::{json, Value};

use super::args::{Api, ListArgs};
use super::error::ClientError;
use super::exit::Exit;
use super::http::ListQuery;
use super::jobs::client;
use super::output::Output;
use super::retry::Retry;
use super::status::JobStatus;

/// One listed job.
struct Listed {
    id: String,
    status: JobStatus,
    /// RFC 3339.
    created: Option<String>,
    source: Option<String>,
}

struct Listing {
    api: Api,
    /// Jobs matching on the server (accounts' `Total`), before `--limit`.
    matching: u64,
    jobs: Vec<Listed>,
}

pub async fn list(args: &ListArgs, out: &Output) -> Result<Exit, ClientError> {
    if args.api == Api::Mfp && args.status.is_some() {
        return Err(ClientError::Usage(
            "--status filters account uploads only: the flash pass listing takes no filter".into(),
        ));
    }
    let query = match args.api {
        Api::Mfp => ListQuery::default(),
        Api::Accounts => ListQuery {
            limit: args.limit,
            status: args.status.clone(),
        },
    };
    let client = client(&args.server)?;
    let body = Retry::default()
        .run(|| client.list(args.api, &query), out.retry_notes())
        .await
        .map_err(|e| ClientError::call(format!("listing {} jobs", args.api), e))?;
    let listing = read(args.api, &body, args.limit)?;
    out.result(&listing, &listing.to_json());
    Ok(Exit::Success)
}

fn read(api: Api, body: &Value, limit: Option<u32>) -> Result<Listing, ClientError> {
    let unreadable =
        |why: String| ClientError::Unreadable(format!("reading the {api} job list: {why}"));
    let (items, matching) = match api {
        Api::Mfp => {
            let items = body
                .as_array()
                .ok_or_else(|| unreadable("not an array".into()))?;
            (items, items.len() as u64)
        }
        Api::Accounts => {
            let items = body
                .get("BulkActions")
                .and_then(Value::as_array)
                .ok_or_else(|| unreadable("no BulkActions".into()))?;
            let total = body.get("Total").and_then(Value::as_u64);
            (items, total.unwrap_or(items.len() as u64))
        }
    };
    let take = limit.map_or(usize::MAX, |l| l as usize);
    let jobs = items
        .iter()
        .take(take)
        .map(|item| listed(api, item).map_err(unreadable))
        .collect::<Result<_, _>>()?;
    Ok(Listing {
        api,
        matching,
        jobs,
    })
}

fn listed(api: Api, item: &Value) -> Result<Listed, String> {
    let status = JobStatus::parse(api, item, None).map_err(|e| e.to_string())?;
    let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
    let (id, created, source) = match api {
        Api::Mfp => (text("id"), text("initTime"), None),
        Api::Accounts => (
            item.get("Id").map(|id| id.to_string()),
            item.get("CreationTime")
                .and_then(Value::as_i64)
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            text("Source"),
        ),
    };
    Ok(Listed {
        id: id.ok_or("a job without an id")?,
        status,
        created,
        source,
    })
}

impl Listing {
    fn to_json(&self) -> Value {
        let jobs: Vec<Value> = self
            .jobs
            .iter()
            .map(|job| {
                let s = &job.status;
                json!({
                    "jobId": job.id, "state": s.state, "final": s.is_final, "total": s.total,
                    "succeeded": s.succeeded, "failed": s.failed, "skipped": s.skipped,
                    "created": job.created, "source": job.source,
                })
            })
            .collect();
        json!({"api": self.api.to_string(), "matching": self.matching, "jobs": jobs})
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} jobs ({} shown), newest first",
            self.matching,
            self.api,
            self.jobs.len()
        )?;
        for job in &self.jobs {
            let s = &job.status;
            write!(
                f,
                "\n  {:<36}  {:<21}  {:>6} succeeded  {:>6} failed  {:>6} skipped  {}",
                job.id,
                s.state,
                s.succeeded,
                s.failed,
                s.skipped,
                job.created.as_deref().unwrap_or_default()
            )?;
            if let Some(source) = &job.source {
                write!(f, "  {source}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_listings_read_the_same_way() {
        let mfp = json!([
            {"id": "b", "state": "PROCESSING", "rowsProcessed": 1, "totalRows": 4, "initTime": "2026-11-23T10:00:00.000Z"},
            {"id": "a", "state": "COMPLETED", "rowsProcessed": 4, "totalRows": 4, "initTime": "2026-11-23T09:00:00.000Z"},
        ]);
        let listing = read(Api::Mfp, &mfp, Some(1)).unwrap();
        assert_eq!((listing.matching, listing.jobs.len()), (2, 1));
        let json = listing.to_json();
        assert_eq!(json["jobs"][0]["jobId"], "b");
        assert_eq!(json["jobs"][0]["total"], 4);

        let accounts = json!({"Total": 7, "BulkActions": [
            {"Id": 3, "Source": "hr.csv", "CreationTime": 0, "Status": "completedWithErrors",
             "Result": {"Succeeded": 2, "Failed": 1}}
        ]});
        let listing = read(Api::Accounts, &accounts, None).unwrap();
        let text = listing.to_string();
        assert!(text.starts_with("7 accounts jobs (1 shown)"), "{text}");
        assert!(text.contains("1970-01-01T00:00:00Z  hr.csv"), "{text}");
        assert_eq!(listing.to_json()["jobs"][0]["jobId"], "3");
        assert!(read(Api::Accounts, &json!([]), None).is_err());
    }
}
