//! What the chunks of one batch learn about their jobs from each other.
//!
//! A small job's chunks are queued together and usually arrive in one batch, where they are
//! claimed at once: each then saw its job SCHEDULED and each tried to start it, and each saw no
//! first failure and tried to lower it. Both writes are conditional, so the repeats were
//! harmless but cost a call each (3 of a full-size job's 99). Siblings now share what one of
//! them wrote, and only ever what the job item itself returned: nothing here is a guess, so a
//! chunk that skips a write skips one the item already has.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::error::EngineError;
use crate::model::Job;

/// Shared by the chunks of one batch; dropped with it.
#[derive(Debug, Default)]
pub struct Siblings {
    jobs: Mutex<HashMap<String, Arc<JobNotes>>>,
}

#[derive(Debug, Default)]
struct JobNotes {
    /// Set once a start of the job was tried to the end (whether it moved the job or found
    /// it moved): the job is not SCHEDULED any more.
    started: OnceCell<()>,
    /// The lowest first failure a write of the job item returned.
    first_failed_row: Mutex<Option<u32>>,
}

impl Siblings {
    fn notes(&self, job_id: &str) -> Arc<JobNotes> {
        let mut jobs = self
            .jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        jobs.entry(job_id.to_owned()).or_default().clone()
    }

    /// Runs `start` for the job once per batch: siblings that ask meanwhile wait for it, and
    /// later ones return at once. A start that fails leaves the next sibling to try again.
    pub async fn start_once<F, Fut>(&self, job_id: &str, start: F) -> Result<(), EngineError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), EngineError>>,
    {
        let notes = self.notes(job_id);
        notes.started.get_or_try_init(start).await.map(|_| ())
    }

    /// Keeps the job's first failure as a write of its item returned it.
    pub fn learn(&self, job: &Job) {
        if let Some(row) = job.first_failed_row {
            let notes = self.notes(&job.id);
            let mut known = notes
                .first_failed_row
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *known = Some(known.map_or(row, |known| known.min(row)));
        }
    }

    /// The lowest first failure known to be on the job item: `job`'s own or a sibling's.
    pub fn first_failed_row(&self, job: &Job) -> Option<u32> {
        let notes = self.notes(&job.id);
        let known = *notes
            .first_failed_row
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match (job.first_failed_row, known) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::model::JobType;

    fn job(id: &str, first_failed_row: Option<u32>) -> Job {
        let mut job = Job::new(id.into(), JobType::SendMfp, "alice".into(), 10, 0);
        job.first_failed_row = first_failed_row;
        job
    }

    #[tokio::test]
    async fn a_job_is_started_once_by_siblings_that_ask_together() {
        let siblings = Siblings::default();
        let tries = AtomicU32::new(0);
        let start = || async {
            tries.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(())
        };
        let (a, b, c) = tokio::join!(
            siblings.start_once("j", start),
            siblings.start_once("j", start),
            siblings.start_once("j", start),
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        siblings.start_once("other", start).await.unwrap();
        assert_eq!(
            tries.load(Ordering::SeqCst),
            2,
            "another job starts on its own"
        );
    }

    #[tokio::test]
    async fn a_start_that_failed_is_tried_again_by_the_next_sibling() {
        let siblings = Siblings::default();
        let tries = AtomicU32::new(0);
        let failing = || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(EngineError::BadMessage("throttled".into()))
        };
        assert!(siblings.start_once("j", failing).await.is_err());
        let working = || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        siblings.start_once("j", working).await.unwrap();
        siblings.start_once("j", working).await.unwrap();
        assert_eq!(tries.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_lowest_first_failure_written_is_known_to_siblings_of_the_same_job() {
        let siblings = Siblings::default();
        assert_eq!(siblings.first_failed_row(&job("j", None)), None);
        siblings.learn(&job("j", Some(600)));
        siblings.learn(&job("j", Some(49)));
        siblings.learn(&job("j", Some(300)));
        assert_eq!(siblings.first_failed_row(&job("j", None)), Some(49));
        assert_eq!(siblings.first_failed_row(&job("j", Some(7))), Some(7));
        assert_eq!(siblings.first_failed_row(&job("k", None)), None);
        assert_eq!(siblings.first_failed_row(&job("k", Some(5))), Some(5));
    }
}
