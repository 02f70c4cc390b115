//! Drives batch APIs that may leave part of a batch undone (DynamoDB `UnprocessedItems` /
//! `UnprocessedKeys`, which the SDK does not retry): resubmits the leftovers with backoff
//! until everything is done, or gives up after a bounded number of rounds without progress.

use std::future::Future;
use std::time::Duration;

use crate::error::StoreError;

/// Rounds in a row that may make no progress before the store is declared throttled.
pub const MAX_IDLE_ROUNDS: u32 = 8;

/// Runs `call` over `items` in batches of at most `max_batch`. `call` returns the outputs it
/// produced and the items it left unprocessed; those go back into the queue. Returns every
/// output.
pub async fn drain<T, O, F, Fut>(
    items: Vec<T>,
    max_batch: usize,
    mut call: F,
) -> Result<Vec<O>, StoreError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<(Vec<O>, Vec<T>), StoreError>>,
{
    let mut pending = items;
    let mut outputs = Vec::new();
    let mut idle_rounds = 0;
    while !pending.is_empty() {
        let rest = pending.split_off(pending.len().min(max_batch));
        let batch = std::mem::replace(&mut pending, rest);
        let sent = batch.len();
        let (done, unprocessed) = call(batch).await?;
        outputs.extend(done);
        if unprocessed.is_empty() {
            idle_rounds = 0;
            continue;
        }
        idle_rounds = if unprocessed.len() == sent {
            idle_rounds + 1
        } else {
            0
        };
        if idle_rounds >= MAX_IDLE_ROUNDS {
            return Err(StoreError::Throttled(format!(
                "{} items still unprocessed after {MAX_IDLE_ROUNDS} rounds",
                unprocessed.len() + pending.len()
            )));
        }
        tokio::time::sleep(backoff(idle_rounds)).await;
        // Leftovers go first so they are not starved by fresh items.
        let mut requeued = unprocessed;
        requeued.append(&mut pending);
        pending = requeued;
    }
    Ok(outputs)
}

/// Exponential backoff: 20 ms, 40 ms, … capped at 1 s.
pub fn backoff(round: u32) -> Duration {
    Duration::from_millis((20u64 << round.min(6)).min(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn leftovers_are_resubmitted_until_all_are_done() {
        let calls = Mutex::new(Vec::new());
        let out = drain((0..60).collect::<Vec<u32>>(), 25, |batch| {
            calls.lock().unwrap().push(batch.clone());
            async move {
                // Every batch leaves its odd items unprocessed the first time they are seen.
                let (odd, even): (Vec<u32>, Vec<u32>) =
                    batch.into_iter().partition(|i| i % 2 == 1 && *i < 1000);
                let retried: Vec<u32> = odd.iter().map(|i| i + 1000).collect();
                Ok((even, retried))
            }
        })
        .await
        .unwrap();
        let mut seen: Vec<u32> = out.iter().map(|i| i % 1000).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..60).collect::<Vec<_>>(),
            "every item done exactly once"
        );
        assert!(calls.lock().unwrap().iter().all(|b| b.len() <= 25));
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_never_progresses_is_reported_as_throttled() {
        let result = drain(vec![1, 2, 3], 25, |batch| async move {
            Ok::<(Vec<()>, _), _>((vec![], batch))
        })
        .await;
        assert!(matches!(result, Err(StoreError::Throttled(_))));
    }

    #[tokio::test]
    async fn errors_stop_the_drain() {
        let result: Result<Vec<()>, _> = drain(vec![1], 25, |_| async {
            Err(StoreError::Backend("down".into()))
        })
        .await;
        assert!(matches!(result, Err(StoreError::Backend(_))));
    }
}
