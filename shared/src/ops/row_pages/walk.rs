//! Reading one page: chunks in order from the cursor, stopping at the first chunk not settled
//! yet, at the page's limit, or at the bound of chunk items per page. The store is only a
//! `fetch` function here, so the rules are tested without one.

use std::future::Future;

use super::cursor::{self, Position};
use super::{Page, RowQuery};
use crate::model::{Job, RowOutcome};
use crate::store::StoredChunk;

/// Reads the page `query` asks for in `job`, reading at most `bound` chunk items with
/// `fetch(first, max)` (the stored chunks from `first` on, at most `max`, fewer only when no
/// more are stored).
pub(super) async fn read<F, Fut, E>(
    job: &Job,
    query: &RowQuery,
    bound: usize,
    mut fetch: F,
) -> Result<Page, E>
where
    F: FnMut(u32, usize) -> Fut,
    Fut: Future<Output = Result<Vec<StoredChunk>, E>>,
{
    let mut walk = Walk::new(job, query, bound);
    // One chunk first, then twice as many each time: an unfiltered page usually ends in its
    // first chunk, and a filter that matches little still reaches the bound in a few reads.
    let mut batch = 1;
    while let Some((from, budget)) = walk.wants() {
        let want = batch.min(budget);
        let chunks = fetch(from, want).await?;
        let exhausted = chunks.len() < want;
        walk.consume(chunks, exhausted);
        batch *= 2;
    }
    Ok(walk.finish())
}

struct Walk<'a> {
    job: &'a Job,
    query: &'a RowQuery,
    /// The next row to look at is in `at.chunk`, after row `at.after`.
    at: Position,
    rows: Vec<RowOutcome>,
    /// Chunk items read so far, and the most this page may read.
    read: usize,
    bound: usize,
    done: bool,
}

impl<'a> Walk<'a> {
    fn new(job: &'a Job, query: &'a RowQuery, bound: usize) -> Self {
        Self {
            job,
            query,
            at: query.from,
            rows: Vec::new(),
            read: 0,
            bound,
            done: false,
        }
    }

    /// The chunk to read from next and how many chunk items may still be read; `None` once
    /// the page is complete.
    fn wants(&self) -> Option<(u32, usize)> {
        let more = !self.done && self.read < self.bound && self.at.chunk < self.job.chunk_count;
        more.then(|| (self.at.chunk, self.bound - self.read))
    }

    /// Takes the chunks read from [`Walk::wants`]'s chunk on. `exhausted`: no chunk after
    /// the last of them was stored when they were read.
    fn consume(&mut self, chunks: Vec<StoredChunk>, exhausted: bool) {
        for stored in chunks {
            if stored.chunk < self.at.chunk {
                continue;
            }
            if !self.pass_skipped(stored.chunk) {
                self.done = true;
                return;
            }
            self.read += 1;
            for row in stored.outcomes {
                if row.row <= self.at.after {
                    continue;
                }
                if self.query.filter.matches(&row) {
                    // Full: stop before this row, so that the next page starts with it (and a
                    // page that ends with the job's last row says there is nothing more).
                    if self.rows.len() == self.query.limit {
                        self.done = true;
                        return;
                    }
                    self.at.after = row.row;
                    self.rows.push(row);
                } else {
                    // Rows the filter passes over are not looked at again.
                    self.at.after = row.row;
                }
            }
            self.at = Position {
                chunk: stored.chunk + 1,
                after: 0,
            };
        }
        if exhausted {
            // Nothing is stored past here: what is left is skipped chunks, or chunks that are
            // not settled yet (the first of which the next page starts at).
            self.pass_skipped(self.job.chunk_count);
            self.done = true;
        }
    }

    /// Moves past the chunks before `until`, which have no stored outcomes: fine for a chunk
    /// its job recorded (it was skipped: its outcomes would have been stored before it was
    /// recorded, and the job was read before the chunks); false at the first chunk the job
    /// has not recorded, which is still running or waiting, where the walk stays.
    fn pass_skipped(&mut self, until: u32) -> bool {
        while self.at.chunk < until {
            if !self.job.is_chunk_recorded(self.at.chunk) {
                return false;
            }
            self.at = Position {
                chunk: self.at.chunk + 1,
                after: 0,
            };
        }
        true
    }

    fn finish(self) -> Page {
        let ended = self.at.chunk >= self.job.chunk_count && self.job.state.is_terminal();
        Page {
            rows: self.rows,
            next_cursor: (!ended).then(|| cursor::encode(&self.job.id, self.at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JobState, JobType, Outcome};
    use crate::ops::row_pages::{RowFilter, RowParams};

    /// A job of `chunks` chunks of 4 rows each (rows 1–4, 5–8, …); every third row fails.
    fn job(chunks: u32, state: JobState) -> Job {
        let mut job = Job::new("j".into(), JobType::SendMfp, "a".into(), chunks * 4, 0);
        job.chunk_count = chunks;
        job.state = state;
        job
    }

    fn chunk(n: u32) -> StoredChunk {
        let outcomes = (n * 4 + 1..=n * 4 + 4)
            .map(|row| match row % 3 {
                0 => RowOutcome::failed(row, Default::default(), "THIRD", "x"),
                _ => RowOutcome::succeeded(row, Default::default(), None),
            })
            .collect();
        StoredChunk { chunk: n, outcomes }
    }

    /// Reads a page from `stored` (kept in chunk order) as a store would; counts the items.
    async fn page(job: &Job, query: &RowQuery, stored: &[StoredChunk], bound: usize) -> Page {
        let fetch = |first: u32, max: usize| {
            let found: Vec<StoredChunk> = stored
                .iter()
                .filter(|c| c.chunk >= first)
                .take(max)
                .cloned()
                .collect();
            async move { Ok::<_, std::convert::Infallible>(found) }
        };
        match read(job, query, bound, fetch).await {
            Ok(page) => page,
            Err(never) => match never {},
        }
    }

    fn query(job: &Job, limit: usize, cursor: Option<&str>, filter: RowFilter) -> RowQuery {
        let params = RowParams {
            cursor,
            ..Default::default()
        };
        let mut query = RowQuery::parse(params, job).expect("a valid query");
        query.limit = limit;
        query.filter = filter;
        query
    }

    /// Every page until `nextCursor` is null (or `max_pages`): the rows, and the last cursor.
    async fn all_pages(
        job: &Job,
        limit: usize,
        filter: &RowFilter,
        stored: &[StoredChunk],
    ) -> (Vec<u32>, Option<String>) {
        let (mut rows, mut cursor) = (Vec::new(), None::<String>);
        for _ in 0..100 {
            let q = query(job, limit, cursor.as_deref(), filter.clone());
            let next = page(job, &q, stored, 50).await;
            assert!(next.rows.len() <= limit);
            rows.extend(next.rows.iter().map(|r| r.row));
            if next.next_cursor.is_none() || next.next_cursor == cursor {
                return (rows, next.next_cursor);
            }
            cursor = next.next_cursor;
        }
        panic!("no end after 100 pages");
    }

    #[tokio::test]
    async fn pages_cover_every_row_once_and_end_exactly_at_the_last() {
        let done = job(3, JobState::Completed);
        let stored: Vec<StoredChunk> = (0..3).map(chunk).collect();
        for limit in [1, 3, 4, 5, 12, 100] {
            let (rows, last) = all_pages(&done, limit, &RowFilter::default(), &stored).await;
            assert_eq!(rows, (1..=12).collect::<Vec<_>>(), "limit {limit}");
            assert_eq!(last, None);
        }
        let failed = RowFilter {
            outcome: Some(Outcome::Failed),
            error_code: Some("THIRD".into()),
        };
        let (rows, last) = all_pages(&done, 2, &failed, &stored).await;
        assert_eq!((rows, last), (vec![3, 6, 9, 12], None));
        // A page that ends with the last row says so: no empty page after it.
        let twelve = page(
            &done,
            &query(&done, 12, None, RowFilter::default()),
            &stored,
            50,
        )
        .await;
        assert_eq!((twelve.rows.len(), twelve.next_cursor), (12, None));
    }

    #[tokio::test]
    async fn a_page_stops_at_the_first_chunk_not_stored_yet() {
        let mut running = job(3, JobState::Processing);
        let (c0, c1, c2) = (chunk(0), chunk(1), chunk(2));
        let all = RowFilter::default();
        // Chunks 1 and 2 are stored, 0 is not: nothing yet, and the cursor stays at the start.
        let first = page(
            &running,
            &query(&running, 5, None, all.clone()),
            &[c1.clone(), c2.clone()],
            50,
        )
        .await;
        assert!(first.rows.is_empty());
        let cursor = first.next_cursor.expect("a cursor while the job runs");
        // Chunk 0 lands: the poll with that cursor goes on from row 1, up to the limit.
        running.recorded_chunks.insert(0);
        let stored = [c0.clone(), c2.clone()];
        let second = page(
            &running,
            &query(&running, 5, Some(&cursor), all.clone()),
            &stored,
            50,
        )
        .await;
        let rows: Vec<u32> = second.rows.iter().map(|r| r.row).collect();
        assert_eq!(
            rows,
            vec![1, 2, 3, 4],
            "chunk 1 is missing: the page ends before it"
        );
        let cursor = second.next_cursor.expect("chunk 1 is still to come");
        // Chunk 1 lands, the job completes: the rest, then the end.
        running.recorded_chunks.extend([1, 2]);
        running.state = JobState::Completed;
        let stored = [c0, c1, c2];
        let third = page(
            &running,
            &query(&running, 50, Some(&cursor), all),
            &stored,
            50,
        )
        .await;
        let rows: Vec<u32> = third.rows.iter().map(|r| r.row).collect();
        assert_eq!((rows, third.next_cursor), ((5..=12).collect(), None));
    }

    #[tokio::test]
    async fn skipped_chunks_are_passed_over_and_unsettled_ones_wait() {
        // Cancelled after chunk 1 ran: chunk 0 was skipped (recorded, never stored; compacted
        // into `recorded_below`), chunk 2 not settled yet.
        let mut cancelled = job(3, JobState::Cancelled);
        cancelled.recorded_below = 1;
        cancelled.recorded_chunks.insert(1);
        let stored = [chunk(1)];
        let all = RowFilter::default();
        let waiting = page(
            &cancelled,
            &query(&cancelled, 100, None, all.clone()),
            &stored,
            50,
        )
        .await;
        let rows: Vec<u32> = waiting.rows.iter().map(|r| r.row).collect();
        assert_eq!(rows, vec![5, 6, 7, 8]);
        let cursor = waiting
            .next_cursor
            .expect("chunk 2 is not settled: final is not enough");
        cancelled.recorded_chunks.insert(2);
        let ended = page(
            &cancelled,
            &query(&cancelled, 100, Some(&cursor), all),
            &stored,
            50,
        )
        .await;
        assert_eq!((ended.rows.len(), ended.next_cursor), (0, None));
    }

    #[tokio::test]
    async fn a_page_reads_at_most_its_bound_of_chunks() {
        let done = job(9, JobState::Completed);
        let stored: Vec<StoredChunk> = (0..9).map(chunk).collect();
        let nothing = RowFilter {
            error_code: Some("NO_SUCH_CODE".into()),
            ..Default::default()
        };
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let fetch = |first: u32, max: usize| {
            let found: Vec<StoredChunk> = stored
                .iter()
                .filter(|c| c.chunk >= first)
                .take(max)
                .cloned()
                .collect();
            reads.fetch_add(found.len(), std::sync::atomic::Ordering::Relaxed);
            async move { Ok::<_, std::convert::Infallible>(found) }
        };
        let q = query(&done, 10, None, nothing.clone());
        let first = read(&done, &q, 4, fetch)
            .await
            .unwrap_or_else(|n| match n {});
        assert_eq!(reads.into_inner(), 4, "chunk items read");
        assert!(first.rows.is_empty());
        let cursor = first.next_cursor.expect("5 chunks are left");
        let rest = page(&done, &query(&done, 10, Some(&cursor), nothing), &stored, 4).await;
        let cursor = rest.next_cursor.expect("1 chunk is left");
        let q = query(&done, 10, Some(&cursor), RowFilter::default());
        let last = page(&done, &q, &stored, 4).await;
        let rows: Vec<u32> = last.rows.iter().map(|r| r.row).collect();
        assert_eq!((rows, last.next_cursor), ((33..=36).collect(), None));
    }
}
