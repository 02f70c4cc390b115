//! One conformance suite for the storage ports, run against both implementations: DynamoDB
//! (through moto) and the embedded redb store. The engine relies on exactly these
//! behaviours; each case fails on either backend if its contract breaks.

mod awaiting;
mod chunks;
#[path = "../common/mod.rs"]
mod common;
mod groups;
mod jobs;
mod records_and_events;

use std::sync::Arc;

use bulkops_embedded::EmbeddedStore;
use bulkops_shared::model::Secrets;
use bulkops_shared::model::{ChunkCounts, EventKind, Job, JobState, JobType, RowOutcome};
use bulkops_shared::store::{
    CancelOutcome, Claim, FirstFailure, JobStore, Record, RecordKey, RecordStore, Skip, Transition,
};
use serde_json::{json, Map};

use common::stores::{dynamo, embedded, Stores};

fn job(id: &str, job_type: JobType, owner: &str, rows: u32, init_ms: i64) -> Job {
    let mut job = Job::new(id.to_owned(), job_type, owner.to_owned(), rows, init_ms);
    job.chunk_count = 2;
    job
}

fn counts(succeeded: u32, failed: u32) -> ChunkCounts {
    ChunkCounts {
        succeeded,
        failed,
        skipped: 0,
    }
}

fn awaiting(id: &str, rows: u32) -> Job {
    let mut awaiting = job(id, JobType::SendMfp, "alice", rows, 1_000);
    awaiting.state = JobState::AwaitingData;
    awaiting
}
