//! `bulkops`: run the service locally, mint development tokens, load reference data, and
//! submit bulk requests from files.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bulkops::local;
use bulkops::local::backend::STORE_FILE;
use bulkops::local::event_log::EVENTS_FILE;
use bulkops::local::log_reader::{print_events, PrintOptions};
use bulkops::local::token::DevKey;
use bulkops::reference::{load_enrollments, load_vault, EnrollmentInput, VaultInput};
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::aws::{load_sdk_config, AwsClients};
use bulkops_shared::store::RecordStore;
use clap::{Args, Parser, Subcommand};

/// jemalloc: the server's row work allocates and frees many small objects from several
/// threads; see the README's performance section for the figures against glibc's malloc.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start (`_RJEM_MALLOC_CONF` still overrides them). Freed
/// pages go back to the system after 1 s instead of 10: a large job's phases free memory of one
/// size and take memory of another (the split's duplicate table, then redb's pages), so with
/// the default the first's pages were still held when the next peaked. A 1 M-row staged job's
/// peak 223-241 -> 194-201 MiB; `bench_local`'s CPU unchanged (README, performance).
#[cfg(not(target_env = "msvc"))]
#[used]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_OPTIONS: &[u8; 20] = b"dirty_decay_ms:1000\0";

mod serve_args;
use serve_args::ServeArgs;

#[derive(Parser)]
#[command(
    name = "bulkops",
    version,
    about = "Run, feed and use the bulkops service",
    after_help = "The client commands (submit, status, wait, results, cancel, list) exit with \
                  distinct codes for each outcome: see `bulkops submit --help`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the state is: the embedded data directory, or a DynamoDB table.
#[derive(Args, Clone, Debug)]
struct StateArgs {
    /// The local data directory (embedded store, development key, demo files).
    #[arg(long, env = "BULKOPS_DATA_DIR", default_value = ".bulkops")]
    data_dir: PathBuf,
    /// A DynamoDB table (the stack's `TableName` output) instead of the embedded store. The
    /// endpoint, region and credentials come from the standard AWS environment
    /// (`AWS_ENDPOINT_URL` for moto or LocalStack).
    #[arg(long, env = "TABLE_NAME")]
    table: Option<String>,
}

impl StateArgs {
    async fn records(&self) -> anyhow::Result<(Arc<dyn RecordStore>, String)> {
        match &self.table {
            Some(table) => {
                let clients = AwsClients::new(&load_sdk_config().await);
                Ok((clients.record_store(table), format!("table {table}")))
            }
            None => {
                std::fs::create_dir_all(&self.data_dir)?;
                let path = self.data_dir.join(STORE_FILE);
                let store = EmbeddedStore::open(&path).with_context(|| {
                    format!(
                        "opening {} (a running `bulkops serve` holds it: stop it, or use `serve --demo`)",
                        path.display()
                    )
                })?;
                Ok((Arc::new(store), path.display().to_string()))
            }
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route of both APIs on one machine, with workers playing the SQS trigger.
    ///
    /// With no configuration the state lives in an embedded store in `--data-dir`. With
    /// `TABLE_NAME` and `QUEUE_URL` (and `DEAD_LETTER_QUEUE_URL`) it uses DynamoDB and SQS:
    /// moto, LocalStack (`AWS_ENDPOINT_URL`) or an AWS account. Requests need a bearer token
    /// from `bulkops token`.
    Serve(ServeArgs),
    /// Mint a development token the local server accepts.
    Token {
        /// The caller (`sub` claim).
        #[arg(long)]
        sub: String,
        /// Space-separated permissions (`scope` claim).
        #[arg(long, default_value = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE")]
        scope: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
        ttl_seconds: i64,
        /// The data directory holding the development key.
        #[arg(long, env = "BULKOPS_DATA_DIR", default_value = ".bulkops")]
        data_dir: PathBuf,
    },
    /// Load the demo reference data (enrollments, a vault) and write example requests to
    /// `<data-dir>/demo`. `serve --demo` does the same on start.
    DemoData {
        #[command(flatten)]
        state: StateArgs,
    },
    /// Load enrollments (reference data) from a JSON file and print their ids.
    ///
    /// The file is a JSON array of `{"workflowId": "<uuid>", "whereClause": {"KEY": "value"}, ...}`;
    /// other fields are stored as attributes of the enrollment.
    LoadEnrollments {
        #[command(flatten)]
        state: StateArgs,
        /// JSON file with the enrollments.
        file: PathBuf,
    },
    /// Load vault reference data (safes with their members' rights, platforms) for bulk
    /// account uploads.
    ///
    /// The file is `{"safes": [{"safeName", "safeId", "members": {"<sub>": {"addAccounts": true}}}],
    /// "platforms": [{"platformId", "requiredProperties": ["address", "userName"]}]}`.
    LoadVault {
        #[command(flatten)]
        state: StateArgs,
        /// JSON file with the safes and platforms.
        file: PathBuf,
    },
    /// The operator client: submit, status, wait, results, cancel, list.
    #[command(flatten)]
    Client(bulkops::client::Command),
    /// Queue an event-driven bulk request on the local server's intake queue, as a producer
    /// sending to the stack's IntakeQueue would: a JSON file holding a `Bulk Job Requested`
    /// detail (`{"api", "owner", "permissions", "clientToken", "body"}`) or the whole event.
    /// The outcome is an event (`bulkops events --follow`).
    Request(bulkops::client::request::RequestArgs),
    /// Print the job events the local server recorded (`<data-dir>/events.jsonl`), one JSON
    /// envelope a line, oldest first. Only reads the file: works while the server runs.
    Events {
        /// The data directory of `bulkops serve`.
        #[arg(long, env = "BULKOPS_DATA_DIR", default_value = ".bulkops")]
        data_dir: PathBuf,
        /// Keep printing new events as they come, until Ctrl-C.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only the events of this job.
        #[arg(long)]
        job: Option<String>,
    },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Serve(args) => {
            init_logging();
            let running = local::start(args.config()?).await?;
            println!(
                "bulkops is serving http://{} ({})",
                running.address, running.backend.description
            );
            for file in &running.demo_files {
                println!("  example request: {}", file.display());
            }
            println!("  mint a token with: bulkops token --sub alice");
            if let Some(log) = &running.events_log {
                println!("  job events: {} (bulkops events --follow)", log.display());
            }
            if let Some(secret) = &running.webhook_secret {
                println!(
                    "  webhooks are signed with {} (Standard Webhooks)",
                    secret.expose()
                );
            }
            local::shutdown_signal().await;
            eprintln!("stopping: finishing the batches in hand");
            running.shutdown().await?;
        }
        Command::Token {
            sub,
            scope,
            ttl_seconds,
            data_dir,
        } => {
            let key = DevKey::load_or_create(&data_dir)?;
            println!("{}", key.mint(&sub, &scope, ttl_seconds)?);
        }
        Command::DemoData { state } => {
            let (records, place) = state.records().await?;
            let files = local::demo::load_demo(&records, &state.data_dir.join("demo")).await?;
            eprintln!(
                "loaded {} demo enrollments and the demo vault into {place}",
                local::demo::DEMO_ENROLLMENTS
            );
            for file in files {
                println!("{}", file.display());
            }
        }
        Command::LoadEnrollments { state, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let inputs: Vec<EnrollmentInput> = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let (records, place) = state.records().await?;
            let count = inputs.len();
            for id in load_enrollments(&records, inputs).await? {
                println!("{id}");
            }
            eprintln!("loaded {count} enrollments into {place}");
        }
        Command::LoadVault { state, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let vault: VaultInput = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let (records, place) = state.records().await?;
            let (safes, platforms) = load_vault(&records, vault).await?;
            eprintln!("loaded {safes} safes and {platforms} platforms into {place}");
        }
        Command::Events {
            data_dir,
            follow,
            job,
        } => {
            let path = data_dir.join(EVENTS_FILE);
            if !follow && !path.exists() {
                eprintln!("no events yet: {} does not exist", path.display());
            }
            let options = PrintOptions {
                job,
                follow,
                poll: Duration::from_millis(250),
            };
            let mut out = std::io::stdout();
            match print_events(&path, &options, &mut out, local::shutdown_signal()).await {
                Ok(()) => {}
                // `bulkops events | head` closes the pipe: not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
        Command::Client(command) => return Ok(bulkops::client::run(command).await.into()),
        Command::Request(args) => {
            let answer = bulkops::client::request::run(args).await?;
            println!("{answer}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
