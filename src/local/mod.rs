//! `bulkops serve`: the whole service on one machine. The HTTP routes of both APIs go
//! through the same handler functions the Lambdas run (see [`http`]); background workers
//! play Lambda's SQS event source mapping for the processor and the dead-letter function
//! (see [`crate::worker`]); the state lives in an embedded store or in DynamoDB and SQS
//! (see [`backend`]).

pub mod backend;
pub mod demo;
pub mod http;
pub mod intake;
pub mod routes;
pub mod token;

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
use token::DevKey;

/// Messages per processor invocation (template.yaml's BatchSize).
pub const BATCH_SIZE: usize = 10;

/// How to run the local service.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub address: SocketAddr,
    pub backend: BackendConfig,
    /// The data directory (embedded state, development key, demo files).
    pub data_dir: PathBuf,
    /// Concurrent processor pollers (Lambda would scale out; locally a few suffice).
    pub workers: usize,
    /// How long a poller sleeps when its queue is empty.
    pub idle_poll: Duration,
    /// Embedded store: how often lazy commits are synced (see `EmbeddedStore::lazy`).
    pub sync_interval: Duration,
    /// Load demo reference data and write example requests on start.
    pub demo: bool,
}

/// A running service.
pub struct Running {
    pub address: SocketAddr,
    pub backend: Arc<Backend>,
    pub key: DevKey,
    pub demo_files: Vec<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Starts the HTTP server, the workers and (embedded) the periodic sync.
pub async fn start(config: ServeConfig) -> anyhow::Result<Running> {
    let backend = Arc::new(Backend::open(&config.backend).await?);
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
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let app = http::router(Arc::new(http::Gateway {
        backend: backend.clone(),
        key: key.clone(),
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

    for _ in 0..config.workers.max(1) {
        let (backend, stopped) = (backend.clone(), stopped.clone());
        let idle = config.idle_poll;
        tasks.spawn(async move {
            let (deps, chunks) = (&backend.processor, &backend.chunks);
            poll(
                chunks.source.as_ref(),
                &chunks.queue_arn,
                BATCH_SIZE,
                idle,
                stopped,
                |event| processor::handler(deps, LambdaEvent::new(event, LambdaContext::default())),
            )
            .await;
        });
    }
    if backend.dead_letters.is_some() {
        let (backend, stopped) = (backend.clone(), stopped.clone());
        let idle = config.idle_poll;
        tasks.spawn(async move {
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
        });
    }
    if backend.requests.is_some() {
        let (backend, stopped) = (backend.clone(), stopped.clone());
        let idle = config.idle_poll;
        tasks.spawn(async move {
            if let Some(requests) = &backend.requests {
                let (source, arn) = (requests.poller.source.as_ref(), &requests.poller.queue_arn);
                poll(source, arn, BATCH_SIZE, idle, stopped, |event| {
                    ::intake::handler(
                        &requests.intake,
                        LambdaEvent::new(event, LambdaContext::default()),
                    )
                })
                .await;
            }
        });
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
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.sync()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::error!(%error, "syncing the store failed"),
                    Err(error) => tracing::error!(%error, "syncing the store panicked"),
                }
            }
        });
    }
    Ok(Running {
        address,
        backend,
        key,
        demo_files,
        stop,
        tasks,
    })
}

impl Running {
    /// Stops accepting requests, lets the workers finish their batches, and syncs the store.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.send(true).ok();
        while self.tasks.join_next().await.is_some() {}
        if let Some(store) = &self.backend.embedded {
            store.sync()?;
        }
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
