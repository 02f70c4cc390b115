//! The file's syncs, reads and writes: who a sync covers, where a commit runs, and a lazy
//! read or write that panics.

use std::time::Duration;

use super::*;

/// A new file (in a directory that lives as long as the first value) and its durable
/// handle, after one lazy commit.
async fn file_with_a_lazy_commit() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let durable = Db::open(&dir.path().join("db.redb")).expect("open");
    assert!(durable.is_durable_now(), "a fresh file has nothing to sync");
    commit_lazily(&durable, 1).await;
    (dir, durable)
}

/// A lazy commit setting the sequence `n` to `value`.
async fn commit_lazily(db: &Db, value: i64) {
    db.lazy()
        .write(move |txn| {
            txn.open_table(SEQUENCES)?.insert("n", value)?;
            Ok(())
        })
        .await
        .expect("lazy write");
}

#[tokio::test]
#[expect(
    clippy::await_holding_lock,
    reason = "the test holds the lock as a sync under way would, while the read waits"
)]
async fn a_callers_read_waits_for_a_sync_under_way_in_another_thread() {
    let (_dir, durable) = file_with_a_lazy_commit().await;
    // Another reader's sync is still writing.
    let under_way = durable.syncs.one_at_a_time.lock().expect("lock");

    let reader = durable.clone();
    let reading = tokio::spawn(async move {
        reader
            .read(|txn| Ok(txn.open_table(SEQUENCES)?.get("n")?.map(|v| v.value())))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !reading.is_finished(),
        "the read answered before the sync under way was on disk"
    );
    drop(under_way);
    let seen = reading.await.expect("join").expect("read");
    assert_eq!(seen, Some(1));
}

#[tokio::test]
async fn durable_now_only_with_no_lazy_commit_since_a_finished_sync() {
    let (_dir, durable) = file_with_a_lazy_commit().await;
    assert!(!durable.is_durable_now(), "a lazy commit is waiting");
    {
        // A sync under way that will cover the commit is not on disk yet.
        let _under_way = durable.syncs.one_at_a_time.lock().expect("lock");
        durable.syncs.synced.store(1, Ordering::Release);
        assert!(
            !durable.is_durable_now(),
            "the sync under way has not finished"
        );
        durable.syncs.synced.store(0, Ordering::Release);
    }
    durable.sync().expect("sync");
    assert!(durable.is_durable_now());
}

#[tokio::test]
#[expect(
    clippy::await_holding_lock,
    reason = "the test holds the lock as a sync under way would, while the row work commits"
)]
async fn a_caller_that_asked_before_a_sync_started_is_covered_by_it() {
    let (_dir, durable) = file_with_a_lazy_commit().await;
    let under_way = durable.syncs.one_at_a_time.lock().expect("lock");
    // A caller asks while the first lazy commit is the latest; it waits for the lock.
    let caller = durable.clone();
    let waiting = std::thread::spawn(move || caller.sync_through(1));
    // The sync under way covers that commit; the row work commits again meanwhile.
    durable.flush(&under_way).expect("flush");
    commit_lazily(&durable, 2).await;
    drop(under_way);
    waiting.join().expect("join").expect("sync");
    assert_eq!(
        durable.syncs.flushes.load(Ordering::Relaxed),
        1,
        "the caller syncs again for a commit it did not wait for"
    );
    assert!(durable.has_unsynced_commits());
    durable.sync().expect("sync");
    assert_eq!(durable.syncs.flushes.load(Ordering::Relaxed), 2);
    assert!(durable.is_durable_now());
}

#[tokio::test]
async fn a_lazy_read_that_panics_is_an_error_not_a_crash() {
    let (_dir, durable) = file_with_a_lazy_commit().await;
    let failed = durable
        .lazy()
        .read(|_| -> Result<(), DbError> { panic!("a broken read") })
        .await;
    assert!(
        matches!(&failed, Err(DbError::Panicked(m)) if m == "a broken read"),
        "{failed:?}"
    );
    let seen = durable
        .lazy()
        .read(|txn| Ok(txn.open_table(SEQUENCES)?.get("n")?.map(|v| v.value())))
        .await
        .expect("read after the panic");
    assert_eq!(seen, Some(1));
}

#[tokio::test]
async fn a_lazy_write_that_panics_is_rolled_back_and_the_next_one_commits() {
    let (_dir, durable) = file_with_a_lazy_commit().await;
    let failed = durable
        .lazy()
        .write(|txn| -> Result<(), DbError> {
            txn.open_table(SEQUENCES)?.insert("n", 7)?;
            panic!("a broken write")
        })
        .await;
    assert!(
        matches!(&failed, Err(DbError::Panicked(m)) if m == "a broken write"),
        "{failed:?}"
    );
    let read = || async {
        durable
            .lazy()
            .read(|txn| Ok(txn.open_table(SEQUENCES)?.get("n")?.map(|v| v.value())))
            .await
            .expect("read")
    };
    assert_eq!(read().await, Some(1), "the panicked write was committed");
    commit_lazily(&durable, 2).await;
    assert_eq!(read().await, Some(2));
}

/// Where each kind of commit runs: a lazy one on the caller's thread, a durable one (which
/// waits for its fsync) on a blocking thread.
#[tokio::test]
async fn a_lazy_write_commits_on_the_callers_thread_and_a_durable_one_does_not() {
    let (_dir, durable) = file_with_a_lazy_commit().await;
    let caller = std::thread::current().id();
    let committed_on = |db: Db| async move {
        db.write(|_| Ok(std::thread::current().id()))
            .await
            .expect("write")
    };
    assert_eq!(committed_on(durable.lazy()).await, caller);
    assert_ne!(committed_on(durable.clone()).await, caller);
}
