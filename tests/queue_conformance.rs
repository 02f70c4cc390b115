//! One conformance suite for the queue ports (ChunkQueue + ChunkSource), run against SQS on
//! moto and against the embedded redb queue: at-least-once delivery, hiding while received,
//! receive counts, immediate retry, and redrive to the dead-letter queue after
//! `MAX_RECEIVE_COUNT` receives.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bulkops_embedded::EmbeddedQueue;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::model::{ChunkMessage, ChunkRow, JobType};
use bulkops_shared::queue::sqs::SqsChunkSource;
use bulkops_shared::queue::{ChunkQueue, ChunkSource, MAX_RECEIVE_COUNT};
use bulkops_testkit::Fixture;

struct Queues {
    queue: Arc<dyn ChunkQueue>,
    source: Arc<dyn ChunkSource>,
    dead_letters: Arc<dyn ChunkSource>,
    /// Keeps the embedded queue's directory alive for the test.
    _dir: Option<tempfile::TempDir>,
}

async fn sqs() -> Queues {
    let fx = Fixture::new().await;
    Queues {
        queue: fx.queue(),
        source: Arc::new(SqsChunkSource::new(fx.clients.sqs.clone(), &fx.queue_url)),
        dead_letters: Arc::new(SqsChunkSource::new(fx.clients.sqs.clone(), &fx.dlq_url)),
        _dir: None,
    }
}

async fn embedded() -> Queues {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = EmbeddedStore::open(&dir.path().join("bulkops.redb")).unwrap();
    let visibility = Duration::from_secs(180);
    let main = EmbeddedQueue::new(
        &store,
        "chunks",
        Some("chunks-dlq"),
        MAX_RECEIVE_COUNT,
        visibility,
    );
    Queues {
        queue: Arc::new(main.clone()),
        source: Arc::new(main),
        dead_letters: Arc::new(EmbeddedQueue::new(
            &store,
            "chunks-dlq",
            None,
            u32::MAX,
            visibility,
        )),
        _dir: Some(dir),
    }
}

fn chunks(n: u32) -> Vec<ChunkMessage> {
    (0..n)
        .map(|chunk| ChunkMessage {
            job_id: "job".into(),
            job_type: JobType::SendMfp,
            chunk,
            rows: vec![ChunkRow::new(chunk + 1, &serde_json::json!({"id": "eyJh"}))],
            sealed: false,
            window: 0,
        })
        .collect()
}

fn chunk_numbers(bodies: impl Iterator<Item = String>) -> BTreeSet<u32> {
    bodies
        .map(|b| serde_json::from_str::<ChunkMessage>(&b).unwrap().chunk)
        .collect()
}

async fn messages_are_hidden_while_received_and_counted(q: Queues) {
    q.queue.enqueue(&chunks(3)).await.unwrap();
    let first = q.source.receive(10).await.unwrap();
    assert_eq!(
        chunk_numbers(first.iter().map(|d| d.body.clone())),
        BTreeSet::from([0, 1, 2])
    );
    assert!(first
        .iter()
        .all(|d| d.receive_count == 1 && !d.receipt.is_empty() && !d.message_id.is_empty()));
    assert!(
        q.source.receive(10).await.unwrap().is_empty(),
        "received messages are hidden"
    );

    q.source.ack(&first[0].receipt).await.unwrap();
    q.source.ack(&first[1].receipt).await.unwrap();
    q.source.retry_now(&first[2].receipt).await.unwrap();
    let again = q.source.receive(10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].body.clone(), again[0].receive_count),
        (first[2].body.clone(), 2)
    );
    assert_eq!(again[0].message_id, first[2].message_id);
    q.source.ack(&again[0].receipt).await.unwrap();
    assert!(q.source.receive(10).await.unwrap().is_empty());
    assert!(q.dead_letters.receive(10).await.unwrap().is_empty());
}

async fn a_message_received_max_times_moves_to_the_dead_letter_queue(q: Queues) {
    q.queue.enqueue(&chunks(1)).await.unwrap();
    for attempt in 1..=MAX_RECEIVE_COUNT {
        let deliveries = q.source.receive(10).await.unwrap();
        assert_eq!(deliveries.len(), 1, "attempt {attempt}");
        assert_eq!(deliveries[0].receive_count, attempt);
        q.source.retry_now(&deliveries[0].receipt).await.unwrap();
    }
    assert!(
        q.source.receive(10).await.unwrap().is_empty(),
        "the receive after the last allowed one redrives it"
    );
    let dead = q.dead_letters.receive(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        chunk_numbers(dead.into_iter().map(|d| d.body)),
        BTreeSet::from([0])
    );
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqs_on_moto {
            $(#[tokio::test] async fn $case() { super::$case(super::sqs().await).await })*
        }
        mod embedded_redb {
            $(#[tokio::test] async fn $case() { super::$case(super::embedded().await).await })*
        }
    };
}

conformance!(
    messages_are_hidden_while_received_and_counted,
    a_message_received_max_times_moves_to_the_dead_letter_queue,
);
