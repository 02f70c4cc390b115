//! `bulkops serve`: the whole service on one machine. The HTTP routes of both APIs go
//! through the same handler functions the Lambdas run (see [`http`]); background workers
//! play Lambda's SQS event source mapping for the processor and the dead-letter function
//! (see [`crate::worker`]); the state lives in an embedded store or in DynamoDB and SQS
//! (see [`backend`]). On the embedded store, job events go to a log file and from there to
//! webhooks (see [`event_log`] and [`webhooks`]).

pub mod backend;
pub mod demo;
pub mod event_log;
pub mod http;
pub mod intake;
pub mod log_reader;
pub mod results;
pub mod routes;
mod row_runtime;
pub mod signing;
pub mod token;
pub mod upload_receiver;
pub mod uploads;
pub mod webhook_cursor;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::worker::poll;
use backend::{Backend, BackendConfig};
use signing::WebhookSecret;
use token::DevKey;
use webhooks::WebhookConfig;

/// Messages per processor invocation (template.yaml's BatchSize).
pub const BATCH_SIZE: usize = 10;
/// Jobs a sweep of the outboxes takes at a time (the rest wait for the next sweep).
const SWEEP_JOBS: usize = 100;

/// How to run the local service.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub address: SocketAddr,
    pub backend: BackendConfig,
    /// The data directory (embedded state, development key, demo files).
    pub data_dir: PathBuf,
    /// Concurrent processor pollers (Lambda would scale out; locally a few suffice). 0 runs
    /// no chunk: jobs are accepted and wait in the queue (the dead-letter worker still runs).
    pub workers: usize,
    /// Worker threads of the runtime the pollers run on (see `row_runtime`); `None` is
    /// tokio's default, one per core (or `TOKIO_WORKER_THREADS`).
    pub row_threads: Option<usize>,
    /// How long a poller sleeps when its queue is empty.
    pub idle_poll: Duration,
    /// Embedded store: how often lazy commits are synced (see `EmbeddedStore::lazy`).
    pub sync_interval: Duration,
    /// Load demo reference data and write example requests on start.
    pub demo: bool,
    /// Embedded store: how often events left in outboxes (a failed append, a crash before
    /// the flush) are published to the events log. Also once at start.
    pub event_sweep: Duration,
    /// Embedded store: where events are delivered besides the log.
    pub webhooks: WebhookConfig,
    /// Each caller's limits on active jobs and rows in flight.
    pub quota: bulkops_shared::store::Quota,
}

/// A running service.
pub struct Running {
    pub address: SocketAddr,
    pub backend: Arc<Backend>,
    pub key: DevKey,
    pub demo_files: Vec<PathBuf>,
    /// Embedded store: the events log.
    pub events_log: Option<PathBuf>,
    /// The secret webhooks are signed with, when there are webhooks.
    pub webhook_secret: Option<WebhookSecret>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Last: dropped after the tasks running on it.
    rows: row_runtime::RowRuntime,
}

/// Starts the HTTP server, the workers and (embedded) the periodic sync.
pub async fn start(config: ServeConfig) -> anyhow::Result<Running> {
    let mut backend = Backend::open(&config.backend, config.quota).await?;
    let key = DevKey::load_or_create(&config.data_dir)?;
    let demo_files = if config.demo {
        demo::load_demo(&backend.records, &config.data_dir.join("demo")).await?
    } else {
        Vec::new()
    };
    let listener = tokio::net::TcpListener::bind(config.address)
        .await
        .with_context(|| format!("listening on {}", config.address))?;
    let address = listener.local_addr()?;
    // Upload URLs name this server as callers reach it (loopback when bound to every address).
    let host = match address.ip() {
        ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    let base_url = format!("http://{}", SocketAddr::new(host, address.port()));
    let uploads = Arc::new(uploads::LocalUploads::open(&config.data_dir, base_url)?);
    backend.submit.uploads = Some(uploads.clone());
    let result_files = Arc::new(results::LocalResultFiles::open(
        &config.data_dir,
        uploads.clone(),
    )?);
    backend.attach_results(result_files.clone());
    let backend = Arc::new(backend);
    for job_id in uploads.arrived() {
        // Files whose split did not finish before the server last stopped.
        upload_receiver::spawn_split(backend.clone(), uploads.clone(), job_id);
    }
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let app = http::router(Arc::new(http::Gateway {
        backend: backend.clone(),
        key: key.clone(),
        uploads,
        results: result_files,
    }));
    let mut on_stop = stopped.clone();
    tasks.spawn(async move {
        let shutdown = async move {
            on_stop.changed().await.ok();
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the HTTP server failed");
        }
    });

    // The pollers run on threads of their own, so that their commits, made on the thread
    // that asks (see `row_runtime`), never hold up the HTTP server's.
    let rows = row_runtime::RowRuntime::start(config.row_threads)
        .context("starting the row workers' runtime")?;
    for _ in 0..config.workers {
        let (backend, stopped) = (backend.clone(), stopped.clone());
        let idle = config.idle_poll;
        tasks.spawn_on(
            async move {
                let (deps, chunks) = (&backend.processor, &backend.chunks);
                poll(
                    chunks.source.as_ref(),
                    &chunks.queue_arn,
                    BATCH_SIZE,
                    idle,
                    stopped,
                    |event| {
                        processor::handler(deps, LambdaEvent::new(event, LambdaContext::default()))
                    },
                )
                .await;
            },
            rows.handle(),
        );
    }
    if backend.dead_letters.is_some() {
        let (backend, stopped) = (backend.clone(), stopped.clone());
        let idle = config.idle_poll;
        tasks.spawn_on(
            async move {
                let deps = &backend.dead_letter;
                if let Some(dead_letters) = &backend.dead_letters {
                    poll(
                        dead_letters.source.as_ref(),
                        &dead_letters.queue_arn,
                        BATCH_SIZE,
                        idle,
                        stopped,
                        |event| {
                            dead_letter::handler(
                                deps,
                                LambdaEvent::new(event, LambdaContext::default()),
                            )
                        },
                    )
                    .await;
                }
            },
            rows.handle(),
        );
    }
    if backend.requests.is_some() {
        let (backend, stopped) = (backend.clone(), stopped.clone());
        let idle = config.idle_poll;
        tasks.spawn_on(
            async move {
                if let Some(requests) = &backend.requests {
                    let (source, arn) =
                        (requests.poller.source.as_ref(), &requests.poller.queue_arn);
                    poll(source, arn, BATCH_SIZE, idle, stopped, |event| {
                        ::intake::handler(
                            &requests.intake,
                            LambdaEvent::new(event, LambdaContext::default()),
                        )
                    })
                    .await;
                }
            },
            rows.handle(),
        );
    }
    if let Some(store) = backend.embedded.clone() {
        let mut stopped = stopped.clone();
        let every = config.sync_interval;
        tasks.spawn(async move {
            // Lazy commits become durable within this interval (see EmbeddedStore::lazy).
            let mut tick = tokio::time::interval(every);
            while !*stopped.borrow() {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => {}
                }
                if let Err(error) = bulkops_shared::store::JobStore::make_durable(&store).await {
                    tracing::error!(%error, "syncing the store failed");
                }
            }
        });
    }
    let webhook_secret = start_events(&config, &backend, &stopped, &mut tasks)?;
    Ok(Running {
        address,
        events_log: backend.events.as_ref().map(|e| e.log.path().to_owned()),
        webhook_secret,
        backend,
        key,
        demo_files,
        stop,
        tasks,
        rows,
    })
}

/// Embedded store: the periodic sweep of the outboxes into the events log, and a delivery
/// task per webhook URL. Returns the webhooks' secret, if there are webhooks.
fn start_events(
    config: &ServeConfig,
    backend: &Backend,
    stopped: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<Option<WebhookSecret>> {
    let Some(events) = &backend.events else {
        anyhow::ensure!(
            config.webhooks.urls.is_empty(),
            "webhooks are delivered from the embedded store's events log; in AWS mode the \
             stack's event bus delivers events (see its webhook API destination)"
        );
        return Ok(None);
    };
    let (publisher, mut stopped_sweep) = (events.publisher.clone(), stopped.clone());
    let every = config.event_sweep;
    tasks.spawn(async move {
        // The first tick is at once: what a crash left in the outboxes goes out at start.
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*stopped_sweep.borrow() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped_sweep.changed() => break,
            }
            match publisher.sweep(SWEEP_JOBS).await {
                Ok(stats) if stats.published + stats.left + stats.overdue > 0 => {
                    tracing::info!(
                        overdue_uploads = stats.overdue,
                        jobs = stats.jobs,
                        published = stats.published,
                        left = stats.left,
                        "swept the outboxes"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sweeping the outboxes failed; next time"),
            }
        }
    });
    if config.webhooks.urls.is_empty() {
        if config.webhooks.secret.is_some() {
            tracing::warn!("a webhook secret was given but no webhook URL: it is not used");
        }
        return Ok(None);
    }
    let secret = match &config.webhooks.secret {
        Some(secret) => secret.clone(),
        None => WebhookSecret::load_or_create(&config.data_dir)?,
    };
    webhooks::spawn_deliveries(
        tasks,
        &config.data_dir,
        &events.log,
        &config.webhooks,
        secret.clone(),
        stopped,
    )?;
    Ok(Some(secret))
}

impl Running {
    /// Stops accepting requests, lets the workers finish their batches, and syncs the store.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.send(true).ok();
        while self.tasks.join_next().await.is_some() {}
        // Result files being written hold the store: they finish first.
        let background = self
            .backend
            .background
            .lock()
            .map(|mut b| std::mem::take(&mut *b));
        if let Ok(mut background) = background {
            while background.join_next().await.is_some() {}
        }
        if let Some(store) = &self.backend.embedded {
            store.sync()?;
        }
        self.rows.stop();
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    interrupt.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
}
