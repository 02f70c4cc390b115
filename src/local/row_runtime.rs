//! The runtime the row work runs on, apart from the one that answers callers.
//!
//! The embedded store's row work commits on the thread that asks (see `Db::write`): handing
//! each commit to a blocking thread cost more than the commit. A commit can wait for redb's
//! write lock, held through a sync's fsync, and a chunk runs without an await that returns
//! to the scheduler. On their own threads, the pollers can do both without holding up the
//! HTTP server: the operating system shares the cores between the two runtimes as it did
//! between the server and the blocking threads.

use tokio::runtime::{Builder, Handle, Runtime};

/// A multi-threaded runtime for the pollers, stopped without waiting when dropped (a runtime
/// cannot be dropped, blocking, inside another's task).
pub struct RowRuntime {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl RowRuntime {
    /// A runtime of `threads` worker threads (at least one); without, tokio's default: one
    /// per core, or `TOKIO_WORKER_THREADS`, as the HTTP server's runtime has.
    pub fn start(threads: Option<usize>) -> std::io::Result<Self> {
        let mut builder = Builder::new_multi_thread();
        if let Some(threads) = threads {
            builder.worker_threads(threads.max(1));
        }
        let runtime = builder.thread_name("bulkops-rows").enable_all().build()?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Stops its threads, once nothing runs on it any more.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for RowRuntime {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tasks spawned on it run on its own threads, and it stops (or is dropped) inside
    /// another runtime's task without panicking.
    #[tokio::test]
    async fn runs_tasks_on_its_own_threads_and_stops_inside_a_task() {
        let rows = RowRuntime::start(Some(1)).expect("runtime");
        assert_eq!(rows.handle().metrics().num_workers(), 1);
        let thread = rows
            .handle()
            .spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .expect("join");
        assert_eq!(thread.as_deref(), Some("bulkops-rows"));
        rows.stop();
        let two = RowRuntime::start(Some(2)).expect("runtime");
        assert_eq!(two.handle().metrics().num_workers(), 2);
        drop(two);
    }
}
