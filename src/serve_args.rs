//! `bulkops serve`'s options, and the server configuration they make.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use bulkops::local::backend::{AwsIntake, BackendConfig};
use bulkops::local::signing::WebhookSecret;
use bulkops::local::webhooks::{Backoff, WebhookConfig};
use bulkops::local::ServeConfig;
use clap::Args;

use crate::StateArgs;

/// Processor pollers when `--workers` is not given. On the embedded store, 1, 2, 3, 4 and 6
/// were measured (`bench_local`): 4 ran the most rows a second at the same CPU.
const DEFAULT_WORKERS: usize = 4;

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "BULKOPS_PORT", default_value_t = 3000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[command(flatten)]
    state: StateArgs,
    /// The SQS queue for chunks (with `TABLE_NAME`: AWS mode).
    #[arg(long, env = "QUEUE_URL")]
    queue_url: Option<String>,
    /// The dead-letter queue (AWS mode); without it dead letters wait in SQS.
    #[arg(long, env = "DEAD_LETTER_QUEUE_URL")]
    dead_letter_queue_url: Option<String>,
    /// AWS mode: the intake queue of event-driven requests (the stack's `IntakeQueueUrl`);
    /// needs `--intake-dead-letter-queue-url` and `EVENT_BUS_NAME` too.
    #[arg(long, env = "INTAKE_QUEUE_URL")]
    intake_queue_url: Option<String>,
    /// AWS mode: the intake's dead-letter queue (`IntakeDeadLetterQueueUrl`).
    #[arg(long, env = "INTAKE_DEAD_LETTER_QUEUE_URL")]
    intake_dead_letter_queue_url: Option<String>,
    /// AWS mode: the event bus (`EventBus`): job events are published at once, and the
    /// intake's rejections go there.
    #[arg(long, env = "EVENT_BUS_NAME")]
    event_bus_name: Option<String>,
    /// Concurrent processor pollers, each handling a batch of up to 10 chunks, 4 at a time.
    /// Default 4 (on the embedded store too: its file has one writer at a time, but a chunk's
    /// work outside its transactions overlaps; see the README's benchmark). 0 accepts jobs
    /// without running them: their chunks wait in the queue for a server with workers.
    #[arg(long, env = "BULKOPS_WORKERS")]
    workers: Option<usize>,
    // On 2 cores, one thread against two: `bench_local` (18 alternate runs) 0.116 → 0.103
    // CPU s per 10,000 rows, 121,264 → 112,651 rows/s.
    /// Threads the pollers run on (default: one per core, or `TOKIO_WORKER_THREADS`, as the
    /// HTTP server's runtime has). Fewer spend less CPU a row and answer callers sooner while
    /// jobs run, at fewer rows a second. At most 256: each is an OS thread started at once,
    /// and the pollers share one file with one writer.
    #[arg(long, env = "BULKOPS_ROW_THREADS",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    row_threads: Option<u16>,
    /// Chunks of one job queued at once; the rest wait parked in the store and follow as
    /// chunks are taken up, so a small job is not stuck behind every chunk of a big one.
    #[arg(long, env = "CHUNK_WINDOW", default_value_t = bulkops_shared::queue::DEFAULT_CHUNK_WINDOW,
          value_parser = clap::value_parser!(u32).range(1..))]
    chunk_window: u32,
    /// Jobs one caller may have active (not final) at once; a create past it is a 429.
    #[arg(long, env = "MAX_ACTIVE_JOBS_PER_CALLER",
          default_value_t = bulkops_shared::store::quota::DEFAULT_MAX_ACTIVE_JOBS,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_active_jobs_per_caller: u32,
    /// Rows one caller's active jobs may hold together; a create past it is a 429.
    #[arg(long, env = "MAX_ROWS_IN_FLIGHT_PER_CALLER",
          default_value_t = bulkops_shared::store::quota::DEFAULT_MAX_ROWS_IN_FLIGHT,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_rows_in_flight_per_caller: u64,
    /// Embedded queue visibility timeout in seconds.
    #[arg(long, default_value_t = 60)]
    visibility_timeout: u64,
    /// Embedded store: how often the row work's lazy commits are made durable, in
    /// milliseconds. Every answer and every event waits for a sync, whatever this says.
    #[arg(long, default_value_t = 200)]
    sync_interval_ms: u64,
    /// Load demo reference data and write example requests on start.
    #[arg(long)]
    demo: bool,
    /// Embedded store: POST every job event to this URL, signed the Standard Webhooks way
    /// (repeat for more URLs). `BULKOPS_WEBHOOKS` holds a comma-separated list instead.
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<reqwest::Url>,
    /// The webhooks' signing secret (`whsec_<base64>`). Default: `<data-dir>/webhook-secret`,
    /// created on first use.
    #[arg(long, env = "BULKOPS_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<WebhookSecret>,
}

/// `BULKOPS_WEBHOOKS`: comma-separated URLs (read only when no `--webhook` is given, so a
/// URL on the command line may hold a comma).
fn webhooks_from_env() -> anyhow::Result<Vec<reqwest::Url>> {
    let Ok(list) = std::env::var("BULKOPS_WEBHOOKS") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            url.parse()
                .with_context(|| format!("BULKOPS_WEBHOOKS: {url}"))
        })
        .collect()
}

impl ServeArgs {
    pub(crate) fn config(self) -> anyhow::Result<ServeConfig> {
        let backend = match (self.state.table, self.queue_url) {
            (Some(table), Some(queue_url)) => BackendConfig::Aws {
                table,
                queue_url,
                chunk_window: self.chunk_window,
                dead_letter_queue_url: self.dead_letter_queue_url,
                intake: match (
                    self.intake_queue_url,
                    self.intake_dead_letter_queue_url,
                    self.event_bus_name,
                ) {
                    (Some(queue_url), Some(dead_letter_queue_url), Some(bus)) => Some(AwsIntake {
                        queue_url,
                        dead_letter_queue_url,
                        bus,
                    }),
                    (None, _, _) => None,
                    _ => anyhow::bail!(
                        "INTAKE_QUEUE_URL needs INTAKE_DEAD_LETTER_QUEUE_URL and EVENT_BUS_NAME"
                    ),
                },
            },
            (None, None) => BackendConfig::Embedded {
                data_dir: self.state.data_dir.clone(),
                visibility: Duration::from_secs(self.visibility_timeout.max(1)),
                chunk_window: self.chunk_window,
            },
            _ => anyhow::bail!(
                "AWS mode needs both TABLE_NAME (--table) and QUEUE_URL (--queue-url); \
                 set neither for the embedded store"
            ),
        };
        let mut urls = match self.webhooks.is_empty() {
            true => webhooks_from_env()?,
            false => self.webhooks,
        };
        for url in &urls {
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https"),
                "a webhook URL is http or https: {url}"
            );
        }
        // One delivery task per URL: the same URL twice would share (and race on) one cursor.
        let mut seen = std::collections::HashSet::new();
        urls.retain(|url| seen.insert(url.clone()));
        Ok(ServeConfig {
            address: SocketAddr::new(self.host, self.port),
            data_dir: self.state.data_dir,
            workers: self.workers.unwrap_or(DEFAULT_WORKERS),
            row_threads: self.row_threads.map(usize::from),
            idle_poll: Duration::from_millis(20),
            sync_interval: Duration::from_millis(self.sync_interval_ms.max(1)),
            demo: self.demo,
            event_sweep: Duration::from_secs(1),
            webhooks: WebhookConfig {
                urls,
                secret: self.webhook_secret,
                backoff: Backoff::default(),
            },
            quota: bulkops_shared::store::Quota {
                max_active_jobs: self.max_active_jobs_per_caller,
                max_rows_in_flight: self.max_rows_in_flight_per_caller,
            },
            backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn row_threads(args: &[&str]) -> Result<Option<usize>, String> {
        let parsed = Serve::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        parsed
            .args
            .config()
            .map(|c| c.row_threads)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn row_threads_default_to_tokios_and_refuse_what_is_out_of_range() {
        if std::env::var_os("BULKOPS_ROW_THREADS").is_none() {
            assert_eq!(row_threads(&[]), Ok(None));
        }
        assert_eq!(row_threads(&["--row-threads", "3"]), Ok(Some(3)));
        for out_of_range in ["0", "257", "many"] {
            let refused = row_threads(&["--row-threads", out_of_range]).expect_err(out_of_range);
            assert!(refused.contains("--row-threads"), "{refused}");
        }
    }
}
